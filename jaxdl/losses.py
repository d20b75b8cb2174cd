"""Losses, penalties and metrics: pure functions over arrays.

Losses follow ``optax.losses``: same names, argument names and numbers, and they are *not*
reduced -- each returns one value per element (regression) or per example (classification),
so masking and weighting stay with the caller. ``get(name)`` returns a per-example loss for
the training loop; ``l2_penalty`` sums over a parameter pytree; ``accuracy`` and
``binary_accuracy`` are scalar metrics.

Inputs are checked in Python from their static shapes and dtypes before anything compiles.
Integer labels are range-checked when they are concrete; under ``jit``/``vmap`` they cannot
be, and an out-of-range label then makes that example's cross-entropy NaN, so it shows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

__all__ = [
    "accuracy", "binary_accuracy", "cross_entropy", "get", "huber_loss", "l2_loss", "l2_penalty",
    "mean_squared_error", "one_hot", "sigmoid_binary_cross_entropy", "smooth_labels",
    "softmax_cross_entropy", "softmax_cross_entropy_with_integer_labels", "squared_error",
]

Axis = int | tuple[int, ...]
LossFn = Callable[[ArrayLike, ArrayLike], jax.Array]


# ----------------------------------------------------------------------------- checks


def _require(fn: str, name: str, x: jax.Array, kind: type, what: str, hint: str = "") -> None:
    if not jnp.issubdtype(x.dtype, kind):
        raise TypeError(f"{fn}: `{name}` must be {what}, got dtype {x.dtype}.{hint}")


def _require_shape(fn: str, name: str, x: jax.Array, shape: tuple, ref: str, hint: str = ""):
    if x.shape != tuple(shape):
        raise ValueError(f"{fn}: `{name}` must have shape {tuple(shape)} ({ref}), got "
                         f"{x.shape}.{hint}")


def _targets(fn: str, predictions: ArrayLike, targets: ArrayLike | None,
             names: tuple[str, str] = ("predictions", "targets")):
    """Check a (floating predictions, same-shape or scalar targets) pair; cast targets."""
    p = jnp.asarray(predictions)
    _require(fn, names[0], p, jnp.floating, "a floating-point array")
    if targets is None:
        return p, None
    t = jnp.asarray(targets)
    if t.ndim:
        _require_shape(fn, names[1], t, p.shape, f"the shape of `{names[0]}`",
                       " Reshape explicitly; implicit broadcasting of a (batch,) array against "
                       "(batch, 1) silently builds a (batch, batch) loss.")
    return p, t.astype(p.dtype)


def _axes(fn: str, axis: Axis, ndim: int) -> tuple[int, ...]:
    axes = (axis,) if isinstance(axis, int) else axis
    if not isinstance(axes, tuple) or not all(isinstance(a, int) for a in axes):
        raise TypeError(f"{fn}: `axis` must be an int or a tuple of ints, got {axis!r}.")
    if any(not -ndim <= a < ndim for a in axes):
        raise ValueError(f"{fn}: `axis`={axis!r} is out of range for an array of rank {ndim}.")
    axes = tuple(sorted(a % ndim for a in axes))
    if len(set(axes)) != len(axes) or not axes:
        raise ValueError(f"{fn}: `axis`={axis!r} must name distinct axes, at least one.")
    return axes


def _check_label_range(fn: str, labels: jax.Array, num_classes: int) -> None:
    """Raise if concrete integer labels fall outside [0, num_classes); tracers pass."""
    if isinstance(labels, jax.core.Tracer) or not labels.is_fully_addressable:
        return
    values = np.asarray(labels)
    bad = (values < 0) | (values >= num_classes)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{fn}: integer labels must lie in [0, {num_classes}) (num_classes={num_classes}); "
            f"got {values[index]} at index {index} ({int(bad.sum())} label(s) out of range)."
        )


def _int_labels(fn: str, labels: ArrayLike, batch_shape: tuple, num_classes: int, ref: str,
                hint: str) -> jax.Array:
    """Check integer labels: dtype, shape ``batch_shape``, and (if concrete) their range."""
    y = jnp.asarray(labels)
    _require(fn, "labels", y, jnp.integer, f"integer class indices of shape {batch_shape}", hint)
    _require_shape(fn, "labels", y, batch_shape, ref)
    _check_label_range(fn, y, num_classes)
    return _wide_int(y)


def _wide_int(y: jax.Array) -> jax.Array:
    """Widen narrow integer labels to int32 so class counts like 300 fit in comparisons."""
    return y.astype(jnp.int32) if jnp.iinfo(y.dtype).bits < 32 else y


# ----------------------------------------------------------------------------- helpers


def _classes_last(x: jax.Array, axes: tuple[int, ...]) -> jax.Array:
    """Move the class axes of ``x`` to the end, in order, and flatten them into one."""
    batch = tuple(a for a in range(x.ndim) if a not in axes)
    x = jnp.transpose(x, batch + axes)
    return x.reshape(x.shape[: len(batch)] + (-1,))


def _class_inputs(fn: str, logits: ArrayLike, axis: Axis, where: ArrayLike | None):
    """Validate logits / axis / where; return (logits, where, axes, batch_shape) classes-last.

    ``where`` of the logits' shape masks classes; of the batch shape, whole examples.
    """
    x = jnp.asarray(logits)
    _require(fn, "logits", x, jnp.floating, "a floating-point array")
    axes = _axes(fn, axis, x.ndim)
    batch_shape = tuple(d for a, d in enumerate(x.shape) if a not in axes)
    if math.prod(x.shape[a] for a in axes) == 0:
        raise ValueError(f"{fn}: `logits` of shape {x.shape} has no classes along axis {axis}.")
    xl = _classes_last(x, axes)
    if where is None:
        return xl, None, axes, batch_shape
    w = jnp.asarray(where)
    _require(fn, "where", w, jnp.bool_, "a boolean mask")
    if w.shape == x.shape:
        return xl, _classes_last(w, axes), axes, batch_shape
    if w.shape == batch_shape:
        return xl, jnp.broadcast_to(w[..., None], xl.shape), axes, batch_shape
    raise ValueError(f"{fn}: `where` must have the logits' shape {x.shape} (mask classes) or the "
                     f"batch shape {batch_shape} (mask examples), got {w.shape}.")


def _logsumexp(x: jax.Array, where: jax.Array | None) -> jax.Array:
    """Stable ``log sum_j exp(x_j)`` over the last axis, over ``where`` only; -inf if empty."""
    if where is not None:
        x = jnp.where(where, x, -jnp.inf)
    m = jax.lax.stop_gradient(jnp.max(x, axis=-1, keepdims=True))
    m = jnp.where(jnp.isfinite(m), m, 0.0)
    s = jnp.sum(jnp.exp(x - m), axis=-1)
    nonempty = s > 0
    return jnp.where(nonempty, jnp.log(jnp.where(nonempty, s, 1.0)) + m[..., 0], -jnp.inf)


# ----------------------------------------------------------------------------- regression


def squared_error(predictions: ArrayLike, targets: ArrayLike | None = None) -> jax.Array:
    """Elementwise squared error ``(p - t)^2`` (no factor 1/2, unlike ``l2_loss``).

    Args:
      predictions: floating array of any shape.
      targets: array of the same shape (or a scalar); ``None`` means zeros.

    Returns:
      An array of the shape of ``predictions``.

    References:
      Bishop, Pattern Recognition and Machine Learning, 2006, sec. 1.1 (sum-of-squares error).
    """
    p, t = _targets("squared_error", predictions, targets)
    return jnp.square(p if t is None else p - t)


def l2_loss(predictions: ArrayLike, targets: ArrayLike | None = None) -> jax.Array:
    """Elementwise half squared error ``0.5 * (p - t)^2``; its gradient is ``p - t``.

    Args:
      predictions: floating array of any shape.
      targets: array of the same shape (or a scalar); ``None`` means zeros.

    Returns:
      An array of the shape of ``predictions``.
    """
    p, t = _targets("l2_loss", predictions, targets)
    return 0.5 * jnp.square(p if t is None else p - t)


def huber_loss(predictions: ArrayLike, targets: ArrayLike | None = None, *,
               delta: ArrayLike = 1.0) -> jax.Array:
    """Elementwise Huber loss: quadratic near zero, linear beyond ``delta``.

    With ``e = p - t``: ``0.5 * e^2`` if ``|e| <= delta``, else ``delta * (|e| - delta / 2)``.
    Its gradient is ``e`` clipped to ``[-delta, delta]``.

    Args:
      predictions: floating array of any shape.
      targets: array of the same shape (or a scalar); ``None`` means zeros.
      delta: positive threshold (keyword-only, as in optax); may be traced.

    Returns:
      An array of the shape of ``predictions``.

    References:
      Huber, "Robust Estimation of a Location Parameter", Annals of Math. Statistics, 1964.
    """
    p, t = _targets("huber_loss", predictions, targets)
    if isinstance(delta, (int, float)) and not delta > 0:
        raise ValueError(f"huber_loss: `delta` must be positive, got {delta}.")
    d = jnp.asarray(delta).astype(p.dtype)
    e = p if t is None else p - t
    a = jnp.abs(e)
    return jnp.where(a <= d, 0.5 * jnp.square(e), d * (a - 0.5 * d))


# ----------------------------------------------------------------------------- classification


def softmax_cross_entropy(logits: ArrayLike, labels: ArrayLike, axis: Axis = -1,
                          where: ArrayLike | None = None) -> jax.Array:
    """Cross-entropy between ``softmax(logits)`` and label distributions, per example.

    ``loss = -sum_j y_j log softmax(x)_j = logsumexp(x) - sum_j y_j x_j`` (for ``sum y = 1``),
    computed stably for any finite logits. Convention ``0 * log 0 = 0``: a class with logit
    ``-inf`` and label 0 contributes nothing (optax gives NaN there).

    Args:
      logits: floating array; ``axis`` holds the classes.
      labels: probabilities or one-hot labels of the same shape as ``logits``.
      axis: class axis, or a tuple of axes flattened into one class axis.
      where: optional boolean mask, of the logits' shape (classes left out of the softmax and
        the sum) or of the batch shape (examples left out give 0).

    Returns:
      The loss, of the logits' shape without ``axis``.

    References:
      Goodfellow, Bengio, Courville, Deep Learning, 2016, sec. 6.2.2.3 (softmax units).
    """
    fn = "softmax_cross_entropy"
    x, w, axes, batch_shape = _class_inputs(fn, logits, axis, where)
    y = jnp.asarray(labels)
    hint = ""
    if jnp.issubdtype(y.dtype, jnp.integer) and y.shape == batch_shape:
        hint = (" These look like integer class indices: use "
                "softmax_cross_entropy_with_integer_labels, or one_hot(labels, num_classes).")
    _require_shape(fn, "labels", y, jnp.shape(logits), "the shape of `logits`", hint)
    y = _classes_last(y.astype(x.dtype), axes)
    log_p = x - _logsumexp(x, w)[..., None]
    drop = (y == 0) & jnp.isneginf(log_p)
    if w is not None:
        drop = drop | ~w
    return -jnp.sum(y * jnp.where(drop, 0.0, log_p), axis=-1)


def softmax_cross_entropy_with_integer_labels(logits: ArrayLike, labels: ArrayLike,
                                              axis: Axis = -1,
                                              where: ArrayLike | None = None) -> jax.Array:
    """Softmax cross-entropy with integer class labels, per example.

    ``loss = logsumexp(x) - x_y`` = ``-log softmax(x)_y``, computed stably for any finite
    logits. Labels must lie in ``[0, num_classes)``: concrete labels are checked (ValueError);
    traced labels cannot be, so an out-of-range label gives a NaN loss for that example (and
    a zero gradient), visible in any mean. optax wraps negative labels instead.

    Args:
      logits: floating array; ``axis`` holds the classes.
      labels: integer array of the logits' shape without ``axis``. With a tuple ``axis`` a
        label is a flat (row-major) index into those axes.
      axis: class axis, or a tuple of axes flattened into one class axis.
      where: optional boolean mask, of the logits' shape (classes left out of the normaliser)
        or of the batch shape (examples left out give 0, whatever their label).

    Returns:
      The loss, of the shape of ``labels``.

    References:
      Goodfellow, Bengio, Courville, Deep Learning, 2016, sec. 6.2.2.3 (softmax units).
    """
    fn = "softmax_cross_entropy_with_integer_labels"
    x, w, _, batch_shape = _class_inputs(fn, logits, axis, where)
    c = x.shape[-1]
    y = _int_labels(fn, labels, batch_shape, c, "the logits' shape without the class axis",
                    " For probabilities or one-hot labels use softmax_cross_entropy.")
    picked = jnp.take_along_axis(x, jnp.clip(y, 0, c - 1)[..., None], axis=-1)[..., 0]
    loss = jnp.where((y >= 0) & (y < c), _logsumexp(x, w) - picked, jnp.nan)
    if w is not None:
        loss = jnp.where(jnp.any(w, axis=-1), loss, 0.0)
    return loss


def sigmoid_binary_cross_entropy(logits: ArrayLike, labels: ArrayLike) -> jax.Array:
    """Elementwise binary cross-entropy of ``sigmoid(logits)`` against labels in [0, 1].

    ``loss = -y log s(x) - (1 - y) log(1 - s(x)) = y softplus(-x) + (1 - y) softplus(x)``,
    with ``softplus(z) = log(1 + e^z)`` evaluated as ``logaddexp(z, 0)``: finite, with finite
    gradients, for any finite logit.

    Args:
      logits: floating array of any shape (one logit per binary prediction).
      labels: targets in [0, 1] (binary or probabilities), same shape (or a scalar).

    Returns:
      An array of the shape of ``logits``.

    References:
      Goodfellow, Bengio, Courville, Deep Learning, 2016, sec. 6.2.2.2 (sigmoid units).
    """
    x, y = _targets("sigmoid_binary_cross_entropy", logits, labels, ("logits", "labels"))
    return y * jnp.logaddexp(-x, 0.0) + (1.0 - y) * jnp.logaddexp(x, 0.0)


def smooth_labels(labels: ArrayLike, alpha: ArrayLike, *, axis: Axis = -1,
                  where: ArrayLike | None = None) -> jax.Array:
    """Label smoothing: ``(1 - alpha) * y + alpha / K`` over ``K`` classes.

    Each row still sums to 1 when ``y`` does. With ``where``, ``K`` counts only the included
    classes (as in optax).

    Args:
      labels: floating one-hot labels or probabilities.
      alpha: smoothing factor in [0, 1]; may be traced.
      axis: class axis or axes (keyword-only, as in optax).
      where: optional boolean mask of the labels' shape, the classes that count.

    Returns:
      The smoothed labels, of the shape of ``labels``.

    References:
      Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016.
      Muller, Kornblith, Hinton, "When Does Label Smoothing Help?", NeurIPS 2019.
    """
    fn = "smooth_labels"
    y = jnp.asarray(labels)
    _require(fn, "labels", y, jnp.floating, "floating one-hot labels or probabilities",
             " Integer class indices: use one_hot(labels, num_classes) first.")
    axes = _axes(fn, axis, y.ndim)
    if isinstance(alpha, (int, float)) and not 0 <= alpha <= 1:
        raise ValueError(f"{fn}: `alpha` must lie in [0, 1], got {alpha}.")
    if where is None:
        k = jnp.asarray(math.prod(y.shape[a] for a in axes), y.dtype)
    else:
        w = jnp.asarray(where)
        _require(fn, "where", w, jnp.bool_, "a boolean mask")
        _require_shape(fn, "where", w, y.shape, "the shape of `labels`")
        k = jnp.sum(w, axis=axes, keepdims=True).astype(y.dtype)
    a = jnp.asarray(alpha).astype(y.dtype)
    return (1.0 - a) * y + a / k


def one_hot(labels: ArrayLike, num_classes: int, dtype: Any = jnp.float32) -> jax.Array:
    """One-hot encoding: ``out[..., j] = 1 if labels[...] == j else 0``.

    Concrete labels outside ``[0, num_classes)`` raise a ValueError; traced ones give an
    all-zero row (as ``jax.nn.one_hot``).

    Args:
      labels: integer class indices, any shape.
      num_classes: number of classes, a positive Python int.
      dtype: dtype of the result.

    Returns:
      An array of shape ``labels.shape + (num_classes,)``.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"one_hot: `num_classes` must be a Python int, got {num_classes!r}.")
    if num_classes <= 0:
        raise ValueError(f"one_hot: `num_classes` must be positive, got {num_classes}.")
    y = jnp.asarray(labels)
    _require("one_hot", "labels", y, jnp.integer, "integer class indices")
    _check_label_range("one_hot", y, int(num_classes))
    y = _wide_int(y)
    classes = jnp.arange(num_classes, dtype=y.dtype).reshape((1,) * y.ndim + (num_classes,))
    return (y[..., None] == classes).astype(dtype)


