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

from jaxdl.optim.adaptive import (
    scale_by_adam,
    scale_by_adamax,
    scale_by_amsgrad,
    scale_by_belief,
    scale_by_radam,
    scale_by_yogi,
)
from jaxdl.optim.base import (
    EmptyState,
    GradientTransformation,
    ScalarOrSchedule,
    Updates,
    chain,
    check_hyperparameter,
    check_tree_matches,
    require_params,
    resolve,
    safe_increment,
)
from jaxdl.optim.constraints import add_decayed_weights, clip_by_block_rms
from jaxdl.optim.low_memory import (
    scale_by_factored_rms,
    scale_by_lion,
    scale_by_novograd,
)
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
    scale_by_trust_ratio,
    trace,
)
from jaxdl.optim.wrappers import masked

__all__ = [
    "MomentumState",
    "adabelief",
    "adadelta",
    "adafactor",
    "adagrad",
    "adam",
    "adamax",
    "adamaxw",
    "adamw",
    "amsgrad",
    "fromage",
    "lamb",
    "lars",
    "lion",
    "momentum",
    "nadam",
    "nadamw",
    "novograd",
    "radam",
    "rmsprop",
    "rprop",
    "sgd",
    "sign_sgd",
    "signum",
    "yogi",
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


def _scale_by_param_block_rms(min_scale: float = 1e-3) -> GradientTransformation:
    """``u <- u * max(RMS(w), min_scale)`` per leaf: Adafactor's relative step size.

    ``RMS(w) = sqrt(mean(w^2))``. Private to ``adafactor`` until a public building block
    (optax's ``scale_by_param_block_rms``) exists in ``transforms``.
    """

    def init_fn(params):
        del params
        return EmptyState()

    def update_fn(updates, state, params=None):
        require_params(params, owner="adafactor (multiply_by_parameter_scale=True)")

        def one(u, w):
            wide = jnp.float32 if jnp.finfo(w.dtype).bits < 32 else w.dtype  # bf16: in f32
            rms = jnp.sqrt(jnp.mean(jnp.square(w.astype(wide)))).astype(u.dtype)
            return u * jnp.maximum(rms, jnp.asarray(min_scale, u.dtype))

        return jax.tree.map(one, updates, params), state

    return GradientTransformation(init_fn, update_fn)


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


# ----------------------------------------------------------------------------- Adam family


def adam(
    learning_rate: ScalarOrSchedule,
    b1: ScalarOrSchedule = 0.9,
    b2: ScalarOrSchedule = 0.999,
    eps: ScalarOrSchedule = 1e-8,
    eps_root: ScalarOrSchedule = 0.0,
    mu_dtype: DTypeLike | None = None,
    *,
    nesterov: bool = False,
) -> GradientTransformation:
    r"""Adam: momentum divided by a running root mean square, both bias-corrected.

        m_t = b1 m_{t-1} + (1 - b1) g_t;          v_t = b2 v_{t-1} + (1 - b2) g_t^2
        mh_t = m_t / (1 - b1^t);                  vh_t = v_t / (1 - b2^t)
        (nesterov: mh_t = b1 m_t / (1 - b1^(t+1)) + (1 - b1) g_t / (1 - b1^t))
        u_t = -lr_t mh_t / (sqrt(vh_t + eps_root) + eps)

    Args:
      learning_rate: ``lr``, a number, JAX scalar or schedule ``count -> lr``.
      b1: decay rate of the first moment.
      b2: decay rate of the second moment.
      eps: added to the denominator outside the square root (as in the paper).
      eps_root: added inside the square root (needed to differentiate through Adam).
      mu_dtype: dtype of ``m``; ``None`` keeps the parameters' dtype.
      nesterov: use Dozat's Nesterov form (that is ``nadam``).

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> opt = adam(1e-3)
      >>> state = opt.init(params); updates, state = opt.update(grads, state)

    Warning:
      Keras's default ``epsilon`` is 1e-7 (PyTorch's is 1e-8, like here).

    References:
      Kingma, Ba, Adam: A Method for Stochastic Optimization, 2015.
    """
    return chain(
        scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
        _lr("adam", learning_rate),
    )


def adamw(
    learning_rate: ScalarOrSchedule,
    b1: ScalarOrSchedule = 0.9,
    b2: ScalarOrSchedule = 0.999,
    eps: ScalarOrSchedule = 1e-8,
    eps_root: ScalarOrSchedule = 0.0,
    mu_dtype: DTypeLike | None = None,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: Mask | None = None,
    *,
    nesterov: bool = False,
) -> GradientTransformation:
    r"""AdamW: Adam with decoupled weight decay.

        u_t = -lr_t (mh_t / (sqrt(vh_t + eps_root) + eps) + weight_decay w_t)

    with ``mh_t, vh_t`` as in ``adam``. The decay is not part of the gradient, so the moments
    never see it.

    Args:
      learning_rate: ``lr``, a number, JAX scalar or schedule ``count -> lr``.
      b1, b2, eps, eps_root, mu_dtype, nesterov: as in ``adam``.
      weight_decay: the decay coefficient ``lambda``.
      mask: which parameters are decayed: a tree (or prefix) of booleans or a function
        ``params -> tree``; ``None`` decays all. Adam itself applies to all parameters.

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> opt = adamw(1e-3, weight_decay=1e-2, mask=lambda p: jax.tree.map(lambda w: w.ndim > 1, p))

    Warning:
      ``weight_decay`` is multiplied by the learning rate, as in PyTorch's ``AdamW``; in the
      paper it is multiplied by the schedule multiplier only. The default here is 1e-4
      (PyTorch's is 1e-2).

    References:
      Loshchilov, Hutter, Decoupled Weight Decay Regularization, 2019.
    """
    return chain(
        scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
        _decay("adamw", weight_decay, mask),
        _lr("adamw", learning_rate),
    )


def nadam(
    learning_rate: ScalarOrSchedule,
    b1: ScalarOrSchedule = 0.9,
    b2: ScalarOrSchedule = 0.999,
    eps: ScalarOrSchedule = 1e-8,
    eps_root: ScalarOrSchedule = 0.0,
    mu_dtype: DTypeLike | None = None,
    *,
    nesterov: bool = True,
) -> GradientTransformation:
    r"""NAdam: Adam with Nesterov momentum, ``adam(..., nesterov=True)``.

        mh_t = b1 m_t / (1 - b1^(t+1)) + (1 - b1) g_t / (1 - b1^t)
        u_t = -lr_t mh_t / (sqrt(vh_t + eps_root) + eps)

    Args:
      learning_rate, b1, b2, eps, eps_root, mu_dtype, nesterov: as in ``adam``.

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> opt = nadam(1e-3)

    Warning:
      PyTorch's ``NAdam`` also decays the momentum coefficient (``momentum_decay=4e-3``); this
      one keeps ``b1`` fixed.

    References:
      Dozat, Incorporating Nesterov Momentum into Adam, 2016.
    """
    _check_learning_rate("nadam", learning_rate)
    return adam(learning_rate, b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov)


def nadamw(
    learning_rate: ScalarOrSchedule,
    b1: ScalarOrSchedule = 0.9,
    b2: ScalarOrSchedule = 0.999,
    eps: ScalarOrSchedule = 1e-8,
    eps_root: ScalarOrSchedule = 0.0,
    mu_dtype: DTypeLike | None = None,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: Mask | None = None,
    *,
    nesterov: bool = True,
) -> GradientTransformation:
    r"""NAdamW: NAdam with decoupled weight decay, ``adamw(..., nesterov=True)``.

        u_t = -lr_t (mh_t / (sqrt(vh_t + eps_root) + eps) + weight_decay w_t), mh_t as in nadam

    Args:
      learning_rate, b1, b2, eps, eps_root, mu_dtype, weight_decay, mask, nesterov: as in
        ``adamw``.

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> opt = nadamw(1e-3, weight_decay=1e-2)

    Warning:
      ``weight_decay`` is multiplied by the learning rate, as in PyTorch.

    References:
      Dozat, Incorporating Nesterov Momentum into Adam, 2016. Loshchilov, Hutter, Decoupled
      Weight Decay Regularization, 2019.
    """
    _check_learning_rate("nadamw", learning_rate)
    return adamw(
        learning_rate, b1, b2, eps, eps_root, mu_dtype, weight_decay, mask, nesterov=nesterov
    )


def amsgrad(
    learning_rate: ScalarOrSchedule,
    b1: ScalarOrSchedule = 0.9,
    b2: ScalarOrSchedule = 0.999,
    eps: ScalarOrSchedule = 1e-8,
    eps_root: ScalarOrSchedule = 0.0,
    mu_dtype: DTypeLike | None = None,
    bias_correction_mu: bool = True,
    bias_correction_nu: bool = True,
) -> GradientTransformation:
    r"""AMSGrad: Adam whose denominator never shrinks.

        m_t, v_t as in adam;  mh_t = m_t / (1 - b1^t) (if bias_correction_mu, else m_t)
        vh_t = v_t / (1 - b2^t) (if bias_correction_nu, else v_t)
        vmax_t = max(vmax_{t-1}, vh_t);   u_t = -lr_t mh_t / (sqrt(vmax_t + eps_root) + eps)

    Args:
      learning_rate, b1, b2, eps, eps_root, mu_dtype: as in ``adam``.
      bias_correction_mu: debias the first moment (``False`` is the paper's algorithm).
      bias_correction_nu: debias the second moment before the maximum (``False``: the paper).

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> opt = amsgrad(1e-3)

    References:
      Reddi, Kale, Kumar, On the Convergence of Adam and Beyond, 2018.
    """
    return chain(
        scale_by_amsgrad(
            b1, b2, eps, eps_root, mu_dtype,
            bias_correction_mu=bias_correction_mu, bias_correction_nu=bias_correction_nu,
        ),
        _lr("amsgrad", learning_rate),
    )


def adamax(
    learning_rate: ScalarOrSchedule,
    b1: ScalarOrSchedule = 0.9,
    b2: ScalarOrSchedule = 0.999,
    eps: ScalarOrSchedule = 1e-8,
) -> GradientTransformation:
    r"""AdaMax: Adam with the infinity norm in place of the root mean square.

        m_t = b1 m_{t-1} + (1 - b1) g_t;   v_t = max(|g_t| + eps, b2 v_{t-1})
        u_t = -lr_t m_t / ((1 - b1^t) v_t)

    Args:
      learning_rate: ``lr``, a number, JAX scalar or schedule ``count -> lr``.
      b1: decay rate of the first moment.
      b2: decay rate of the running maximum.
      eps: added to ``|g|`` so the denominator is never zero.

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> opt = adamax(2e-3)

    Warning:
      PyTorch's ``Adamax`` also adds ``eps`` to ``|g|``; Keras adds it to the denominator.

    References:
      Kingma, Ba, Adam: A Method for Stochastic Optimization, 2015 (section 7.1).
    """
    return chain(scale_by_adamax(b1, b2, eps), _lr("adamax", learning_rate))


def adamaxw(
    learning_rate: ScalarOrSchedule,
    b1: ScalarOrSchedule = 0.9,
    b2: ScalarOrSchedule = 0.999,
    eps: ScalarOrSchedule = 1e-8,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: Mask | None = None,
) -> GradientTransformation:
    r"""AdaMax with decoupled weight decay.

        u_t = -lr_t (m_t / ((1 - b1^t) v_t) + weight_decay w_t),  m_t, v_t as in adamax

    Args:
      learning_rate, b1, b2, eps: as in ``adamax``.
      weight_decay: the decay coefficient.
      mask: which parameters are decayed, as in ``adamw``.

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> opt = adamaxw(2e-3, weight_decay=1e-2)

    Warning:
      ``weight_decay`` is multiplied by the learning rate, as in PyTorch's ``AdamW``.

    References:
      Kingma, Ba, Adam: A Method for Stochastic Optimization, 2015. Loshchilov, Hutter,
      Decoupled Weight Decay Regularization, 2019.
    """
    return chain(
        scale_by_adamax(b1, b2, eps),
        _decay("adamaxw", weight_decay, mask),
        _lr("adamaxw", learning_rate),
    )


def radam(
    learning_rate: ScalarOrSchedule,
    b1: ScalarOrSchedule = 0.9,
    b2: ScalarOrSchedule = 0.999,
    eps: ScalarOrSchedule = 1e-8,
    eps_root: ScalarOrSchedule = 0.0,
    threshold: ScalarOrSchedule = 5.0,
    *,
    nesterov: bool = False,
) -> GradientTransformation:
    r"""Rectified Adam: momentum SGD until the variance of Adam's denominator is tractable.

        rho_inf = 2 / (1 - b2) - 1;   rho_t = rho_inf - 2 t b2^t / (1 - b2^t)
        r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        u_t = -lr_t r_t mh_t / (sqrt(vh_t + eps_root) + eps)   if rho_t > threshold
        u_t = -lr_t mh_t                                         otherwise

    Args:
      learning_rate, b1, b2, eps, eps_root, nesterov: as in ``adam``.
      threshold: the ``rho_t`` above which the adaptive step is used (4 in the paper's
        analysis, 5 in its code and in PyTorch).

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> opt = radam(1e-3)

    References:
      Liu, Jiang, He, Chen, Liu, Gao, Han, On the Variance of the Adaptive Learning Rate and
      Beyond, 2020.
    """
    return chain(
        scale_by_radam(b1, b2, eps, eps_root, threshold, nesterov=nesterov),
        _lr("radam", learning_rate),
    )


def adabelief(
    learning_rate: ScalarOrSchedule,
    b1: ScalarOrSchedule = 0.9,
    b2: ScalarOrSchedule = 0.999,
    eps: ScalarOrSchedule = 1e-16,
    eps_root: ScalarOrSchedule = 1e-16,
    *,
    nesterov: bool = False,
) -> GradientTransformation:
    r"""AdaBelief: Adam dividing by the spread of gradients around their mean.

        m_t = b1 m_{t-1} + (1 - b1) g_t
        s_t = b2 s_{t-1} + (1 - b2) (g_t - m_t)^2 + eps_root
        u_t = -lr_t (m_t / (1 - b1^t)) / (sqrt(s_t / (1 - b2^t)) + eps)

    Args:
      learning_rate: ``lr``, a number, JAX scalar or schedule ``count -> lr``.
      b1: decay rate of the first moment.
      b2: decay rate of the second central moment.
      eps: added to the denominator outside the square root.
      eps_root: added to ``s`` every step.
      nesterov: Nesterov's form of the first moment, as in ``adam``.

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> opt = adabelief(1e-3)

    References:
      Zhuang, Tang, Ding, Tatikonda, Dvornek, Papademetris, Duncan, AdaBelief Optimizer:
      Adapting Stepsizes by the Belief in Observed Gradients, 2020.
    """
    return chain(
        scale_by_belief(b1, b2, eps, eps_root, nesterov=nesterov),
        _lr("adabelief", learning_rate),
    )


def yogi(
    learning_rate: ScalarOrSchedule,
    b1: ScalarOrSchedule = 0.9,
    b2: ScalarOrSchedule = 0.999,
    eps: ScalarOrSchedule = 1e-3,
) -> GradientTransformation:
    r"""Yogi: Adam with an additive second-moment update that cannot grow the step too fast.

        m_t = b1 m_{t-1} + (1 - b1) g_t
        v_t = v_{t-1} - (1 - b2) sign(v_{t-1} - g_t^2) g_t^2,   v_0 = 1e-6
        u_t = -lr_t (m_t / (1 - b1^t)) / (sqrt(v_t / (1 - b2^t)) + eps)

    Args:
      learning_rate: ``lr``, a number, JAX scalar or schedule ``count -> lr``.
      b1: decay rate of the first moment.
      b2: rate of the second-moment update.
      eps: added to the denominator.

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> opt = yogi(1e-2)

    References:
      Zaheer, Reddi, Sachan, Kale, Kumar, Adaptive Methods for Nonconvex Optimization, 2018.
    """
    return chain(scale_by_yogi(b1, b2, eps), _lr("yogi", learning_rate))


def lion(
    learning_rate: ScalarOrSchedule,
    b1: ScalarOrSchedule = 0.9,
    b2: ScalarOrSchedule = 0.99,
    mu_dtype: DTypeLike | None = None,
    weight_decay: ScalarOrSchedule = 1e-3,
    mask: Mask | None = None,
) -> GradientTransformation:
    r"""Lion: the sign of an interpolation between the momentum and the gradient.

        c_t = b1 m_{t-1} + (1 - b1) g_t;   m_t = b2 m_{t-1} + (1 - b2) g_t
        u_t = -lr_t (sign(c_t) + weight_decay w_t)

    Args:
      learning_rate: ``lr``, a number, JAX scalar or schedule ``count -> lr``; usually 3-10x
        smaller than AdamW's.
      b1: the interpolation weight of the update direction.
      b2: the decay rate of the momentum.
      mu_dtype: dtype of ``m``; ``None`` keeps the parameters' dtype.
      weight_decay: the decoupled decay coefficient; usually 3-10x larger than AdamW's.
      mask: which parameters are decayed, as in ``adamw``.

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> opt = lion(1e-4, weight_decay=1e-2)

    Warning:
      ``weight_decay`` is multiplied by the learning rate, as in the paper.

    References:
      Chen, Liang, Huang, Real, Wang, Pham, Dong, Luong, Hsieh, Lu, Le, Symbolic Discovery of
      Optimization Algorithms, 2023.
    """
    return chain(
        scale_by_lion(b1, b2, mu_dtype),
        _decay("lion", weight_decay, mask),
        _lr("lion", learning_rate),
    )


def novograd(
    learning_rate: ScalarOrSchedule,
    b1: ScalarOrSchedule = 0.9,
    b2: ScalarOrSchedule = 0.25,
    eps: ScalarOrSchedule = 1e-6,
    eps_root: ScalarOrSchedule = 0.0,
    weight_decay: ScalarOrSchedule = 0.0,
) -> GradientTransformation:
    r"""NovoGrad: a per-layer (per-leaf) second moment, normalised gradients in the momentum.

        v_t = b2 v_{t-1} + (1 - b2) ||g_t||^2   (a scalar per leaf; v_1 = ||g_1||^2)
        m_t = b1 m_{t-1} + g_t / (sqrt(v_t + eps_root) + eps) + weight_decay w_t
        u_t = -lr_t m_t   (m_1 without the b1 factor)

    Args:
      learning_rate: ``lr``, a number, JAX scalar or schedule ``count -> lr``.
      b1: the momentum decay rate.
      b2: decay rate of the per-leaf second moment.
      eps: added to the denominator outside the square root.
      eps_root: added inside the square root.
      weight_decay: coefficient of the decay added to the normalised gradient.

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> opt = novograd(1e-3)

    References:
      Ginsburg, Castonguay, Hrinchuk, Kuchaiev, Lavrukhin, Leary, Li, Nguyen, Zhang, Cohen,
      Stochastic Gradient Methods with Layer-wise Adaptive Moments for Training of Deep
      Networks, 2019.
    """
    return chain(
        scale_by_novograd(b1, b2, eps, eps_root, weight_decay),
        _lr("novograd", learning_rate),
    )


# ----------------------------------------------------------------------------- layer-wise


def lamb(
    learning_rate: ScalarOrSchedule,
    b1: ScalarOrSchedule = 0.9,
    b2: ScalarOrSchedule = 0.999,
    eps: ScalarOrSchedule = 1e-6,
    eps_root: ScalarOrSchedule = 0.0,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: Mask | None = None,
) -> GradientTransformation:
    r"""LAMB: AdamW's direction, rescaled per leaf to a fixed ratio of the weight norm.

        r_t = mh_t / (sqrt(vh_t + eps_root) + eps) + weight_decay w_t   (mh, vh as in adam)
        u_t = -lr_t (||w_t|| / ||r_t||) r_t   (per leaf; the ratio is 1 if a norm is 0)

    Args:
      learning_rate, b1, b2, eps, eps_root: as in ``adam`` (note ``eps=1e-6``).
      weight_decay: the decoupled decay coefficient.
      mask: which parameters are decayed, as in ``adamw``.

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> opt = lamb(1e-3, weight_decay=1e-2)

    References:
      You, Li, Reddi, Hseu, Kumar, Bhojanapalli, Song, Demmel, Keutzer, Hsieh, Large Batch
      Optimization for Deep Learning: Training BERT in 76 minutes, 2020.
    """
    return chain(
        scale_by_adam(b1, b2, eps, eps_root),
        _decay("lamb", weight_decay, mask),
        scale_by_trust_ratio(),
        _lr("lamb", learning_rate),
    )


def lars(
    learning_rate: ScalarOrSchedule,
    weight_decay: ScalarOrSchedule = 0.0,
    weight_decay_mask: Mask = True,
    trust_coefficient: ScalarOrSchedule = 0.001,
    eps: ScalarOrSchedule = 0.0,
    trust_ratio_mask: Mask = True,
    momentum: ScalarOrSchedule = 0.9,
    nesterov: bool = False,
) -> GradientTransformation:
    r"""LARS: SGD with momentum on layer-wise (per-leaf) trust-ratio-scaled gradients.

        h_t = g_t + weight_decay w_t
        r_t = trust_coefficient ||w_t|| / (||h_t|| + eps) h_t   (per leaf; 1x if a norm is 0)
        k_t = -lr_t r_t + momentum k_{t-1};   u_t = k_t   (nesterov: u_t = -lr_t r_t + momentum k_t)

    Args:
      learning_rate: ``lr``, a number, JAX scalar or schedule ``count -> lr``.
      weight_decay: coefficient of the L2 term added to the gradient.
      weight_decay_mask: which parameters are decayed: ``True`` (all), a tree (or prefix) of
        booleans or a function ``params -> tree``.
      trust_coefficient: the trust ratio's multiplier.
      eps: added to the gradient norm in the trust ratio.
      trust_ratio_mask: which parameters get the trust ratio, like ``weight_decay_mask``
        (biases and normalisation scales are usually excluded).
      momentum: the momentum decay rate.
      nesterov: Nesterov's form of the momentum.

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> no_bias = lambda p: jax.tree.map(lambda w: w.ndim > 1, p)
      >>> opt = lars(1.0, weight_decay=1e-4, weight_decay_mask=no_bias, trust_ratio_mask=no_bias)

    References:
      You, Gitman, Ginsburg, Large Batch Training of Convolutional Networks, 2017.
    """
    trust = scale_by_trust_ratio(trust_coefficient=trust_coefficient, eps=eps)
    return chain(
        _decay("lars", weight_decay, weight_decay_mask),
        trust if trust_ratio_mask is True else masked(trust, trust_ratio_mask),
        _lr("lars", learning_rate),
        trace(momentum, nesterov),
    )


def fromage(learning_rate: ScalarOrSchedule, min_norm: ScalarOrSchedule = 1e-6
            ) -> GradientTransformation:
    r"""Fromage: a step of fixed relative size per leaf, then a shrink that keeps norms fixed.

        w_{t+1} = (w_t - lr_t (||w_t|| / ||g_t||) g_t) / sqrt(1 + lr_t^2)

    written as updates: ``u_t = -lr_t c_t ratio_t g_t + (c_t - 1) w_t`` with
    ``c_t = 1 / sqrt(1 + lr_t^2)``; both norms are clipped below at ``min_norm``.

    Args:
      learning_rate: ``lr``, a number, JAX scalar or schedule ``count -> lr``; the relative
        size of each step.
      min_norm: lower bound for both norms in the ratio.

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> opt = fromage(1e-2)

    References:
      Bernstein, Vahdat, Yue, Liu, On the distance between two neural networks and the
      stability of learning, 2020.
    """
    _check_learning_rate("fromage", learning_rate)

    def shrink(count):
        lr = resolve(learning_rate, count)
        return 1.0 / jnp.sqrt(1.0 + lr * lr)

    def step_size(count):
        return resolve(learning_rate, count) * shrink(count)

    def decay(count):
        return shrink(count) - 1.0

    if not callable(learning_rate):  # constant: precompute, no schedule state
        step_size, decay = step_size(0), decay(0)
    return chain(
        scale_by_trust_ratio(min_norm),
        scale_by_learning_rate(step_size),
        add_decayed_weights(decay),
    )


def adafactor(
    learning_rate: ScalarOrSchedule | None = None,
    min_dim_size_to_factor: int = 128,
    decay_rate: ScalarOrSchedule = 0.8,
    decay_offset: int | jax.Array = 0,
    multiply_by_parameter_scale: bool = True,
    clipping_threshold: ScalarOrSchedule | None = 1.0,
    momentum: ScalarOrSchedule | None = None,
    dtype_momentum: DTypeLike = jnp.float32,
    weight_decay_rate: ScalarOrSchedule | None = None,
    eps: ScalarOrSchedule = 1e-30,
    factored: bool = True,
    weight_decay_mask: Mask | None = None,
) -> GradientTransformation:
    r"""Adafactor: RMS scaling with a factored (row x column) second moment.

        beta_t = 1 - (t - decay_offset)^(-decay_rate)
        V_t = beta_t V_{t-1} + (1 - beta_t) (g_t^2 + eps)   (for a matrix of at least
              min_dim_size_to_factor rows and columns, only its row and column means are kept
              and V_t is their outer product divided by the overall mean)
        s_t = g_t / sqrt(V_t);   s_t = s_t / max(1, RMS(s_t) / clipping_threshold)
        s_t = lr_t s_t, times max(RMS(w_t), 1e-3) if multiply_by_parameter_scale
        s_t = momentum EMA of s_t (no debiasing), if momentum is given
        u_t = -(s_t + weight_decay_rate w_t)

    Args:
      learning_rate: ``lr``, a number, JAX scalar or schedule ``count -> lr``; ``None``
        for no learning-rate scaling (step sizes then come from the parameter scale alone).
      min_dim_size_to_factor: factor only arrays with two dimensions at least this large.
      decay_rate: the exponent of the second-moment decay schedule.
      decay_offset: step the decay schedule starts from (for fine-tuning).
      multiply_by_parameter_scale: scale steps by the parameters' RMS (relative steps).
      clipping_threshold: clip the update's RMS to at most this (>= 1); ``None``: no clip.
      momentum: EMA rate of the updates; ``None`` (default) for none.
      dtype_momentum: dtype of the momentum buffer.
      weight_decay_rate: decay coefficient; ``None`` for none.
      eps: regulariser added to the squared gradients.
      factored: whether to factor the second moment at all.
      weight_decay_mask: which parameters are decayed, as in ``adamw``.

    Returns:
      A ``GradientTransformation``.

    Example:
      >>> opt = adafactor(1e-2)

    Warning:
      ``weight_decay_rate`` is *not* multiplied by the learning rate (unlike ``adamw``).

    References:
      Shazeer, Stern, Adafactor: Adaptive Learning Rates with Sublinear Memory Cost, 2018.
    """
    parts = [scale_by_factored_rms(factored, decay_rate, decay_offset, min_dim_size_to_factor,
                                   eps)]
    if clipping_threshold is not None:
        parts.append(clip_by_block_rms(clipping_threshold))
    if learning_rate is not None:
        _check_learning_rate("adafactor", learning_rate)
        parts.append(scale_by_learning_rate(learning_rate, flip_sign=False))
    if multiply_by_parameter_scale:
        parts.append(_scale_by_param_block_rms())
    if momentum is not None:
        parts.append(ema(momentum, debias=False, accumulator_dtype=dtype_momentum))
    if weight_decay_rate is not None:
        parts.append(_decay("adafactor", weight_decay_rate, weight_decay_mask))
    parts.append(scale(-1.0))
    return chain(*parts)
