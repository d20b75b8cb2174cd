"""Tables, JSON and figures of the convergence benchmark (``benchmarks/convergence.py``).

``build`` gathers the runs into a report (header, per-problem summaries, AlgoPerf ratios and
scores); ``markdown`` renders it; ``write`` saves ``convergence.json`` (every run's curves, floats
to 6 significant digits; ``null`` stands for a miss or a non-finite value; optionally
gzip-compressed), ``report.md`` and the PNG figures:
``curves_<problem>.png`` (median curves with interquartile bands at the best learning rate, on
the fresh seeds), ``lr_<problem>.png`` (learning-rate sensitivity on the tuning seeds),
``profile.png`` (performance profiles) and ``paths_<problem>.png`` for the 2-D functions
(GD, momentum, Nesterov, RMSprop and Adam over the contour; each legend says where its
learning rate comes from: ``tuned`` where the optimizer reached the target on that problem,
else ``example``, the good rate of ``examples/optimizer_paths.py``, else ``default``).
"""

from __future__ import annotations

import contextlib
import datetime
import gzip
import json
import math
import os
import platform
import subprocess
import warnings
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from benchmarks import profiles

__all__ = ["build", "markdown", "write", "write_json", "figures", "to_json", "PATH_OPTIMIZERS"]

PATH_OPTIMIZERS = ("gd", "momentum", "nesterov", "rmsprop", "adam")  # the 2-D paths figure


def _cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or platform.machine()


def _versions() -> dict[str, str]:
    import jaxdl

    versions = {"jaxdl": jaxdl.__version__, "jax": jax.__version__}
    try:
        import optax

        versions["optax"] = optax.__version__
    except ImportError:
        versions["optax"] = "not installed"
    return versions


def _problem_info(problem: Any) -> dict[str, Any]:
    return {k: getattr(problem, k) for k in (
        "name", "description", "metric_name", "target", "higher_is_better", "budget",
        "eval_every", "kind", "batch_size")} | {"default_lr_range": list(
            problem.default_lr_range)}


def build(results: Sequence[dict], problem_list: Sequence[Any], *, backend: str,
          grid_points: int, seeds: int, wall_s: float, command: str = "",
          sequential: dict | None = None) -> dict[str, Any]:
    """The report: header, problems, runs, AlgoPerf ratios and scores (tuned and default rate).

    The time of an optimizer on a problem is its median steps to target on the fresh seeds
    (``inf`` when the median falls among the misses); ratios and scores follow
    ``profiles.performance_ratios`` and ``profiles.profile_score`` (``r_max = 4``).

    Args:
      results: ``run_pair`` dicts.
      problem_list: the problems they ran on.
      backend, grid_points, seeds, wall_s, command: recorded in the header.
      sequential: an optional ``compare_sequential`` dict.

    Returns:
      A JSON-ready dict (after ``to_json``).
    """
    device = jax.devices()[0]
    report: dict[str, Any] = {
        "meta": {
            "date": datetime.date.today().isoformat(), "command": command, "backend": backend,
            "device": f"{device.platform} ({device.device_kind})", "cpu": _cpu(),
            "cpu_count": os.cpu_count(), **_versions(), "grid_points": grid_points,
            "seeds": seeds, "wall_s": wall_s, "r_max": profiles.R_MAX,
            "compile_s": sum(r["compile_s"] for r in results),
            "run_s": sum(r["run_s"] for r in results),
        },
        "problems": {p.name: _problem_info(p) for p in problem_list},
        "runs": list(results),
        "sequential": sequential,
    }
    for which in ("tuned", "default"):
        times: dict[str, dict[str, float]] = {}
        for r in results:
            times.setdefault(r["problem"], {})[r["optimizer"]] = r[which]["median"]
        ratios = profiles.performance_ratios(times)
        report[f"ratios_{which}"] = ratios
        report[f"scores_{which}"] = profiles.profile_score(ratios)
    return report


# ----------------------------------------------------------------------------- Markdown