# ----------------------------------------------------------------------------- metrics


def _masked_mean(fn: str, values: jax.Array, where: ArrayLike | None) -> jax.Array:
    """Mean of boolean ``values`` over the entries ``where`` selects (a leading-shape mask)."""
    v = values.astype(jnp.float32)
    if where is None:
        return jnp.mean(v)
    w = jnp.asarray(where)
    _require(fn, "where", w, jnp.bool_, "a boolean mask")
    if w.shape != values.shape[: w.ndim]:
        raise ValueError(f"{fn}: `where` must have a leading part of the shape {values.shape} "
                         f"(e.g. the batch shape {values.shape[:1]}), got {w.shape}.")
    w = jnp.broadcast_to(w.reshape(w.shape + (1,) * (v.ndim - w.ndim)), v.shape)
    return jnp.sum(jnp.where(w, v, 0.0)) / jnp.sum(w).astype(jnp.float32)


def accuracy(logits: ArrayLike, labels: ArrayLike, where: ArrayLike | None = None) -> jax.Array:
    """Scalar classification accuracy: ``mean(argmax_j x_j == y)`` (ties: first index).

    Args:
      logits: scores (logits or probabilities: argmax is the same), classes on the last axis.
      labels: integer classes of shape ``logits.shape[:-1]``, or one-hot / probability labels
        of the logits' shape (their argmax is the class).
      where: optional boolean mask of the batch shape (or a leading part of it); only
        selected examples count. All-False gives NaN.

    Returns:
      A float32 scalar in [0, 1]. Out-of-range traced integer labels count as wrong.
    """
    fn = "accuracy"
    x = jnp.asarray(logits)
    if x.ndim == 0:
        raise ValueError(f"{fn}: `logits` needs a class axis (the last), got a scalar.")
    y = jnp.asarray(labels)
    if y.shape == x.shape:
        y = jnp.argmax(y, axis=-1)
    else:
        y = _int_labels(fn, y, x.shape[:-1], x.shape[-1], "the logits' shape without the last",
                        f" One-hot or probability labels must have the logits' shape {x.shape}.")
    return _masked_mean(fn, jnp.argmax(x, axis=-1) == y.astype(jnp.int32), where)


