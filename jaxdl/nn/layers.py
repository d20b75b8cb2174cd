"""Layers with parameters or randomness: Dense, Conv, pooling, Dropout, normalisation, Maxout.

Each constructor returns a ``Layer(init, apply)`` (see ``jaxdl.nn.base``). Shapes are checked in
Python, when the model is initialised or traced, so a mistake is reported in the layer's terms
instead of as an XLA error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from jaxdl import init as initializers
from jaxdl.nn.base import Layer, LayerError, check_features

__all__ = [
    "Dense",
    "Conv",
    "MaxPool",
    "AvgPool",
    "Flatten",
    "Identity",
    "Dropout",
    "BatchNorm",
    "LayerNorm",
    "Maxout",
]

Initializer = str | Callable[..., jax.Array]
Padding = str | Sequence[tuple[int, int]]


def _add_bias(y: jax.Array, b: jax.Array) -> jax.Array:
    """``y + b`` over the last axis, without implicit rank promotion."""
    return y + b.reshape((1,) * (y.ndim - 1) + b.shape)


def _check_last_axis(owner: str, x: Any, expected: int, what: str = "features") -> None:
    if jnp.ndim(x) < 2:
        raise LayerError(
            f"{owner}: expected a batch of inputs (batch, ..., {expected}), got shape "
            f"{jnp.shape(x)}. Add a leading batch axis, e.g. x[None]."
        )
    if x.shape[-1] != expected:
        raise LayerError(
            f"{owner}: expected input with {expected} {what} on the last axis, got shape "
            f"{x.shape} (last axis {x.shape[-1]})."
        )


def Dense(
    features: int,
    w_init: Initializer = "lecun_normal",
    b_init: Initializer = "zeros",
    *,
    use_bias: bool = True,
    dtype: Any = jnp.float32,
) -> Layer:
    """A fully connected layer over the last axis: ``y = x @ W + b``.

    Args:
        features: output size.
        w_init: initialiser of ``W`` (shape ``(in, features)``), a function or a name from
            ``jaxdl.init.names()``; LeCun normal by default, as in flax.
        b_init: initialiser of ``b`` (shape ``(features,)``).
        use_bias: add ``b``.
        dtype: parameter dtype.

    Returns:
        A ``Layer`` with params ``{"w", "b"}``.
    """
    check_features("Dense", "features", features)
    w_fn, b_fn = initializers.get(w_init), initializers.get(b_init)

    def init(key, input_shape):
        if len(input_shape) < 1:
            raise LayerError(f"Dense: input_shape must have a feature axis, got {input_shape}")
        k_w, k_b = jax.random.split(key)
        params = {"w": w_fn(k_w, (input_shape[-1], features), dtype)}
        if use_bias:
            params["b"] = b_fn(k_b, (features,), dtype)
        return (*input_shape[:-1], features), params, {}

    def apply(params, state, x, *, key=None, train=False):
        del key, train
        _check_last_axis("Dense", x, params["w"].shape[0])
        y = x @ params["w"]
        return (_add_bias(y, params["b"]) if use_bias else y), state

    return Layer(init, apply, "dense")


def _layout(n: int) -> str:
    return "(" + "spatial, " * n + "channels)"


def _positive_ints(owner: str, argument: str, value: Any) -> None:
    values = (value,) if isinstance(value, int) else tuple(value)
    if not values or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in values):
        raise LayerError(f"{owner}: {argument} must be a positive int or a tuple of them, "
                         f"got {value!r}")


class _Geometry:
    """Window, strides, padding and dilation of a conv or pool, checked at construction and
    expanded to the input's number of spatial axes (an int means the same on every axis)."""

    def __init__(self, owner: str, window, strides, padding, dilation):
        for argument, value in (("kernel_size" if owner == "Conv" else "window_shape", window),
                                ("strides", strides), ("dilation", dilation)):
            if value is not None:
                _positive_ints(owner, argument, value)
        if isinstance(padding, str):
            if padding.upper() not in ("SAME", "VALID"):
                raise LayerError(
                    f"{owner}: padding must be 'SAME', 'VALID' or (low, high) pairs, got "
                    f"{padding!r}")
            padding = padding.upper()
        else:
            padding = tuple(tuple(p) for p in padding)
            if any(len(p) != 2 for p in padding):
                raise LayerError(f"{owner}: padding pairs must be (low, high), got {padding!r}")
        self.owner, self.window, self.strides = owner, window, strides
        self.padding, self.dilation = padding, dilation
        self.n = next((len(v) for v in (window, strides, dilation, padding)
                       if isinstance(v, tuple)), None)

    def resolve(self, input_shape):
        n = len(input_shape) - 1
        if n < 1 or (self.n is not None and n != self.n):
            rank = "spatial axes + 1" if self.n is None else f"{self.n + 1}"
            raise LayerError(
                f"{self.owner}: expected one example of shape {_layout(self.n or 2)} (rank "
                f"{rank}, no batch axis), got input_shape {tuple(input_shape)}.")

        def expand(value):
            return (value,) * n if isinstance(value, int) else tuple(value)

        window = expand(self.window)
        strides = window if self.strides is None else expand(self.strides)
        return window, strides, self.padding, expand(self.dilation)


