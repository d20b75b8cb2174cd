"""Smoke test of examples/regularization.py: even ``--quick`` (100 epochs, one seed, three
methods) shows the unregularised network memorising its 50 examples and both regularisers
shrinking the gap, and saves the figure."""

from examples import regularization

PNG = b"\x89PNG\r\n\x1a\n"


def test_quick_run_regularisers_shrink_the_gap_and_save_the_figure(tmp_path, capsys):
    result = regularization.main(["--quick", "--out", str(tmp_path)])
    rows = {r["method"]: r for r in result["rows"]}
    assert list(rows) == ["none", "input_noise", "label_smoothing"]
    assert result["sizes"] == [50, 500, 1247] and result["seeds"] == 1
    none = rows["none"]
    # Memorised: every training example right, training loss near 0 (quick run: 0.001)...
    assert none["train_accuracy"] == 1.0 and none["train_loss"] < 0.01
    # ...but a large gap to unseen digits (quick run: validation 0.854, test 0.850).
    assert none["gap"] > 0.08 and none["test_accuracy"] < 0.9
    for method in ("input_noise", "label_smoothing"):
        row = rows[method]
        assert abs(row["gap"] - (row["train_accuracy"] - row["val_accuracy"])) < 1e-9
        # The gap shrinks by raising the validation accuracy (quick run: gaps 0.128 and
        # 0.110 against 0.146), and the test accuracy rises with it.
        assert row["gap"] < none["gap"] - 0.005
        assert row["val_accuracy"] > none["val_accuracy"]
        assert row["test_accuracy"] > none["test_accuracy"]
        assert row["epochs_run"] == 100 and len(row["val_curve"]) == 100
    # Input noise also makes the network less over-confident on unseen digits (quick run:
    # validation loss 0.43 against 0.54); label smoothing keeps the training loss away
    # from 0 (its targets are 0.91/0.01, not one-hot).
    assert rows["input_noise"]["val_loss"] < none["val_loss"] - 0.05
    assert rows["label_smoothing"]["train_loss"] > 0.05
    figure = tmp_path / "regularization.png"
    assert str(figure) == result["figure"]
    assert figure.read_bytes()[:8] == PNG and figure.stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "label_smoothing" in printed and "gap" in printed and printed.count("\n") >= 5
