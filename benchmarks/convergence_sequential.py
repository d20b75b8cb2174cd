"""The convergence protocol run one jitted run at a time, to time the vmapped one against.

``compare_sequential`` times, end to end and from a cold start, the protocol of
``benchmarks.convergence`` on one problem three ways: vmapped (one program per optimizer), and
a Python loop over (learning rate, seed) pairs, each a jitted run, as a user of optax usually
writes it: with the learning rate a Python float inside the jitted function (one compile per
rate), or passed as an argument (one compile per optimizer).

    python -m benchmarks.convergence --problems logistic-digits --compare-sequential \
        logistic-digits
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from benchmarks import convergence
from benchmarks.convergence_optimizers import Backend, get_backend, optimizer_spec

__all__ = ["compare_sequential"]


def _sequential_pair(problem: Any, optimizer: str, lib: Backend, grid_points: int, seeds: int,
                     traced: bool) -> dict[str, Any]:
    """The same protocol, one jitted run per (learning rate, seed), looped in Python.

    ``traced=False`` is how a user of optax usually writes it: the optimizer is built with a
    Python-float learning rate inside the jitted function, so each rate compiles anew and the
    seeds reuse it. ``traced=True`` jits once with the rate as an argument.
    """
    spec = optimizer_spec(optimizer)
    params, keys = convergence.starts(problem, 2 * seeds)
    run = convergence.make_run(problem, spec, lib)
    traced_run = jax.jit(run)

    def evaluate(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        curves = []
        for lr in rows:
            one = (lambda p, k, lr=lr: traced_run(np.float32(lr), p, k)) if traced else jax.jit(
                lambda p, k, lr=float(lr): run(lr, p, k))
            curves.append([jax.block_until_ready(one(jax.tree.map(lambda x: x[s], params),
                                                     keys[s])) for s in range(2 * seeds)])
        return tuple(np.array([[c[i] for c in row] for row in curves]) for i in (0, 1))

    with lib.context():
        return convergence.protocol(problem, spec, evaluate, grid_points, seeds)


def compare_sequential(problem: Any, optimizers: Sequence[str], *, backend: str = "jaxdl",
                       grid_points: int = 9, seeds: int = 2, reps: int = 1,
                       workers: int = 2) -> dict[str, Any]:
    """End-to-end seconds of the protocol on one problem: vmapped vs one jitted run at a time.

    Four ways, interleaved ``reps`` times in rotating order (medians reported), each from a
    cold start:
    ``vmapped`` (``run_suite`` with one worker: one program per optimizer, one after another),
    ``vmapped_workers`` (the same with ``workers`` threads, as the command line runs it),
    ``sequential`` (a Python loop over learning rates and seeds, the optimizer built with a
    Python-float rate inside the jitted run: one compile per rate, as an optax user usually
    writes it) and ``sequential_traced`` (the loop, one compile per optimizer with the rate as
    an argument).

    Args:
      problem: a ``benchmarks.problems.Problem``.
      optimizers: optimizer names.
      backend: ``"jaxdl"`` or ``"optax"``.
      grid_points: grid size, as in ``run_pair``.
      seeds: ``k``, as in ``run_pair``.
      reps: interleaved repetitions.
      workers: threads of ``vmapped_workers``.

    Returns:
      ``{"problem", "optimizers", "reps", "vmapped_s", "vmapped_workers_s", "sequential_s",
      "sequential_traced_s", "ratio", "ratio_traced", "ratio_workers", "same_choice"}``:
      ratios are sequential seconds over vmapped seconds (``ratio_workers``: over
      ``vmapped_workers_s``); ``same_choice``: every way chose the same learning rates.
    """
    convergence.check_counts("compare_sequential", grid_points, seeds)
    lib = get_backend(backend)
    ways = ("vmapped", "vmapped_workers", "sequential", "sequential_traced")
    times: dict[str, list[float]] = {way: [] for way in ways}
    choices: dict[str, list[float]] = {}
    for rep in range(reps):
        for way in ways[rep % 4:] + ways[:rep % 4]:  # rotated: load drifts hit every way
            convergence.clear_starts()  # every way pays for its initial points too
            start = time.perf_counter()
            if way.startswith("vmapped"):
                out = convergence.run_suite([problem], optimizers, backend=backend,
                                            grid_points=grid_points, seeds=seeds,
                                            progress=False, workers=workers if way.endswith(
                                                "workers") else 1)
            else:
                out = [_sequential_pair(problem, o, lib, grid_points, seeds,
                                        traced=way == "sequential_traced") for o in optimizers]
            times[way].append(time.perf_counter() - start)
            choices[way] = [r["best_lr"] for r in out]
    med = {f"{way}_s": float(np.median(t)) for way, t in times.items()}
    return {
        "problem": problem.name, "optimizers": list(optimizers), "reps": reps,
        "grid_points": grid_points, "seeds": 2 * seeds, "workers": workers, **med,
        "ratio": med["sequential_s"] / med["vmapped_s"],
        "ratio_traced": med["sequential_traced_s"] / med["vmapped_s"],
        "ratio_workers": med["sequential_s"] / med["vmapped_workers_s"],
        "same_choice": all(np.allclose(choices["vmapped"], choices[way], rtol=1e-6)
                           for way in ways),
    }
