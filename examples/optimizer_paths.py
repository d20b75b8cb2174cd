"""Where GD, momentum, Nesterov, AdaGrad, RMSprop and Adam go on 2-D test functions.

Three lessons, each printed as a table (and drawn with ``--out``):

1. Rosenbrock's curved valley from ``(-1.2, 1)``: plain gradient descent crawls along the flat
   valley floor (``f = 0.37`` after 500 steps); momentum and Adam follow it to ``(1, 1)``
   (``f <= 1e-3`` after 365 and 412 steps).
2. The six-hump camel from ``(2, 1.4)``: gradient descent stops in the local minimum next to
   the start (``f = 2.10``) at every learning rate; momentum builds up enough speed to roll
   over the ridge into a global minimum (``f = -1.03``, 28 steps), as do Nesterov, AdaGrad
   and Adam.
3. Basins: from a grid of starts (one vmapped program per optimizer), the fraction that ends
   within 0.1 of a global minimum. On the camel (21 x 21 starts, 500 steps) GD 0.47, momentum
   0.71, Adam 0.78; on Rastrigin's function, whose ~120 deep local minima defeat every
   first-order method here, 0.02 for all but AdaGrad (0.06): the starts already in the
   global minimum's basin.

The learning rates are each optimizer's good rate per function (measured on a log grid).
The shape every jaxdl example shares: a ``Config``, ``run(config) -> dict``, ``main(argv)``
with ``--quick`` (fewer steps and starts, for the smoke test) and ``--out DIR`` (figures).

    python -m examples.optimizer_paths [--quick] [--out DIR] [--steps 500] [--grid 21]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from benchmarks import problems
from jaxdl import optim

__all__ = ["Config", "final_points", "main", "optimizers", "plot_paths", "run", "trajectories"]

Function2D = Callable[[jax.Array], jax.Array]
Box = tuple[tuple[float, float], tuple[float, float]]


class Config(NamedTuple):
    """Everything that defines a run."""

    steps: int = 500  # optimizer steps per path
    grid: int = 21  # the basin table starts from a grid x grid lattice over the plot box
    radius: float = 0.1  # a run "reaches" a global minimum when it ends this close to one
    quick: bool = False


QUICK = {"steps": 200, "grid": 7}

# A good learning rate of each optimizer on each function, read off a sweep of quarter-decade
# rates (1e-4 to 3) for the final value after 500 steps from the starts used here (Beale: the
# convergence benchmark's best half-decade rates from (1, 1.5), each within 400 steps). GD cannot
# go much above 2e-3 on Rosenbrock (curvature ~1000 along the valley's walls) or 5e-3 on
# Rastrigin (curvature ~400); RMSprop without momentum never settles in the camel's global
# minimum at any constant rate (it overshoots), so it keeps a moderate one.
LEARNING_RATES: dict[str, dict[str, float]] = {
    "rosenbrock": {"GD": 2e-3, "momentum": 2e-3, "Nesterov": 1e-3, "AdaGrad": 1.0,
                   "RMSprop": 1e-2, "Adam": 0.3},
    "beale": {"GD": 3e-2, "momentum": 3e-3, "Nesterov": 3e-3, "AdaGrad": 1.0,
              "RMSprop": 1e-2, "Adam": 0.3},
    "six-hump-camel": {"GD": 1e-2, "momentum": 1e-2, "Nesterov": 2e-2, "AdaGrad": 1.0,
                       "RMSprop": 1e-2, "Adam": 0.3},
    "rastrigin": {"GD": 1e-3, "momentum": 1e-3, "Nesterov": 1e-3, "AdaGrad": 1.0,
                  "RMSprop": 1e-2, "Adam": 0.3},
}

_FACTORIES: dict[str, Callable[[float], optim.GradientTransformation]] = {
    "GD": lambda lr: optim.sgd(lr),
    "momentum": lambda lr: optim.sgd(lr, momentum=0.9),
    "Nesterov": lambda lr: optim.sgd(lr, momentum=0.9, nesterov=True),
    "AdaGrad": lambda lr: optim.adagrad(lr),
    "RMSprop": lambda lr: optim.rmsprop(lr),
    "Adam": lambda lr: optim.adam(lr),
}


def optimizers(function_name: str) -> dict[str, optim.GradientTransformation]:
    """The six optimizers of this example at their good learning rates for one function.

    Args:
      function_name: ``"rosenbrock"``, ``"beale"``, ``"six-hump-camel"`` or ``"rastrigin"``.

    Returns:
      ``{"GD": sgd(lr), "momentum": sgd(lr, 0.9), "Nesterov": sgd(lr, 0.9, nesterov=True),
      "AdaGrad": adagrad(lr), "RMSprop": rmsprop(lr), "Adam": adam(lr)}``.
    """
    if function_name not in LEARNING_RATES:
        raise ValueError(f"optimizers: no learning rates for {function_name!r}; known: "
                         f"{', '.join(LEARNING_RATES)}.")
    rates = LEARNING_RATES[function_name]
    return {name: make(rates[name]) for name, make in _FACTORIES.items()}


# ----------------------------------------------------------------------------- paths


def _check(fn_name: str, fn: Any, optimizers: Any, steps: Any) -> None:
    if not callable(fn):
        raise TypeError(f"{fn_name}: `fn` must be a function of a (2,) array, got {fn!r}.")
    if not isinstance(optimizers, Mapping) or not optimizers or not all(
            isinstance(o, optim.GradientTransformation) for o in optimizers.values()):
        raise TypeError(f"{fn_name}: `optimizers` must be a non-empty dict of name -> "
                        f"GradientTransformation, got {optimizers!r}.")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"{fn_name}: `steps` must be a positive int, got {steps!r}.")


def _points(fn_name: str, name: str, value: ArrayLike, batched: bool) -> jax.Array:
    z = jnp.asarray(value, jnp.float32)
    shape = "(n, 2)" if batched else "(2,)"
    if z.ndim != (2 if batched else 1) or z.shape[-1] != 2:
        raise ValueError(f"{fn_name}: `{name}` must have shape {shape}, got {z.shape}.")
    return z


def _path_fn(fn: Function2D, optimizer: optim.GradientTransformation,
             steps: int) -> Callable[[jax.Array], jax.Array]:
    """``z0 -> (steps + 1, 2)`` path: ``z_{t+1} = z_t + update(grad f(z_t))``, one scan."""
    grad = jax.grad(fn)

    def path(z0: jax.Array) -> jax.Array:
        def step(carry, _):
            z, state = carry
            updates, state = optimizer.update(grad(z), state, z)
            z = optim.apply_updates(z, updates)
            return (z, state), z

        _, zs = jax.lax.scan(step, (z0, optimizer.init(z0)), None, length=steps)
        return jnp.concatenate([z0[None], zs])

    return path


def trajectories(fn: Function2D, start: ArrayLike,
                 optimizers: Mapping[str, optim.GradientTransformation],
                 steps: int) -> dict[str, np.ndarray]:
    """The path of each optimizer from ``start``: ``z_0 = start``, ``z_{t+1} = z_t + u_t``.

    ``u_t`` is the optimizer's update for the gradient ``grad f(z_t)``; each optimizer runs
    as one jit-compiled ``lax.scan``.

    Args:
      fn: a scalar function of a ``(2,)`` array, e.g. ``problems.function("rosenbrock")``.
      start: the starting point, shape ``(2,)``.
      optimizers: name -> ``GradientTransformation`` (learning rates included).
      steps: number of steps, a positive int.

    Returns:
      name -> float32 numpy array ``(steps + 1, 2)``: the start, then every iterate.
    """
    _check("trajectories", fn, optimizers, steps)
    z0 = _points("trajectories", "start", start, batched=False)
    return {name: np.asarray(jax.jit(_path_fn(fn, opt, steps))(z0))
            for name, opt in optimizers.items()}


def final_points(fn: Function2D, starts: ArrayLike, optimizer: optim.GradientTransformation,
                 steps: int) -> np.ndarray:
    """Where one optimizer ends after ``steps`` steps from each of many starts (one vmap).

    Args:
      fn: a scalar function of a ``(2,)`` array.
      starts: the starting points, shape ``(n, 2)``.
      optimizer: a ``GradientTransformation``.
      steps: number of steps, a positive int.

    Returns:
      float32 numpy array ``(n, 2)`` of final iterates (NaN where a run diverged).
    """
    _check("final_points", fn, {"optimizer": optimizer}, steps)
    z0 = _points("final_points", "starts", starts, batched=True)
    path = _path_fn(fn, optimizer, steps)
    return np.asarray(jax.jit(jax.vmap(lambda z: path(z)[-1]))(z0))


def _grid_starts(box: Box, n: int) -> np.ndarray:
    """An ``n x n`` lattice over the box, one cell-width inside its edges."""
    (x0, x1), (y0, y1) = box
    xs = np.linspace(x0, x1, n + 2)[1:-1]
    ys = np.linspace(y0, y1, n + 2)[1:-1]
    return np.stack(np.meshgrid(xs, ys, indexing="ij"), -1).reshape(-1, 2)


def _distance_to_minimum(points: np.ndarray, minima: np.ndarray) -> np.ndarray:
    d = np.linalg.norm(points[:, None, :] - minima[None, :, :], axis=-1).min(axis=1)
    return np.where(np.isfinite(d), d, np.inf)


# ----------------------------------------------------------------------------- the lessons


def _path_summary(name: str, paths: dict[str, np.ndarray], target: float) -> dict[str, Any]:
    fn = problems.function(name)
    minima = problems.global_minimum(name).points
    rows = {}
    for opt, path in paths.items():
        values = np.asarray(jax.vmap(fn)(jnp.asarray(path)))
        reached = np.flatnonzero(values <= target)
        rows[opt] = {"learning_rate": LEARNING_RATES[name][opt],
                     "final_value": float(values[-1]),
                     "distance": float(_distance_to_minimum(path[-1:], minima)[0]),
                     "steps_to_target": int(reached[0]) if reached.size else None}
    return rows


def run(config: Config, out: str | None = None) -> dict[str, Any]:
    """Runs the three lessons (module docstring) and optionally draws the paths.

    Args:
      config: the run's settings.
      out: a folder for ``rosenbrock_paths.png`` and ``camel_paths.png``; ``None``: no plots.

    Returns:
      ``rosenbrock`` and ``camel``: optimizer -> ``{learning_rate, final_value, distance``
      (to the nearest global minimiser), ``steps_to_target}`` (first step with ``f <= 1e-3``,
      resp. ``f <= -1.03``; ``None`` if never); ``basins``: function -> optimizer -> fraction
      of the grid's starts ending within ``config.radius`` of a global minimiser; ``paths``:
      function -> optimizer -> ``(steps + 1, 2)`` array; with ``out``, ``figures``.
    """
    starts = {"rosenbrock": (-1.2, 1.0), "six-hump-camel": (2.0, 1.4)}
    targets = {"rosenbrock": 1e-3, "six-hump-camel": -1.03}
    paths = {name: trajectories(problems.function(name), start, optimizers(name), config.steps)
             for name, start in starts.items()}
    result: dict[str, Any] = {
        "rosenbrock": _path_summary("rosenbrock", paths["rosenbrock"], targets["rosenbrock"]),
        "camel": _path_summary("six-hump-camel", paths["six-hump-camel"],
                               targets["six-hump-camel"]),
        "paths": paths, "basins": {},
    }
    for name in ("six-hump-camel", "rastrigin"):
        grid = _grid_starts(problems.bounds(name), config.grid)
        minima = problems.global_minimum(name).points
        result["basins"][name] = {
            opt: float(np.mean(_distance_to_minimum(
                final_points(problems.function(name), grid, transform, config.steps),
                minima) <= config.radius))
            for opt, transform in optimizers(name).items()}
    if out is not None:
        result["figures"] = [
            plot_paths(problems.function(name), paths[name], problems.bounds(name),
                       os.path.join(out, f"{stem}_paths.png"),
                       f"{name} from {starts[name]}, {config.steps} steps",
                       minima=problems.global_minimum(name).points)
            for name, stem in (("rosenbrock", "rosenbrock"), ("six-hump-camel", "camel"))]
    return result


# ----------------------------------------------------------------------------- output


def format_paths(title: str, rows: dict[str, dict[str, Any]]) -> str:
    """A table of one function's paths: rate, final value, distance, steps to target."""
    lines = [title, "optimizer   lr       final f    distance  steps to target"]
    for opt, r in rows.items():
        steps = "missed" if r["steps_to_target"] is None else str(r["steps_to_target"])
        lines.append(f"{opt:10s}  {r['learning_rate']:<7.3g}  {r['final_value']:9.4g}  "
                     f"{r['distance']:8.3g}  {steps}")
    return "\n".join(lines)


