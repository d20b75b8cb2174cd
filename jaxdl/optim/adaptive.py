"""Adam and its relatives: per-parameter step sizes from bias-corrected running moments.

Each ``scale_by_<algo>`` returns a ``GradientTransformation`` whose updates point along the
gradient (chain ``scale_by_learning_rate`` to descend). Hyperparameters may be Python numbers,
JAX scalars (possibly traced, for ``vmap`` over a grid) or schedules ``count -> value``, which
are evaluated at the state's step count before it is incremented (step 0 is the first update).
States keep the dtype ``init`` gave them (the params' dtype, or ``mu_dtype`` for the first
moment); updates come back in the dtype of the incoming updates.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxdl.optim._moments import (
    adam_step,
    canonical_dtype,
    check_flag,
    check_nonnegative,
    check_unit,
    check_updates,
    coef,
    first_moment,
    full,
    increment,
    like_updates,
    power,
    resolve_all,
    same,
    store,
    zero_count,
    zeros,
)
from jaxdl.optim.base import GradientTransformation, ScalarOrSchedule, check_hyperparameter, resolve
from jaxdl.optim.tree import tree_bias_correction, tree_update_moment

__all__ = [
    "ScaleByAdamState",
    "ScaleByAmsgradState",
    "ScaleByBeliefState",
    "scale_by_adam",
    "scale_by_amsgrad",
    "scale_by_adamax",
    "scale_by_belief",
    "scale_by_yogi",
    "scale_by_radam",
]


class ScaleByAdamState(NamedTuple):
    """State of ``scale_by_adam``, ``scale_by_adamax``, ``scale_by_yogi``, ``scale_by_radam``."""

    count: jax.Array  # shape=(), int32
    mu: Any  # like params, in mu_dtype (or the params' dtype)
    nu: Any  # like params


class ScaleByAmsgradState(NamedTuple):
    """State of ``scale_by_amsgrad``."""

    count: jax.Array  # shape=(), int32
    mu: Any  # like params, in mu_dtype (or the params' dtype)
    nu: Any  # like params
    nu_max: Any  # like params


class ScaleByBeliefState(NamedTuple):
    """State of ``scale_by_belief``."""

    count: jax.Array  # shape=(), int32
    mu: Any  # like params
    nu: Any  # like params


# ----------------------------------------------------------------------------------------------
# Adam, NAdam, AMSGrad, AdaMax.


def scale_by_adam(
    b1: ScalarOrSchedule = 0.9,
    b2: ScalarOrSchedule = 0.999,
    eps: ScalarOrSchedule = 1e-8,
    eps_root: ScalarOrSchedule = 0.0,
    mu_dtype: Any = None,
    *,
    nesterov: bool = False,
) -> GradientTransformation:
    r"""Rescales updates by Adam's bias-corrected first and second moments.

    With gradient :math:`g_t` at step :math:`t = 1, 2, \dots`:

    .. math::
        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \\
        \hat m_t = m_t / (1 - \beta_1^t), \quad \hat v_t = v_t / (1 - \beta_2^t), \quad
        u_t = \hat m_t / (\sqrt{\hat v_t + \bar\varepsilon} + \varepsilon).

    With ``nesterov=True`` (NAdam), :math:`\hat m_t = \beta_1 m_t / (1 - \beta_1^{t+1})
    + (1 - \beta_1) g_t / (1 - \beta_1^t)`.

    Args:
        b1: Decay rate :math:`\beta_1` of the first moment, in [0, 1).
        b2: Decay rate :math:`\beta_2` of the second moment, in [0, 1).
        eps: :math:`\varepsilon`, added to the denominator outside the square root.
        eps_root: :math:`\bar\varepsilon`, added inside the square root (needed to
            differentiate through the update, e.g. in meta-learning).
        mu_dtype: Dtype in which the first moment is stored (e.g. ``jnp.bfloat16``); ``None``
            keeps the params' dtype. Updates come back in the incoming updates' dtype.
        nesterov: Use Nesterov momentum (NAdam).

    Returns:
        A ``GradientTransformation`` with state ``ScaleByAdamState(count, mu, nu)``.

    References:
        Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
        Dozat, "Incorporating Nesterov Momentum into Adam", ICLR workshop 2016.

    Warning:
        Like PyTorch and optax this is Algorithm 1 of the paper (``eps`` added to the bias-
        corrected square root); TensorFlow used the formulation just before the paper's
        Section 2.1 (bias corrections folded into the step size, ``eps`` added to the
        uncorrected :math:`\sqrt{v_t}`), which differs in the first steps.
    """
    owner = "scale_by_adam"
    check_unit(owner, b1=b1, b2=b2)
    check_nonnegative(owner, eps=eps, eps_root=eps_root)
    check_flag(owner, nesterov=nesterov)
    mu_dtype = canonical_dtype(mu_dtype, owner=owner)

    def init_fn(params):
        return ScaleByAdamState(zero_count(), zeros(params, mu_dtype), zeros(params))

    def update_fn(updates, state, params=None):
        del params
        check_updates(state.nu, updates, owner=owner)
        b1_, b2_, eps_, eps_root_ = resolve_all(state.count, b1, b2, eps, eps_root)
        count = increment(state.count)
        mu = tree_update_moment(updates, state.mu, b1_, 1)
        nu = tree_update_moment(updates, state.nu, b2_, 2)
        mu_hat = first_moment(updates, mu, b1_, count, nesterov)
        nu_hat = tree_bias_correction(nu, b2_, count)
        new = jax.tree.map(lambda m, v: adam_step(m, v, eps_, eps_root_), mu_hat, nu_hat)
        state = ScaleByAdamState(count, store(mu, state.mu), store(nu, state.nu))
        return like_updates(new, updates), state

    return GradientTransformation(init_fn, update_fn)


def scale_by_amsgrad(
    b1: ScalarOrSchedule = 0.9,
    b2: ScalarOrSchedule = 0.999,
    eps: ScalarOrSchedule = 1e-8,
    eps_root: ScalarOrSchedule = 0.0,
    mu_dtype: Any = None,
    bias_correction_mu: bool = True,
    bias_correction_nu: bool = True,
) -> GradientTransformation:
    r"""Rescales updates like Adam, dividing by the running maximum of the second moment.

    .. math::
        m_t, v_t \text{ as in Adam}, \quad
        \hat v^{\max}_t = \max(\hat v^{\max}_{t-1}, \hat v_t), \quad
        u_t = \hat m_t / (\sqrt{\hat v^{\max}_t + \bar\varepsilon} + \varepsilon),

    where :math:`\hat m_t = m_t / (1 - \beta_1^t)` and :math:`\hat v_t = v_t / (1 - \beta_2^t)`
    when the corresponding bias correction is on, and the raw moments otherwise.

    Args:
        b1: Decay rate of the first moment, in [0, 1).
        b2: Decay rate of the second moment, in [0, 1).
        eps: Added to the denominator outside the square root.
        eps_root: Added inside the square root.
        mu_dtype: Storage dtype of the first moment; ``None`` keeps the params' dtype.
        bias_correction_mu: Bias-correct the first moment (``False`` matches the paper).
        bias_correction_nu: Bias-correct the second moment before the maximum (``False``
            matches the paper).

    Returns:
        A ``GradientTransformation`` with state ``ScaleByAmsgradState(count, mu, nu, nu_max)``.

    References:
        Reddi, Kale & Kumar, "On the Convergence of Adam and Beyond", ICLR 2018.

    Warning:
        The defaults bias-correct both moments, as optax does; PyTorch's ``amsgrad=True``
        takes the maximum of the raw ``v_t`` and bias-corrects afterwards.
    """
    owner = "scale_by_amsgrad"
    check_unit(owner, b1=b1, b2=b2)
    check_nonnegative(owner, eps=eps, eps_root=eps_root)
    check_flag(owner, bias_correction_mu=bias_correction_mu, bias_correction_nu=bias_correction_nu)
    mu_dtype = canonical_dtype(mu_dtype, owner=owner)

    def init_fn(params):
        nu = zeros(params)
        return ScaleByAmsgradState(zero_count(), zeros(params, mu_dtype), nu, nu)

    def update_fn(updates, state, params=None):
        del params
        check_updates(state.nu, updates, owner=owner)
        b1_, b2_, eps_, eps_root_ = resolve_all(state.count, b1, b2, eps, eps_root)
        count = increment(state.count)
        mu = tree_update_moment(updates, state.mu, b1_, 1)
        nu = tree_update_moment(updates, state.nu, b2_, 2)
        mu_hat = mu
        if bias_correction_mu:
            mu_hat = tree_bias_correction(mu, b1_, count)
        nu_hat = nu
        if bias_correction_nu:
            nu_hat = tree_bias_correction(nu, b2_, count)
        nu_max = jax.tree.map(lambda a, b: jnp.maximum(*same(a, b)), state.nu_max, nu_hat)
        new = jax.tree.map(lambda m, v: adam_step(m, v, eps_, eps_root_), mu_hat, nu_max)
        state = ScaleByAmsgradState(
            count, store(mu, state.mu), store(nu, state.nu), store(nu_max, state.nu_max)
        )
        return like_updates(new, updates), state

    return GradientTransformation(init_fn, update_fn)


def scale_by_adamax(
    b1: ScalarOrSchedule = 0.9,
    b2: ScalarOrSchedule = 0.999,
    eps: ScalarOrSchedule = 1e-8,
) -> GradientTransformation:
    r"""Rescales updates by AdaMax's exponentially weighted infinity norm.

    .. math::
        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
        v_t = \max(|g_t| + \varepsilon, \beta_2 v_{t-1}), \quad
        u_t = \frac{m_t / (1 - \beta_1^t)}{v_t}.

    Args:
        b1: Decay rate of the first moment, in [0, 1).
        b2: Decay rate of the running maximum, in [0, 1).
        eps: Added to :math:`|g_t|` so the denominator is never zero.

    Returns:
        A ``GradientTransformation`` with state ``ScaleByAdamState(count, mu, nu)``.

    References:
        Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015 (Section 7.1).

    Warning:
        ``eps`` is added to :math:`|g_t|` inside the maximum (as optax); PyTorch adds it the
        same way, Keras adds it to the denominator after the maximum.
    """
    owner = "scale_by_adamax"
    check_unit(owner, b1=b1, b2=b2)
    check_nonnegative(owner, eps=eps)

    def init_fn(params):
        return ScaleByAdamState(zero_count(), zeros(params), zeros(params))

    def update_fn(updates, state, params=None):
        del params
        check_updates(state.nu, updates, owner=owner)
        b1_, b2_, eps_ = resolve_all(state.count, b1, b2, eps)
        count = increment(state.count)
        mu = tree_update_moment(updates, state.mu, b1_, 1)
        nu = jax.tree.map(
            lambda g, v: jnp.maximum(
                *same(jnp.abs(g) + coef(eps_, g.dtype), coef(b2_, v.dtype) * v)
            ),
            updates,
            state.nu,
        )
        new = jax.tree.map(
            lambda m, v: jnp.divide(*same(tree_bias_correction(m, b1_, count), v)), mu, nu
        )
        state = ScaleByAdamState(count, store(mu, state.mu), store(nu, state.nu))
        return like_updates(new, updates), state

    return GradientTransformation(init_fn, update_fn)


# ----------------------------------------------------------------------------------------------
# AdaBelief, Yogi, RAdam.


def scale_by_belief(
    b1: ScalarOrSchedule = 0.9,
    b2: ScalarOrSchedule = 0.999,
    eps: ScalarOrSchedule = 1e-16,
    eps_root: ScalarOrSchedule = 1e-16,
    *,
    nesterov: bool = False,
) -> GradientTransformation:
    r"""Rescales updates by AdaBelief's variance of the gradient around its running mean.

    .. math::
        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
        s_t = \beta_2 s_{t-1} + (1 - \beta_2) (g_t - m_t)^2 + \bar\varepsilon, \\
        u_t = \frac{m_t / (1 - \beta_1^t)}{\sqrt{s_t / (1 - \beta_2^t)} + \varepsilon},

    with the NAdam estimate of :math:`\hat m_t` (see ``scale_by_adam``) when ``nesterov``.

    Args:
        b1: Decay rate of the first moment, in [0, 1).
        b2: Decay rate of the second moment of the prediction error, in [0, 1).
        eps: Added to the denominator outside the square root.
        eps_root: Added to :math:`s_t` at every step (stored in the state); must be non-zero
            to differentiate through the update.
        nesterov: Use Nesterov momentum.

    Returns:
        A ``GradientTransformation`` with state ``ScaleByBeliefState(count, mu, nu)``.

    References:
        Zhuang et al., "AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed
        Gradients", NeurIPS 2020.

    Warning:
        The defaults ``eps=1e-16, eps_root=1e-16`` are optax's; optax gives the paper's as
        ``eps=1e-8, eps_root=0``.
    """
    owner = "scale_by_belief"
    check_unit(owner, b1=b1, b2=b2)
    check_nonnegative(owner, eps=eps, eps_root=eps_root)
    check_flag(owner, nesterov=nesterov)

    def init_fn(params):
        return ScaleByBeliefState(zero_count(), zeros(params), zeros(params))

    def update_fn(updates, state, params=None):
        del params
        check_updates(state.nu, updates, owner=owner)
        b1_, b2_, eps_, eps_root_ = resolve_all(state.count, b1, b2, eps, eps_root)
        count = increment(state.count)
        mu = tree_update_moment(updates, state.mu, b1_, 1)
        errors = jax.tree.map(lambda g, m: jnp.subtract(*same(g, m)), updates, mu)
        nu = tree_update_moment(errors, state.nu, b2_, 2)
        nu = jax.tree.map(lambda s: s + coef(eps_root_, s.dtype), nu)
        mu_hat = first_moment(updates, mu, b1_, count, nesterov)
        nu_hat = tree_bias_correction(nu, b2_, count)
        new = jax.tree.map(lambda m, s: adam_step(m, s, eps_, 0), mu_hat, nu_hat)
        state = ScaleByBeliefState(count, store(mu, state.mu), store(nu, state.nu))
        return like_updates(new, updates), state

    return GradientTransformation(init_fn, update_fn)


def scale_by_yogi(
    b1: ScalarOrSchedule = 0.9,
    b2: ScalarOrSchedule = 0.999,
    eps: ScalarOrSchedule = 1e-3,
    eps_root: ScalarOrSchedule = 0.0,
    initial_accumulator_value: ScalarOrSchedule = 1e-6,
) -> GradientTransformation:
    r"""Rescales updates by Yogi's additively (not multiplicatively) adapted second moment.

    .. math::
        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
        v_t = v_{t-1} - (1 - \beta_2)\,\mathrm{sign}(v_{t-1} - g_t^2)\, g_t^2, \\
        u_t = \frac{m_t / (1 - \beta_1^t)}{\sqrt{v_t / (1 - \beta_2^t) + \bar\varepsilon}
        + \varepsilon},

    with :math:`m_0 = v_0 =` ``initial_accumulator_value``.

    Args:
        b1: Decay rate of the first moment, in [0, 1).
        b2: Rate of the second-moment correction, in [0, 1).
        eps: Added to the denominator outside the square root.
        eps_root: Added inside the square root.
        initial_accumulator_value: Initial value of both moments, >= 0.

    Returns:
        A ``GradientTransformation`` with state ``ScaleByAdamState(count, mu, nu)``.

    References:
        Zaheer, Reddi, Sachan, Kale & Kumar, "Adaptive Methods for Nonconvex Optimization",
        NeurIPS 2018.

    Warning:
        As in optax, both moments start at ``initial_accumulator_value`` and are bias-corrected
        like Adam's; the paper's Algorithm 2 has no bias correction.
    """
    owner = "scale_by_yogi"
    check_unit(owner, b1=b1, b2=b2)
    check_nonnegative(
        owner, eps=eps, eps_root=eps_root, initial_accumulator_value=initial_accumulator_value
    )

    def init_fn(params):
        value = resolve(initial_accumulator_value, zero_count())
        return ScaleByAdamState(zero_count(), full(params, value), full(params, value))

    def update_fn(updates, state, params=None):
        del params
        check_updates(state.nu, updates, owner=owner)
        b1_, b2_, eps_, eps_root_ = resolve_all(state.count, b1, b2, eps, eps_root)
        count = increment(state.count)
        mu = tree_update_moment(updates, state.mu, b1_, 1)

        def second(g, v):
            g2, v = same(jnp.square(g), v)
            return v - coef(1 - b2_, v.dtype) * jnp.sign(v - g2) * g2

        nu = jax.tree.map(second, updates, state.nu)
        mu_hat = tree_bias_correction(mu, b1_, count)
        nu_hat = tree_bias_correction(nu, b2_, count)
        new = jax.tree.map(lambda m, v: adam_step(m, v, eps_, eps_root_), mu_hat, nu_hat)
        state = ScaleByAdamState(count, store(mu, state.mu), store(nu, state.nu))
        return like_updates(new, updates), state

    return GradientTransformation(init_fn, update_fn)


def scale_by_radam(
    b1: ScalarOrSchedule = 0.9,
    b2: ScalarOrSchedule = 0.999,
    eps: ScalarOrSchedule = 1e-8,
    eps_root: ScalarOrSchedule = 0.0,
    threshold: ScalarOrSchedule = 5.0,
    *,
    nesterov: bool = False,
) -> GradientTransformation:
    r"""Rescales updates by Rectified Adam: Adam once the variance of its step is tractable.

    With Adam's :math:`\hat m_t, \hat v_t` and :math:`\rho_\infty = 2 / (1 - \beta_2) - 1`:

    .. math::
        \rho_t = \rho_\infty - \frac{2 t \beta_2^t}{1 - \beta_2^t}, \quad
        r_t = \sqrt{\frac{(\rho_t - 4)(\rho_t - 2)\rho_\infty}
                         {(\rho_\infty - 4)(\rho_\infty - 2)\rho_t}}, \\
        u_t = r_t \hat m_t / (\sqrt{\hat v_t + \bar\varepsilon} + \varepsilon)
        \text{ if } \rho_t \ge \text{threshold}, \text{ else } u_t = \hat m_t.

    Args:
        b1: Decay rate of the first moment, in [0, 1).
        b2: Decay rate of the second moment, in [0, 1).
        eps: Added to the denominator outside the square root.
        eps_root: Added inside the square root.
        threshold: Smallest :math:`\rho_t` at which the adaptive step is used; >= 4, since
            :math:`r_t` is not real for :math:`2 < \rho_t < 4`.
        nesterov: Use the NAdam estimate of :math:`\hat m_t`.

    Returns:
        A ``GradientTransformation`` with state ``ScaleByAdamState(count, mu, nu)``.

    References:
        Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020.

    Warning:
        The paper's Algorithm 2 rectifies when :math:`\rho_t > 4`; optax (and this), the
        authors' code and PyTorch use 5 (PyTorch with a strict ``>``).
    """
    owner = "scale_by_radam"
    check_unit(owner, b1=b1, b2=b2)
    check_nonnegative(owner, eps=eps, eps_root=eps_root)
    check_hyperparameter("threshold", threshold, owner=owner, low=4.0)
    check_flag(owner, nesterov=nesterov)

    def init_fn(params):
        return ScaleByAdamState(zero_count(), zeros(params), zeros(params))

    def update_fn(updates, state, params=None):
        del params
        check_updates(state.nu, updates, owner=owner)
        b1_, b2_, eps_, eps_root_, threshold_ = resolve_all(
            state.count, b1, b2, eps, eps_root, threshold
        )
        count = increment(state.count)
        mu = tree_update_moment(updates, state.mu, b1_, 1)
        nu = tree_update_moment(updates, state.nu, b2_, 2)
        rho_inf = 2 / (1 - b2_) - 1
        b2_t = power(b2_, count)
        rho = rho_inf - 2 * count.astype(b2_t.dtype) * b2_t / (1 - b2_t)
        rect = jnp.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
        adaptive = rho >= coef(threshold_, rho.dtype)

        def step(m, v):
            u = adam_step(rect.astype(m.dtype) * m, v, eps_, eps_root_)
            return jnp.where(adaptive, *same(u, m))

        mu_hat = first_moment(updates, mu, b1_, count, nesterov)
        new = jax.tree.map(step, mu_hat, tree_bias_correction(nu, b2_, count))
        state = ScaleByAdamState(count, store(mu, state.mu), store(nu, state.nu))
        return like_updates(new, updates), state

    return GradientTransformation(init_fn, update_fn)
