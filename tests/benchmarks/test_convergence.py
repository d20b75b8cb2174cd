"""The convergence benchmark: its statistics on hand-made numbers, the protocol on a tiny
problem, the command line, and the optax honesty check."""

import dataclasses
import gzip
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import convergence, convergence_optimizers, convergence_report, problems, profiles

INF = math.inf
CURVATURE = np.array([1.0, 2.0, 5.0, 10.0], np.float32)


def _quadratic(**overrides) -> problems.Problem:
    """0.5 sum_i d_i (w_i - 0.1 xi_i)^2 with fresh noise xi each step; metric: noise-free value."""
    d = jnp.asarray(CURVATURE)

    def loss(w, key):
        shifted = w - 0.1 * jax.random.normal(key, w.shape, w.dtype)
        return 0.5 * jnp.sum(d * shifted**2)

    fields = dict(
        name="tiny-quadratic", description="4-D noisy quadratic",
        init=lambda key: jax.random.normal(key, (4,), jnp.float32) + 1.0, loss=loss,
        metric=lambda w: 0.5 * jnp.sum(d * w**2), metric_name="loss", target=0.05,
        higher_is_better=False, budget=60, eval_every=5, kind="analytic", batch_size=None,
        default_lr_range=(1e-3, 1e-1))
    fields.update(overrides)
    return problems.Problem(**fields)


TINY = _quadratic()


@pytest.fixture(scope="module")
def tiny_sgd():
    return convergence.run_pair(TINY, "sgd", grid_points=9, seeds=2)


# ----------------------------------------------------------------------------- statistics


def test_steps_to_target_is_the_first_eval_reaching_it():
    curves = np.array([
        [5.0, 3.0, 0.9, 0.5, 2.0],   # reaches <= 1 at eval 2 -> 2 * 10 steps
        [5.0, 4.0, 3.0, 2.0, 1.5],   # never: miss
        [0.5, 0.4, 0.3, 0.2, 0.1],   # already at step 0
        [5.0, 0.5, np.nan, 0.1, 0.1],  # non-finite anywhere: a miss, even after reaching
        [5.0, np.inf, 0.5, 0.5, 0.5],
        [5.0, 1.0, 0.5, 0.5, 0.5],   # exactly the target counts
    ])
    steps = profiles.steps_to_target(curves, target=1.0, higher_is_better=False, eval_every=10)
    np.testing.assert_array_equal(steps, [20.0, INF, 0.0, INF, INF, 10.0])
    # higher is better (accuracy), and a run whose loss went non-finite is a miss
    acc = np.array([[0.1, 0.5, 0.96, 0.97], [0.1, 0.2, 0.3, 0.95], [0.1, 0.96, 0.96, 0.96]])
    steps = profiles.steps_to_target(acc, target=0.95, higher_is_better=True, eval_every=20,
                                     finite=np.array([True, True, False]))
    np.testing.assert_array_equal(steps, [40.0, 60.0, INF])


def test_quantiles_and_summary_count_misses_as_the_largest():
    # finite values: NumPy's linear quantiles
    v = [40.0, 10.0, 30.0, 20.0]
    for q in (0.25, 0.5, 0.75):
        assert profiles.quantile(v, q) == pytest.approx(np.quantile(v, q))
    # [10, 20, 30, inf]: h = 0.75 -> 17.5; h = 1.5 -> 25; h = 2.25 -> between 30 and a miss
    s = profiles.summarize([30.0, INF, 10.0, 20.0])
    assert (s["q1"], s["median"], s["q3"], s["misses"], s["runs"]) == (17.5, 25.0, INF, 1, 4)
    # half misses: the median falls between 20 and a miss -> a miss (NumPy would give nan)
    assert profiles.quantile([10.0, 20.0, INF, INF], 0.5) == INF
    assert profiles.quantile([INF, INF], 0.5) == INF and profiles.quantile([7.0], 0.5) == 7.0
    assert profiles.quantile([10.0, 20.0, INF], 0.5) == 20.0  # h = 1 exactly
    with pytest.raises(ValueError, match="empty"):
        profiles.quantile([], 0.5)


