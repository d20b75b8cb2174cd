"""Basic gradient transformations: scalings, momentum traces, moving averages, sign, Rprop,
trust ratios.

Each factory closes over its hyperparameters and returns ``GradientTransformation(init,
update)``. A hyperparameter may be a Python number, a JAX scalar (possibly traced) or a
schedule ``count -> value``; a transformation keeps an int32 ``count`` in its state only when
one of its hyperparameters is a schedule, and evaluates the schedule at the count *before*
the update (the first update sees ``count = 0``), as optax does.

Updates keep each leaf's dtype: a scalar hyperparameter is cast to the leaf's dtype before
multiplying, the way a Python number is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxdl.optim.base import (
    EmptyState,
    GradientTransformation,
    Params,
    ScalarOrSchedule,
    Schedule,
    Updates,
    check_hyperparameter,
    check_tree_matches,
    identity,
    require_params,
    resolve,
    safe_increment,
)
from jaxdl.optim.tree import (
    _promote_types,
    tree_bias_correction,
    tree_cast,
    tree_update_moment,
    tree_zeros_like,
)

__all__ = [
    "ScaleByScheduleState",
    "TraceState",
    "EmaState",
    "ScaleByRpropState",
    "scale",
    "scale_by_learning_rate",
    "scale_by_schedule",
    "trace",
    "ema",
    "scale_by_sign",
    "scale_by_rprop",
    "scale_by_trust_ratio",
]



# --- Shared helpers (constraints.py uses them too) ------------------------------------------


def _increment(count: jax.Array | None) -> jax.Array | None:
    """``count + 1``, saturating at the int32 maximum instead of wrapping; None stays None."""
    return None if count is None else safe_increment(count)


def _any_schedule(*values: Any) -> bool:
    return any(callable(v) for v in values)


def _zero_count(needed: bool) -> jax.Array | None:
    return jnp.zeros([], jnp.int32) if needed else None


def _like(value: jax.typing.ArrayLike, x: jax.Array) -> jax.Array:
    """A scalar hyperparameter cast to ``x``'s dtype (as a Python number would be)."""
    return jnp.asarray(value, x.dtype)


def _accumulator_dtype(dtype: Any, owner: str) -> jnp.dtype | None:
    if dtype is None:
        return None
    try:
        return jnp.dtype(dtype)
    except TypeError as err:
        msg = f"{owner}: accumulator_dtype must be a dtype or None, got {dtype!r}"
        raise TypeError(msg) from err


def _check_leaf_shapes(expected: Any, updates: Updates, owner: str, expected_says: str) -> None:
    """Raises when the updates' leaves differ in shape from those of a same-structure tree."""
    for (path, e), g in zip(jax.tree.leaves_with_path(expected), jax.tree.leaves(updates),
                            strict=True):
        if jnp.shape(e) != jnp.shape(g):
            raise ValueError(
                f"{owner}: the update {jax.tree_util.keystr(path)} has shape {jnp.shape(g)} "
                f"but {expected_says} {jnp.shape(e)}."
            )


def _check_state_matches(state_tree: Any, updates: Updates, owner: str) -> None:
    """``base.check_tree_matches`` plus a leaf-shape check (both Python-time, free)."""
    check_tree_matches(state_tree, updates, owner=owner)
    _check_leaf_shapes(state_tree, updates, owner, "the state was initialised for shape")


def _check_params_match(params: Params, updates: Updates, owner: str) -> None:
    """Raises when the params and the updates differ in tree structure or leaf shapes."""
    p_def, u_def = jax.tree.structure(params), jax.tree.structure(updates)
    if p_def != u_def:
        raise ValueError(
            f"{owner}: the params and the updates have different tree structures.\n"
            f"  params:  {p_def}\n  updates: {u_def}\n"
            "Pass the params whose gradients the updates are."
        )
    _check_leaf_shapes(params, updates, owner, "its param has shape")


def _scheduled_count(state: Any, owner: str) -> jax.Array:
    count = getattr(state, "count", None)
    if count is None:
        raise ValueError(
            f"{owner}: a hyperparameter is a schedule but the state {type(state).__name__} has "
            "no count; was the state made by this transformation's init?"
        )
    return count


def _stateless(owner: str, hyperparams: dict[str, ScalarOrSchedule],
               fn: Callable[..., Updates], *, needs_params: bool = False,
               state_cls: type | None = None) -> GradientTransformation:
    """A transformation with no state of its own: ``fn(updates, params, **values)``.

    Its state is ``EmptyState()``, or ``state_cls(count)`` (``ScaleByScheduleState`` by
    default) when a hyperparameter is a schedule.
    """
    scheduled = _any_schedule(*hyperparams.values())
    state_cls = ScaleByScheduleState if state_cls is None else state_cls

    def init_fn(params):
        del params
        return state_cls(count=_zero_count(True)) if scheduled else EmptyState()

    def update_fn(updates, state, params=None):
        if needs_params:
            require_params(params, owner=owner)
            _check_params_match(params, updates, owner)
        count = _scheduled_count(state, owner) if scheduled else None
        values = {name: resolve(v, count) for name, v in hyperparams.items()}
        new_state = state_cls(count=_increment(count)) if scheduled else state
        return fn(updates, params, **values), new_state

    return GradientTransformation(init_fn, update_fn)


