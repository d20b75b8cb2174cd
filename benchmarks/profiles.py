"""Statistics of the convergence benchmark: steps to target, medians with misses, profiles.

Everything here is plain NumPy over the curves the runner records, so each rule can be
checked on hand-made numbers:

- ``steps_to_target``: the first evaluation step whose metric reaches the target; a run that
  never does, or whose curve holds a non-finite value anywhere, is a miss (``inf``).
- ``quantile``: quantiles that treat misses as ``+inf`` (a median over a set that is half
  misses is a miss) instead of letting NumPy interpolate ``inf - inf = nan``.
- ``select_best``: the learning rate with the smallest median steps to target on the tuning
  seeds, ties broken by the median final metric, and whether it sits on the grid's edge.
- ``performance_profile`` and ``profile_score``: MLCommons AlgoPerf's performance profiles
  (Dolan and More's, over steps to target) and their normalised area, capped at ``r_max = 4``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "R_MAX",
    "steps_to_target",
    "quantile",
    "summarize",
    "select_best",
    "edge_side",
    "performance_ratios",
    "performance_profile",
    "profile_score",
]

R_MAX = 4.0  # AlgoPerf's cap on the performance ratio


def steps_to_target(
    metric: np.ndarray,
    *,
    target: float,
    higher_is_better: bool,
    eval_every: int,
    finite: np.ndarray | None = None,
) -> np.ndarray:
    """Steps until each run's metric first reaches the target; ``inf`` for a miss.

        reached_j = isfinite(m_j) and (m_j >= target if higher_is_better else m_j <= target)
        steps = eval_every * min{j : reached_j}, or inf when no j is reached or the run is
        non-finite anywhere

    Args:
      metric: curves of shape ``(..., n_evals + 1)``; entry ``j`` is the metric after
        ``j * eval_every`` steps (entry 0 is the initial point).
      target: the value to reach.
      higher_is_better: reach means ``>= target`` (accuracy) rather than ``<= target`` (loss).
      eval_every: steps between two entries of a curve.
      finite: optional boolean array of shape ``metric.shape[:-1]``: ``False`` marks a run whose
        other records (e.g. its training loss) went non-finite; it counts as a miss.

    Returns:
      A float array of shape ``metric.shape[:-1]``: steps to target, ``inf`` for misses.

    References:
      Dahl et al., Benchmarking Neural Network Training Algorithms, 2023 (time to target).
    """
    metric = np.asarray(metric, dtype=np.float64)
    ok = np.isfinite(metric)
    with np.errstate(invalid="ignore"):
        reached = ok & ((metric >= target) if higher_is_better else (metric <= target))
    run_finite = ok.all(axis=-1)
    if finite is not None:
        run_finite &= np.asarray(finite, dtype=bool)
    hit = reached.any(axis=-1) & run_finite
    first = np.argmax(reached, axis=-1).astype(np.float64) * eval_every
    return np.where(hit, first, np.inf)


def quantile(values: Sequence[float] | np.ndarray, q: float) -> float:
    """The ``q``-quantile with linear interpolation, where misses (``inf``) are the largest.

        sorted v_0 <= ... <= v_{n-1};  h = (n - 1) q;  lo = floor(h);  f = h - lo
        Q(q) = v_lo                              if f == 0
             = v_lo + f (v_{lo+1} - v_lo)        if both finite
             = inf                               if v_{lo+1} is a miss (f > 0)

    This is NumPy's default ("linear") quantile, made safe for ``inf``: NumPy would compute
    ``inf - inf = nan`` when both neighbours are misses.

    Args:
      values: steps to target of several runs, ``inf`` for misses; not empty.
      q: the quantile, in ``[0, 1]``.

    Returns:
      The quantile as a float (``inf`` when it falls among the misses).
    """
    v = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if v.size == 0:
        raise ValueError("quantile: values is empty; expected at least one run")
    h = (v.size - 1) * q
    lo = math.floor(h)
    frac = h - lo
    if frac == 0.0:
        return float(v[lo])
    if not np.isfinite(v[lo + 1]):
        return math.inf
    return float(v[lo] + frac * (v[lo + 1] - v[lo]))


def summarize(steps: Sequence[float] | np.ndarray) -> dict[str, float | int]:
    """Median, quartiles and miss count of steps to target over seeds.

    Args:
      steps: steps to target of several runs (``inf`` for misses).

    Returns:
      ``{"median", "q1", "q3", "misses", "runs"}``; quantiles follow ``quantile`` (a median
      that falls among the misses is ``inf``).
    """
    v = np.asarray(steps, dtype=np.float64).ravel()
    return {
        "median": quantile(v, 0.5),
        "q1": quantile(v, 0.25),
        "q3": quantile(v, 0.75),
        "misses": int(np.sum(~np.isfinite(v))),
        "runs": int(v.size),
    }


def _final_key(final: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Median final metric per row, oriented so smaller is better and non-finite is worst."""
    final = np.asarray(final, dtype=np.float64)
    bad = ~np.isfinite(final).all(axis=-1)
    med = np.median(np.where(np.isfinite(final), final, 0.0), axis=-1)
    key = -med if higher_is_better else med
    return np.where(bad, np.inf, key)


