"""Step sizes from a running second moment alone: RMSprop, centred RMSprop, AdaGrad, Adadelta.

None of these keeps momentum (chain ``trace`` for that). Their optax states hold no step count;
one is added (the ``...WithCountState`` types) only when it is needed: for bias correction, or
when a hyperparameter is a schedule, which is evaluated at the count before the update.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxdl.optim._moments import (
    check_flag,
    check_nonnegative,
    check_updates,
    coef,
    full,
    increment,
    like_updates,
    resolve_all,
    same,
    store,
    zero_count,
    zeros,
)
from jaxdl.optim.base import (
    GradientTransformation,
    ScalarOrSchedule,
    check_hyperparameter,
    resolve,
)
from jaxdl.optim.tree import tree_bias_correction, tree_update_moment

__all__ = [
    "ScaleByRmsState",
    "ScaleByRmsWithCountState",
    "ScaleByRStdDevState",
    "ScaleByRStdDevWithCountState",
    "ScaleByRssState",
    "ScaleByRssWithCountState",
    "ScaleByAdaDeltaState",
    "ScaleByAdaDeltaWithCountState",
    "scale_by_rms",
    "scale_by_stddev",
    "scale_by_rss",
    "scale_by_adadelta",
]


class ScaleByRmsState(NamedTuple):
    """State of ``scale_by_rms`` (constant hyperparameters, no bias correction)."""

    nu: Any  # like params


class ScaleByRmsWithCountState(NamedTuple):
    """State of ``scale_by_rms`` with bias correction or a scheduled hyperparameter."""

    count: jax.Array  # shape=(), int32
    nu: Any  # like params


class ScaleByRStdDevState(NamedTuple):
    """State of ``scale_by_stddev`` (constant hyperparameters, no bias correction)."""

    mu: Any  # like params
    nu: Any  # like params


class ScaleByRStdDevWithCountState(NamedTuple):
    """State of ``scale_by_stddev`` with bias correction or a scheduled hyperparameter."""

    count: jax.Array  # shape=(), int32
    mu: Any  # like params
    nu: Any  # like params


class ScaleByRssState(NamedTuple):
    """State of ``scale_by_rss`` (constant hyperparameters)."""

    sum_of_squares: Any  # like params


class ScaleByRssWithCountState(NamedTuple):
    """State of ``scale_by_rss`` with a scheduled ``eps`` (a jaxdl addition)."""

    count: jax.Array  # shape=(), int32
    sum_of_squares: Any  # like params


class ScaleByAdaDeltaState(NamedTuple):
    """State of ``scale_by_adadelta`` (constant hyperparameters)."""

    e_g: Any  # like params: running mean of squared gradients
    e_x: Any  # like params: running mean of squared updates


class ScaleByAdaDeltaWithCountState(NamedTuple):
    """State of ``scale_by_adadelta`` with a scheduled hyperparameter (a jaxdl addition)."""

    count: jax.Array  # shape=(), int32
    e_g: Any  # like params
    e_x: Any  # like params


def _stateful(plain: type, counted: type, needs_count: bool) -> tuple[Callable, Callable]:
    """``make(count, *fields)`` builds the state with or without a count; ``count_of(state)``
    is the count to resolve schedules with (``None`` when the state has none)."""

    def make(count, *fields):
        return counted(count, *fields) if needs_count else plain(*fields)

    def count_of(state):
        return state.count if needs_count else None

    return make, count_of


def _inv_root(x: jax.Array, eps: Any, eps_in_sqrt: bool) -> jax.Array:
    """``1 / sqrt(x + eps)`` or ``1 / (sqrt(x) + eps)``."""
    if eps_in_sqrt:
        return lax.rsqrt(x + coef(eps, x.dtype))
    return 1 / (jnp.sqrt(x) + coef(eps, x.dtype))


def _scale(g: jax.Array, factor: jax.Array) -> jax.Array:
    return jnp.multiply(*same(g, factor))


def scale_by_rms(
    decay: ScalarOrSchedule = 0.9,
    eps: ScalarOrSchedule = 1e-8,
    initial_scale: ScalarOrSchedule = 0.0,
    eps_in_sqrt: bool = True,
    bias_correction: bool = False,
) -> GradientTransformation:
    r"""Rescales updates by the root of a running mean of squared gradients (RMSprop).

    .. math::
        v_t = \rho v_{t-1} + (1 - \rho) g_t^2, \ v_0 = \text{initial\_scale}, \quad
        u_t = g_t / \sqrt{\hat v_t + \varepsilon} \ \text{(or } g_t / (\sqrt{\hat v_t} +
        \varepsilon) \text{ if not eps\_in\_sqrt)},

    with :math:`\hat v_t = v_t / (1 - \rho^t)` if ``bias_correction`` else :math:`v_t`.

    Args:
        decay: :math:`\rho`, in [0, 1] ([0, 1) with bias correction).
        eps: :math:`\varepsilon`, >= 0.
        initial_scale: :math:`v_0`, >= 0 (PyTorch uses 0, TF1 used 1).
        eps_in_sqrt: Put ``eps`` inside the square root (optax's default) or outside it.
        bias_correction: Divide :math:`v_t` by :math:`1 - \rho^t`; with ``eps_in_sqrt=False``
            this is Adam with ``b1=0``.

    Returns:
        A ``GradientTransformation`` with state ``ScaleByRmsState(nu)``, or
        ``ScaleByRmsWithCountState(count, nu)`` with bias correction or a scheduled
        ``decay``/``eps``.

    References:
        Tieleman & Hinton, "Lecture 6.5 - RMSProp: Divide the gradient by a running average
        of its recent magnitude", COURSERA: Neural Networks for Machine Learning, 2012.

    Warning:
        The default ``eps_in_sqrt=True`` computes :math:`\sqrt{v + \varepsilon}`; PyTorch and
        Keras compute :math:`\sqrt{v} + \varepsilon`: pass ``eps_in_sqrt=False`` to match them.
    """
    owner = "scale_by_rms"
    check_flag(owner, eps_in_sqrt=eps_in_sqrt, bias_correction=bias_correction)
    check_hyperparameter("decay", decay, owner=owner, high=1.0, high_inclusive=not bias_correction)
    check_nonnegative(owner, eps=eps, initial_scale=initial_scale)
    make, count_of = _stateful(
        ScaleByRmsState,
        ScaleByRmsWithCountState,
        bias_correction or callable(decay) or callable(eps),
    )

    def init_fn(params):
        return make(zero_count(), full(params, resolve(initial_scale, zero_count())))

    def update_fn(updates, state, params=None):
        del params
        check_updates(state.nu, updates, owner=owner)
        count = count_of(state)
        decay_, eps_ = resolve_all(count, decay, eps)
        count = None if count is None else increment(count)
        nu = tree_update_moment(updates, state.nu, decay_, 2)
        nu_hat = nu
        if bias_correction:
            nu_hat = tree_bias_correction(nu, decay_, count)
        new = jax.tree.map(lambda g, v: _scale(g, _inv_root(v, eps_, eps_in_sqrt)), updates, nu_hat)
        return like_updates(new, updates), make(count, store(nu, state.nu))

    return GradientTransformation(init_fn, update_fn)


def scale_by_stddev(
    decay: ScalarOrSchedule = 0.9,
    eps: ScalarOrSchedule = 1e-8,
    initial_scale: ScalarOrSchedule = 0.0,
    eps_in_sqrt: bool = True,
    bias_correction: bool = False,
) -> GradientTransformation:
    r"""Rescales updates by the root of a running variance of the gradients (centred RMSprop).

    .. math::
        m_t = \rho m_{t-1} + (1 - \rho) g_t, \quad
        v_t = \rho v_{t-1} + (1 - \rho) g_t^2, \ m_0 = 0, \ v_0 = \text{initial\_scale}, \\
        u_t = g_t / \sqrt{\hat v_t - \hat m_t^2 + \varepsilon} \ \text{(or }
        g_t / (\sqrt{\hat v_t - \hat m_t^2} + \varepsilon) \text{ if not eps\_in\_sqrt)},

    with both moments divided by :math:`1 - \rho^t` if ``bias_correction``.

    Args:
        decay: :math:`\rho`, in [0, 1] ([0, 1) with bias correction).
        eps: :math:`\varepsilon`, >= 0.
        initial_scale: :math:`v_0`, >= 0.
        eps_in_sqrt: Put ``eps`` inside the square root (optax's default) or outside it.
        bias_correction: Bias-correct both moments.

    Returns:
        A ``GradientTransformation`` with state ``ScaleByRStdDevState(mu, nu)``, or
        ``ScaleByRStdDevWithCountState(count, mu, nu)`` with bias correction or a scheduled
        ``decay``/``eps``.

    References:
        Graves, "Generating Sequences With Recurrent Neural Networks", 2013.

    Warning:
        PyTorch's ``RMSprop(centered=True)`` and Keras compute :math:`\sqrt{v - m^2} +
        \varepsilon`: pass ``eps_in_sqrt=False`` to match them.
    """
    owner = "scale_by_stddev"
    check_flag(owner, eps_in_sqrt=eps_in_sqrt, bias_correction=bias_correction)
    check_hyperparameter("decay", decay, owner=owner, high=1.0, high_inclusive=not bias_correction)
    check_nonnegative(owner, eps=eps, initial_scale=initial_scale)
    make, count_of = _stateful(
        ScaleByRStdDevState,
        ScaleByRStdDevWithCountState,
        bias_correction or callable(decay) or callable(eps),
    )

    def init_fn(params):
        return make(zero_count(), zeros(params), full(params, resolve(initial_scale, zero_count())))

    def update_fn(updates, state, params=None):
        del params
        check_updates(state.nu, updates, owner=owner)
        count = count_of(state)
        decay_, eps_ = resolve_all(count, decay, eps)
        count = None if count is None else increment(count)
        mu = tree_update_moment(updates, state.mu, decay_, 1)
        nu = tree_update_moment(updates, state.nu, decay_, 2)

        def step(g, m, v):
            if bias_correction:
                m, v = tree_bias_correction((m, v), decay_, count)
            m, v = same(m, v)
            return _scale(g, _inv_root(v - jnp.square(m), eps_, eps_in_sqrt))

        new = jax.tree.map(step, updates, mu, nu)
        return like_updates(new, updates), make(count, store(mu, state.mu), store(nu, state.nu))

    return GradientTransformation(init_fn, update_fn)


def scale_by_rss(
    initial_accumulator_value: ScalarOrSchedule = 0.1,
    eps: ScalarOrSchedule = 1e-7,
) -> GradientTransformation:
    r"""Rescales updates by the root of the sum of all squared gradients so far (AdaGrad).

    .. math::
        s_t = s_{t-1} + g_t^2, \ s_0 = \text{initial\_accumulator\_value}, \quad
        u_t = g_t / \sqrt{s_t + \varepsilon} \ (u_t = 0 \text{ where } s_t = 0).

    Args:
        initial_accumulator_value: :math:`s_0`, >= 0.
        eps: :math:`\varepsilon`, added inside the square root, >= 0.

    Returns:
        A ``GradientTransformation`` with state ``ScaleByRssState(sum_of_squares)``, or
        ``ScaleByRssWithCountState(count, sum_of_squares)`` when ``eps`` is a schedule.

    References:
        Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning and
        Stochastic Optimization", JMLR 2011.

    Warning:
        optax (and this) start the accumulator at 0.1 and put ``eps=1e-7`` inside the square
        root; PyTorch's ``Adagrad`` starts it at 0 and adds ``eps=1e-10`` outside the square
        root, and the paper has neither.
    """
    owner = "scale_by_rss"
    check_nonnegative(owner, initial_accumulator_value=initial_accumulator_value, eps=eps)
    make, count_of = _stateful(ScaleByRssState, ScaleByRssWithCountState, callable(eps))

    def init_fn(params):
        return make(zero_count(), full(params, resolve(initial_accumulator_value, zero_count())))

    def update_fn(updates, state, params=None):
        del params
        check_updates(state.sum_of_squares, updates, owner=owner)
        count = count_of(state)
        (eps_,) = resolve_all(count, eps)
        count = None if count is None else increment(count)

        def accumulate(g, s):
            return jnp.add(*same(s, jnp.square(g)))

        def step(g, s):
            return _scale(jnp.where(s > 0, lax.rsqrt(s + coef(eps_, s.dtype)), 0), g)

        sos = jax.tree.map(accumulate, updates, state.sum_of_squares)
        new = jax.tree.map(step, updates, sos)
        return like_updates(new, updates), make(count, store(sos, state.sum_of_squares))

    return GradientTransformation(init_fn, update_fn)


def scale_by_adadelta(
    rho: ScalarOrSchedule = 0.9,
    eps: ScalarOrSchedule = 1e-6,
) -> GradientTransformation:
    r"""Rescales updates by Adadelta's ratio of running RMS of past updates and of gradients.

    .. math::
        E[g^2]_t = \rho E[g^2]_{t-1} + (1 - \rho) g_t^2, \quad
        u_t = \frac{\sqrt{E[u^2]_{t-1} + \varepsilon}}{\sqrt{E[g^2]_t + \varepsilon}} g_t,
        \quad E[u^2]_t = \rho E[u^2]_{t-1} + (1 - \rho) u_t^2.

    Args:
        rho: :math:`\rho`, in [0, 1].
        eps: :math:`\varepsilon`, >= 0 (with ``eps = 0`` the first update is zero).

    Returns:
        A ``GradientTransformation`` with state ``ScaleByAdaDeltaState(e_g, e_x)``, or
        ``ScaleByAdaDeltaWithCountState(count, e_g, e_x)`` when a hyperparameter is a schedule.

    References:
        Zeiler, "ADADELTA: An Adaptive Learning Rate Method", 2012.

    Warning:
        The paper has no learning rate (it is 1, PyTorch's default ``lr=1.0``); any learning
        rate chained after this transformation scales these updates further.
    """
    owner = "scale_by_adadelta"
    check_hyperparameter("rho", rho, owner=owner, high=1.0)
    check_nonnegative(owner, eps=eps)
    make, count_of = _stateful(
        ScaleByAdaDeltaState, ScaleByAdaDeltaWithCountState, callable(rho) or callable(eps)
    )

    def init_fn(params):
        return make(zero_count(), zeros(params), zeros(params))

    def update_fn(updates, state, params=None):
        del params
        check_updates(state.e_g, updates, owner=owner)
        count = count_of(state)
        rho_, eps_ = resolve_all(count, rho, eps)
        count = None if count is None else increment(count)
        e_g = tree_update_moment(updates, state.e_g, rho_, 2)

        def step(g, eg, ex):
            ratio = jnp.sqrt(ex + coef(eps_, ex.dtype)) / jnp.sqrt(eg + coef(eps_, eg.dtype))
            return _scale(ratio, g)

        new = jax.tree.map(step, updates, e_g, state.e_x)
        e_x = tree_update_moment(new, state.e_x, rho_, 2)
        state = make(count, store(e_g, state.e_g), store(e_x, state.e_x))
        return like_updates(new, updates), state

    return GradientTransformation(init_fn, update_fn)
