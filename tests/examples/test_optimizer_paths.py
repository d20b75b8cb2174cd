"""Smoke test of examples/optimizer_paths.py: ``--quick`` shows momentum and Adam beating GD on
Rosenbrock, momentum rolling past the camel's local minimum, prints the tables, saves the
plots; and the helpers' shapes, hand-checkable paths and errors."""

import jax.numpy as jnp
import numpy as np
import pytest

from examples import optimizer_paths
from jaxdl import optim

PNG = b"\x89PNG\r\n\x1a\n"


def test_quick_run_shows_the_lessons_and_saves_the_plots(tmp_path, capsys):
    result = optimizer_paths.main(["--quick", "--out", str(tmp_path)])
    rosen = result["rosenbrock"]
    # 200 steps from (-1.2, 1): GD is still crawling along the valley (measured: f = 2.38, 1.69
    # from (1, 1)); momentum (0.013, 0.27) and Adam (0.072, 0.54) are most of the way there
    assert rosen["GD"]["distance"] > 1.0 and rosen["GD"]["final_value"] > 1.0
    for name in ("momentum", "Adam"):
        assert rosen[name]["distance"] < rosen["GD"]["distance"] / 3
        assert rosen[name]["final_value"] < rosen["GD"]["final_value"] / 20
    camel = result["camel"]
    np.testing.assert_allclose(camel["GD"]["final_value"], 2.1043, atol=1e-3)  # local minimum
    np.testing.assert_allclose(camel["momentum"]["final_value"], -1.0316, atol=1e-3)  # global
    assert camel["GD"]["steps_to_target"] is None and camel["momentum"]["steps_to_target"] < 100
    # 7x7 starts inside the Rastrigin box: (0, 0) is the only one in the global basin, and
    # GD at a stable rate stays in the basin it starts in
    assert result["basins"]["rastrigin"]["GD"] == pytest.approx(1 / 49)
    for fractions in result["basins"].values():
        assert set(fractions) == set(optimizer_paths.LEARNING_RATES["rastrigin"])
        assert all(0.0 <= f <= 1.0 for f in fractions.values())
    assert result["basins"]["six-hump-camel"]["momentum"] > result["basins"]["six-hump-camel"]["GD"]
    assert result["paths"]["rosenbrock"]["Adam"].shape == (201, 2)
    for figure, name in zip(result["figures"], ("rosenbrock_paths.png", "camel_paths.png")):
        path = tmp_path / name
        assert figure == str(path)
        assert path.read_bytes()[:8] == PNG and path.stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "Rosenbrock from (-1.2, 1)" in printed and "fraction of 7x7 starts" in printed
    assert printed.count("\n") >= 20


def test_trajectories_follow_the_update_rule():
    # f(z) = |z|^2 / 2 has gradient z, so GD with rate 0.5 halves the point every step
    fn = lambda z: 0.5 * jnp.sum(z**2)  # noqa: E731
    paths = optimizer_paths.trajectories(fn, (4.0, -2.0), {"gd": optim.sgd(0.5)}, steps=3)
    np.testing.assert_allclose(paths["gd"], [[4, -2], [2, -1], [1, -0.5], [0.5, -0.25]])
    ends = optimizer_paths.final_points(fn, [[4.0, 0.0], [0.0, 8.0]], optim.sgd(0.5), steps=2)
    np.testing.assert_allclose(ends, [[1, 0], [0, 2]])


def test_helpers_reject_bad_arguments():
    fn = lambda z: jnp.sum(z**2)  # noqa: E731
    sgd = {"gd": optim.sgd(0.1)}
    with pytest.raises(ValueError, match=r"trajectories: `start` must have shape \(2,\)"):
        optimizer_paths.trajectories(fn, (1.0, 2.0, 3.0), sgd, 5)
    with pytest.raises(ValueError, match="`steps` must be a positive int"):
        optimizer_paths.trajectories(fn, (1.0, 2.0), sgd, 0)
    with pytest.raises(TypeError, match="`optimizers` must be a non-empty dict"):
        optimizer_paths.trajectories(fn, (1.0, 2.0), {}, 5)
    with pytest.raises(ValueError, match=r"final_points: `starts` must have shape \(n, 2\)"):
        optimizer_paths.final_points(fn, (1.0, 2.0), optim.sgd(0.1), 5)
    with pytest.raises(ValueError, match="no learning rates for 'logistic-digits'"):
        optimizer_paths.optimizers("logistic-digits")
