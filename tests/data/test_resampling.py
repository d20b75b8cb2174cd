"""bootstrap and out_of_bag_mask: shapes, the 1 - 1/e statistic, hand examples, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdl.data as data


def test_bootstrap_shape_dtype_range(key):
    idx = data.bootstrap(key, 100, 7)
    assert idx.shape == (7, 100) and idx.dtype == jnp.int32
    assert int(idx.min()) >= 0 and int(idx.max()) <= 99


def test_unique_fraction_is_one_minus_one_over_e(key):
    n, b = 2000, 100
    idx = np.asarray(data.bootstrap(key, n, b))
    unique = np.array([len(np.unique(row)) for row in idx]) / n
    expected = 1 - (1 - 1 / n) ** n  # 0.63222, -> 1 - 1/e
    # one replica's fraction has sd ~ 0.0074 (n = 2000); the mean of 100 has sd ~ 0.0007
    assert abs(unique.mean() - expected) < 0.004
    assert abs(expected - (1 - np.exp(-1))) < 1e-4
    # drawing with replacement: every replica repeats some example
    assert all(len(np.unique(row)) < n for row in idx)


def test_bootstrap_deterministic_and_key_dependent(key):
    a = data.bootstrap(key, 50, 3)
    np.testing.assert_array_equal(a, data.bootstrap(key, 50, 3))
    assert not np.array_equal(a, data.bootstrap(jax.random.key(1), 50, 3))
    assert not np.array_equal(a[0], a[1])  # replicas differ


def test_out_of_bag_mask_hand_example():
    idx = jnp.array([[0, 0, 2], [1, 1, 1]], jnp.int32)
    mask = data.out_of_bag_mask(idx, 4)
    expected = [[False, True, False, True], [True, False, True, True]]
    np.testing.assert_array_equal(mask, expected)


def test_out_of_bag_mask_consistent_with_bootstrap(key):
    n = 500
    idx = data.bootstrap(key, n, 20)
    mask = np.asarray(data.out_of_bag_mask(idx, n))
    assert mask.shape == (20, n) and mask.dtype == np.bool_
    for b, row in enumerate(np.asarray(idx)):
        expected = np.ones(n, bool)
        expected[row] = False
        np.testing.assert_array_equal(mask[b], expected)
    # about 1/e out of bag (sd of the mean over 20 x 500 ~ 0.005)
    assert abs(mask.mean() - (1 - 1 / n) ** n) < 0.025


def test_bootstrap_and_mask_under_jit_and_vmap(key):
    keys = jax.random.split(key, 2)
    f = jax.jit(jax.vmap(lambda k: data.out_of_bag_mask(data.bootstrap(k, 500, 20), 500)))
    masks = f(keys)
    assert masks.shape == (2, 20, 500)
    np.testing.assert_array_equal(masks[1], data.out_of_bag_mask(data.bootstrap(keys[1], 500, 20),
                                                                 500))


def test_errors(key):
    with pytest.raises(ValueError, match=r"bootstrap: `num_samples` must be at least 1, got 0"):
        data.bootstrap(key, 10, 0)
    with pytest.raises(TypeError, match=r"bootstrap: `n` must be a Python int"):
        data.bootstrap(key, 10.5, 2)
    with pytest.raises(TypeError, match=r"bootstrap: `key` must be one PRNG key"):
        data.bootstrap(jax.random.split(key, 2), 10, 2)
    with pytest.raises(ValueError, match=r"`indices` must have shape \(num_samples, m\)"):
        data.out_of_bag_mask(jnp.arange(5), 5)
    with pytest.raises(TypeError, match="`indices` must be integer indices"):
        data.out_of_bag_mask(jnp.zeros((2, 5)), 5)
    with pytest.raises(ValueError, match=r"`indices` must lie in \[0, n=5\), got 1 out of range"):
        data.out_of_bag_mask(jnp.array([[0, 5]]), 5)
