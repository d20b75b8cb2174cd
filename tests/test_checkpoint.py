"""Checkpoints: exact round trips, a format NumPy can read, atomic saves, refusals."""

import json
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import checkpoint, nn, optim, train


class Pair(NamedTuple):
    first: object
    second: object


def _tree():
    return {
        "b": Pair(jnp.arange(6.0).reshape(2, 3), None),
        "a": [jnp.ones(2, jnp.bfloat16), (jnp.int32(7),)],
        "key": jax.random.key(3),
    }


def _equal(a, b):
    if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
        a, b = jax.random.key_data(a), jax.random.key_data(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(np.asarray(a, np.float32), np.asarray(b, np.float32))


def test_round_trip_with_like_restores_exact_structure(tmp_path):
    tree = _tree()
    path = checkpoint.save(tmp_path / "c.npz", tree, step=12, metadata={"note": "x"})
    restored = checkpoint.restore(path, like=tree)
    assert jax.tree.structure(restored) == jax.tree.structure(tree)
    assert isinstance(restored["b"], Pair)
    jax.tree.map(_equal, restored, tree)
    assert checkpoint.read_metadata(path) == {"step": 12, "note": "x"}


def test_restore_without_like_gives_plain_containers(tmp_path):
    path = checkpoint.save(tmp_path / "c.npz", _tree())
    restored = checkpoint.restore(path)
    assert restored["b"] == {"first": restored["b"]["first"], "second": None}
    np.testing.assert_array_equal(restored["b"]["first"], np.arange(6.0).reshape(2, 3))


def test_train_state_round_trip(tmp_path, key):
    model = nn.serial(nn.Dense(4), nn.BatchNorm(), nn.Dense(2))
    ts = train.init_state(model, optim.adamw(1e-3), key, (3,))
    path = checkpoint.save(tmp_path / "ts.npz", ts)
    restored = checkpoint.restore(path, like=ts)
    assert type(restored) is train.TrainState
    assert type(restored.opt_state) is type(ts.opt_state)
    jax.tree.map(_equal, restored, ts)


def test_readable_with_numpy_alone(tmp_path):
    path = checkpoint.save(tmp_path / "c.npz", {"w": jnp.arange(3.0)}, step=1)
    with np.load(path, allow_pickle=False) as npz:
        description = json.loads(bytes(npz["tree.json"]).decode())
        np.testing.assert_array_equal(npz["0"], [0.0, 1.0, 2.0])
    assert description["tree"]["keys"] == ["w"] and description["step"] == 1


def test_mismatched_like_is_refused_with_both_structures(tmp_path):
    path = checkpoint.save(tmp_path / "c.npz", {"w": jnp.zeros((2, 3))})
    with pytest.raises(ValueError, match=r"(?s)saved:.*float32\[2, 3\].*expected:.*\[3, 2\]"):
        checkpoint.restore(path, like={"w": jnp.zeros((3, 2))})


def test_object_arrays_are_never_unpickled(tmp_path):
    path = tmp_path / "evil.npz"
    description = {"format": "jaxdl-checkpoint-1", "step": None, "metadata": {},
                   "tree": {"type": "leaf", "dtype": "float32", "shape": [1]}}
    np.savez(path, **{"0": np.array([object()], dtype=object),
                      "tree.json": np.array(json.dumps(description).encode())})
    with pytest.raises(ValueError, match="allow_pickle"):
        checkpoint.restore(path)


def test_non_finite_state_is_never_written(tmp_path):
    path = tmp_path / "c.npz"
    checkpoint.save(path, {"w": jnp.ones(2)})
    with pytest.raises(ValueError, match=r"non-finite value at \['w'\]"):
        checkpoint.save(path, {"w": jnp.array([1.0, jnp.nan])})
    np.testing.assert_array_equal(checkpoint.restore(path)["w"], [1.0, 1.0])


def test_crash_mid_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    checkpoint.save(path, {"w": jnp.ones(2)})
    real_write = np.lib.format.write_array

    def crash(*args, **kwargs):
        real_write(*args, **kwargs)
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(np.lib.format, "write_array", crash)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(path, {"w": jnp.zeros(2)})
    monkeypatch.undo()
    np.testing.assert_array_equal(checkpoint.restore(path)["w"], [1.0, 1.0])
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]  # no temporary file left


def test_save_checkpoint_keeps_the_newest(tmp_path):
    for step in (5, 10, 15, 20):
        checkpoint.save_checkpoint(tmp_path, {"step": jnp.int32(step)}, step, keep=2)
    paths = checkpoint.all_checkpoints(tmp_path)
    assert [checkpoint.read_metadata(p)["step"] for p in paths] == [15, 20]
    assert checkpoint.latest(tmp_path) == paths[-1]
    assert checkpoint.latest(tmp_path / "missing") is None
