"""Weight initialisers in the ``jax.nn.initializers`` convention, and a by-name registry.

An initialiser is a pure function ``init(key, shape, dtype=jnp.float32) -> array``. ``zeros`` and
``ones`` are initialisers; every other public name is a factory that closes over hyperparameters
and returns one: ``he_normal()(key, (784, 256))`` draws a dense kernel. Hyperparameters
(``scale``, ``stddev``) may be traced, so a grid of scales is one ``vmap``. ``get(name)`` turns
a name such as ``"xavier_uniform"`` into an initialiser, for sweeps; ``register`` adds your own.

Fans follow the kernel layout ``(*receptive_field, in, out)`` (dense ``(in, out)``, conv
``HWIO``): ``fan_in = in * receptive_field_size``, ``fan_out = out * receptive_field_size``.
Aliases: ``xavier_* = glorot_*``, ``kaiming_* = he_*``.

Warning:
    Differences from ``jax.nn.initializers``: ``uniform(scale)`` is symmetric on
    ``[-scale, scale)`` (jax: ``[0, scale)``); ``orthogonal`` also takes float16 and bfloat16
    (drawn in float32, then cast; jax raises); fans are never computed for rank < 2; only real
    floating dtypes are drawn (jax also draws complex). As in jax and Keras, but not PyTorch,
    ``*_normal`` schemes draw a truncated normal rescaled to the stated variance.
"""

from __future__ import annotations

import difflib
import math
import operator
from collections.abc import Callable, Sequence
from typing import Protocol

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike, DTypeLike

__all__ = [
    "Initializer",
    "UnknownInitializerError",
    "zeros",
    "ones",
    "constant",
    "normal",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "glorot_normal",
    "glorot_uniform",
    "xavier_normal",
    "xavier_uniform",
    "he_normal",
    "he_uniform",
    "kaiming_normal",
    "kaiming_uniform",
    "lecun_normal",
    "lecun_uniform",
    "orthogonal",
    "get",
    "names",
    "register",
]

Shape = Sequence[int]
Axes = int | Sequence[int]
Draw = Callable[[jax.Array, tuple[int, ...], np.dtype], jax.Array]

MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
DISTS = ("normal", "truncated_normal", "uniform")

# Standard deviation of a standard normal truncated to [-2, 2] (= 0.87962566103423978):
# sqrt(1 - 2 * 2 phi(2) / (Phi(2) - Phi(-2))), phi the density, Phi the CDF.
TRUNCATED_NORMAL_STD = math.sqrt(
    1 - 4 * math.exp(-2) / math.sqrt(2 * math.pi) / math.erf(2 / math.sqrt(2))
)


class Initializer(Protocol):
    """The initialiser contract: ``(key, shape, dtype=jnp.float32) -> array``."""

    def __call__(
        self, key: jax.Array, shape: Shape, dtype: DTypeLike = jnp.float32
    ) -> jax.Array: ...


class UnknownInitializerError(ValueError, KeyError):
    """``get`` was given a name nobody registered (catchable as ValueError or KeyError)."""

    __str__ = Exception.__str__  # KeyError would quote the whole message


# ----------------------------------------------------------------------------- validation


def _ints(fn: str, name: str, value: int | Sequence[int]) -> tuple[int, ...]:
    """An int or a sequence of ints as a tuple, or a TypeError naming ``fn`` and ``name``."""
    try:
        if np.ndim(value) == 0:
            return (operator.index(value),)
        return tuple(map(operator.index, value))
    except TypeError:
        raise TypeError(f"{fn}: {name} must be an int or a tuple of ints, got {value!r}") from None


def _shape(fn: str, shape: Shape | int) -> tuple[int, ...]:
    dims = _ints(fn, "shape", shape)
    if any(d <= 0 for d in dims):
        raise ValueError(f"{fn}: every dimension of shape must be positive, got {dims}")
    return dims


def _dtype(fn: str, dtype: DTypeLike | None, floating: bool = True) -> np.dtype:
    """``dtype`` as a numpy dtype (``None`` means float32); random draws need a real float."""
    dtype = jnp.dtype(jnp.float32 if dtype is None else dtype)
    if floating and not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"{fn}: dtype must be a real floating dtype, got {dtype}")
    return dtype


