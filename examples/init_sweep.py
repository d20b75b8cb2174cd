"""Initialisation schemes x activations x seeds on the digits, as one vmapped sweep.

The lesson (lecture notes on weight initialisation; Glorot & Bengio 2010; He et al. 2015):
a deep network (5 hidden layers of 100 units, SGD with momentum) trains only from weights of
the right scale. Numbers from the full run (8 seeds, 1000 steps; the tables it prints):

- ``zeros``: every hidden unit computes the same function and gets the same gradient, so the
  units stay identical (their first-layer weights differ by exactly 0.0 after training) and
  every network stays at chance: median validation accuracy 0.100.
- ``small_normal`` (N(0, 0.01^2)): the signal shrinks at every layer. Sigmoid outputs
  collapse onto 0.5 (std 0.011-0.020 in every layer), tanh and ReLU outputs onto 0 (std
  0.001 or less from layer 3 on); the first sigmoid layer's gradient is ~1e-7 of the
  last's. Chance (0.100) for every activation after 1000 steps.
- ``standard_normal`` (N(0, 1)): sigmoid saturates (50% of the outputs within 1% of 0 or 1,
  the U-shaped histograms), tanh too (79% within 1% of +-1); ReLU explodes (the std grows
  ~7x per layer, 5 -> 13,000) and never trains (0.101). Sigmoid 0.902, tanh 0.818.
- Xavier/Glorot, LeCun and He spread the sigmoid outputs (std 0.11-0.24, none saturated) and
  train tanh and ReLU to 0.976-0.981. With ReLU, Xavier's activations shrink with depth (std
  0.55 -> 0.15 over 5 layers) while He's keep their scale (0.89 -> 0.97).
- Deep sigmoid networks are the hard case: the gradient reaching the first layer is ~0.001x
  the last layer's (``grad first/last``) even from Xavier, and SGD sits on a plateau -- Xavier
  and LeCun are still at 0.100 after 1000 steps, He (larger weights) escapes it after ~300
  steps to 0.942, N(0, 1) (gradient ratio 0.11) reaches 0.902. The vanishing gradient that
  ReLU fixes (see ``examples/activations.py``).

How: the activation is a model hyperparameter (an index into (sigmoid, tanh, ReLU) chosen by
``lax.switch``), so schemes x activations x seeds is ONE ``sweep.run``, ONE compile. The
per-layer statistics at initialisation come from ``jaxdl.diagnostics``, mapped over the
schemes' stacked parameters.

    python -m examples.init_sweep [--quick] [--out DIR] [--seeds 8] [--steps 1000]

References:
  Glorot, Bengio, "Understanding the difficulty of training deep feedforward neural
  networks", AISTATS 2010. He, Zhang, Ren, Sun, "Delving Deep into Rectifiers", ICCV 2015.
  LeCun, Bottou, Orr, Mueller, "Efficient BackProp", 1998.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from examples._plotting import agg_figure, require_matplotlib
from jaxdl import data, diagnostics, nn, optim, sweep

SCHEMES = ("zeros", "small_normal", "standard_normal", "xavier_normal", "lecun_normal",
           "he_normal")
ACTIVATIONS = {"sigmoid": nn.sigmoid, "tanh": nn.tanh, "relu": nn.relu}


class Config(NamedTuple):
    """Everything that defines a run."""

    schemes: tuple[str, ...] = SCHEMES
    activations: tuple[str, ...] = ("sigmoid", "tanh", "relu")
    width: int = 100
    depth: int = 5  # hidden layers
    seeds: int = 8
    steps: int = 1000
    batch_size: int = 64
    learning_rate: float = 0.05  # SGD with momentum: plain enough for the scale to matter
    momentum: float = 0.9
    eval_every: int = 50
    probe_examples: int = 512  # training digits the diagnostics look at
    seed: int = 0  # the train/validation split and the diagnostics' initial weights
    all_histograms: bool = True  # also the schemes x layers grid of every activation


QUICK = {"seeds": 2, "steps": 150, "all_histograms": False,
         "schemes": ("zeros", "small_normal", "standard_normal", "xavier_normal", "he_normal")}


def activation_layer(names: tuple[str, ...], index: Any) -> nn.Layer:
    """An elementwise layer applying ``ACTIVATIONS[names[index]]``; ``index`` may be traced
    (a swept hyperparameter), so one compiled sweep covers every activation."""
    fns = [ACTIVATIONS[name] for name in names]
    i = jnp.asarray(index).astype(jnp.int32)
    return nn.elementwise(lambda x: jax.lax.switch(i, fns, x), name="activation")


def make_model(config: Config, activation: Any) -> nn.Layer:
    """``depth`` x (Dense(width) -> activation) -> Dense(10); ``activation`` is a name (a
    plain model, for the diagnostics) or an index into ``config.activations`` (the sweep)."""
    act = ACTIVATIONS[activation] if isinstance(activation, str) else activation_layer(
        config.activations, activation)
    layers: list[Any] = []
    for _ in range(config.depth):
        layers += [nn.Dense(config.width), act]
    return nn.serial(*layers, nn.Dense(10))


def load(config: Config) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """Digits split 70/30 (stratified), standardised with the training statistics."""
    X, y = data.digits()
    (xt, yt), (xv, yv) = data.split(X, y, (0.7, 0.3), key=jax.random.key(config.seed),
                                    stratify=True)
    _, xt, xv = data.standardize(xt, xv)
    return (xt, yt), (xv, yv)


def at_init(config: Config, x: jax.Array, y: jax.Array) -> dict[str, dict[str, Any]]:
    """Activation and gradient statistics of every scheme's initial weights, per activation.

    One set of weights per scheme (``sweep.reinitialize`` of one init), stacked; the
    diagnostics of every activation's model run over the stack in one compiled program. It
    maps with ``lax.map``: ``jax.vmap`` gives the same numbers (the diagnostics are pure), but
    the batched program takes ~3x longer to compile on a CPU.
    """
    models = {act: make_model(config, act) for act in config.activations}
    init_key, scheme_key = jax.random.split(jax.random.key(config.seed))

    @jax.jit
    def program(key):
        _, params, state = models[config.activations[0]].init(key, (x.shape[-1],))
        stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *[
            sweep.reinitialize(params, s, scheme_key) for s in config.schemes])

        def one(p):
            found = {}
            for act, model in models.items():
                acts = diagnostics.activation_stats(model, p, state, x)
                found[act] = {
                    "activations": {k: v for k, v in acts.items()
                                    if diagnostics.kind_of(k) == act},
                    "gradients": diagnostics.gradient_stats(model, p, state, (x, y))}
            return found

        return jax.lax.map(one, stacked)

    return jax.tree.map(np.asarray, program(init_key))


def unit_spread(params: Any) -> np.ndarray:
    """``max_j |W[:, j] - W[:, 0]|`` of the first layer, per run: 0 when the hidden units are
    identical (the symmetry is unbroken)."""
    w = np.asarray(params["dense_0"]["w"])
    return np.max(np.abs(w - w[..., :1]), axis=(-2, -1))


def run(config: Config, out: str | None = None) -> dict[str, Any]:
    """Trains the sweep, measures the statistics at initialisation, and plots.

    Args:
      config: the run's settings.
      out: a folder for the figures; ``None``: no figures.

    Returns:
      ``accuracy[activation][scheme]``: ``median``, ``q25``, ``q75`` of the final validation
      accuracy over the seeds; ``unit_spread[activation][scheme]`` (the largest over the
      seeds); ``init[activation][scheme]``: ``std`` (per hidden layer), ``saturated``,
      ``dead`` (last hidden layer), ``grad_ratio`` (first/last layer gradient norm);
      ``curves`` (median validation accuracy per evaluation), ``eval_steps``, ``seconds``,
      ``compile_seconds`` and, with ``out``, ``figures``.
    """
    (xt, yt), (xv, yv) = load(config)
    start = time.perf_counter()
    result = sweep.run(
        lambda activation: make_model(config, activation),
        optim.sgd(config.learning_rate, momentum=config.momentum), (xt, yt),
        validation=(xv, yv), steps=config.steps, batch_size=config.batch_size,
        seeds=config.seeds, schemes=list(config.schemes),
        hyperparameters={"activation": list(range(len(config.activations)))},
        eval_every=config.eval_every)
    seconds = time.perf_counter() - start
    final = result.final["val_accuracy"]  # (schemes, activations, seeds)
    q25, median, q75 = np.percentile(final, [25, 50, 75], axis=-1)
    spread = unit_spread(result.params).max(axis=-1)
    curves = np.median(result.curves["val_accuracy"], axis=2)
    out_dict: dict[str, Any] = {"accuracy": {}, "unit_spread": {}, "init": {}, "curves": {},
                                "eval_steps": result.eval_steps, "seconds": seconds,
                                "compile_seconds": result.compile_seconds, "config": config}
    probe_x, probe_y = jnp.asarray(xt[:config.probe_examples]), jnp.asarray(
        yt[:config.probe_examples])
    raw = at_init(config, probe_x, probe_y)
    for a, act in enumerate(config.activations):
        acts, grads = raw[act]["activations"], raw[act]["gradients"]
        last = list(acts)[-1]
        out_dict["accuracy"][act], out_dict["unit_spread"][act] = {}, {}
        out_dict["init"][act], out_dict["curves"][act] = {}, {}
        for s, scheme in enumerate(config.schemes):
            out_dict["accuracy"][act][scheme] = {"median": float(median[s, a]),
                                                 "q25": float(q25[s, a]),
                                                 "q75": float(q75[s, a])}
            out_dict["unit_spread"][act][scheme] = float(spread[s, a])
            out_dict["curves"][act][scheme] = curves[s, a]
            out_dict["init"][act][scheme] = {
                "std": [float(st.std[s]) for st in acts.values()],
                "saturated": float(acts[last].saturated[s]),
                "dead": float(acts[last].dead[s]),
                "grad_ratio": float(grads.first_to_last[s])}
    if out is not None:
        out_dict["figures"] = plot(out_dict, raw, out)
    return out_dict


def format_tables(result: dict[str, Any]) -> str:
    """The accuracy table (median [IQR] over seeds) and the table at initialisation."""
    config = result["config"]
    acts = config.activations
    lines = [f"validation accuracy after {config.steps} steps, median [q25, q75] over "
             f"{config.seeds} seeds ({config.depth} hidden layers of {config.width})",
             f"{'scheme':16s}" + "".join(f"  {a:>20s}" for a in acts)]
    for scheme in config.schemes:
        cells = [result["accuracy"][a][scheme] for a in acts]
        lines.append(f"{scheme:16s}" + "".join(
            f"  {c['median']:.3f} [{c['q25']:.3f}, {c['q75']:.3f}]" for c in cells))
    spread = {a: result["unit_spread"][a].get("zeros") for a in acts}
    if "zeros" in config.schemes:
        lines.append("zeros: first-layer units differ after training by at most "
                     + ", ".join(f"{a} {v:.1e}" for a, v in spread.items())
                     + " (identical units: the symmetry is never broken)")
    lines += ["", f"at initialisation, on {config.probe_examples} training digits: std of each "
              "hidden layer's output (first to last), saturated (sigmoid/tanh) or dead (ReLU) "
              "fraction of the last, gradient norm first/last layer",
              f"{'activation':10s}  {'scheme':16s}  {'std per layer':34s}  sat/dead  "
              "grad first/last"]
    for a in acts:
        for scheme in config.schemes:
            s = result["init"][a][scheme]
            frac = s["dead"] if a == "relu" else s["saturated"]
            stds = " ".join(f"{v:6.3f}" if v < 100 else f"{v:6.0f}" for v in s["std"])
            lines.append(f"{a:10s}  {scheme:16s}  {stds:34s}  {frac:8.3f}  "
                         f"{s['grad_ratio']:.3g}")
    return "\n".join(lines)


# The rows of the lesson's histogram figure: (activation, scheme).
LESSON_ROWS = (("sigmoid", "standard_normal"), ("sigmoid", "small_normal"),
               ("sigmoid", "xavier_normal"), ("relu", "xavier_normal"), ("relu", "he_normal"))


def plot(result: dict[str, Any], raw: dict[str, Any], out: str) -> list[str]:
    """The lesson's activation histograms (the rows of ``LESSON_ROWS``, layers as columns),
    with ``all_histograms`` the whole schemes x layers grid per activation, the gradient norms
    per layer, and the validation curves; returns the PNG paths."""
    require_matplotlib("the init_sweep figures")
    config = result["config"]
    os.makedirs(out, exist_ok=True)
    index = {s: i for i, s in enumerate(config.schemes)}
    by_layer = lambda act, s: {f"layer {k + 1}": jax.tree.map(lambda a: a[index[s]], v)
                               for k, v in enumerate(raw[act]["activations"].values())}
    rows = [(a, s) for a, s in LESSON_ROWS if a in raw and s in index]
    paths = []
    if rows:
        paths.append(diagnostics.plot_activation_histograms(
            [by_layer(a, s) for a, s in rows],
            os.path.join(out, "init_sweep_histograms.png"), [f"{a}\n{s}" for a, s in rows],
            title=f"activations at initialisation, {config.depth} layers of {config.width}"))
    if config.all_histograms:
        for act in config.activations:
            paths.append(diagnostics.plot_activation_histograms(
                raw[act]["activations"], os.path.join(out, f"init_sweep_histograms_{act}.png"),
                config.schemes, title=f"{act} activations at initialisation, per scheme"))
    norms = {f"{act}, {s}": {f"dense {k + 1}": v[index[s]] for k, v in
                             enumerate(raw[act]["gradients"].norms.values())}
             for act in config.activations for s in ("xavier_normal", "he_normal") if s in index}
    if norms:
        paths.append(diagnostics.plot_gradient_norms(
            norms, os.path.join(out, "init_sweep_gradients.png"),
            title="weight-gradient norm per layer at initialisation"))
    fig = agg_figure("the init_sweep figures", (4 * len(config.activations), 3.5))
    for ax, act in zip(fig.subplots(1, len(config.activations), sharey=True, squeeze=False)[0],
                       config.activations):
        for scheme in config.schemes:
            ax.plot(result["eval_steps"], result["curves"][act][scheme], label=scheme)
        ax.set_title(act)
        ax.set_xlabel("step")
    ax.legend(fontsize=7)
    fig.axes[0].set_ylabel(f"validation accuracy (median of {config.seeds} seeds)")
    path = os.path.join(out, "init_sweep_curves.png")
    fig.savefig(path, dpi=110)
    return [*map(str, paths), path]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    defaults = Config()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK['seeds']} seeds, {QUICK['steps']} steps (the smoke test)")
    parser.add_argument("--out", metavar="DIR", help="save the figures here")
    parser.add_argument("--seeds", type=int, default=defaults.seeds)
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    args = parser.parse_args(argv)
    config = Config(seeds=args.seeds, steps=args.steps, learning_rate=args.learning_rate)
    if args.quick:
        config = config._replace(**QUICK)
    result = run(config, args.out)
    print(format_tables(result))
    print(f"{len(config.schemes) * len(config.activations) * config.seeds} trainings as one "
          f"sweep: {result['seconds']:.1f} s ({result['compile_seconds']:.1f} s compiling) on "
          f"{jax.devices()[0].platform}")
    for path in result.get("figures", []):
        print(f"saved {path}")
    return result


if __name__ == "__main__":
    main()
