"""The train state and the pure train and eval steps.

A ``TrainState`` holds everything that changes during training. ``make_train_step`` builds a
pure ``(train_state, batch) -> (train_state, metrics)`` function; ``jax.jit`` it with
``donate_argnums=0`` (``fit`` does, and fuses a whole epoch of steps into one ``lax.scan``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxdl import losses, optim
from jaxdl.nn import Layer

__all__ = ["TrainState", "init_state", "make_train_step", "make_eval_step", "Batch"]

Batch = tuple  # (x, y) or (x, y, weight): weight 0 marks padding in the last batch
LossArg = str | Callable[[jax.Array, jax.Array], jax.Array]


class TrainState(NamedTuple):
    """Everything training changes, as one pytree.

    Attributes:
        params: the model's trainable parameters.
        model_state: the model's non-trainable state (BatchNorm running statistics).
        opt_state: the optimizer's state.
        step: number of optimizer steps taken; int32 scalar.
        key: the run's PRNG key; step ``t`` uses ``fold_in(key, t)``, so a resumed run draws
            the same dropout masks as an uninterrupted one.
        skipped: number of steps skipped for a non-finite loss or gradient; int32 scalar.
    """

    params: Any
    model_state: Any
    opt_state: Any
    step: jax.Array  # shape=(), int32
    key: jax.Array
    skipped: jax.Array  # shape=(), int32


def init_state(
    model: Layer, optimizer: optim.GradientTransformation, key: jax.Array, input_shape: tuple
) -> TrainState:
    """Initialises the model (for one example of ``input_shape``) and the optimizer."""
    init_key, run_key = jax.random.split(key)
    _, params, model_state = model.init(init_key, tuple(input_shape))
    # Distinct buffers everywhere: the train step donates the whole state, and an optimizer
    # may hand back one array in two places (a shared zero count, say).
    opt_state = jax.tree.map(jnp.copy, optimizer.init(params))
    return TrainState(params, model_state, opt_state, jnp.zeros([], jnp.int32), run_key,
                      jnp.zeros([], jnp.int32))


def _unpack(batch: Batch):
    if len(batch) == 2:
        x, y = batch
        return x, y, None
    if len(batch) == 3:
        return batch
    raise ValueError(f"a batch is (x, y) or (x, y, weight), got a tuple of {len(batch)} items")


def _weighted_mean(values: jax.Array, weight: jax.Array | None) -> jax.Array:
    if weight is None:
        return jnp.mean(values)
    weight = weight.astype(values.dtype)
    return jnp.sum(values * weight) / jnp.maximum(jnp.sum(weight), 1.0)


def _is_classification(loss_fn: Callable) -> bool:
    return getattr(loss_fn, "__name__", "") in ("cross_entropy", "binary_cross_entropy")


def _accuracy(loss_fn, logits, y, weight):
    if getattr(loss_fn, "__name__", "") == "binary_cross_entropy":
        hits = (logits > 0) == (y > 0.5)
        hits = hits.reshape(hits.shape[0], -1).mean(axis=1) if hits.ndim > 1 else hits
    else:
        labels = jnp.argmax(y, -1) if y.shape == logits.shape else y
        hits = jnp.argmax(logits, -1) == labels.astype(jnp.int32)
    return _weighted_mean(hits.astype(jnp.float32), weight)


def _learning_rate(opt_state: Any) -> jax.Array | None:
    found = optim.tree_get_all_with_path(opt_state, "learning_rate")
    return jnp.asarray(found[0][1], jnp.float32) if len(found) == 1 else None


def make_train_step(
    model: Layer,
    loss: LossArg,
    optimizer: optim.GradientTransformation,
    *,
    l2: float | jax.Array = 0.0,
    l2_mask: Any = None,
    augment: Callable[[jax.Array, Batch], Batch] | None = None,
    skip_nonfinite: bool = True,
) -> Callable[[TrainState, Batch], tuple[TrainState, dict[str, jax.Array]]]:
    """Builds the pure train step ``(train_state, batch) -> (train_state, metrics)``.

    The objective is ``mean_i w_i * loss(f(x_i), y_i) / sum_i w_i + l2 * 0.5 * ||theta||^2``
    (the penalty over the weights selected by ``l2_mask``; by default every leaf of rank >= 2,
    so biases and normalisation scales are not penalised). Dropout gets the key
    ``fold_in(train_state.key, step)``; BatchNorm's state is threaded through.

    Args:
        model: the model (a ``Layer``).
        loss: a name from ``jaxdl.losses.get`` or a per-example loss ``(outputs, y) -> (batch,)``.
        optimizer: any gradient transformation (jaxdl's or optax's).
        l2: the L2 penalty coefficient ``lambda`` (may be traced, for sweeps).
        l2_mask: which params the penalty covers (see ``jaxdl.losses.l2_penalty``).
        augment: optional ``(key, batch) -> batch``, applied to each training batch.
        skip_nonfinite: when the loss or gradient is not finite, keep the params, model and
            optimizer state as they were and count the step in ``train_state.skipped``;
            ``fit`` then stops with an error unless told to go on.

    Returns:
        The step. Metrics: ``loss`` (data loss, without the penalty), ``accuracy`` for
        classification losses, ``grad_norm`` (global norm of the gradient), ``learning_rate``
        when the optimizer state exposes one (``inject_hyperparams``), ``finite``.
    """
    loss_fn = losses.get(loss)
    classify = _is_classification(loss_fn)

    def step(ts: TrainState, batch: Batch):
        key = jax.random.fold_in(ts.key, ts.step)
        augment_key, dropout_key = jax.random.split(key)
        if augment is not None:
            batch = augment(augment_key, batch)
        x, y, weight = _unpack(batch)

        def objective(params):
            out, model_state = model.apply(params, ts.model_state, x, key=dropout_key, train=True)
            data_loss = _weighted_mean(loss_fn(out, y), weight)
            total = data_loss
            if not (isinstance(l2, (int, float)) and l2 == 0):
                total = total + l2 * losses.l2_penalty(params, l2_mask)
            return total, (data_loss, out, model_state)

        (_, (data_loss, out, model_state)), grads = jax.value_and_grad(objective, has_aux=True)(
            ts.params)
        updates, opt_state = optimizer.update(grads, ts.opt_state, ts.params)
        params = optim.apply_updates(ts.params, updates)
        grad_norm = optim.global_norm(grads)
        finite = jnp.isfinite(data_loss) & jnp.isfinite(grad_norm)
        new = (params, model_state, opt_state)
        if skip_nonfinite:
            old = (ts.params, ts.model_state, ts.opt_state)
            new = jax.tree.map(lambda a, b: jnp.where(finite, a, b), new, old)
        metrics = {"loss": data_loss, "grad_norm": grad_norm, "finite": finite}
        if classify:
            metrics["accuracy"] = _accuracy(loss_fn, out, y, weight)
        lr = _learning_rate(opt_state)
        if lr is not None:
            metrics["learning_rate"] = lr
        skipped = ts.skipped + (~finite).astype(jnp.int32)
        return TrainState(*new, ts.step + 1, ts.key, skipped), metrics

    return step


def make_eval_step(
    model: Layer, loss: LossArg
) -> Callable[[TrainState, Batch], dict[str, jax.Array]]:
    """Builds ``(train_state, batch) -> metrics`` in evaluation mode (no dropout, BatchNorm's
    running statistics): ``loss`` and, for classification losses, ``accuracy``, each the
    weighted mean over the batch, plus ``weight``, the batch's total weight."""
    loss_fn = losses.get(loss)
    classify = _is_classification(loss_fn)

    def eval_step(ts: TrainState, batch: Batch):
        x, y, weight = _unpack(batch)
        out, _ = model.apply(ts.params, ts.model_state, x, train=False)
        metrics = {"loss": _weighted_mean(loss_fn(out, y), weight)}
        if classify:
            metrics["accuracy"] = _accuracy(loss_fn, out, y, weight)
        metrics["weight"] = (jnp.sum(weight.astype(jnp.float32)) if weight is not None
                             else jnp.asarray(x.shape[0], jnp.float32))
        return metrics

    return eval_step
