"""Activation functions: plain, elementwise (or per-axis) pure functions of arrays.

Each one equals ``jax.nn``'s function of the same name (the test oracle) and is written from its
formula in a numerically stable form: no overflow, NaN or infinite gradient at ``x = +-1e4``.
Hyperparameters (``negative_slope``, ``alpha``) may be traced, so ``vmap`` over them works.
Integer inputs to the smooth activations are converted to the default float dtype first.
"""

from __future__ import annotations

import math
import operator

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = [
    "identity",
    "linear",
    "sigmoid",
    "tanh",
    "relu",
    "relu6",
    "leaky_relu",
    "hard_tanh",
    "elu",
    "selu",
    "gelu",
    "silu",
    "swish",
    "softplus",
    "softmax",
    "log_softmax",
    "maxout",
]

# Fixed point of SELU, Klambauer et al. (2017), eq. (14): the mean-0, variance-1 attractor.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _floating(x: ArrayLike) -> jax.Array:
    """``x`` as an array; integer and boolean inputs become the default float dtype."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.result_type(float))
    return x


def _param(value: ArrayLike, x: jax.Array) -> ArrayLike:
    """A hyperparameter in ``x``'s dtype (Python numbers stay weakly typed, as they are)."""
    if isinstance(value, (int, float)):
        return value
    return jnp.asarray(value, dtype=x.dtype)


def _normalize_axis(fn: str, x: jax.Array, axis: int) -> int:
    """``axis`` as a non-negative index into ``x.shape``, or a ValueError naming ``fn``."""
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"{fn}: axis must be an int, got {axis!r}") from None
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(
            f"{fn}: axis={axis} is out of range for an input of shape {x.shape} "
            f"(rank {x.ndim}); expected -{x.ndim} <= axis < {x.ndim}"
        )
    return axis % x.ndim


def identity(x: ArrayLike) -> jax.Array:
    """The identity (linear) activation.

    ``f(x) = x``.

    Args:
        x: input array.

    Returns:
        ``x`` as an array, unchanged.
    """
    return jnp.asarray(x)


linear = identity


def sigmoid(x: ArrayLike) -> jax.Array:
    """The logistic sigmoid, computed without overflow.

    ``sigmoid(x) = 1 / (1 + exp(-x))``, evaluated as ``1 / (1 + e)`` for ``x >= 0`` and
    ``e / (1 + e)`` for ``x < 0`` with ``e = exp(-|x|) <= 1``, so neither the value nor the
    gradient ``sigmoid(x) (1 - sigmoid(x))`` overflows for large ``|x|``.

    Args:
        x: input array.

    Returns:
        ``sigmoid(x)``, elementwise, in ``(0, 1)`` (``0`` and ``1`` after rounding).
    """
    x = _floating(x)
    positive = x >= 0
    e = jnp.exp(jnp.where(positive, -x, x))  # exp(-|x|) <= 1: no overflow
    return jnp.where(positive, 1 / (1 + e), e / (1 + e))


def tanh(x: ArrayLike) -> jax.Array:
    """The hyperbolic tangent.

    ``tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x)) = 2 sigmoid(2x) - 1``.

    Args:
        x: input array.

    Returns:
        ``tanh(x)``, elementwise, in ``(-1, 1)``.
    """
    return jnp.tanh(_floating(x))


def relu(x: ArrayLike) -> jax.Array:
    """The rectified linear unit.

    ``relu(x) = max(x, 0)``, with derivative ``0`` at ``x = 0`` (as ``jax.nn.relu``).

    Args:
        x: input array.

    Returns:
        ``relu(x)``, elementwise, in ``x``'s dtype.

    References:
        Nair & Hinton, "Rectified Linear Units Improve Restricted Boltzmann Machines", 2010.
    """
    x = jnp.asarray(x)
    return jnp.where(x > 0, x, jnp.zeros_like(x))


def relu6(x: ArrayLike) -> jax.Array:
    """ReLU capped at 6.

    ``relu6(x) = min(max(x, 0), 6)``, with derivative ``1`` on ``(0, 6)`` and ``0`` elsewhere,
    including both kinks (as ``jax.nn.relu6``).

    Args:
        x: input array.

    Returns:
        ``relu6(x)``, elementwise, in ``[0, 6]``.

    References:
        Krizhevsky, "Convolutional Deep Belief Networks on CIFAR-10", 2010.
    """
    x = jnp.asarray(x)
    capped = jnp.where(x < 6, x, jnp.full_like(x, 6))
    return jnp.where(x > 0, capped, jnp.zeros_like(x))


