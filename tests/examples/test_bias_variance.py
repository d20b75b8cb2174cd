"""Smoke test of examples/bias_variance.py: even ``--quick`` (10 bootstrap replicas, widths
1, 8 and 128) shows the small network's bias, the large one's variance, and bagging removing
most of the large network's error; and saves the figure."""

from examples import bias_variance

PNG = b"\x89PNG\r\n\x1a\n"


def test_quick_run_shows_bias_variance_and_bagging_gain(tmp_path, capsys):
    result = bias_variance.main(["--quick", "--out", str(tmp_path)])
    rows = {r["width"]: r for r in result["rows"]}
    assert list(rows) == [1, 8, 128]
    small, large = rows[1], rows[128]
    for r in rows.values():
        # The decomposition is exact, and the ensemble (ensemble_predict) is the bagged
        # average whose error bias_variance calls bias^2.
        assert abs(r["error"] - (r["bias2"] + r["variance"])) < 1e-5
        assert abs(r["ensemble_error"] - r["bias2"]) < 1e-5
        assert abs(r["gain"] - r["variance"]) < 1e-5
        assert result["members"][r["width"]].shape == (10, 200, 1)
    # Width 1 cannot follow the sine: it misses even the noisy training points (quick run:
    # loss 0.136 > noise variance 0.09) and its average is far off (bias^2 0.085 vs 0.029).
    assert small["train_loss"] > 0.1 and large["train_loss"] < 0.09
    assert small["bias2"] > 2 * large["bias2"]
    # Width 128 follows the noise of its resample: its members disagree (variance 0.068 vs
    # 0.023), and bagging removes most of its error (70%) but little of width 1's (21%).
    assert large["variance"] > 2 * small["variance"]
    assert large["gain"] / large["error"] > 0.5 > 0.35 > small["gain"] / small["error"]
    figure = tmp_path / "bias_variance.png"
    assert str(figure) == result["figure"]
    assert figure.read_bytes()[:8] == PNG and figure.stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "bias^2" in printed and "bagging gain" in printed and printed.count("\n") >= 5