def test_select_best_by_median_steps_then_final_metric_and_the_edge():
    steps = np.array([[INF, INF], [40.0, 60.0], [30.0, 70.0], [50.0, INF]])
    final = np.array([[1.0, 1.0], [0.1, 0.1], [0.2, 0.3], [0.0, 0.0]])
    # medians: inf, 50, 50, inf -> rows 1 and 2 tie, row 1 has the lower final loss
    assert profiles.select_best(steps, final, higher_is_better=False) == 1
    # the same with accuracies: higher final is better -> row 2
    assert profiles.select_best(steps, final, higher_is_better=True) == 2
    # all misses: the final metric decides; a non-finite final is the worst
    misses = np.full((3, 2), INF)
    final = np.array([[0.5, 0.5], [np.nan, 0.0], [0.3, 0.6]])
    assert profiles.select_best(misses, final, higher_is_better=False) == 2
    assert [profiles.edge_side(i, 9) for i in (0, 4, 8)] == ["low", None, "high"]
    with pytest.raises(ValueError, match="same shape"):
        profiles.select_best(steps, final, higher_is_better=False)


def test_performance_profile_and_score_on_a_hand_made_table():
    times = {"p1": {"a": 100.0, "b": 200.0, "c": INF},
             "p2": {"a": 300.0, "b": 100.0, "c": 500.0},
             "p3": {"a": INF, "b": INF, "c": INF}}  # nobody reaches it: a miss for all
    ratios = profiles.performance_ratios(times)
    assert ratios["p1"] == {"a": 1.0, "b": 2.0, "c": INF}
    assert ratios["p2"] == {"a": 3.0, "b": 1.0, "c": 5.0}
    assert ratios["p3"] == {"a": INF, "b": INF, "c": INF}
    rho = profiles.performance_profile(ratios, [1.0, 2.0, 2.5, 3.0, 4.0])
    np.testing.assert_allclose(rho["a"], [1 / 3, 1 / 3, 1 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(rho["b"], [1 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(rho["c"], [0, 0, 0, 0, 0])
    # B = mean_p max(0, 4 - r) / 3: a (3/3 + 1/3 + 0) / 3, b (2/3 + 3/3 + 0) / 3, c 0 (5 > 4)
    scores = profiles.profile_score(ratios)
    assert scores["a"] == pytest.approx(4 / 9) and scores["b"] == pytest.approx(5 / 9)
    assert scores["c"] == 0.0
    # the closed form is the integral of the profile over tau in [1, 4], divided by 3
    taus = np.linspace(1.0, 4.0, 30001)
    for opt, rho_fine in profiles.performance_profile(ratios, taus).items():
        area = np.sum((rho_fine[1:] + rho_fine[:-1]) / 2 * np.diff(taus)) / 3
        assert area == pytest.approx(scores[opt], abs=1e-3)
    # an optimizer missing from a problem counts as a miss there
    partial = profiles.profile_score({"p1": {"a": 1.0, "b": 1.0}, "p2": {"a": 1.0}})
    assert partial == {"a": 1.0, "b": 0.5}
    with pytest.raises(ValueError, match="r_max"):
        profiles.profile_score(ratios, r_max=1.0)


def test_grids_are_log_spaced_shifted_by_family_and_extend_past_an_edge():
    adam = convergence_optimizers.optimizer_spec("adam")
    lion = convergence_optimizers.optimizer_spec("lion")
    np.testing.assert_allclose(convergence_optimizers.lr_grid(TINY, adam, 9),
                               np.logspace(-3, -1, 9))
    np.testing.assert_allclose(convergence_optimizers.lr_grid(TINY, lion, 9),
                               np.logspace(-4, -2, 9))
    grid = np.array([1e-2, 1e-1, 1.0])
    np.testing.assert_allclose(convergence_optimizers.extend_grid(grid, "low"),
                               [1e-5, 1e-4, 1e-3])
    np.testing.assert_allclose(convergence_optimizers.extend_grid(grid, "high"),
                               [10.0, 100.0, 1000.0])
    # any other jaxdl.optim alias is accepted by name
    assert convergence_optimizers.optimizer_spec("yogi").default_lr == 1e-2
    assert "yogi" in convergence_optimizers.known_optimizers()


# ----------------------------------------------------------------------------- the protocol


def test_vmapped_grid_equals_one_jitted_run_at_a_time(tiny_sgd):
    run = jax.jit(convergence.make_run(TINY, convergence_optimizers.optimizer_spec("sgd"),
                                       convergence_optimizers.get_backend("jaxdl")))
    params, keys = convergence.starts(TINY, 4)
    for row, seed in [(0, 0), (5, 3), (len(tiny_sgd["lrs"]) - 1, 1)]:
        loss, metric = run(np.float32(tiny_sgd["lrs"][row]),
                           jax.tree.map(lambda x, s=seed: x[s], params), keys[seed])
        np.testing.assert_allclose(np.asarray(tiny_sgd["curves"]["metric"])[row, seed], metric,
                                   rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(np.asarray(tiny_sgd["curves"]["loss"])[row, seed], loss,
                                   rtol=1e-5, atol=1e-7)
    # the seeds start from different points and see different noise
    metric = np.asarray(tiny_sgd["curves"]["metric"])
    assert metric[4, 0, 0] != metric[4, 1, 0] and metric[4, 0, -1] != metric[4, 1, -1]


def test_protocol_chooses_on_tuning_seeds_extends_an_edge_and_reports_fresh_seeds(tiny_sgd):
    r = tiny_sgd
    # sgd is stable up to lr = 2 / 10: the best rate is above the first grid's top (0.1), so
    # the grid was extended once upwards with 9 more points at the same spacing
    assert r["extended"] == "high" and len(r["lrs"]) == 18
    np.testing.assert_allclose(r["lrs"], np.logspace(-3, 1.25, 18), rtol=1e-6)
    steps = np.asarray(r["steps"], dtype=float)
    medians = np.array([profiles.quantile(row[:2], 0.5) for row in steps])
    tied = np.flatnonzero(medians == medians.min())
    final = np.median(np.asarray(r["curves"]["metric"])[tied, :2, -1], axis=1)
    assert r["best_index"] == tied[np.argmin(final)]
    assert r["best_lr"] == pytest.approx(r["lrs"][r["best_index"]])
    assert 0.05 < r["best_lr"] < 0.2 and r["edge"] is None
    # the report is on seeds 2 and 3, never seen by the choice
    assert r["tuning_seeds"] == [0, 1] and r["fresh_seeds"] == [2, 3]
    fresh = profiles.summarize(steps[r["best_index"], 2:])
    assert r["tuned"]["median"] == fresh["median"] and r["tuned"]["runs"] == 2
    assert r["tuned"]["time_to_target_s"] == pytest.approx(fresh["median"] * r["step_s"])
    # the default rate (0.01) is too small for 60 steps: a miss on both fresh seeds
    assert r["default"]["misses"] == 2 and r["default"]["median"] == INF
    # the largest rates diverge: non-finite runs are misses
    assert np.all(steps[-1] == INF)
    assert r["compile_s"] > 0 and r["run_s"] > 0 and r["step_s"] > 0


def test_gd_reuses_sgd_without_a_full_batch_loss_and_descends_it_with_one():
    # with a full-batch loss, gd descends it: exactly w_t = w_0 (1 - lr d)^t, no noise
    with_full = problems.FullBatchProblem(
        **{f.name: getattr(TINY, f.name) for f in dataclasses.fields(TINY)},
        full_loss=TINY.metric)
    gd = convergence.run_pair(with_full, "gd", grid_points=9, seeds=1)
    w0 = np.asarray(convergence.starts(with_full, 2)[0][0], dtype=np.float64)
    lr = gd["best_lr"]
    w = w0 * (1 - np.float32(lr) * CURVATURE) ** 60
    np.testing.assert_allclose(gd["curves"]["metric"][gd["best_index"]][0][-1],
                               0.5 * np.sum(CURVATURE * w**2), rtol=1e-3, atol=1e-9)
    suite = convergence.run_suite([TINY], ["gd", "sgd"], grid_points=9, seeds=1,
                                  progress=False)
    assert [r["optimizer"] for r in suite] == ["gd", "sgd"]
    assert suite[1]["same_as"] is None and suite[0]["same_as"] == "sgd"
    assert suite[0]["gd_is_sgd"] and not gd["gd_is_sgd"]
    assert suite[0]["steps"] == suite[1]["steps"] and suite[0]["compile_s"] == 0.0


# ----------------------------------------------------------------------------- bad input


def test_bad_input_says_why_before_anything_compiles(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("compiled before validating")

    monkeypatch.setattr(convergence, "_grid_program", boom)
    with pytest.raises(ValueError, match=r"unknown optimizer 'adamm'.*Did you mean adam"):
        convergence.main(["--problems", "rosenbrock", "--optimizers", "adamm"])
    with pytest.raises(ValueError, match=r"unknown problem 'rosenbrok'.*rosenbrock"):
        convergence.main(["--problems", "rosenbrok"])
    with pytest.raises(ValueError, match=r"grid_points must be an integer >= 9, got 5"):
        convergence.main(["--quick", "--grid-points", "5"])
    with pytest.raises(ValueError, match=r"seeds must be an integer >= 1, got 0"):
        convergence.main(["--quick", "--seeds", "0"])
    with pytest.raises(ValueError, match=r"unknown backend 'torch'.*jaxdl, optax"):
        convergence.main(["--quick", "--backend", "torch"])
    with pytest.raises(ValueError, match=r"unknown problem 'nope'"):
        convergence.main(["--quick", "--compare-sequential", "nope"])
    with pytest.raises(ValueError, match="grid_points"):
        convergence.run_pair(TINY, "sgd", grid_points=8)


# ----------------------------------------------------------------------------- CLI and report


def test_command_line_prints_the_table_writes_json_and_png_figures(tmp_path, capsys):
    out = tmp_path / "out"
    report = convergence.main(["--problems", "rosenbrock", "--optimizers", "momentum,adam",
                               "--seeds", "1", "--out", str(out), "--no-progress"])
    text = capsys.readouterr().out
    assert "| momentum |" in text and "## AlgoPerf score" in text and "### rosenbrock" in text
    data = json.loads((out / "convergence.json").read_text())
    assert set(data) >= {"meta", "problems", "runs", "ratios_tuned", "scores_tuned",
                         "ratios_default", "scores_default"}
    assert data["meta"]["grid_points"] == 9 and data["meta"]["seeds"] == 1
    assert data["problems"]["rosenbrock"]["target"] == problems.get("rosenbrock").target
    budget, every = 2000, 10
    for run in data["runs"]:
        assert run["problem"] == "rosenbrock" and run["optimizer"] in ("momentum", "adam")
        n_lr = len(run["lrs"])
        assert np.shape(run["curves"]["metric"]) == (n_lr, 2, budget // every + 1)
        assert np.shape(run["curves"]["loss"]) == (n_lr, 2, budget // every + 1)
        assert np.shape(run["steps"]) == (n_lr, 2)
        assert set(run["tuned"]) >= {"median", "q1", "q3", "misses", "final_median"}
        assert run["tuned"]["median"] is not None  # both reach 1e-3 within 2000 steps
    scores = data["scores_tuned"]
    assert max(scores.values()) == 1.0 and scores == pytest.approx(report["scores_tuned"])
    for name in ("curves_rosenbrock", "lr_rosenbrock", "profile", "paths_rosenbrock"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert (out / "report.md").read_text().startswith("# Convergence benchmark")


def test_json_has_no_non_finite_numbers_and_can_be_gzipped(tmp_path):
    report = {"a": [1.0, INF, np.float32(np.nan)], "b": np.int64(3), "c": 0.123456789,
              "d": np.array([[1.5, -INF]])}
    expected = {"a": [1.0, None, None], "b": 3, "c": 0.123457, "d": [[1.5, None]]}
    assert convergence_report.to_json(report) == expected
    path = convergence_report.write_json(report, str(tmp_path / "c.json.gz"))
    with gzip.open(path, "rt") as f:
        assert json.load(f) == expected


# ----------------------------------------------------------------------------- honesty


def test_optax_backend_agrees_with_jaxdl():
    """The honesty check: optax's optimizers, same protocol, same steps to target."""
    problem = _quadratic(budget=100)
    for name in ("adam", "adadelta"):  # adadelta: equal to ~1e-5, not bitwise
        ours = convergence.run_pair(problem, name, backend="jaxdl", grid_points=9, seeds=2)
        theirs = convergence.run_pair(problem, name, backend="optax", grid_points=9, seeds=2)
        assert theirs["backend"] == "optax" and theirs["lrs"] == ours["lrs"]
        a, b = np.asarray(ours["steps"], float), np.asarray(theirs["steps"], float)
        assert np.mean(a == b) >= 0.95, (name, a, b)  # run by run, nearly all equal
        assert theirs["best_lr"] == ours["best_lr"], name
        mine, other = ours["tuned"]["median"], theirs["tuned"]["median"]
        assert math.isfinite(mine), name  # each reaches the target on the fresh seeds
        assert abs(other - mine) <= problem.eval_every, name


def test_sequential_protocol_chooses_as_the_vmapped_one():
    from benchmarks import convergence_sequential

    problem = _quadratic(default_lr_range=(1e-2, 1.0))  # sgd's best (~0.1) is inside
    out = convergence_sequential.compare_sequential(problem, ["sgd"], grid_points=9, seeds=1)
    assert out["same_choice"] is True
    for way in ("vmapped_s", "vmapped_workers_s", "sequential_s", "sequential_traced_s"):
        assert out[way] > 0
    assert out["ratio"] == pytest.approx(out["sequential_s"] / out["vmapped_s"])