def _num(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    if math.isinf(x):
        return "miss"
    return f"{x:.{digits}g}"


def _steps(s: dict) -> str:
    if not math.isfinite(s["median"]):
        return "miss"
    return f"{s['median']:.0f} [{_num(s['q1'], 4)}, {_num(s['q3'], 4)}]"


def _seconds(x: float) -> str:
    """``1.2 s``, ``3.4 ms``, ``56 us``; ``miss`` for inf."""
    if not math.isfinite(x):
        return "miss"
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if x >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x / 1e-6:.2g} us"


def _ratio(r: float) -> str:
    return "miss" if not math.isfinite(r) else (f"{r:.2f}" if r <= profiles.R_MAX else ">4")


def _score_table(report: dict) -> list[str]:
    tuned, default = report["scores_tuned"], report["scores_default"]
    solved = {o: sum(math.isfinite(row.get(o, math.inf)) for row in report["ratios_tuned"]
                     .values()) for o in tuned}
    solved_d = {o: sum(math.isfinite(row.get(o, math.inf)) for row in report[
        "ratios_default"].values()) for o in tuned}
    n = len(report["ratios_tuned"])
    lines = ["| optimizer | score (tuned lr) | problems reached | score (default lr) | "
             "reached at default |", "|---|---:|---:|---:|---:|"]
    for o in sorted(tuned, key=lambda o: (-tuned[o], o)):
        lines.append(f"| {o} | {tuned[o]:.3f} | {solved[o]}/{n} | {default[o]:.3f} | "
                     f"{solved_d[o]}/{n} |")
    return lines


def _ratio_table(report: dict) -> list[str]:
    ratios = report["ratios_tuned"]
    probs = list(ratios)
    opts = list(report["scores_tuned"])
    lines = ["| optimizer | " + " | ".join(probs) + " |", "|---|" + "---:|" * len(probs)]
    for o in opts:
        lines.append(f"| {o} | " + " | ".join(_ratio(ratios[p].get(o, math.inf))
                                              for p in probs) + " |")
    return lines


