"""Full-batch gradient descent vs minibatch SGD vs single-example SGD on the 8x8 digits.

The lesson: batch gradient descent computes the exact gradient of the training loss, so its
path is smooth and it needs the fewest steps, but every step touches all ``n`` examples;
single-example SGD steps do ``n`` times less arithmetic but follow a noisy, zig-zag path
(and need a smaller learning rate to stay stable); minibatches (here 32) keep most of the per-step
progress of the full batch at a small fraction of its cost, so they reach a target training
loss first in wall time.

What it shows in numbers (full run: a 64-64-10 ReLU MLP on all 1797 digits, plain SGD, each
batch size at the learning rate of the grid 0.01..1 that reaches the full training loss 0.2
in the fewest steps): the full batch gets there in the fewest steps (43, at rate 1.0), batch
32 in 79 (rate 1.0) and batch 1 in 1034 (rate 0.1; at 0.3 it diverges), but in epochs the
order reverses (43, 1.4 and 0.6). A full-batch step cost about 18 times a batch-32 step and
125 times a single-example step on a 2-core CPU, so batch 32 reached the target first in
wall time (about 10 ms, against 20 ms for batch 1 and 100 ms for the full batch). The noise
of the path goes the other way: at the same rate 0.1, the full-batch training loss never
rose from one step to the next and its path was nearly straight (efficiency
``|theta_T - theta_0| / sum_t |theta_{t+1} - theta_t|`` of 0.88), while with batch 32 and
batch 1 the loss rose on 40-45% of the steps and the efficiency fell to 0.11 and 0.04.

How: for each batch size, ONE compiled ``lax.scan`` of ``jaxdl.train.make_train_step``
(learning rate as a traced argument, so the whole grid reuses it) records, after every step,
the full training loss and the parameters' distance travelled; a second call of the same
program with recording switched off (``lax.cond``) is timed, compilation measured apart.

    python -m examples.batch_size [--quick] [--out DIR] [--steps 2000] [--target 0.2]

References:
  Robbins, Monro, "A Stochastic Approximation Method", 1951.
  Bottou, Curtis, Nocedal, "Optimization Methods for Large-Scale Machine Learning", 2018.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from examples._plotting import agg_figure
from jaxdl import data, nn, optim, train


class Config(NamedTuple):
    """Everything that defines a run."""

    batch_sizes: tuple[int | None, ...] = (None, 32, 1)  # None: the full batch
    learning_rates: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0)
    common_learning_rate: float = 0.1  # one of the grid, stable for every batch size
    steps: int = 2000  # the budget, the same for every batch size
    target: float = 0.2  # full training cross-entropy to reach
    hidden: int = 64
    timing_repeats: int = 3  # the median of these timed runs gives the time per step
    seed: int = 0


QUICK = {"steps": 400, "target": 0.5, "learning_rates": (0.1, 1.0), "timing_repeats": 1}


def make_model(config: Config) -> nn.Layer:
    return nn.serial(nn.Dense(config.hidden, w_init="he_normal"), nn.relu, nn.Dense(10))


def batch_indices(key: jax.Array, n: int, batch_size: int, steps: int) -> jax.Array:
    """``(steps, batch_size)`` example indices: epoch after epoch of shuffled batches (the
    last partial batch of each epoch dropped), as ``fit`` would draw them."""
    per_epoch = n // batch_size
    epochs = -(-steps // per_epoch)
    idx = [train.epoch_batches(jax.random.fold_in(key, e), n, batch_size, drop_last=True)[0]
           for e in range(epochs)]
    return jnp.concatenate(idx)[:steps].astype(jnp.int32)


def make_program(model: nn.Layer, x: jax.Array, y: jax.Array, batch_size: int | None):
    """The jitted ``(learning_rate, key, idx, record) -> records`` for one batch size.

    ``records`` holds, per step (after the update), the full training ``loss``, the
    parameters' distance from the start ``displacement`` and the length of the path walked
    so far ``path``; with ``record`` False they are zeros and only training runs.
    """
    evaluate = train.make_eval_step(model, "cross_entropy")

    def program(learning_rate, key, idx, record):
        optimizer = optim.sgd(learning_rate)
        step = train.make_train_step(model, "cross_entropy", optimizer)
        ts = train.init_state(model, optimizer, key, x.shape[1:])
        start = ts.params

        def measure(new, old, walked):
            moved = optim.global_norm(jax.tree.map(jnp.subtract, new.params, old.params))
            away = optim.global_norm(jax.tree.map(jnp.subtract, new.params, start))
            return evaluate(new, (x, y))["loss"], away, walked + moved

        def skip(new, old, walked):
            del new, old
            return jnp.zeros([], jnp.float32), jnp.zeros([], jnp.float32), walked

        def body(carry, i):
            ts, walked = carry
            batch = (x, y) if batch_size is None else (x[i], y[i])
            new, _ = step(ts, batch)
            loss, away, walked = jax.lax.cond(record, measure, skip, new, ts, walked)
            return (new, walked), {"loss": loss, "displacement": away, "path": walked}

        _, records = jax.lax.scan(body, (ts, jnp.zeros([], jnp.float32)), idx)
        return records

    return jax.jit(program)


def first_hit(curve: np.ndarray, target: float) -> int | None:
    """The number of steps after which ``curve`` is first ``<= target``; ``None``: never."""
    hits = np.flatnonzero(curve <= target)
    return int(hits[0]) + 1 if hits.size else None


def path_noise(records: dict[str, np.ndarray], steps: int) -> tuple[float, float]:
    """Over the first ``steps`` steps: the percentage of steps that raised the full training
    loss, and the path efficiency ``|theta_T - theta_0| / sum_t |theta_{t+1} - theta_t|``."""
    loss = records["loss"][:steps]
    rises = 100.0 * float(np.mean(np.diff(loss) > 0)) if steps > 1 else 0.0
    efficiency = float(records["displacement"][steps - 1] / records["path"][steps - 1])
    return rises, efficiency


def run_batch_size(config: Config, model: nn.Layer, x: jax.Array, y: jax.Array,
                   batch_size: int | None) -> dict[str, Any]:
    """Runs the learning-rate grid for one batch size, picks the fastest to the target, and
    times it. See ``run`` for the returned fields."""
    n = x.shape[0]
    key_init, key_order = jax.random.split(jax.random.key(config.seed))
    idx = (jnp.zeros((config.steps, 1), jnp.int32) if batch_size is None
           else batch_indices(key_order, n, batch_size, config.steps))
    program = make_program(model, x, y, batch_size)
    args = (jnp.asarray(config.learning_rates[0], jnp.float32), key_init, idx, jnp.asarray(True))
    start = time.perf_counter()
    compiled = program.lower(*args).compile()
    compile_seconds = time.perf_counter() - start
    curves = []
    for lr in config.learning_rates:
        records = compiled(jnp.asarray(lr, jnp.float32), key_init, idx, jnp.asarray(True))
        curves.append({k: np.asarray(v) for k, v in records.items()})
    hits = [first_hit(c["loss"], config.target) for c in curves]
    finals = [float(c["loss"][-1]) for c in curves]
    # The fastest learning rate to the target; if none gets there, the lowest final loss.
    best = min(range(len(hits)), key=lambda i: (hits[i] is None, hits[i] or 0,
                                                np.nan_to_num(finals[i], nan=np.inf)))
    lr = jnp.asarray(config.learning_rates[best], jnp.float32)
    times = []
    for _ in range(config.timing_repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(lr, key_init, idx, jnp.asarray(False)))
        times.append(time.perf_counter() - start)
    seconds_per_step = statistics.median(times) / config.steps
    steps = hits[best]
    rises, efficiency = path_noise(curves[best], steps or config.steps)
    common = curves[config.learning_rates.index(config.common_learning_rate)]
    common_rises, common_efficiency = path_noise(common, config.steps)
    size = n if batch_size is None else batch_size
    return {"batch_size": size, "learning_rate": config.learning_rates[best],
            "steps_to_target": steps,
            "epochs_to_target": None if steps is None else steps * size / n,
            "seconds_per_step": seconds_per_step,
            "seconds_to_target": None if steps is None else steps * seconds_per_step,
            "compile_seconds": compile_seconds, "loss_rises_percent": rises,
            "path_efficiency": efficiency, "final_loss": finals[best],
            "common_lr": {"loss_rises_percent": common_rises,
                          "path_efficiency": common_efficiency,
                          "final_loss": float(common["loss"][-1])},
            "loss_curve": curves[best]["loss"].tolist(),
            "steps_to_target_per_lr": dict(zip(config.learning_rates, hits))}


def run(config: Config, out: str | None = None) -> dict[str, Any]:
    """Trains the MLP on all of the digits with each batch size over the learning-rate grid.

    Args:
      config: the run's settings.
      out: a folder for ``batch_size.png`` (training loss against steps and against wall
        time); ``None``: no plot.

    Returns:
      ``rows``: one dict per batch size with ``batch_size``, the chosen ``learning_rate``,
      ``steps_to_target``, ``epochs_to_target``, ``seconds_per_step`` (median of the timed
      runs, compilation excluded), ``seconds_to_target`` (steps times seconds per step),
      ``compile_seconds``, ``loss_rises_percent`` and ``path_efficiency`` (up to the target,
      or over the budget when it is missed), ``final_loss``, ``loss_curve`` (the full
      training loss after each step), ``steps_to_target_per_lr``, and ``common_lr`` (the
      loss rises, path efficiency and final loss at ``common_learning_rate``, over all the
      steps); ``None`` marks a missed target. ``target``, ``steps``,
      ``common_learning_rate``; with ``out``, ``figure`` (the PNG path).
    """
    if config.steps < 2 or not config.batch_sizes:
        raise ValueError("batch_size: needs steps >= 2 and a batch size, got "
                         f"{config.steps} and {config.batch_sizes}")
    if config.common_learning_rate not in config.learning_rates:
        raise ValueError(f"batch_size: common_learning_rate {config.common_learning_rate} must "
                         f"be one of the learning rates {config.learning_rates}")
    X, y = data.digits()
    x, y = jnp.asarray(X), jnp.asarray(y)
    for b in config.batch_sizes:
        if b is not None and not 1 <= b <= x.shape[0]:
            raise ValueError(f"batch_size: batch sizes must be in [1, {x.shape[0]}] or None "
                             f"(the full batch), got {b}")
    model = make_model(config)
    rows = [run_batch_size(config, model, x, y, b) for b in config.batch_sizes]
    result = {"rows": rows, "target": config.target, "steps": config.steps,
              "common_learning_rate": config.common_learning_rate}
    if out is not None:
        result["figure"] = plot(result, os.path.join(out, "batch_size.png"))
    return result


def format_table(result: dict[str, Any]) -> str:
    """One line per batch size: learning rate, steps/epochs/milliseconds to the target, cost
    per step, compile time, and the path's noise."""

    def show(value, fmt):
        return f"{'miss':>{len(format(0, fmt))}}" if value is None else format(value, fmt)

    lines = [f"target: full training loss <= {result['target']}",
             "batch     lr  steps  epochs  ms/step  ms to target  compile s  "
             "loss rises %  path efficiency  final loss"]
    for r in result["rows"]:
        ms = None if r["seconds_to_target"] is None else 1e3 * r["seconds_to_target"]
        lines.append(
            f"{r['batch_size']:5d} {r['learning_rate']:6.2f} {show(r['steps_to_target'], '6d')} "
            f"{show(r['epochs_to_target'], '7.2f')} {1e3 * r['seconds_per_step']:8.4f} "
            f"{show(ms, '13.1f')} {r['compile_seconds']:10.2f} {r['loss_rises_percent']:13.1f} "
            f"{r['path_efficiency']:16.3f} {r['final_loss']:11.4f}")
    lines.append(f"the same learning rate {result['common_learning_rate']:g} for every batch "
                 f"size, over all {result['steps']} steps:")
    lines.append("batch  loss rises %  path efficiency  final loss")
    for r in result["rows"]:
        c = r["common_lr"]
        lines.append(f"{r['batch_size']:5d} {c['loss_rises_percent']:13.1f} "
                     f"{c['path_efficiency']:16.3f} {c['final_loss']:11.4f}")
    return "\n".join(lines)


