"""Checks a data set before training, so mistakes surface in the user's terms, not in XLA.

``check_dataset`` runs on the host on concrete arrays (call it before ``jit``): it reports
mismatched lengths, empty data, non-finite inputs (how many, and the first example holding
one), float labels where class indices are expected, and labels out of range.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.typing import ArrayLike

from jaxdl.data._checks import positive_int

__all__ = ["check_dataset"]

_TASKS = ("classification", "regression")


def _host(fn: str, name: str, arr: Any, what: str) -> np.ndarray:
    if isinstance(arr, jax.core.Tracer):
        raise TypeError(
            f"{fn}: `{name}` is a traced array; call check_dataset on concrete data, outside "
            "jit/vmap."
        )
    a = np.asarray(arr)
    if a.ndim == 0:
        raise ValueError(f"{fn}: {what} must have a leading example axis, got a scalar.")
    return a


def _first_bad(fn: str, what: str, values: np.ndarray, bad: np.ndarray, problem: str) -> None:
    """Raise naming how many entries are ``bad`` and the first example that holds one."""
    if bad.any():
        per_example = bad.reshape(len(bad), -1).any(axis=1)
        first = int(np.argmax(per_example))
        raise ValueError(
            f"{fn}: {what} {problem}: {int(bad.sum())} value(s) in {int(per_example.sum())} "
            f"example(s); the first is example {first} "
            f"(value {values[first].ravel()[bad[first].ravel()][0].item()})."
        )


def check_dataset(X: ArrayLike, y: ArrayLike, *, name: str = "train",
                  task: str = "classification", num_classes: int | None = None) -> None:
    """Raises a ValueError if ``(X, y)`` cannot be a ``task`` data set; returns None if fine.

    Checks, in order: ``X`` and ``y`` have the same number of examples; there is at least
    one; ``X`` is numeric and finite (no NaN or Inf); for classification, ``y`` holds
    integer class indices of shape ``(n,)`` (a float ``y`` is an error, since one-hot or
    regression targets there are a mistake) within ``[0, num_classes)`` when
    ``num_classes`` is given; for regression, ``y`` is numeric and finite.

    Args:
      X: inputs with a leading example axis (numpy or JAX, concrete).
      y: targets with the same leading length.
      name: what the data are called in messages ("train", "validation", "test").
      task: ``"classification"`` or ``"regression"``.
      num_classes: for classification, the number of classes the model predicts.

    Raises:
      ValueError: the data set is unusable; the message names the data set, the array, the
        problem, and where it is.
        An unknown ``task`` is a ValueError too.
      TypeError: traced arrays, or a ``num_classes`` that is not an int.
    """
    fn = "check_dataset"
    if task not in _TASKS:
        raise ValueError(f"{fn}: `task` must be one of {_TASKS}, got {task!r}.")
    if num_classes is not None:
        num_classes = positive_int(fn, "num_classes", num_classes)
    x = _host(fn, "X", X, f"{name} X")
    t = _host(fn, "y", y, f"{name} y")
    if len(x) != len(t):
        raise ValueError(
            f"{fn}: {name} X and y must hold the same number of examples, got {len(x)} inputs "
            f"(shape {x.shape}) and {len(t)} targets (shape {t.shape})."
        )
    if len(x) == 0:
        raise ValueError(f"{fn}: the {name} data set is empty (X has shape {x.shape}).")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise ValueError(f"{fn}: {name} X must be numeric, got dtype {x.dtype}.")
    if np.issubdtype(x.dtype, np.inexact):
        _first_bad(fn, f"{name} X", x, ~np.isfinite(x), "contains NaN or Inf")
    if task == "regression":
        if not np.issubdtype(t.dtype, np.number):
            raise ValueError(f"{fn}: {name} y must hold numeric targets, got dtype {t.dtype}.")
        if np.issubdtype(t.dtype, np.inexact):
            _first_bad(fn, f"{name} y", t, ~np.isfinite(t), "contains NaN or Inf")
        return
    if not np.issubdtype(t.dtype, np.integer):
        raise ValueError(
            f"{fn}: {name} y must hold integer class labels for classification, got dtype "
            f"{t.dtype}. Convert with y.astype(np.int32); for real-valued targets pass "
            "task='regression'."
        )
    if t.ndim != 1:
        raise ValueError(
            f"{fn}: {name} y must be one class index per example, shape ({len(t)},), got "
            f"{t.shape}."
        )
    if num_classes is not None:
        _first_bad(fn, f"{name} y", t, (t < 0) | (t >= num_classes),
                   f"has labels outside [0, num_classes={num_classes})")
    elif t.min() < 0:
        _first_bad(fn, f"{name} y", t, t < 0, "has negative class labels")
