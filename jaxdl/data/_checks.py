"""Argument checks shared by the ``jaxdl.data`` modules: each raises in the caller's terms."""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__: list[str] = []

Data = np.ndarray | jax.Array


def positive_int(fn: str, name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as a Python int ``>= minimum``, else a TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{fn}: `{name}` must be a Python int, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{fn}: `{name}` must be at least {minimum}, got {value}.")
    return int(value)


def nonnegative_number(fn: str, name: str, value: Any, *, strict: bool = False) -> None:
    """Reject a plain Python number that is negative (or zero when ``strict``); arrays pass.

    Arrays (possibly traced, for ``vmap`` over a grid) are not inspected, so hyperparameters
    stay traceable.
    """
    if isinstance(value, bool):
        raise TypeError(f"{fn}: `{name}` must be a number, got {value!r}.")
    if isinstance(value, numbers.Real):
        bad = value <= 0 if strict else value < 0
        if bad or not np.isfinite(value):
            what = "positive" if strict else "non-negative"
            raise ValueError(f"{fn}: `{name}` must be a finite {what} number, got {value!r}.")


def check_key(fn: str, key: Any) -> jax.Array:
    """A single PRNG key (``jax.random.key(seed)`` or a raw ``uint32[2]`` key), else TypeError."""
    if key is None:
        raise TypeError(f"{fn}: needs a PRNG key: pass key=jax.random.key(seed).")
    if isinstance(key, jax.Array):
        if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) and key.shape == ():
            return key
        if key.dtype == jnp.uint32 and key.shape == (2,):
            return key
    shown = f"an array of shape {key.shape} and dtype {key.dtype}" if hasattr(key, "dtype") \
        else repr(key)
    raise TypeError(f"{fn}: `key` must be one PRNG key such as jax.random.key(0), got {shown}.")


def as_data(fn: str, name: str, x: Any) -> Data:
    """A numpy or JAX array with a leading example axis; other array-likes go through numpy."""
    if not isinstance(x, (np.ndarray, jax.Array)):
        x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError(f"{fn}: `{name}` needs a leading example axis, got a scalar.")
    return x


def paired_length(fn: str, x: Data, y: Data, names: tuple[str, str] = ("X", "y")) -> int:
    """The number of examples ``len(x) == len(y)``, else a ValueError giving both lengths."""
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{fn}: `{names[0]}` and `{names[1]}` must hold the same number of examples, got "
            f"{x.shape[0]} in {names[0]} (shape {x.shape}) and {y.shape[0]} in {names[1]} "
            f"(shape {y.shape})."
        )
    return int(x.shape[0])


def integer_labels(fn: str, name: str, labels: Any, n: int) -> Data:
    """A 1-D integer label array of length ``n`` (for stratification), else an error."""
    y = labels if isinstance(labels, (np.ndarray, jax.Array)) else np.asarray(labels)
    if not (jnp.issubdtype(y.dtype, jnp.integer) or y.dtype == np.bool_):
        raise TypeError(
            f"{fn}: stratifying needs integer class labels in `{name}`, got dtype {y.dtype}."
        )
    if y.shape != (n,):
        raise ValueError(
            f"{fn}: `{name}` must be a 1-D array of {n} class labels (one per example) to "
            f"stratify, got shape {y.shape}."
        )
    return y
