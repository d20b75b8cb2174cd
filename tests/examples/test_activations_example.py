"""Smoke test of examples/activations.py: even ``--quick`` (2 seeds, 200 steps) shows the
gradient vanishing toward the first layers of a deep sigmoid network and not of the others,
and the sigmoid network not training while the others do; and saves the figure."""

import math

from examples import activations

PNG = b"\x89PNG\r\n\x1a\n"


def test_quick_run_shows_the_vanishing_sigmoid_gradient(tmp_path, capsys):
    result = activations.main(["--quick", "--out", str(tmp_path)])
    rows = {r["activation"]: r for r in result["rows"]}
    assert list(rows) == ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "maxout"]
    for r in rows.values():
        hidden = [v for k, v in r["norms"].items() if k.startswith("hidden")]
        assert len(hidden) == 8 and len(r["norms"]) == 9  # 8 hidden layers and the output
        assert math.isclose(r["grad_ratio"], hidden[0] / hidden[-1], rel_tol=0.5)
        assert r["accuracy"]["q25"] <= r["accuracy"]["median"] <= r["accuracy"]["q75"]
    # Sigmoid: the first layer's gradient is ~1e-4 of the last hidden layer's (quick run:
    # 6e-5), and the network stays at chance; the others keep the gradient within a factor
    # of a few across the 8 layers (0.34-1.1).
    assert rows["sigmoid"]["grad_ratio"] < 1e-3
    assert rows["sigmoid"]["accuracy"]["median"] < 0.15
    assert rows["sigmoid"]["steps_to_target"] == math.inf
    for name in ("tanh", "relu", "leaky_relu", "elu", "maxout"):
        assert 0.1 < rows[name]["grad_ratio"] < 10
        assert rows[name]["accuracy"]["median"] > 0.85  # quick run: 0.90-0.97
    for name in ("tanh", "elu", "maxout"):  # quick run: 50-70 steps to 90%
        assert rows[name]["steps_to_target"] <= 150
    figure = tmp_path / "activations.png"
    assert str(figure) == result["figure"]
    assert figure.read_bytes()[:8] == PNG and figure.stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "grad first/last" in printed and "maxout" in printed and printed.count("\n") >= 8