def leaky_relu(x: ArrayLike, negative_slope: ArrayLike = 0.01) -> jax.Array:
    """The leaky rectified linear unit.

    ``leaky_relu(x) = x`` for ``x >= 0``, ``negative_slope * x`` otherwise.

    Args:
        x: input array.
        negative_slope: slope for negative inputs (may be traced).

    Returns:
        ``leaky_relu(x)``, elementwise.

    References:
        Maas, Hannun & Ng, "Rectifier Nonlinearities Improve Neural Network Acoustic Models",
        2013.
    """
    x = _floating(x)
    return jnp.where(x >= 0, x, _param(negative_slope, x) * x)


def hard_tanh(x: ArrayLike) -> jax.Array:
    """The hard hyperbolic tangent, a piecewise-linear ``tanh``.

    ``hard_tanh(x) = -1`` for ``x < -1``, ``x`` for ``-1 <= x <= 1``, ``1`` for ``x > 1``;
    derivative ``1`` on ``[-1, 1]`` (kinks included, as ``jax.nn.hard_tanh``), ``0`` outside.

    Args:
        x: input array.

    Returns:
        ``hard_tanh(x)``, elementwise, in ``[-1, 1]``.
    """
    x = jnp.asarray(x)
    low = jnp.where(x < -1, jnp.full_like(x, -1), x)
    return jnp.where(x > 1, jnp.ones_like(x), low)


def elu(x: ArrayLike, alpha: ArrayLike = 1.0) -> jax.Array:
    """The exponential linear unit.

    ``elu(x) = x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise, so ``elu(-inf) = -alpha``.
    The exponential is only evaluated on non-positive values (no overflow, finite gradients).

    Args:
        x: input array.
        alpha: saturation value for large negative inputs (may be traced).

    Returns:
        ``elu(x)``, elementwise.

    References:
        Clevert, Unterthiner & Hochreiter, "Fast and Accurate Deep Network Learning by
        Exponential Linear Units (ELUs)", 2016.
    """
    x = _floating(x)
    positive = x > 0
    safe = jnp.where(positive, jnp.zeros_like(x), x)
    return jnp.where(positive, x, _param(alpha, x) * jnp.expm1(safe))


def selu(x: ArrayLike) -> jax.Array:
    """The scaled exponential linear unit.

    ``selu(x) = lambda * elu(x, alpha)`` with ``alpha = 1.6732632423543772`` and
    ``lambda = 1.0507009873554805``, the constants that make mean 0, variance 1 a fixed point.

    Args:
        x: input array.

    Returns:
        ``selu(x)``, elementwise.

    References:
        Klambauer, Unterthiner, Mayr & Hochreiter, "Self-Normalizing Neural Networks", 2017.
    """
    return _SELU_SCALE * elu(x, _SELU_ALPHA)


def gelu(x: ArrayLike, approximate: bool = True) -> jax.Array:
    """The Gaussian error linear unit.

    Exact: ``gelu(x) = x * Phi(x) = x/2 * (1 + erf(x / sqrt(2))) = x/2 * erfc(-x / sqrt(2))``,
    evaluated with ``erfc`` (accurate in the left tail, where ``1 + erf`` cancels). Approximate
    (the default, as ``jax.nn.gelu``): ``x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))``.

    Args:
        x: input array.
        approximate: use the tanh approximation (a Python bool, chosen at trace time).

    Returns:
        ``gelu(x)``, elementwise.

    References:
        Hendrycks & Gimpel, "Gaussian Error Linear Units (GELUs)", 2016.
    """
    x = _floating(x)
    if approximate:
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * (x * x * x))
        return 0.5 * x * (1 + jnp.tanh(inner))
    return 0.5 * x * jax.lax.erfc(x * (-1 / math.sqrt(2)))


