"""Data-parallel training across hosts: one process per host, each reading its own rows.

Every host runs the same script; only ``--process-id`` differs. Process 0's address is the
coordinator (any free port, reachable from every host)::

    # host 0 (10.0.0.1)
    python -m examples.multi_host --coordinator 10.0.0.1:1234 --num-processes 2 --process-id 0
    # host 1
    python -m examples.multi_host --coordinator 10.0.0.1:1234 --num-processes 2 --process-id 1

Without ``--coordinator`` (and no ``JAX_COORDINATOR_ADDRESS``) it is an ordinary
single-process run over the local devices. On one CPU machine, two processes of four
simulated devices each (``tests/test_parallel.py`` runs exactly this)::

    export XLA_FLAGS=--xla_force_host_platform_device_count=4
    python -m examples.multi_host --coordinator 127.0.0.1:12355 --num-processes 2 \
        --process-id 0 --quick --check &
    python -m examples.multi_host --coordinator 127.0.0.1:12355 --num-processes 2 \
        --process-id 1 --quick --check

What happens, in order: ``parallel.initialize`` connects the processes (before any other JAX
call); ``parallel.make_mesh()`` spans every device of every host; each host takes its rows
``parallel.process_slice(n)`` of the training set (here sliced from the bundled digits; on
real data, read only those rows from storage) and ``parallel.host_shard`` assembles the
global arrays without any host holding all of them; ``train.fit(..., mesh=mesh)`` trains as
on one device, the gradient all-reduce crossing hosts. ``--check`` also trains on this
host's first device alone (every host has the digits here) and prints the largest parameter
difference, which is float summation order only (about 1e-7).

    python -m examples.multi_host [--coordinator HOST:PORT --num-processes N --process-id I]
                                  [--quick] [--check] [--epochs 20] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxdl import data, nn, optim, parallel, train


class Config(NamedTuple):
    """Everything that defines a run (the batch size is global: split over all devices)."""

    hidden: int = 128
    learning_rate: float = 1e-3
    batch_size: int = 64
    epochs: int = 20
    seed: int = 0
    check: bool = False
    quick: bool = False


QUICK = {"epochs": 2, "hidden": 32}


def make_model(config: Config) -> nn.Layer:
    return nn.serial(nn.Dense(config.hidden), nn.relu, nn.Dense(10))


def max_abs_difference(a: Any, b: Any) -> float:
    """The largest ``|a - b|`` over the leaves of two trees of (replicated) arrays."""
    return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v))))
               for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def train_and_evaluate(config: Config) -> dict[str, Any]:
    """Splits the digits 80/20, trains data-parallel over every device of every process and
    evaluates on the held-out part.

    Returns:
      ``process``, ``processes``, ``devices`` (global), ``local_devices``, ``rows`` (this
      process's ``[start, stop)`` of the training set), ``train_rows`` (global),
      ``test_accuracy``, ``test_loss``, ``seconds`` (the ``fit`` call), ``params_sharding``
      (the sharding of the first weight matrix) and, with ``check``,
      ``max_abs_diff_vs_one_device``.
    """
    key_split, key_fit = jax.random.split(jax.random.key(config.seed))
    x_all, y_all = data.digits()
    (x_train, y_train), test = data.split(x_all, y_all, (0.8, 0.2), key=key_split)
    mesh = parallel.make_mesh()
    n = len(x_train) // mesh.size * mesh.size  # rows must split evenly over the devices
    rows = parallel.process_slice(n, mesh)
    x, y = parallel.host_shard((x_train[rows], y_train[rows]), mesh)
    model, optimizer = make_model(config), optim.adam(config.learning_rate)
    fit = dict(key=key_fit, epochs=config.epochs, batch_size=config.batch_size,
               progress=False)
    start = time.perf_counter()
    ts, _ = train.fit(model, optimizer, (x, y), mesh=mesh, **fit)
    seconds = time.perf_counter() - start
    metrics = train.evaluate(model, ts, test)
    w = ts.params["dense_0"]["w"]
    result = {"process": jax.process_index(), "processes": jax.process_count(),
              "devices": jax.device_count(), "local_devices": jax.local_device_count(),
              "rows": [rows.start, rows.stop], "train_rows": n,
              "test_accuracy": metrics["accuracy"], "test_loss": metrics["loss"],
              "seconds": seconds,
              "params_sharding": {"spec": str(w.sharding.spec),
                                  "devices": len(w.sharding.device_set),
                                  "addressable_shards": len(w.addressable_shards)}}
    if config.check:
        alone, _ = train.fit(model, optimizer, (x_train[:n], y_train[:n]), **fit)
        result["max_abs_diff_vs_one_device"] = max_abs_difference(ts.params, alone.params)
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    defaults = Config()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coordinator", metavar="HOST:PORT",
                        help="process 0's address (default: JAX_COORDINATOR_ADDRESS)")
    parser.add_argument("--num-processes", type=int, help="default: JAX_NUM_PROCESSES")
    parser.add_argument("--process-id", type=int, help="default: JAX_PROCESS_ID")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK['epochs']} epochs of a small model (the smoke test)")
    parser.add_argument("--check", action="store_true",
                        help="also train on one local device and print the difference")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    parallel.initialize(args.coordinator, args.num_processes, args.process_id)
    config = Config(learning_rate=args.learning_rate, batch_size=args.batch_size,
                    epochs=QUICK["epochs"] if args.quick else args.epochs,
                    hidden=QUICK["hidden"] if args.quick else defaults.hidden,
                    seed=args.seed, check=args.check, quick=args.quick)
    result = train_and_evaluate(config)
    print(f"process {result['process']} of {result['processes']}: rows "
          f"[{result['rows'][0]}, {result['rows'][1]}) of {result['train_rows']}, "
          f"{result['local_devices']} of {result['devices']} devices; test accuracy "
          f"{result['test_accuracy']:.4f}; fit {result['seconds']:.1f} s")
    if config.check:
        print(f"largest parameter difference from one device: "
              f"{result['max_abs_diff_vs_one_device']:.3g}")
    print("RESULT " + json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
