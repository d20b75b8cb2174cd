"""Synthetic data sets drawn from an explicit PRNG key, as JAX arrays.

Each generator is pure JAX: the same key gives the same data, and with ``n`` static it works
under ``jit`` and ``vmap`` (a different data set per seed in one program). ``X`` is float32
with one row per example; class labels are int32 of shape ``(n,)``, dealt out round-robin
(``y_i = i mod C``) so the classes are balanced and interleaved; regression targets are
float32 of shape ``(n, 1)``, the shape of a one-output model's predictions. ``noise`` is the
standard deviation of additive Gaussian noise and may be traced.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdl.data._checks import check_key, nonnegative_number, positive_int

__all__ = ["function_1d", "gaussian_blobs", "moons", "sine", "spirals"]


def _noise(key: jax.Array, noise: ArrayLike, shape: tuple[int, ...]) -> jax.Array:
    return jnp.asarray(noise, jnp.float32) * jax.random.normal(key, shape, jnp.float32)


def _balanced_labels(n: int, num_classes: int) -> jax.Array:
    return jnp.arange(n, dtype=jnp.int32) % num_classes


def function_1d(fn: Callable[[jax.Array], jax.Array], key: jax.Array, n: int,
                low: float = -1.0, high: float = 1.0,
                noise: ArrayLike = 0.0) -> tuple[jax.Array, jax.Array]:
    """1-D regression data from a function: ``x ~ U(low, high)``, ``y = fn(x) + noise * eps``.

    ``eps ~ N(0, 1)`` independently per example. The inputs are in random (not sorted)
    order; sort them with ``jnp.argsort(X[:, 0])`` to plot a curve.

    Args:
      fn: elementwise function of a float32 array, e.g. ``jnp.sin`` or ``lambda x: x ** 3``.
      key: PRNG key.
      n: number of examples, a Python int.
      low: lower end of the input interval.
      high: upper end, ``> low``.
      noise: standard deviation of the target noise, ``>= 0``.

    Returns:
      ``(X, y)``: float32 arrays of shape ``(n, 1)`` and ``(n, 1)``.
    """
    name = "function_1d"
    if not callable(fn):
        raise TypeError(f"{name}: `fn` must be a function of x, got {fn!r}.")
    return _function_1d(name, fn, key, n, low, high, noise)


def _function_1d(name: str, fn: Callable[[jax.Array], jax.Array], key: Any, n: Any,
                 low: Any, high: Any, noise: Any) -> tuple[jax.Array, jax.Array]:
    key = check_key(name, key)
    n = positive_int(name, "n", n)
    nonnegative_number(name, "noise", noise)
    if isinstance(low, (int, float)) and isinstance(high, (int, float)) and not low < high:
        raise ValueError(f"{name}: needs low < high, got low={low} and high={high}.")
    out = jax.eval_shape(fn, jax.ShapeDtypeStruct((n, 1), jnp.float32))
    if getattr(out, "shape", None) != (n, 1):
        raise ValueError(
            f"{name}: `fn` must act elementwise and return the shape of x {(n, 1)}, got "
            f"{getattr(out, 'shape', out)}."
        )
    return _draw_1d(fn, key, n, low, high, noise)


@partial(jax.jit, static_argnums=(0, 2))
def _draw_1d(fn: Callable[[jax.Array], jax.Array], key: jax.Array, n: int, low: Any,
             high: Any, noise: Any) -> tuple[jax.Array, jax.Array]:
    key_x, key_noise = jax.random.split(key)
    x = jax.random.uniform(key_x, (n, 1), jnp.float32, low, high)
    return x, jnp.asarray(fn(x)).astype(jnp.float32) + _noise(key_noise, noise, (n, 1))


def sine(key: jax.Array, n: int, noise: ArrayLike = 0.0, *, low: float = 0.0,
         high: float = 2 * math.pi) -> tuple[jax.Array, jax.Array]:
    """Noisy sine regression: ``x ~ U(low, high)``, ``y = sin(x) + noise * eps``.

    The default interval is one period, ``[0, 2 pi]``: the textbook curve-fitting problem
    (Bishop's ``sin(2 pi t)`` on ``[0, 1]`` with ``x = 2 pi t``).

    Args:
      key: PRNG key.
      n: number of examples, a Python int.
      noise: standard deviation of the target noise, ``>= 0``.
      low: lower end of the input interval.
      high: upper end.

    Returns:
      ``(X, y)``: float32 arrays of shape ``(n, 1)`` and ``(n, 1)``.

    References:
      Bishop, "Pattern Recognition and Machine Learning", Springer 2006, section 1.1.
    """
    return _function_1d("sine", jnp.sin, key, n, low, high, noise)


def moons(key: jax.Array, n: int, noise: ArrayLike = 0.0) -> tuple[jax.Array, jax.Array]:
    """Two interleaving half circles in 2-D, a classic non-linearly separable problem.

    With ``t ~ U(0, pi)``: class 0 is ``(cos t, sin t)``, class 1 is
    ``(1 - cos t, 1/2 - sin t)``; then Gaussian noise of standard deviation ``noise`` is added
    to both coordinates (the geometry of scikit-learn's ``make_moons``, with random angles).

    Args:
      key: PRNG key.
      n: number of examples, a Python int ``>= 2``.
      noise: noise standard deviation, ``>= 0``.

    Returns:
      ``(X, y)``: float32 ``(n, 2)`` and int32 ``(n,)`` with labels 0, 1 alternating.
    """
    fn = "moons"
    key = check_key(fn, key)
    n = positive_int(fn, "n", n, minimum=2)
    nonnegative_number(fn, "noise", noise)
    return _moons(key, noise, n)


@partial(jax.jit, static_argnums=2)
def _moons(key: jax.Array, noise: Any, n: int) -> tuple[jax.Array, jax.Array]:
    key_t, key_noise = jax.random.split(key)
    t = jax.random.uniform(key_t, (n,), jnp.float32, 0.0, math.pi)
    y = _balanced_labels(n, 2)
    inner = y == 1
    x0 = jnp.where(inner, 1.0 - jnp.cos(t), jnp.cos(t))
    x1 = jnp.where(inner, 0.5 - jnp.sin(t), jnp.sin(t))
    return jnp.stack([x0, x1], axis=1) + _noise(key_noise, noise, (n, 2)), y


def spirals(key: jax.Array, n: int, num_classes: int = 2, noise: ArrayLike = 0.0, *,
            turns: float = 1.0) -> tuple[jax.Array, jax.Array]:
    """Interleaved spiral arms in 2-D, one arm per class.

    For an example of class ``k`` with radius ``r ~ U(0, 1)``: angle
    ``theta = 2 pi (k / C + turns * r)`` and ``x = r (cos theta, sin theta) + noise * eps``.
    The arms are rotated copies of each other, ``2 pi / C`` apart.

    Args:
      key: PRNG key.
      n: number of examples, a Python int ``>= num_classes``.
      num_classes: number of arms ``C >= 2``.
      noise: noise standard deviation, ``>= 0``.
      turns: how many times each arm winds around the origin between radius 0 and 1.

    Returns:
      ``(X, y)``: float32 ``(n, 2)`` and int32 ``(n,)`` with ``y_i = i mod C``.

    References:
      Lang, Witbrock, "Learning to Tell Two Spirals Apart", Connectionist Models Summer
      School 1988.
    """
    fn = "spirals"
    key = check_key(fn, key)
    num_classes = positive_int(fn, "num_classes", num_classes, minimum=2)
    n = positive_int(fn, "n", n, minimum=num_classes)
    nonnegative_number(fn, "noise", noise)
    return _spirals(key, noise, turns, n, num_classes)


@partial(jax.jit, static_argnums=(3, 4))
def _spirals(key: jax.Array, noise: Any, turns: Any, n: int,
             num_classes: int) -> tuple[jax.Array, jax.Array]:
    key_r, key_noise = jax.random.split(key)
    r = jax.random.uniform(key_r, (n,), jnp.float32)
    y = _balanced_labels(n, num_classes)
    theta = 2 * math.pi * (y.astype(jnp.float32) / num_classes + turns * r)
    x = r[:, None] * jnp.stack([jnp.cos(theta), jnp.sin(theta)], axis=1)
    return x + _noise(key_noise, noise, (n, 2)), y


def gaussian_blobs(key: jax.Array, n: int, centers: int | ArrayLike = 3,
                   std: ArrayLike = 1.0, *, num_features: int = 2,
                   center_box: tuple[float, float] = (-10.0, 10.0)
                   ) -> tuple[jax.Array, jax.Array]:
    """Isotropic Gaussian clusters, one per class: ``x = mu_y + std_y * eps``.

    Args:
      key: PRNG key.
      n: number of examples, a Python int ``>=`` the number of centers.
      centers: the cluster centres as a ``(C, features)`` array, or a number ``C`` of
        centres drawn uniformly from ``center_box`` in ``num_features`` dimensions.
      std: standard deviation, a scalar or one per cluster ``(C,)``; may be traced.
      num_features: dimension when ``centers`` is a number.
      center_box: the interval each coordinate of a drawn centre lies in.

    Returns:
      ``(X, y)``: float32 ``(n, features)`` and int32 ``(n,)`` with ``y_i = i mod C``.
    """
    fn = "gaussian_blobs"
    key = check_key(fn, key)
    key_c, key_noise = jax.random.split(key)
    if isinstance(centers, int) and not isinstance(centers, bool):
        c = positive_int(fn, "centers", centers)
        d = positive_int(fn, "num_features", num_features)
        low, high = center_box
        mu = jax.random.uniform(key_c, (c, d), jnp.float32, low, high)
    else:
        mu = jnp.asarray(centers, jnp.float32)
        if mu.ndim != 2 or mu.shape[0] == 0:
            raise ValueError(
                f"{fn}: `centers` must be a number of clusters or a (clusters, features) "
                f"array, got shape {mu.shape}."
            )
    c = mu.shape[0]
    n = positive_int(fn, "n", n, minimum=c)
    s = jnp.asarray(std, jnp.float32)
    if s.shape not in ((), (c,)):
        raise ValueError(f"{fn}: `std` must be a scalar or one per cluster {(c,)}, got {s.shape}.")
    nonnegative_number(fn, "std", std)
    return _blobs(key_noise, mu, s, n)


@partial(jax.jit, static_argnums=3)
def _blobs(key: jax.Array, mu: jax.Array, s: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    y = _balanced_labels(n, mu.shape[0])
    scale = s[y][:, None] if s.ndim else s
    return mu[y] + scale * jax.random.normal(key, (n, mu.shape[1]), jnp.float32), y