def binary_accuracy(logits: ArrayLike, labels: ArrayLike, threshold: ArrayLike = 0.0,
                    where: ArrayLike | None = None) -> jax.Array:
    """Scalar accuracy of binary predictions: ``mean((x > threshold) == (y > 0.5))``.

    The default threshold 0 suits logits (``sigmoid(x) > 0.5``); use 0.5 for probabilities.

    Args:
      logits: floating array, one score per binary prediction.
      labels: binary labels (bool, int or float; floats are thresholded at 0.5), same shape.
      threshold: decision threshold on ``logits``; may be traced.
      where: optional boolean mask of a leading part of the shape; only selected entries count.

    Returns:
      A float32 scalar in [0, 1].
    """
    fn = "binary_accuracy"
    x, _ = _targets(fn, logits, None, ("logits", "labels"))
    y = jnp.asarray(labels)
    _require_shape(fn, "labels", y, x.shape, "the shape of `logits`")
    if jnp.issubdtype(y.dtype, jnp.floating):
        truth = y > 0.5
    else:
        truth = y if y.dtype == jnp.bool_ else y != 0
    return _masked_mean(fn, (x > jnp.asarray(threshold).astype(x.dtype)) == truth, where)


# ----------------------------------------------------------------------------- penalties


def _default_mask(params: Any) -> Any:
    return jax.tree.map(lambda p: jnp.ndim(p) > 1, params)


