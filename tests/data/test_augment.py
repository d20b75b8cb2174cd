"""Augmentations: measured noise, exact pixel shifts, mixup's convex combination, jit/vmap."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdl.data as data
from jaxdl import losses

IMG = jnp.arange(1.0, 10.0).reshape(1, 3, 3, 1)  # [[1 2 3], [4 5 6], [7 8 9]]


# ----------------------------------------------------------------------------- noise


def test_gaussian_noise_measured_std_and_mean(key):
    x = jnp.full((200_000,), 3.0)
    out = np.asarray(data.gaussian_noise(key, x, 0.5))
    noise = out - 3.0
    # sd of the sample sd ~ 0.5 / sqrt(2 N) = 0.0008; of the sample mean ~ 0.0011
    assert abs(noise.std() - 0.5) < 0.005
    assert abs(noise.mean()) < 0.006
    assert out.dtype == np.float32


def test_gaussian_noise_zero_std_is_identity_and_keeps_dtype(key):
    x = jnp.arange(6.0, dtype=jnp.bfloat16).reshape(2, 3)
    out = data.gaussian_noise(key, x, 0.0)
    assert out.dtype == jnp.bfloat16
    np.testing.assert_array_equal(out, x)


def test_gaussian_noise_traced_std_vmaps_over_a_grid(key):
    x = jnp.zeros((1000,))
    out = jax.jit(jax.vmap(lambda s: data.gaussian_noise(key, x, s)))(jnp.array([0.0, 1.0, 2.0]))
    # same key, same eps: the three rows are 0, eps, 2 eps
    np.testing.assert_array_equal(out[0], np.zeros(1000))
    np.testing.assert_allclose(out[2], 2 * out[1], rtol=1e-6)
    np.testing.assert_allclose(out[1], data.gaussian_noise(key, x, 1.0), rtol=1e-6)


# ----------------------------------------------------------------------------- shifts


@pytest.mark.parametrize("shift, expected", [
    ((1, 0), [[0, 0, 0], [1, 2, 3], [4, 5, 6]]),   # down
    ((0, -1), [[2, 3, 0], [5, 6, 0], [8, 9, 0]]),  # left
    ((-1, 1), [[0, 4, 5], [0, 7, 8], [0, 0, 0]]),  # up and right
    ((0, 0), [[1, 2, 3], [4, 5, 6], [7, 8, 9]]),
    ((3, 0), [[0, 0, 0], [0, 0, 0], [0, 0, 0]]),   # shifted out entirely
])
def test_shift_images_hand_examples(shift, expected):
    out = data.shift_images(IMG, jnp.array([shift]))
    np.testing.assert_array_equal(out[0, :, :, 0], np.array(expected, np.float32))


def test_shift_images_per_example_and_channels_move_together():
    two = jnp.concatenate([IMG, 10 * IMG], axis=-1)  # (1, 3, 3, 2)
    batch = jnp.concatenate([two, two], axis=0)
    out = data.shift_images(batch, jnp.array([[1, 0], [0, -1]]))
    np.testing.assert_array_equal(out[0, :, :, 1], 10 * out[0, :, :, 0])
    np.testing.assert_array_equal(out[0, 1, :, 0], [1, 2, 3])
    np.testing.assert_array_equal(out[1, :, 0, 0], [2, 5, 8])


def test_random_shift_is_some_shift_within_range_per_example(key):
    images = jax.random.uniform(key, (300, 5, 5, 1), minval=1.0, maxval=2.0)  # no zeros
    out = np.asarray(data.random_shift(jax.random.key(7), images, max_shift=1))
    candidates = list(itertools.product(range(-1, 2), repeat=2))
    shifted = [np.asarray(data.shift_images(images, jnp.array([s] * 300))) for s in candidates]
    found = []
    for b in range(300):
        matches = [s for s, img in zip(candidates, shifted) if np.array_equal(img[b], out[b])]
        assert len(matches) == 1, b
        found.append(matches[0])
    assert set(found) == set(candidates)  # all nine shifts occur (each with prob. 1/9)


def test_random_shift_zero_is_identity_and_jits(key):
    np.testing.assert_array_equal(data.random_shift(key, IMG, 0), IMG)
    images = jax.random.uniform(key, (300, 5, 5, 1))
    jitted = jax.jit(data.random_shift, static_argnums=2)(key, images, 1)
    np.testing.assert_array_equal(jitted, data.random_shift(key, images, 1))


# ----------------------------------------------------------------------------- mixup


def _recover(x_mixed, y_mixed):
    """With y = identity (each example its own class): row i is lam e_i + (1 - lam) e_pi(i)."""
    y = np.asarray(y_mixed)
    lam = float(np.diag(y).min())  # diagonal: lam, or 1 where pi(i) = i
    off = y - np.diag(np.diag(y))
    perm = np.where(off.max(axis=1) > 0, off.argmax(axis=1), np.arange(len(y)))
    return lam, perm


def test_mixup_is_a_convex_combination_with_a_permutation(key):
    n = 8
    x = jax.random.normal(jax.random.key(3), (n, 4))
    y = jnp.eye(n)
    xm, ym = data.mixup(key, x, y, alpha=1.0)
    lam, perm = _recover(xm, ym)
    assert 0.0 <= lam <= 1.0
    np.testing.assert_array_equal(np.sort(perm), np.arange(n))
    np.testing.assert_allclose(xm, lam * x + (1 - lam) * x[perm], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(ym).sum(axis=1), 1.0, rtol=1e-6)


def test_mixup_rows_sum_to_one_with_one_hot_labels(key):
    x = jnp.ones((16, 3))
    y = losses.one_hot(jnp.arange(16) % 4, 4)
    xm, ym = data.mixup(key, x, y)
    np.testing.assert_allclose(np.asarray(ym).sum(axis=1), 1.0, rtol=1e-6)
    assert np.all(np.asarray(ym) >= 0)
    np.testing.assert_allclose(xm, x, rtol=1e-6)  # mixing equal inputs changes nothing
    assert xm.dtype == x.dtype and ym.dtype == y.dtype


def test_mixup_lambda_follows_beta_under_jit_vmap_and_traced_alpha(key):
    alpha = 0.2
    keys = jax.random.split(key, 4000)
    x, y = jnp.arange(8.0).reshape(8, 1), jnp.eye(8)
    mix = jax.jit(jax.vmap(lambda k, a: data.mixup(k, x, y, a), in_axes=(0, None)))
    xm, ym = mix(keys, jnp.float32(alpha))
    for b in (0, 1):  # the compiled, vmapped program gives the eager numbers
        eager = data.mixup(keys[b], x, y, alpha)
        np.testing.assert_allclose(xm[b], eager[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ym[b], eager[1], rtol=1e-5, atol=1e-6)
    lam = np.asarray(jnp.min(jnp.diagonal(ym, axis1=1, axis2=2), axis=1))
    assert lam.min() >= 0.0 and lam.max() <= 1.0
    # Beta(a, a): mean 1/2, variance 1 / (4 (2a + 1)) = 0.1786; se over 4000 ~ 0.007, 0.002
    assert abs(lam.mean() - 0.5) < 0.035
    assert abs(lam.var() - 1 / (4 * (2 * alpha + 1))) < 0.012


def test_mixup_same_key_same_bits(key):
    x, y = jnp.arange(12.0).reshape(4, 3), jnp.eye(4)
    first, again = data.mixup(key, x, y, 0.4), data.mixup(key, x, y, 0.4)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    other = data.mixup(jax.random.key(1), x, y, 0.4)
    assert not np.array_equal(first[1], other[1])


# ----------------------------------------------------------------------------- errors


def test_errors(key):
    with pytest.raises(ValueError, match=r"gaussian_noise: `stddev` must be a finite non-negat"):
        data.gaussian_noise(key, jnp.zeros(3), -1.0)
    with pytest.raises(TypeError, match=r"gaussian_noise: `x` must be a floating-point array"):
        data.gaussian_noise(key, jnp.zeros(3, jnp.int32), 1.0)
    with pytest.raises(ValueError, match=r"random_shift: `images` must be a batch of NHWC"):
        data.random_shift(key, jnp.zeros((2, 8, 8)))
    with pytest.raises(ValueError, match=r"`max_shift` must be at least 0, got -1"):
        data.random_shift(key, IMG, -1)
    with pytest.raises(ValueError, match=r"`shifts` must be integers of shape \(batch, 2\)"):
        data.shift_images(IMG, jnp.zeros((1, 2)))
    with pytest.raises(TypeError, match=r"mixup: `y_onehot` must be a floating.*one_hot"):
        data.mixup(key, jnp.zeros((4, 2)), jnp.arange(4))
    with pytest.raises(ValueError, match=r"mixup: `y_onehot` must have shape \(batch, classes\)"):
        data.mixup(key, jnp.zeros((4, 2)), jnp.eye(3))
    with pytest.raises(ValueError, match=r"mixup: `alpha` must be a finite positive number"):
        data.mixup(key, jnp.zeros((4, 2)), jnp.eye(4), 0.0)
    with pytest.raises(TypeError, match="mixup: needs a PRNG key"):
        data.mixup(None, jnp.zeros((4, 2)), jnp.eye(4))
