"""Standardizer / standardize: train statistics, applied unchanged to test data."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdl.data as data

RNG = np.random.default_rng(0)
TRAIN = (RNG.normal(size=(50, 3)) * [1.0, 5.0, 0.1] + [2.0, -3.0, 10.0]).astype(np.float32)
TEST = (RNG.normal(size=(20, 3)) * 4.0).astype(np.float32)


def test_train_mean_zero_std_one():
    stats = data.Standardizer.fit(TRAIN)
    z = np.asarray(stats.apply(TRAIN))
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0), 1.0, rtol=1e-5)
    assert stats.mean.shape == stats.std.shape == (1, 3)


def test_test_data_uses_training_statistics():
    stats, z_train, z_test = data.standardize(TRAIN, TEST)
    mean, std = TRAIN.mean(axis=0), TRAIN.std(axis=0)  # population std, ddof=0
    np.testing.assert_allclose(z_test, (TEST - mean) / std, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(z_train, (TRAIN - mean) / std, rtol=1e-4, atol=1e-5)
    assert abs(float(jnp.mean(z_test))) > 0.1  # not re-centred on the test data


def test_hand_example_and_invert():
    x = np.array([[1.0], [3.0]], np.float32)  # mean 2, population std 1
    stats = data.Standardizer.fit(x)
    np.testing.assert_allclose(stats.apply(np.array([[5.0]], np.float32)), [[3.0]])
    np.testing.assert_allclose(stats.invert(stats.apply(TRAIN[:, :1])), TRAIN[:, :1], rtol=1e-6)


def test_constant_feature_is_centred_not_blown_up():
    x = np.stack([np.full(5, 7.0), np.arange(5.0)], axis=1).astype(np.float32)
    stats = data.Standardizer.fit(x)
    assert float(stats.std[0, 0]) == 1.0
    np.testing.assert_array_equal(stats.apply(x)[:, 0], np.zeros(5))
    np.testing.assert_allclose(stats.apply(np.array([[7.5, 2.0]], np.float32)), [[0.5, 0.0]])


def test_unbound_call_style_and_jit():
    stats = data.Standardizer.fit(TRAIN)
    np.testing.assert_array_equal(data.Standardizer.apply(stats, TEST), stats.apply(TEST))
    jitted = jax.jit(lambda s, x: s.apply(x))(stats, TEST)
    np.testing.assert_allclose(jitted, stats.apply(TEST), rtol=1e-6)


def test_per_channel_statistics_for_images():
    images = np.asarray(RNG.normal(size=(4, 3, 3, 2)) * [1.0, 3.0] + [0.0, 5.0], np.float32)
    stats = data.Standardizer.fit(images, axis=(0, 1, 2))
    assert stats.mean.shape == (1, 1, 1, 2)
    z = np.asarray(stats.apply(images))
    np.testing.assert_allclose(z.reshape(-1, 2).mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.reshape(-1, 2).std(axis=0), 1.0, rtol=1e-5)


def test_integer_input_is_cast():
    stats = data.Standardizer.fit(np.array([[0], [2]], np.int32))
    assert stats.mean.dtype == jnp.float32
    np.testing.assert_allclose(stats.apply(np.array([[4]], np.int32)), [[3.0]])


def test_errors():
    stats = data.Standardizer.fit(TRAIN)
    with pytest.raises(ValueError, match=r"expected inputs shaped like the training data \('n', 3"):
        stats.apply(TEST[:, :2])
    with pytest.raises(ValueError, match=r"got shape \(3,\)"):
        stats.apply(TEST[0])
    with pytest.raises(ValueError, match=r"Standardizer.fit: `min_std` must be a finite non-neg"):
        data.Standardizer.fit(TRAIN, min_std=-1.0)
    with pytest.raises(ValueError, match="must hold at least one example"):
        data.Standardizer.fit(np.zeros((0, 3), np.float32))
    with pytest.raises(ValueError, match=r"`axis`=2 is not a valid axis of an array of rank 2"):
        data.standardize(TRAIN, axis=2)
