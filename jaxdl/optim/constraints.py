"""Transformations that constrain or regularise updates: weight decay, gradient noise,
clipping (element-wise, global-norm, block-RMS, adaptive), centralization, NaN guards,
freezing and non-negativity.

Numeric hyperparameters may be Python numbers, JAX scalars (possibly traced) or schedules
``count -> value``; see ``jaxdl.optim.transforms`` for how schedules get their count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.optim.base import (
    GradientTransformation,
    Params,
    ScalarOrSchedule,
    check_hyperparameter,
    check_tree_matches,
    resolve,
)
from jaxdl.optim.transforms import _increment, _like, _stateless
from jaxdl.optim.tree import _promote_types, global_norm

__all__ = [
    "WeightDecaySchedule",
    "AddNoiseState",
    "ZeroNansState",
    "add_decayed_weights",
    "add_noise",
    "clip",
    "clip_by_global_norm",
    "clip_by_block_rms",
    "unitwise_norm",
    "adaptive_grad_clip",
    "centralize",
    "zero_nans",
    "set_to_zero",
    "keep_params_nonnegative",
]


def _add(a: jax.Array, b: jax.Array) -> jax.Array:
    """``a + b`` in the promotion of their dtypes, explicit so strict promotion accepts it."""
    dt = _promote_types(a.dtype, b.dtype)
    return a.astype(dt) + b.astype(dt)


# --- Weight decay -------------------------------------------------------------------------


class WeightDecaySchedule(NamedTuple):
    """The step count of ``add_decayed_weights`` when its weight decay is a schedule."""

    count: jax.Array  # shape=(), int32


def _mask_leaf(m: Any) -> bool | jax.Array:
    if isinstance(m, (bool, np.bool_)):
        return bool(m)
    if isinstance(m, (jax.Array, np.ndarray)) and m.dtype == bool and m.shape == ():
        return m
    raise TypeError(
        "add_decayed_weights: mask leaves must be booleans (True: decay this leaf), got "
        f"{type(m).__name__} {m!r}"
    )


def _full_mask(mask: Any, params: Params) -> Any:
    """The mask (a bool tree that is a prefix of params, or a function of params) broadcast
    to the structure of params."""
    tree = mask(params) if callable(mask) else mask
    try:
        full = jax.tree.broadcast(tree, params)
    except (ValueError, TypeError) as err:
        raise ValueError(
            "add_decayed_weights: the mask must be a tree of booleans with the structure of "
            f"the params (or a prefix of it).\n  mask:   {jax.tree.structure(tree)}\n"
            f"  params: {jax.tree.structure(params)}"
        ) from err
    return jax.tree.map(_mask_leaf, full)


def add_decayed_weights(weight_decay: ScalarOrSchedule = 0.0,
                        mask: Any | Callable[[Params], Any] | None = None
                        ) -> GradientTransformation:
    """Adds decoupled weight decay: ``u <- u + weight_decay * p``.

    Placed before ``scale_by_learning_rate`` this is the decoupled weight decay of AdamW; on
    plain gradients it is the gradient of ``weight_decay / 2 * ||p||^2``.

    Reference: Loshchilov and Hutter, "Decoupled Weight Decay Regularization", 2019.

    Args:
      weight_decay: the non-negative decay rate (number, JAX scalar or schedule).
      mask: ``None`` (decay every leaf), a tree of booleans with the structure of the params
        or a prefix of it, or a function ``params -> such a tree``. Leaves marked ``False``
        (biases, norm scales) get exactly their incoming update, nothing added.

    Returns:
      A ``GradientTransformation`` whose ``update`` needs ``params``; stateless unless
      ``weight_decay`` is a schedule (then ``WeightDecaySchedule``).
    """
    owner = "add_decayed_weights"
    check_hyperparameter("weight_decay", weight_decay, owner=owner)
    if mask is not None and not callable(mask):
        jax.tree.map(_mask_leaf, mask)  # reject non-boolean leaves now

    def fn(updates, params, weight_decay):
        def one(u, p, keep=True):
            if keep is False:
                return u
            decayed = _add(u, _like(weight_decay, p) * p)
            return decayed if keep is True else jnp.where(keep, decayed, u.astype(decayed.dtype))

        if mask is None:
            return jax.tree.map(one, updates, params)
        return jax.tree.map(one, updates, params, _full_mask(mask, params))

    return _stateless(owner, {"weight_decay": weight_decay}, fn, needs_params=True,
                      state_cls=WeightDecaySchedule)


# --- Gradient noise -----------------------------------------------------------------------


class AddNoiseState(NamedTuple):
    """The step count and PRNG key of ``add_noise``."""

    count: jax.Array  # shape=(), int32
    rng_key: jax.Array  # shape=(), a typed PRNG key


def _as_key(key: Any, seed: Any) -> jax.Array:
    if key is not None and seed is not None:
        raise ValueError("add_noise: pass key or seed, not both")
    key = seed if key is None else key
    if key is None:
        raise ValueError("add_noise: a key is required: add_noise(eta, gamma, jax.random.key(0))"
                         " or an int seed")
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return jax.random.key(int(key))
    if isinstance(key, jax.Array):
        if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) and key.shape == ():
            return key
        if key.dtype == jnp.uint32 and key.shape == (2,):
            return jax.random.wrap_key_data(key)
        if jnp.issubdtype(key.dtype, jnp.integer) and key.shape == ():
            return jax.random.key(key)
    raise TypeError(
        "add_noise: key must be a single PRNG key (jax.random.key(seed)) or an int seed, got "
        f"{type(key).__name__} with shape {getattr(key, 'shape', None)}"
    )


def add_noise(eta: ScalarOrSchedule, gamma: ScalarOrSchedule, key: Any = None, *,
              seed: int | None = None) -> GradientTransformation:
    """Adds annealed Gaussian noise to the updates.

    At update ``t = 0, 1, ...``: ``u <- u + N(0, sigma_t^2)`` element-wise, independently
    per leaf, with ``sigma_t^2 = eta / (1 + t)^gamma``.

    Reference: Neelakantan et al., "Adding Gradient Noise Improves Learning for Very Deep
    Networks", 2015 (eta in {0.01, 0.3, 1.0}, gamma = 0.55).

    Note: the variance schedule is optax's; the noise draws are not bit-identical to optax's,
    which uses its PRNG key differently.

    Args:
      eta: the initial variance, non-negative.
      gamma: the decay exponent of the variance, non-negative.
      key: a PRNG key (``jax.random.key(seed)``, or legacy raw uint32 key data) or an int.
      seed: an int seed, an alternative to ``key``.

    Returns:
      A ``GradientTransformation`` with state ``AddNoiseState``.
    """
    owner = "add_noise"
    check_hyperparameter("eta", eta, owner=owner)
    check_hyperparameter("gamma", gamma, owner=owner)
    rng_key = _as_key(key, seed)

    def init_fn(params):
        del params
        return AddNoiseState(count=jnp.zeros([], jnp.int32), rng_key=rng_key)

    def update_fn(updates, state, params=None):
        del params
        count = _increment(state.count)
        e, g = resolve(eta, state.count), resolve(gamma, state.count)
        f32 = jnp.float32
        variance = jnp.asarray(e, f32) / count.astype(f32) ** jnp.asarray(g, f32)
        std = jnp.sqrt(variance)
        leaves, treedef = jax.tree.flatten(updates)
        new_key, sub = jax.random.split(state.rng_key)
        keys = jax.random.split(sub, max(len(leaves), 1))
        noisy = [u + jax.random.normal(k, jnp.shape(u), u.dtype) * _like(std, u)
                 for k, u in zip(keys[: len(leaves)], leaves, strict=True)]
        return treedef.unflatten(noisy), AddNoiseState(count=count, rng_key=new_key)

    return GradientTransformation(init_fn, update_fn)


# --- Clipping -----------------------------------------------------------------------------


def clip(max_delta: ScalarOrSchedule) -> GradientTransformation:
    """Clips every element of the updates to ``[-max_delta, max_delta]``.

    Args:
      max_delta: the largest absolute value allowed, non-negative.

    Returns:
      A stateless ``GradientTransformation`` (unless ``max_delta`` is a schedule).
    """
    check_hyperparameter("max_delta", max_delta, owner="clip")

    def fn(updates, params, max_delta):
        return jax.tree.map(
            lambda u: jnp.clip(u, -_like(max_delta, u), _like(max_delta, u)), updates)

    return _stateless("clip", {"max_delta": max_delta}, fn)


def clip_by_global_norm(max_norm: ScalarOrSchedule) -> GradientTransformation:
    """Rescales all updates together so that their global norm is at most ``max_norm``.

    With ``n = global_norm(u)``: ``u <- u`` if ``n < max_norm``, else
    ``u <- u * max_norm / n``. The norm is computed in float32 at least.

    Reference: Pascanu, Mikolov and Bengio, "On the difficulty of training Recurrent Neural
    Networks", 2013.

    Args:
      max_norm: the largest global norm allowed, non-negative.

    Returns:
      A stateless ``GradientTransformation`` (unless ``max_norm`` is a schedule).
    """
    check_hyperparameter("max_norm", max_norm, owner="clip_by_global_norm")

    def fn(updates, params, max_norm):
        norm = global_norm(updates)
        limit = jnp.asarray(max_norm, norm.dtype)
        safe = jnp.where(norm == 0, jnp.ones_like(norm), norm)
        factor = jnp.where(norm < limit, jnp.ones_like(norm), limit / safe)
        return jax.tree.map(lambda u: u * factor.astype(u.dtype), updates)

    return _stateless("clip_by_global_norm", {"max_norm": max_norm}, fn)


def clip_by_block_rms(threshold: ScalarOrSchedule) -> GradientTransformation:
    """Rescales each leaf (block) so that its root-mean-square is at most ``threshold``.

    Per leaf: ``u <- u / max(1, rms(u) / threshold)`` with ``rms(u) = sqrt(mean(u^2))``.

    Args:
      threshold: the largest RMS allowed per leaf, positive.

    Returns:
      A stateless ``GradientTransformation`` (unless ``threshold`` is a schedule).
    """
    check_hyperparameter("threshold", threshold, owner="clip_by_block_rms", low_inclusive=False)

    def fn(updates, params, threshold):
        def one(u):
            rms = jnp.sqrt(jnp.mean(jnp.square(u)))
            return u / jnp.maximum(_like(1.0, u), rms / _like(threshold, u))

        return jax.tree.map(one, updates)

    return _stateless("clip_by_block_rms", {"threshold": threshold}, fn)


def _unitwise_axes(shape: tuple[int, ...], axis: int | tuple[int, ...] | None,
                   where: str) -> tuple[int, ...]:
    ndim = len(shape)
    if axis is not None:
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        if any(not -ndim <= a < ndim for a in axes):
            raise ValueError(f"adaptive_grad_clip: axis={axis} is out of range for the leaf "
                             f"{where} of shape {shape}")
        return tuple(a % ndim for a in axes)
    if ndim <= 1:
        return tuple(range(ndim))
    if ndim in (2, 3):
        return (0,)
    if ndim in (4, 5):
        return tuple(range(ndim - 1))
    raise ValueError(
        f"adaptive_grad_clip: no default unit-wise norm for the leaf {where} of shape {shape} "
        "(rank 0 to 5 have one); pass axis= to say which axes a unit's norm reduces over."
    )


def unitwise_norm(x: jax.Array, axis: int | tuple[int, ...] | None = None) -> jax.Array:
    """The L2 norm of each unit (output neuron or channel) of a weight array, keepdims.

    Defaults by rank: 0 or 1 (scalars, biases): the whole array; 2 (dense ``(in, out)``) and
    3: over axis 0, one norm per output unit; 4 (2-D conv ``HWIO``) and 5 (3-D conv): over
    all axes but the last, one norm per output channel.

    Reference: Brock et al., "High-Performance Large-Scale Image Recognition Without
    Normalization", 2021.

    Args:
      x: the array.
      axis: axes to reduce over instead of the default.

    Returns:
      The norms, broadcastable against ``x``.
    """
    axes = _unitwise_axes(jnp.shape(x), axis, "")
    return jnp.sqrt(jnp.sum(jnp.square(x), axis=axes, keepdims=True))


def adaptive_grad_clip(clipping: ScalarOrSchedule, eps: ScalarOrSchedule = 1e-3,
                       axis: int | tuple[int, ...] | None = None) -> GradientTransformation:
    """Adaptive gradient clipping: clips each unit's update relative to its weight's norm.

    Per unit (see ``unitwise_norm``), with ``W = max(||p||, eps)`` and ``G = ||u||``:
    ``u <- u`` if ``G < clipping * W``, else ``u <- u * clipping * W / max(G, 1e-6)``.

    Reference: Brock et al., "High-Performance Large-Scale Image Recognition Without
    Normalization", 2021.

    Args:
      clipping: the largest ratio of update norm to parameter norm, non-negative.
      eps: floor of the parameter norm, so zero-initialised units can still move.
      axis: axes a unit's norm reduces over, for every leaf; ``None`` uses the defaults by rank.

    Returns:
      A ``GradientTransformation`` whose ``update`` needs ``params``.
    """
    owner = "adaptive_grad_clip"
    check_hyperparameter("clipping", clipping, owner=owner)
    check_hyperparameter("eps", eps, owner=owner)
    axes_ok = isinstance(axis, tuple) and all(isinstance(a, int) for a in axis)
    if axis is not None and not (isinstance(axis, int) or axes_ok):
        raise TypeError(f"{owner}: axis must be None, an int or a tuple of ints, got {axis!r}")

    def fn(updates, params, clipping, eps):
        def one(path, u, p):
            axes = _unitwise_axes(jnp.shape(u), axis, jax.tree_util.keystr(path))
            g_norm = jnp.sqrt(jnp.sum(jnp.square(u), axis=axes, keepdims=True))
            p_norm = jnp.sqrt(jnp.sum(jnp.square(p), axis=axes, keepdims=True)).astype(u.dtype)
            max_norm = jnp.maximum(p_norm, _like(eps, u)) * _like(clipping, u)
            clipped = u * (max_norm / jnp.maximum(g_norm, _like(1e-6, u)))
            return jnp.where(g_norm < max_norm, u, clipped)

        return jax.tree.map_with_path(one, updates, params)

    return _stateless(owner, {"clipping": clipping, "eps": eps}, fn, needs_params=True)


# --- Other constraints --------------------------------------------------------------------


def centralize() -> GradientTransformation:
    """Gradient centralization: removes each leading-axis slice's mean from the update.

    For a leaf of rank >= 2: ``u[i] <- u[i] - mean(u[i])`` for every index ``i`` of the first
    axis (the mean is over all other axes); rank 0 and 1 leaves are unchanged.

    .. warning:: As in optax, units are indexed by the *first* axis (PyTorch's ``(out, in)``
       layout). For a dense kernel stored ``(in, out)`` this centres each input row, not each
       output neuron's weight vector as in the paper.

    Reference: Yong et al., "Gradient Centralization: A New Optimization Technique for Deep
    Neural Networks", 2020.

    Returns:
      A stateless ``GradientTransformation``.
    """

    def one(u):
        if jnp.ndim(u) < 2:
            return u
        return u - jnp.mean(u, axis=tuple(range(1, u.ndim)), keepdims=True)

    return _stateless("centralize", {}, lambda updates, params: jax.tree.map(one, updates))


class ZeroNansState(NamedTuple):
    """Which leaves held a NaN at the last update (for the user; not used internally)."""

    found_nan: Params  # shape=params, each leaf a bool scalar


def zero_nans() -> GradientTransformation:
    """Replaces NaNs in the updates with 0 and records which leaves had any.

    ``u <- where(isnan(u), 0, u)``; infinities are kept.

    Returns:
      A ``GradientTransformation`` with state ``ZeroNansState``.
    """

    def init_fn(params):
        return ZeroNansState(found_nan=jax.tree.map(lambda p: jnp.zeros([], bool), params))

    def update_fn(updates, state, params=None):
        del params
        check_tree_matches(state.found_nan, updates, owner="zero_nans")
        found = jax.tree.map(lambda u: jnp.any(jnp.isnan(u)), updates)
        cleaned = jax.tree.map(lambda u: jnp.where(jnp.isnan(u), jnp.zeros_like(u), u), updates)
        return cleaned, ZeroNansState(found_nan=found)

    return GradientTransformation(init_fn, update_fn)


def set_to_zero() -> GradientTransformation:
    """Replaces every update with zeros: ``u <- 0`` (freezes parameters, e.g. in a mask).

    Returns:
      A stateless ``GradientTransformation``.
    """
    return _stateless("set_to_zero", {},
                      lambda updates, params: jax.tree.map(jnp.zeros_like, updates))


def keep_params_nonnegative() -> GradientTransformation:
    """Changes updates so that parameters stay non-negative: ``u <- -p`` where ``p + u < 0``.

    Put it last in a chain, after the learning rate. A negative parameter is moved to 0.

    Returns:
      A ``GradientTransformation`` whose ``update`` needs ``params``.
    """

    def fn(updates, params):
        def one(u, p):
            return jnp.where(_add(p, u) < 0, -p.astype(u.dtype), u)

        return jax.tree.map(one, updates, params)

    return _stateless("keep_params_nonnegative", {}, fn, needs_params=True)