def l2_penalty(params: Any, mask: Any = None) -> jax.Array:
    """Half the sum of squared weights: ``0.5 * sum_{w in mask} ||w||^2``.

    The 1/2 makes the gradient of ``lam * l2_penalty(params)`` equal to ``lam * w``. The
    default mask keeps only leaves with ``ndim > 1`` (weight matrices and kernels), leaving
    out biases and normalisation scales and offsets (all 1-D), the flax/optax convention.
    With adaptive optimizers (Adam) this penalty differs from decoupled weight decay.

    Args:
      params: pytree of floating arrays.
      mask: ``None`` (default rule above), a pytree of Python bools with the structure of
        ``params``, or a callable ``params -> bool pytree``. Penalise everything with
        ``mask=lambda p: jax.tree.map(lambda _: True, p)``.

    Returns:
      A scalar, float32 (float64 if any penalised leaf is float64); 0 if nothing is penalised.

    References:
      Krogh, Hertz, "A Simple Weight Decay Can Improve Generalization", NeurIPS 1991.
      Loshchilov, Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
    """
    fn = "l2_penalty"
    mask_tree = _default_mask(params) if mask is None else mask(params) if callable(mask) else mask
    p_def, m_def = jax.tree.structure(params), jax.tree.structure(mask_tree)
    if p_def != m_def:
        raise ValueError(f"{fn}: `mask` must have the tree structure of `params`.\n"
                         f"  params: {p_def}\n  mask:   {m_def}")
    paths = jax.tree_util.tree_flatten_with_path(params)[0]
    chosen = []
    for (path, leaf), m in zip(paths, jax.tree.leaves(mask_tree), strict=True):
        where = jax.tree_util.keystr(path) or "(root)"
        if not isinstance(m, (bool, np.bool_)):
            raise TypeError(f"{fn}: mask leaves must be Python bools, got {m!r} at {where}.")
        if m:
            leaf = jnp.asarray(leaf)
            _require(fn, f"params{where}", leaf, jnp.floating, "floating-point to be penalised")
            chosen.append(leaf)
    acc = jnp.float64 if any(leaf.dtype == jnp.float64 for leaf in chosen) else jnp.float32
    squares = [jnp.sum(jnp.square(leaf.astype(acc))) for leaf in chosen]
    return 0.5 * sum(squares, jnp.zeros((), acc))


