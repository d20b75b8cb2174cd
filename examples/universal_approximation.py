"""One hidden layer fits sin, |x| and a step on [-pi, pi]: the test error falls with the width.

The lesson (the universal approximation theorem): a network with ONE hidden layer of a
non-polynomial activation, ``g(x) = sum_j v_j act(w_j x + b_j) + c``, approximates any
continuous function on an interval as closely as we like, given enough hidden units. Each
unit contributes one bump, ramp or kink at ``x = -b_j / w_j``; more units, finer pieces.

What it shows in numbers (full run: best of 4 seeds, 3000 full-batch Adam steps, test MSE on
a 2000-point grid): one unit cannot bend into a sine (MSE 0.06 with sigmoid or tanh, 0.16
with ReLU) while 64 units fit it to 2e-7 (sigmoid), 5e-7 (tanh) and 6e-6 (ReLU), the error
falling roughly like width^-2.3 to width^-4. ReLU builds ``|x| = relu(x) + relu(-x)`` from
two units (6e-5 at width 2, 2e-6 to 6e-6 from width 4 on), where the smooth activations
only approach the kink (1.6e-4 and 4e-5 at width 64). The step, which is not continuous,
barely improves with width (sigmoid 6e-3 to 3e-3, tanh 3e-3 to 1.2e-3, ReLU 1.3e-3 from
width 2 on): one sigmoid or tanh unit already is a soft step and two ReLUs make a
ramp-step, and what is left is the steepness of the transition, which needs ever larger
weights (Adam moves a weight by about the learning rate per step), not more units. Sigmoid
and tanh behave alike (``tanh(z) = 2 sigmoid(2z) - 1``). The test grid leaves out the one
interval of the training grid that holds the step's jump: no training point says where in
it the jump is.

How: for each activation, ONE compiled program trains every (width, function, seed) run at
once (``jax.vmap`` over ``lax.scan`` of ``jaxdl.train.make_train_step``). The widths share
the program because a width-``k`` network is the widest network with units ``k..`` switched
off by a 0/1 mask held in the model's (non-trainable) state: a switched-off unit outputs 0,
so it gets no gradient and never moves.

    python -m examples.universal_approximation [--quick] [--out DIR] [--steps 3000]

References:
  Cybenko, "Approximation by Superpositions of a Sigmoidal Function", 1989.
  Hornik, "Approximation Capabilities of Multilayer Feedforward Networks", 1991.
  Leshno, Lin, Pinkus, Schocken, "Multilayer Feedforward Networks with a Nonpolynomial
  Activation Function Can Approximate Any Function", 1993.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from examples._plotting import agg_figure
from jaxdl import init, nn, optim, train


def _step(x: jax.Array) -> jax.Array:
    return (x > 0).astype(x.dtype)


TARGETS: dict[str, Callable[[jax.Array], jax.Array]] = {"sin": jnp.sin, "abs": jnp.abs,
                                                       "step": _step}
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "sigmoid": nn.sigmoid, "tanh": nn.tanh, "relu": nn.relu}


class Config(NamedTuple):
    """Everything that defines a run."""

    widths: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    activations: tuple[str, ...] = ("sigmoid", "tanh", "relu")
    functions: tuple[str, ...] = ("sin", "abs", "step")
    num_train: int = 256  # an even grid on [-pi, pi]: the step's jump lies between two points
    num_test: int = 2000
    steps: int = 3000  # full-batch Adam steps
    learning_rate: float = 1e-2  # cosine-decayed to 1% over the steps
    seeds: int = 4  # restarts per (width, function); the table reports the best
    seed: int = 0


QUICK = {"steps": 600, "seeds": 2, "widths": (1, 4, 16, 64), "activations": ("tanh", "relu")}


def unit_mask() -> nn.Layer:
    """Multiplies hidden unit ``j`` by ``state["on"][j]`` (0 or 1): switched-off units are gone.

    The mask is model state (non-trainable), all ones after ``init``; a run sets it to
    ``arange(W) < k`` to be a width-``k`` network inside the width-``W`` program.
    """

    def init_fn(key, input_shape):
        del key
        return tuple(input_shape), {}, {"on": jnp.ones(input_shape[-1:], jnp.float32)}

    def apply(params, state, x, *, key=None, train=False):
        del params, key, train
        on = state["on"].astype(x.dtype).reshape((1,) * (x.ndim - 1) + (-1,))
        return x * on, state

    return nn.Layer(init_fn, apply, "unit_mask")


def make_model(activation: str, max_width: int) -> nn.Layer:
    """``x -> Dense(max_width) -> activation -> unit mask -> Dense(1)``.

    Hidden biases are uniform on ``[-pi, pi]`` so the units' transitions ``-b/w`` start spread
    over the interval; the output layer starts at zero, so the initial distribution of a
    width-``k`` run does not depend on ``max_width``.
    """
    w_init = "he_normal" if activation == "relu" else "lecun_normal"
    return nn.serial(nn.Dense(max_width, w_init=w_init, b_init=init.uniform(math.pi)),
                     ACTIVATIONS[activation], unit_mask(), nn.Dense(1, w_init="zeros"))


def grids(config: Config) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Training inputs, test inputs, and the test weights (0 inside the training interval
    around 0 that holds the step's jump: no data says where in it the jump is)."""
    x = jnp.linspace(-math.pi, math.pi, config.num_train, dtype=jnp.float32)[:, None]
    x_test = jnp.linspace(-math.pi, math.pi, config.num_test, dtype=jnp.float32)[:, None]
    half_gap = math.pi / (config.num_train - 1)
    weight = (jnp.abs(x_test[:, 0]) >= half_gap).astype(jnp.float32)
    return x, x_test, weight


