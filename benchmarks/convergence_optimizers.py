"""The optimizers of the convergence benchmark: names, default rates, grids and backends.

Each optimizer is an ``OptimizerSpec``: a builder ``(module, learning_rate) -> transformation``
that makes the same call on ``jaxdl.optim`` and on ``optax`` (the honesty check's backend), its
customary default learning rate, and its family, which picks the learning-rate grid.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import importlib
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

__all__ = [
    "OptimizerSpec",
    "OPTIMIZERS",
    "DEFAULT_OPTIMIZERS",
    "QUICK_OPTIMIZERS",
    "FAMILY_SHIFTS",
    "MIN_GRID_POINTS",
    "Backend",
    "get_backend",
    "optimizer_spec",
    "known_optimizers",
    "unknown_name",
    "lr_grid",
    "extend_grid",
]


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer of the benchmark: how to build it and its customary default rate.

    Attributes:
      name: the benchmark's name for it.
      family: which learning-rate grid it gets (see ``FAMILY_SHIFTS``).
      default_lr: the customary default learning rate (PyTorch's or Keras's, see the table).
      build: ``(module, learning_rate) -> GradientTransformation``, where ``module`` is
        ``jaxdl.optim`` or ``optax``: the same call in both libraries.
      full_batch: train on the problem's full-batch loss (gradient descent) where it has one.
    """

    name: str
    family: str
    default_lr: float
    build: Callable[[Any, Any], Any]
    full_batch: bool = False


def _alias(name: str, **kwargs: Any) -> Callable[[Any, Any], Any]:
    return lambda module, lr: getattr(module, name)(lr, **kwargs)


