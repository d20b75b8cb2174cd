"""Measurements on 8 simulated CPU devices, for tests/test_parallel.py.

Run in a fresh process (the device count is fixed when JAX starts): it trains and sweeps with
and without a mesh and prints ``RESULT {json}`` with the differences, the shardings seen and
the error messages; the test asserts on them. ``python tests/parallel_scripts/eight_devices.py``
"""

import os

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"

import json  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")

from jaxdl import nn, optim, parallel, sweep, train  # noqa: E402


def max_diff(a, b) -> float:
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return max(float(np.max(np.abs(np.asarray(u, np.float64) - np.asarray(v, np.float64))))
               for u, v in pairs)


def blobs(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n).astype(np.int32)
    x = np.eye(3, 4, dtype=np.float32)[y] * 2 + rng.normal(size=(n, 4)).astype(np.float32)
    return x, y


def describe(sharding, shape) -> dict:
    return {"devices": len(sharding.device_set), "replicated": sharding.is_fully_replicated,
            "shard_shape": list(sharding.shard_shape(tuple(shape)))}


def layout(array) -> dict:
    return {"spec": str(array.sharding.spec), "shards": len(array.addressable_shards),
            "shard_shape": list(array.addressable_shards[0].data.shape),
            "devices": len(array.sharding.device_set)}


def error(fn) -> str:
    try:
        fn()
    except (ValueError, TypeError) as e:
        return f"{type(e).__name__}: {e}"
    return "no error"


out: dict = {"devices": jax.device_count()}
mesh = parallel.make_mesh()
x, y = blobs(120)  # 120 = 3 full batches of 32 and one padded with weight-0 rows
val = blobs(40, seed=1)
# BatchNorm (its batch statistics are the global batch's), dropout (its mask must not depend
# on the sharding), weighted padding. No bias before BatchNorm: its true gradient is zero,
# and Adam would blow float noise in it up to steps of size learning_rate.
model = nn.serial(nn.Dense(16, use_bias=False), nn.BatchNorm(), nn.relu, nn.Dropout(0.2),
                  nn.Dense(3))
seen: dict[str, list] = {}


def spy(name):
    def augment(key, batch):  # the identity, recording the batch's sharding when compiled
        jax.debug.inspect_array_sharding(
            batch[0], callback=lambda s: seen.setdefault(name, []).append(describe(s, (32, 4))))
        return batch
    return augment


kw = dict(key=jax.random.key(0), epochs=3, batch_size=32, progress=False, val=val)
state = lambda ts: (ts.params, ts.model_state, ts.opt_state)
ts0, h0 = train.fit(model, optim.adam(1e-2), (x, y), augment=spy("plain"), **kw)
ts1, h1 = train.fit(model, optim.adam(1e-2), (x, y), mesh=mesh, augment=spy("mesh"), **kw)
out["fit"] = {
    "params": max_diff(ts0.params, ts1.params),
    "model_state": max_diff(ts0.model_state, ts1.model_state),
    "opt_state": max_diff(ts0.opt_state, ts1.opt_state),
    "history": max_diff([h0[k] for k in ("train_loss", "val_loss", "val_accuracy")],
                        [h1[k] for k in ("train_loss", "val_loss", "val_accuracy")]),
    "batch_plain": seen["plain"][0], "batch_mesh": seen["mesh"][0],
    "params_layout": layout(ts1.params["dense_1"]["w"]),
    "loss_decreased": h1["train_loss"][-1] < h1["train_loss"][0],
}

# shard_params, on jax.make_mesh's Explicit-typed mesh with another axis name.
explicit = jax.make_mesh((8,), ("batch",))
ts2, _ = train.fit(model, optim.adam(1e-2), (x, y), mesh=explicit, shard_params=True, **kw)
out["shard_params"] = {
    "params": max_diff(ts0.params, ts2.params), "opt_state": max_diff(ts0.opt_state,
                                                                      ts2.opt_state),
    "model_state": max_diff(ts0.model_state, ts2.model_state),
    "layouts": {f"{layer}/{name}": layout(leaf) for layer, leaves in ts2.params.items()
                for name, leaf in leaves.items()},
    "adam_mu_dense_1_w": layout(ts2.opt_state[0].mu["dense_1"]["w"]),
}

