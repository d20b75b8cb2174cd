"""Data augmentation: pure functions of ``(key, batch)``, usable inside ``jit`` and ``vmap``.

Call them in the training step on each batch with a fresh key (``jax.random.fold_in(key,
step)``). The numeric hyperparameters ``stddev`` and ``alpha`` may be traced (a ``vmap``
over a grid is one program); ``max_shift`` is a static Python int. Label smoothing lives with
the losses: ``jaxdl.losses.smooth_labels``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdl.data._checks import check_key, nonnegative_number, positive_int

__all__ = ["gaussian_noise", "mixup", "random_shift", "shift_images"]


def _floating(fn: str, name: str, x: ArrayLike) -> jax.Array:
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(
            f"{fn}: `{name}` must be a floating-point array, got dtype {x.dtype}."
            + (" Integer labels: use jaxdl.losses.one_hot(labels, num_classes) first."
               if name.startswith("y") else " Cast it first, e.g. x.astype(jnp.float32).")
        )
    return x


def _images(fn: str, images: ArrayLike) -> jax.Array:
    x = jnp.asarray(images)
    if x.ndim != 4:
        raise ValueError(
            f"{fn}: `images` must be a batch of NHWC images (batch, height, width, channels), "
            f"got shape {x.shape}. Digits as images: jaxdl.data.digits(images=True)."
        )
    return x


def gaussian_noise(key: jax.Array, x: ArrayLike, stddev: ArrayLike) -> jax.Array:
    """Adds independent Gaussian noise: ``x + stddev * eps``, ``eps ~ N(0, I)``.

    Args:
      key: PRNG key.
      x: floating array of any shape.
      stddev: noise standard deviation, ``>= 0``; may be traced.

    Returns:
      The noisy array, of the shape and dtype of ``x``.

    References:
      Bishop, "Training with Noise is Equivalent to Tikhonov Regularization", Neural
      Computation 1995.
    """
    fn = "gaussian_noise"
    key = check_key(fn, key)
    x = _floating(fn, "x", x)
    nonnegative_number(fn, "stddev", stddev)
    return x + jnp.asarray(stddev, x.dtype) * jax.random.normal(key, x.shape, x.dtype)


def shift_images(images: ArrayLike, shifts: ArrayLike) -> jax.Array:
    """Translates each image by whole pixels, filling with zeros.

    ``out[b, i, j, c] = images[b, i - dy_b, j - dx_b, c]`` when that pixel exists, else 0,
    where ``(dy_b, dx_b) = shifts[b]``: positive ``dy`` moves the content down, positive
    ``dx`` to the right.

    Args:
      images: NHWC array ``(batch, height, width, channels)``.
      shifts: integer array ``(batch, 2)`` of ``(dy, dx)`` per image; may be traced.

    Returns:
      The shifted images, of the shape and dtype of ``images``.
    """
    fn = "shift_images"
    x = _images(fn, images)
    s = jnp.asarray(shifts)
    if not jnp.issubdtype(s.dtype, jnp.integer) or s.shape != (x.shape[0], 2):
        raise ValueError(
            f"{fn}: `shifts` must be integers of shape (batch, 2) = {(x.shape[0], 2)}, one "
            f"(dy, dx) per image, got {s.dtype} of shape {s.shape}."
        )
    return _shift(x, s.astype(jnp.int32))


@jax.jit
def _shift(x: jax.Array, s: jax.Array) -> jax.Array:
    def source(shift: jax.Array, size: int) -> tuple[jax.Array, jax.Array]:
        idx = jnp.arange(size, dtype=jnp.int32)[None, :] - shift[:, None]  # (batch, size)
        return jnp.clip(idx, 0, size - 1), (idx >= 0) & (idx < size)

    rows, row_ok = source(s[:, 0], x.shape[1])
    cols, col_ok = source(s[:, 1], x.shape[2])
    batch = jnp.arange(x.shape[0])[:, None, None]
    out = x[batch, rows[:, :, None], cols[:, None, :]]  # (batch, height, width, channels)
    keep = (row_ok[:, :, None] & col_ok[:, None, :])[..., None]
    return jnp.where(keep, out, jnp.zeros((), x.dtype))


def random_shift(key: jax.Array, images: ArrayLike, max_shift: int = 1) -> jax.Array:
    """Shifts each image by a random whole-pixel translation, with zero fill.

    ``dy_b, dx_b ~ Uniform{-max_shift, ..., max_shift}`` independently per image and
    direction, then ``shift_images(images, (dy, dx))``. A cheap translation augmentation for
    small images such as the 8x8 digits.

    Args:
      key: PRNG key.
      images: NHWC array ``(batch, height, width, channels)``.
      max_shift: largest shift in pixels, a Python int ``>= 0``.

    Returns:
      The shifted images, of the shape and dtype of ``images``.

    References:
      Simard, Steinkraus, Platt, "Best Practices for Convolutional Neural Networks Applied to
      Visual Document Analysis", ICDAR 2003.
    """
    fn = "random_shift"
    key = check_key(fn, key)
    x = _images(fn, images)
    m = positive_int(fn, "max_shift", max_shift, minimum=0)
    shifts = jax.random.randint(key, (x.shape[0], 2), -m, m + 1, dtype=jnp.int32)
    return shift_images(x, shifts)


@jax.jit
def _symmetric_beta(key: jax.Array, alpha: jax.Array) -> jax.Array:
    """One ``Beta(alpha, alpha)`` draw, jitted apart: its slow-to-compile sampler then
    compiles once for every batch shape."""
    return jax.random.beta(key, alpha, alpha)


def mixup(key: jax.Array, x: ArrayLike, y_onehot: ArrayLike,
          alpha: ArrayLike = 0.2) -> tuple[jax.Array, jax.Array]:
    """mixup: trains on convex combinations of pairs of examples and of their labels.

    ``lam ~ Beta(alpha, alpha)`` (one per batch, as in the paper's code) and a random
    permutation ``pi`` of the batch; then
    ``x~_i = lam x_i + (1 - lam) x_pi(i)`` and ``y~_i = lam y_i + (1 - lam) y_pi(i)``.
    Rows of ``y~`` sum to 1 when the rows of ``y`` do. Small ``alpha`` keeps ``lam`` near 0
    or 1 (little mixing); ``alpha = 1`` draws it uniformly. Train with a cross-entropy that
    takes probability labels (``jaxdl.losses.softmax_cross_entropy``).

    Args:
      key: PRNG key.
      x: floating inputs with a leading batch axis.
      y_onehot: floating one-hot (or probability) labels ``(batch, classes)``.
      alpha: Beta concentration, ``> 0``; may be traced.

    Returns:
      ``(x_mixed, y_mixed)`` of the shapes and dtypes of ``x`` and ``y_onehot``.

    References:
      Zhang, Cisse, Dauphin, Lopez-Paz, "mixup: Beyond Empirical Risk Minimization",
      ICLR 2018.
    """
    fn = "mixup"
    key = check_key(fn, key)
    x = _floating(fn, "x", x)
    y = _floating(fn, "y_onehot", y_onehot)
    if x.ndim == 0 or y.ndim != 2 or y.shape[0] != x.shape[0]:
        raise ValueError(
            f"{fn}: `y_onehot` must have shape (batch, classes) with the batch of `x` "
            f"({x.shape[0] if x.ndim else '?'}), got x {x.shape} and y_onehot {y.shape}."
        )
    nonnegative_number(fn, "alpha", alpha, strict=True)
    key_lam, key_perm = jax.random.split(key)
    lam = _symmetric_beta(key_lam, jnp.asarray(alpha, jnp.float32))
    perm = jax.random.permutation(key_perm, x.shape[0])

    def mix(a: jax.Array) -> jax.Array:
        w = lam.astype(a.dtype)
        return w * a + (1 - w) * a[perm]

    return mix(x), mix(y)