# Customary default rates: SGD, momentum and Nesterov 1e-2 (Keras); Adagrad 1e-2 (PyTorch);
# RMSprop 1e-3 (Keras, whose rho 0.9 is optax's decay); Adadelta 1.0 (PyTorch, and the paper's
# algorithm); Adam, AdamW, NAdam, AMSGrad, RAdam 1e-3 (PyTorch and Keras; PyTorch's NAdam uses
# 2e-3); Lion 1e-4 (its paper: 3-10x below AdamW's). Every other hyperparameter is the
# libraries' default (equal in jaxdl and optax), except momentum 0.9. "momentum" is
# sgd(lr, momentum=0.9), optax's form; jaxdl.optim.momentum (the velocity form) makes the same
# updates at a constant rate.
OPTIMIZERS: dict[str, OptimizerSpec] = {
    spec.name: spec
    for spec in [
        OptimizerSpec("gd", "sgd", 1e-2, _alias("sgd"), full_batch=True),
        OptimizerSpec("sgd", "sgd", 1e-2, _alias("sgd")),
        OptimizerSpec("momentum", "sgd", 1e-2, _alias("sgd", momentum=0.9)),
        OptimizerSpec("nesterov", "sgd", 1e-2, _alias("sgd", momentum=0.9, nesterov=True)),
        OptimizerSpec("adagrad", "adaptive", 1e-2, _alias("adagrad")),
        OptimizerSpec("rmsprop", "adaptive", 1e-3, _alias("rmsprop")),
        OptimizerSpec("adadelta", "adadelta", 1.0, _alias("adadelta")),
        OptimizerSpec("adam", "adaptive", 1e-3, _alias("adam")),
        OptimizerSpec("adamw", "adaptive", 1e-3, _alias("adamw")),
        OptimizerSpec("nadam", "adaptive", 1e-3, _alias("nadam")),
        OptimizerSpec("amsgrad", "adaptive", 1e-3, _alias("amsgrad")),
        OptimizerSpec("radam", "adaptive", 1e-3, _alias("radam")),
        OptimizerSpec("lion", "sign", 1e-4, _alias("lion")),
    ]
}
DEFAULT_OPTIMIZERS = tuple(OPTIMIZERS)
QUICK_OPTIMIZERS = ("gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "lion")

# Other jaxdl.optim aliases, by name: (family, customary default rate); unlisted ones: 1e-3.
_EXTRA = {
    "adamax": ("adaptive", 2e-3), "adamaxw": ("adaptive", 2e-3), "yogi": ("adaptive", 1e-2),
    "sign_sgd": ("sign", 1e-4), "signum": ("sign", 1e-4), "fromage": ("adaptive", 1e-2),
    "lars": ("sgd", 1e-1), "rprop": ("adaptive", 1e-2),
}
# The grid of a family: the problem's default_lr_range (which covers the good rates of the
# suite's optimizers) times these factors. Sign-based updates (Lion) move each coordinate by
# lr itself, so they want smaller rates; Adadelta's lr multiplies a unit-free ratio of RMS
# values that starts near sqrt(eps) ~ 1e-3, so it wants rates around 1 and above.
FAMILY_SHIFTS: dict[str, float] = {"sgd": 1.0, "adaptive": 1.0, "sign": 0.1, "adadelta": 100.0}
_ALIAS_MODULES = ("aliases", "aliases_adam", "aliases_layerwise")
MIN_GRID_POINTS = 9


def _jaxdl_aliases() -> list[str]:
    """Names of jaxdl.optim's aliases whose first argument is ``learning_rate``."""
    names = []
    for mod_name in _ALIAS_MODULES:
        mod = importlib.import_module(f"jaxdl.optim.{mod_name}")
        for name in mod.__all__:
            fn = getattr(mod, name)
            if inspect.isfunction(fn) and next(iter(inspect.signature(fn).parameters), "") == (
                "learning_rate"
            ):
                names.append(name)
    return names


def known_optimizers() -> list[str]:
    """Every optimizer name the benchmark accepts: its own 13 first, then jaxdl's other aliases."""
    return list(OPTIMIZERS) + sorted(set(_jaxdl_aliases()) - set(OPTIMIZERS))


def unknown_name(kind: str, name: str, known: Sequence[str]) -> ValueError:
    """The error for an unknown name: the closest matches, then every known name."""
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return ValueError(f"convergence: unknown {kind} {name!r}.{hint} Known: {', '.join(known)}.")


def optimizer_spec(name: str) -> OptimizerSpec:
    """The benchmark's spec for an optimizer name (its 13, or any other jaxdl.optim alias).

    Args:
      name: e.g. ``"adam"`` or ``"yogi"``.

    Returns:
      An ``OptimizerSpec``.

    Raises:
      ValueError: for an unknown name, listing the known ones and the closest matches.
    """
    if name in OPTIMIZERS:
        return OPTIMIZERS[name]
    known = known_optimizers()
    if name not in known:
        raise unknown_name("optimizer", name, known)
    family, default = _EXTRA.get(name, ("adaptive", 1e-3))
    return OptimizerSpec(name, family, default, _alias(name))


# ----------------------------------------------------------------------------- backends


@dataclasses.dataclass(frozen=True)
class Backend:
    """A library of optimizers: the module the specs call, ``apply_updates`` and a context."""

    name: str
    module: Any
    apply_updates: Callable[[Any, Any], Any]
    context: Callable[[], Any]


def get_backend(name: str) -> Backend:
    """``"jaxdl"`` (jaxdl.optim) or ``"optax"`` (imported only here; it is a test extra)."""
    if name == "jaxdl":
        from jaxdl import optim

        return Backend("jaxdl", optim, optim.apply_updates, contextlib.nullcontext)
    if name == "optax":
        import optax  # the honesty check only: optax is not a run-time dependency of jaxdl

        # optax relies on implicit promotion, which the tests' strict mode refuses
        return Backend("optax", optax, optax.apply_updates,
                       lambda: jax.numpy_dtype_promotion("standard"))
    raise unknown_name("backend", name, ["jaxdl", "optax"])


# ----------------------------------------------------------------------------- the program


def lr_grid(problem: Any, spec: OptimizerSpec, points: int) -> np.ndarray:
    """The log-spaced learning-rate grid of ``spec`` on ``problem``.

        lr_i = c lo (hi / lo) ** (i / (points - 1)),  i = 0..points-1

    with ``(lo, hi)`` the problem's ``default_lr_range`` and ``c = FAMILY_SHIFTS[family]``.

    Args:
      problem: a ``benchmarks.problems.Problem``.
      spec: the optimizer.
      points: number of grid points (``>= 9``).

    Returns:
      A float64 array of ``points`` increasing learning rates.
    """
    lo, hi = problem.default_lr_range
    shift = FAMILY_SHIFTS[spec.family]
    return np.geomspace(shift * lo, shift * hi, points)


def extend_grid(grid: np.ndarray, side: str) -> np.ndarray:
    """As many new points past one edge of a log-spaced grid, at the same spacing.

        low:  lr_0 * s ** -j,  j = n..1;    high: lr_{n-1} * s ** j,  j = 1..n;   s = lr_1 / lr_0

    Args:
      grid: increasing, log-spaced learning rates (at least 2).
      side: ``"low"`` or ``"high"``.

    Returns:
      The ``len(grid)`` new learning rates, increasing.
    """
    n = len(grid)
    ratio = grid[1] / grid[0]
    if side == "low":
        return grid[0] * ratio ** -np.arange(n, 0, -1, dtype=np.float64)
    return grid[-1] * ratio ** np.arange(1, n + 1, dtype=np.float64)