def _problem_table(report: dict, name: str) -> list[str]:
    info = report["problems"][name]
    sign = ">=" if info["higher_is_better"] else "<="
    lines = [
        f"### {name}", "",
        f"{info['description']}. Target: {info['metric_name']} {sign} {info['target']:g}; "
        f"budget {info['budget']} steps, evaluated every {info['eval_every']}"
        + (f", batch {info['batch_size']}" if info["batch_size"] else "") + ".", "",
        "| optimizer | best lr | steps to target, median [IQR] | misses | time to target | "
        "final | default lr | steps at default | misses | final at default | compile s | "
        "us/step |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["runs"]:
        if r["problem"] != name:
            continue
        t, d = r["tuned"], r["default"]
        edge = f" (edge: {r['edge']})" if r["edge"] else ""
        ext = f" (ext. {r['extended']})" if r["extended"] and not r["edge"] else ""
        label = r["optimizer"] + (" (= sgd)" if r.get("gd_is_sgd") else "")
        tt = _seconds(t["time_to_target_s"])
        lines.append(
            f"| {label} | {r['best_lr']:.3g}{edge}{ext} | {_steps(t)} | "
            f"{t['misses']}/{t['runs']} | {tt} | {_num(t['final_median'], 4)} | "
            f"{r['default_lr']:g} | {_steps(d)} | {d['misses']}/{d['runs']} | "
            f"{_num(d['final_median'], 4)} | {r['compile_s']:.2f} | {1e6 * r['step_s']:.2f} |")
    return lines


def _is_2d(name: str) -> bool:
    from benchmarks import problems as problem_set

    try:
        problem_set.function(name)
    except (KeyError, ValueError):
        return False
    return True


def markdown(report: dict) -> str:
    """The report as Markdown: header, score table, ratios, per-problem tables, timings."""
    m = report["meta"]
    lines = [
        "# Convergence benchmark: steps to target", "",
        f"- date: {m['date']}; command: `{m['command']}`",
        f"- device: {m['device']}, {m['cpu_count']} cores, {m['cpu']}",
        f"- versions: jaxdl {m['jaxdl']}, jax {m['jax']}, optax {m['optax']}; "
        f"backend: {m['backend']}",
        f"- protocol: {m['grid_points']}-point log-spaced learning-rate grid (+ the default "
        f"rate) x {2 * m['seeds']} seeds in one vmapped program per (problem, optimizer); best "
        f"rate by median steps to target on seeds 0..{m['seeds'] - 1}, reported on seeds "
        f"{m['seeds']}..{2 * m['seeds'] - 1}",
        f"- wall time {m['wall_s']:.1f} s (compile {m['compile_s']:.1f} s, run "
        f"{m['run_s']:.1f} s)", "",
        f"## AlgoPerf score (area under the performance profile, tau in [1, {m['r_max']:g}])",
        "", *_score_table(report), "",
        "## Performance ratio to the best optimizer per problem (tuned lr, fresh seeds)", "",
        *_ratio_table(report), "", "## Per problem", "",
        "Columns: *best lr*, chosen on the tuning seeds (*ext. high/low*: the grid was "
        "extended once past that edge and the best now lies inside; *edge*: still on the edge "
        "after the extension); *steps to target*, median [IQR] over the fresh seeds (*miss* "
        "when the median falls among misses; a run that goes non-finite is a miss); *time to "
        "target* = median steps x *us/step*, the program's run time per step and per run, "
        "amortized over the vmapped batch; *final*: median final metric on the fresh seeds; "
        "*compile s*: tracing and XLA compilation of the one program.", "",
    ]
    if any(r.get("gd_is_sgd") for r in report["runs"]):
        lines += ["*gd (= sgd)*: the problem has no `full_loss` (it is not a "
                  "`FullBatchProblem`), so `gd` runs SGD on its one-step `loss`; where both are "
                  "asked for, gd reuses sgd's runs. Elsewhere `gd` descends `full_loss`.", ""]
    for name in report["problems"]:
        lines += _problem_table(report, name) + [""]
    lines += ["## Figures", "", "- [performance profiles](profile.png)"]
    for name in report["problems"]:
        lines.append(f"- {name}: [curves](curves_{name}.png), "
                     f"[learning-rate sensitivity](lr_{name}.png)"
                     + (f", [paths](paths_{name}.png)" if _is_2d(name) else ""))
    lines.append("")
    seq = report.get("sequential")
    if seq:
        lines += [
            f"## Speed of the benchmark itself ({seq['problem']}, {len(seq['optimizers'])} "
            f"optimizers, median of {seq['reps']})", "",
            "| protocol | seconds | sequential / this |", "|---|---:|---:|",
            f"| vmapped: one program per optimizer, one at a time | {seq['vmapped_s']:.1f} | "
            f"{seq['ratio']:.2f} |",
            f"| vmapped, {seq['workers']} worker threads (the command line's way) | "
            f"{seq['vmapped_workers_s']:.1f} | {seq['ratio_workers']:.2f} |",
            f"| sequential: a jitted run per lr and seed, Python-float lr (a compile per lr) "
            f"| {seq['sequential_s']:.1f} | 1.00 |",
            f"| sequential: a jitted run per lr and seed, lr as an argument (one compile) "
            f"| {seq['sequential_traced_s']:.1f} | "
            f"{seq['sequential_s'] / seq['sequential_traced_s']:.2f} |", "",
            f"Same learning rates chosen every way: {seq['same_choice']}.", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- JSON


def to_json(obj: Any, digits: int = 6) -> Any:
    """A JSON-safe copy: floats rounded to ``digits`` significant digits, inf/nan as None."""
    if isinstance(obj, dict):
        return {str(k): to_json(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json(v, digits) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_json(obj.tolist(), digits)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return float(f"{x:.{digits}g}") if math.isfinite(x) else None
    return obj


def write_json(report: dict, path: str) -> str:
    """Writes ``to_json(report)`` compactly; gzip-compressed when ``path`` ends in ``.gz``."""
    text = json.dumps(to_json(report), separators=(",", ":"), allow_nan=False)
    if path.endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        with open(path, "w") as f:
            f.write(text)
    return path


def write(report: dict, out: str, problem_list: Sequence[Any] = (), *,
          gzip_json: bool = False) -> list[str]:
    """Writes ``convergence.json`` (``.json.gz`` with ``gzip_json``), ``report.md`` and the
    figures into ``out``; returns the paths."""
    os.makedirs(out, exist_ok=True)
    paths = [write_json(report, os.path.join(
        out, "convergence.json" + (".gz" if gzip_json else "")))]
    paths.append(os.path.join(out, "report.md"))
    with open(paths[1], "w") as f:
        f.write(markdown(report) + "\n")
    return paths + figures(report, out, problem_list)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _style(report: dict, optimizer: str) -> dict[str, Any]:
    """The same colour and line style for an optimizer in every figure (up to 20 distinct)."""
    import matplotlib

    names = list(dict.fromkeys(r["optimizer"] for r in report["runs"]))
    i = names.index(optimizer)
    cmap = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {"color": cmap(i % cmap.N), "ls": "-" if i < cmap.N else "--"}


def _band(ax, x, curves, label, log: bool, style: dict[str, Any]) -> None:
    """Median line and interquartile band over runs (non-finite points left out)."""
    c = np.asarray(curves, dtype=np.float64)
    c = np.where(np.isfinite(c), c, np.nan)
    if np.isnan(c).all():
        return
    with _quiet():
        q1, med, q3 = np.nanpercentile(c, [25, 50, 75], axis=0)
    if log:
        q1, med, q3 = (np.where(v > 0, v, np.nan) for v in (q1, med, q3))
    ax.plot(x, med, label=label, lw=1.4, **style)
    ax.fill_between(x, q1, q3, color=style["color"], alpha=0.2, lw=0)


@contextlib.contextmanager
def _quiet():
    """Silences NumPy's all-NaN-slice warnings (a column of diverged runs is expected)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _curves_figure(plt, report: dict, name: str, path: str) -> None:
    info = report["problems"][name]
    runs = [r for r in report["runs"] if r["problem"] == name]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for r in runs:
        fresh = slice(len(r["tuning_seeds"]), r["seeds"])
        x = np.arange(len(r["curves"]["metric"][0][0])) * info["eval_every"]
        label = f"{r['optimizer']} ({r['best_lr']:.2g})"
        style = _style(report, r["optimizer"])
        _band(axes[0], x, np.asarray(r["curves"]["loss"])[r["best_index"], fresh], label, True,
              style)
        _band(axes[1], x, np.asarray(r["curves"]["metric"])[r["best_index"], fresh], label,
              not info["higher_is_better"], style)
    axes[0].set(yscale="log", xlabel="step", ylabel="training loss (mean over chunk)")
    axes[1].axhline(info["target"], color="k", ls="--", lw=0.8, label="target")
    axes[1].set(xlabel="step", ylabel=info["metric_name"],
                yscale="linear" if info["higher_is_better"] else "log")
    axes[1].legend(fontsize=7, ncol=2)
    fig.suptitle(f"{name}: median and IQR over fresh seeds at the tuned learning rate")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _lr_figure(plt, report: dict, name: str, path: str) -> None:
    info = report["problems"][name]
    runs = [r for r in report["runs"] if r["problem"] == name]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    miss_y = info["budget"] * 1.25
    for r in runs:
        k = len(r["tuning_seeds"])
        lrs = np.asarray(r["lrs"])
        steps = np.asarray(r["steps"], dtype=np.float64)[:, :k]
        med = np.array([profiles.quantile(row, 0.5) for row in steps])
        style = _style(report, r["optimizer"])
        axes[0].plot(lrs, np.where(np.isfinite(med), med, np.nan), marker="o", ms=3,
                     label=r["optimizer"], **style)
        missed = ~np.isfinite(med)
        axes[0].plot(lrs[missed], np.full(missed.sum(), miss_y), "x", color=style["color"])
        final = np.asarray(r["curves"]["metric"], dtype=np.float64)[:, :k, -1]
        with _quiet():
            axes[1].plot(lrs, np.nanmedian(np.where(np.isfinite(final), final, np.nan), axis=1),
                         marker="o", ms=3, label=r["optimizer"], **style)
    axes[0].axhline(miss_y, color="gray", lw=0.5)
    axes[0].set(xscale="log", yscale="log", xlabel="learning rate",
                ylabel="median steps to target (x = miss)")
    axes[1].axhline(info["target"], color="k", ls="--", lw=0.8)
    axes[1].set(xscale="log", xlabel="learning rate", ylabel=f"final {info['metric_name']}",
                yscale="linear" if info["higher_is_better"] else "log")
    axes[0].legend(fontsize=7, ncol=2)
    fig.suptitle(f"{name}: learning-rate sensitivity (tuning seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _profile_figure(plt, report: dict, path: str) -> None:
    taus = np.linspace(1.0, profiles.R_MAX, 301)
    rho = profiles.performance_profile(report["ratios_tuned"], taus)
    scores = report["scores_tuned"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for o in sorted(rho, key=lambda o: -scores[o]):
        ax.step(taus, rho[o], where="post", label=f"{o} ({scores[o]:.2f})", **_style(report, o))
    ax.set(xlabel="tau: steps to target / best optimizer's", ylabel="fraction of problems",
           xlim=(1, profiles.R_MAX), ylim=(0, 1.02),
           title="Performance profiles (AlgoPerf score in brackets)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _path_rates(report: dict, problem: Any) -> dict[str, tuple[float, str]]:
    """Each path optimizer's rate: tuned where it reached the target here, else the paths
    example's good rate for this function, else the customary default."""
    from benchmarks import convergence_optimizers
    from examples import optimizer_paths

    runs = {r["optimizer"]: r for r in report["runs"] if r["problem"] == problem.name}
    example = optimizer_paths.LEARNING_RATES.get(problem.name, {})
    rates = {}
    for name in PATH_OPTIMIZERS:
        run = runs.get(name)
        if run is not None and math.isfinite(run["tuned"]["median"]):
            rates[name] = (run["best_lr"], "tuned")
        elif _EXAMPLE_NAMES[name] in example:
            rates[name] = (example[_EXAMPLE_NAMES[name]], "example")
        else:
            rates[name] = (convergence_optimizers.optimizer_spec(name).default_lr, "default")
    return rates


_EXAMPLE_NAMES = {"gd": "GD", "momentum": "momentum", "nesterov": "Nesterov",
                  "rmsprop": "RMSprop", "adam": "Adam"}


def _paths_figure(report: dict, problem: Any, path: str) -> str | None:
    """GD, momentum, Nesterov, RMSprop and Adam over the contour (see ``_path_rates``)."""
    from benchmarks import convergence_optimizers
    from benchmarks import problems as problem_set
    from examples import optimizer_paths
    from jaxdl import optim

    try:
        fn, bounds = problem_set.function(problem.name), problem_set.bounds(problem.name)
    except (KeyError, ValueError):
        return None  # not a 2-D function
    optimizers = {}
    for name, (lr, how) in _path_rates(report, problem).items():
        spec = convergence_optimizers.optimizer_spec(name)
        optimizers[f"{name} ({how} {lr:.2g})"] = spec.build(optim, lr)
    start = np.asarray(problem.init(jax.random.key(0)), dtype=np.float32)
    paths = optimizer_paths.trajectories(fn, start, optimizers, problem.budget)
    return optimizer_paths.plot_paths(
        fn, paths, bounds, path, title=f"{problem.name}: {problem.budget} steps")


def figures(report: dict, out: str, problem_list: Sequence[Any] = ()) -> list[str]:
    """Draws the PNG figures into ``out`` (see the module docstring); returns their paths.

    Args:
      report: from ``build``.
      out: the folder.
      problem_list: the problems (needed for the 2-D paths; others are skipped without them).

    Returns:
      The paths written.
    """
    plt = _plt()
    written = []
    for name in report["problems"]:
        for kind, draw in (("curves", _curves_figure), ("lr", _lr_figure)):
            path = os.path.join(out, f"{kind}_{name}.png")
            draw(plt, report, name, path)
            written.append(path)
    path = os.path.join(out, "profile.png")
    _profile_figure(plt, report, path)
    written.append(path)
    for problem in problem_list:
        drawn = _paths_figure(report, problem, os.path.join(out, f"paths_{problem.name}.png"))
        if drawn:
            written.append(drawn)
    return written