def _scale_tree(updates: Updates, factor: jax.typing.ArrayLike) -> Updates:
    return jax.tree.map(lambda u: u * _like(factor, u), updates)


# --- Scaling ------------------------------------------------------------------------------


class ScaleByScheduleState(NamedTuple):
    """The step count of a transformation whose hyperparameter is a schedule."""

    count: jax.Array  # shape=(), int32


def scale(step_size: ScalarOrSchedule) -> GradientTransformation:
    """Multiplies updates by a fixed scalar: ``u <- step_size * u``.

    Args:
      step_size: the factor (any sign): a number, a JAX scalar or a schedule.

    Returns:
      A ``GradientTransformation``; stateless unless ``step_size`` is a schedule.
    """
    check_hyperparameter("step_size", step_size, owner="scale", low=None)
    return _stateless("scale", {"step_size": step_size},
                      lambda u, p, step_size: _scale_tree(u, step_size))


def scale_by_learning_rate(learning_rate: ScalarOrSchedule | None = None, *,
                           flip_sign: bool = True) -> GradientTransformation:
    """Multiplies updates by the negative learning rate: ``u <- -learning_rate * u``.

    This is where gradient descent's minus sign lives (``apply_updates`` only adds).

    Args:
      learning_rate: a non-negative number, a JAX scalar or a schedule ``count -> lr``;
        ``None`` means no scaling at all (the identity).
      flip_sign: ``True`` (default) multiplies by ``-learning_rate``, ``False`` by
        ``+learning_rate`` (gradient ascent).

    Returns:
      A ``GradientTransformation``; its state is ``ScaleByScheduleState`` for a schedule.
    """
    if learning_rate is None:
        return identity()
    check_hyperparameter("learning_rate", learning_rate, owner="scale_by_learning_rate")
    sign = -1 if flip_sign else 1
    return _stateless("scale_by_learning_rate", {"learning_rate": learning_rate},
                      lambda u, p, learning_rate: _scale_tree(u, sign * learning_rate))


def scale_by_schedule(step_size_fn: Schedule) -> GradientTransformation:
    """Multiplies updates by a scheduled factor: ``u <- step_size_fn(count) * u``.

    Args:
      step_size_fn: a function from the int32 step count (0 at the first update) to a scalar.

    Returns:
      A ``GradientTransformation`` with state ``ScaleByScheduleState(count)``.
    """
    if not callable(step_size_fn):
        raise TypeError(
            f"scale_by_schedule: step_size_fn must be a function count -> factor, got "
            f"{type(step_size_fn).__name__}; for a constant factor use scale()."
        )
    return _stateless("scale_by_schedule", {"step_size": step_size_fn},
                      lambda u, p, step_size: _scale_tree(u, step_size))


def scale_by_sign() -> GradientTransformation:
    """Keeps only the sign of each update: ``u <- sign(u)`` (0 stays 0).

    Reference: Bernstein et al., "signSGD: Compressed Optimisation for Non-Convex Problems",
    2018.

    Returns:
      A stateless ``GradientTransformation``.
    """
    return _stateless("scale_by_sign", {}, lambda u, p: jax.tree.map(jnp.sign, u))


# --- Momentum and moving averages ---------------------------------------------------------


class TraceState(NamedTuple):
    """The momentum buffer of ``trace``."""

    trace: Params  # shape=params, dtype=accumulator_dtype or each param's dtype
    count: jax.Array | None = None  # shape=(), int32; None unless decay is a schedule


