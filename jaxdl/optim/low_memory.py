"""Adaptive methods that keep less state than Adam: Lion, NovoGrad, Adafactor.

Lion keeps one moment and steps by its sign; NovoGrad keeps one second-moment scalar per leaf
(per layer); Adafactor's ``scale_by_factored_rms`` keeps, for matrices, one row and one column
of second-moment statistics instead of a full matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.optim._moments import (
    canonical_dtype,
    check_nonnegative,
    check_unit,
    check_updates,
    coef,
    increment,
    like_updates,
    resolve_all,
    same,
    store,
    wider,
    zero_count,
    zeros,
)
from jaxdl.optim.base import (
    GradientTransformation,
    ScalarOrSchedule,
    check_hyperparameter,
    require_params,
)
from jaxdl.optim.tree import tree_update_moment

__all__ = [
    "ScaleByLionState",
    "ScaleByNovogradState",
    "FactoredState",
    "scale_by_lion",
    "scale_by_novograd",
    "scale_by_factored_rms",
]


class ScaleByLionState(NamedTuple):
    """State of ``scale_by_lion``."""

    count: jax.Array  # shape=(), int32
    mu: Any  # like params, in mu_dtype (or the params' dtype)


class ScaleByNovogradState(NamedTuple):
    """State of ``scale_by_novograd``."""

    count: jax.Array  # shape=(), int32
    mu: Any  # like params, in mu_dtype (or the params' dtype)
    nu: Any  # one scalar per leaf: shape=(), the leaf's dtype


class FactoredState(NamedTuple):
    """State of ``scale_by_factored_rms``; unused entries of a leaf hold zeros of shape (1,)."""

    count: jax.Array  # shape=(), int32
    v_row: Any  # factored leaf: its shape without the largest axis; else shape=(1,)
    v_col: Any  # factored leaf: its shape without the second-largest axis; else shape=(1,)
    v: Any  # unfactored leaf: its shape; else shape=(1,)


def scale_by_lion(
    b1: ScalarOrSchedule = 0.9,
    b2: ScalarOrSchedule = 0.99,
    mu_dtype: Any = None,
    *,
    mode: Literal["hard", "smooth", "refined"] = "hard",
    smooth_beta: ScalarOrSchedule = 1.0,
) -> GradientTransformation:
    r"""Rescales updates to Lion's sign of an interpolated momentum.

    .. math::
        c_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad u_t = \phi(c_t), \quad
        m_t = \beta_2 m_{t-1} + (1 - \beta_2) g_t,

    with :math:`\phi = \mathrm{sign}` (``mode="hard"``, the paper's),
    :math:`\phi(c) = \tanh(\beta_s c)` (``"smooth"``, :math:`\beta_s` = ``smooth_beta``) or
    :math:`\phi(c) = \mathrm{clip}(c, -1, 1)` (``"refined"``: linear near 0, sign beyond 1).

    Args:
        b1: Weight of the momentum in the update direction, in [0, 1].
        b2: Decay rate of the momentum, in [0, 1].
        mu_dtype: Storage dtype of the momentum; ``None`` keeps the params' dtype.
        mode: ``"hard"``, ``"smooth"`` or ``"refined"``.
        smooth_beta: Slope of the ``tanh`` in ``"smooth"`` mode, > 0.

    Returns:
        A ``GradientTransformation`` with state ``ScaleByLionState(count, mu)``.

    References:
        Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023.
    """
    owner = "scale_by_lion"
    check_unit(owner, closed=True, b1=b1, b2=b2)
    check_hyperparameter("smooth_beta", smooth_beta, owner=owner, low=0.0, low_inclusive=False)
    if mode not in ("hard", "smooth", "refined"):
        raise ValueError(f"{owner}: mode must be 'hard', 'smooth' or 'refined', got {mode!r}")
    mu_dtype = canonical_dtype(mu_dtype, owner=owner)

    def direction(c, beta):
        if mode == "smooth":
            return jnp.tanh(coef(beta, c.dtype) * c)
        if mode == "refined":
            return jnp.clip(c, -1, 1)
        return jnp.sign(c)

    def init_fn(params):
        return ScaleByLionState(zero_count(), zeros(params, mu_dtype))

    def update_fn(updates, state, params=None):
        del params
        check_updates(state.mu, updates, owner=owner)
        b1_, b2_, beta_ = resolve_all(state.count, b1, b2, smooth_beta)
        mixed = tree_update_moment(updates, state.mu, b1_, 1)
        new = jax.tree.map(lambda c: direction(c, beta_), mixed)
        mu = tree_update_moment(updates, state.mu, b2_, 1)
        state = ScaleByLionState(increment(state.count), store(mu, state.mu))
        return like_updates(new, updates), state

    return GradientTransformation(init_fn, update_fn)


def scale_by_novograd(
    b1: ScalarOrSchedule = 0.9,
    b2: ScalarOrSchedule = 0.25,
    eps: ScalarOrSchedule = 1e-8,
    eps_root: ScalarOrSchedule = 0.0,
    weight_decay: ScalarOrSchedule = 0.0,
    mu_dtype: Any = None,
) -> GradientTransformation:
    r"""Rescales updates by NovoGrad's layer-wise (per-leaf) second moment.

    For each leaf, with :math:`\theta_t` the leaf's parameters:

    .. math::
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) \lVert g_t \rVert^2 \ (v_1 = \lVert g_1 \rVert^2),
        \quad d_t = \frac{g_t}{\sqrt{v_t + \bar\varepsilon} + \varepsilon} + \lambda \theta_t, \\
        m_t = \beta_1 m_{t-1} + d_t \ (m_1 = d_1), \quad u_t = m_t.

    Args:
        b1: Momentum of the normalised gradients, in [0, 1).
        b2: Decay rate of the per-leaf squared norm, in [0, 1).
        eps: Added to the denominator outside the square root.
        eps_root: Added inside the square root.
        weight_decay: :math:`\lambda`, >= 0; when not the number 0, ``update`` needs ``params``.
        mu_dtype: Storage dtype of the momentum; ``None`` keeps the params' dtype. The updates
            are the stored momentum, returned in the incoming updates' dtype (optax returns
            them in ``mu_dtype``).

    Returns:
        A ``GradientTransformation`` with state ``ScaleByNovogradState(count, mu, nu)``, ``nu``
        holding one scalar per leaf.

    References:
        Ginsburg et al., "Stochastic Gradient Methods with Layer-wise Adaptive Moments for
        Training of Deep Networks", 2019.

    Warning:
        The momentum is ``b1 m + d`` (no ``1 - b1`` factor), as in the paper and optax.
    """
    owner = "scale_by_novograd"
    check_unit(owner, b1=b1, b2=b2)
    check_nonnegative(owner, eps=eps, eps_root=eps_root, weight_decay=weight_decay)
    mu_dtype = canonical_dtype(mu_dtype, owner=owner)
    decays = not (isinstance(weight_decay, (int, float)) and weight_decay == 0)

    def init_fn(params):
        nu = jax.tree.map(lambda p: jnp.zeros((), jnp.asarray(p).dtype), params)
        return ScaleByNovogradState(zero_count(), zeros(params, mu_dtype), nu)

    def update_fn(updates, state, params=None):
        check_updates(state.mu, updates, owner=owner)
        if decays:
            require_params(params, owner=f"{owner} with weight_decay")
            check_updates(state.mu, params, owner=owner, what="params")
        b1_, b2_, eps_, eps_root_, wd_ = resolve_all(
            state.count, b1, b2, eps, eps_root, weight_decay
        )
        first = state.count == 0

        def second(g, v):
            norm2 = jnp.square(jnp.linalg.norm(g))  # via the norm, as optax (same rounding)
            return jnp.where(first, *same(norm2, tree_update_moment(norm2, v, b2_, 1)))

        def normalised(g, v):
            v = v + coef(eps_root_, v.dtype)
            return g / (jnp.sqrt(v) + coef(eps_, v.dtype)).astype(g.dtype)

        def momentum(d, m, p=None):
            if p is not None:
                d = jnp.add(*same(d, coef(wd_, p.dtype) * p))
            return jnp.where(first, *same(d, jnp.add(*same(coef(b1_, m.dtype) * m, d))))

        nu = jax.tree.map(second, updates, state.nu)
        d = jax.tree.map(normalised, updates, nu)
        if decays:
            mu = jax.tree.map(momentum, d, state.mu, params)
        else:
            mu = jax.tree.map(momentum, d, state.mu)
        mu = store(mu, state.mu)
        state = ScaleByNovogradState(increment(state.count), mu, store(nu, state.nu))
        return like_updates(mu, updates), state

    return GradientTransformation(init_fn, update_fn)


# ----------------------------------------------------------------------------------------------
# Adafactor's factored second moment.


def _decay_rate_pow(step: jax.Array, exponent: Any = 0.8) -> jax.Array:
    r"""Adafactor's schedule :math:`\hat\beta_{2,t} = 1 - t^{-c}`, ``t = step + 1``."""
    t = jnp.asarray(step).astype(float) + 1
    return 1 - t ** (-coef(exponent, t.dtype))


