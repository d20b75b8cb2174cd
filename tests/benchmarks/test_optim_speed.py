"""Smoke test of benchmarks/optim_speed.py: the quick mode runs and reports every optimizer."""

import jax

from benchmarks import optim_speed


def test_quick_mode_reports_every_optimizer(tmp_path):
    with jax.numpy_dtype_promotion("standard"):  # optax runs in the same process
        rows = optim_speed.main(["--quick", "--out", str(tmp_path)])
    assert [r["optimizer"] for r in rows] == [name for name, *_ in optim_speed.OPTIMIZERS]
    for r in rows:
        assert r["jaxdl_ms"] > 0 and r["optax_ms"] > 0 and r["floor_ms"] > 0
    assert "| adam |" in (tmp_path / "optim_speed.md").read_text()