def trace(decay: ScalarOrSchedule, nesterov: bool = False,
          accumulator_dtype: Any | None = None) -> GradientTransformation:
    """Heavy-ball momentum: a decaying sum of past updates.

    ``t <- g + decay * t``; the update is ``t``, or ``g + decay * t`` (with the new ``t``)
    for Nesterov momentum. Unlike ``ema``, the gradient is not scaled by ``1 - decay``.

    References: Polyak, "Some methods of speeding up the convergence of iteration methods",
    1964; Sutskever et al., "On the importance of initialization and momentum in deep
    learning", 2013 (Nesterov form).

    Args:
      decay: the momentum coefficient in [0, 1].
      nesterov: use Nesterov's look-ahead form.
      accumulator_dtype: dtype of the stored trace; ``None`` keeps each param's dtype.

    Returns:
      A ``GradientTransformation`` with state ``TraceState``. Updates come out in the
      promotion of the gradient's and the accumulator's dtypes.
    """
    check_hyperparameter("decay", decay, owner="trace", high=1.0)
    acc_dtype = _accumulator_dtype(accumulator_dtype, "trace")
    scheduled = _any_schedule(decay)

    def init_fn(params):
        return TraceState(trace=tree_zeros_like(params, acc_dtype), count=_zero_count(scheduled))

    def update_fn(updates, state, params=None):
        del params
        _check_state_matches(state.trace, updates, "trace")
        d = resolve(decay, state.count)

        def accumulate(g, t):
            dt = _promote_types(g.dtype, t.dtype)
            return g.astype(dt) + (_like(d, t) * t).astype(dt)

        new_trace = jax.tree.map(accumulate, updates, state.trace)
        out = jax.tree.map(accumulate, updates, new_trace) if nesterov else new_trace
        stored = tree_cast(new_trace, acc_dtype)
        return out, TraceState(trace=stored, count=_increment(state.count))

    return GradientTransformation(init_fn, update_fn)


class EmaState(NamedTuple):
    """The moving average of ``ema``."""

    count: jax.Array  # shape=(), int32
    ema: Params  # shape=params, dtype=accumulator_dtype or each param's dtype


def ema(decay: ScalarOrSchedule, debias: bool = True,
        accumulator_dtype: Any | None = None) -> GradientTransformation:
    """An exponential moving average of the updates, optionally debiased.

    ``m <- (1 - decay) * g + decay * m``, ``k <- k + 1``; the update is ``m``, or with
    ``debias`` ``m / (1 - decay^k)``, which removes the bias of starting at ``m = 0``
    (Kingma and Ba, "Adam: A Method for Stochastic Optimization", 2014). The state keeps the
    un-debiased ``m``. A scheduled ``decay`` is evaluated at the count before the update and
    that value is used in the debiasing too.

    Args:
      decay: the decay rate in [0, 1].
      debias: divide by ``1 - decay^k``.
      accumulator_dtype: dtype of the stored average; ``None`` keeps each param's dtype.

    Returns:
      A ``GradientTransformation`` with state ``EmaState``.
    """
    check_hyperparameter("decay", decay, owner="ema", high=1.0)
    acc_dtype = _accumulator_dtype(accumulator_dtype, "ema")

    def init_fn(params):
        return EmaState(count=jnp.zeros([], jnp.int32), ema=tree_zeros_like(params, acc_dtype))

    def update_fn(updates, state, params=None):
        del params
        _check_state_matches(state.ema, updates, "ema")
        d = resolve(decay, state.count)
        count = _increment(state.count)
        new_ema = tree_update_moment(updates, state.ema, d, order=1)
        out = tree_bias_correction(new_ema, d, count) if debias else new_ema
        return out, EmaState(count=count, ema=tree_cast(new_ema, acc_dtype))

    return GradientTransformation(init_fn, update_fn)


# --- Rprop --------------------------------------------------------------------------------


class ScaleByRpropState(NamedTuple):
    """Per-parameter step sizes of Rprop and the update it last emitted."""

    step_sizes: Params  # shape=params
    prev_updates: Params  # shape=params; step * sign(g), 0 where the gradient flipped sign
    count: jax.Array | None = None  # shape=(), int32; None unless a factor is a schedule