def silu(x: ArrayLike) -> jax.Array:
    """The sigmoid linear unit, also called swish.

    ``silu(x) = x * sigmoid(x)``.

    Args:
        x: input array.

    Returns:
        ``silu(x)``, elementwise.

    References:
        Elfwing, Uchibe & Doya, "Sigmoid-Weighted Linear Units for Neural Network Function
        Approximation in Reinforcement Learning", 2018; Ramachandran, Zoph & Le, "Searching for
        Activation Functions", 2017.
    """
    x = _floating(x)
    return x * sigmoid(x)


swish = silu


def softplus(x: ArrayLike) -> jax.Array:
    """The softplus, a smooth ReLU, computed without overflow.

    ``softplus(x) = log(1 + exp(x)) = logaddexp(x, 0) = max(x, 0) + log1p(exp(-|x|))``; its
    derivative is ``sigmoid(x)``.

    Args:
        x: input array.

    Returns:
        ``softplus(x)``, elementwise, ``> 0``.

    References:
        Dugas, Bengio, Belisle, Nadeau & Garcia, "Incorporating Second-Order Functional
        Knowledge for Better Option Pricing", 2001.
    """
    return jnp.logaddexp(_floating(x), 0.0)


def _shifted(x: ArrayLike, axis: int | tuple[int, ...]) -> jax.Array:
    """``x - max(x, axis)``: the shift that keeps ``exp`` from overflowing (no gradient)."""
    x = _floating(x)
    return x - jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))


def softmax(x: ArrayLike, axis: int | tuple[int, ...] = -1) -> jax.Array:
    """The softmax along ``axis``, computed without overflow.

    ``softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m)`` with ``m = max_j x_j``; the result is
    unchanged by the shift, which only keeps ``exp`` from overflowing.

    Args:
        x: input array.
        axis: the axis (or axes) to normalise over.

    Returns:
        Non-negative values of ``x``'s shape that sum to 1 along ``axis``.
    """
    unnormalized = jnp.exp(_shifted(x, axis))
    return unnormalized / jnp.sum(unnormalized, axis=axis, keepdims=True)


def log_softmax(x: ArrayLike, axis: int | tuple[int, ...] = -1) -> jax.Array:
    """The log of the softmax along ``axis``, computed without overflow.

    ``log_softmax(x)_i = (x_i - m) - log(sum_j exp(x_j - m))`` with ``m = max_j x_j``.

    Args:
        x: input array.
        axis: the axis (or axes) to normalise over.

    Returns:
        Values of ``x``'s shape whose ``exp`` sums to 1 along ``axis``.
    """
    shifted = _shifted(x, axis)
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))


def maxout(x: ArrayLike, pieces: int, axis: int = -1) -> jax.Array:
    """Maxout: the maximum over groups of ``pieces`` consecutive entries along ``axis``.

    Layout: an axis of size ``features * pieces`` is read as ``(features, pieces)``, so output
    unit ``j`` is ``max(x[j*pieces], ..., x[j*pieces + pieces - 1])``:
    ``maxout(x)_j = max_{k < pieces} x_{j * pieces + k}``. For ``axis=-1`` this is
    ``x.reshape(..., features, pieces).max(-1)``.

    Args:
        x: input array.
        pieces: the number of linear pieces per output unit, a positive Python int.
        axis: the axis to group; its size must be divisible by ``pieces``.

    Returns:
        The array of ``x``'s shape with ``axis`` shrunk to ``size // pieces``.

    Raises:
        ValueError: when ``pieces`` is not a positive int or does not divide the axis size.

    References:
        Goodfellow, Warde-Farley, Mirza, Courville & Bengio, "Maxout Networks", 2013.
    """
    x = jnp.asarray(x)
    if isinstance(pieces, bool) or not isinstance(pieces, int) or pieces < 1:
        raise ValueError(f"maxout: pieces must be a positive int, got {pieces!r}")
    axis = _normalize_axis("maxout", x, axis)
    size = x.shape[axis]
    if size % pieces:
        raise ValueError(
            f"maxout: the size of axis {axis} of an input of shape {x.shape} is {size}, which "
            f"is not divisible by pieces={pieces}; expected a multiple of {pieces}"
        )
    grouped = x.reshape(x.shape[:axis] + (size // pieces, pieces) + x.shape[axis + 1 :])
    return jnp.max(grouped, axis=axis + 1)
