"""Smoke test of examples/universal_approximation.py: even ``--quick`` shows that width buys
accuracy (sin, |x|), that ReLU builds |x| from two units, and saves both figures."""

from examples import universal_approximation

PNG = b"\x89PNG\r\n\x1a\n"


def test_quick_run_error_falls_with_width_and_saves_the_figures(tmp_path, capsys):
    result = universal_approximation.main(["--quick", "--out", str(tmp_path)])
    widths, best = result["widths"], result["best_mse"]
    assert widths[0] == 1 and widths[-1] == 64 and sorted(best) == ["relu", "tanh"]
    for activation in ("tanh", "relu"):
        sin = best[activation]["sin"]
        # Width 1 cannot bend into a sine (quick run: tanh 6e-2, ReLU 0.16); width 64 fits
        # it (6e-6 and 5e-5): at least a hundredfold better, and a steep fitted power law.
        assert sin[0] > 0.03 and sin[-1] < sin[0] / 100
        assert result["exponent"][activation]["sin"] < -1.5
        # Every function: the widest network beats the narrowest.
        for name in ("sin", "abs", "step"):
            assert best[activation][name][-1] < best[activation][name][0]
    # |x| = relu(x) + relu(-x): ReLU at width 4 is far better than at width 1 (1.5e-3 vs
    # 0.57), and better than tanh at width 4 (5.8e-2), which can only approach the kink.
    relu_abs, tanh_abs = best["relu"]["abs"], best["tanh"]["abs"]
    assert relu_abs[1] < relu_abs[0] / 100 and relu_abs[1] < tanh_abs[1] / 10
    # The median over seeds is never better than the best seed.
    for activation, by_fn in result["median_mse"].items():
        for name, medians in by_fn.items():
            assert all(m >= b for m, b in zip(medians, best[activation][name]))
    paths = result["figures"]
    assert [p.split("/")[-1] for p in paths] == ["universal_approximation_fits.png",
                                                 "universal_approximation_error.png"]
    for name in paths:
        figure = tmp_path / name.split("/")[-1]
        assert figure.read_bytes()[:8] == PNG and figure.stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "tanh sin" in printed and "relu step" in printed and printed.count("\n") >= 7