def _check_key(fn: str, key: jax.Array) -> None:
    """One PRNG key: typed (``jax.random.key``) or legacy (``jax.random.PRNGKey``)."""
    dtype, shape = getattr(key, "dtype", None), getattr(key, "shape", None)
    typed = dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key) and shape == ()
    if not (typed or (dtype == jnp.uint32 and shape == (2,))):
        given = f"{dtype}{list(shape)}" if dtype is not None else repr(key)
        raise TypeError(
            f"{fn}: key must be one PRNG key such as jax.random.key(0), got {given}; "
            "to draw several, jax.vmap the initialiser over a batch of keys"
        )


def _check_nonnegative(fn: str, name: str, value: ArrayLike) -> None:
    """Rejects a negative or non-finite concrete value; a traced value cannot be checked."""
    try:
        concrete = np.asarray(value, dtype=np.float64)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: {name} must be a real number, got {value!r}") from None
    if not np.all(np.isfinite(concrete) & (concrete >= 0)):
        raise ValueError(f"{fn}: {name} must be finite and >= 0, got {value!r}")


def _axes(fn: str, name: str, axes: Axes, rank: int) -> tuple[int, ...]:
    """``axes`` normalised into ``range(rank)``, or a ValueError."""
    axes = _ints(fn, name, axes)
    if any(not -rank <= a < rank for a in axes):
        raise ValueError(f"{fn}: {name}={axes} is out of range for a shape of rank {rank}")
    return tuple(a % rank for a in axes)


def _require_matrix(fn: str, shape: tuple[int, ...]) -> None:
    if len(shape) < 2:
        raise ValueError(
            f"{fn}: needs a weight shape of rank >= 2, e.g. (in, out) for a dense kernel or "
            f"(h, w, in, out) for a conv kernel, got shape {shape} of rank {len(shape)}"
        )


def _fans(fn: str, shape: tuple[int, ...], axes: tuple[Axes, Axes, Axes]) -> tuple[int, int]:
    """``(fan_in, fan_out) = (in, out) * receptive_field_size`` for ``shape``."""
    _require_matrix(fn, shape)
    labels = ("in_axis", "out_axis", "batch_axis")
    ins, outs, batch = (_axes(fn, n, a, len(shape)) for n, a in zip(labels, axes, strict=True))
    if len(set(ins + outs + batch)) != len(ins + outs + batch):
        given = ", ".join(f"{n}={a}" for n, a in zip(labels, axes, strict=True))
        raise ValueError(f"{fn}: {given} must name distinct axes of shape {shape}")
    in_size, out_size = math.prod(shape[a] for a in ins), math.prod(shape[a] for a in outs)
    receptive = math.prod(shape) // (in_size * out_size * math.prod(shape[a] for a in batch))
    return in_size * receptive, out_size * receptive


def _initializer(fn: str, draw: Draw, dtype: DTypeLike) -> Initializer:
    """Wraps ``draw(key, shape, dtype)`` with the checks every random initialiser makes."""
    default = _dtype(fn, dtype)

    def init(key: jax.Array, shape: Shape, dtype: DTypeLike = default) -> jax.Array:
        _check_key(fn, key)
        return draw(key, _shape(fn, shape), _dtype(fn, dtype))

    init.__name__ = init.__qualname__ = fn
    init.__doc__ = f"The ``{fn}`` initialiser: ``(key, shape, dtype) -> array``."
    return init


# ----------------------------------------------------------------------------- constants


def zeros(key: jax.Array | None, shape: Shape, dtype: DTypeLike = jnp.float32) -> jax.Array:
    """All zeros, ``w = 0``: fine for biases; for weights it never breaks the units' symmetry.

    Args:
        key: ignored (kept for the initialiser signature).
        shape: the shape to fill.
        dtype: any dtype.

    Returns:
        An array of zeros.
    """
    del key
    return jnp.zeros(_shape("zeros", shape), _dtype("zeros", dtype, floating=False))


def ones(key: jax.Array | None, shape: Shape, dtype: DTypeLike = jnp.float32) -> jax.Array:
    """All ones, ``w = 1`` (e.g. a normalisation layer's scale).

    Args:
        key: ignored (kept for the initialiser signature).
        shape: the shape to fill.
        dtype: any dtype.

    Returns:
        An array of ones.
    """
    del key
    return jnp.ones(_shape("ones", shape), _dtype("ones", dtype, floating=False))