def fit_all(config: Config, activation: str) -> tuple[np.ndarray, np.ndarray, float]:
    """Trains every (width, function, seed) run of one activation as one compiled program.

    Returns:
      ``(test_mse, predictions, seconds)``: test MSE of shape ``(widths, functions, seeds)``,
      predictions on the test grid ``(widths, functions, seeds, num_test)``, and the wall
      time of the call (compilation included).
    """
    x, x_test, weight = grids(config)
    max_width = max(config.widths)
    model = make_model(activation, max_width)
    optimizer = optim.adam(optim.cosine_decay_schedule(config.learning_rate, config.steps,
                                                       alpha=0.01))
    step = train.make_train_step(model, "mse", optimizer)
    targets = [TARGETS[f] for f in config.functions]

    def one_run(width, fn_index, key):
        ts = train.init_state(model, optimizer, key, (1,))
        on = (jnp.arange(max_width) < width).astype(jnp.float32)
        ts = ts._replace(model_state=jax.tree.map(lambda _: on, ts.model_state))
        y = jax.lax.switch(fn_index, targets, x)
        y_test = jax.lax.switch(fn_index, targets, x_test)

        def body(ts, _):
            return step(ts, (x, y))[0], None

        ts, _ = jax.lax.scan(body, ts, None, length=config.steps)
        pred, _ = model.apply(ts.params, ts.model_state, x_test)
        mse = jnp.sum(weight * jnp.square(pred - y_test)[:, 0]) / jnp.sum(weight)
        return mse, pred[:, 0]

    runs = jax.vmap(one_run, (None, None, 0))  # seeds
    runs = jax.vmap(runs, (None, 0, None))  # functions
    runs = jax.jit(jax.vmap(runs, (0, None, None)))  # widths
    keys = jax.random.split(jax.random.key(config.seed), config.seeds)
    start = time.perf_counter()
    mse, pred = runs(jnp.asarray(config.widths, jnp.int32),
                     jnp.arange(len(config.functions), dtype=jnp.int32), keys)
    mse, pred = np.asarray(mse), np.asarray(pred)
    return mse, pred, time.perf_counter() - start


def power_law_exponent(widths: tuple[int, ...], errors: np.ndarray) -> float:
    """Least-squares slope ``p`` of ``log error = p log width + c`` over widths >= 2."""
    w = np.asarray(widths, np.float64)
    keep = w >= 2
    return float(np.polyfit(np.log(w[keep]), np.log(np.asarray(errors)[keep]), 1)[0])


def run(config: Config, out: str | None = None) -> dict[str, Any]:
    """Trains all runs and collects the test errors.

    Args:
      config: the run's settings.
      out: a folder for ``universal_approximation_fits.png`` (fits over the targets) and
        ``universal_approximation_error.png`` (error against width, log-log); ``None``: no plots.

    Returns:
      ``best_mse[activation][function]`` and ``median_mse[...]``: lists over ``widths`` of the
      best and the median test MSE over seeds; ``exponent[activation][function]``: the fitted
      power of the width; ``seconds[activation]``; ``widths``, ``functions``; with ``out``,
      ``figures`` (the PNG paths).
    """
    _check(config)
    best, median, exponent, seconds, fits = {}, {}, {}, {}, {}
    for activation in config.activations:
        mse, pred, seconds[activation] = fit_all(config, activation)
        best[activation], median[activation], exponent[activation] = {}, {}, {}
        fits[activation] = {}
        for f, name in enumerate(config.functions):
            best[activation][name] = mse[:, f].min(axis=1).tolist()
            median[activation][name] = np.median(mse[:, f], axis=1).tolist()
            exponent[activation][name] = power_law_exponent(config.widths,
                                                            best[activation][name])
            fits[activation][name] = pred[np.arange(len(config.widths)), f,
                                          mse[:, f].argmin(axis=1)]
    result = {"widths": list(config.widths), "functions": list(config.functions),
              "best_mse": best, "median_mse": median, "exponent": exponent,
              "seconds": seconds}
    if out is not None:
        result["figures"] = plot(config, result, fits, out)
    return result