def select_best(
    steps: np.ndarray, final: np.ndarray, *, higher_is_better: bool
) -> int:
    """Index of the best learning rate: smallest median steps to target, then best final metric.

        best = argmin_i (median_s steps[i, s], key_i)   (lexicographic)
        key_i = -median_s final[i, s] if higher_is_better else median_s final[i, s]
        (a row with any non-finite final metric gets key_i = inf)

    Args:
      steps: ``(n_lr, n_seeds)`` steps to target on the tuning seeds (``inf`` for misses),
        rows in increasing learning rate.
      final: ``(n_lr, n_seeds)`` final metric of the same runs.
      higher_is_better: the direction of the metric, for the tie-break.

    Returns:
      The row index of the chosen learning rate (the smallest such index on a full tie).
    """
    steps = np.asarray(steps, dtype=np.float64)
    if steps.ndim != 2 or steps.shape != np.shape(final) or steps.shape[0] == 0:
        raise ValueError(
            f"select_best: steps and final must have the same shape (n_lr, n_seeds) with "
            f"n_lr >= 1, got {steps.shape} and {np.shape(final)}"
        )
    medians = np.array([quantile(row, 0.5) for row in steps])
    order = np.lexsort((_final_key(final, higher_is_better), medians))
    return int(order[0])


def edge_side(index: int, n: int) -> str | None:
    """Which edge of an ``n``-point grid the index sits on: ``"low"``, ``"high"`` or ``None``.

    Args:
      index: the chosen row.
      n: grid size (rows sorted by increasing learning rate).

    Returns:
      ``"low"`` for the smallest learning rate, ``"high"`` for the largest, else ``None``.
    """
    if index == 0:
        return "low"
    if index == n - 1:
        return "high"
    return None


def performance_ratios(
    times: Mapping[str, Mapping[str, float]],
) -> dict[str, dict[str, float]]:
    """Each optimizer's time to target divided by the best optimizer's on that problem.

        r_{s,p} = t_{s,p} / min_s' t_{s',p}     (inf when t_{s,p} is a miss, or when no
        optimizer reaches the target on p)

    Args:
      times: ``times[problem][optimizer]``, e.g. median steps to target; ``inf`` for a miss.

    Returns:
      ``ratios[problem][optimizer]``, each ``>= 1`` or ``inf``.

    References:
      Dolan and More, Benchmarking optimization software with performance profiles, 2002.
    """
    ratios: dict[str, dict[str, float]] = {}
    for problem, row in times.items():
        finite = [t for t in row.values() if math.isfinite(t)]
        best = min(finite) if finite else math.inf
        ratios[problem] = {}
        for opt, t in row.items():
            if not math.isfinite(t) or not math.isfinite(best):
                ratios[problem][opt] = math.inf
            elif best == 0.0:  # reached at step 0: everyone at 0 ties, others are infinitely slower
                ratios[problem][opt] = 1.0 if t == 0.0 else math.inf
            else:
                ratios[problem][opt] = t / best
    return ratios


def _by_optimizer(ratios: Mapping[str, Mapping[str, float]]) -> dict[str, list[float]]:
    optimizers: dict[str, list[float]] = {}
    for row in ratios.values():
        for opt in row:
            optimizers.setdefault(opt, [])
    for row in ratios.values():
        for opt in optimizers:
            optimizers[opt].append(row.get(opt, math.inf))  # not run on p: a miss
    return optimizers


def performance_profile(
    ratios: Mapping[str, Mapping[str, float]], taus: Sequence[float] | np.ndarray
) -> dict[str, np.ndarray]:
    """The fraction of problems each optimizer solves within a factor ``tau`` of the best.

        rho_s(tau) = |{p : r_{s,p} <= tau}| / |P|

    Args:
      ratios: ``ratios[problem][optimizer]`` from ``performance_ratios``; an optimizer absent
        from a problem counts as a miss there.
      taus: the ratios at which to evaluate the profile.

    Returns:
      ``{optimizer: rho evaluated at taus}``.

    References:
      Dolan and More, Benchmarking optimization software with performance profiles, 2002;
      Dahl et al., Benchmarking Neural Network Training Algorithms, 2023.
    """
    taus = np.asarray(taus, dtype=np.float64)
    n = max(len(ratios), 1)
    return {
        opt: (np.asarray(r)[None, :] <= taus[:, None]).sum(axis=1) / n
        for opt, r in _by_optimizer(ratios).items()
    }


def profile_score(
    ratios: Mapping[str, Mapping[str, float]], r_max: float = R_MAX
) -> dict[str, float]:
    """AlgoPerf's benchmark score: the normalised area under the performance profile.

        B_s = 1 / (r_max - 1) * integral_1^{r_max} rho_s(tau) d tau
            = mean_p max(0, r_max - r_{s,p}) / (r_max - 1)

    (the integral of the step function is exact; a miss or a ratio above ``r_max`` adds 0).
    1 means fastest on every problem; 0 means never within ``r_max`` times the best.

    Args:
      ratios: ``ratios[problem][optimizer]`` from ``performance_ratios``.
      r_max: the cap on the ratio, 4 in AlgoPerf.

    Returns:
      ``{optimizer: score in [0, 1]}``.

    References:
      Dahl et al., Benchmarking Neural Network Training Algorithms, 2023.
    """
    if not r_max > 1.0:
        raise ValueError(f"profile_score: r_max must be > 1, got {r_max}")
    return {
        opt: float(np.mean([max(0.0, r_max - r) / (r_max - 1.0) for r in rs])) if rs else 0.0
        for opt, rs in _by_optimizer(ratios).items()
    }