def constant(value: ArrayLike, dtype: DTypeLike = jnp.float32) -> Initializer:
    """An initialiser that fills with ``value``: ``w = value``.

    Args:
        value: a scalar, or an array broadcastable to the requested shape (may be traced).
        dtype: the default dtype of the returned initialiser (any dtype).

    Returns:
        ``init(key, shape, dtype)``; ``key`` is ignored.
    """
    default = _dtype("constant", dtype, floating=False)

    def init(key: jax.Array | None, shape: Shape, dtype: DTypeLike = default) -> jax.Array:
        del key
        return jnp.full(_shape("constant", shape), value, _dtype("constant", dtype, False))

    return init


# ----------------------------------------------------------------------------- distributions


def normal(stddev: ArrayLike = 1e-2, dtype: DTypeLike = jnp.float32) -> Initializer:
    """Gaussian weights: ``w ~ N(0, stddev^2)``.

    Args:
        stddev: the standard deviation, ``>= 0`` (may be traced).
        dtype: the default dtype of the returned initialiser.

    Returns:
        ``init(key, shape, dtype)``.
    """
    _check_nonnegative("normal", "stddev", stddev)

    def draw(key: jax.Array, shape: tuple[int, ...], dtype: np.dtype) -> jax.Array:
        return jax.random.normal(key, shape, dtype) * jnp.asarray(stddev, dtype)

    return _initializer("normal", draw, dtype)


def truncated_normal(
    stddev: ArrayLike = 1e-2,
    dtype: DTypeLike = jnp.float32,
    lower: ArrayLike = -2.0,
    upper: ArrayLike = 2.0,
) -> Initializer:
    """Truncated normal: ``w = stddev * z``, ``z ~ N(0, 1)`` given ``lower <= z <= upper``.

    As in ``jax.nn.initializers.truncated_normal``, ``stddev`` scales the *untruncated* normal:
    ``w`` lies in ``[lower * stddev, upper * stddev]`` and its standard deviation is less than
    ``stddev`` (``0.8796 * stddev`` for the default bounds). ``variance_scaling`` corrects
    for this; this function does not.

    Args:
        stddev: the scale, ``>= 0`` (may be traced).
        dtype: the default dtype of the returned initialiser.
        lower: lower bound of ``z``, in standard deviations.
        upper: upper bound of ``z``, in standard deviations, ``> lower``.

    Returns:
        ``init(key, shape, dtype)``.
    """
    _check_nonnegative("truncated_normal", "stddev", stddev)
    if isinstance(lower, (int, float)) and isinstance(upper, (int, float)) and lower >= upper:
        raise ValueError(f"truncated_normal: need lower < upper, got {lower} and {upper}")

    def draw(key: jax.Array, shape: tuple[int, ...], dtype: np.dtype) -> jax.Array:
        z = jax.random.truncated_normal(key, lower, upper, shape, dtype)
        return z * jnp.asarray(stddev, dtype)

    return _initializer("truncated_normal", draw, dtype)


def uniform(scale: ArrayLike = 1e-2, dtype: DTypeLike = jnp.float32) -> Initializer:
    """Symmetric uniform weights: ``w ~ U[-scale, scale)``, variance ``scale^2 / 3``.

    Warning:
        ``jax.nn.initializers.uniform(scale)`` draws from ``[0, scale)``; this one is centred,
        as weights should be.

    Args:
        scale: the half-width, ``>= 0`` (may be traced).
        dtype: the default dtype of the returned initialiser.

    Returns:
        ``init(key, shape, dtype)``.
    """
    _check_nonnegative("uniform", "scale", scale)

    def draw(key: jax.Array, shape: tuple[int, ...], dtype: np.dtype) -> jax.Array:
        # |u| <= 1, so rounding keeps |u * scale| <= scale.
        return jax.random.uniform(key, shape, dtype, -1.0, 1.0) * jnp.asarray(scale, dtype)

    return _initializer("uniform", draw, dtype)


