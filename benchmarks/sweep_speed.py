"""Many trainings at once: one vmapped ``jaxdl.sweep.run`` vs the same runs one after another.

32 trainings of the digits MLP 64-256-256-10 (ReLU; the model of ``benchmarks/speed.py``):
4 initialisation schemes x 8 seeds, 300 Adam(1e-3) steps of batch 64 each (epochs of 28 full
batches, reshuffled per run, the partial batch dropped), softmax cross-entropy, and an
evaluation of the whole training set (1,797 examples) at step 0 and every 50 steps (7 in
all). The ways to run them, timed interleaved in one process (rep 1: a, b, c, d; rep 2:
b, c, d, a; ...), medians over the repetitions:

    (a) ``jaxdl.sweep.run(model, adam, schemes=[4 names], seeds=8)``: one vmapped program;
    (b) what a user writes without sweeps: ``train.make_train_step``, one jitted function
        that trains one run (a ``lax.scan`` over the steps, the same evaluations), compiled
        once and called from a Python loop over the 32 runs, each run's weights drawn
        eagerly outside the jit (so a new scheme needs no recompile);
    (c) the loop of (b) written with optax + ``jax.example_libraries.stax``;
    (d) diagnostic: ``sweep.run(..., max_parallel=1)``, the sweep's program for one run,
        compiled once and called 32 times: it separates what vmap costs from what the
        sweep's program holds.

Every way reproduces the sweep's per-run randomness (``key(seed)`` split into init, scheme,
run and order keys; epoch ``e``'s order is ``permutation(fold_in(order_key, e))``), so the
32 final losses agree across the ways: a check that they do the same work. A probe timed
in the same repetitions compares the step's largest matmul alone and batched as vmap
batches it.

End to end is everything from the call to the results on the host: checks, tracing,
compiling, initialising, training, fetching curves and final params. Each call compiles
anew (fresh closures; no persistent compilation cache); compile time is
``jax.jit(f).lower(...).compile()`` (the sweep's own ``compile_seconds`` for (a), (d)).
Two settings: in one process, after an untimed warm-up repetition (not with ``--quick``)
that fills JAX's caches of eagerly run operations (what a notebook sees from its second
sweep on); and each call in a fresh process (what a script pays: (b) and (c) then compile
every eager operation of their weight initialisation too).

    python -m benchmarks.sweep_speed [--quick] [--repeats 5] [--fresh 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import jaxdl
from benchmarks.speed import SIZES, _hardware, _load, make_model
from jaxdl import data, nn, optim, sweep, train

LEARNING_RATE = 1e-3
LABELS = {
    "a": "jaxdl sweep.run, one vmapped program",
    "b": "jaxdl make_train_step, jitted scan per run, loop over runs",
    "c": "optax + stax, jitted scan per run, loop over runs",
    "d": "diagnostic: sweep.run(max_parallel=1), one run per call",
}


class Config(NamedTuple):
    """The sweep's size."""

    schemes: tuple[str, ...] = ("lecun_normal", "xavier_uniform", "he_normal", "small_normal")
    seeds: int = 8
    steps: int = 300
    batch_size: int = 64
    eval_every: int = 50

    @property
    def runs(self) -> int:
        return len(self.schemes) * self.seeds


FULL = Config()
QUICK = Config(schemes=("lecun_normal", "he_normal"), seeds=2, steps=20, eval_every=10)


class Timing(NamedTuple):
    """One way, one repetition. Seconds: ``total`` end to end (wall), ``cpu`` the process's
    CPU time over the same span (all threads), ``compile`` lowering and compiling, ``run``
    the compiled program's calls until the results are on the host; ``final_loss``: the
    final train losses ``(schemes, seeds)``."""

    total: float
    cpu: float
    compile: float
    run: float
    final_loss: np.ndarray


