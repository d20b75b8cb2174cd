"""Train/validation/test splits and k-fold cross-validation, from an explicit PRNG key.

``split`` partitions examples (not just indices) into parts of given fractions, optionally
stratified by class. ``kfold`` gives host-side ``(train_idx, val_idx)`` pairs for a Python
loop; ``kfold_masks`` gives the same folds as a ``(k, n)`` boolean array, so cross-validation
can run as one ``vmap`` over folds with a masked loss. The same key gives the same partition.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxdl.data._checks import (
    Data,
    as_data,
    check_key,
    integer_labels,
    paired_length,
    positive_int,
)

__all__ = ["kfold", "kfold_masks", "split"]


# ----------------------------------------------------------------------------- split


def _fractions(fn: str, fractions: Any) -> np.ndarray:
    """Positive fractions summing to 1 (within 1e-6), as float64, else a ValueError."""
    if isinstance(fractions, (str, bytes)) or not isinstance(fractions, Sequence):
        raise TypeError(
            f"{fn}: `fractions` must be a sequence of numbers such as (0.7, 0.3), got "
            f"{fractions!r}."
        )
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.ndim != 1 or fr.size == 0:
        raise ValueError(
            f"{fn}: `fractions` must be a flat, non-empty sequence, got {fractions!r}."
        )
    if not np.all(np.isfinite(fr)) or np.any(fr <= 0):
        raise ValueError(f"{fn}: every fraction must be positive, got {tuple(fractions)}.")
    if abs(fr.sum() - 1.0) > 1e-6:
        raise ValueError(
            f"{fn}: `fractions` must sum to 1, got {tuple(fractions)} which sums to "
            f"{fr.sum():.6g}."
        )
    return fr


def _allocate(group_sizes: np.ndarray, fr: np.ndarray) -> np.ndarray:
    """``counts[g, i]``: how many of group ``g``'s examples go to part ``i``.

    Group ``g`` (``n_g`` examples) gives part ``i`` either ``floor(f_i n_g)`` or one more
    (largest remainders); the extra examples go to the parts furthest behind their share
    ``f_i * (examples seen so far)``, so the part totals also stay close to ``f_i n``. With a
    single group this is Hamilton's largest-remainder apportionment.
    """
    counts = np.zeros((len(group_sizes), len(fr)), np.int64)
    assigned = np.zeros(len(fr))
    seen = 0
    for g, size in enumerate(group_sizes):
        seen += size
        c = np.floor(fr * size + 1e-9).astype(np.int64)
        owed = fr * seen - (assigned + c)
        c[np.argsort(-owed, kind="stable")[: size - c.sum()]] += 1
        assigned += c
        counts[g] = c
    return counts


def split(X: ArrayLike, y: ArrayLike, fractions: Sequence[float] = (0.7, 0.3), *,
          key: jax.Array, stratify: bool = False) -> tuple[tuple[Data, Data], ...]:
    """Randomly partitions ``(X, y)`` into parts of the given fractions (default 70/30).

    A random permutation ``pi`` of the ``n`` examples is drawn from ``key``; part ``i`` takes
    the next ``n_i`` examples of ``pi``, where ``n_i`` is ``floor(f_i n)`` or ``floor(f_i n)
    + 1`` (largest remainders; 70 and 30 of 100). With ``stratify=True`` each class ``c`` with
    ``n_c`` examples is split the same way on its own: part ``i`` receives ``floor(f_i n_c)``
    or ``floor(f_i n_c) + 1`` of them, so the class proportions of every part are those of
    the whole data set to within one example per class (and with two parts the part sizes
    are still within one of ``f_i n``). Every example lands in exactly one part; within a
    part examples are in random order (not grouped by class).

    Args:
      X: inputs with a leading example axis, numpy or JAX (the type is kept).
      y: targets with the same leading length.
      fractions: positive part sizes summing to 1, any number of parts, e.g. ``(0.6, 0.2,
        0.2)`` for train/validation/test.
      key: PRNG key, keyword-only; the same key gives the same partition.
      stratify: keep the class proportions of the integer labels ``y`` in every part.

    Returns:
      A tuple with one ``(X_i, y_i)`` pair per fraction, in the order of ``fractions``; arrays
      of the input's type (numpy in, numpy out).

    Raises:
      ValueError: ``X`` and ``y`` of different lengths, fractions not positive or not summing
        to 1, or a part that would be empty. TypeError: no key, or ``stratify=True`` with
        non-integer labels.

    Example:
      >>> (x_train, y_train), (x_test, y_test) = split(X, y, key=jax.random.key(0))
    """
    fn = "split"
    X, y = as_data(fn, "X", X), as_data(fn, "y", y)
    n = paired_length(fn, X, y)
    fr = _fractions(fn, fractions)
    key = check_key(fn, key)
    if stratify:
        labels = np.asarray(integer_labels(fn, "y", y, n))
        _, group = np.unique(labels, return_inverse=True)
    else:
        group = np.zeros(n, np.int64)
    counts = _allocate(np.bincount(group), fr)
    for i, total in enumerate(counts.sum(axis=0)):
        if total == 0:
            raise ValueError(
                f"{fn}: part {i} (fraction {fr[i]:g}) would be empty with {n} examples; use "
                "larger fractions, fewer parts or more data."
            )
    perm = np.asarray(jax.random.permutation(key, n))
    part = np.empty(n, np.int64)
    group_in_perm_order = group[perm]
    for g, c in enumerate(counts):
        part[perm[group_in_perm_order == g]] = np.repeat(np.arange(len(fr)), c)
    part_in_perm_order = part[perm]
    return tuple(
        (X[idx], y[idx])
        for idx in (perm[part_in_perm_order == i].astype(np.int32) for i in range(len(fr)))
    )


# ----------------------------------------------------------------------------- k-fold


def _fold_ids(fn: str, n: Any, k: Any, key: Any, stratify: ArrayLike | None) -> jax.Array:
    """The validation fold (0..k-1) of each example: an int32 array of shape ``(n,)``.

    Examples are put in random order (stably grouped by class when stratifying) and dealt
    out round-robin: ``fold(pi_j) = j mod k``. Folds then differ in size by at most one, and
    so do each class's counts across folds.
    """
    n = positive_int(fn, "n", n)
    k = positive_int(fn, "k", k, minimum=2)
    if k > n:
        raise ValueError(f"{fn}: `k`={k} folds need at least {k} examples, got n={n}.")
    key = check_key(fn, key)
    labels = None if stratify is None else integer_labels(fn, "stratify", stratify, n)
    return _deal(key, labels, n, k)


@partial(jax.jit, static_argnums=(2, 3))
def _deal(key: jax.Array, labels: jax.Array | None, n: int, k: int) -> jax.Array:
    order = jax.random.permutation(key, n)
    if labels is not None:
        order = order[jnp.argsort(jnp.asarray(labels)[order], stable=True)]
    return jnp.zeros(n, jnp.int32).at[order].set(jnp.arange(n, dtype=jnp.int32) % k)


def kfold(n: int, k: int, key: jax.Array,
          stratify: ArrayLike | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """k-fold cross-validation indices: ``k`` disjoint validation folds covering all examples.

    The ``n`` examples are shuffled with ``key`` and dealt out round-robin into ``k`` folds, so
    fold sizes are ``floor(n/k)`` or ``ceil(n/k)``. Fold ``j`` validates a model trained on
    the other ``k - 1`` folds; every example is validated exactly once. With ``stratify``
    (the class labels), examples are dealt class by class, so each class's count in each
    fold is ``floor(n_c/k)`` or ``ceil(n_c/k)`` (Kohavi recommends stratified 10-fold).

    Args:
      n: number of examples, a Python int.
      k: number of folds, ``2 <= k <= n``.
      key: PRNG key; the same key gives the same folds.
      stratify: optional 1-D integer class labels of length ``n``.

    Returns:
      A list of ``k`` pairs ``(train_idx, val_idx)`` of sorted int32 numpy index arrays.
      For one ``vmap`` over folds use ``kfold_masks`` (same folds for the same arguments).

    References:
      Kohavi, "A Study of Cross-Validation and Bootstrap for Accuracy Estimation and Model
      Selection", IJCAI 1995.
    """
    fold = np.asarray(_fold_ids("kfold", n, k, key, stratify))
    everyone = np.arange(len(fold), dtype=np.int32)
    return [(everyone[fold != j], everyone[fold == j]) for j in range(int(k))]


def kfold_masks(n: int, k: int, key: jax.Array,
                stratify: ArrayLike | None = None) -> jax.Array:
    """k-fold cross-validation as a ``(k, n)`` boolean array of validation masks.

    ``masks[j, i]`` is True when example ``i`` is in validation fold ``j``; its training set
    is ``~masks[j]``. Each column holds exactly one True. The folds are those of ``kfold``
    for the same arguments. With equal-shape masks, cross-validation is one ``vmap`` over
    the fold axis: train with per-example weights ``~mask`` and evaluate with ``where=mask``
    (e.g. ``jaxdl.losses.accuracy(logits, y, where=mask)``). Works under ``jit`` with ``n``
    and ``k`` static.

    Args:
      n: number of examples, a Python int.
      k: number of folds, ``2 <= k <= n``.
      key: PRNG key.
      stratify: optional 1-D integer class labels of length ``n`` (see ``kfold``).

    Returns:
      A bool array of shape ``(k, n)``.

    References:
      Kohavi, "A Study of Cross-Validation and Bootstrap for Accuracy Estimation and Model
      Selection", IJCAI 1995.
    """
    fold = _fold_ids("kfold_masks", n, k, key, stratify)
    return fold[None, :] == jnp.arange(k, dtype=jnp.int32)[:, None]