def _variance_scaling(
    fn: str, scale: ArrayLike, mode: str, distribution: str, axes: tuple, dtype: DTypeLike
) -> Initializer:
    """``variance_scaling``, with errors naming ``fn``."""
    _check_nonnegative(fn, "scale", scale)
    for name, value, allowed in [("mode", mode, MODES), ("distribution", distribution, DISTS)]:
        if value not in allowed:
            raise ValueError(f"{fn}: {name} must be one of {', '.join(allowed)}; got {value!r}")
    for name, axis in zip(("in_axis", "out_axis", "batch_axis"), axes, strict=True):
        _ints(fn, name, axis)

    def draw(key: jax.Array, shape: tuple[int, ...], dtype: np.dtype) -> jax.Array:
        fan_in, fan_out = _fans(fn, shape, axes)
        fan = {
            "fan_in": fan_in,
            "fan_out": fan_out,
            "fan_avg": (fan_in + fan_out) / 2,
            "fan_geo_avg": math.sqrt(fan_in * fan_out),
        }[mode]
        std = jnp.sqrt(scale / fan)
        if distribution == "normal":
            z = jax.random.normal(key, shape, dtype)
        elif distribution == "truncated_normal":
            z = jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype)
            std = std / TRUNCATED_NORMAL_STD
        else:  # U(-1, 1) has variance 1/3
            z = jax.random.uniform(key, shape, dtype, -1.0, 1.0)
            std = std * math.sqrt(3)
        return z * jnp.asarray(std, dtype)

    return _initializer(fn, draw, dtype)


def variance_scaling(
    scale: ArrayLike,
    mode: str,
    distribution: str,
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike = jnp.float32,
) -> Initializer:
    """Weights of variance ``scale / n``: the family behind Glorot, He and LeCun.

    ``Var[w] = scale / n`` with ``n = fan_in``, ``fan_out``, ``(fan_in + fan_out) / 2`` or
    ``sqrt(fan_in * fan_out)`` for mode ``"fan_in"``, ``"fan_out"``, ``"fan_avg"``,
    ``"fan_geo_avg"``; ``fan_in = in * r``, ``fan_out = out * r``, where ``in`` (``out``) is the
    product of the ``in_axis`` (``out_axis``) sizes and ``r = prod(shape) / (in * out * batch)``
    the receptive field size. ``"normal"``: ``w ~ N(0, scale / n)``; ``"truncated_normal"``:
    ``w = sqrt(scale / n) / 0.87962566 * z``, ``z ~ N(0, 1)`` truncated to ``[-2, 2]``, whose
    standard deviation is 0.87962566, so the variance is exact; ``"uniform"``:
    ``w ~ U[-b, b)``, ``b = sqrt(3 scale / n)``. The same variances as ``jax.nn.initializers``.

    Args:
        scale: the variance multiplier, ``>= 0`` (may be traced).
        mode: one of ``"fan_in"``, ``"fan_out"``, ``"fan_avg"``, ``"fan_geo_avg"``.
        distribution: one of ``"normal"``, ``"truncated_normal"``, ``"uniform"``.
        in_axis: axis or axes holding the inputs.
        out_axis: axis or axes holding the outputs.
        batch_axis: axes left out of the fans (e.g. a stack of independent kernels).
        dtype: the default dtype of the returned initialiser.

    Returns:
        ``init(key, shape, dtype)``; it raises a ValueError for shapes of rank < 2.
    """
    axes = (in_axis, out_axis, batch_axis)
    return _variance_scaling("variance_scaling", scale, mode, distribution, axes, dtype)


def glorot_normal(
    in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (), dtype: DTypeLike = jnp.float32
) -> Initializer:
    """Glorot (Xavier) normal: ``Var[w] = 2 / (fan_in + fan_out)``, a truncated normal.

    Keeps activation and gradient variances roughly constant through tanh layers.
    ``variance_scaling(1, "fan_avg", "truncated_normal")`` as in jax and Keras (PyTorch's
    ``xavier_normal_`` does not truncate).

    Args:
        in_axis, out_axis, batch_axis, dtype: as in ``variance_scaling``.

    Returns:
        ``init(key, shape, dtype)``.

    References:
        Glorot & Bengio, "Understanding the difficulty of training deep feedforward neural
        networks", 2010.
    """
    axes = (in_axis, out_axis, batch_axis)
    return _variance_scaling("glorot_normal", 1.0, "fan_avg", "truncated_normal", axes, dtype)


def glorot_uniform(
    in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (), dtype: DTypeLike = jnp.float32
) -> Initializer:
    """Glorot (Xavier) uniform: ``w ~ U[-b, b)``, ``b = sqrt(6 / (fan_in + fan_out))``.

    Variance ``b^2 / 3 = 2 / (fan_in + fan_out)``; ``variance_scaling(1, "fan_avg", "uniform")``.

    Args:
        in_axis, out_axis, batch_axis, dtype: as in ``variance_scaling``.

    Returns:
        ``init(key, shape, dtype)``.

    References:
        Glorot & Bengio, "Understanding the difficulty of training deep feedforward neural
        networks", 2010.
    """
    axes = (in_axis, out_axis, batch_axis)
    return _variance_scaling("glorot_uniform", 1.0, "fan_avg", "uniform", axes, dtype)


