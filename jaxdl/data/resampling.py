"""Bootstrap resampling: replicas drawn with replacement and their out-of-bag examples.

Both functions are pure JAX and work under ``jit``/``vmap`` (with ``n`` static), so an
ensemble of bagged models trains as one ``vmap`` over the replica axis.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdl.data._checks import check_key, positive_int

__all__ = ["bootstrap", "out_of_bag_mask"]


def bootstrap(key: jax.Array, n: int, num_samples: int) -> jax.Array:
    """Bootstrap replicas: ``num_samples`` index sets of size ``n`` drawn with replacement.

    ``indices[b, j] ~ Uniform{0, ..., n-1}``, independently. A replica contains a given
    example with probability ``1 - (1 - 1/n)^n -> 1 - 1/e ~ 0.632``, so about 36.8% of the
    examples are out of bag (see ``out_of_bag_mask``) and can validate that replica's model.
    Index the data with a replica, ``X[indices[b]]``, or all at once, ``X[indices]``.

    Args:
      key: PRNG key; the same key gives the same replicas.
      n: number of examples, a Python int.
      num_samples: number of replicas ``B``, a Python int.

    Returns:
      An int32 array of shape ``(num_samples, n)``.

    References:
      Efron, "Bootstrap Methods: Another Look at the Jackknife", Annals of Statistics 1979.
      Breiman, "Bagging Predictors", Machine Learning 1996.
    """
    fn = "bootstrap"
    key = check_key(fn, key)
    n = positive_int(fn, "n", n)
    num_samples = positive_int(fn, "num_samples", num_samples)
    return jax.random.randint(key, (num_samples, n), 0, n, dtype=jnp.int32)


def out_of_bag_mask(indices: ArrayLike, n: Any) -> jax.Array:
    """Which examples each bootstrap replica left out: ``mask[b, i] = i not in indices[b]``.

    Breiman's out-of-bag estimate evaluates replica ``b``'s model on the examples with
    ``mask[b]`` True, e.g. ``jaxdl.losses.accuracy(logits, y, where=mask[b])``.

    Args:
      indices: integer array ``(num_samples, m)`` of indices in ``[0, n)``, as returned by
        ``bootstrap`` (where ``m = n``).
      n: number of examples in the data set, a Python int.

    Returns:
      A bool array of shape ``(num_samples, n)``.

    References:
      Breiman, "Out-of-Bag Estimation", technical report, UC Berkeley 1996.
    """
    fn = "out_of_bag_mask"
    n = positive_int(fn, "n", n)
    idx = jnp.asarray(indices)
    if not jnp.issubdtype(idx.dtype, jnp.integer):
        raise TypeError(f"{fn}: `indices` must be integer indices, got dtype {idx.dtype}.")
    if idx.ndim != 2:
        raise ValueError(
            f"{fn}: `indices` must have shape (num_samples, m) as from bootstrap, got "
            f"{idx.shape}."
        )
    if not isinstance(idx, jax.core.Tracer):
        bad = (idx < 0) | (idx >= n)
        if bool(jnp.any(bad)):
            raise ValueError(
                f"{fn}: `indices` must lie in [0, n={n}), got {int(jnp.sum(bad))} out of range."
            )
    rows = jnp.arange(idx.shape[0])[:, None]
    in_bag = jnp.zeros((idx.shape[0], n), jnp.bool_).at[rows, idx].set(True)
    return ~in_bag