# Sweep-parallel: 12 runs padded to 16 over 8 devices, against the same sweep on one device.
sweep_kw = dict(train=(x, y), steps=8, batch_size=24, seeds=6, eval_every=8,
                hyperparameters={"learning_rate": [1e-2, 3e-2]})
mlp = nn.serial(nn.Dense(8), nn.tanh, nn.Dense(3))
adam = lambda learning_rate: optim.adam(learning_rate)
r0 = sweep.run(mlp, adam, **sweep_kw)
r1 = sweep.run(mlp, adam, mesh=mesh, **sweep_kw)
out["sweep"] = {"shape": list(r1.shape), "curves": max_diff(r0.curves, r1.curves),
                "final": max_diff(r0.final, r1.final), "params": max_diff(r0.params, r1.params),
                "runs_differ": max_diff(r0.params["dense_0"]["w"][0, 0],
                                        r0.params["dense_0"]["w"][1, 1])}

# The helpers' placements.
grid = jax.sharding.Mesh(np.array(jax.devices()).reshape(4, 2), ("data", "model"))
tree = {"a": np.arange(64 * 3, dtype=np.float32).reshape(64, 3), "b": np.zeros(5, np.float32),
        "s": np.float32(1.0)}
runs = parallel.shard_runs({"a": tree["a"]}, mesh)
lead = parallel.shard_leading_axis(tree, mesh)
batch2d = parallel.shard_batch(tree["a"], grid)
stack = parallel.shard_batch(np.zeros((5, 16), np.float32), mesh, axis=1)
rows = parallel.process_slice(64, mesh)
glob = parallel.host_shard({"a": tree["a"][rows]}, mesh)["a"]
out["helpers"] = {
    "shard_runs": layout(runs["a"]), "runs_equal": max_diff(runs["a"], tree["a"]),
    "leading": {k: layout(v) for k, v in lead.items()},
    "replicate": layout(parallel.replicate(tree, mesh)["a"]),
    "batch_2d": layout(batch2d), "batch_axis_1": layout(stack),
    "process_slice": [rows.start, rows.stop],
    "host_shard": layout(glob), "host_shard_equal": max_diff(glob, tree["a"]),
    "local_data_equal": max_diff(parallel.local_data(glob), tree["a"]),
}

fit_kw = dict(key=jax.random.key(0), epochs=1, progress=False)
out["errors"] = {
    "fit_batch": error(lambda: train.fit(model, optim.sgd(0.1), (x, y), batch_size=30,
                                         mesh=mesh, **fit_kw)),
    "fit_full_batch": error(lambda: train.fit(model, optim.sgd(0.1), (x[:100], y[:100]),
                                              batch_size=None, mesh=True, **fit_kw)),
    "shard_runs": error(lambda: parallel.shard_runs({"w": np.zeros((12, 3))}, mesh)),
    "shard_batch": error(lambda: parallel.shard_batch({"x": np.zeros((16, 2)),
                                                       "y": np.zeros(10)}, mesh)),
    "unknown_axis": error(lambda: parallel.shard_batch(np.zeros(16), mesh, axis_name="model")),
    "ambiguous_axis": error(lambda: parallel.shard_runs(
        np.zeros(16), jax.sharding.Mesh(np.array(jax.devices()).reshape(4, 2), ("a", "b")))),
    "process_slice": error(lambda: parallel.process_slice(100, mesh)),
    "host_shard": error(lambda: parallel.host_shard(np.zeros((10, 2)), mesh, num_rows=64)),
}
print("RESULT " + json.dumps(out), flush=True)