def he_normal(
    in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (), dtype: DTypeLike = jnp.float32
) -> Initializer:
    """He (Kaiming) normal: ``Var[w] = 2 / fan_in``, a truncated normal.

    The 2 makes up for ReLU zeroing half its inputs, so activations keep their variance through
    ReLU layers. ``variance_scaling(2, "fan_in", "truncated_normal")`` as in jax and Keras
    (PyTorch's ``kaiming_normal_`` does not truncate).

    Args:
        in_axis, out_axis, batch_axis, dtype: as in ``variance_scaling``.

    Returns:
        ``init(key, shape, dtype)``.

    References:
        He, Zhang, Ren & Sun, "Delving Deep into Rectifiers: Surpassing Human-Level Performance
        on ImageNet Classification", 2015.
    """
    axes = (in_axis, out_axis, batch_axis)
    return _variance_scaling("he_normal", 2.0, "fan_in", "truncated_normal", axes, dtype)


def he_uniform(
    in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (), dtype: DTypeLike = jnp.float32
) -> Initializer:
    """He (Kaiming) uniform: ``w ~ U[-b, b)``, ``b = sqrt(6 / fan_in)``.

    Variance ``b^2 / 3 = 2 / fan_in``; ``variance_scaling(2, "fan_in", "uniform")``.

    Args:
        in_axis, out_axis, batch_axis, dtype: as in ``variance_scaling``.

    Returns:
        ``init(key, shape, dtype)``.

    References:
        He, Zhang, Ren & Sun, "Delving Deep into Rectifiers: Surpassing Human-Level Performance
        on ImageNet Classification", 2015.
    """
    axes = (in_axis, out_axis, batch_axis)
    return _variance_scaling("he_uniform", 2.0, "fan_in", "uniform", axes, dtype)


def lecun_normal(
    in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (), dtype: DTypeLike = jnp.float32
) -> Initializer:
    """LeCun normal: ``Var[w] = 1 / fan_in``, a truncated normal (what SELU assumes).

    ``variance_scaling(1, "fan_in", "truncated_normal")``, as in jax and Keras.

    Args:
        in_axis, out_axis, batch_axis, dtype: as in ``variance_scaling``.

    Returns:
        ``init(key, shape, dtype)``.

    References:
        LeCun, Bottou, Orr & Mueller, "Efficient BackProp", 1998.
    """
    axes = (in_axis, out_axis, batch_axis)
    return _variance_scaling("lecun_normal", 1.0, "fan_in", "truncated_normal", axes, dtype)


def lecun_uniform(
    in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (), dtype: DTypeLike = jnp.float32
) -> Initializer:
    """LeCun uniform: ``w ~ U[-b, b)``, ``b = sqrt(3 / fan_in)``.

    Variance ``b^2 / 3 = 1 / fan_in``; ``variance_scaling(1, "fan_in", "uniform")``.

    Args:
        in_axis, out_axis, batch_axis, dtype: as in ``variance_scaling``.

    Returns:
        ``init(key, shape, dtype)``.

    References:
        LeCun, Bottou, Orr & Mueller, "Efficient BackProp", 1998.
    """
    axes = (in_axis, out_axis, batch_axis)
    return _variance_scaling("lecun_uniform", 1.0, "fan_in", "uniform", axes, dtype)


xavier_normal = glorot_normal
xavier_uniform = glorot_uniform
kaiming_normal = he_normal
kaiming_uniform = he_uniform


