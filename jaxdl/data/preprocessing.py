"""Feature standardisation with statistics fitted on the training data only.

    stats = Standardizer.fit(x_train)          # mean and std of the training set
    x_train, x_test = stats.apply(x_train), stats.apply(x_test)   # train stats on both

or in one call, ``stats, x_train, x_test = standardize(x_train, x_test)``. Fitting on the
whole data set before splitting leaks test information into training; these functions make
the right order the easy one. ``Standardizer`` is a NamedTuple of arrays, hence a pytree that
can be passed into ``jit`` or saved with a checkpoint.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdl.data._checks import nonnegative_number

__all__ = ["Standardizer", "standardize"]

Axis = int | tuple[int, ...]


def _axes(fn: str, axis: Any, ndim: int) -> tuple[int, ...]:
    axes = (axis,) if isinstance(axis, int) and not isinstance(axis, bool) else axis
    if not isinstance(axes, tuple) or not all(isinstance(a, int) for a in axes):
        raise TypeError(f"{fn}: `axis` must be an int or a tuple of ints, got {axis!r}.")
    if not axes or any(not -ndim <= a < ndim for a in axes):
        raise ValueError(f"{fn}: `axis`={axis!r} is not a valid axis of an array of rank {ndim}.")
    return tuple(sorted({a % ndim for a in axes}))


def _floating(fn: str, x: ArrayLike) -> jax.Array:
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.floating):
        return x
    if jnp.issubdtype(x.dtype, jnp.integer) or x.dtype == jnp.bool_:
        return x.astype(jnp.float32)
    raise TypeError(f"{fn}: `x` must be a real array, got dtype {x.dtype}.")


class Standardizer(NamedTuple):
    """Per-feature mean and standard deviation: ``z = (x - mean) / std``.

    ``mean`` and ``std`` keep the reduced axes with size 1 (``(1, features)`` for the default
    ``axis=0``), so they broadcast against a batch of the training data's rank.

    The std floor: a feature whose training standard deviation is below ``min_std`` (e.g. a
    pixel that is 0 in every training image) gets ``std = 1``; it is centred but not scaled,
    as in scikit-learn's ``StandardScaler``. Dividing by a tiny number instead would send a
    test value that differs from the constant to about ``1/min_std``.

    Attributes:
      mean: training mean over the fitted axes.
      std: training (population, ``ddof=0``) standard deviation, floored as above.
    """

    mean: jax.Array
    std: jax.Array

    @classmethod
    def fit(cls, x: ArrayLike, *, axis: Axis = 0, min_std: float = 1e-6) -> Standardizer:
        """Fits ``mean = (1/N) sum x`` and ``std = sqrt((1/N) sum (x - mean)^2)`` over ``axis``.

        Args:
          x: training inputs, e.g. ``(n, features)``, or NHWC images with
            ``axis=(0, 1, 2)`` for per-channel statistics. Integers are cast to float32.
          axis: the axis or axes averaged over (the example axis by default: per-feature).
          min_std: features with ``std < min_std`` get ``std = 1`` (see the class docstring).

        Returns:
          The fitted ``Standardizer``.
        """
        fn = "Standardizer.fit"
        nonnegative_number(fn, "min_std", min_std)
        x = _floating(fn, x)
        if x.ndim == 0 or x.shape[0] == 0:
            raise ValueError(f"{fn}: `x` must hold at least one example, got shape {x.shape}.")
        axes = _axes(fn, axis, x.ndim)
        mean = jnp.mean(x, axis=axes, keepdims=True)
        std = jnp.sqrt(jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True))
        std = jnp.where(std < jnp.asarray(min_std, std.dtype), jnp.ones_like(std), std)
        return cls(mean, std)

    def apply(self, x: ArrayLike) -> jax.Array:
        """Standardises ``x`` with these (training) statistics: ``(x - mean) / std``.

        Args:
          x: inputs of the training data's rank and feature shape, any number of examples.

        Returns:
          The standardised inputs (the statistics' dtype).
        """
        x = _floating("Standardizer.apply", x)
        self._check(x)
        return (x.astype(self.mean.dtype) - self.mean) / self.std

    def invert(self, z: ArrayLike) -> jax.Array:
        """Undoes ``apply``: ``x = z * std + mean`` (e.g. to report regression targets).

        Args:
          z: standardised values of the training data's rank and feature shape.

        Returns:
          Values in the original units.
        """
        z = _floating("Standardizer.invert", z)
        self._check(z)
        return z.astype(self.mean.dtype) * self.std + self.mean

    def _check(self, x: jax.Array) -> None:
        ref = self.mean.shape
        ok = x.ndim == len(ref) and all(r in (1, s) for r, s in zip(ref, x.shape))
        if not ok:
            wanted = tuple("n" if r == 1 else r for r in ref)
            raise ValueError(
                f"Standardizer: expected inputs shaped like the training data {wanted} "
                f"(statistics of shape {ref}), got shape {x.shape}."
            )


def standardize(train: ArrayLike, *others: ArrayLike, axis: Axis = 0,
                min_std: float = 1e-6) -> tuple[Any, ...]:
    """Fits a ``Standardizer`` on ``train`` and applies it to ``train`` and every other array.

    ``z = (x - mean_train) / std_train`` for every array: validation and test data are
    scaled with the training statistics, never their own.

    Args:
      train: training inputs.
      *others: more arrays (validation, test) to scale with the training statistics.
      axis: axes the statistics average over (see ``Standardizer.fit``).
      min_std: std floor (see ``Standardizer``).

    Returns:
      ``(stats, train_z, *others_z)``.

    Example:
      >>> stats, x_train, x_test = standardize(x_train, x_test)
    """
    stats = Standardizer.fit(train, axis=axis, min_std=min_std)
    return (stats, stats.apply(train), *(stats.apply(x) for x in others))