def _window_output_size(size: int, window: int, stride: int, padding: Any, dilation: int = 1):
    """Output length of a sliding window: SAME ``ceil(n/s)``; else ``(n+lo+hi-d(k-1)-1)//s+1``."""
    if padding == "SAME":
        return -(-size // stride)
    lo, hi = (0, 0) if padding == "VALID" else padding
    return (size + lo + hi - dilation * (window - 1) - 1) // stride + 1


def _spatial_output(owner, spatial, window, strides, pads, dilation=None):
    dilation = dilation or (1,) * len(spatial)
    out = tuple(
        _window_output_size(n, k, s, pads if isinstance(pads, str) else pads[i], d)
        for i, (n, k, s, d) in enumerate(zip(spatial, window, strides, dilation))
    )
    if any(o <= 0 for o in out):
        raise LayerError(
            f"{owner}: window {window} with strides {strides} and padding {pads} does not fit "
            f"input of spatial shape {tuple(spatial)} (output would be {out})."
        )
    return out


def Conv(
    features: int,
    kernel_size: int | Sequence[int],
    strides: int | Sequence[int] = 1,
    padding: Padding = "SAME",
    *,
    dilation: int | Sequence[int] = 1,
    w_init: Initializer = "lecun_normal",
    b_init: Initializer = "zeros",
    use_bias: bool = True,
    dtype: Any = jnp.float32,
) -> Layer:
    """A convolution over channels-last inputs (NHWC for images; NWC, NDHWC work too).

    ``y[n, i, j, o] = sum_{di, dj, c} x[n, s*i + di, s*j + dj, c] * W[di, dj, c, o] + b[o]``
    (cross-correlation, as in every deep-learning library).

    Args:
        features: output channels.
        kernel_size: window size, an int (same for every spatial axis) or one per axis.
        strides: step of the window, an int or one per axis.
        padding: ``"SAME"`` (output size ``ceil(n / stride)``), ``"VALID"`` (no padding) or
            explicit ``(low, high)`` pairs per spatial axis.
        dilation: kernel dilation, an int or one per axis.
        w_init: initialiser of the ``(*kernel_size, in_channels, features)`` kernel; fans
            count the receptive field (``jaxdl.init``).
        b_init: initialiser of ``b`` (shape ``(features,)``).
        use_bias: add ``b``.
        dtype: parameter dtype.

    Returns:
        A ``Layer`` with params ``{"w", "b"}``.
    """
    check_features("Conv", "features", features)
    w_fn, b_fn = initializers.get(w_init), initializers.get(b_init)
    geometry = _Geometry("Conv", kernel_size, strides, padding, dilation)

    def init(key, input_shape):
        window, stride, pads, dil = geometry.resolve(input_shape)
        out = _spatial_output("Conv", input_shape[:-1], window, stride, pads, dil)
        k_w, k_b = jax.random.split(key)
        params = {"w": w_fn(k_w, (*window, input_shape[-1], features), dtype)}
        if use_bias:
            params["b"] = b_fn(k_b, (features,), dtype)
        return (*out, features), params, {}

    def apply(params, state, x, *, key=None, train=False):
        del key, train
        w = params["w"]
        n = w.ndim - 2
        if jnp.ndim(x) != n + 2:
            raise LayerError(
                f"Conv: expected a batch of shape (batch, {_layout(n)[1:]}, got shape "
                f"{jnp.shape(x)}."
            )
        _check_last_axis("Conv", x, w.shape[-2], what="channels")
        window, stride, pads, dil = geometry.resolve(x.shape[1:])
        spec = "N" + "HWDXYZ"[:n] + "C"
        y = lax.conv_general_dilated(
            x, w, stride, pads, rhs_dilation=dil,
            dimension_numbers=(spec, "HWDXYZ"[:n] + "IO", spec),
        )
        return (_add_bias(y, params["b"]) if use_bias else y), state

    return Layer(init, apply, "conv")


def _pool(kind: str, reduce: Callable, window_shape, strides, padding) -> Layer:
    owner = {"max": "MaxPool", "avg": "AvgPool"}[kind]
    geometry = _Geometry(owner, window_shape, strides, padding, 1)

    def init(key, input_shape):
        del key
        window, stride, pads, _ = geometry.resolve(input_shape)
        out = _spatial_output(owner, input_shape[:-1], window, stride, pads)
        return (*out, input_shape[-1]), {}, {}

    def apply(params, state, x, *, key=None, train=False):
        del params, key, train
        if jnp.ndim(x) < 3:
            raise LayerError(f"{owner}: expected a batch of images, got shape {jnp.shape(x)}")
        window, stride, pads, _ = geometry.resolve(x.shape[1:])
        lax_pads = pads if isinstance(pads, str) else ((0, 0), *pads, (0, 0))
        return reduce(x, (1, *window, 1), (1, *stride, 1), lax_pads), state

    return Layer(init, apply, f"{kind}_pool")


def MaxPool(window_shape: int | Sequence[int], strides=None, padding: Padding = "VALID") -> Layer:
    """Max pooling over channels-last inputs: ``y = max`` over each window.

    ``strides`` defaults to ``window_shape`` (non-overlapping windows).
    """

    def reduce(x, window, stride, pads):
        return lax.reduce_window(x, -jnp.inf, lax.max, window, stride, pads)

    return _pool("max", reduce, window_shape, strides, padding)


def AvgPool(
    window_shape: int | Sequence[int],
    strides=None,
    padding: Padding = "VALID",
    *,
    count_include_pad: bool = True,
) -> Layer:
    """Average pooling: ``y = sum(window) / count``.

    ``count`` is the window size (``count_include_pad=True``, flax's default: zero padding
    counts) or the number of real entries in the window (``False``).
    """

    def reduce(x, window, stride, pads):
        total = lax.reduce_window(x, 0.0, lax.add, window, stride, pads)
        if count_include_pad:
            return total / math.prod(window)
        counts = lax.reduce_window(jnp.ones_like(x), 0.0, lax.add, window, stride, pads)
        return total / counts

    return _pool("avg", reduce, window_shape, strides, padding)


def Flatten() -> Layer:
    """Flattens every axis but the batch axis: ``(batch, a, b, c) -> (batch, a*b*c)``."""

    def init(key, input_shape):
        del key
        return (math.prod(input_shape),), {}, {}

    def apply(params, state, x, *, key=None, train=False):
        del params, key, train
        return x.reshape(x.shape[0], -1), state

    return Layer(init, apply, "flatten")


def Identity() -> Layer:
    """Returns its input: ``y = x``."""

    def init(key, input_shape):
        del key
        return tuple(input_shape), {}, {}

    def apply(params, state, x, *, key=None, train=False):
        del params, key, train
        return x, state

    return Layer(init, apply, "identity")


def Dropout(rate: float | jax.Array) -> Layer:
    """Inverted dropout: each unit is dropped with probability ``rate`` during training.

    ``y = x * m / (1 - rate)`` with ``m ~ Bernoulli(1 - rate)``, so ``E[y] = x``; at
    evaluation (``train=False``) ``y = x``. Unlike ``stax.Dropout``, ``rate`` is the DROP
    probability (as in Keras and PyTorch).

    Args:
        rate: drop probability in ``[0, 1)``; a JAX scalar (possibly traced, for sweeps over
            dropout rates) is accepted as given.

    Returns:
        A ``Layer`` that needs ``key`` when ``train=True``.

    References:
        Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from Overfitting",
        JMLR 2014.
    """
    if isinstance(rate, (int, float)) and not (0.0 <= rate < 1.0):
        raise LayerError(f"Dropout: rate is the drop probability and must be in [0, 1), got {rate}")

    def init(key, input_shape):
        del key
        return tuple(input_shape), {}, {}

    def apply(params, state, x, *, key=None, train=False):
        del params
        if not train:
            return x, state
        if key is None:
            raise LayerError(
                "Dropout: train=True needs a PRNG key to draw the dropout mask; pass "
                "apply(..., key=key, train=True), or train=False for evaluation."
            )
        keep = jnp.asarray(1.0 - rate, x.dtype)
        mask = jax.random.bernoulli(key, keep, x.shape)
        return jnp.where(mask, x / keep, jnp.zeros_like(x)), state

    return Layer(init, apply, "dropout")


def _normalise(x, mean, var, eps, params):
    y = (x - mean) * lax.rsqrt(var + eps)
    if "scale" in params:
        y = y * params["scale"].reshape((1,) * (x.ndim - 1) + (-1,))
    if "bias" in params:
        y = _add_bias(y, params["bias"])
    return y


def _scale_and_bias(features, use_scale, use_bias, dtype):
    params = {}
    if use_scale:
        params["scale"] = jnp.ones((features,), dtype)
    if use_bias:
        params["bias"] = jnp.zeros((features,), dtype)
    return params


def BatchNorm(
    momentum: float = 0.99,
    eps: float = 1e-5,
    *,
    use_scale: bool = True,
    use_bias: bool = True,
    dtype: Any = jnp.float32,
) -> Layer:
    """Batch normalisation over every axis but the last (features).

    Training: ``y = gamma * (x - mu_B) / sqrt(var_B + eps) + beta`` with the batch's mean and
    (biased) variance, and running averages ``m <- momentum * m + (1 - momentum) * mu_B``
    (same for the variance) returned as the new state. Evaluation: the running averages
    replace the batch statistics.

    Args:
        momentum: decay of the running averages, in ``[0, 1]`` (Keras/flax convention:
            PyTorch's ``momentum=0.1`` is ``0.9`` here).
        eps: added to the variance.
        use_scale: learn ``gamma`` (``params["scale"]``).
        use_bias: learn ``beta`` (``params["bias"]``).
        dtype: parameter and statistics dtype.

    Returns:
        A ``Layer`` with state ``{"mean", "var"}``.

    References:
        Ioffe and Szegedy, "Batch Normalization: Accelerating Deep Network Training by Reducing
        Internal Covariate Shift", ICML 2015.
    """
    if isinstance(momentum, (int, float)) and not 0.0 <= momentum <= 1.0:
        raise LayerError(f"BatchNorm: momentum must be in [0, 1], got {momentum}")
    if isinstance(eps, (int, float)) and not eps > 0:
        raise LayerError(f"BatchNorm: eps must be > 0, got {eps}")

    def init(key, input_shape):
        del key
        if len(input_shape) < 1:
            raise LayerError(f"BatchNorm: input_shape needs a feature axis, got {input_shape}")
        features = input_shape[-1]
        state = {"mean": jnp.zeros((features,), dtype), "var": jnp.ones((features,), dtype)}
        return tuple(input_shape), _scale_and_bias(features, use_scale, use_bias, dtype), state

    def apply(params, state, x, *, key=None, train=False):
        del key
        _check_last_axis("BatchNorm", x, state["mean"].shape[0])
        axes = tuple(range(x.ndim - 1))
        if train:
            mean = jnp.mean(x, axes, keepdims=True)
            var = jnp.mean(jnp.square(x - mean), axes, keepdims=True)
            m = jnp.asarray(momentum, state["mean"].dtype)
            new_state = {
                "mean": m * state["mean"] + (1 - m) * lax.stop_gradient(mean.reshape(-1)),
                "var": m * state["var"] + (1 - m) * lax.stop_gradient(var.reshape(-1)),
            }
        else:
            shape = (1,) * (x.ndim - 1) + (-1,)
            mean, var = state["mean"].reshape(shape), state["var"].reshape(shape)
            new_state = state
        return _normalise(x, mean, var, eps, params), new_state

    return Layer(init, apply, "batch_norm")


def LayerNorm(
    eps: float = 1e-5, *, use_scale: bool = True, use_bias: bool = True, dtype: Any = jnp.float32
) -> Layer:
    """Layer normalisation over the last axis of each example.

    ``y = gamma * (x - mean(x)) / sqrt(var(x) + eps) + beta``, statistics over the features of
    one example, so training and evaluation behave the same.

    References:
        Ba, Kiros and Hinton, "Layer Normalization", 2016.
    """
    if isinstance(eps, (int, float)) and not eps > 0:
        raise LayerError(f"LayerNorm: eps must be > 0, got {eps}")

    def init(key, input_shape):
        del key
        if len(input_shape) < 1:
            raise LayerError(f"LayerNorm: input_shape needs a feature axis, got {input_shape}")
        return tuple(input_shape), _scale_and_bias(input_shape[-1], use_scale, use_bias, dtype), {}

    def apply(params, state, x, *, key=None, train=False):
        del key, train
        mean = jnp.mean(x, -1, keepdims=True)
        var = jnp.mean(jnp.square(x - mean), -1, keepdims=True)
        return _normalise(x, mean, var, eps, params), state

    return Layer(init, apply, "layer_norm")


def Maxout(
    features: int,
    pieces: int,
    w_init: Initializer = "lecun_normal",
    b_init: Initializer = "zeros",
    *,
    dtype: Any = jnp.float32,
) -> Layer:
    """A maxout unit layer: ``y_j = max_k (x @ W_k + b_k)_j`` over ``pieces`` affine maps.

    Params ``w`` of shape ``(pieces, in, features)``, each piece initialised like a ``Dense``
    kernel, and ``b`` of shape ``(pieces, features)``.

    References:
        Goodfellow et al., "Maxout Networks", ICML 2013.
    """
    check_features("Maxout", "features", features)
    check_features("Maxout", "pieces", pieces)
    w_fn, b_fn = initializers.get(w_init), initializers.get(b_init)

    def init(key, input_shape):
        if len(input_shape) < 1:
            raise LayerError(f"Maxout: input_shape must have a feature axis, got {input_shape}")
        k_w, k_b = jax.random.split(key)
        w = jax.vmap(lambda k: w_fn(k, (input_shape[-1], features), dtype))(
            jax.random.split(k_w, pieces))
        b = jax.vmap(lambda k: b_fn(k, (features,), dtype))(jax.random.split(k_b, pieces))
        return (*input_shape[:-1], features), {"w": w, "b": b}, {}

    def apply(params, state, x, *, key=None, train=False):
        del key, train
        _check_last_axis("Maxout", x, params["w"].shape[1])
        z = jnp.einsum("...i,kio->...ko", x, params["w"])
        z = z + params["b"].reshape((1,) * (x.ndim - 1) + params["b"].shape)
        return jnp.max(z, axis=-2), state

    return Layer(init, apply, "maxout")
