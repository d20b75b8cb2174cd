"""The convergence suite's problems: analytic test functions and small learning problems.

A ``Problem`` is plain data and pure functions: ``init(key) -> params``, a one-step training
objective ``loss(params, key)`` (stochastic problems draw their minibatch or noise from
``key``), and a ``metric(params)`` compared with a ``target`` every ``eval_every`` steps, for
at most ``budget`` steps. All three work under ``jit`` and ``vmap`` over params and keys, so
a (learning rate x seed) grid of one optimizer is one compiled program. A run reaches the
target when ``metric <= target`` (``metric >= target`` when ``higher_is_better``). Problems
whose full-batch objective is cheap are ``FullBatchProblem``s and also carry ``full_loss``
(for gradient descent on the whole training set): all but the CNN.

    problem = problems.get("rosenbrock")
    params = problem.init(jax.random.key(0))
    grads = jax.grad(problem.loss)(params, jax.random.key(1))

Targets and budgets were chosen by measurement: the good optimizers (Adam, SGD with
momentum) reach the target at their best learning rate well within the budget (the numbers
are in each builder's comment) and a learning rate a few decades too small misses. The one
exception is Rastrigin's function, which no first-order method here solves from outside the
global minimum's basin. Data sets are loaded and split once (a fixed split key) and closed
over as constants.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import data, losses, nn

__all__ = [
    "QUICK",
    "FullBatchProblem",
    "Minimum",
    "Problem",
    "beale",
    "bounds",
    "function",
    "get",
    "global_minimum",
    "names",
    "rastrigin",
    "rosenbrock",
    "six_hump_camel",
]

Params = Any


@dataclasses.dataclass(frozen=True)
class Problem:
    """One problem of the convergence suite (see the module docstring for the protocol).

    Attributes:
      name: the registry name, e.g. ``"rosenbrock"``.
      description: one line for tables and plots.
      init: ``key -> params``; analytic problems return their fixed start and ignore ``key``.
      loss: ``(params, key) -> scalar``, the training objective of one step; stochastic
        problems draw their minibatch or noise from ``key``, deterministic ones ignore it.
      metric: ``params -> scalar`` compared with ``target`` (the full objective, a validation
        accuracy or a validation mean squared error).
      metric_name: ``"loss"``, ``"excess_loss"``, ``"val_accuracy"``,
        ``"val_binary_accuracy"`` or ``"val_mse"``.
      target: the value that counts as solved.
      higher_is_better: ``True`` when reaching means ``metric >= target``.
      budget: the most steps a run may take.
      eval_every: steps between evaluations of ``metric`` (the resolution of steps-to-target).
      kind: ``"analytic"`` or ``"learning"``.
      batch_size: examples per step; ``None`` for full-batch or deterministic problems.
      default_lr_range: ``(lo, hi)`` of a log-spaced learning-rate grid that covers the good
        rates of every optimizer in the suite.
    """

    name: str
    description: str
    init: Callable[[jax.Array], Params]
    loss: Callable[[Params, jax.Array], jax.Array]
    metric: Callable[[Params], jax.Array]
    metric_name: str
    target: float
    higher_is_better: bool
    budget: int
    eval_every: int
    kind: str
    batch_size: int | None
    default_lr_range: tuple[float, float]


@dataclasses.dataclass(frozen=True)
class FullBatchProblem(Problem):
    """A ``Problem`` whose full-batch objective is cheap enough to descend every step.

    Attributes:
      full_loss: ``params -> scalar``, the expectation of ``loss(params, key)`` over keys
        (the whole training set, or the noise-free objective), for gradient descent. Every
        problem but the CNN has one (a whole-training-set convolution per step and run, on
        CPU, would cost more than the rest of the suite).
    """

    full_loss: Callable[[Params], jax.Array]


class Minimum(NamedTuple):
    """Where a 2-D test function attains its global minimum.

    Attributes:
      value: the minimum value.
      points: float64 array ``(k, 2)`` of the ``k`` global minimisers.
    """

    value: float
    points: np.ndarray


# ----------------------------------------------------------------------------- 2-D functions


def rosenbrock(z: jax.Array) -> jax.Array:
    """Rosenbrock's banana valley: ``f(x, y) = (1 - x)^2 + 100 (y - x^2)^2``.

    Global minimum ``f(1, 1) = 0`` at the end of a long, curved, flat-bottomed valley.

    Args:
      z: the point ``(x, y)``, shape ``(2,)``.

    Returns:
      The scalar value.

    References:
      Rosenbrock, "An Automatic Method for Finding the Greatest or Least Value of a
      Function", The Computer Journal 1960.
    """
    x, y = z[0], z[1]
    return (1.0 - x) ** 2 + 100.0 * (y - x**2) ** 2


def beale(z: jax.Array) -> jax.Array:
    """Beale's function: ``f = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2``.

    Global minimum ``f(3, 0.5) = 0``; flat plateaus and steep walls (the ``y^3`` term).

    Args:
      z: the point ``(x, y)``, shape ``(2,)``.

    Returns:
      The scalar value.

    References:
      Beale, "On an Iterative Method for Finding a Local Minimum of a Function of More than
      One Variable", Princeton University technical report 1958.
    """
    x, y = z[0], z[1]
    return ((1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2
            + (2.625 - x + x * y**3) ** 2)


def rastrigin(z: jax.Array) -> jax.Array:
    """Rastrigin's function in 2-D: ``f(z) = 20 + sum_i (z_i^2 - 10 cos(2 pi z_i))``.

    A bowl covered in ripples: a local minimum near every integer point, the global one
    ``f(0, 0) = 0``; the nearest local minima, near ``(+-1, 0)``, have ``f ~ 0.99``.

    Args:
      z: the point, shape ``(2,)``.

    Returns:
      The scalar value.

    References:
      Rastrigin, "Systems of Extremal Control", Nauka 1974; Muehlenbein, Schomisch, Born,
      "The Parallel Genetic Algorithm as Function Optimizer", Parallel Computing 1991.
    """
    return 20.0 + jnp.sum(z**2 - 10.0 * jnp.cos(2.0 * math.pi * z))


def six_hump_camel(z: jax.Array) -> jax.Array:
    """The six-hump camel function: ``f = (4 - 2.1 x^2 + x^4 / 3) x^2 + xy + (4y^2 - 4) y^2``.

    Six local minima; the two global ones ``f = -1.0316`` at ``+-(0.0898, -0.7126)``, local
    ones at ``+-(1.7036, -0.7961)`` (``f = -0.2155``) and ``+-(1.6071, 0.5687)`` (``2.1043``).

    Args:
      z: the point ``(x, y)``, shape ``(2,)``.

    Returns:
      The scalar value.

    References:
      Dixon, Szego, "The Global Optimization Problem: an Introduction", Towards Global
      Optimisation 2, 1978.
    """
    x, y = z[0], z[1]
    return (4.0 - 2.1 * x**2 + x**4 / 3.0) * x**2 + x * y + (4.0 * y**2 - 4.0) * y**2


class _Surface(NamedTuple):
    fn: Callable[[jax.Array], jax.Array]
    bounds: tuple[tuple[float, float], tuple[float, float]]
    minimum: Minimum
    start: tuple[float, float]


_CAMEL_MIN = (0.08984201368301331, -0.7126564032704135)  # Dixon & Szego's minimiser
_SURFACES = {
    "rosenbrock": _Surface(rosenbrock, ((-2.0, 2.0), (-1.0, 3.0)),
                           Minimum(0.0, np.array([[1.0, 1.0]])), (-1.2, 1.0)),
    "beale": _Surface(beale, ((-4.5, 4.5), (-4.5, 4.5)),
                      Minimum(0.0, np.array([[3.0, 0.5]])), (1.0, 1.5)),
    "rastrigin": _Surface(rastrigin, ((-5.12, 5.12), (-5.12, 5.12)),
                          Minimum(0.0, np.array([[0.0, 0.0]])), (-2.3, 1.7)),
    "six-hump-camel": _Surface(six_hump_camel, ((-3.0, 3.0), (-2.0, 2.0)),
                               Minimum(-1.0316284534898774,
                                       np.array([_CAMEL_MIN, [-v for v in _CAMEL_MIN]])),
                               (2.0, 1.4)),
}


def _surface(fn: str, name: str) -> _Surface:
    if name not in _SURFACES:
        raise ValueError(f"{fn}: {name!r} is not a 2-D test function; known: "
                         f"{', '.join(sorted(_SURFACES))}{_closest(name, _SURFACES)}.")
    return _SURFACES[name]


def function(name: str) -> Callable[[jax.Array], jax.Array]:
    """The 2-D test function ``f(z)`` of an analytic problem, for contour plots and paths.

    Args:
      name: ``"rosenbrock"``, ``"beale"``, ``"rastrigin"`` or ``"six-hump-camel"``.

    Returns:
      A pure function of a ``(2,)`` array to a scalar.
    """
    return _surface("function", name).fn


def bounds(name: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """The plotting box ``((x_lo, x_hi), (y_lo, y_hi))`` of a 2-D test function.

    Args:
      name: a 2-D test function's name (see ``function``).

    Returns:
      The box, the customary search domain of the function.
    """
    return _surface("bounds", name).bounds


def global_minimum(name: str) -> Minimum:
    """The global minimum value and minimisers of a 2-D test function.

    Args:
      name: a 2-D test function's name (see ``function``).

    Returns:
      A ``Minimum(value, points)``, ``points`` of shape ``(k, 2)``.
    """
    return _surface("global_minimum", name).minimum


# ----------------------------------------------------------------------------- analytic problems


def _analytic(name: str, description: str, target: float, budget: int, eval_every: int,
              lr_range: tuple[float, float]) -> Problem:
    """A deterministic problem on a 2-D surface: start at its fixed point, metric = f."""
    surface = _SURFACES[name]
    start = np.asarray(surface.start, np.float32)
    return FullBatchProblem(
        name=name, description=description, init=lambda key: jnp.asarray(start),
        loss=lambda params, key: surface.fn(params), metric=surface.fn, metric_name="loss",
        target=target, higher_is_better=False, budget=budget, eval_every=eval_every,
        kind="analytic", batch_size=None, default_lr_range=lr_range, full_loss=surface.fn)


@functools.cache
def _deep_hessian(dim: int = 100) -> np.ndarray:
    """DeepOBS's ``quadratic_deep`` Hessian ``Q = R^T diag(lambda) R``: 90% of the eigenvalues
    uniform in [0, 1], 10% in [30, 60], ``R`` a Haar-random rotation (QR of a Gaussian matrix
    with the signs of ``diag(R)`` fixed, Mezzadri 2007), all from the fixed seed 42."""
    rng = np.random.default_rng(42)
    small = dim * 9 // 10
    eig = np.concatenate([rng.uniform(0.0, 1.0, small), rng.uniform(30.0, 60.0, dim - small)])
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    rot = q * np.sign(np.diag(r))
    return (rot.T * eig) @ rot


def _quadratic_deep(batch_size: int = 128, noise: float = 0.6) -> Problem:
    # DeepOBS's quadratic_deep (Schneider, Balles, Hennig, "DeepOBS: A Deep Learning Optimizer
    # Benchmark Suite", ICLR 2019; the spectrum after Chaudhari et al., "Entropy-SGD", 2017):
    # loss_i = 0.5 (theta - x_i)^T Q (theta - x_i), x_i ~ N(0, noise^2 I), theta_0 = 1, batch
    # 128. The minibatch mean has the gradient Q (theta - xbar), xbar ~ N(0, noise^2 / B I), so
    # one normal draw of xbar per step gives DeepOBS's minibatch gradients exactly (from an
    # infinite data set instead of 1000 fixed draws); the loss differs by a constant only. Q
    # has DeepOBS's spectrum but not its exact rotation (a different Haar sampler and RNG).
    # Measured: 340 @ 1e-2 / 100 @ 1e-2 / 40 @ 1e-2 / 200 @ 0.3 / 200 @ 3e-2 / 160 @ 0.1.
    hessian = jnp.asarray(_deep_hessian(), jnp.float32)
    dim = hessian.shape[0]
    scale = noise / math.sqrt(batch_size)

    def loss(params: jax.Array, key: jax.Array) -> jax.Array:
        d = params - scale * jax.random.normal(key, (dim,), params.dtype)
        return 0.5 * d @ hessian @ d

    def metric(params: jax.Array) -> jax.Array:  # expected loss minus its minimum
        return 0.5 * params @ hessian @ params

    floor = 0.5 * scale**2 * float(np.trace(_deep_hessian()))

    def full_loss(params: jax.Array) -> jax.Array:  # E loss = metric + 0.5 tr(Q) noise^2 / B
        return metric(params) + floor

    return FullBatchProblem(
        name="quadratic-deep",
        description="noisy 100-D quadratic, eigenvalues 90% in [0,1], 10% in [30,60] (DeepOBS)",
        init=lambda key: jnp.ones((dim,), jnp.float32), loss=loss, metric=metric,
        metric_name="excess_loss", target=1.0, higher_is_better=False, budget=2000,
        eval_every=20, kind="analytic", batch_size=batch_size, default_lr_range=(1e-4, 10.0),
        full_loss=full_loss)


# ----------------------------------------------------------------------------- learning problems


class _Split(NamedTuple):
    x_train: jax.Array
    y_train: jax.Array
    x_val: jax.Array
    y_val: jax.Array


_SPLIT_SEED = 0  # the train/validation split of every data set is fixed


@functools.cache
def _digits(images: bool) -> _Split:
    """Digits, 80/20 stratified train/validation; pixels already in [0, 1]; flat vectors or
    (with ``images``) the same examples as 8x8x1 NHWC images."""
    if images:
        flat = _digits(False)
        return flat._replace(x_train=flat.x_train.reshape(-1, 8, 8, 1),
                             x_val=flat.x_val.reshape(-1, 8, 8, 1))
    X, y = data.digits()
    (xt, yt), (xv, yv) = data.split(X, y, (0.8, 0.2), key=jax.random.key(_SPLIT_SEED),
                                    stratify=True)
    return _Split(*(jnp.asarray(a) for a in (xt, yt, xv, yv)))


@functools.cache
def _breast_cancer() -> _Split:
    """Breast cancer, 80/20 stratified, features deliberately left raw (unstandardised)."""
    X, y = data.breast_cancer()
    (xt, yt), (xv, yv) = data.split(X, y, (0.8, 0.2), key=jax.random.key(_SPLIT_SEED),
                                    stratify=True)
    return _Split(jnp.asarray(xt), jnp.asarray(yt, jnp.float32)[:, None], jnp.asarray(xv),
                  jnp.asarray(yv, jnp.float32)[:, None])


@functools.cache
def _function_1d() -> _Split:
    """``y = sin(pi x) + 0.1 eps`` on [-1, 1] (one period): 256 train, 256 validation."""
    def wave(x: jax.Array) -> jax.Array:
        return jnp.sin(math.pi * x)

    k_train, k_val = jax.random.split(jax.random.key(_SPLIT_SEED))
    return _Split(*data.function_1d(wave, k_train, 256, noise=0.1),
                  *data.function_1d(wave, k_val, 256, noise=0.1))


def _mean(loss: Callable[..., jax.Array]) -> Callable[[jax.Array, jax.Array], jax.Array]:
    return lambda predictions, targets: jnp.mean(loss(predictions, targets))


_MSE = _mean(losses.squared_error)
_OBJECTIVES = {  # metric_name -> (training loss, validation metric, higher_is_better)
    "val_accuracy": (_mean(losses.softmax_cross_entropy_with_integer_labels), losses.accuracy,
                     True),
    "val_binary_accuracy": (_mean(losses.sigmoid_binary_cross_entropy),
                            losses.binary_accuracy, True),
    "val_mse": (_MSE, _MSE, False),
}


def _learning(name: str, description: str, model: nn.Layer, split: _Split, metric_name: str,
              target: float, budget: int, eval_every: int, batch_size: int,
              lr_range: tuple[float, float], full_batch: bool = True) -> Problem:
    """A model trained on minibatches drawn with replacement from ``key`` (so the mean loss
    over keys is the full training loss); the metric is on the whole validation part."""
    train_loss, val_metric, higher = _OBJECTIVES[metric_name]
    n_train = split.x_train.shape[0]
    input_shape = split.x_train.shape[1:]

    def init(key: jax.Array) -> Params:
        return model.init(key, input_shape)[1]

    def predict(params: Params, x: jax.Array) -> jax.Array:
        return model.apply(params, {}, x)[0]

    def loss(params: Params, key: jax.Array) -> jax.Array:
        idx = jax.random.randint(key, (batch_size,), 0, n_train)
        return train_loss(predict(params, split.x_train[idx]), split.y_train[idx])

    def metric(params: Params) -> jax.Array:
        return val_metric(predict(params, split.x_val), split.y_val)

    def full_loss(params: Params) -> jax.Array:
        return train_loss(predict(params, split.x_train), split.y_train)

    fields = dict(name=name, description=description, init=init, loss=loss, metric=metric,
                  metric_name=metric_name, target=target, higher_is_better=higher,
                  budget=budget, eval_every=eval_every, kind="learning",
                  batch_size=batch_size, default_lr_range=lr_range)
    return FullBatchProblem(**fields, full_loss=full_loss) if full_batch else Problem(**fields)


# ----------------------------------------------------------------------------- registry
#
# Measured (3 seeds, median steps to target at the best of 11 half-decade rates 1e-4..10,
# eval_every resolution): SGD / momentum 0.9 / Nesterov / AdaGrad / RMSprop / Adam, "miss"
# when no rate reaches the target within the budget. Every best rate lies in [1e-3, 3.2].


def _rosenbrock() -> Problem:
    # miss (GD diverges above 2e-3) / 170 @ 3e-3 / 610 @ 1e-3 / miss / miss / 320 @ 1
    return _analytic("rosenbrock", "Rosenbrock valley from (-1.2, 1)", target=1e-3,
                     budget=2000, eval_every=10, lr_range=(1e-4, 10.0))


def _beale() -> Problem:
    # 190 @ 3e-2 / 90 @ 3e-3 / 70 @ 3e-3 / 260 @ 1 / 380 @ 1e-2 / 100 @ 0.3
    return _analytic("beale", "Beale's function from (1, 1.5)", target=1e-3, budget=2000,
                     eval_every=10, lr_range=(1e-4, 10.0))


def _rastrigin() -> Problem:
    # Every optimizer misses: at stable rates all stop in the local minimum near (-2, 2)
    # (f = 7.96). Over 1656 starts x 17 rates, momentum 0.9 never settles in the global
    # minimum from outside its basin; only chaotic rates pass through it by chance.
    return _analytic("rastrigin", "Rastrigin 2-D from (-2.3, 1.7): deep local minima",
                     target=0.1, budget=1000, eval_every=10, lr_range=(1e-4, 10.0))


def _six_hump_camel() -> Problem:
    # miss (every rate stops in the local minimum f = 2.10 next to the start) / 80 @ 3e-2 /
    # 40 @ 3e-2 / 10 @ 3.2 / 10 @ 0.3 (passing through) / 80 @ 0.1
    return _analytic("six-hump-camel", "six-hump camel from (2, 1.4), next to a local minimum",
                     target=-1.03, budget=1000, eval_every=10, lr_range=(1e-4, 10.0))


def _logistic_digits() -> Problem:
    # 90 @ 3.2 / 50 @ 1 / 30 @ 1 / 50 @ 3.2 / 90 @ 0.1 / 60 @ 0.3
    return _learning("logistic-digits", "softmax regression on the 8x8 digits",
                     nn.serial(nn.Dense(10)), _digits(False), "val_accuracy", target=0.96,
                     budget=600, eval_every=10, batch_size=64, lr_range=(1e-4, 10.0))


def _mlp_tanh_digits() -> Problem:
    # 110 @ 1 / 70 @ 0.3 / 70 @ 0.3 / 110 @ 0.3 / 110 @ 3e-2 / 90 @ 3e-2
    model = nn.serial(nn.Dense(32, w_init="glorot_normal"), nn.tanh,
                      nn.Dense(10, w_init="glorot_normal"))
    return _learning("mlp-tanh-digits", "64-32-10 tanh MLP (Glorot init) on the digits", model,
                     _digits(False), "val_accuracy", target=0.97, budget=1000, eval_every=10,
                     batch_size=64, lr_range=(1e-4, 10.0))


def _mlp_relu_digits() -> Problem:
    # 200 @ 0.3 / 130 @ 0.1 / 90 @ 0.1 / 180 @ 0.1 / 120 @ 1e-2 / 110 @ 1e-2
    model = nn.serial(nn.Dense(64, w_init="he_normal"), nn.relu,
                      nn.Dense(32, w_init="he_normal"), nn.relu, nn.Dense(10))
    return _learning("mlp-relu-digits", "64-64-32-10 ReLU MLP (He init) on the digits", model,
                     _digits(False), "val_accuracy", target=0.97, budget=1000, eval_every=10,
                     batch_size=64, lr_range=(1e-4, 10.0))


def _cnn_digits() -> Problem:
    # 180 @ 0.3 / 160 @ 3e-2 / 140 @ 3e-2 / 90 @ 0.3 / 110 @ 3e-2 / 110 @ 3e-2. Strided
    # convolutions keep it cheap: vmapped over parameters, a convolution becomes a grouped
    # one, which XLA runs slowly on CPU (stride 1 in the first layer made it 6x slower).
    model = nn.serial(nn.Conv(8, 3, strides=2, w_init="he_normal"), nn.relu,
                      nn.Conv(16, 3, strides=2, w_init="he_normal"), nn.relu, nn.Flatten(),
                      nn.Dense(10))
    return _learning("cnn-digits", "CNN: two 3x3 stride-2 convolutions (8, 16 channels)",
                     model, _digits(True), "val_accuracy", target=0.95, budget=600,
                     eval_every=10, batch_size=32, lr_range=(1e-4, 10.0), full_batch=False)


def _mlp_function_1d() -> Problem:
    # 1020 @ 0.1 / 340 @ 0.1 / 280 @ 0.1 / 500 @ 1 / 440 @ 1e-2 / 200 @ 1; the noise floor
    # of the validation MSE is 0.01
    model = nn.serial(nn.Dense(32, w_init="glorot_normal"), nn.tanh, nn.Dense(1))
    return _learning("mlp-function-1d", "1-32-1 tanh MLP fitting sin(pi x) on [-1, 1]",
                     model, _function_1d(), "val_mse", target=0.02, budget=2000, eval_every=20,
                     batch_size=32, lr_range=(1e-4, 10.0))


def _logistic_breast_cancer() -> Problem:
    # 170 @ 1 / 40 @ 0.1 / 90 @ 0.1 / 420 @ 1 / 480 @ 3e-2 / 130 @ 0.3. With features from
    # 1e-3 to 4e3 the logits saturate and SGD's steps scale with |x|: it reaches 0.93 at
    # every rate in passing but keeps bouncing (final 0.92); Adam settles at 0.93-0.95.
    return _learning("logistic-breast-cancer",
                     "logistic regression on the raw, unstandardised breast-cancer features",
                     nn.serial(nn.Dense(1)), _breast_cancer(), "val_binary_accuracy",
                     target=0.93, budget=1000, eval_every=10, batch_size=32,
                     lr_range=(1e-4, 10.0))


_BUILDERS: dict[str, Callable[[], Problem]] = {
    "rosenbrock": _rosenbrock,
    "beale": _beale,
    "quadratic-deep": _quadratic_deep,
    "rastrigin": _rastrigin,
    "six-hump-camel": _six_hump_camel,
    "logistic-digits": _logistic_digits,
    "mlp-tanh-digits": _mlp_tanh_digits,
    "mlp-relu-digits": _mlp_relu_digits,
    "cnn-digits": _cnn_digits,
    "mlp-function-1d": _mlp_function_1d,
    "logistic-breast-cancer": _logistic_breast_cancer,
}

QUICK: tuple[str, ...] = ("rosenbrock", "logistic-digits", "mlp-tanh-digits")


def _closest(name: object, known: Any) -> str:
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def names() -> list[str]:
    """The problems of the suite, in their canonical order (analytic first).

    Returns:
      The registry names.
    """
    return list(_BUILDERS)


@functools.cache
def get(name: str) -> Problem:
    """The problem called ``name``; data sets are loaded and split on the first call.

    Args:
      name: one of ``names()``.

    Returns:
      The ``Problem`` (the same object on every call).

    Raises:
      ValueError: an unknown name; the message lists the known ones and the closest match.
    """
    if not isinstance(name, str) or name not in _BUILDERS:
        raise ValueError(f"problems.get: unknown problem {name!r}; known: "
                         f"{', '.join(_BUILDERS)}{_closest(name, _BUILDERS)}.")
    return _BUILDERS[name]()