class Clock:
    """Wall and process CPU time since construction."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


# --- (a) the sweep ------------------------------------------------------------------------

def run_sweep(config: Config, dataset, max_parallel: int | None = None) -> Timing:
    """(a): one ``sweep.run`` call; (d) with ``max_parallel=1``."""
    clock = Clock()
    result = sweep.run(make_model(), optim.adam(LEARNING_RATE), dataset, steps=config.steps,
                       batch_size=config.batch_size, seeds=config.seeds,
                       schemes=list(config.schemes), eval_every=config.eval_every,
                       max_parallel=max_parallel)
    return Timing(*clock.stop(), result.compile_seconds, result.run_seconds,
                  result.final["train_loss"])


# --- (b), (c): one run at a time ----------------------------------------------------------

def run_keys(seed: int) -> tuple[jax.Array, ...]:
    """The sweep's per-run keys: ``key(seed)`` split into init, scheme, run and order keys."""
    return tuple(jax.random.split(jax.random.key(seed), 4))


def initial_params(model: nn.Layer, scheme: str, init_key, scheme_key, input_shape) -> Any:
    """The run's initial params, drawn eagerly as the sweep draws them (model init, then
    every weight re-drawn from ``scheme``)."""
    _, params, _ = model.init(init_key, input_shape)
    return sweep.reinitialize(params, scheme, scheme_key)


