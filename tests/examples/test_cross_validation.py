"""Smoke test of examples/cross_validation.py: even ``--quick`` (one seed, 300 steps) gives
five different fold scores per penalty, rejects the underfitting penalty, and its estimate
predicts the accuracy on unseen digits; and saves the figure."""

import numpy as np

from examples import cross_validation

PNG = b"\x89PNG\r\n\x1a\n"


def test_quick_run_cross_validates_the_penalty_and_saves_the_figure(tmp_path, capsys):
    result = cross_validation.main(["--quick", "--out", str(tmp_path)])
    rows = {r["l2"]: r for r in result["rows"]}
    assert list(rows) == [0.0, 1e-3, 1e-2, 1e-1] and result["sizes"] == (500, 1297)
    for r in rows.values():
        assert len(r["folds"]) == 5
        assert abs(r["mean"] - np.mean(r["folds"])) < 1e-12
        # Each fold validates on 100 other digits: the scores differ (quick run: ranges of
        # 0.04-0.09), which is the spread a single split would hide.
        assert np.ptp(r["folds"]) >= 0.02 and r["std"] > 0.005
    best = rows[result["best"]]
    assert best["mean"] == max(r["mean"] for r in rows.values())
    # The strongest penalty underfits (quick run: train 0.896, validation 0.878 against
    # 0.938): cross-validation rejects it.
    assert result["best"] != 0.1
    assert rows[0.1]["mean"] < best["mean"] - 0.03 and rows[0.1]["train"] < rows[0.0]["train"]
    # The estimate predicts the accuracy on the 1297 unseen digits (quick run: 0.938 vs
    # 0.943).
    assert best["mean"] > 0.9 and abs(result["test_accuracy"] - best["mean"]) < 0.03
    figure = tmp_path / "cross_validation.png"
    assert str(figure) == result["figure"]
    assert figure.read_bytes()[:8] == PNG and figure.stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "chosen" in printed and "fold 4" in printed and printed.count("\n") >= 6
