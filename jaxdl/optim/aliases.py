"""Optimizers: chains of building blocks, with optax's names, arguments and defaults.

An alias only composes: ``adam(lr) = chain(scale_by_adam(), scale_by_learning_rate(lr))``.
Every sign flip lives in ``scale_by_learning_rate`` (and ``scale(-1)`` where no learning rate
scales the update), so ``apply_updates`` just adds. The one exception is ``momentum``, the
textbook velocity form, which is its own small transformation.

Every numeric hyperparameter is a Python number, a JAX scalar (possibly traced: a grid of
values is one ``vmap``) or a schedule ``count -> value``. A Python-number learning rate is
checked at construction.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike

from jaxdl.optim.base import (
    GradientTransformation,
    ScalarOrSchedule,
    Updates,
    chain,
    check_hyperparameter,
    check_tree_matches,
    resolve,
    safe_increment,
)
from jaxdl.optim.constraints import add_decayed_weights
from jaxdl.optim.rms import (
    scale_by_adadelta,
    scale_by_rms,
    scale_by_rss,
    scale_by_stddev,
)
from jaxdl.optim.transforms import (
    ema,
    scale,
    scale_by_learning_rate,
    scale_by_rprop,
    scale_by_sign,
    trace,
)

__all__ = [
    "MomentumState",
    "adadelta",
    "adagrad",
    "momentum",
    "rmsprop",
    "rprop",
    "sgd",
    "sign_sgd",
    "signum",
]

Mask = Any  # a tree of booleans (or a prefix of one), or a function params -> such a tree


# ----------------------------------------------------------------------------- helpers


def _check_learning_rate(owner: str, learning_rate: Any) -> None:
    """Rejects a learning rate that is not a number, a JAX scalar or a schedule."""
    if callable(getattr(learning_rate, "init", None)) and callable(
        getattr(learning_rate, "update", None)
    ):
        raise TypeError(
            f"{owner}: learning_rate must be a number, a JAX scalar or a schedule "
            f"count -> value, got a gradient transformation ({type(learning_rate).__name__}). "
            f"To combine transformations, use chain({owner}(learning_rate), ...)."
        )
    if callable(learning_rate):
        return
    if isinstance(learning_rate, bool) or not isinstance(
        learning_rate, (int, float, jax.Array, np.ndarray, np.generic)
    ):
        raise TypeError(
            f"{owner}: learning_rate must be a number, a JAX scalar or a schedule "
            f"count -> value, got {type(learning_rate).__name__}: {learning_rate!r}"
        )
    if jnp.ndim(learning_rate) != 0:
        raise ValueError(
            f"{owner}: learning_rate must be a scalar, got an array of shape "
            f"{jnp.shape(learning_rate)}. To run a grid of learning rates, jax.vmap over it."
        )
    if not isinstance(learning_rate, jax.Array):  # a concrete number: check its value
        check_hyperparameter("learning_rate", float(learning_rate), owner=owner, low=0.0)


def _lr(owner: str, learning_rate: ScalarOrSchedule) -> GradientTransformation:
    """``u <- -learning_rate * u``, after checking the learning rate."""
    _check_learning_rate(owner, learning_rate)
    return scale_by_learning_rate(learning_rate)


def _decay(owner: str, weight_decay: ScalarOrSchedule, mask: Mask) -> GradientTransformation:
    """``u <- u + weight_decay * w`` on the leaves ``mask`` selects."""
    check_hyperparameter("weight_decay", weight_decay, owner=owner, low=0.0)
    return add_decayed_weights(weight_decay, None if mask is True else mask)


# ----------------------------------------------------------------------------- SGD family


def sgd(
    learning_rate: ScalarOrSchedule,
    momentum: ScalarOrSchedule | None = None,
    nesterov: bool = False,
    accumulator_dtype: DTypeLike | None = None,
) -> GradientTransformation:
    r"""Stochastic gradient descent, optionally with (Nesterov) momentum.

    Without momentum ``u_t = -lr_t g_t``. With momentum ``mu`` (``trace``):

        m_t = g_t + mu m_{t-1};   u_t = -lr_t m_t            (heavy ball)
                                  u_t = -lr_t (g_t + mu m_t) (nesterov=True)

    Args:
      learning_rate: ``lr``, a number, JAX scalar or schedule ``count -> lr``.
      momentum: ``mu``; ``None`` (default) for plain SGD and no state.
      nesterov: whether to use Nesterov's look-ahead form.
      accumulator_dtype: dtype of ``m``; ``None`` keeps the parameters' dtype.

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> opt = sgd(0.1, momentum=0.9)
      >>> state = opt.init(params); updates, state = opt.update(grads, state)

    Warning:
      This is PyTorch's momentum form (``lr`` multiplies the whole buffer). Keras and the
      textbook write ``v = mu v - lr g``, the same numbers for a constant ``lr`` but not under
      a schedule; that form is ``momentum``.

    References:
      Polyak, Some methods of speeding up the convergence of iteration methods, 1964.
      Sutskever, Martens, Dahl, Hinton, On the importance of initialization and momentum in
      deep learning, 2013.
    """
    lr = _lr("sgd", learning_rate)
    if momentum is None:
        return chain(lr)
    return chain(trace(momentum, nesterov, accumulator_dtype), lr)


class MomentumState(NamedTuple):
    """State of ``momentum``."""

    count: jax.Array  # shape=(), int32: steps taken, the schedules' argument
    velocity: Updates  # like params: v


def momentum(learning_rate: ScalarOrSchedule, mass: ScalarOrSchedule = 0.9
             ) -> GradientTransformation:
    r"""Textbook (heavy-ball) momentum in the velocity form.

        v_t = m v_{t-1} - lr_t g_t;   u_t = v_t   (so w_t = w_{t-1} + v_t),   v_0 = 0

    For a constant learning rate this gives the updates of ``sgd(lr, momentum=m)`` (up to
    rounding: there ``v_t = -lr m_t``). Under a schedule the two differ: here each gradient
    keeps the learning rate of the step it arrived at; ``sgd`` rescales the whole buffer by
    the current one.

    Args:
      learning_rate: ``lr``, a number, JAX scalar or schedule ``count -> lr``.
      mass: the momentum ``m``, a number, JAX scalar or schedule ``count -> m``.

    Returns:
      A ``GradientTransformation`` whose state is a ``MomentumState(count, velocity)``.

    Example:
      >>> opt = momentum(0.01, mass=0.9)

    References:
      Polyak, Some methods of speeding up the convergence of iteration methods, 1964.
    """
    _check_learning_rate("momentum", learning_rate)
    check_hyperparameter("mass", mass, owner="momentum", low=0.0)

    def init_fn(params):
        velocity = jax.tree.map(jnp.zeros_like, params)
        return MomentumState(count=jnp.zeros([], jnp.int32), velocity=velocity)

    def update_fn(updates, state, params=None):
        del params
        check_tree_matches(state.velocity, updates, owner="momentum")
        lr = resolve(learning_rate, state.count)
        m = resolve(mass, state.count)
        velocity = jax.tree.map(
            lambda v, g: jnp.asarray(m, v.dtype) * v - jnp.asarray(lr, v.dtype) * g.astype(v.dtype),
            state.velocity,
            updates,
        )
        return velocity, MomentumState(safe_increment(state.count), velocity)

    return GradientTransformation(init_fn, update_fn)


def sign_sgd(learning_rate: ScalarOrSchedule) -> GradientTransformation:
    r"""SGD on the signs of the gradient: ``u_t = -lr_t sign(g_t)``.

    Args:
      learning_rate: ``lr``, a number, JAX scalar or schedule ``count -> lr``.

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> opt = sign_sgd(1e-2)

    References:
      Bernstein, Wang, Azizzadenesheli, Anandkumar, signSGD: Compressed Optimisation for
      Non-Convex Problems, 2018.
    """
    return chain(scale_by_sign(), _lr("sign_sgd", learning_rate))


def signum(
    learning_rate: ScalarOrSchedule,
    beta: ScalarOrSchedule = 0.9,
    accumulator_dtype: DTypeLike | None = None,
) -> GradientTransformation:
    r"""SGD on the signs of a momentum (an EMA of the gradients).

        m_t = beta m_{t-1} + (1 - beta) g_t;   u_t = -lr_t sign(m_t)   (no debiasing)

    Args:
      learning_rate: ``lr``, a number, JAX scalar or schedule ``count -> lr``.
      beta: the EMA decay rate.
      accumulator_dtype: dtype of ``m``; ``None`` keeps the parameters' dtype.

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> opt = signum(1e-2, beta=0.9)

    References:
      Bernstein, Wang, Azizzadenesheli, Anandkumar, signSGD: Compressed Optimisation for
      Non-Convex Problems, 2018.
    """
    return chain(
        ema(beta, debias=False, accumulator_dtype=accumulator_dtype),
        scale_by_sign(),
        _lr("signum", learning_rate),
    )


def rprop(
    learning_rate: ScalarOrSchedule,
    eta_minus: ScalarOrSchedule = 0.5,
    eta_plus: ScalarOrSchedule = 1.2,
    min_step_size: ScalarOrSchedule = 1e-6,
    max_step_size: ScalarOrSchedule = 50.0,
) -> GradientTransformation:
    r"""Rprop: a per-parameter step size that grows while the gradient keeps its sign.

        p_t = sign(g_t) sign(h_{t-1})      (h: the last gradient, 0 where it was dropped)
        s_t = min(eta_plus s_{t-1}, max_step_size)    if p_t > 0
        s_t = max(eta_minus s_{t-1}, min_step_size)   if p_t < 0, and then h_t = 0, u_t = 0
        s_t = s_{t-1}                                 if p_t = 0
        u_t = -s_t sign(g_t) (where not dropped),     s_0 = learning_rate

    Args:
      learning_rate: the initial step size ``s_0``, not a factor on the update (a schedule
        is read once, at count 0, by ``init``).
      eta_minus: factor applied to the step when the gradient changes sign.
      eta_plus: factor applied to the step when the gradient keeps its sign.
      min_step_size: lower bound on the step.
      max_step_size: upper bound on the step.

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> opt = rprop(1e-2)

    Warning:
      optax 0.2.8's ``rprop`` emits each update one step late (its first update is zero;
      google-deepmind/optax PR #1725); this one emits the current step, like
      ``torch.optim.Rprop`` (iRprop-). Rprop is meant for full-batch gradients: with noisy
      minibatch gradients the sign test is unreliable.

    References:
      Riedmiller, Braun, A direct adaptive method for faster backpropagation learning: the
      RPROP algorithm, 1993.
    """
    _check_learning_rate("rprop", learning_rate)
    return chain(
        scale_by_rprop(learning_rate, eta_minus, eta_plus, min_step_size, max_step_size),
        scale(-1.0),
    )


# ----------------------------------------------------------------------------- Adagrad, RMSProp


def adagrad(
    learning_rate: ScalarOrSchedule,
    initial_accumulator_value: ScalarOrSchedule = 0.1,
    eps: ScalarOrSchedule = 1e-7,
) -> GradientTransformation:
    r"""Adagrad: each coordinate's step shrinks with its accumulated squared gradients.

        G_t = G_{t-1} + g_t^2,  G_0 = initial_accumulator_value;   u_t = -lr_t g_t / sqrt(G_t + eps)

    Args:
      learning_rate: ``lr``, a number, JAX scalar or schedule ``count -> lr``.
      initial_accumulator_value: ``G_0``.
      eps: added inside the square root.

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> opt = adagrad(0.1)

    Warning:
      PyTorch starts ``G`` at 0 and adds ``eps=1e-10`` outside the square root; Keras starts it
      at 0.1 with ``epsilon=1e-7`` outside.

    References:
      Duchi, Hazan, Singer, Adaptive Subgradient Methods for Online Learning and Stochastic
      Optimization, 2011.
    """
    return chain(scale_by_rss(initial_accumulator_value, eps), _lr("adagrad", learning_rate))


def rmsprop(
    learning_rate: ScalarOrSchedule,
    decay: ScalarOrSchedule = 0.9,
    eps: ScalarOrSchedule = 1e-8,
    initial_scale: ScalarOrSchedule = 0.0,
    eps_in_sqrt: bool = True,
    centered: bool = False,
    momentum: ScalarOrSchedule | None = None,
    nesterov: bool = False,
    bias_correction: bool = False,
) -> GradientTransformation:
    r"""RMSProp: divide by a running root mean square of the gradients.

        v_t = decay v_{t-1} + (1 - decay) g_t^2,                v_0 = initial_scale
        m_t = decay m_{t-1} + (1 - decay) g_t   (centered only), m_0 = 0
        d_t = v_t - m_t^2 (centered) or v_t;  (both divided by 1 - decay^t if bias_correction)
        s_t = g_t / sqrt(d_t + eps)   (eps_in_sqrt)   or   g_t / (sqrt(d_t) + eps)
        u_t = -lr_t s_t, then optionally momentum: k_t = u_t + momentum k_{t-1}; u_t = k_t
        (nesterov: u_t = u_t + momentum k_t)

    Args:
      learning_rate: ``lr``, a number, JAX scalar or schedule ``count -> lr``.
      decay: the EMA decay rate of the statistics.
      eps: the constant added to the denominator.
      initial_scale: ``v_0``; PyTorch uses 0, TF1 used 1.
      eps_in_sqrt: add ``eps`` inside the square root (default) or outside it.
      centered: divide by the standard deviation instead of the root mean square.
      momentum: momentum on the scaled updates; ``None`` (default) for none.
      nesterov: Nesterov's form of that momentum.
      bias_correction: debias the EMAs as Adam does.

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> opt = rmsprop(1e-3, decay=0.99, centered=True, momentum=0.9)

    Warning:
      PyTorch's ``RMSprop`` uses ``alpha=0.99`` and adds ``eps`` outside the square root
      (``eps_in_sqrt=False`` here); Keras calls ``decay`` ``rho`` (0.9) and ``eps`` ``epsilon``
      (1e-7, also outside). With momentum, the learning rate here scales each update before
      it enters the buffer (as TensorFlow does); PyTorch scales the whole buffer: the same
      for a constant rate, not under a schedule.

    References:
      Tieleman, Hinton, Lecture 6.5 - RMSProp, COURSERA: Neural Networks for Machine Learning,
      2012. Graves, Generating Sequences With Recurrent Neural Networks, 2013 (centered).
    """
    stats = scale_by_stddev if centered else scale_by_rms
    parts = [
        stats(decay, eps, initial_scale, eps_in_sqrt=eps_in_sqrt, bias_correction=bias_correction),
        _lr("rmsprop", learning_rate),
    ]
    if momentum is not None:
        parts.append(trace(momentum, nesterov))
    return chain(*parts)


def adadelta(
    learning_rate: ScalarOrSchedule | None = None,
    rho: ScalarOrSchedule = 0.9,
    eps: ScalarOrSchedule = 1e-6,
    weight_decay: ScalarOrSchedule = 0.0,
    weight_decay_mask: Mask | None = None,
) -> GradientTransformation:
    r"""Adadelta: step sizes from the ratio of running RMS of updates and of gradients.

        h_t = g_t + weight_decay w_t
        E[h^2]_t = rho E[h^2]_{t-1} + (1 - rho) h_t^2
        d_t = sqrt(E[d^2]_{t-1} + eps) / sqrt(E[h^2]_t + eps) h_t
        E[d^2]_t = rho E[d^2]_{t-1} + (1 - rho) d_t^2
        u_t = -lr_t d_t

    Args:
      learning_rate: ``lr``, a number, JAX scalar or schedule ``count -> lr``; ``None`` means
        1.0, the paper's algorithm.
      rho: the decay rate of both running averages.
      eps: the constant inside both square roots.
      weight_decay: coefficient of the L2 term added to the gradient.
      weight_decay_mask: which parameters are decayed: a tree (or prefix) of booleans or a
        function ``params -> tree``; ``None`` decays all.

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> opt = adadelta(1.0, rho=0.95)

    Warning:
      Deviation from optax 0.2.8: there ``adadelta(learning_rate=None)`` returns the update
      without the descent sign (it ascends); here ``None`` is ``1.0`` and descends, like
      PyTorch's default ``lr=1.0``.

    References:
      Zeiler, ADADELTA: An Adaptive Learning Rate Method, 2012.
    """
    return chain(
        _decay("adadelta", weight_decay, weight_decay_mask),
        scale_by_adadelta(rho, eps),
        _lr("adadelta", 1.0 if learning_rate is None else learning_rate),
    )
