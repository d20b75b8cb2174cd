"""Update-and-apply throughput of jaxdl's optimizers against optax's, and a bandwidth floor.

For each optimizer, one jitted step with donated buffers computes
``updates, state = opt.update(grads, state, params); params = apply_updates(params, updates)``
over a ~10M-parameter tree of 20 leaves. jaxdl and optax run interleaved in one process
(rep 1: jaxdl, optax, floor; rep 2: ...), and the median over repetitions is reported.

The floor is a fused ``x + 1`` over the same tree (one read, one write per leaf), scaled by the
number of arrays the optimizer must move per parameter (reads + writes), e.g. Adam reads
params, grads, mu, nu and writes params, mu, nu: 7 arrays, 3.5 times the ``x + 1`` traffic.

    python -m benchmarks.optim_speed [--quick] [--reps 21] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp

import jaxdl
from jaxdl import optim

# (name, factory of either library's module, arrays moved per parameter)
OPTIMIZERS = [
    ("sgd", lambda o: o.sgd(1e-2), 3),
    ("momentum", lambda o: o.sgd(1e-2, momentum=0.9), 5),
    ("adam", lambda o: o.adam(1e-3), 7),
    ("adamw", lambda o: o.adamw(1e-3, weight_decay=1e-4), 7),
    ("lion", lambda o: o.lion(1e-4), 5),
]


def make_tree(quick: bool) -> dict[str, jax.Array]:
    """20 leaves: 8 of 1024x1024, 4 of 512x512, 4 of 1024 and 4 of 256x256 (~9.7M params)."""
    scale = 16 if quick else 1
    shapes = (
        [(1024 // scale, 1024)] * 8 + [(512 // scale, 512)] * 4 + [(1024,)] * 4
        + [(256 // scale, 256)] * 4
    )
    keys = jax.random.split(jax.random.key(0), len(shapes))
    return {f"leaf_{i:02d}": jax.random.normal(k, s) for i, (k, s) in enumerate(zip(keys, shapes))}


def make_step(tx, apply_updates):
    def step(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return apply_updates(params, updates), state

    return jax.jit(step, donate_argnums=(0, 1))


def time_calls(fn, args, iters):
    """Seconds per call: ``iters`` chained calls (each feeding the next), after the first."""
    out = fn(*args)
    jax.block_until_ready(out)
    start = time.perf_counter()
    for _ in range(iters):
        out = fn(*out, *args[len(out):])
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / iters, out


def run(quick: bool = False, reps: int = 21, iters: int = 10) -> list[dict]:
    import optax

    tree = make_tree(quick)
    n_params = sum(x.size for x in jax.tree.leaves(tree))
    grads = jax.tree.map(lambda x: 1e-3 * x, tree)
    floor_step = jax.jit(lambda t: (jax.tree.map(lambda x: x + 1.0, t),), donate_argnums=0)
    rows = []
    for name, factory, arrays in OPTIMIZERS:
        ours, theirs = factory(optim), factory(optax)
        runners = {
            "jaxdl": (make_step(ours, optim.apply_updates),
                      [jax.tree.map(jnp.copy, tree), None]),
            "optax": (make_step(theirs, optax.apply_updates),
                      [jax.tree.map(jnp.copy, tree), None]),
        }
        runners["jaxdl"][1][1] = ours.init(runners["jaxdl"][1][0])
        runners["optax"][1][1] = theirs.init(runners["optax"][1][0])
        floor_args = [jax.tree.map(jnp.copy, tree)]
        times: dict[str, list[float]] = {"jaxdl": [], "optax": [], "floor": []}
        for _ in range(reps):
            for lib, (step, carry) in runners.items():
                t, out = time_calls(step, (*carry, grads), iters)
                carry[:] = list(out)
                times[lib].append(t)
            t, out = time_calls(floor_step, tuple(floor_args), iters)
            floor_args = list(out)
            times["floor"].append(t * arrays / 2)
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append({
            "optimizer": name,
            "params": n_params,
            "jaxdl_ms": 1e3 * med["jaxdl"],
            "optax_ms": 1e3 * med["optax"],
            "floor_ms": 1e3 * med["floor"],
            "jaxdl_over_optax": med["jaxdl"] / med["optax"],
            "jaxdl_over_floor": med["jaxdl"] / med["floor"],
            "optax_over_floor": med["optax"] / med["floor"],
        })
    return rows


def markdown(rows: list[dict], reps: int, iters: int) -> str:
    import optax

    device = jax.devices()[0]
    lines = [
        "# Optimizer step speed: jaxdl vs optax",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- device: {device.platform} ({device.device_kind}), {os.cpu_count()} CPU cores, "
        f"{platform.processor() or platform.machine()}",
        f"- versions: jaxdl {jaxdl.__version__}, jax {jax.__version__}, optax {optax.__version__}",
        f"- tree: {rows[0]['params']:,} float32 params in 20 leaves; jitted update + apply, "
        f"donated buffers; median of {reps} interleaved repetitions of {iters} chained steps",
        "- floor: fused `x + 1` over the tree, scaled by arrays moved per parameter / 2",
        "",
        "| optimizer | jaxdl ms | optax ms | floor ms | jaxdl/optax | jaxdl/floor | optax/floor |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['optimizer']} | {r['jaxdl_ms']:.2f} | {r['optax_ms']:.2f} | "
            f"{r['floor_ms']:.2f} | {r['jaxdl_over_optax']:.3f} | {r['jaxdl_over_floor']:.2f} | "
            f"{r['optax_over_floor']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small tree and 3 repetitions")
    parser.add_argument("--reps", type=int, default=21)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--out", default=None, help="folder for optim_speed.md")
    args = parser.parse_args(argv)
    reps = 3 if args.quick else args.reps
    iters = 2 if args.quick else args.iters
    rows = run(args.quick, reps, iters)
    table = markdown(rows, reps, iters)
    print(table)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "optim_speed.md"), "w") as f:
            f.write(table)
    return rows


if __name__ == "__main__":
    main()
