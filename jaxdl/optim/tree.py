"""Pytree helpers for optimizers: norms, casts, moments, and reading or setting state fields.

``tree_get(state, "count")`` finds a field by name anywhere in a nested optimizer state
(NamedTuples, tuples, lists, dicts, any registered pytree), so code never has to know how a
chain nests its states; ``tree_set`` returns a copy with named fields replaced.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.tree_util import DictKey, GetAttrKey, KeyPath, keystr

__all__ = [
    "global_norm",
    "tree_zeros_like",
    "tree_cast",
    "tree_update_moment",
    "tree_bias_correction",
    "tree_get_all_with_path",
    "tree_get",
    "tree_set",
    "TreeKeyError",
]

Filtering = Callable[[KeyPath, Any], bool]


def global_norm(tree: Any) -> jax.Array:
    """The L2 norm of all leaves of a pytree taken together, in float32 at least.

    ``global_norm(t) = sqrt(sum_leaves sum_i |x_i|^2)``. Leaves in bfloat16 or float16 are
    squared and summed in float32 (float64 leaves in float64), so the norm of a low-precision
    tree neither overflows nor loses the small leaves. An empty tree has norm ``0.0``.

    Args:
      tree: a pytree of arrays (real or complex); ``None`` leaves are ignored.

    Returns:
      A scalar: float32, or float64 when a leaf is float64.
    """
    sums = []
    for x in jax.tree.leaves(tree):
        x = jnp.asarray(x)
        real_dtype = jnp.finfo(x.dtype).dtype if jnp.iscomplexobj(x) else x.dtype
        real = _promote_types(real_dtype, jnp.float32)
        sums.append(jnp.sum(jnp.square(jnp.abs(x).astype(real))))
    if not sums:
        return jnp.zeros((), jnp.float32)
    out = jnp.float64 if any(s.dtype == jnp.float64 for s in sums) else jnp.float32
    return jnp.sqrt(sum(s.astype(out) for s in sums))


def tree_zeros_like(tree: Any, dtype: jax.typing.DTypeLike | None = None) -> Any:
    """A tree of zeros shaped like ``tree``: ``x -> 0`` leaf by leaf.

    Args:
      tree: a pytree of arrays.
      dtype: the dtype of every zero leaf; ``None`` keeps each leaf's own dtype.

    Returns:
      A pytree with the structure of ``tree``.
    """
    return jax.tree.map(lambda x: jnp.zeros_like(x, dtype=dtype), tree)


def tree_cast(tree: Any, dtype: jax.typing.DTypeLike | None) -> Any:
    """Casts every leaf to ``dtype``; ``None`` returns ``tree`` unchanged.

    Args:
      tree: a pytree of arrays.
      dtype: the target dtype, or ``None``.

    Returns:
      A pytree with the structure of ``tree``.
    """
    if dtype is None:
        return tree
    return jax.tree.map(lambda x: jnp.asarray(x).astype(dtype), tree)


def _promote_types(*dtypes: jax.typing.DTypeLike) -> jnp.dtype:
    """The standard JAX promotion of some dtypes, also under strict promotion, where the
    caller then casts explicitly (e.g. float32 and bfloat16 give float32)."""
    with jax.numpy_dtype_promotion("standard"):
        out = jnp.dtype(dtypes[0])
        for dt in dtypes[1:]:
            out = jnp.promote_types(out, dt)
    return out


def tree_update_moment(updates: Any, moments: Any, decay: jax.typing.ArrayLike,
                       order: int) -> Any:
    """An exponential moving average of the ``order``-th power of the updates.

    ``m <- (1 - decay) * g^order + decay * m``, leaf by leaf. Each product is taken in its
    operand's dtype (``decay`` is cast to it) and the sum in the promotion of the two dtypes,
    so a low-precision accumulator works under strict dtype promotion.

    Args:
      updates: the gradients ``g``.
      moments: the current averages ``m`` (may have another dtype than ``updates``).
      decay: the decay rate, a Python number or a (possibly traced) scalar.
      order: the power of ``g`` (1 for a mean, 2 for a second moment).

    Returns:
      The new averages, in the promoted dtype of each (update, moment) pair.
    """

    def one(g, m):
        dt = _promote_types(g.dtype, m.dtype)
        gp = g if order == 1 else g**order
        new_g = (jnp.asarray(1 - decay, g.dtype) * gp).astype(dt)
        return new_g + (jnp.asarray(decay, m.dtype) * m).astype(dt)

    return jax.tree.map(one, updates, moments)


def tree_bias_correction(moments: Any, decay: jax.typing.ArrayLike, count: jax.Array) -> Any:
    """Removes the zero-initialisation bias of a moving average after ``count`` updates.

    ``m_hat = m / (1 - decay^count)``, with ``1 - decay^count`` computed in float32 and cast
    to each leaf's dtype (Kingma and Ba, "Adam: A Method for Stochastic Optimization", 2014).

    Args:
      moments: the averages ``m``.
      decay: their decay rate.
      count: the number of updates folded in so far (int32 scalar, at least 1).

    Returns:
      The debiased averages, leaf dtypes unchanged.
    """
    correction = 1 - jnp.asarray(decay, jnp.float32) ** jnp.asarray(count).astype(jnp.float32)
    return jax.tree.map(lambda m: m / correction.astype(m.dtype), moments)


# --- Reading and setting fields of nested states ------------------------------------------


def _children(node: Any) -> tuple[list[tuple[Any, Any]], Any] | None:
    """``node``'s direct children as ``(key entry, child)`` pairs and a treedef to rebuild it,
    or ``None`` when ``node`` is a leaf."""
    pairs, treedef = jax.tree_util.tree_flatten_with_path(node, is_leaf=lambda x: x is not node)
    if len(pairs) == 1 and pairs[0][0] == ():
        return None
    return [(path[0], child) for path, child in pairs], treedef


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _name_of(entry: Any) -> Any:
    if isinstance(entry, GetAttrKey):
        return entry.name
    if isinstance(entry, DictKey):
        return entry.key
    return None


def _matches(entry: Any, child: Any, key: Any) -> bool:
    """A field or dict key named ``key``, or a NamedTuple whose class is named ``key``."""
    if child is None:  # an absent optional field (e.g. a count kept only for schedules)
        return False
    if _name_of(entry) == key:
        return True
    return _is_namedtuple(child) and type(child).__name__ == key


def _describe(path: KeyPath, owners: tuple[str, ...]) -> str:
    where = f" (in {owners[-1]})" if owners and owners[-1] else ""
    return f"state{keystr(path)}{where}"


def _find(tree: Any, key: Any, filtering: Filtering | None) -> list[tuple[KeyPath, Any, str]]:
    found: list[tuple[KeyPath, Any, str]] = []

    def walk(node, path, owners):
        kids = _children(node)
        if kids is None:
            return
        owner = type(node).__name__ if _is_namedtuple(node) else ""
        for entry, child in kids[0]:
            child_path = (*path, entry)
            if _matches(entry, child, key) and (filtering is None or filtering(child_path, child)):
                found.append((child_path, child, _describe(child_path, (*owners, owner))))
            walk(child, child_path, (*owners, owner))

    if _is_namedtuple(tree) and type(tree).__name__ == key:
        if filtering is None or filtering((), tree):
            found.append(((), tree, "state"))
    walk(tree, (), ())
    return found


def tree_get_all_with_path(tree: Any, key: Any,
                           filtering: Filtering | None = None) -> list[tuple[KeyPath, Any]]:
    """Every value in ``tree`` stored under the field, dict key or NamedTuple name ``key``.

    The search goes through NamedTuples, tuples, lists, dicts and any registered pytree, also
    inside values that already matched. ``None`` values (absent optional fields) never match.

    Args:
      tree: the tree to search, typically an optimizer state.
      key: the field name, dict key or NamedTuple class name to look for.
      filtering: optional ``filtering(path, value) -> bool`` keeping only some matches.

    Returns:
      A list of ``(path, value)`` pairs in tree order; ``path`` is a tuple of JAX key entries
      (``jax.tree_util.keystr(path)`` prints it).
    """
    return [(path, value) for path, value, _ in _find(tree, key, filtering)]


class TreeKeyError(KeyError):
    """A key names several values in a tree, or none for tree_set (a readable KeyError)."""

    def __str__(self) -> str:
        return str(self.args[0])


def tree_get(tree: Any, key: Any, default: Any = None,
             filtering: Filtering | None = None) -> Any:
    """The one value in ``tree`` stored under the field, dict key or NamedTuple name ``key``.

    For example ``tree_get(opt_state, "count")`` or ``tree_get(opt_state, "learning_rate")``,
    however deeply the state is nested. See ``tree_get_all_with_path`` for what matches.

    Args:
      tree: the tree to search, typically an optimizer state.
      key: the field name, dict key or NamedTuple class name to look for.
      default: returned when nothing matches.
      filtering: optional ``filtering(path, value) -> bool`` keeping only some matches.

    Returns:
      The matching value, or ``default``.

    Raises:
      KeyError: if several values match; the message lists their paths.
    """
    found = _find(tree, key, filtering)
    if not found:
        return default
    if len(found) > 1:
        listing = "\n".join(f"  {desc}" for _, _, desc in found)
        raise TreeKeyError(
            f"tree_get: {key!r} names {len(found)} values, not one:\n{listing}\n"
            "Pass filtering=lambda path, value: ... to choose one, or use "
            "tree_get_all_with_path to get them all."
        )
    return found[0][1]


def tree_set(tree: Any, filtering: Filtering | None = None, /, **kwargs: Any) -> Any:
    """A copy of ``tree`` with every value stored under each keyword's name replaced.

    ``tree_set(state, learning_rate=0.1)`` replaces every NamedTuple field or dict key named
    ``learning_rate`` (and any NamedTuple whose class has that name) anywhere in the tree. A
    replaced value is not searched further. The input is not modified.

    Args:
      tree: the tree, typically an optimizer state.
      filtering: optional ``filtering(path, value) -> bool``; only matches it accepts are set.
      **kwargs: ``name=new_value`` pairs.

    Returns:
      A new tree with the same structure outside the replaced values.

    Raises:
      KeyError: if some name matches nothing (the message names it), so a typo is not
        silently ignored.
    """
    hits = dict.fromkeys(kwargs, 0)

    def chosen(entry, child, path):
        for name in kwargs:
            if _matches(entry, child, name) and (filtering is None or filtering(path, child)):
                return name
        return None

    def rebuild(node, path):
        kids = _children(node)
        if kids is None:
            return node
        pairs, treedef = kids
        new = []
        for entry, child in pairs:
            child_path = (*path, entry)
            name = chosen(entry, child, child_path)
            if name is None:
                new.append(rebuild(child, child_path))
            else:
                hits[name] += 1
                new.append(kwargs[name])
        return treedef.unflatten(new)

    out = rebuild(tree, ())
    missing = [name for name, n in hits.items() if n == 0]
    if missing:
        raise TreeKeyError(
            f"tree_set: no field or key named {missing} in the tree"
            + (" (that the filtering accepts)" if filtering is not None else "")
            + f"; its structure is {jax.tree.structure(tree)}"
        )
    return out
