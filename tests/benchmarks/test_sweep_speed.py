"""Smoke test of benchmarks/sweep_speed.py: quick mode times every way, the runs agree."""

import jax
import numpy as np

from benchmarks import sweep_speed


def _timing(total, compile_s, run_s, loss=1.0):
    return sweep_speed.Timing(total, total / 2, compile_s, run_s, np.full((2, 2), loss))


def test_summary_ratios_and_goal_verdicts_by_hand():
    config = sweep_speed.QUICK  # 4 runs
    timings = {
        "a": [_timing(1.0, 0.5, 0.4), _timing(1.0, 0.3, 0.4)],
        "b": [_timing(2.0, 0.2, 1.6), _timing(4.0, 0.2, 3.6)],
        "c": [_timing(3.0, 0.1, 2.8), _timing(3.0, 0.1, 2.8)],
        "d": [_timing(2.0, 0.4, 1.2), _timing(2.0, 0.4, 1.2, loss=1.5)],
    }
    rows = {r["variant"]: r for r in sweep_speed.summarize(config, timings)}
    a, b, d = rows["a"], rows["b"], rows["d"]
    assert a["speedup_vs_b"] == 3.0  # median of 2/1 and 4/1
    assert a["cpu_speedup_vs_b"] == 3.0
    assert a["compile_vs_b"] == 2.0  # median of 0.5/0.2 and 0.3/0.2
    assert b["speedup_vs_b"] == 1.0 and b["compile_vs_b"] == 1.0
    assert np.isclose(a["other_s"], 0.2)  # median of 1 - 0.5 - 0.4 and 1 - 0.3 - 0.4
    assert np.isclose(b["ms_per_run"], 1e3 * 2.6 / 4)
    assert d["median_final_loss"] == 1.5  # the last repetition's losses
    load = ((1, 1, 1), (1, 1, 1))
    text = sweep_speed.markdown(config, list(rows.values()), "by hand", load)
    # a's compile is 2.0x b's: the compile goal (<= 2x) is met; 3x end to end meets 1.3x
    assert "in one process: the sweep >= 1.3x faster end to end: 3.00x, met" in text
    assert "single run's: 2.00x, met" in text and "Each call in a fresh process" not in text
    # the losses of (d) differ from (b)'s by a relative 0.5
    assert "largest relative difference to (b): 5.0e-01" in text
    timings["a"] = [_timing(2.0, 0.5, 0.4), _timing(4.0, 0.5, 0.4)]
    slower = sweep_speed.summarize(config, timings, "fresh process")
    assert slower[0]["setting"] == "fresh process"
    text = sweep_speed.markdown(config, list(rows.values()), "by hand", load, (100.0, 50.0),
                                slower)
    assert "in a fresh process: the sweep >= 1.3x faster end to end: 1.00x, NOT met" in text
    assert "single run's: 2.50x, NOT met" in text
    assert "takes 100 us alone and 50 us a run" in text and "2.00x the work" in text


def test_quick_mode_times_every_way_and_the_runs_agree(tmp_path):
    out = tmp_path / "sweep_speed.md"
    # optax needs standard dtype promotion and stax's Dense adds its bias by rank promotion
    with jax.numpy_dtype_promotion("standard"), jax.numpy_rank_promotion("allow"):
        rows = sweep_speed.main(["--quick", "--out", str(out)])
    by_name = {r["variant"]: r for r in rows}
    assert list(by_name) == ["a", "b", "c", "d"]
    shape = (len(sweep_speed.QUICK.schemes), sweep_speed.QUICK.seeds)
    for r in rows:
        assert r["total_s"] > 0 and r["cpu_s"] > 0 and r["compile_s"] > 0 and r["run_s"] > 0
        assert r["total_s"] >= r["compile_s"] + r["run_s"] and r["speedup_vs_b"] > 0
        assert r["final_loss"].shape == shape
        assert np.all(np.isfinite(r["final_loss"])) and np.all(r["final_loss"] < np.log(10))
    # every way reproduces the sweep's per-run keys: the same runs, the same final losses
    for name in "bcd":
        np.testing.assert_allclose(by_name[name]["final_loss"], by_name["a"]["final_loss"],
                                   rtol=1e-5)
    # different seeds and schemes train differently: the comparison is run for run
    assert len(np.unique(by_name["a"]["final_loss"])) == np.prod(shape)
    # a fresh process (the quickest way, (c)) times the same runs
    child = sweep_speed.fresh("c", quick=True)
    assert child.total >= child.compile + child.run > 0 and child.cpu > 0
    np.testing.assert_allclose(child.final_loss, by_name["c"]["final_loss"], rtol=1e-6)
    text = out.read_text()
    for name, label in sweep_speed.LABELS.items():
        assert f"| ({name}) {label} |" in text
    assert "the sweep >= 1.3x faster" in text and "its compile <= 2x" in text