def scale_by_rprop(learning_rate: ScalarOrSchedule, eta_minus: ScalarOrSchedule = 0.5,
                   eta_plus: ScalarOrSchedule = 1.2, min_step_size: ScalarOrSchedule = 1e-6,
                   max_step_size: ScalarOrSchedule = 50.0) -> GradientTransformation:
    """Rprop: per-parameter step sizes driven only by the signs of successive gradients.

    With ``s = sign(g) * sign(g_prev)`` per element (``g_prev`` is 0 after a sign flip):
    ``step <- min(step * eta_plus, max_step_size)`` if ``s > 0``,
    ``step <- max(step * eta_minus, min_step_size)`` if ``s < 0``, unchanged if ``s = 0``;
    the update is ``step * sign(g)``, or 0 where ``s < 0`` (iRprop-). Step sizes start at
    ``learning_rate``. The update points up the gradient: chain ``scale(-1.0)`` after it to
    descend.

    .. warning:: optax 0.2.8's ``scale_by_rprop`` emits each update one step late (its first
       update is all zeros; google-deepmind/optax PR #1725). jaxdl emits the current update,
       which is the ``prev_updates`` optax stores in its state, and matches
       ``torch.optim.Rprop``.

    References: Riedmiller and Braun, "A direct adaptive method for faster backpropagation
    learning: the RPROP algorithm", 1993; Igel and Huesken, "Empirical evaluation of the
    improved Rprop learning algorithms", 2003.

    Args:
      learning_rate: the initial step size (a schedule is read at count 0).
      eta_minus: step-size factor after a sign change, in [0, 1].
      eta_plus: step-size factor while the sign holds, at least 1.
      min_step_size: lower bound of the step sizes.
      max_step_size: upper bound of the step sizes.

    Returns:
      A ``GradientTransformation`` with state ``ScaleByRpropState``.
    """
    owner = "scale_by_rprop"
    check_hyperparameter("learning_rate", learning_rate, owner=owner)
    check_hyperparameter("eta_minus", eta_minus, owner=owner, high=1.0)
    check_hyperparameter("eta_plus", eta_plus, owner=owner, low=1.0)
    check_hyperparameter("min_step_size", min_step_size, owner=owner)
    check_hyperparameter("max_step_size", max_step_size, owner=owner)
    scheduled = _any_schedule(eta_minus, eta_plus, min_step_size, max_step_size)

    def init_fn(params):
        lr = resolve(learning_rate, jnp.zeros([], jnp.int32))
        return ScaleByRpropState(
            step_sizes=jax.tree.map(lambda p: jnp.full(p.shape, _like(lr, p)), params),
            prev_updates=tree_zeros_like(params),
            count=_zero_count(scheduled),
        )

    def update_fn(updates, state, params=None):
        del params
        _check_state_matches(state.step_sizes, updates, owner)
        c = state.count
        e_minus, e_plus = resolve(eta_minus, c), resolve(eta_plus, c)
        lo, hi = resolve(min_step_size, c), resolve(max_step_size, c)

        def signs(g, step, prev):
            sg = jnp.sign(g).astype(step.dtype)
            return sg, sg * jnp.sign(prev).astype(step.dtype)

        def new_step(g, step, prev):
            s = signs(g, step, prev)[1]
            grown = jnp.minimum(step * _like(e_plus, step), _like(hi, step))
            shrunk = jnp.maximum(step * _like(e_minus, step), _like(lo, step))
            return jnp.where(s > 0, grown, jnp.where(s < 0, shrunk, step))

        def new_update(g, step, prev, stepped):
            sg, s = signs(g, step, prev)
            return jnp.where(s < 0, jnp.zeros_like(stepped), stepped * sg).astype(prev.dtype)

        steps = jax.tree.map(new_step, updates, state.step_sizes, state.prev_updates)
        new_updates = jax.tree.map(new_update, updates, state.step_sizes, state.prev_updates, steps)
        return new_updates, ScaleByRpropState(steps, new_updates, _increment(c))

    return GradientTransformation(init_fn, update_fn)


# --- Trust ratio --------------------------------------------------------------------------


def scale_by_trust_ratio(min_norm: ScalarOrSchedule = 0.0,
                         trust_coefficient: ScalarOrSchedule = 1.0,
                         eps: ScalarOrSchedule = 0.0) -> GradientTransformation:
    """Scales each leaf's update by the ratio of the parameter norm to the update norm.

    Per leaf, with ``P = max(||p||, min_norm)`` and ``U = max(||u||, min_norm)`` (Frobenius
    norms): ``u <- u * trust_coefficient * P / (U + eps)``, and ``u`` is left unchanged when
    ``P = 0`` or ``U = 0`` (e.g. zero-initialised biases). Used by LARS and LAMB.

    References: You, Gitman and Ginsburg, "Large Batch Training of Convolutional Networks",
    2017; You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76
    minutes", 2019.

    Args:
      min_norm: lower bound applied to both norms.
      trust_coefficient: multiplier of the ratio.
      eps: added to the update norm in the denominator.

    Returns:
      A ``GradientTransformation`` whose ``update`` needs ``params``.
    """
    owner = "scale_by_trust_ratio"
    for name, value in (("min_norm", min_norm), ("trust_coefficient", trust_coefficient),
                        ("eps", eps)):
        check_hyperparameter(name, value, owner=owner)

    def fn(updates, params, min_norm, trust_coefficient, eps):
        def one(u, p):
            p_norm = jnp.maximum(jnp.linalg.norm(jnp.ravel(p)).astype(u.dtype), _like(min_norm, u))
            u_norm = jnp.maximum(jnp.linalg.norm(jnp.ravel(u)), _like(min_norm, u))
            ratio = _like(trust_coefficient, u) * p_norm / (u_norm + _like(eps, u))
            degenerate = jnp.logical_or(p_norm == 0, u_norm == 0)
            return u * jnp.where(degenerate, jnp.ones_like(ratio), ratio)

        return jax.tree.map(one, updates, params)

    hyper = {"min_norm": min_norm, "trust_coefficient": trust_coefficient, "eps": eps}
    return _stateless(owner, hyper, fn, needs_params=True)