# ----------------------------------------------------------------------------- by name


def _per_example_mean(out: jax.Array) -> jax.Array:
    """Average an unreduced loss over every axis but the first (the batch axis)."""
    return jnp.mean(out, axis=tuple(range(1, out.ndim))) if out.ndim > 1 else out


def mean_squared_error(predictions: ArrayLike, targets: ArrayLike) -> jax.Array:
    """Per-example mean squared error: ``(p - t)^2`` averaged over the non-batch axes.

    Args:
      predictions: floating array with a leading batch axis.
      targets: array of the same shape.

    Returns:
      Shape ``(batch,)`` (``()`` for scalar predictions).
    """
    return _per_example_mean(squared_error(predictions, targets))


def cross_entropy(logits: ArrayLike, labels: ArrayLike) -> jax.Array:
    """Per-example softmax cross-entropy, for integer or one-hot/probability labels.

    Integer labels: ``-log softmax(x)_y`` (softmax_cross_entropy_with_integer_labels);
    floating labels: ``-sum_j y_j log softmax(x)_j`` (softmax_cross_entropy). Classes are on
    the last axis; any axes between batch and classes (e.g. time) are averaged.

    Args:
      logits: floating array ``(batch, ..., classes)``.
      labels: integers of shape ``logits.shape[:-1]``, or floating labels of the logits' shape.

    Returns:
      Shape ``(batch,)``.
    """
    if jnp.issubdtype(jnp.asarray(labels).dtype, jnp.integer):
        return _per_example_mean(softmax_cross_entropy_with_integer_labels(logits, labels))
    return _per_example_mean(softmax_cross_entropy(logits, labels))


