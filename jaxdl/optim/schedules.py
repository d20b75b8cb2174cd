"""Learning-rate schedules: pure functions ``count -> value``, with optax's names and numbers.

The count is an integer scalar, possibly traced or ``vmap``-ed; counts below 0 act as 0.
Numeric arguments (``init_value``, ``peak_value``, ``alpha``, ...) may be Python numbers or
JAX scalars, traced ones included, so a grid of learning rates is one ``vmap``. Step
arguments (``transition_steps``, boundaries) must be Python ints: they fix the schedule's
structure, and bad ones are rejected in Python before anything compiles. Values are float32
(float64 for a float64 argument under x64) with the shape of ``count``.

Where optax only logs or misbehaves, jaxdl raises or does what the name says: a negative
``transition_begin``, ``exponential_decay`` with ``transition_steps <= 0`` or
``decay_rate <= 0``, boundaries that are negative or not strictly increasing as given,
``join_schedules`` without exactly one schedule more than boundaries, and one-cycle
fractions that put two phases on one step all raise. ``warmup_constant_schedule`` with
``warmup_steps=0`` is ``peak_value`` throughout (optax: ``init_value`` forever), and
``warmup_cosine_decay_schedule`` with ``peak_value=0`` follows its formula (optax: 0).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdl.optim.base import Schedule, check_hyperparameter

__all__ = [
    "constant_schedule", "linear_schedule", "polynomial_schedule", "cosine_decay_schedule",
    "warmup_cosine_decay_schedule", "warmup_constant_schedule", "exponential_decay",
    "piecewise_constant_schedule", "piecewise_interpolate_schedule", "join_schedules",
    "cosine_onecycle_schedule", "linear_onecycle_schedule", "sgdr_schedule",
]


# ----------------------------------------------------------------------------- helpers


def _steps(owner: str, name: str, value: Any, *, minimum: int | None = None) -> int:
    """A step-structure argument as a Python int (integral floats such as 1e4 accepted)."""
    given = value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool):
        value = None
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(
            f"{owner}: {name} must be a Python int (step counts fix the schedule's structure, "
            f"so they cannot be traced), got {given!r}"
        ) from None
    if minimum is not None and value < minimum:
        raise ValueError(f"{owner}: {name} must be an int >= {minimum}, got {value}")
    return value


def _finite(owner: str, **values: Any) -> None:
    """Rejects non-finite Python-number arguments (JAX scalars pass unchecked)."""
    for name, value in values.items():
        check_hyperparameter(name, value, owner=owner, low=None)


def _float_dtype(*values: Any) -> Any:
    """The dtype of a schedule's values: the arguments' promoted dtype, at least float32
    (as optax's, whose int32 count turns bfloat16 arguments into float32 values)."""
    with jax.numpy_dtype_promotion("standard"):
        return jnp.result_type(*values, jnp.float32)


def _cast(value: Any, dtype: Any) -> Any:
    """Python numbers stay weakly typed (fine under strict promotion); arrays are cast."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return jnp.asarray(value).astype(dtype)


def _increasing(owner: str, name: str, boundaries: Iterable[Any]) -> list[int]:
    """Boundaries as Python ints >= 0, strictly increasing in the order given."""
    result = [_steps(owner, f"{name}[{i}]", b, minimum=0) for i, b in enumerate(boundaries)]
    for i in range(1, len(result)):
        if result[i] <= result[i - 1]:
            raise ValueError(
                f"{owner}: {name} must be strictly increasing, got {result} "
                f"({name}[{i}]={result[i]} <= {name}[{i - 1}]={result[i - 1]})"
            )
    return result


def _fraction(
    count: jax.Array, begin: int, steps: int, dtype: Any, left: bool = False
) -> jax.Array:
    """``clip(count - begin, 0, steps) / steps`` in ``dtype``, or ``1 -`` that if ``left``.

    The subtraction is done on counts, so ``left`` is exactly 0 at the end (``1 - t / T`` in
    float32 can come out as -1e-8 under XLA's fused multiply-add, and ``(-1e-8) ** 0.5`` is NaN).
    """
    done = jnp.clip(count - begin, 0, steps)
    return (steps - done if left else done).astype(dtype) / steps


def _half_cosine(frac: jax.Array) -> jax.Array:
    """``(1 + cos(pi * frac)) / 2``: goes from 1 at ``frac = 0`` to 0 at ``frac = 1``."""
    return 0.5 * (1.0 + jnp.cos(math.pi * frac))


def _constant(value: Any, dtype: Any) -> Schedule:
    """``count -> value``, broadcast to the shape of ``count``."""
    def schedule(count: ArrayLike) -> jax.Array:
        return jnp.broadcast_to(jnp.asarray(value).astype(dtype), jnp.shape(count))

    return schedule


def _cosine(start: Any, end: Any, steps: int, exponent: Any, dtype: Any) -> Schedule:
    """``end + (start - end) * ((1 + cos(pi t / steps)) / 2) ** exponent``, ``t`` clipped."""
    start, end, exponent = (_cast(v, dtype) for v in (start, end, exponent))

    def schedule(count: ArrayLike) -> jax.Array:
        frac = _fraction(jnp.asarray(count), 0, steps, dtype)
        return end + (start - end) * _half_cosine(frac) ** exponent

    return schedule


def _interpolate(kind: str, init: Any, boundaries: list[int], scales: list[Any]) -> Schedule:
    """Interpolates between ``v_0 = init``, ``v_k = v_{k-1} * scales[k-1]`` at the boundaries."""
    dtype = _float_dtype(init, *scales)
    values = [_cast(init, dtype)]
    for s in scales:
        values.append(values[-1] * _cast(s, dtype))
    starts = [0, *boundaries]

    def schedule(count: ArrayLike) -> jax.Array:
        count = jnp.asarray(count)
        out = jnp.broadcast_to(jnp.asarray(values[0]).astype(dtype), jnp.shape(count))
        for k in range(len(boundaries)):
            frac = _fraction(count, starts[k], max(starts[k + 1] - starts[k], 1), dtype)
            lo, hi = values[k], values[k + 1]
            if kind == "linear":
                seg = lo + (hi - lo) * frac
            else:
                seg = hi + (lo - hi) * _half_cosine(frac)
            out = jnp.where(count >= starts[k], seg, out)
        # exactly the last value after the last boundary (lo + (hi - lo) * 1 may round off)
        return jnp.where(count >= starts[-1], jnp.asarray(values[-1]).astype(dtype), out)

    return schedule


def _scales(owner: str, boundaries_and_scales: Mapping[int, Any] | None) -> tuple[list, list]:
    """Validated ``(boundaries, scales)`` of a ``{step: scale}`` dict (empty for None)."""
    if boundaries_and_scales is None:
        return [], []
    if not isinstance(boundaries_and_scales, Mapping):
        raise TypeError(
            f"{owner}: boundaries_and_scales must be a dict {{step: scale}}, "
            f"got {type(boundaries_and_scales).__name__}"
        )
    boundaries = _increasing(owner, "boundaries_and_scales keys", boundaries_and_scales.keys())
    scales = list(boundaries_and_scales.values())
    for b, s in zip(boundaries, scales, strict=True):
        check_hyperparameter(f"the scale at step {b}", s, owner=owner, low=0.0)
    return boundaries, scales


# ----------------------------------------------------------------------------- schedules


def constant_schedule(value: ArrayLike) -> Schedule:
    """A schedule that holds one value: ``f(t) = value``.

    Args:
        value: the value, a Python number or a JAX scalar.

    Returns:
        A schedule ``count -> value``.
    """
    _finite("constant_schedule", value=value)
    return _constant(value, _float_dtype(value))


def polynomial_schedule(
    init_value: ArrayLike, end_value: ArrayLike, power: ArrayLike, transition_steps: int,
    transition_begin: int = 0,
) -> Schedule:
    """Polynomial transition from ``init_value`` to ``end_value``.

    With ``I = init_value``, ``E = end_value``, ``P = power``, ``B = transition_begin`` and
    ``T = transition_steps``::

        f(t) = I                                   if t < B
               E + (I - E) * (1 - (t - B) / T)**P  if B <= t < B + T
               E                                   if t >= B + T

    Args:
        init_value: ``I``, the value up to step ``B``.
        end_value: ``E``, the value from step ``B + T`` on.
        power: ``P``, the polynomial's power (1 is linear).
        transition_steps: ``T``; ``T <= 0`` holds ``init_value`` forever, as in optax.
        transition_begin: ``B >= 0``, the number of steps held at ``init_value`` first.

    Returns:
        A schedule ``count -> value``.
    """
    return _polynomial("polynomial_schedule", init_value, end_value, power, transition_steps,
                       transition_begin)


def linear_schedule(
    init_value: ArrayLike, end_value: ArrayLike, transition_steps: int, transition_begin: int = 0
) -> Schedule:
    """Linear transition from ``init_value`` to ``end_value``::

        f(t) = I + (E - I) * clip(t - B, 0, T) / T

    Args:
        init_value: ``I``, the value up to step ``B``.
        end_value: ``E``, the value from step ``B + T`` on.
        transition_steps: ``T``; ``T <= 0`` holds ``init_value`` forever, as in optax.
        transition_begin: ``B >= 0``, the number of steps held at ``init_value`` first.

    Returns:
        A schedule ``count -> value``.
    """
    return _polynomial("linear_schedule", init_value, end_value, None, transition_steps,
                       transition_begin)


def _polynomial(
    owner: str, init_value: ArrayLike, end_value: ArrayLike, power: ArrayLike | None,
    transition_steps: int, transition_begin: int,
) -> Schedule:
    """``polynomial_schedule``, or ``linear_schedule`` when ``power`` is None (no ``pow``)."""
    steps = _steps(owner, "transition_steps", transition_steps)
    begin = _steps(owner, "transition_begin", transition_begin, minimum=0)
    _finite(owner, init_value=init_value, end_value=end_value,
            **({} if power is None else {"power": power}))
    dtype = _float_dtype(init_value, end_value)
    if steps <= 0:
        return _constant(init_value, dtype)
    init, end = _cast(init_value, dtype), _cast(end_value, dtype)
    power = None if power is None else _cast(power, dtype)

    def schedule(count: ArrayLike) -> jax.Array:
        remaining = _fraction(jnp.asarray(count), begin, steps, dtype, left=True)
        return end + (init - end) * (remaining if power is None else remaining**power)

    return schedule


def cosine_decay_schedule(
    init_value: ArrayLike, decay_steps: int, alpha: ArrayLike = 0.0, exponent: ArrayLike = 1.0
) -> Schedule:
    """Cosine decay from ``init_value`` to ``alpha * init_value`` over ``decay_steps`` steps.

    With ``I = init_value``, ``T = decay_steps`` and ``p = exponent``::

        f(t) = alpha * I + (1 - alpha) * I * ((1 + cos(pi * min(t, T) / T)) / 2)**p

    Args:
        init_value: the value at step 0.
        decay_steps: ``T > 0``, the length of the decay; the value stays at ``alpha * I``
            afterwards.
        alpha: the final value as a fraction of ``init_value``.
        exponent: ``p``, the power applied to the cosine factor.

    Returns:
        A schedule ``count -> value``.

    References:
        Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", 2017.
    """
    owner = "cosine_decay_schedule"
    steps = _steps(owner, "decay_steps", decay_steps, minimum=1)
    _finite(owner, init_value=init_value, alpha=alpha, exponent=exponent)
    dtype = _float_dtype(init_value, alpha)
    init = _cast(init_value, dtype)
    return _cosine(init, _cast(alpha, dtype) * init, steps, exponent, dtype)


def warmup_cosine_decay_schedule(
    init_value: ArrayLike, peak_value: ArrayLike, warmup_steps: int, decay_steps: int,
    end_value: ArrayLike = 0.0, exponent: ArrayLike = 1.0,
) -> Schedule:
    """Linear warmup to ``peak_value``, then cosine decay to ``end_value``.

    With ``W = warmup_steps`` and ``D = decay_steps`` (the total length, warmup included)::

        f(t) = I + (P - I) * t / W                                     if t < W
               E + (P - E) * ((1 + cos(pi * min(t - W, D - W) / (D - W))) / 2)**p  otherwise

    Args:
        init_value: ``I``, the value at step 0.
        peak_value: ``P``, the value at the end of the warmup.
        warmup_steps: ``W >= 0``; with ``W = 0`` the schedule starts at ``peak_value``.
        decay_steps: ``D > W``, the schedule's total length; it holds ``end_value`` after.
        end_value: ``E``, the final value.
        exponent: ``p``, the power applied to the cosine factor.

    Returns:
        A schedule ``count -> value``.

    References:
        Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017
        (warmup); Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm
        Restarts", 2017 (cosine decay).
    """
    owner = "warmup_cosine_decay_schedule"
    warmup = _steps(owner, "warmup_steps", warmup_steps, minimum=0)
    total = _steps(owner, "decay_steps", decay_steps)
    if total <= warmup:
        raise ValueError(
            f"{owner}: decay_steps is the schedule's total length, warmup included, so it must "
            f"be greater than warmup_steps; got decay_steps={total}, warmup_steps={warmup}"
        )
    _finite(owner, init_value=init_value, peak_value=peak_value, end_value=end_value,
            exponent=exponent)
    dtype = _float_dtype(init_value, peak_value, end_value)
    decay = _cosine(_cast(peak_value, dtype), end_value, total - warmup, exponent, dtype)
    return join_schedules([linear_schedule(init_value, peak_value, warmup), decay], [warmup])


def warmup_constant_schedule(
    init_value: ArrayLike, peak_value: ArrayLike, warmup_steps: int
) -> Schedule:
    """Linear warmup from ``init_value`` to ``peak_value``, then constant::

        f(t) = I + (P - I) * min(t, W) / W

    Args:
        init_value: ``I``, the value at step 0.
        peak_value: ``P``, the value from step ``W`` on.
        warmup_steps: ``W >= 0``. With ``W = 0`` the schedule is ``peak_value`` throughout
            (optax then returns ``init_value`` forever; see the module notes).

    Returns:
        A schedule ``count -> value``.

    References:
        Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017.
    """
    owner = "warmup_constant_schedule"
    warmup = _steps(owner, "warmup_steps", warmup_steps, minimum=0)
    if warmup == 0:
        _finite(owner, init_value=init_value, peak_value=peak_value)
        return _constant(peak_value, _float_dtype(init_value, peak_value))
    return _polynomial(owner, init_value, peak_value, None, warmup, 0)


def exponential_decay(
    init_value: ArrayLike, transition_steps: int, decay_rate: ArrayLike, transition_begin: int = 0,
    staircase: bool = False, end_value: ArrayLike | None = None,
) -> Schedule:
    """Exponential decay: ``f(t) = init_value * decay_rate**e``, ``e = max(t - B, 0) / T``.

    ``e`` is floored when ``staircase``; ``end_value`` bounds the value from below when
    ``decay_rate < 1``, from above otherwise.

    Args:
        init_value: the value up to step ``B``.
        transition_steps: ``T > 0``.
        decay_rate: the factor per ``T`` steps, ``> 0``.
        transition_begin: ``B >= 0``, the number of steps held at ``init_value`` first.
        staircase: decay in discrete jumps (``e`` floored to an integer).
        end_value: an optional bound the value never passes.

    Returns:
        A schedule ``count -> value``.
    """
    owner = "exponential_decay"
    steps = _steps(owner, "transition_steps", transition_steps, minimum=1)
    begin = _steps(owner, "transition_begin", transition_begin, minimum=0)
    if isinstance(decay_rate, (int, float)) and not decay_rate > 0:
        raise ValueError(
            f"{owner}: decay_rate must be > 0 (the value is multiplied by it every "
            f"transition_steps steps), got {decay_rate}"
        )
    if not isinstance(staircase, bool):
        raise TypeError(f"{owner}: staircase must be a Python bool, got {staircase!r}")
    _finite(owner, init_value=init_value, decay_rate=decay_rate,
            **({} if end_value is None else {"end_value": end_value}))
    dtype = _float_dtype(init_value, decay_rate, *([] if end_value is None else [end_value]))
    init, rate = _cast(init_value, dtype), _cast(decay_rate, dtype)
    end = None if end_value is None else _cast(end_value, dtype)

    def schedule(count: ArrayLike) -> jax.Array:
        t = jnp.maximum(jnp.asarray(count) - begin, 0)
        e = jnp.floor_divide(t, steps).astype(dtype) if staircase else t.astype(dtype) / steps
        value = init * rate**e
        if end is not None:
            value = jnp.where(rate < 1, jnp.maximum(value, end), jnp.minimum(value, end))
        return value

    return schedule


def piecewise_constant_schedule(
    init_value: ArrayLike, boundaries_and_scales: Mapping[int, ArrayLike] | None = None
) -> Schedule:
    """Piecewise constant: ``init_value`` times every scale whose step has been reached::

        f(t) = init_value * prod_{b <= t} scale_b

    Args:
        init_value: the value before the first boundary.
        boundaries_and_scales: ``{step: scale}`` with steps ``>= 0`` in increasing order and
            scales ``>= 0``; ``None`` gives a constant schedule.

    Returns:
        A schedule ``count -> value``.
    """
    owner = "piecewise_constant_schedule"
    boundaries, scales = _scales(owner, boundaries_and_scales)
    _finite(owner, init_value=init_value)
    dtype = _float_dtype(init_value, *scales)

    def schedule(count: ArrayLike) -> jax.Array:
        count = jnp.asarray(count)
        value = jnp.broadcast_to(jnp.asarray(init_value).astype(dtype), jnp.shape(count))
        for b, s in zip(boundaries, scales, strict=True):
            value = jnp.where(count >= b, value * _cast(s, dtype), value)
        return value

    return schedule


def piecewise_interpolate_schedule(
    interpolate_type: str, init_value: ArrayLike,
    boundaries_and_scales: Mapping[int, ArrayLike] | None = None,
) -> Schedule:
    """Interpolates, linearly or along a half cosine, between values set at boundaries.

    The values are ``v_0 = init_value`` at step 0 and ``v_k = v_{k-1} * scale_k`` at the
    k-th boundary ``b_k``; between ``b_{k-1}`` and ``b_k`` (with ``b_0 = 0``) and
    ``r = (t - b_{k-1}) / (b_k - b_{k-1})``::

        linear: f(t) = v_{k-1} + (v_k - v_{k-1}) * r
        cosine: f(t) = v_k + (v_{k-1} - v_k) * (1 + cos(pi * r)) / 2

    and ``f(t)`` is the last value after the last boundary.

    Args:
        interpolate_type: ``"linear"`` or ``"cosine"``.
        init_value: the value at step 0.
        boundaries_and_scales: ``{step: scale}`` with steps ``>= 0`` in increasing order and
            scales ``>= 0``; ``None`` gives a constant schedule.

    Returns:
        A schedule ``count -> value``.
    """
    owner = "piecewise_interpolate_schedule"
    if interpolate_type not in ("linear", "cosine"):
        raise ValueError(
            f"{owner}: interpolate_type must be 'linear' or 'cosine', got {interpolate_type!r}"
        )
    boundaries, scales = _scales(owner, boundaries_and_scales)
    _finite(owner, init_value=init_value)
    return _interpolate(interpolate_type, init_value, boundaries, scales)


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """Runs schedules one after another, each counting from 0 at its boundary::

        f(t) = schedules[k](t - boundaries[k-1])   for boundaries[k-1] <= t < boundaries[k]

    (with ``boundaries[-1] = 0`` for the first schedule).

    Args:
        schedules: ``n >= 1`` schedules (jaxdl's, optax's or any ``count -> value``).
        boundaries: ``n - 1`` steps ``>= 0``, strictly increasing, where each next schedule
            takes over.

    Returns:
        A schedule ``count -> value``.
    """
    owner = "join_schedules"
    schedules = list(schedules)
    boundaries = _increasing(owner, "boundaries", boundaries)
    if not schedules or len(schedules) != len(boundaries) + 1:
        raise ValueError(
            f"{owner}: needs one more schedule than boundaries, got {len(schedules)} schedules "
            f"and {len(boundaries)} boundaries"
        )
    for i, s in enumerate(schedules):
        if not callable(s):
            raise TypeError(f"{owner}: schedules[{i}] must be a callable count -> value, "
                            f"got {type(s).__name__}")

    def schedule(count: ArrayLike) -> jax.Array:
        count = jnp.asarray(count)
        starts = [0, *boundaries]
        values = [s(jnp.maximum(count - b, 0)) for s, b in zip(schedules, starts, strict=True)]
        dtype = _float_dtype(*values)
        out = jnp.broadcast_to(jnp.asarray(values[0]).astype(dtype), jnp.shape(count))
        for b, v in zip(boundaries, values[1:], strict=True):
            out = jnp.where(count >= b, jnp.asarray(v).astype(dtype), out)
        return out

    return schedule


def _onecycle_common(
    owner: str, transition_steps: int, peak_value: ArrayLike, div_factor: ArrayLike,
    final_div_factor: ArrayLike,
) -> int:
    """Validates the one-cycle arguments; returns ``transition_steps`` as an int."""
    steps = _steps(owner, "transition_steps", transition_steps, minimum=1)
    _finite(owner, peak_value=peak_value)
    for name, v in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
        check_hyperparameter(name, v, owner=owner, low=0.0, low_inclusive=False)
    return steps


def _fraction_arg(owner: str, name: str, value: Any, high: float) -> float:
    """A phase fraction (``pct_start``, ``pct_final``): a Python number in ``[0, high)``."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be a Python number (it sets the phase "
                        f"boundaries), got {value!r}")
    if not 0.0 <= value < high:
        raise ValueError(f"{owner}: {name} must be in [0, {high}), got {value}")
    return float(value)


def cosine_onecycle_schedule(
    transition_steps: int, peak_value: ArrayLike, pct_start: float = 0.3,
    div_factor: ArrayLike = 25.0, final_div_factor: ArrayLike = 1e4,
) -> Schedule:
    """One-cycle policy with cosine phases: up from ``peak / div_factor`` to ``peak``, then
    down to ``peak / (div_factor * final_div_factor)``.

    With ``S = int(pct_start * T)``, ``T = transition_steps``, ``v0 = P / div_factor`` and
    ``c(r) = (1 + cos(pi * r)) / 2``::

        f(t) = P + (v0 - P) * c(t / S)                  if t < S
               vT + (P - vT) * c((t - S) / (T - S))     if S <= t < T,  vT = v0 / final_div_factor
               vT                                       if t >= T

    Args:
        transition_steps: ``T > 0``, the cycle's length.
        peak_value: ``P``, the value at step ``S``.
        pct_start: the fraction of the cycle spent going up, in ``[0, 1)``.
        div_factor: ``> 0``; the start value is ``peak_value / div_factor``.
        final_div_factor: ``> 0``; the final value is the start value over this.

    Returns:
        A schedule ``count -> value``.

    References:
        Smith & Topin, "Super-Convergence: Very Fast Training of Neural Networks Using Large
        Learning Rates", 2017; Smith, "A disciplined approach to neural network
        hyper-parameters: Part 1", 2018.
    """
    owner = "cosine_onecycle_schedule"
    steps = _onecycle_common(owner, transition_steps, peak_value, div_factor, final_div_factor)
    start = int(_fraction_arg(owner, "pct_start", pct_start, 1.0) * steps)
    return _interpolate("cosine", peak_value / div_factor, [start, steps],
                        [div_factor, 1.0 / (div_factor * final_div_factor)])


def linear_onecycle_schedule(
    transition_steps: int, peak_value: ArrayLike, pct_start: float = 0.3, pct_final: float = 0.85,
    div_factor: ArrayLike = 25.0, final_div_factor: ArrayLike = 1e4,
) -> Schedule:
    """One-cycle policy with three linear phases.

    With ``T = transition_steps``, ``S = int(pct_start * T)``, ``F = int(pct_final * T)`` and
    ``v0 = peak_value / div_factor``: linear from ``v0`` to ``peak_value`` over ``[0, S]``,
    back to ``v0`` over ``[S, F]``, down to ``v0 / final_div_factor`` over ``[F, T]``, and
    constant after.

    Args:
        transition_steps: ``T > 0``, the cycle's length.
        peak_value: the value at step ``S``.
        pct_start: the fraction of the cycle spent going up, in ``[0, 1)``.
        pct_final: the fraction of the cycle at which the value is back to ``v0``, in
            ``(pct_start, 1)``, with ``int(pct_start * T) < int(pct_final * T)``.
        div_factor: ``> 0``; the start value is ``peak_value / div_factor``.
        final_div_factor: ``> 0``; the final value is the start value over this.

    Returns:
        A schedule ``count -> value``.

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", 2017; Smith & Topin,
        "Super-Convergence: Very Fast Training of Neural Networks Using Large Learning
        Rates", 2017.
    """
    owner = "linear_onecycle_schedule"
    steps = _onecycle_common(owner, transition_steps, peak_value, div_factor, final_div_factor)
    start = int(_fraction_arg(owner, "pct_start", pct_start, 1.0) * steps)
    final = int(_fraction_arg(owner, "pct_final", pct_final, 1.0) * steps)
    if final <= start:
        raise ValueError(
            f"{owner}: the way down must end after the way up: int(pct_final * "
            f"transition_steps) = {final} must exceed int(pct_start * transition_steps) = "
            f"{start} (pct_start={pct_start}, pct_final={pct_final}, "
            f"transition_steps={steps})"
        )
    return _interpolate("linear", peak_value / div_factor, [start, final, steps],
                        [div_factor, 1.0 / div_factor, 1.0 / final_div_factor])


def sgdr_schedule(cosine_kwargs: Iterable[dict[str, Any]]) -> Schedule:
    """SGD with warm restarts: ``warmup_cosine_decay_schedule`` cycles run back to back.

    Cycle ``k`` is ``warmup_cosine_decay_schedule(**cosine_kwargs[k])`` and lasts its
    ``decay_steps``; the next cycle restarts from its own ``init_value`` at step 0.

    Args:
        cosine_kwargs: one dict per cycle, with ``warmup_cosine_decay_schedule``'s arguments
            (``init_value``, ``peak_value``, ``warmup_steps``, ``decay_steps``, optionally
            ``end_value``, ``exponent``).

    Returns:
        A schedule ``count -> value``; it holds the last cycle's end value afterwards.

    References:
        Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", 2017.
    """
    owner = "sgdr_schedule"
    cycles = list(cosine_kwargs)
    if not cycles:
        raise ValueError(f"{owner}: cosine_kwargs must hold at least one cycle's arguments")
    schedules, boundaries, end = [], [], 0
    for i, kwargs in enumerate(cycles):
        if not isinstance(kwargs, Mapping):
            raise TypeError(f"{owner}: cosine_kwargs[{i}] must be a dict of "
                            f"warmup_cosine_decay_schedule arguments, got {type(kwargs).__name__}")
        try:
            schedules.append(warmup_cosine_decay_schedule(**kwargs))
        except (TypeError, ValueError) as e:
            raise type(e)(f"{owner}: cycle {i}: {e}") from None
        end += _steps(owner, f"cosine_kwargs[{i}]['decay_steps']", kwargs["decay_steps"])
        boundaries.append(end)
    return join_schedules(schedules, boundaries[:-1])

