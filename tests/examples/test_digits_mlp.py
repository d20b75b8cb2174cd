"""Smoke test of examples/digits_mlp.py: ``--quick`` learns the digits well above chance,
prints its history and saves the loss/accuracy plot."""

from examples import digits_mlp


def test_quick_run_learns_and_saves_the_plot(tmp_path, capsys):
    result = digits_mlp.main(["--quick", "--out", str(tmp_path)])
    assert result["test_accuracy"] > 0.85  # chance is 0.1; 3 epochs reach 0.905
    assert result["epochs_run"] == 3 and len(result["history"]["val_loss"]) == 3
    figure = tmp_path / "digits_mlp.png"
    assert str(figure) == result["figure"]
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figure.stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and printed.count("\n") >= 5  # header, 3 epochs, summary