def _check(config: Config) -> None:
    for name, known, chosen in (("activations", ACTIVATIONS, config.activations),
                                ("functions", TARGETS, config.functions)):
        unknown = [c for c in chosen if c not in known]
        if unknown or not chosen:
            raise ValueError(f"universal_approximation: unknown or no {name} {unknown}; "
                             f"choose from {sorted(known)}")
    if not config.widths or any(int(w) < 1 for w in config.widths):
        raise ValueError(f"universal_approximation: widths must be positive, got {config.widths}")


def format_table(result: dict[str, Any]) -> str:
    """Best test MSE per width (rows) and activation/function (columns), and the fitted
    exponent ``p`` of ``error ~ width^p``."""
    columns = [(a, f) for a in result["best_mse"] for f in result["functions"]]
    head = "width " + " ".join(f"{a[:4] + ' ' + f:>12}" for a, f in columns)
    lines = [head]
    for i, width in enumerate(result["widths"]):
        lines.append(f"{width:5d} " + " ".join(f"{result['best_mse'][a][f][i]:12.2e}"
                                               for a, f in columns))
    lines.append("    p " + " ".join(f"{result['exponent'][a][f]:12.2f}" for a, f in columns))
    return "\n".join(lines)


def _figure(rows: int, cols: int, size: tuple[float, float]):
    """A matplotlib figure on the Agg canvas (no pyplot, no global backend switch)."""
    fig = agg_figure("the universal_approximation plots", size)
    return fig, fig.subplots(rows, cols, squeeze=False)


def plot(config: Config, result: dict[str, Any], fits: dict, out: str) -> list[str]:
    """Saves the fits over the targets and the error against width as two PNGs."""
    os.makedirs(out, exist_ok=True)
    _, x_test, _ = grids(config)
    xs = np.asarray(x_test[:, 0])
    acts, fns = list(result["best_mse"]), result["functions"]
    shown = sorted({0, len(config.widths) // 3, 2 * len(config.widths) // 3,
                    len(config.widths) - 1})
    fig, axes = _figure(len(acts), len(fns), (3.2 * len(fns), 2.6 * len(acts)))
    for r, a in enumerate(acts):
        for c, f in enumerate(fns):
            ax = axes[r][c]
            ax.plot(xs, np.asarray(TARGETS[f](x_test))[:, 0], "k", lw=2.5, alpha=0.35,
                    label="target")
            for i in shown:
                ax.plot(xs, fits[a][f][i], lw=1, label=f"width {config.widths[i]}")
            ax.set_title(f"{a}: {f}")
    axes[0][0].legend(fontsize=7)
    fits_path = os.path.join(out, "universal_approximation_fits.png")
    fig.savefig(fits_path, dpi=110)
    fig, axes = _figure(1, len(fns), (3.4 * len(fns), 3.0))
    for c, f in enumerate(fns):
        ax = axes[0][c]
        for a in acts:
            ax.loglog(result["widths"], result["best_mse"][a][f], "o-",
                      label=f"{a} (p={result['exponent'][a][f]:.1f})")
        ax.set_xlabel("hidden units")
        ax.set_ylabel("test MSE (best of seeds)")
        ax.set_title(f)
        ax.legend(fontsize=7)
    error_path = os.path.join(out, "universal_approximation_error.png")
    fig.savefig(error_path, dpi=110)
    return [fits_path, error_path]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    defaults = Config()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK['steps']} steps, widths {QUICK['widths']}, tanh and ReLU "
                        "(the smoke test)")
    parser.add_argument("--out", metavar="DIR", help="save the two figures here")
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--seeds", type=int, default=defaults.seeds)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    config = Config(steps=args.steps, learning_rate=args.learning_rate, seeds=args.seeds,
                    seed=args.seed)
    if args.quick:
        config = config._replace(**QUICK)
    result = run(config, args.out)
    print(format_table(result))
    print("test MSE, best of {} seeds after {} full-batch Adam steps; {}".format(
        config.seeds, config.steps, ", ".join(f"{a} {s:.1f} s" for a, s in
                                              result["seconds"].items())))
    for path in result.get("figures", []):
        print(f"saved {path}")
    return result


if __name__ == "__main__":
    main()