def _per_example(loss: Callable[..., jax.Array], name: str) -> LossFn:
    def per_example(predictions: ArrayLike, targets: ArrayLike) -> jax.Array:
        return _per_example_mean(loss(predictions, targets))

    per_example.__name__ = per_example.__qualname__ = name
    per_example.__doc__ = f"Per-example {loss.__name__}, averaged over non-batch axes."
    return per_example


_REGISTRY: dict[str, LossFn] = {
    "mse": mean_squared_error,
    "squared_error": mean_squared_error,
    "cross_entropy": cross_entropy,
    "binary_cross_entropy": _per_example(sigmoid_binary_cross_entropy, "binary_cross_entropy"),
    "huber": _per_example(huber_loss, "huber"),
    "l2": _per_example(l2_loss, "l2"),
}


def get(name: str | LossFn) -> LossFn:
    """Look up a per-example loss ``(predictions_or_logits, targets) -> (batch,)`` by name.

    Names: ``"mse"`` and ``"squared_error"`` (mean_squared_error), ``"cross_entropy"``
    (softmax; integer or one-hot labels), ``"binary_cross_entropy"`` (sigmoid), ``"huber"``
    (delta 1), ``"l2"`` (half squared error). Each averages over the non-batch axes.

    Args:
      name: one of the names above, or a callable, returned unchanged.

    Returns:
      The loss function.
    """
    if callable(name):
        return name
    if not isinstance(name, str):
        raise TypeError(f"losses.get: expected a loss name or a callable, got {name!r}.")
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ValueError(f"losses.get: unknown loss {name!r}; known losses: {known}.") from None