def _factored_dims(shape: tuple[int, ...], factored: bool, min_dim: int) -> tuple[int, int] | None:
    """``(second_largest_axis, largest_axis)`` if a leaf of ``shape`` is factored, else None."""
    if not factored or len(shape) < 2:
        return None
    order = np.argsort(shape, kind="stable")
    if shape[order[-2]] < min_dim:
        return None
    return int(order[-2]), int(order[-1])


def scale_by_factored_rms(
    factored: bool = True,
    decay_rate: ScalarOrSchedule = 0.8,
    step_offset: ScalarOrSchedule = 0,
    min_dim_size_to_factor: int = 128,
    epsilon: ScalarOrSchedule = 1e-30,
    decay_rate_fn: Callable[[jax.Array, Any], jax.Array] = _decay_rate_pow,
) -> GradientTransformation:
    r"""Rescales updates by Adafactor's factored estimate of the root mean squared gradient.

    With :math:`\hat\beta_t` = ``decay_rate_fn(count - step_offset, decay_rate)`` (by default
    :math:`1 - (\text{count} - \text{step\_offset} + 1)^{-\text{decay\_rate}}`, so 0 at the
    first step) and :math:`G = g_t^2 + \epsilon_1`: a leaf whose two largest axes both have at
    least ``min_dim_size_to_factor`` entries keeps means over each of them,

    .. math::
        R_t = \hat\beta_t R_{t-1} + (1 - \hat\beta_t) \operatorname{mean}_{\text{largest}} G,
        \quad C_t = \hat\beta_t C_{t-1} + (1 - \hat\beta_t)
        \operatorname{mean}_{\text{second}} G, \\
        \hat V_t = \frac{R_t C_t}{\operatorname{mean}(R_t)}, \quad
        u_t = g_t / \sqrt{\hat V_t},

    (the rank-1 approximation of the paper's Algorithm 4, with means instead of sums), and any
    other leaf keeps the full :math:`V_t = \hat\beta_t V_{t-1} + (1 - \hat\beta_t) G`,
    :math:`u_t = g_t / \sqrt{V_t}`. Leading axes (beyond the two largest) are batch axes.

    Args:
        factored: Factor the second moment of large enough matrices.
        decay_rate: Passed to ``decay_rate_fn`` (the exponent of the default schedule).
        step_offset: Subtracted from the step count (start of a fine-tuning phase), >= 0.
        min_dim_size_to_factor: Factor only if the two largest axes have at least this size.
        epsilon: :math:`\epsilon_1`, added to the squared gradient, >= 0.
        decay_rate_fn: ``(step, decay_rate) -> decay`` giving :math:`\hat\beta_t`; ``step``
            is an int32 scalar. The default is the paper's :math:`1 - t^{-0.8}`.

    Returns:
        A ``GradientTransformation`` with state ``FactoredState(count, v_row, v_col, v)``.

    References:
        Shazeer & Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost",
        ICML 2018.

    Warning:
        This is only Adafactor's second-moment scaling: update clipping, relative step sizes
        and momentum are separate transformations, as in optax.
    """
    owner = "scale_by_factored_rms"
    if not isinstance(factored, bool):
        raise TypeError(f"{owner}: factored must be a Python bool, got {factored!r}")
    if not isinstance(min_dim_size_to_factor, int) or min_dim_size_to_factor < 0:
        raise ValueError(
            f"{owner}: min_dim_size_to_factor must be a non-negative Python int, got "
            f"{min_dim_size_to_factor!r}"
        )
    if not callable(decay_rate_fn):
        raise TypeError(f"{owner}: decay_rate_fn must be callable, got {decay_rate_fn!r}")
    check_nonnegative(owner, decay_rate=decay_rate, step_offset=step_offset, epsilon=epsilon)

    def dims(p):
        return _factored_dims(jnp.shape(p), factored, min_dim_size_to_factor)

    def init_fn(params):
        def leaf(p):
            shape, dtype = jnp.shape(p), jnp.asarray(p).dtype
            unused = jnp.zeros((1,), dtype)
            d = dims(p)
            if d is None:
                return unused, unused, jnp.zeros(shape, dtype)
            second, largest = d
            row = tuple(n for i, n in enumerate(shape) if i != largest)
            col = tuple(n for i, n in enumerate(shape) if i != second)
            return jnp.zeros(row, dtype), jnp.zeros(col, dtype), unused

        treedef = jax.tree.structure(params)
        rows, cols, vs = zip(*[leaf(p) for p in treedef.flatten_up_to(params)], strict=True)
        unflatten = treedef.unflatten
        return FactoredState(zero_count(), unflatten(rows), unflatten(cols), unflatten(vs))

    def update_fn(updates, state, params=None):
        del params
        check_updates(state.v, updates, owner=owner, shapes=False)
        decay_rate_, offset_, eps_ = resolve_all(state.count, decay_rate, step_offset, epsilon)
        decay = decay_rate_fn(state.count - coef(offset_, state.count.dtype), decay_rate_)

        def average(new, old):
            # A count-derived decay is a float32 array: as under standard promotion, a narrower
            # state is averaged in float32, then stored back in its own dtype. The terms are
            # written in optax's order: XLA may fuse the first product and the sum into an FMA.
            stored = dtype = old.dtype
            if not isinstance(decay, (int, float)):
                dtype = wider(jnp.asarray(decay).dtype, new.dtype, old.dtype)
            new, old = new.astype(dtype), old.astype(dtype)
            return (coef(decay, dtype) * old + coef(1 - decay, dtype) * new).astype(stored)

        def leaf(g, v_row, v_col, v):
            g2 = jnp.square(g) + coef(eps_, g.dtype)
            d = dims(g)
            if d is None:
                v = average(g2, v)
                return jnp.multiply(*same(g, v**-0.5)), v_row, v_col, v
            second, largest = d
            v_row = average(jnp.mean(g2, axis=largest), v_row)
            v_col = average(jnp.mean(g2, axis=second), v_col)
            second_in_row = second if second < largest else second - 1
            mean_row = jnp.mean(v_row, axis=second_in_row, keepdims=True)
            row_factor = jnp.expand_dims((v_row / mean_row) ** -0.5, largest)
            col_factor = jnp.expand_dims(v_col**-0.5, second)
            u = g * row_factor.astype(g.dtype) * col_factor.astype(g.dtype)
            return u, v_row, v_col, v

        treedef = jax.tree.structure(updates)
        leaves = [
            treedef.flatten_up_to(t) for t in (updates, state.v_row, state.v_col, state.v)
        ]
        new, rows, cols, vs = zip(*[leaf(*x) for x in zip(*leaves, strict=True)], strict=True)
        new_state = FactoredState(
            increment(state.count),
            store(treedef.unflatten(rows), state.v_row),
            store(treedef.unflatten(cols), state.v_col),
            store(treedef.unflatten(vs), state.v),
        )
        return like_updates(treedef.unflatten(new), updates), new_state

    return GradientTransformation(init_fn, update_fn)
