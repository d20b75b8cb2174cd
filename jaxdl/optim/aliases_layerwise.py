"""Layer-wise optimizers: LAMB, LARS, Fromage and Adafactor, whose steps scale with each
parameter block's norm, with optax's names, arguments and defaults.

See ``jaxdl.optim.aliases`` for the conventions every alias shares.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from jaxdl.optim.adaptive import (
    scale_by_adam,
)
from jaxdl.optim.aliases import Mask, _check_learning_rate, _decay, _lr
from jaxdl.optim.base import (
    EmptyState,
    GradientTransformation,
    ScalarOrSchedule,
    chain,
    require_params,
    resolve,
)
from jaxdl.optim.constraints import add_decayed_weights, clip_by_block_rms
from jaxdl.optim.low_memory import (
    scale_by_factored_rms,
)
from jaxdl.optim.transforms import (
    ema,
    scale,
    scale_by_learning_rate,
    scale_by_trust_ratio,
    trace,
)
from jaxdl.optim.wrappers import masked

__all__ = [
    "adafactor",
    "fromage",
    "lamb",
    "lars",
]


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
