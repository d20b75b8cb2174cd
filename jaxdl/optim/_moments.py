"""Private helpers shared by the moment-based transforms (adaptive, rms, low_memory).

Numerics follow optax so the numbers match: arithmetic between hyperparameters that are Python
numbers stays in Python (double precision) and then meets each array weakly typed, in that
array's dtype; JAX-valued hyperparameters (traced or from a schedule) are cast explicitly to the
dtype of the array they multiply, so everything also runs under strict dtype promotion (and a
traced grid gives the numbers of the Python values). With a low-precision ``mu_dtype``,
``b1 * mu`` is thus taken in ``mu_dtype`` and added to ``(1 - b1) * g`` in the wider dtype, as
in optax. Moving averages and bias corrections (``1 - b**t`` in float32, cast to the moment's
dtype) are ``jaxdl.optim.tree``'s ``tree_update_moment`` and ``tree_bias_correction``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from jaxdl.optim.base import check_hyperparameter, check_tree_matches, resolve
from jaxdl.optim.base import safe_increment as increment  # noqa: F401 (used by the scalings)
from jaxdl.optim.tree import _promote_types as wider
from jaxdl.optim.tree import tree_bias_correction

__all__: list[str] = []


def zero_count() -> jax.Array:
    """A fresh step count: ``0`` as an int32 scalar."""
    return jnp.zeros((), jnp.int32)


def as_float(x: Any) -> jax.Array:
    """A hyperparameter value as a floating JAX scalar (integers become the default float)."""
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(float)


def coef(value: Any, dtype: Any) -> Any:
    """A coefficient about to meet an array of ``dtype``: Python numbers stay (weakly typed)
    Python numbers, JAX values are cast explicitly (strict promotion)."""
    if isinstance(value, (int, float)):
        return value
    return jnp.asarray(value).astype(dtype)


def same(*xs: jax.Array) -> tuple[jax.Array, ...]:
    """Casts arrays to their common (wider) dtype."""
    dtype = wider(*(x.dtype for x in xs))
    return tuple(x.astype(dtype) for x in xs)


def power(base: Any, count: jax.Array) -> jax.Array:
    """``base ** count`` in floating point, for an integer ``count``."""
    return lax.pow(as_float(base), count)


def first_moment(updates: Any, mu: Any, b1: Any, count: jax.Array, nesterov: bool) -> Any:
    """The bias-corrected first moment ``m_t / (1 - b1^t)``, or with ``nesterov`` Dozat's NAdam
    estimate ``b1 m_t / (1 - b1^{t+1}) + (1 - b1) g_t / (1 - b1^t)``, leaf by leaf."""
    if not nesterov:
        return tree_bias_correction(mu, b1, count)
    ahead = tree_bias_correction(mu, b1, increment(count))
    now = tree_bias_correction(updates, b1, count)
    return jax.tree.map(
        lambda a, n: jnp.add(*same(coef(b1, a.dtype) * a, coef(1 - b1, n.dtype) * n)), ahead, now
    )


def adam_step(m: jax.Array, v: jax.Array, eps: Any, eps_root: Any) -> jax.Array:
    """``m / (sqrt(v + eps_root) + eps)``."""
    m, v = same(m, v)
    return m / (jnp.sqrt(v + coef(eps_root, v.dtype)) + coef(eps, v.dtype))


def zeros(params: Any, dtype: Any = None) -> Any:
    """Zeros shaped like ``params``, in ``dtype`` (``None``: each leaf's own dtype)."""

    def leaf(p):
        return jnp.zeros(jnp.shape(p), jnp.asarray(p).dtype if dtype is None else dtype)

    return jax.tree.map(leaf, params)


def full(params: Any, value: Any) -> Any:
    """``value`` everywhere, shaped like ``params`` and in each leaf's dtype."""
    return jax.tree.map(lambda p: jnp.full_like(p, coef(value, jnp.asarray(p).dtype)), params)


def store(new: Any, old: Any) -> Any:
    """Casts a new state tree to the dtypes of the old one (states keep their dtypes)."""
    return jax.tree.map(lambda n, o: n.astype(o.dtype), new, old)


def like_updates(new: Any, updates: Any) -> Any:
    """Casts new updates to the dtypes of the incoming ones."""
    return jax.tree.map(lambda n, g: n.astype(g.dtype), new, updates)


def check_updates(
    reference: Any, updates: Any, *, owner: str, shapes: bool = True, what: str = "updates"
) -> None:
    """Tree structure (and, for params-shaped states, leaf shapes) of the incoming updates."""
    check_tree_matches(reference, updates, owner=owner, what=what)
    if not shapes:
        return
    flat, _ = jax.tree_util.tree_flatten_with_path(updates)
    for (path, g), r in zip(flat, jax.tree.leaves(reference), strict=True):
        if jnp.shape(g) != jnp.shape(r):
            raise ValueError(
                f"{owner}: the {what} leaf at {jax.tree_util.keystr(path) or 'the root'} has shape "
                f"{jnp.shape(g)} but the state was initialised for shape {jnp.shape(r)}."
            )


def check_unit(owner: str, *, closed: bool = False, **values: Any) -> None:
    """Decay rates: in [0, 1) (or [0, 1] when ``closed``)."""
    for name, value in values.items():
        check_hyperparameter(name, value, owner=owner, low=0.0, high=1.0, high_inclusive=closed)


def check_nonnegative(owner: str, **values: Any) -> None:
    """Python-number hyperparameters that must be finite and >= 0."""
    for name, value in values.items():
        check_hyperparameter(name, value, owner=owner, low=0.0)


def check_flag(owner: str, **flags: Any) -> None:
    """Structural switches (``nesterov``, ``bias_correction``...) must be Python bools."""
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise TypeError(f"{owner}: {name} must be a Python bool, got {value!r}")


def canonical_dtype(dtype: Any, *, owner: str) -> Any:
    """``None`` or a floating dtype, canonicalised (float64 -> float32 without x64)."""
    if dtype is None:
        return None
    try:
        dtype = jnp.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"{owner}: mu_dtype must be a dtype or None, got {dtype!r}") from err
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"{owner}: mu_dtype must be a floating dtype, got {dtype}")
    return jax.dtypes.canonicalize_dtype(dtype)


def resolve_all(count: jax.Array | None, *values: Any) -> tuple[Any, ...]:
    """Each hyperparameter's value at ``count`` (schedules are called, the rest pass through)."""
    return tuple(resolve(v, count) for v in values)
