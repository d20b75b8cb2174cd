"""Bias and variance of small and large networks, and what bagging gains, by the bootstrap.

The lesson (lecture notes on the bias-variance trade-off, bootstrapping and bagging): the
expected squared error of a trained model splits into bias^2 (how far its average
prediction is from the truth) and variance (how much it changes with the training sample).
A small network cannot follow a sine: high bias, low variance. A large one trained long on
a few noisy points follows the noise: low bias, high variance. Bagging trains one model per
bootstrap resample and averages them: the average keeps the bias and removes most of the
variance, so it helps the large, high-variance models most.

Setup: 30 noisy points of ``sin(x)`` on [0, 2 pi] (noise std 0.3); one hidden tanh layer
whose width is swept; 20 bootstrap replicas per width (``sweep.bagging``, every width and
replica as ONE compiled program). bias^2, variance and the members' error are measured
against the noise-free sine on a grid (``sweep.bias_variance``); the ensemble is
``sweep.ensemble_predict``. Full run, as the table prints it: width 1 cannot even fit its
training points (loss 0.136, above the noise variance 0.09) and its average misses the sine
(bias^2 0.086, variance 0.024); from width 2 on the networks fit part of the noise (training
loss 0.058-0.076), bias^2 drops to 0.027-0.031 and the variance rises to 0.06-0.16. Bagging
removes the variance: 22% of a width-1 member's error, 65-83% of the wider ones'.

How the width is one axis of a vmapped sweep: every network has ``max(widths)`` hidden
units, and a width-``w`` network multiplies the outputs of the units ``>= w`` by 0 (they get
no gradient and change nothing): a network of width ``w``, with the same parameter shapes
for every width (only its output layer starts from the smaller weights of a
``max(widths)``-wide layer).

    python -m examples.bias_variance [--quick] [--out DIR] [--replicas 20]

References:
  Geman, Bienenstock, Doursat, "Neural Networks and the Bias/Variance Dilemma", Neural
  Computation 1992. Breiman, "Bagging Predictors", Machine Learning 1996. Efron, Tibshirani,
  "An Introduction to the Bootstrap", 1993.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from examples._plotting import agg_figure
from jaxdl import data, nn, optim, sweep


class Config(NamedTuple):
    """Everything that defines a run."""

    n: int = 30  # training points
    noise: float = 0.3  # std of the target noise
    widths: tuple[int, ...] = (1, 2, 4, 8, 32, 128)
    replicas: int = 20  # bootstrap replicas (bagged models) per width
    steps: int = 3000  # full-batch Adam steps: long enough for the wide networks to overfit
    learning_rate: float = 1e-2
    grid: int = 200  # test points on [0, 2 pi]
    seed: int = 0  # the data and the bootstrap resamples


QUICK = {"replicas": 10, "widths": (1, 8, 128)}


def width_mask(widths: tuple[int, ...], width: Any) -> nn.Layer:
    """Multiplies hidden unit ``j`` by ``[j < width]``; ``width`` may be traced."""
    keep = (jnp.arange(max(widths), dtype=jnp.float32) < width).astype(jnp.float32)
    return nn.elementwise(lambda h: h * jnp.broadcast_to(keep, h.shape), name="width_mask")


def make_model(config: Config, width: Any) -> nn.Layer:
    """``x -> tanh(x W1 + b1) * mask(width) -> W2 + b2`` with ``max(widths)`` hidden units."""
    return nn.serial(nn.Dense(max(config.widths), w_init="xavier_normal"), nn.tanh,
                     width_mask(config.widths, width), nn.Dense(1))


def run(config: Config, out: str | None = None) -> dict[str, Any]:
    """Bags every width, decomposes the members' error, and plots.

    Returns:
      ``rows``: per width ``bias2``, ``variance``, ``error`` (mean squared error of a single
      member against the noise-free sine), ``ensemble_error`` (of the bagged average, from
      ``ensemble_predict``), ``gain`` (``error - ensemble_error``) and ``train_loss`` (the
      members' median training loss); ``x``, ``y`` (the data), ``grid``, ``truth``,
      ``members`` and ``ensemble`` (predictions per width), ``seconds``,
      ``compile_seconds``, ``config`` and, with ``out``, ``figure``.
    """
    x, y = data.sine(jax.random.key(config.seed), config.n, noise=config.noise)
    grid = jnp.linspace(0.0, 2 * math.pi, config.grid, dtype=jnp.float32)[:, None]
    truth = jnp.sin(grid)
    start = time.perf_counter()
    result = sweep.bagging(lambda width: make_model(config, width),
                           optim.adam(config.learning_rate), (x, y), replicas=config.replicas,
                           bootstrap_seed=config.seed, steps=config.steps, batch_size=None,
                           loss="mse", hyperparameters={"width": list(config.widths)},
                           eval_every=config.steps)
    seconds = time.perf_counter() - start
    rows, members, ensembles = [], {}, {}
    for i, width in enumerate(config.widths):
        model, bag = make_model(config, width), result.sel(width=width)
        predictions = sweep.member_predictions(model, bag, grid)  # (replicas, grid, 1)
        ensemble = sweep.ensemble_predict(model, bag, grid)
        split = {k: float(v) for k, v in sweep.bias_variance(predictions, truth).items()}
        ensemble_error = float(jnp.mean((ensemble - truth) ** 2))
        rows.append({"width": width, "bias2": split["bias2"], "variance": split["variance"],
                     "error": split["error"], "ensemble_error": ensemble_error,
                     "gain": split["error"] - ensemble_error,
                     "train_loss": float(np.median(result.final["train_loss"][i]))})
        members[width], ensembles[width] = np.asarray(predictions), np.asarray(ensemble)
    found = {"rows": rows, "x": np.asarray(x), "y": np.asarray(y), "grid": np.asarray(grid),
             "truth": np.asarray(truth), "members": members, "ensemble": ensembles,
             "seconds": seconds, "compile_seconds": result.compile_seconds, "config": config}
    if out is not None:
        found["figure"] = plot(found, os.path.join(out, "bias_variance.png"))
    return found


def format_table(result: dict[str, Any]) -> str:
    config = result["config"]
    lines = [f"{config.replicas} bootstrap replicas of {config.n} noisy sine points (noise std "
             f"{config.noise}); errors against the noise-free sine",
             f"{'width':>5s}  {'bias^2':>7s}  {'variance':>8s}  {'member error':>12s}  "
             f"{'bagged error':>12s}  {'bagging gain':>12s}  {'train loss':>10s}"]
    for r in result["rows"]:
        lines.append(f"{r['width']:5d}  {r['bias2']:7.4f}  {r['variance']:8.4f}  "
                     f"{r['error']:12.4f}  {r['ensemble_error']:12.4f}  {r['gain']:12.4f}  "
                     f"{r['train_loss']:10.4f}")
    return "\n".join(lines)


def plot(result: dict[str, Any], path: str) -> str:
    """Members and ensemble of the smallest and largest width, and bias^2/variance vs
    width."""
    config = result["config"]
    fig = agg_figure("the bias_variance figure", (13, 3.8))
    axes = fig.subplots(1, 3)
    grid = result["grid"][:, 0]
    for ax, width in zip(axes[:2], (config.widths[0], config.widths[-1])):
        for k, member in enumerate(result["members"][width]):
            ax.plot(grid, member[:, 0], color="C0", alpha=0.25, lw=0.8,
                    label="bootstrap members" if k == 0 else None)
        ax.plot(grid, result["ensemble"][width][:, 0], color="C3", lw=2, label="bagged average")
        ax.plot(grid, result["truth"][:, 0], color="k", ls="--", lw=1, label="sin(x)")
        ax.scatter(result["x"][:, 0], result["y"][:, 0], s=10, color="k", zorder=3)
        ax.set_ylim(-2, 2)
        ax.set_title(f"width {width}")
        ax.set_xlabel("x")
    axes[0].legend(fontsize=7, loc="lower left")
    rows = result["rows"]
    widths = [r["width"] for r in rows]
    for key, label in (("bias2", "bias^2"), ("variance", "variance"),
                       ("error", "member error"), ("ensemble_error", "bagged error")):
        axes[2].plot(widths, [r[key] for r in rows], marker="o", label=label)
    axes[2].set_xscale("log", base=2)
    axes[2].set_xlabel("hidden units")
    axes[2].set_ylabel("squared error vs sin(x)")
    axes[2].legend(fontsize=7)
    axes[2].set_title("bias-variance trade-off")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def main(argv: list[str] | None = None) -> dict[str, Any]:
    defaults = Config()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK['replicas']} replicas, widths "
                        f"{QUICK['widths']} (the smoke test)")
    parser.add_argument("--out", metavar="DIR", help="save the figure here")
    parser.add_argument("--replicas", type=int, default=defaults.replicas)
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--noise", type=float, default=defaults.noise)
    args = parser.parse_args(argv)
    config = Config(replicas=args.replicas, steps=args.steps, noise=args.noise)
    if args.quick:
        config = config._replace(**QUICK)
    result = run(config, args.out)
    print(format_table(result))
    print(f"{len(config.widths) * config.replicas} trainings as one sweep: "
          f"{result['seconds']:.1f} s ({result['compile_seconds']:.1f} s compiling) on "
          f"{jax.devices()[0].platform}")
    if "figure" in result:
        print(f"saved {result['figure']}")
    return result


if __name__ == "__main__":
    main()
