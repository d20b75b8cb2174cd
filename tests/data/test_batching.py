"""batches, num_batches, stacked_batches: coverage, order, drop_last, types, jit, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdl.data as data

N = 10
X = np.arange(N, dtype=np.float32).reshape(N, 1)
Y = 10 * np.arange(N, dtype=np.int32)


def test_without_key_batches_follow_data_order_and_keep_last():
    out = list(data.batches(X, Y, 4))
    assert [len(xb) for xb, _ in out] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([xb for xb, _ in out])[:, 0], np.arange(N))
    assert data.num_batches(N, 4) == 3


def test_drop_last(key):
    out = list(data.batches(X, Y, 4, key=key, drop_last=True))
    assert [len(xb) for xb, _ in out] == [4, 4]
    assert data.num_batches(N, 4, drop_last=True) == 2
    assert len(list(data.batches(X, Y, 5, drop_last=True))) == 2  # divides: nothing dropped


def test_shuffled_epoch_covers_every_example_once(key):
    out = list(data.batches(X, Y, 3, key=key))
    xs = np.concatenate([xb for xb, _ in out])[:, 0]
    np.testing.assert_array_equal(np.sort(xs), np.arange(N))
    assert not np.array_equal(xs, np.arange(N))  # shuffled
    for xb, yb in out:
        np.testing.assert_array_equal(yb, 10 * xb[:, 0].astype(np.int32))  # still paired


def test_same_key_same_order_other_key_other_order(key):
    def order(k):
        return np.concatenate([xb for xb, _ in data.batches(X, Y, 3, key=k)])[:, 0]

    np.testing.assert_array_equal(order(key), order(key))
    assert not np.array_equal(order(key), order(jax.random.key(1)))


def test_keeps_array_type(key):
    xb, yb = next(data.batches(X, Y, 4, key=key))
    assert isinstance(xb, np.ndarray) and isinstance(yb, np.ndarray)
    xb, yb = next(data.batches(jnp.asarray(X), jnp.asarray(Y), 4, key=key))
    assert isinstance(xb, jax.Array) and isinstance(yb, jax.Array)


def test_stacked_batches_match_batches(key):
    xs, ys = data.stacked_batches(X, Y, 3, key=key)
    assert xs.shape == (3, 3, 1) and ys.shape == (3, 3)
    for t, (xb, yb) in enumerate(data.batches(X, Y, 3, key=key, drop_last=True)):
        np.testing.assert_array_equal(xs[t], xb)
        np.testing.assert_array_equal(ys[t], yb)
    plain, _ = data.stacked_batches(X, Y, 4)
    np.testing.assert_array_equal(plain[:, :, 0], np.arange(8).reshape(2, 4))


def test_stacked_batches_under_jit_with_traced_key(key):
    f = jax.jit(lambda k, x, y: data.stacked_batches(x, y, 3, key=k))
    xs, ys = f(key, X, Y)
    ref_x, ref_y = data.stacked_batches(X, Y, 3, key=key)
    np.testing.assert_array_equal(xs, ref_x)
    np.testing.assert_array_equal(ys, ref_y)


def test_errors_are_raised_at_the_call_before_iterating(key):
    with pytest.raises(ValueError, match=r"batches: `batch_size` must be at least 1, got 0"):
        data.batches(X, Y, 0)
    with pytest.raises(ValueError, match=r"`batch_size`=11 is larger than the data set \(10"):
        data.batches(X, Y, 11)
    with pytest.raises(TypeError, match=r"`batch_size` must be a Python int, got 2.0"):
        data.batches(X, Y, 2.0)
    with pytest.raises(ValueError, match=r"batches: `X` and `y` must hold the same number"):
        data.batches(X, Y[:9], 2)
    with pytest.raises(TypeError, match="batches: `key` must be one PRNG key"):
        data.batches(X, Y, 2, key=3)
    with pytest.raises(ValueError, match=r"stacked_batches: `batch_size`=20 is larger"):
        data.stacked_batches(X, Y, 20)
    with pytest.raises(ValueError, match=r"num_batches: `batch_size` must be at least 1"):
        data.num_batches(10, -1)
