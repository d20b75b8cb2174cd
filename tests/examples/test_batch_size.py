"""Smoke test of examples/batch_size.py: even ``--quick`` shows the trade-off: the full batch
needs the fewest steps but the most epochs and time per step; single-example SGD the most
steps and the noisiest path; and the figure is saved."""

import numpy as np

from examples import batch_size

PNG = b"\x89PNG\r\n\x1a\n"


def test_quick_run_shows_steps_cost_and_noise_and_saves_the_plot(tmp_path, capsys):
    result = batch_size.main(["--quick", "--out", str(tmp_path)])
    full, mini, single = result["rows"]
    assert (full["batch_size"], mini["batch_size"], single["batch_size"]) == (1797, 32, 1)
    for row in result["rows"]:
        assert row["steps_to_target"] is not None  # every batch size reaches the target
        curve = np.asarray(row["loss_curve"])
        assert curve.shape == (400,) and np.all(np.isfinite(curve))
        assert curve[row["steps_to_target"] - 1] <= result["target"] < curve[0]
    # Steps to the target (quick run: 18, 37, 260) and epochs (18, 0.66, 0.14) go opposite ways.
    assert full["steps_to_target"] < mini["steps_to_target"] < single["steps_to_target"]
    assert full["epochs_to_target"] > mini["epochs_to_target"] > single["epochs_to_target"]
    # A full-batch step touches 1797 examples, a single-example step one: it costs more.
    assert full["seconds_per_step"] > 3 * single["seconds_per_step"]
    # Batch 1 cannot use the full batch's learning rate 1.0 (it diverges or misses).
    assert single["learning_rate"] < full["learning_rate"]
    assert single["steps_to_target_per_lr"][1.0] is None
    # The path: at each batch size's best rate and at the same rate 0.1 (quick run, best
    # rates: loss rises on 18%, 33%, 49% of steps, efficiency 0.37, 0.17, 0.07), noise grows
    # as the batch shrinks. At the same rate the full batch descends at every step.
    assert full["path_efficiency"] > mini["path_efficiency"] > single["path_efficiency"]
    assert single["loss_rises_percent"] > full["loss_rises_percent"] + 10
    same = [r["common_lr"] for r in result["rows"]]
    assert same[0]["loss_rises_percent"] == 0.0 and same[0]["path_efficiency"] > 0.8
    assert same[2]["loss_rises_percent"] > 30 and same[2]["path_efficiency"] < 0.5
    assert same[0]["path_efficiency"] > same[1]["path_efficiency"] > same[2]["path_efficiency"]
    figure = tmp_path / "batch_size.png"
    assert str(figure) == result["figure"]
    assert figure.read_bytes()[:8] == PNG and figure.stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "steps" in printed and "path efficiency" in printed and printed.count("\n") >= 9
