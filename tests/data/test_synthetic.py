"""Synthetic data: shapes, dtypes, the generating geometry (noise 0), noise level, jit/vmap."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdl.data as data

N = 64


@pytest.mark.parametrize("make, x_shape, y_shape, y_dtype", [
    (lambda k: data.sine(k, N, 0.1), (N, 1), (N, 1), jnp.float32),
    (lambda k: data.function_1d(jnp.tanh, k, N, -2.0, 2.0, 0.1), (N, 1), (N, 1), jnp.float32),
    (lambda k: data.moons(k, N, 0.1), (N, 2), (N,), jnp.int32),
    (lambda k: data.spirals(k, N, 3, 0.1), (N, 2), (N,), jnp.int32),
    (lambda k: data.gaussian_blobs(k, N, 4, 1.0, num_features=5), (N, 5), (N,), jnp.int32),
])
def test_shapes_dtypes_determinism(key, make, x_shape, y_shape, y_dtype):
    X, y = make(key)
    assert X.shape == x_shape and X.dtype == jnp.float32
    assert y.shape == y_shape and y.dtype == y_dtype
    X2, y2 = make(key)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = make(jax.random.key(1))
    assert not np.array_equal(X, X3)


def test_sine_without_noise_is_the_sine(key):
    X, y = data.sine(key, N)
    np.testing.assert_allclose(y, np.sin(np.asarray(X)), atol=1e-6)
    assert 0.0 <= float(X.min()) and float(X.max()) <= 2 * math.pi


def test_sine_noise_level(key):
    X, y = data.sine(key, 20_000, noise=0.3, low=-1.0, high=1.0)
    residual = np.asarray(y - jnp.sin(X))
    assert -1.0 <= float(X.min()) and float(X.max()) <= 1.0
    # sd of the sample sd ~ 0.3 / sqrt(40000) = 0.0015
    assert abs(residual.std() - 0.3) < 0.008
    assert abs(residual.mean()) < 0.01


def test_function_1d_applies_fn(key):
    X, y = data.function_1d(lambda x: x ** 3, key, N, low=1.0, high=3.0)
    np.testing.assert_allclose(y, np.asarray(X) ** 3, rtol=1e-6)
    assert 1.0 <= float(X.min()) and float(X.max()) <= 3.0


def test_moons_geometry_without_noise(key):
    X, y = data.moons(key, N)
    X, y = np.asarray(X), np.asarray(y)
    np.testing.assert_array_equal(y, np.arange(N) % 2)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, rtol=1e-5)
    assert np.all(upper[:, 1] >= 0)
    np.testing.assert_allclose(np.hypot(1 - lower[:, 0], 0.5 - lower[:, 1]), 1.0, rtol=1e-5)
    assert np.all(lower[:, 1] <= 0.5)


def test_spirals_geometry_without_noise(key):
    C, turns = 3, 1.5
    X, y = data.spirals(key, 90, C, turns=turns)
    X, y = np.asarray(X, np.float64), np.asarray(y)
    np.testing.assert_array_equal(np.bincount(y), [30, 30, 30])
    r = np.hypot(X[:, 0], X[:, 1])
    assert np.all(r <= 1.0)
    theta = 2 * np.pi * (y / C + turns * r)
    np.testing.assert_allclose(X, r[:, None] * np.stack([np.cos(theta), np.sin(theta)], 1),
                               atol=1e-5)


def test_blobs_given_centers_and_per_cluster_std(key):
    centers = jnp.array([[0.0, 0.0], [10.0, -5.0]])
    X, y = data.gaussian_blobs(key, 4000, centers, jnp.array([0.5, 2.0]))
    X, y = np.asarray(X), np.asarray(y)
    for c, (mu, sd) in enumerate([((0, 0), 0.5), ((10, -5), 2.0)]):
        pts = X[y == c]
        # se of the mean: sd / sqrt(2000) <= 0.045; of the sd: sd / sqrt(4000) <= 0.032
        np.testing.assert_allclose(pts.mean(axis=0), mu, atol=0.2)
        np.testing.assert_allclose(pts.std(axis=0), sd, atol=0.15)


def test_blobs_drawn_centers_lie_in_the_box(key):
    X, y = data.gaussian_blobs(key, 30, 3, 0.0, center_box=(2.0, 4.0))
    X = np.asarray(X)
    assert np.all((X >= 2.0) & (X <= 4.0))
    for c in range(3):  # std 0: every point is its centre
        np.testing.assert_array_equal(X[np.asarray(y) == c], np.repeat(X[c:c + 1], 10, 0))


def test_vmap_over_seeds_and_traced_noise(key):
    keys = jax.random.split(key, 4)
    X, y = jax.vmap(lambda k: data.moons(k, N, 0.1))(keys)
    assert X.shape == (4, N, 2) and y.shape == (4, N)
    np.testing.assert_array_equal(X[2], data.moons(keys[2], N, 0.1)[0])
    jitted = jax.jit(lambda k, s: data.sine(k, N, s))(key, jnp.float32(0.1))
    np.testing.assert_allclose(jitted[1], data.sine(key, N, 0.1)[1], rtol=1e-5, atol=1e-6)


def test_errors(key):
    with pytest.raises(ValueError, match=r"sine: `noise` must be a finite non-negative number"):
        data.sine(key, N, -0.1)
    with pytest.raises(ValueError, match=r"function_1d: needs low < high, got low=1.0 and high"):
        data.function_1d(jnp.sin, key, N, 1.0, 0.0)
    with pytest.raises(ValueError, match=r"`fn` must act elementwise.*got \(\)"):
        data.function_1d(jnp.sum, key, N)
    with pytest.raises(TypeError, match=r"function_1d: `fn` must be a function of x"):
        data.function_1d(3.0, key, N)
    with pytest.raises(ValueError, match=r"moons: `n` must be at least 2, got 1"):
        data.moons(key, 1)
    with pytest.raises(ValueError, match=r"spirals: `num_classes` must be at least 2, got 1"):
        data.spirals(key, N, 1)
    with pytest.raises(TypeError, match=r"spirals: `key` must be one PRNG key.*got 0"):
        data.spirals(0, N)
    with pytest.raises(ValueError, match=r"`centers` must be a number of clusters or a \(clus"):
        data.gaussian_blobs(key, N, jnp.zeros(3))
    with pytest.raises(ValueError, match=r"`std` must be a scalar or one per cluster \(2,\)"):
        data.gaussian_blobs(key, N, jnp.zeros((2, 2)), jnp.ones(3))
    with pytest.raises(ValueError, match=r"gaussian_blobs: `n` must be at least 5, got 4"):
        data.gaussian_blobs(key, 4, 5)
