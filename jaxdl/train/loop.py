"""``fit``: the convenience training loop, one compiled dispatch per epoch.

Each epoch is one jitted, buffer-donating call: a ``lax.scan`` over every batch of a shuffled
order (drawn on the host from the run key, gathered on device), so Python runs once per
epoch, not once per step. Validation, history, early
stopping, callbacks and the progress bar happen between epochs.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import checkpoint, optim, parallel
from jaxdl.data import check_dataset
from jaxdl.nn import Layer
from jaxdl.train.state import (
    LossArg,
    TrainState,
    init_state,
    make_eval_step,
    make_train_step,
)

__all__ = ["fit", "evaluate", "History", "EarlyStopping", "NonFiniteLossError", "epoch_batches"]


class NonFiniteLossError(FloatingPointError):
    """Training produced a non-finite loss or gradient. ``train_state`` and ``history`` hold
    everything up to the error (the bad steps were skipped, so the state is finite)."""

    def __init__(self, message: str, train_state: TrainState, history: History):
        super().__init__(message)
        self.train_state = train_state
        self.history = history


@dataclass
class History:
    """Per-epoch records of a ``fit`` run: ``history["val_loss"]`` is a list over epochs."""

    rows: list[dict[str, float]] = field(default_factory=list)

    def __getitem__(self, name: str) -> list[float]:
        return [row[name] for row in self.rows if name in row]

    def __len__(self) -> int:
        return len(self.rows)

    def as_dict(self) -> dict[str, list[float]]:
        names = dict.fromkeys(k for row in self.rows for k in row)
        return {name: self[name] for name in names}


@dataclass
class EarlyStopping:
    """Stops ``fit`` when ``monitor`` has not improved by ``min_delta`` for more than
    ``patience`` epochs (so ``patience + 1`` epochs without improvement; Keras stops after
    ``patience``).

    Args:
        monitor: a history name, ``"val_loss"`` by default (``"val_accuracy"``...).
        patience: epochs without improvement before stopping.
        min_delta: the smallest change that counts as an improvement.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max for names containing "accuracy").
        restore_best: return the parameters of the best epoch instead of the last.
    """

    monitor: str = "val_loss"
    patience: int = 5
    min_delta: float = 0.0
    mode: str = "auto"
    restore_best: bool = False

    def __post_init__(self):
        if self.patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {self.patience}")
        if self.mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {self.mode}")

    @property
    def sign(self) -> float:
        maximise = self.mode == "max" or (self.mode == "auto" and "accuracy" in self.monitor)
        return -1.0 if maximise else 1.0


def epoch_batches(key: jax.Array | None, n: int, batch_size: int, drop_last: bool):
    """Indices ``(steps, batch_size)`` of one epoch, shuffled by ``key`` (in order for
    ``None``), and weights: ``None``, or 0 for the padding that fills the last batch up with
    already-seen examples."""
    order = jnp.arange(n) if key is None else jax.random.permutation(key, n)
    return _batch_layout(order, batch_size, drop_last)


def _batch_layout(order: Any, batch_size: int, drop_last: bool):
    """``order`` (NumPy or JAX) cut into batches, the last one padded or dropped."""
    xp = np if isinstance(order, np.ndarray) else jnp
    n = order.shape[0]
    if drop_last:
        steps = n // batch_size
        return order[: steps * batch_size].reshape(steps, batch_size), None
    steps = math.ceil(n / batch_size)
    pad = steps * batch_size - n
    idx = xp.concatenate([order, order[:pad]]).reshape(steps, batch_size)
    weight = xp.concatenate([xp.ones(n, xp.float32), xp.zeros(pad, xp.float32)])
    return idx, weight.reshape(steps, batch_size)


def _as_arrays(name: str, data: Any) -> tuple[Any, Any]:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(f"fit: {name} data must be a pair (x, y), got {type(data).__name__}")
    return tuple(a if isinstance(a, jax.Array) else np.asarray(a) for a in data)


def _check_data(name: str, x: Any, y: Any, loss: LossArg, num_outputs: int | None) -> None:
    """``data.check_dataset`` with the task the loss implies: integer class labels for
    ``"cross_entropy"`` with one label per example, numeric finite targets otherwise."""
    classify = loss == "cross_entropy" and np.ndim(y) == 1
    # Arrays spread over several hosts (parallel.host_shard): each host checks its own rows.
    x, y = parallel.local_data(x), parallel.local_data(y)
    check_dataset(x, y, name=name, task="classification" if classify else "regression",
                  num_classes=num_outputs if classify else None)


def _num_outputs(model: Layer, ts: TrainState, x: Any) -> int:
    example = jax.ShapeDtypeStruct((1, *x.shape[1:]), x.dtype)
    out = jax.eval_shape(lambda p, s, x: model.apply(p, s, x)[0], ts.params, ts.model_state,
                         example)
    return out.shape[-1]


def evaluate(
    model: Layer,
    train_state: TrainState,
    data: tuple[Any, Any],
    loss: LossArg = "cross_entropy",
    batch_size: int = 1024,
) -> dict[str, float]:
    """Loss (and accuracy for classification) of the model on ``data``, in evaluation mode."""
    x, y = _as_arrays("evaluation", data)
    _check_data("evaluation", x, y, loss, _num_outputs(model, train_state, x))
    return _make_evaluator(model, loss, batch_size)(train_state, x, y)


@functools.lru_cache(maxsize=32)
def _make_evaluator(model: Layer, loss: LossArg, batch_size: int):
    """One compiled evaluator per (model, loss, batch size), reused by every ``evaluate``."""
    eval_step = make_eval_step(model, loss)

    @jax.jit
    def run(ts, x, y):
        n = x.shape[0]
        size = min(batch_size, n)
        idx, weight = epoch_batches(None, n, size, drop_last=False)

        def body(_, batch):
            i, w = batch
            return None, eval_step(ts, (x[i], y[i], w))

        _, metrics = jax.lax.scan(body, None, (idx, weight))
        total = jnp.sum(metrics.pop("weight"))
        counts = jnp.sum(weight, axis=1)
        return {k: jnp.sum(v * counts) / total for k, v in metrics.items()}

    def evaluator(ts, x, y):
        return {k: float(v) for k, v in run(ts, x, y).items()}

    return evaluator


def _progress(enabled: bool, epochs: int):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=epochs, unit="epoch", leave=False)


def fit(
    model: Layer,
    optimizer: optim.GradientTransformation,
    train_data: tuple[Any, Any],
    *,
    key: jax.Array,
    val: tuple[Any, Any] | None = None,
    loss: LossArg = "cross_entropy",
    epochs: int = 10,
    batch_size: int | None = 32,
    drop_last: bool = False,
    l2: float | jax.Array = 0.0,
    augment: Callable | None = None,
    early_stopping: EarlyStopping | None = None,
    callbacks: Sequence[Callable[[int, dict, TrainState], bool | None]] = (),
    progress: bool = True,
    on_nonfinite: str = "raise",
    train_state: TrainState | None = None,
    checkpoint_dir: str | None = None,
    checkpoint_every: int = 1,
    keep: int | None = 3,
    resume: bool = False,
    mesh: jax.sharding.Mesh | bool | None = None,
    shard_params: bool = False,
) -> tuple[TrainState, History]:
    """Trains ``model`` with ``optimizer`` on ``train_data = (x, y)``.

    Full-batch gradient descent (``batch_size=None``), stochastic (``batch_size=1``) and
    minibatch training are the same loop. The last partial batch is kept and weighted (its
    padding, drawn from already-seen examples, has weight 0) unless ``drop_last=True``.
    BatchNorm's batch statistics do see that padding: use ``drop_last=True`` where that
    matters.

    Args:
        model: the model.
        optimizer: any gradient transformation.
        train_data: ``(x, y)``; x has one example per row.
        key: the PRNG key for initialisation, shuffling and dropout. Same key, same bits.
        val: optional validation ``(x, y)``, evaluated after every epoch.
        loss: a ``jaxdl.losses.get`` name or a per-example loss function.
        epochs: number of passes over the training data.
        batch_size: examples per step; ``None`` for the full batch.
        drop_last: drop the last partial batch instead of weighting it.
        l2: L2 penalty coefficient (biases and normalisation scales are not penalised).
        augment: optional ``(key, batch) -> batch`` applied to each training batch; the batch
            is ``(x, y, w)``, or ``(x, y)`` with ``drop_last=True``
            (``train.augmentation`` builds one from the classic regularisers).
        early_stopping: an ``EarlyStopping`` rule.
        callbacks: ``callback(epoch, record, train_state)`` after each epoch; a truthy return
            stops training.
        progress: show a tqdm progress bar (when tqdm is installed).
        on_nonfinite: ``"raise"`` (stop with ``NonFiniteLossError`` naming the epoch and step)
            or ``"skip"`` (skip those updates and count them in ``train_state.skipped``).
        train_state: continue from this state instead of initialising a new one.
        checkpoint_dir: save ``checkpoint_<step>.npz`` (the whole ``TrainState`` and the
            history) there every ``checkpoint_every`` epochs and after the last, keeping the
            newest ``keep``. A non-finite state is never written.
        checkpoint_every: epochs between checkpoints.
        keep: how many checkpoints to keep (``None``: all).
        resume: continue from the newest checkpoint in ``checkpoint_dir`` when there is one;
            ``epochs`` counts the total, so a resumed run ends where an uninterrupted one
            does, with bit-identical parameters. (Early stopping's patience count restarts.)
        mesh: train data-parallel over this ``jax.sharding.Mesh`` (``True``: over every
            device, ``parallel.make_mesh()``): each batch split over the devices, the model
            and optimizer state replicated (see ``parallel.DataParallel``). The batch size
            (the training set's size for ``batch_size=None``) must divide by the number of
            devices. The same numbers as without, up to float summation order; on one device
            the same bits.
        shard_params: with ``mesh``, also split parameters and optimizer state along their
            leading axis where it divides (``parallel.shard_leading_axis``).

    Returns:
        ``(train_state, history)``.
    """
    if on_nonfinite not in ("raise", "skip"):
        raise ValueError(f"fit: on_nonfinite must be 'raise' or 'skip', got {on_nonfinite!r}")
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative int, got {epochs!r}")
    if resume and checkpoint_dir is None:
        raise ValueError("fit: resume=True needs the checkpoint_dir to resume from")
    if checkpoint_every < 1:
        raise ValueError(f"fit: checkpoint_every must be >= 1, got {checkpoint_every}")
    x, y = _as_arrays("train", train_data)
    n = x.shape[0]
    ts = train_state if train_state is not None else init_state(model, optimizer, key, x.shape[1:])
    num_outputs = _num_outputs(model, ts, x)
    _check_data("train", x, y, loss, num_outputs)
    if val is not None:
        x_val, y_val = _as_arrays("validation", val)
        _check_data("validation", x_val, y_val, loss, num_outputs)
    if batch_size is not None and not 0 < batch_size <= n:
        raise ValueError(f"fit: batch_size must be in [1, {n}] (the number of training "
                         f"examples) or None for the full batch, got {batch_size}")
    size = n if batch_size is None else batch_size
    plan = None
    if not (mesh is None or isinstance(mesh, (bool, jax.sharding.Mesh))):
        raise TypeError(f"fit: mesh must be a jax.sharding.Mesh, True (every device) or None, "
                        f"got {type(mesh).__name__}")
    if mesh is not None and mesh is not False:
        plan = parallel.DataParallel(parallel.make_mesh() if mesh is True else mesh,
                                     shard_params=shard_params)
        plan.check_batch_size("fit", size, full_batch=batch_size is None)
    elif shard_params:
        raise ValueError("fit: shard_params=True needs a mesh (mesh=True for every device)")
    x, y = jnp.asarray(x), jnp.asarray(y)

    step = make_train_step(model, loss, optimizer, l2=l2, augment=augment)

    def run_epoch(ts, x, y, idx, weight):
        def body(ts, batch):
            i, w = batch
            batch = (x[i], y[i]) if w is None else (x[i], y[i], w)
            if plan is None:
                return step(ts, batch)
            ts, metrics = step(ts, plan.constrain_batch(batch))
            return plan.constrain_state(ts), metrics

        return jax.lax.scan(body, ts, (idx, weight))

    out_shardings = {} if plan is None else {
        "out_shardings": (plan.state_shardings(ts), plan.replicated)}
    run_epoch = jax.jit(run_epoch, donate_argnums=0, **out_shardings)
    evaluator = _make_evaluator(model, loss, 1024) if val is not None else None
    history = History()
    found = checkpoint.latest(checkpoint_dir) if resume else None
    if found is not None:
        ts = checkpoint.restore(found, like=ts)
        history.rows = checkpoint.read_metadata(found)["history"]
    if plan is not None:
        ts, x, y = plan.place_state(ts), plan.place_data(x), plan.place_data(y)
        if val is not None:
            x_val, y_val = plan.place_data(x_val), plan.place_data(y_val)
    # The epoch's order is drawn on the host from the run's key and the epoch number (a
    # device-side permutation sort cost ~10% of each step on CPU); the batches are then
    # gathered on device inside the scan. Same key, same order, also after a resume.
    shuffle_seed = [int(w) for w in np.asarray(jax.random.key_data(ts.key)).ravel()]
    rule = early_stopping
    best, best_value, waited = None, math.inf, 0
    bar = _progress(progress, epochs - len(history))
    try:
        for epoch in range(len(history), epochs):
            start = time.perf_counter()
            order = np.random.default_rng([*shuffle_seed, epoch]).permutation(n)
            idx, weight = _batch_layout(order.astype(np.int32), size, drop_last)
            if plan is not None:
                idx, weight = plan.place_batches(idx, weight)
            ts, metrics = run_epoch(ts, x, y, idx, weight)
            finite = np.asarray(metrics["finite"])
            record = {"epoch": epoch, "train_loss": _mean_finite(metrics["loss"], finite)}
            if "accuracy" in metrics:
                record["train_accuracy"] = _mean_finite(metrics["accuracy"], finite)
            if evaluator is not None:
                for k, v in evaluator(ts, x_val, y_val).items():
                    record[f"val_{k}"] = v
            record["seconds"] = time.perf_counter() - start
            record["skipped"] = int(np.sum(~finite))
            history.rows.append(record)
            if bar is not None:
                bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if "loss" in k
                                 or "accuracy" in k})
                bar.update(1)
            if not finite.all() and on_nonfinite == "raise":
                bad = int(np.argmin(finite))
                losses_seen = np.asarray(metrics["loss"])[:bad]
                last = f"{losses_seen[-1]:.6g}" if bad else "none in this epoch"
                raise NonFiniteLossError(
                    f"fit: the loss or gradient became non-finite at epoch {epoch}, step {bad} "
                    f"of the epoch (step {int(ts.step) - len(finite) + bad} overall); last finite "
                    f"loss: {last}. The bad update was skipped; the error's train_state holds "
                    "the parameters. Lower the learning rate, clip gradients, or pass "
                    "on_nonfinite='skip'.", ts, history)
            if checkpoint_dir is not None and (
                    (epoch + 1) % checkpoint_every == 0 or epoch + 1 == epochs):
                checkpoint.save_checkpoint(checkpoint_dir, ts, int(ts.step), keep=keep,
                                           metadata={"history": history.rows})
            stop = any(bool(cb(epoch, record, ts)) for cb in callbacks)
            if rule is not None:
                if rule.monitor not in record:
                    raise ValueError(f"EarlyStopping: {rule.monitor!r} is not recorded; "
                                     f"choose one of {sorted(record)}")
                value = rule.sign * record[rule.monitor]
                if value < best_value - rule.min_delta:
                    best_value, waited = value, 0
                    if rule.restore_best:
                        best = jax.tree.map(jnp.copy, ts)
                else:
                    waited += 1
                    stop = stop or waited > rule.patience
            if stop:
                break
    finally:
        if bar is not None:
            bar.close()
    if rule is not None and rule.restore_best and best is not None:
        ts = best
    return ts, history


def _mean_finite(values: jax.Array, finite: np.ndarray) -> float:
    values = np.asarray(values)[finite]
    return float(values.mean()) if values.size else math.nan
