"""Optimizers of the Adam family: chains of ``scale_by_adam``-style scalings, optional
decoupled weight decay and the learning rate, with optax's names, arguments and defaults.

See ``jaxdl.optim.aliases`` for the conventions every alias shares.
"""

from __future__ import annotations

from jax.typing import DTypeLike

from jaxdl.optim.adaptive import (
    scale_by_adam,
    scale_by_adamax,
    scale_by_amsgrad,
    scale_by_belief,
    scale_by_radam,
    scale_by_yogi,
)
from jaxdl.optim.aliases import Mask, _check_learning_rate, _decay, _lr
from jaxdl.optim.base import (
    GradientTransformation,
    ScalarOrSchedule,
    chain,
)
from jaxdl.optim.low_memory import (
    scale_by_lion,
    scale_by_novograd,
)

__all__ = [
    "adabelief",
    "adam",
    "adamax",
    "adamaxw",
    "adamw",
    "amsgrad",
    "lion",
    "nadam",
    "nadamw",
    "novograd",
    "radam",
    "yogi",
]


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
