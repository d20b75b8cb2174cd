"""How quickly each optimizer converges: steps to target over a learning-rate grid x seeds.

For each (problem, optimizer) a log-spaced learning-rate grid (plus the optimizer's customary
default rate) x ``2k`` seeds trains as ONE compiled program: ``jax.vmap`` over the learning
rate and over the seed, ``lax.scan`` over the steps in chunks of ``problem.eval_every``, the
metric recorded after each chunk. The best rate is the one with the smallest median steps to
target on seeds ``0..k-1`` (ties: the better final metric); if it sits on the grid's edge,
the grid is extended once past that edge (same program, no recompile) and the choice made
again. The report uses the other seeds ``k..2k-1``, never seen by the choice, at the best rate
and at the default rate. Across problems: AlgoPerf's performance profile and score
(``benchmarks/profiles.py``); tables, JSON and figures: ``benchmarks/convergence_report.py``.

    python -m benchmarks.convergence [--quick] [--problems ...] [--optimizers ...] [--seeds N]
        [--out DIR] [--backend jaxdl|optax] [--grid-points N] [--compare-sequential PROBLEM]
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from benchmarks import profiles
from benchmarks.convergence_optimizers import (
    DEFAULT_OPTIMIZERS,
    MIN_GRID_POINTS,
    QUICK_OPTIMIZERS,
    Backend,
    OptimizerSpec,
    extend_grid,
    get_backend,
    lr_grid,
    optimizer_spec,
    unknown_name,
)

__all__ = [
    "seed_keys",
    "make_run",
    "starts",
    "clear_starts",
    "protocol",
    "check_counts",
    "run_pair",
    "resolve",
    "run_suite",
    "main",
]


def seed_keys(seeds: Sequence[int] | np.ndarray) -> jax.Array:
    """Typed PRNG keys ``jax.random.key(s)`` for each seed ``s``, stacked."""
    return jax.vmap(jax.random.key)(jnp.asarray(seeds, dtype=jnp.uint32))


_STARTS: dict[tuple[int, int], tuple[Any, Any, jax.Array]] = {}  # (problem, params, keys)
_STARTS_LOCK = threading.Lock()
_RUN_LOCK = threading.Lock()


def starts(problem: Any, n_seeds: int) -> tuple[Any, jax.Array]:
    """Initial parameters and data keys of seeds ``0..n_seeds-1``, stacked on axis 0.

        k_init, k_data = split(key(s));   params_0 = init(k_init)

    Computed once per problem (one small vmapped program) and cached: the initialisers'
    random draws are slow to compile on CPU, and every optimizer starts from the same points.

    Args:
      problem: a ``benchmarks.problems.Problem``.
      n_seeds: how many seeds.

    Returns:
      ``(params, data_keys)``, each with a leading axis of size ``n_seeds``.
    """
    cache_key = (id(problem), n_seeds)
    with _STARTS_LOCK:
        return _start(problem, n_seeds, cache_key)


def clear_starts() -> None:
    """Forgets the cached starting points (to time a protocol from a cold start)."""
    with _STARTS_LOCK:
        _STARTS.clear()


def _start(problem: Any, n_seeds: int, cache_key: tuple[int, int]) -> tuple[Any, jax.Array]:
    if cache_key not in _STARTS:
        def start(key: jax.Array) -> tuple[Any, jax.Array]:
            init_key, data_key = jax.random.split(key)
            return problem.init(init_key), data_key

        # the problem is kept alive with its entry, so its id is not reused
        _STARTS[cache_key] = (problem, *jax.block_until_ready(
            jax.jit(jax.vmap(start))(seed_keys(np.arange(n_seeds)))))
    return _STARTS[cache_key][1:]


def _train_loss(problem: Any, spec: OptimizerSpec) -> Callable[[Any, jax.Array], jax.Array]:
    """The loss the optimizer descends: the full-batch loss for ``gd`` where there is one."""
    full = getattr(problem, "full_loss", None) if spec.full_batch else None
    if full is None:
        return problem.loss
    return lambda params, key: full(params)


def make_run(
    problem: Any, spec: OptimizerSpec, backend: Backend
) -> Callable[[jax.Array, Any, jax.Array], tuple[jax.Array, jax.Array]]:
    """One training run as a pure function ``(lr, params_0, k_data) -> (loss, metric curves)``.

        params_{t+1} = params_t + update_lr(grad loss(params_t, k_t)),  k_t = fold_in(k_data, t)
        metric[j] = metric(params_{j * eval_every}),  j = 0..n_evals
        loss[0] = loss(params_0, k_0);  loss[j] = mean_{t in chunk j} loss(params_t, k_t)

    With ``starts``, a seed gives the same initial point and the same minibatches for every
    optimizer and learning rate.

    Args:
      problem: a ``benchmarks.problems.Problem`` (``n_evals = budget // eval_every``).
      spec: the optimizer; it is built with the (possibly traced) learning rate.
      backend: the optimizer library.

    Returns:
      ``run(lr, params_0, k_data)``, to ``jax.jit`` alone or under ``jax.vmap`` over ``lr``
      and the seed; both curves have shape ``(n_evals + 1,)``.
    """
    loss_fn = _train_loss(problem, spec)
    n_evals, every = problem.budget // problem.eval_every, problem.eval_every

    def run(lr: jax.Array, params: Any, data_key: jax.Array) -> tuple[jax.Array, jax.Array]:
        tx = spec.build(backend.module, lr)

        def step(carry, t):
            params, state = carry
            loss, grads = jax.value_and_grad(loss_fn)(params, jax.random.fold_in(data_key, t))
            updates, state = tx.update(grads, state, params)
            return (backend.apply_updates(params, updates), state), loss

        def chunk(carry, ts):
            carry, losses = lax.scan(step, carry, ts)
            return carry, (losses[0], jnp.mean(losses), problem.metric(carry[0]))

        ts = jnp.arange(n_evals * every, dtype=jnp.uint32).reshape(n_evals, every)
        _, (firsts, losses, metrics) = lax.scan(chunk, (params, tx.init(params)), ts)
        metric0 = jnp.asarray(problem.metric(params))
        return (jnp.concatenate([firsts[:1], losses]),
                jnp.concatenate([metric0[None], metrics]))

    return run


def _grid_program(problem: Any, spec: OptimizerSpec, backend: Backend):
    """``jit(vmap_lr(vmap_seed(run)))``: ``(lrs, params, keys) -> (loss, metric)`` curves of
    shape ``(n_lr, n_seeds, n_evals + 1)``."""
    run = make_run(problem, spec, backend)
    return jax.jit(jax.vmap(jax.vmap(run, in_axes=(None, 0, 0)), in_axes=(0, None, None)))


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = jax.block_until_ready(fn())
    return out, time.perf_counter() - start


def _steps(problem: Any, loss: np.ndarray, metric: np.ndarray) -> np.ndarray:
    return profiles.steps_to_target(
        metric, target=problem.target, higher_is_better=problem.higher_is_better,
        eval_every=problem.eval_every, finite=np.isfinite(loss).all(axis=-1))


def _at(loss, metric, steps, step_s: float) -> dict[str, Any]:
    """Summary of some runs of one learning rate: steps, time to target, final metric."""
    summary = profiles.summarize(steps)
    final = np.asarray(metric)[..., -1]
    finite = final[np.isfinite(final)]
    return {
        **summary,
        "time_to_target_s": summary["median"] * step_s,
        "final_median": float(np.median(finite)) if finite.size else math.nan,
        "final_q1": float(np.quantile(finite, 0.25)) if finite.size else math.nan,
        "final_q3": float(np.quantile(finite, 0.75)) if finite.size else math.nan,
        "diverged": int(np.sum(~np.isfinite(np.asarray(loss)).all(axis=-1))),
    }


def protocol(problem: Any, spec: OptimizerSpec, evaluate: Callable, grid_points: int,
              seeds: int) -> dict[str, Any]:
    """Choose on seeds ``0..k-1``, extend once past an edge, report on seeds ``k..2k-1``.

    The protocol without the machinery that runs it: ``evaluate`` may be one vmapped program
    (``run_pair``) or a loop of jitted runs (``benchmarks.convergence_sequential``).

    Args:
      problem: a ``benchmarks.problems.Problem``.
      spec: the optimizer.
      evaluate: ``rows -> (loss, metric)`` curves of shape ``(len(rows), 2k, n_evals + 1)``
        for the learning rates ``rows``, whose last one is always the default rate.
      grid_points: size of the first grid.
      seeds: ``k``.

    Returns:
      The grid (extended or not), the choice (``best_index``, ``best_lr``, ``extended``,
      ``edge``), steps to target and curves of every run, and ``(loss, metric, steps)`` of the
      fresh seeds at the best rate (``tuned``) and at the default rate (``default``).
    """
    grid = lr_grid(problem, spec, grid_points)
    loss, metric = evaluate(np.append(grid, spec.default_lr))
    steps = _steps(problem, loss, metric)
    default = (loss[-1], metric[-1], steps[-1])
    loss, metric, steps = loss[:-1], metric[:-1], steps[:-1]
    choose = lambda: profiles.select_best(  # noqa: E731
        steps[:, :seeds], metric[:, :seeds, -1], higher_is_better=problem.higher_is_better)
    best = choose()
    extended = profiles.edge_side(best, grid_points)
    if extended is not None:  # once, past that edge; the default row rides along (same shape)
        more = extend_grid(grid, extended)
        loss2, metric2 = evaluate(np.append(more, spec.default_lr))
        order = (lambda a, b: (b, a)) if extended == "low" else (lambda a, b: (a, b))
        grid = np.concatenate(order(grid, more))
        loss = np.concatenate(order(loss, loss2[:-1]))
        metric = np.concatenate(order(metric, metric2[:-1]))
        steps = _steps(problem, loss, metric)
        best = choose()
    fresh = slice(seeds, 2 * seeds)
    return {
        "lrs": grid.tolist(), "default_lr": spec.default_lr, "seeds": 2 * seeds,
        "tuning_seeds": list(range(seeds)), "fresh_seeds": list(range(seeds, 2 * seeds)),
        "extended": extended, "edge": profiles.edge_side(best, len(grid)),
        "best_index": best, "best_lr": float(grid[best]),
        "tuned": (loss[best, fresh], metric[best, fresh], steps[best, fresh]),
        "default": tuple(x[fresh] for x in default),
        "steps": steps.tolist(), "default_steps": default[2].tolist(),
        "curves": {"loss": loss.tolist(), "metric": metric.tolist()},
        "default_curves": {"loss": default[0].tolist(), "metric": default[1].tolist()},
    }


class _Clock:
    """Accumulates compile and run seconds of a protocol's program calls."""

    def __init__(self):
        self.compile_s = self.run_s = 0.0
        self.runs = 0


def run_pair(
    problem: Any, optimizer: str, *, backend: str = "jaxdl", grid_points: int = 9, seeds: int = 2
) -> dict[str, Any]:
    """The protocol for one (problem, optimizer): grid x seeds in one program, choose, report.

    Rows of the program: the grid's learning rates, then the default rate; columns: seeds
    ``0..2k-1``. Seeds ``0..k-1`` choose the rate (``profiles.select_best``); if the choice is
    on the grid's edge, the same compiled program runs once more on ``extend_grid`` past it and
    the choice is made over both grids (``edge`` is set when it is still on the edge). The
    report is on seeds ``k..2k-1``, never seen by the choice.

    Args:
      problem: a ``benchmarks.problems.Problem``.
      optimizer: an optimizer name (``known_optimizers()``).
      backend: ``"jaxdl"`` or ``"optax"``.
      grid_points: points of the learning-rate grid, ``>= 9``.
      seeds: ``k``, seeds to choose on (and as many fresh ones to report on), ``>= 1``.

    Returns:
      A JSON-ready dict: the grid, every run's curves, steps to target, the choice, summaries at
      the best and default rates on the fresh seeds (``profiles.summarize`` plus time to target
      and final metric), and timings (``compile_s``; ``run_s``; ``step_s``, the run time per
      step of one run, amortized over the vmapped batch).
    """
    check_counts("run_pair", grid_points, seeds)
    spec, lib = optimizer_spec(optimizer), get_backend(backend)
    clock, compiled = _Clock(), []
    params, keys = starts(problem, 2 * seeds)

    def evaluate(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = rows.astype(np.float32)
        if not compiled:
            program = _grid_program(problem, spec, lib)
            fn, clock.compile_s = _timed(lambda: program.lower(rows, params, keys).compile())
            compiled.append(fn)
        with _RUN_LOCK:  # one program runs at a time: its timing is not shared with another
            out, run_s = _timed(lambda: compiled[0](rows, params, keys))
        clock.run_s += run_s
        clock.runs += rows.size * 2 * seeds
        return np.asarray(out[0]), np.asarray(out[1])

    with lib.context():
        result = protocol(problem, spec, evaluate, grid_points, seeds)
    step_s = clock.run_s / (clock.runs * (problem.budget // problem.eval_every)
                            * problem.eval_every)
    return {
        "problem": problem.name, "optimizer": optimizer, "backend": backend,
        "family": spec.family,
        "same_as": None, "gd_is_sgd": _same_as(problem, optimizer) != optimizer,
        **result,
        "tuned": _at(*result["tuned"], step_s), "default": _at(*result["default"], step_s),
        "compile_s": clock.compile_s, "run_s": clock.run_s, "step_s": step_s,
    }


# ----------------------------------------------------------------------------- the suite


def check_counts(owner: str, grid_points: int, seeds: int) -> None:
    """Raises a ``ValueError`` saying why, for a grid of fewer than 9 points or ``seeds < 1``."""
    if isinstance(grid_points, bool) or not isinstance(grid_points, int) or (
        grid_points < MIN_GRID_POINTS
    ):
        raise ValueError(
            f"{owner}: grid_points must be an integer >= {MIN_GRID_POINTS}, got {grid_points!r}: "
            f"the protocol needs enough log-spaced learning rates to see whether the best one "
            f"is inside the grid rather than on its edge")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(
            f"{owner}: seeds must be an integer >= 1, got {seeds!r}: the best learning rate is "
            f"chosen on seeds 0..k-1 and reported on k fresh seeds k..2k-1, so k >= 1")


def resolve(problem_names: Sequence[str], optimizers: Sequence[str], backend: str,
            grid_points: int, seeds: int) -> tuple[list[Any], list[str]]:
    """Checks every name and count before anything compiles; returns the problems and names."""
    from benchmarks import problems as problem_set

    check_counts("convergence", grid_points, seeds)
    get_backend(backend)
    known = problem_set.names()
    for name in problem_names:
        if name not in known:
            raise unknown_name("problem", name, known)
    for name in optimizers:
        optimizer_spec(name)
    if not problem_names or not optimizers:
        raise ValueError("convergence: need at least one problem and one optimizer, got "
                         f"problems={list(problem_names)}, optimizers={list(optimizers)}")
    return [problem_set.get(name) for name in problem_names], list(optimizers)


def _progress(total: int, enabled: bool):
    if enabled:
        try:
            from tqdm import tqdm

            return tqdm(total=total, unit="run", file=sys.stderr, leave=False)
        except ImportError:
            pass
    return None


def _same_as(problem: Any, optimizer: str) -> str:
    """The optimizer whose runs ``optimizer`` would repeat exactly on ``problem``: ``gd`` is
    ``sgd`` where the problem has no full-batch loss (``FullBatchProblem.full_loss``)."""
    spec = optimizer_spec(optimizer)
    if spec.full_batch and getattr(problem, "full_loss", None) is None:
        return "sgd"
    return optimizer


def run_suite(problem_list: Sequence[Any], optimizers: Sequence[str], *, backend: str = "jaxdl",
              grid_points: int = 9, seeds: int = 2, progress: bool = True,
              workers: int = 2) -> list[dict]:
    """``run_pair`` for every (problem, optimizer), with a progress bar (tqdm, if installed).

    ``workers`` threads work on different pairs at once: XLA compiles on one core, so on two
    cores one pair compiles while another runs. Programs never run two at a time, so the
    per-step times are not shared (a compile may still run beside them). Where ``gd`` and
    ``sgd`` are the same computation (no full-batch loss), the second reuses the first's runs
    (``same_as`` names it; its timings are zero, not counted twice).

    Returns:
      The ``run_pair`` dicts, problem by problem, in the order of ``optimizers``.
    """
    check_counts("run_suite", grid_points, seeds)
    for name in optimizers:
        optimizer_spec(name)
    pairs = [(p, name) for p in problem_list for name in optimizers]
    unique = {}  # runs under its own name where both gd and sgd are asked for
    for p, name in sorted(pairs, key=lambda pair: pair[1] != _same_as(*pair)):
        unique.setdefault((id(p), _same_as(p, name)), (p, name))
    bar = _progress(len(unique), progress)

    def one(pair):
        out = run_pair(pair[0], pair[1], backend=backend, grid_points=grid_points, seeds=seeds)
        if bar is not None:
            bar.set_description(f"{pair[0].name}/{pair[1]}")
            bar.update()
        return out

    with ThreadPoolExecutor(max(1, workers)) as pool:
        done = dict(zip(unique, pool.map(one, unique.values())))
    if bar is not None:
        bar.close()
    results = []
    for p, name in pairs:
        first = done[(id(p), _same_as(p, name))]
        if first["optimizer"] == name:
            results.append(first)
        else:
            results.append({**first, "optimizer": name, "same_as": first["optimizer"],
                            "gd_is_sgd": _same_as(p, name) != name,
                            "compile_s": 0.0, "run_s": 0.0})
    return results


# ----------------------------------------------------------------------------- CLI


def _names(values: Sequence[str] | None) -> list[str] | None:
    """``--optimizers adam sgd`` and ``--optimizers adam,sgd`` alike."""
    if values is None:
        return None
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """The command line: run the suite, print the Markdown table, write JSON and figures."""
    from benchmarks import convergence_report
    from benchmarks import problems as problem_set

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="problems.QUICK x 7 optimizers, 9-point grid, 2+2 seeds")
    parser.add_argument("--problems", nargs="+", help=f"default: all of {problem_set.names()}")
    parser.add_argument("--optimizers", nargs="+",
                        help=f"default: {', '.join(DEFAULT_OPTIMIZERS)}; any jaxdl.optim alias")
    parser.add_argument("--seeds", type=int, default=None,
                        help="k: choose on seeds 0..k-1, report on k..2k-1 (quick 2, full 3)")
    parser.add_argument("--grid-points", type=int, default=MIN_GRID_POINTS,
                        help=f"learning rates per grid, >= {MIN_GRID_POINTS}")
    parser.add_argument("--backend", default="jaxdl", help="jaxdl (default) or optax")
    parser.add_argument("--out", default=None, help="folder for the JSON, report and figures")
    parser.add_argument("--gzip", action="store_true", help="write convergence.json.gz")
    parser.add_argument("--compare-sequential", metavar="PROBLEM", default=None,
                        help="also time the protocol run one jitted run at a time on PROBLEM")
    parser.add_argument("--compare-reps", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2,
                        help="pairs worked on at once (compiles overlap; runs never do)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    problem_names = _names(args.problems) or list(
        problem_set.QUICK if args.quick else problem_set.names())
    optimizers = _names(args.optimizers) or list(
        QUICK_OPTIMIZERS if args.quick else DEFAULT_OPTIMIZERS)
    seeds = args.seeds if args.seeds is not None else (2 if args.quick else 3)
    compare = None
    if args.compare_sequential is not None:  # checked first: resolving loads the data sets
        compare = resolve([args.compare_sequential], optimizers, args.backend,
                          args.grid_points, seeds)[0][0]
    problem_list, optimizers = resolve(problem_names, optimizers, args.backend,
                                       args.grid_points, seeds)

    start = time.perf_counter()
    results = run_suite(problem_list, optimizers, backend=args.backend,
                        grid_points=args.grid_points, seeds=seeds,
                        progress=not args.no_progress, workers=args.workers)
    wall_s = time.perf_counter() - start
    sequential = None
    if compare is not None:
        from benchmarks.convergence_sequential import compare_sequential

        sequential = compare_sequential(compare, optimizers, backend=args.backend,
                                        grid_points=args.grid_points, seeds=seeds,
                                        reps=args.compare_reps, workers=args.workers)
    report = convergence_report.build(
        results, problem_list, backend=args.backend, grid_points=args.grid_points, seeds=seeds,
        wall_s=wall_s, command=" ".join(["python -m benchmarks.convergence", *(argv or [])]),
        sequential=sequential)
    print(convergence_report.markdown(report))
    if args.out:
        convergence_report.write(report, args.out, problem_list, gzip_json=args.gzip)
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
