"""Smoke test of benchmarks/speed.py: quick mode reports every variant and writes speed.md."""

import jax
import numpy as np

from benchmarks import speed


def test_step_flops_matches_hand_counts():
    # one layer, batch 2, 3 -> 4: forward 2*2*3*4 = 48; backward only dW (no input gradient)
    assert speed.step_flops(2, (3, 4)) == 48 + 48
    # two layers 3 -> 4 -> 5: forward 48 + 80; backward dW 48 + 80 and dx 80 for layer two
    assert speed.step_flops(2, (3, 4, 5)) == 128 + 208
    # the digits MLP: forward 2*128*(64*256 + 256*256 + 256*10) = 21,626,880, and
    # backward 2*128*(64*256 + 2*256*256 + 2*256*10) = 39,059,456
    assert speed.step_flops() == 21_626_880 + 39_059_456


def test_quick_mode_reports_every_variant(tmp_path):
    # optax needs standard dtype promotion and stax's Dense adds its bias by rank promotion
    with jax.numpy_dtype_promotion("standard"), jax.numpy_rank_promotion("allow"):
        rows = speed.main(["--quick", "--out", str(tmp_path)])
    by_name = {r["variant"]: r for r in rows}
    assert set(by_name) >= {"a", "b", "c", "d", "f"}  # "e" only where flax is installed
    for r in rows:
        assert r["steps_per_s"] > 0 and r["q1"] <= r["steps_per_s"] <= r["q3"]
        assert r["ratio_to_c"] > 0 and r["compile_s"] > -0.1 and 0 < r["frac_peak"]
        assert np.isfinite(r["final_loss"]) and r["final_loss"] < np.log(10)  # it learned
    assert by_name["c"]["ratio_to_c"] == 1.0
    # (b)-(f) share the initial weights and the batches: the same work, the same loss
    for name in set(by_name) - {"a", "c"}:
        np.testing.assert_allclose(by_name[name]["final_loss"], by_name["c"]["final_loss"],
                                   rtol=1e-3)
    text = (tmp_path / "speed.md").read_text()
    assert "| (a) jaxdl train.fit" in text and "| (d) optax + stax" in text
    assert "(a) fit >= 2x (c)" in text and "(b) jaxdl step within 5% of (c)" in text