def plot(result: dict[str, Any], path: str) -> str:
    """Saves the full training loss against steps and against wall time as a PNG."""
    fig = agg_figure("the batch_size plot", (10, 3.8))
    by_steps, by_time = fig.subplots(1, 2)
    for r in result["rows"]:
        curve = np.asarray(r["loss_curve"])
        steps = np.arange(1, curve.size + 1)
        label = f"batch {r['batch_size']} (lr {r['learning_rate']:g})"
        by_steps.plot(steps, curve, lw=0.8, label=label)
        by_time.plot(1e3 * steps * r["seconds_per_step"], curve, lw=0.8, label=label)
    for ax, xlabel in ((by_steps, "steps"), (by_time, "wall time, ms (compile excluded)")):
        ax.axhline(result["target"], color="gray", ls=":", label="target")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("full training loss")
        ax.legend(fontsize=8)
    fig.suptitle("digits MLP, plain SGD: full batch vs minibatch vs single example")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


def main(argv: list[str] | None = None) -> dict[str, Any]:
    defaults = Config()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK['steps']} steps, target {QUICK['target']}, learning rates "
                        f"{QUICK['learning_rates']} (the smoke test)")
    parser.add_argument("--out", metavar="DIR", help="save the loss curves here")
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--target", type=float, default=defaults.target)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    config = Config(steps=args.steps, target=args.target, seed=args.seed)
    if args.quick:
        config = config._replace(**QUICK)
    result = run(config, args.out)
    print(format_table(result))
    print("steps to the target per learning rate: " + "; ".join(
        f"batch {r['batch_size']}: " + ", ".join(f"{lr:g}->{s if s else 'miss'}" for lr, s in
                                                 r["steps_to_target_per_lr"].items())
        for r in result["rows"]))
    print(f"on {jax.devices()[0].platform}")
    if "figure" in result:
        print(f"saved {result['figure']}")
    return result


if __name__ == "__main__":
    main()
