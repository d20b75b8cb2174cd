"""Sigmoid, tanh, ReLU, leaky ReLU, ELU and maxout in a deep network: gradients and speed.

The lesson (lecture notes on back-propagation and activation functions): back-propagation
multiplies the gradient by every layer's activation slope on its way to the first layer.
The sigmoid's slope is at most 1/4, so in a deep sigmoid network the gradient vanishes
toward the input and the first layers barely learn; tanh (slope 1 at 0), ReLU (slope 1 for
positive inputs), leaky ReLU, ELU and maxout pass it through.

Setup: 8 hidden layers of 64 units on the standardised digits, every network initialised
alike (LeCun normal, ``Dense``'s default) and trained alike (SGD with momentum 0.9, learning
rate 0.01). Full run (8 seeds, 1000 steps), as the table prints it: the first hidden layer's
gradient norm is 8e-5 of the last hidden layer's for sigmoid (1.2e-5 against 0.14, falling
~4x per layer) and 0.37-1.06 for all the others. The sigmoid network is still at chance
(0.100) after 1000 steps; tanh, ELU and maxout pass 90% validation accuracy in 60 steps,
ReLU and leaky ReLU in 190-200 (from LeCun's weights their activations shrink with depth,
the initialisation lesson of ``examples/init_sweep.py``), and all five end at 0.967-0.977.

How: every hidden layer holds the parameters of ``nn.Maxout(64, pieces=2)``; maxout takes
the max of its two affine pieces, the other activations apply ``f`` to the first piece (the
second then gets no gradient). The activation is an index into the six, a model
hyperparameter chosen by ``lax.switch``, so all six x seeds train as ONE ``sweep.run``; the
gradient norms at initialisation (``jaxdl.diagnostics.gradient_stats``) of every activation
and seed are one compiled program too.

    python -m examples.activations [--quick] [--out DIR] [--seeds 8] [--steps 1000]

References:
  Glorot, Bengio, "Understanding the difficulty of training deep feedforward neural
  networks", AISTATS 2010. Nair, Hinton, "Rectified Linear Units Improve Restricted
  Boltzmann Machines", ICML 2010. Maas, Hannun, Ng, "Rectifier Nonlinearities Improve Neural
  Network Acoustic Models", ICML 2013. Clevert, Unterthiner, Hochreiter, "Fast and Accurate
  Deep Network Learning by Exponential Linear Units (ELUs)", ICLR 2016. Goodfellow et al.,
  "Maxout Networks", ICML 2013.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from examples._plotting import agg_figure
from jaxdl import data, diagnostics, nn, optim, sweep

ELEMENTWISE = {"sigmoid": nn.sigmoid, "tanh": nn.tanh, "relu": nn.relu,
               "leaky_relu": nn.leaky_relu, "elu": nn.elu}
ACTIVATIONS = (*ELEMENTWISE, "maxout")


class Config(NamedTuple):
    """Everything that defines a run."""

    activations: tuple[str, ...] = ACTIVATIONS
    width: int = 64
    depth: int = 8  # hidden layers
    w_init: str = "lecun_normal"  # the same for every activation
    seeds: int = 8
    steps: int = 1000
    batch_size: int = 64
    learning_rate: float = 0.01  # SGD with momentum (maxout diverges at 0.05)
    momentum: float = 0.9
    eval_every: int = 20
    target: float = 0.9  # validation accuracy that counts as "trained"
    probe_examples: int = 512  # training digits the gradient norms are measured on
    seed: int = 0  # the train/validation split


QUICK = {"seeds": 2, "steps": 200, "eval_every": 40}


def hidden_layer(config: Config, index: Any) -> nn.Layer:
    """One hidden layer with the params of ``nn.Maxout(width, 2)`` and the activation
    ``config.activations[index]`` (``index`` may be traced: a swept hyperparameter).

    Maxout: ``max(x W_1 + b_1, x W_2 + b_2)``; any other activation: ``f(x W_1 + b_1)``.
    """
    maxout = nn.Maxout(config.width, 2, w_init=config.w_init)
    i = jnp.asarray(index).astype(jnp.int32)

    def apply(params, state, x, *, key=None, train=False):
        del key, train
        first = nn.Dense(config.width).apply({"w": params["w"][0], "b": params["b"][0]}, {},
                                             x)[0]

        def branch(name):
            if name == "maxout":
                return lambda: maxout.apply(params, state, x)[0]
            fn = ELEMENTWISE[name]
            return lambda: fn(first)

        return jax.lax.switch(i, [branch(name) for name in config.activations]), state

    return nn.Layer(maxout.init, apply, "hidden")


def make_model(config: Config, activation: Any) -> nn.Layer:
    """``depth`` hidden layers of ``width`` units, then ``Dense(10)``."""
    return nn.serial(*[hidden_layer(config, activation) for _ in range(config.depth)],
                     nn.Dense(10, w_init=config.w_init))


def load(config: Config) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """Digits split 70/30 (stratified), standardised with the training statistics."""
    X, y = data.digits()
    (xt, yt), (xv, yv) = data.split(X, y, (0.7, 0.3), key=jax.random.key(config.seed),
                                    stratify=True)
    _, xt, xv = data.standardize(xt, xv)
    return (xt, yt), (xv, yv)


def gradient_norms(config: Config, x: jax.Array, y: jax.Array) -> dict[str, np.ndarray]:
    """Per-layer weight-gradient norms at initialisation, ``{layer: (activations, seeds)}``.

    ``diagnostics.gradient_stats`` for every (activation, seed), in one compiled program:
    a ``lax.map`` over the pairs, which compiles the model once (a ``vmap`` would batch it,
    and takes twice as long to compile on a CPU).
    """

    def one(pair):
        index, seed = pair
        model = make_model(config, index)
        _, params, state = model.init(jax.random.key(seed), (x.shape[-1],))
        return diagnostics.gradient_stats(model, params, state, (x, y)).norms

    shape = (len(config.activations), config.seeds)
    index, seeds = (a.reshape(-1) for a in jnp.indices(shape, dtype=jnp.int32))
    norms = jax.jit(lambda pairs: jax.lax.map(one, pairs))((index, seeds))
    return {name: np.asarray(v).reshape(shape) for name, v in norms.items()}


def steps_to(curves: np.ndarray, eval_steps: np.ndarray, target: float) -> np.ndarray:
    """The first evaluated step with ``curve >= target``, ``inf`` where none reached it."""
    hit = curves >= target
    first = eval_steps[np.argmax(hit, axis=-1)].astype(np.float64)
    return np.where(hit.any(axis=-1), first, np.inf)


def run(config: Config, out: str | None = None) -> dict[str, Any]:
    """Measures the gradient norms at initialisation, trains every activation x seed as one
    sweep, and plots.

    Returns:
      ``rows``: one dict per activation with ``grad_ratio`` (first/last hidden layer gradient
      norm, median over seeds), ``norms`` (median per layer), ``accuracy`` (final validation
      accuracy: ``median``, ``q25``, ``q75``), ``steps_to_target`` (median over seeds, ``inf``
      when most seeds never reach it) and ``curve`` (median validation accuracy per
      evaluation); ``eval_steps``, ``seconds``, ``compile_seconds``, ``config`` and, with
      ``out``, ``figure``.
    """
    (xt, yt), (xv, yv) = load(config)
    norms = gradient_norms(config, jnp.asarray(xt[:config.probe_examples]),
                           jnp.asarray(yt[:config.probe_examples]))
    hidden = [name for name in norms if name.startswith("hidden")]
    ratio = norms[hidden[0]] / norms[hidden[-1]]  # (activations, seeds)
    start = time.perf_counter()
    result = sweep.run(
        lambda activation: make_model(config, activation),
        optim.sgd(config.learning_rate, momentum=config.momentum), (xt, yt),
        validation=(xv, yv), steps=config.steps, batch_size=config.batch_size,
        seeds=config.seeds, hyperparameters={"activation": list(range(len(config.activations)))},
        eval_every=config.eval_every)
    seconds = time.perf_counter() - start
    curves = result.curves["val_accuracy"]  # (activations, seeds, evaluations)
    reached = steps_to(curves, result.eval_steps, config.target)
    q25, median, q75 = np.percentile(result.final["val_accuracy"], [25, 50, 75], axis=-1)
    rows = []
    for a, name in enumerate(config.activations):
        rows.append({"activation": name, "grad_ratio": float(np.median(ratio[a])),
                     "norms": {k: float(np.median(v[a])) for k, v in norms.items()},
                     "accuracy": {"median": float(median[a]), "q25": float(q25[a]),
                                  "q75": float(q75[a])},
                     "steps_to_target": float(np.median(reached[a])),
                     "curve": np.median(curves[a], axis=0)})
    found = {"rows": rows, "eval_steps": result.eval_steps, "seconds": seconds,
             "compile_seconds": result.compile_seconds, "config": config}
    if out is not None:
        found["figure"] = plot(found, os.path.join(out, "activations.png"))
    return found


def format_table(result: dict[str, Any]) -> str:
    config = result["config"]
    lines = [f"{config.depth} hidden layers of {config.width}, {config.w_init} init, SGD "
             f"momentum {config.momentum} lr {config.learning_rate}; medians over "
             f"{config.seeds} seeds",
             f"{'activation':10s}  {'grad first/last':>15s}  {'||g|| first':>11s}  "
             f"{'||g|| last':>10s}  {f'steps to {config.target:.2f}':>13s}  "
             f"val accuracy at {config.steps} [q25, q75]"]
    for row in result["rows"]:
        hidden = [v for k, v in row["norms"].items() if k.startswith("hidden")]
        acc = row["accuracy"]
        steps = "never" if not np.isfinite(row["steps_to_target"]) else \
            f"{row['steps_to_target']:.0f}"
        lines.append(f"{row['activation']:10s}  {row['grad_ratio']:15.3g}  {hidden[0]:11.3g}  "
                     f"{hidden[-1]:10.3g}  {steps:>13s}  {acc['median']:.3f} "
                     f"[{acc['q25']:.3f}, {acc['q75']:.3f}]")
    return "\n".join(lines)


def plot(result: dict[str, Any], path: str) -> str:
    """Gradient norm per layer (log scale) and the validation curves, side by side."""
    config = result["config"]
    fig = agg_figure("the activations figure", (11, 4))
    grads, curves = fig.subplots(1, 2)
    for row in result["rows"]:
        layers = list(row["norms"])
        grads.plot(np.arange(len(layers)), list(row["norms"].values()), marker="o",
                   label=row["activation"])
        curves.plot(result["eval_steps"], row["curve"], label=row["activation"])
    grads.set_xticks(np.arange(len(layers)), [k.replace("_", " ") for k in layers],
                     rotation=45, fontsize=7)
    grads.set_yscale("log")
    grads.set_ylabel("||dL/dW|| at initialisation")
    grads.set_title("gradient norm per layer (input on the left)")
    grads.legend(fontsize=7)
    curves.axhline(config.target, color="gray", ls=":")
    curves.set_xlabel("step")
    curves.set_ylabel("validation accuracy")
    curves.set_title(f"training speed (median of {config.seeds} seeds)")
    fig.suptitle(f"{config.depth}-layer network on the digits: the activation decides whether "
                 "the gradient reaches the first layers")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def main(argv: list[str] | None = None) -> dict[str, Any]:
    defaults = Config()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK['seeds']} seeds, {QUICK['steps']} steps (the smoke test)")
    parser.add_argument("--out", metavar="DIR", help="save the figure here")
    parser.add_argument("--seeds", type=int, default=defaults.seeds)
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--w-init", default=defaults.w_init, help="a jaxdl.init name")
    args = parser.parse_args(argv)
    config = Config(seeds=args.seeds, steps=args.steps, learning_rate=args.learning_rate,
                    w_init=args.w_init)
    if args.quick:
        config = config._replace(**QUICK)
    result = run(config, args.out)
    print(format_table(result))
    print(f"{len(config.activations) * config.seeds} trainings as one sweep: "
          f"{result['seconds']:.1f} s ({result['compile_seconds']:.1f} s compiling) on "
          f"{jax.devices()[0].platform}")
    if "figure" in result:
        print(f"saved {result['figure']}")
    return result


if __name__ == "__main__":
    main()