def format_basins(basins: dict[str, dict[str, float]], config: Config) -> str:
    """The table of fractions of starts that end at a global minimum, one column a function."""
    names = list(basins)
    lines = [f"fraction of {config.grid}x{config.grid} starts ending within {config.radius} of "
             f"a global minimum after {config.steps} steps",
             "optimizer   " + "  ".join(f"{n:>14s}" for n in names)]
    for opt in basins[names[0]]:
        lines.append(f"{opt:10s}  " + "  ".join(f"{basins[n][opt]:14.2f}" for n in names))
    return "\n".join(lines)


def plot_paths(fn: Function2D, paths: Mapping[str, np.ndarray], bounds: Box, path_png: str,
               title: str | None = None, *, minima: ArrayLike | None = None) -> str:
    """Draws optimizer paths over the contour lines of ``fn`` and saves a PNG.

    Contours are of ``log(1 + f - min f)`` over the box, so steep walls and flat valleys
    both show; every path starts at a black dot and ends at a cross.

    Args:
      fn: a scalar function of a ``(2,)`` array.
      paths: name -> ``(steps + 1, 2)`` array, e.g. from ``trajectories``.
      bounds: the plot box ``((x_lo, x_hi), (y_lo, y_hi))``.
      path_png: where to save the figure (folders are created).
      title: an optional figure title.
      minima: optional ``(k, 2)`` points marked with a star (the global minimisers).

    Returns:
      ``path_png``.
    """
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError("plot_paths needs matplotlib: pip install 'jaxdl[bench]' "
                          "(or leave out --out)") from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (x0, x1), (y0, y1) = bounds
    xs, ys = np.linspace(x0, x1, 300), np.linspace(y0, y1, 300)
    grid = jnp.asarray(np.stack(np.meshgrid(xs, ys), -1), jnp.float32)
    values = np.asarray(jax.jit(jax.vmap(jax.vmap(fn)))(grid))
    fig, ax = plt.subplots(figsize=(7, 5.5), constrained_layout=True)
    ax.contour(xs, ys, np.log1p(values - values.min()), levels=30, cmap="Greys", linewidths=0.6)
    for name, path in paths.items():
        p = np.asarray(path)
        (line,) = ax.plot(p[:, 0], p[:, 1], lw=1.3, label=name)
        ax.plot(p[-1, 0], p[-1, 1], "x", color=line.get_color(), ms=8, mew=2)
    if paths:
        first = np.asarray(next(iter(paths.values())))[0]
        ax.plot(first[0], first[1], "ko", ms=6)
    if minima is not None:
        points = np.asarray(minima).reshape(-1, 2)
        ax.plot(points[:, 0], points[:, 1], "*", color="gold", mec="k", ms=14, zorder=3)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(loc="best", fontsize=8)
    if title:
        ax.set_title(title)
    os.makedirs(os.path.dirname(path_png) or ".", exist_ok=True)
    fig.savefig(path_png, dpi=110)
    plt.close(fig)
    return path_png


def main(argv: list[str] | None = None) -> dict[str, Any]:
    defaults = Config()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK['steps']} steps, a {QUICK['grid']}x{QUICK['grid']} grid")
    parser.add_argument("--out", metavar="DIR", help="save the path plots here")
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--grid", type=int, default=defaults.grid)
    args = parser.parse_args(argv)
    quick = QUICK if args.quick else {"steps": args.steps, "grid": args.grid}
    config = Config(quick=args.quick, **quick)
    result = run(config, args.out)
    print(format_paths(f"Rosenbrock from (-1.2, 1), {config.steps} steps (target f <= 1e-3)",
                       result["rosenbrock"]))
    print()
    print(format_paths(f"six-hump camel from (2, 1.4), {config.steps} steps (target f <= -1.03;"
                       " the local minimum next to the start has f = 2.10)", result["camel"]))
    print()
    print(format_basins(result["basins"], config))
    for figure in result.get("figures", []):
        print(f"saved {figure}")
    return result


if __name__ == "__main__":
    main()