def batch_indices(order_key: jax.Array, m: int, config: Config) -> jax.Array:
    """``(steps // eval_every, eval_every, batch_size)`` example indices: epoch ``e``'s order
    is ``permutation(fold_in(order_key, e), m)``, cut into full batches (traceable)."""
    per_epoch = m // config.batch_size
    epochs = -(-config.steps // per_epoch)
    orders = jax.vmap(lambda e: jax.random.permutation(jax.random.fold_in(order_key, e), m))(
        jnp.arange(epochs))
    idx = orders[:, : per_epoch * config.batch_size].reshape(-1, config.batch_size)
    return idx[: config.steps].astype(jnp.int32).reshape(
        config.steps // config.eval_every, config.eval_every, config.batch_size)


def scan_run(step: Callable, evaluate: Callable, config: Config, m: int) -> Callable:
    """``(carry, order_key, x, y) -> (carry, batch_losses (steps,), {loss, accuracy}: (E,))``:
    one run's training, ``step(carry, (xb, yb)) -> (carry, loss)`` fused with ``lax.scan``,
    evaluated on ``(x, y)`` at step 0 and after every ``eval_every`` steps."""

    def one_run(carry, order_key, x, y):
        def chunk(carry, idx):
            carry, losses = lax.scan(lambda c, i: step(c, (x[i], y[i])), carry, idx)
            return carry, (losses, evaluate(carry, x, y))

        first = evaluate(carry, x, y)
        carry, (losses, curves) = lax.scan(chunk, carry, batch_indices(order_key, m, config))
        curves = {k: jnp.concatenate([first[k][None], v]) for k, v in curves.items()}
        return carry, losses.reshape(-1), curves

    return one_run


def sequential(config: Config, dataset, setup: Callable) -> Timing:
    """(b)/(c): ``setup(model) -> (step, evaluate, to_carry)``, then one compile and a Python
    loop over the runs; ``to_carry(params, run_key)`` makes a run's starting carry from the
    params the sweep would start it from."""
    clock = Clock()
    model = make_model()
    x, y = (jnp.asarray(a) for a in dataset)
    step, evaluate, to_carry = setup(model)
    program = jax.jit(scan_run(step, evaluate, config, x.shape[0]))
    compiled, compile_s, run_s, losses = None, 0.0, 0.0, []
    for scheme in config.schemes:
        for seed in range(config.seeds):
            init_key, scheme_key, run_key, order_key = run_keys(seed)
            params = initial_params(model, scheme, init_key, scheme_key, tuple(x.shape[1:]))
            carry = to_carry(params, run_key)
            if compiled is None:
                began = time.perf_counter()
                compiled = program.lower(carry, order_key, x, y).compile()
                compile_s = time.perf_counter() - began
            began = time.perf_counter()
            carry, batch_loss, curves = jax.device_get(compiled(carry, order_key, x, y))
            run_s += time.perf_counter() - began
            losses.append(curves["loss"][-1])
    return Timing(*clock.stop(), compile_s, run_s,
                  np.asarray(losses).reshape(len(config.schemes), -1))


def jaxdl_setup(model: nn.Layer):
    """(b): the jaxdl train and eval steps; the carry is a ``train.TrainState``."""
    opt = optim.adam(LEARNING_RATE)
    train_step = train.make_train_step(model, "cross_entropy", opt)
    eval_step = train.make_eval_step(model, "cross_entropy")

    def step(ts, batch):
        ts, metrics = train_step(ts, batch)
        return ts, metrics["loss"]

    def evaluate(ts, x, y):
        found = eval_step(ts, (x, y))
        return {"loss": found["loss"], "accuracy": found["accuracy"]}

    def to_carry(params, run_key):
        return train.TrainState(params, {}, opt.init(params), jnp.zeros([], jnp.int32),
                                run_key, jnp.zeros([], jnp.int32))

    return step, evaluate, to_carry


def stax_setup(model: nn.Layer):
    """(c): a hand-written optax + stax step; the carry is ``(stax params, opt_state)``."""
    import optax
    from jax.example_libraries import stax

    layers = []
    for features in SIZES[1:-1]:
        layers += [stax.Dense(features), stax.Relu]
    _, apply_fn = stax.serial(*layers, stax.Dense(SIZES[-1]))
    tx = optax.adam(LEARNING_RATE)

    def loss_of(params, x, y):
        logits = apply_fn(params, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), logits

    def step(carry, batch):
        params, opt_state = carry
        (loss, _), grads = jax.value_and_grad(loss_of, has_aux=True)(params, *batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    def evaluate(carry, x, y):
        loss, logits = loss_of(carry[0], x, y)
        return {"loss": loss, "accuracy": jnp.mean(jnp.argmax(logits, -1) == y)}

    def to_carry(params, run_key):
        stacked = []
        for i in range(len(SIZES) - 1):
            stacked += [(params[f"dense_{i}"]["w"], params[f"dense_{i}"]["b"]), ()]
        stacked = stacked[:-1]  # stax's Relu layers hold an empty tuple
        return stacked, tx.init(stacked)

    return step, evaluate, to_carry


# --- timing and the table -----------------------------------------------------------------

WAYS = {"a": run_sweep, "b": functools.partial(sequential, setup=jaxdl_setup),
        "c": functools.partial(sequential, setup=stax_setup),
        "d": functools.partial(run_sweep, max_parallel=1)}


class MatmulProbe:
    """The step's largest matmul alone and batched as ``vmap`` batches it: a chain of
    ``tanh(x @ w)`` with ``x`` (64, 256) and ``w`` (256, 256), one run's vs ``runs`` runs' at
    once (``(runs, 64, 256) @ (runs, 256, 256)``), in one ``fori_loop`` each."""

    def __init__(self, runs: int, length: int):
        rng = np.random.default_rng(1)
        self.runs, self.length = runs, length
        self.x = jnp.asarray(rng.standard_normal((runs, 64, SIZES[1])), jnp.float32)
        self.w = jnp.asarray(rng.standard_normal((runs, SIZES[1], SIZES[1])) / 16, jnp.float32)
        chain = lambda x, w: lax.fori_loop(0, length, lambda _, x: jnp.tanh(x @ w), x)
        self.single, self.batched = jax.jit(chain), jax.jit(jax.vmap(chain))
        jax.block_until_ready((self.single(self.x[0], self.w[0]), self.batched(self.x, self.w)))

    def measure(self) -> tuple[float, float]:
        """Microseconds a run's matmul (and tanh): alone, and within the batch."""
        start = time.perf_counter()
        jax.block_until_ready(self.single(self.x[0], self.w[0]))
        middle = time.perf_counter()
        jax.block_until_ready(self.batched(self.x, self.w))
        end = time.perf_counter()
        return (1e6 * (middle - start) / self.length,
                1e6 * (end - middle) / (self.length * self.runs))


def measure(config: Config, repeats: int, warm_up: bool = True,
            ) -> tuple[dict[str, list[Timing]], tuple[float, float]]:
    """An optional untimed warm-up repetition, then ``repeats`` interleaved ones, the order
    rotated by one way each repetition, each followed by the matmul probe; returns the
    timings and the probe's medians."""
    dataset = data.digits()
    names = list(WAYS)
    if warm_up:
        for name in names:
            WAYS[name](config, dataset)
    probe, probed = MatmulProbe(config.runs, 20 if config is QUICK else 200), []
    timings: dict[str, list[Timing]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            timings[name].append(WAYS[name](config, dataset))
        probed.append(probe.measure())
    return timings, tuple(statistics.median(p) for p in zip(*probed))


def fresh(name: str, quick: bool) -> Timing:
    """One way timed in a fresh Python process, from its first call after ``import jax`` and
    the backend's start-up (the same for every way)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "benchmarks.sweep_speed", "--child", name]
    done = subprocess.run(command + (["--quick"] if quick else []), cwd=root, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"sweep_speed: the fresh process for ({name}) failed:\n{done.stderr}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return Timing(*(found[k] for k in ("total", "cpu", "compile", "run")),
                  np.asarray(found["final_loss"]))


def _child(name: str, config: Config) -> None:
    """``--child``: start the backend, import what every way imports, time way ``name``,
    print its timing as JSON."""
    import optax  # noqa: F401  (a script imports its libraries before it trains)
    from jax.example_libraries import stax  # noqa: F401

    jax.block_until_ready(jnp.zeros(1))
    t = WAYS[name](config, data.digits())
    print(json.dumps({**t._asdict(), "final_loss": t.final_loss.tolist()}))


def measure_fresh(quick: bool, repeats: int) -> dict[str, list[Timing]]:
    """``repeats`` interleaved repetitions of every way, each in a fresh process."""
    names = list(WAYS)
    timings: dict[str, list[Timing]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            timings[name].append(fresh(name, quick))
    return timings


def _median_ratio(top: list[float], bottom: list[float]) -> float:
    return statistics.median(t / b for t, b in zip(top, bottom))


def summarize(config: Config, timings: dict[str, list[Timing]], setting: str = "one process",
              ) -> list[dict]:
    """A row per way: medians (and the IQR of end to end) over the repetitions; speed-ups are
    medians of per-repetition ratios to (b); final losses of the last repetition."""
    rows = []
    base = timings["b"]
    for name, reps in timings.items():
        field = lambda f, reps=reps: [getattr(t, f) for t in reps]
        total = field("total")
        rows.append({
            "variant": name, "label": LABELS[name], "setting": setting,
            "total_s": statistics.median(total), "q1": float(np.percentile(total, 25)),
            "q3": float(np.percentile(total, 75)),
            "cpu_s": statistics.median(field("cpu")),
            "compile_s": statistics.median(field("compile")),
            "run_s": statistics.median(field("run")),
            "other_s": statistics.median(t.total - t.compile - t.run for t in reps),
            "ms_per_run": 1e3 * statistics.median(field("run")) / config.runs,
            "speedup_vs_b": _median_ratio([t.total for t in base], total),
            "cpu_speedup_vs_b": _median_ratio([t.cpu for t in base], field("cpu")),
            "compile_vs_b": _median_ratio(field("compile"), [t.compile for t in base]),
            "final_loss": reps[-1].final_loss,
            "median_final_loss": float(np.median(reps[-1].final_loss)),
        })
    return rows


def _table(title: str, rows: list[dict]) -> list[str]:
    lines = [title, "", "| way | end to end s | IQR | CPU s | compile s | run s | other s "
             "| ms a run | speed-up vs (b) | CPU speed-up vs (b) | compile / (b)'s "
             "| median final loss |", "|---|" + "---:|" * 11]
    for r in rows:
        lines.append(
            f"| ({r['variant']}) {r['label']} | {r['total_s']:.2f} | {r['q1']:.2f}-"
            f"{r['q3']:.2f} | {r['cpu_s']:.2f} | {r['compile_s']:.2f} | {r['run_s']:.2f} | "
            f"{r['other_s']:.2f} | {r['ms_per_run']:.0f} | {r['speedup_vs_b']:.2f} | "
            f"{r['cpu_speedup_vs_b']:.2f} | {r['compile_vs_b']:.2f} | "
            f"{r['median_final_loss']:.4g} |")
    return lines + [""]


def _goals(setting: str, rows: list[dict]) -> list[str]:
    a = rows[0]
    return [f"- {setting}: the sweep >= 1.3x faster end to end: {a['speedup_vs_b']:.2f}x, "
            + ("met" if a["speedup_vs_b"] >= 1.3 else "NOT met")
            + f"; its compile <= 2x a single run's: {a['compile_vs_b']:.2f}x, "
            + ("met" if a["compile_vs_b"] <= 2 else "NOT met")]


def markdown(config: Config, rows: list[dict], method: str, load: tuple[tuple, tuple],
             probe: tuple[float, float] | None = None,
             fresh_rows: list[dict] | None = None) -> str:
    """The report: set-up, the table(s), the goals and a reading of the numbers. ``rows``:
    in one process; ``fresh_rows``: each call in a fresh process; ``probe``: the matmul
    probe's microseconds (alone, batched)."""
    import optax

    by = {r["variant"]: r for r in rows}
    a, b, d = by["a"], by["b"], by["d"]
    versions = (f"jaxdl {jaxdl.__version__}, jax {jax.__version__}, optax {optax.__version__}, "
                f"numpy {np.__version__}, python {sys.version.split()[0]}")
    agree = max(float(np.max(np.abs(r["final_loss"] - b["final_loss"]) / b["final_loss"]))
                for r in rows + (fresh_rows or []))
    lines = [
        f"# Sweep speed: {config.runs} trainings of the digits MLP, one vmapped sweep vs one "
        "run at a time", "",
        f"- date: {datetime.datetime.now().isoformat(timespec='minutes')}",
        f"- hardware: {_hardware()}",
        f"- versions: {versions}",
        f"- load average (1, 5, 15 min): before {_load(load[0])}; after {_load(load[1])}",
        f"- runs: {len(config.schemes)} schemes ({', '.join(config.schemes)}) x "
        f"{config.seeds} seeds; MLP {'-'.join(map(str, SIZES))} (ReLU), Adam "
        f"{LEARNING_RATE:g}, {config.steps} steps of batch {config.batch_size}, softmax "
        f"cross-entropy, {config.steps // config.eval_every + 1} evaluations of the whole "
        "training set (1,797 examples) a run",
        f"- method: {method}; end to end = wall time of the call (or loop) until every result "
        "is on the host, compiles included; CPU = the process's CPU time (both cores) over "
        "the same span; every call compiles anew; medians over repetitions; speed-ups = "
        "medians of the per-repetition ratios (b) / way",
        "- columns: run s = time in the compiled program's calls, results fetched; other s = "
        "end to end less compile and run (checks, set-up, the eager initialisation of each "
        "run in (b) and (c), Python); ms a run = run s / runs", "",
    ]
    lines += _table("In one process (after a warm-up that fills JAX's caches of eagerly run "
                    "operations):" if "warm-up" in method else "In one process:", rows)
    if fresh_rows:
        lines += _table("Each call in a fresh process (timed from the first call after "
                        "`import jax` and the backend's start-up; what a script pays):",
                        fresh_rows)
    lines += ["Goals (from the issue):", *_goals("in one process", rows)]
    if fresh_rows:
        lines += _goals("in a fresh process", fresh_rows)
    lines += [
        "", "Reading:",
        f"- Training a run costs {a['ms_per_run']:.0f} ms under the sweep's vmap and "
        f"{b['ms_per_run']:.0f} ms one at a time: vmapping makes each run "
        f"{b['ms_per_run'] / a['ms_per_run']:.2f}x as fast. A scan over hundreds of steps "
        "has little per-call overhead for vmap to remove; what remains is the runs' "
        "arithmetic, which batching does not make cheaper on a CPU (next line).",
        *([f"- The step's largest matmul (64x256 @ 256x256, with a tanh) takes {probe[0]:.0f} "
           f"us alone and {probe[1]:.0f} us a run batched over {config.runs} runs as vmap "
           f"batches it (same repetitions): XLA:CPU's batched matmul does "
           f"{probe[0] / probe[1]:.2f}x the work per second of the plain one."] if probe else []),
        f"- Compile: the sweep's program for {config.runs} runs takes {a['compile_s']:.2f} s, "
        f"the same program for one run (d) {d['compile_s']:.2f} s, the hand-written one-run "
        f"program (b) {b['compile_s']:.2f} s. The sweep's program also holds each run's "
        "initialisation (the model's init, then every scheme's initialiser behind a "
        "`lax.switch`, which under `vmap` runs every branch and selects) and the shuffle; "
        "(b) draws its weights eagerly, outside its program: nearly free once JAX has "
        "compiled each eager operation, and the 'other' seconds of the fresh-process table "
        "until then.",
        f"- Same work: every way reproduces each run's keys, so the final train losses agree "
        f"run for run (largest relative difference to (b): {agree:.1e}; batched and plain "
        "matmuls round differently, and training amplifies it).",
        "- On a GPU the balance turns: one run of this MLP launches kernels that occupy a "
        "few of the GPU's SMs for microseconds, so a single run is bound by launch latency "
        "and the 32 vmapped runs cost about what one does; expect the sweep's run time to "
        "approach that of one run, a speed-up of the order of the number of runs (10x or "
        "more here), until the batched matmuls fill the GPU. Not measured: no GPU in this "
        "session.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 schemes x 2 seeds, 20 steps, 1 repetition, no warm-up, no "
                             "fresh processes (the smoke test)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="interleaved repetitions in one process (default 5; 1 with "
                             "--quick)")
    parser.add_argument("--fresh", type=int, default=None,
                        help="repetitions with each call in a fresh process (default 3; 0 "
                             "with --quick)")
    parser.add_argument("--out", default=None, metavar="FILE", help="write the table here")
    parser.add_argument("--note", action="append", default=[],
                        help="a line for the report (the conditions of the run, say)")
    parser.add_argument("--child", choices=list(WAYS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    config = QUICK if args.quick else FULL
    if args.child:
        _child(args.child, config)
        return []
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 5)
    fresh_repeats = args.fresh if args.fresh is not None else (0 if args.quick else 3)
    if repeats < 1 or fresh_repeats < 0:
        parser.error(f"need --repeats >= 1 and --fresh >= 0, got {repeats} and "
                     f"{fresh_repeats}")
    warm_up = not args.quick
    load_before = os.getloadavg()
    timings, probe = measure(config, repeats, warm_up)
    rows = summarize(config, timings)
    fresh_rows = (summarize(config, measure_fresh(args.quick, fresh_repeats), "fresh process")
                  if fresh_repeats else None)
    method = (f"{repeats} interleaved repetitions in one process"
              + (" after an untimed warm-up" if warm_up else " (no warm-up)")
              + (f", then {fresh_repeats} with each call in a fresh process"
                 if fresh_repeats else "") + ", the order rotated each repetition")
    table = markdown(config, rows, method, (load_before, os.getloadavg()), probe, fresh_rows)
    table += "".join(f"- note: {note}\n" for note in args.note)
    print(table)
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w") as f:
            f.write(table)
    return rows + (fresh_rows or [])


if __name__ == "__main__":
    main()
