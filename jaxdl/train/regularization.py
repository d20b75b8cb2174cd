"""The classic data-side regularisers as one ``augment`` hook for ``fit``.

``augmentation(input_noise=0.1, label_smoothing=0.1, num_classes=10)`` returns a pure
``(key, batch) -> batch`` that ``fit(..., augment=...)`` applies to every training batch
(never to validation data). It only composes ``jaxdl.data`` augmentations and
``jaxdl.losses`` label helpers. The other regularisers live where they act: the L2 penalty is
``fit(..., l2=...)``, decoupled weight decay is ``optim.adamw(..., weight_decay=...)``, dropout
and batch normalisation are layers (``nn.Dropout``, ``nn.BatchNorm``), early stopping is
``fit(..., early_stopping=EarlyStopping(...))``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdl import data, losses

__all__ = ["augmentation", "chain_augmentations"]

Batch = tuple  # (x, y) or (x, y, weight)
Augment = Callable[[jax.Array, Batch], Batch]


def _enabled(fn: str, name: str, value: Any, upper: float | None = None) -> bool:
    """Validates a Python number (``>= 0``, ``<= upper``) and says whether it is non-zero.

    Arrays (possibly traced, for a ``vmap`` over a grid) are not inspected and count as
    enabled: the decision is static, made once at construction, never on a traced value.
    """
    if isinstance(value, bool):
        raise TypeError(f"{fn}: `{name}` must be a number, got {value!r}.")
    if isinstance(value, numbers.Real):
        limit = "" if upper is None else f" and at most {upper}"
        if not (0 <= value and (upper is None or value <= upper)):
            raise ValueError(f"{fn}: `{name}` must be at least 0{limit}, got {value!r}.")
        return value != 0
    if jnp.ndim(value) != 0:
        raise ValueError(f"{fn}: `{name}` must be a scalar, got shape {jnp.shape(value)}.")
    return True


def _split(batch: Batch) -> tuple[Any, Any, tuple]:
    if not isinstance(batch, tuple) or len(batch) not in (2, 3):
        shown = f"a tuple of {len(batch)}" if isinstance(batch, tuple) else type(batch).__name__
        raise ValueError(f"augmentation: a batch is a tuple (x, y) or (x, y, weight), got {shown}")
    return batch[0], batch[1], batch[2:]


def _chain(stages: list[tuple[int, Augment]]) -> Augment:
    """Applies ``f`` with key ``fold_in(key, i)`` for each ``(i, f)`` in order."""

    def augment(key: jax.Array, batch: Batch) -> Batch:
        for i, f in stages:
            batch = f(jax.random.fold_in(key, i), batch)
        return batch

    return augment


def chain_augmentations(*augments: Augment) -> Augment:
    """Applies augmentations one after another, each with its own key.

    ``batch_k = f_k(fold_in(key, k), batch_{k-1})`` for ``k = 0, 1, ...``: the key of the
    ``k``-th augmentation depends on its position only, so appending one does not change the
    random draws of those before it.

    Args:
      *augments: functions ``(key, batch) -> batch``, such as ``augmentation(...)``.

    Returns:
      One ``(key, batch) -> batch`` function (the identity when none is given).
    """
    for i, f in enumerate(augments):
        if not callable(f):
            raise TypeError(f"chain_augmentations: argument {i} must be a function "
                            f"(key, batch) -> batch, got {f!r}.")
    return _chain(list(enumerate(augments)))


def augmentation(
    *,
    input_noise: float | ArrayLike = 0.0,
    shift: int = 0,
    label_smoothing: float | ArrayLike = 0.0,
    mixup: float | ArrayLike = 0.0,
    num_classes: int | None = None,
    image_shape: tuple[int, int, int] | None = None,
) -> Augment:
    """Input noise, random shifts, label smoothing and mixup as one ``fit`` augment hook.

    On each training batch ``(x, y[, w])``, in this order, each stage only when enabled:

    1. input noise: ``x <- x + sigma * eps``, ``eps ~ N(0, I)`` (``data.gaussian_noise``);
    2. shifts: each image moves by ``(dy, dx) ~ U{-s..s}^2`` pixels with zero fill
       (``data.random_shift``);
    3. integer labels become one-hot ``e_y`` (``losses.one_hot``) when smoothing or mixup is
       on; floating labels of shape ``(batch, num_classes)`` are kept;
    4. label smoothing: ``y <- (1 - a) y + a / C`` (``losses.smooth_labels``);
    5. mixup: ``x <- lam x + (1 - lam) x[pi]``, ``y <- lam y + (1 - lam) y[pi]`` with
       ``lam ~ Beta(alpha, alpha)`` and a random permutation ``pi`` (``data.mixup``).

    The weights ``w`` pass through. Stage ``k`` (numbered as above) draws with
    ``fold_in(key, k - 1)``, so turning one stage on or off leaves the others' draws as they
    were. Train with ``loss="cross_entropy"``, which takes the resulting probability labels.
    A stage is enabled unless its hyperparameter is the Python number 0; a JAX scalar
    (possibly traced: a ``vmap`` over a grid of noise levels is one program) always enables
    it.

    Args:
      input_noise: noise standard deviation ``sigma >= 0``.
      shift: largest shift ``s`` in pixels, a Python int ``>= 0``; needs NHWC image batches,
        or flat inputs with ``image_shape``.
      label_smoothing: smoothing factor ``a`` in ``[0, 1]``.
      mixup: the Beta concentration ``alpha >= 0`` (0: off; 0.2 is the paper's choice).
      num_classes: ``C``; required when ``label_smoothing`` or ``mixup`` is on.
      image_shape: ``(height, width, channels)`` of one example when ``x`` holds flat
        vectors, e.g. ``(8, 8, 1)`` for ``data.digits()``; used by ``shift`` only.

    Returns:
      A pure ``(key, batch) -> batch`` for ``fit(..., augment=...)``.

    Raises:
      ValueError: a negative value, ``label_smoothing > 1``, ``num_classes < 1``, or
        smoothing/mixup without ``num_classes``. TypeError: a non-integer ``shift`` or
        ``num_classes``.

    Example:
      >>> aug = augmentation(input_noise=0.05, label_smoothing=0.1, num_classes=10)
      >>> ts, history = train.fit(model, optim.adam(1e-3), (x, y), key=key, augment=aug)

    References:
      Bishop, "Training with Noise is Equivalent to Tikhonov Regularization", 1995.
      Simard, Steinkraus, Platt, "Best Practices for Convolutional Neural Networks Applied to
      Visual Document Analysis", 2003.
      Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", 2016.
      Zhang, Cisse, Dauphin, Lopez-Paz, "mixup: Beyond Empirical Risk Minimization", 2018.
    """
    fn = "augmentation"
    noise_on = _enabled(fn, "input_noise", input_noise)
    smooth_on = _enabled(fn, "label_smoothing", label_smoothing, upper=1.0)
    mixup_on = _enabled(fn, "mixup", mixup)
    if isinstance(shift, bool) or not isinstance(shift, numbers.Integral):
        raise TypeError(f"{fn}: `shift` must be a Python int (pixels), got {shift!r}.")
    if shift < 0:
        raise ValueError(f"{fn}: `shift` must be at least 0 pixels, got {shift}.")
    if image_shape is not None and (len(tuple(image_shape)) != 3
                                    or not all(int(d) > 0 for d in image_shape)):
        raise ValueError(f"{fn}: `image_shape` must be (height, width, channels) of positive "
                         f"ints, got {image_shape!r}.")
    labels_on = smooth_on or mixup_on
    if labels_on:
        if num_classes is None:
            raise ValueError(f"{fn}: label_smoothing and mixup work on one-hot labels; pass "
                             "num_classes=C so integer labels can be converted.")
        if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
            raise TypeError(f"{fn}: `num_classes` must be a Python int, got {num_classes!r}.")
        if num_classes < 1:
            raise ValueError(f"{fn}: `num_classes` must be at least 1, got {num_classes}.")

    stages: list[tuple[int, Augment]] = []
    if noise_on:
        def noise(key, batch):
            x, y, rest = _split(batch)
            return (data.gaussian_noise(key, x, input_noise), y, *rest)

        stages.append((0, noise))
    if shift:
        def shifted(key, batch):
            x, y, rest = _split(batch)
            return (_shift(fn, key, x, int(shift), image_shape), y, *rest)

        stages.append((1, shifted))
    if labels_on:
        def soft_labels(key, batch):
            del key
            x, y, rest = _split(batch)
            y = _one_hot(fn, y, x.shape[0], int(num_classes))
            if smooth_on:
                y = losses.smooth_labels(y, label_smoothing)
            return (x, y, *rest)

        stages.append((2, soft_labels))
    if mixup_on:
        def mixed(key, batch):
            x, y, rest = _split(batch)
            return (*data.mixup(key, x, y, mixup), *rest)

        stages.append((4, mixed))
    return _chain(stages)


def _shift(fn: str, key: jax.Array, x: jax.Array, shift: int,
           image_shape: tuple[int, int, int] | None) -> jax.Array:
    """``data.random_shift`` on NHWC images, or on flat rows viewed as ``image_shape``."""
    if image_shape is None:
        if jnp.ndim(x) != 4:
            raise ValueError(f"{fn}: `shift` needs NHWC image batches (batch, height, width, "
                             f"channels), got inputs of shape {jnp.shape(x)}; for flat inputs "
                             "pass image_shape=(height, width, channels), e.g. (8, 8, 1).")
        return data.random_shift(key, x, shift)
    shape = tuple(int(d) for d in image_shape)
    size = shape[0] * shape[1] * shape[2]
    if jnp.ndim(x) < 2 or jnp.size(x) != jnp.shape(x)[0] * size:
        raise ValueError(f"{fn}: image_shape={shape} needs {size} values per example, got "
                         f"inputs of shape {jnp.shape(x)}.")
    images = jnp.reshape(x, (x.shape[0], *shape))
    return jnp.reshape(data.random_shift(key, images, shift), x.shape)


def _one_hot(fn: str, y: Any, batch: int, num_classes: int) -> jax.Array:
    """Integer labels ``(batch,)`` as one-hot rows; floating ``(batch, C)`` labels unchanged."""
    y = jnp.asarray(y)
    if jnp.issubdtype(y.dtype, jnp.integer):
        if y.shape != (batch,):
            raise ValueError(f"{fn}: integer labels must have shape (batch,) = ({batch},), got "
                             f"{y.shape}.")
        return losses.one_hot(y, num_classes)
    if y.shape != (batch, num_classes):
        raise ValueError(f"{fn}: labels must be integer classes (batch,) or floating one-hot "
                         f"rows (batch, num_classes) = ({batch}, {num_classes}), got "
                         f"{y.dtype} of shape {y.shape}.")
    return y