def orthogonal(
    scale: ArrayLike = 1.0, column_axis: int = -1, dtype: DTypeLike = jnp.float32
) -> Initializer:
    """(Semi-)orthogonal weights: ``W^T W = scale^2 I`` (tall) or ``W W^T = scale^2 I`` (wide).

    The shape is read as a matrix with ``n_cols = shape[column_axis]`` columns and
    ``n_rows = prod(other dims)`` rows (a conv kernel ``HWIO`` is ``(H*W*I, O)``). Draw
    ``A ~ N(0, 1)`` of shape ``(max, min)`` of the two, factor ``A = QR``, set
    ``Q <- Q diag(sign(diag R))`` (which makes ``Q`` uniform over orthogonal matrices),
    transpose if wide: ``W = scale * Q``. float16 and bfloat16 are drawn in float32, then cast.

    Args:
        scale: the multiplier, ``>= 0`` (may be traced).
        column_axis: the axis of ``shape`` holding the columns (outputs).
        dtype: the default dtype of the returned initialiser.

    Returns:
        ``init(key, shape, dtype)``; it raises a ValueError for shapes of rank < 2.

    References:
        Saxe, McClelland & Ganguli, "Exact solutions to the nonlinear dynamics of learning in
        deep linear neural networks", 2014.
    """
    _check_nonnegative("orthogonal", "scale", scale)
    (column_axis,) = _ints("orthogonal", "column_axis", column_axis)

    def draw(key: jax.Array, shape: tuple[int, ...], dtype: np.dtype) -> jax.Array:
        _require_matrix("orthogonal", shape)
        (col,) = _axes("orthogonal", "column_axis", column_axis, len(shape))
        n_cols = shape[col]
        n_rows = math.prod(shape) // n_cols
        work = dtype if dtype.itemsize >= 4 else jnp.dtype(jnp.float32)
        a = jax.random.normal(key, (max(n_rows, n_cols), min(n_rows, n_cols)), work)
        q, r = jnp.linalg.qr(a)
        q = q * jnp.where(jnp.diagonal(r) < 0, -1, 1).astype(work)[None, :]
        if n_rows < n_cols:
            q = q.T
        q = q.reshape(shape[:col] + shape[col + 1 :] + (n_cols,))
        return (jnp.moveaxis(q, -1, col) * jnp.asarray(scale, work)).astype(dtype)

    return _initializer("orthogonal", draw, dtype)


# ----------------------------------------------------------------------------- registry

_REGISTRY: dict[str, Initializer] = {}


def register(name: str, fn: Initializer, *, overwrite: bool = False) -> Initializer:
    """Makes ``get(name)`` return the initialiser ``fn``.

    Args:
        name: a non-empty string.
        fn: an initialiser ``(key, shape, dtype) -> array``.
        overwrite: replace an existing entry instead of raising.

    Returns:
        ``fn``, unchanged.

    Raises:
        ValueError: ``name`` is taken and ``overwrite`` is False.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"init.register: name must be a non-empty string, got {name!r}")
    if not callable(fn):
        raise TypeError(f"init.register: fn must be an initialiser (key, shape, dtype), got {fn!r}")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"init.register: {name!r} is already registered; pass overwrite=True")
    _REGISTRY[name] = fn
    return fn


def names() -> list[str]:
    """The registered initialiser names.

    Returns:
        A new sorted list of the names ``get`` accepts.
    """
    return sorted(_REGISTRY)


def get(name: str | Initializer) -> Initializer:
    """The initialiser registered as ``name``; a callable is returned unchanged.

    Args:
        name: a registered name (see ``names()``), or an initialiser.

    Returns:
        An initialiser ``(key, shape, dtype) -> array``.

    Raises:
        UnknownInitializerError: an unknown name (a ValueError and a KeyError); the message
            lists the known names and suggests the closest.
    """
    if callable(name):
        return name
    if not isinstance(name, str):
        raise TypeError(f"init.get: expected an initialiser name or function, got {name!r}")
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownInitializerError(
            f"init.get: unknown initialiser {name!r}.{hint} Known names: {', '.join(names())}. "
            "Add your own with jaxdl.init.register(name, fn)."
        )
    return _REGISTRY[name]


for _name, _fn in {
    "zeros": zeros,
    "ones": ones,
    "normal": normal(),
    "small_normal": normal(0.01),
    "standard_normal": normal(1.0),
    "truncated_normal": truncated_normal(),
    "uniform": uniform(),
    "glorot_normal": glorot_normal(),
    "glorot_uniform": glorot_uniform(),
    "xavier_normal": xavier_normal(),
    "xavier_uniform": xavier_uniform(),
    "he_normal": he_normal(),
    "he_uniform": he_uniform(),
    "kaiming_normal": kaiming_normal(),
    "kaiming_uniform": kaiming_uniform(),
    "lecun_normal": lecun_normal(),
    "lecun_uniform": lecun_uniform(),
    "orthogonal": orthogonal(),
}.items():
    register(_name, _fn)
del _name, _fn
