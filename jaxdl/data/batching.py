"""Minibatches: a host-side iterator for Python loops, stacked batches for ``lax.scan``.

``batches`` yields ``(xb, yb)`` pairs one at a time (the last, partial one kept unless
``drop_last``). ``stacked_batches`` returns a whole epoch as arrays with a leading batch
axis, ``(num_batches, batch_size, ...)``, so that many training steps fuse into one
``lax.scan`` dispatch; it is pure JAX and works under ``jit`` with a traced key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxdl.data._checks import Data, as_data, check_key, paired_length, positive_int

__all__ = ["batches", "num_batches", "stacked_batches"]


def _batch_size(fn: str, batch_size: Any, n: int) -> int:
    b = positive_int(fn, "batch_size", batch_size)
    if b > n:
        raise ValueError(
            f"{fn}: `batch_size`={b} is larger than the data set ({n} examples); use a "
            f"batch_size of at most {n}."
        )
    return b


def num_batches(n: int, batch_size: int, *, drop_last: bool = False) -> int:
    """Batches per epoch: ``floor(n / b)`` with ``drop_last``, else ``ceil(n / b)``.

    Args:
      n: number of examples.
      batch_size: examples per batch, ``1 <= batch_size <= n``.
      drop_last: whether a last, partial batch is dropped.

    Returns:
      The number of batches ``batches`` yields per epoch.
    """
    fn = "num_batches"
    n = positive_int(fn, "n", n)
    b = _batch_size(fn, batch_size, n)
    return n // b if drop_last else -(-n // b)


def batches(X: ArrayLike, y: ArrayLike, batch_size: int, *, key: jax.Array | None = None,
            drop_last: bool = False) -> Iterator[tuple[Data, Data]]:
    """Iterates once over ``(X, y)`` in minibatches: one epoch, every example once.

    Batch ``t`` holds examples ``pi[t b : (t+1) b]`` where ``pi`` is a random permutation
    drawn from ``key`` (the identity without a key, i.e. the data order). The last batch has
    ``n mod b`` examples when ``b`` does not divide ``n``; ``drop_last=True`` drops it (so
    every batch has the same shape and a jitted step compiles once). Arguments are checked
    when ``batches`` is called, before iteration starts. For a new shuffle each epoch, pass
    a new key: ``jax.random.fold_in(key, epoch)``.

    Args:
      X: inputs with a leading example axis, numpy or JAX (the type is kept).
      y: targets with the same leading length.
      batch_size: examples per batch, ``1 <= batch_size <= n``.
      key: optional PRNG key (keyword-only) to shuffle; the same key gives the same order.
      drop_last: drop a last, partial batch.

    Returns:
      An iterator of ``(xb, yb)`` pairs, ``num_batches(n, batch_size, drop_last=...)`` of them.
    """
    fn = "batches"
    X, y = as_data(fn, "X", X), as_data(fn, "y", y)
    n = paired_length(fn, X, y)
    b = _batch_size(fn, batch_size, n)
    order = None if key is None else np.asarray(jax.random.permutation(check_key(fn, key), n))
    stop = n - n % b if drop_last else n
    return _iterate(X, y, b, order, stop)


def _iterate(X: Data, y: Data, b: int, order: np.ndarray | None,
             stop: int) -> Iterator[tuple[Data, Data]]:
    for start in range(0, stop, b):
        if order is None:
            yield X[start:start + b], y[start:start + b]
        else:
            idx = order[start:start + b].astype(np.int32)
            yield X[idx], y[idx]


def stacked_batches(X: ArrayLike, y: ArrayLike, batch_size: int, *,
                    key: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """One epoch as stacked arrays ``(num_batches, batch_size, ...)``, for ``lax.scan``.

    ``xs[t] = X[pi[t b : (t+1) b]]`` for ``t < floor(n / b)``, with ``pi`` a random
    permutation from ``key`` (the identity without one). The last ``n mod b`` examples of
    ``pi`` are dropped, so every batch has the same shape; with a fresh key each epoch, every
    example is still seen. Pure JAX: usable inside ``jit`` with a traced key.

    Args:
      X: inputs with a leading example axis.
      y: targets with the same leading length.
      batch_size: examples per batch, ``1 <= batch_size <= n``.
      key: optional PRNG key (keyword-only) to shuffle.

    Returns:
      ``(xs, ys)`` JAX arrays of shapes ``(n // b, b) + X.shape[1:]`` and
      ``(n // b, b) + y.shape[1:]``.

    Example:
      >>> xs, ys = stacked_batches(X, y, 64, key=jax.random.fold_in(key, epoch))
      >>> state, metrics = jax.lax.scan(train_step, state, (xs, ys))
    """
    fn = "stacked_batches"
    X, y = as_data(fn, "X", X), as_data(fn, "y", y)
    n = paired_length(fn, X, y)
    b = _batch_size(fn, batch_size, n)
    count = n // b
    if key is None:
        idx = jnp.arange(count * b, dtype=jnp.int32)
    else:
        idx = jax.random.permutation(check_key(fn, key), n)[: count * b]
    xs = jnp.take(jnp.asarray(X), idx, axis=0)
    ys = jnp.take(jnp.asarray(y), idx, axis=0)
    return xs.reshape((count, b) + xs.shape[1:]), ys.reshape((count, b) + ys.shape[1:])
