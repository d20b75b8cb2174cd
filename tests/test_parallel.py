"""jaxdl.parallel: data-parallel fit, sweep-parallel runs and multi-host sharding.

The multi-device checks run in subprocesses (the device count is fixed when JAX starts):
``tests/parallel_scripts/eight_devices.py`` on 8 simulated CPU devices, and
``examples/multi_host.py`` as two processes of 4 devices each connected through
``jax.distributed`` on loopback. This process has one device: there the mesh path must give
the same bits as the plain one.
"""

import json
import os
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxdl import nn, optim, parallel, train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Float32 sums over a batch split 8 ways are added in another order: a few ulps per step,
# over 12 steps of training. 1e-5 is ~100 ulps at the parameters' scale (~1).
TOL = 1e-5


def _env(devices: int) -> dict[str, str]:
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               JAX_PLATFORMS="cpu")
    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        env.pop(name, None)
    return env


def _result(stdout: str, stderr: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"no RESULT line; stdout:\n{stdout[-3000:]}\nstderr:\n{stderr[-3000:]}"
    return json.loads(lines[-1][len("RESULT "):])


@pytest.fixture(scope="module")
def eight():
    script = os.path.join(ROOT, "tests", "parallel_scripts", "eight_devices.py")
    done = subprocess.run([sys.executable, script], cwd=ROOT, env=_env(8), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-5000:]
    return _result(done.stdout, done.stderr)


def test_data_parallel_fit_equals_one_device_and_shards_the_batch(eight):
    assert eight["devices"] == 8
    fit = eight["fit"]
    # Measured: params 1.2e-7, model state 6e-8, optimizer state 7e-9, history 0.
    for part in ("params", "model_state", "opt_state", "history"):
        assert fit[part] < TOL, (part, fit[part])
    assert fit["loss_decreased"]
    # Inside the step, each device holds 4 of the batch's 32 examples; without a mesh, all.
    assert fit["batch_mesh"] == {"devices": 8, "replicated": False, "shard_shape": [4, 4]}
    assert fit["batch_plain"] == {"devices": 1, "replicated": True, "shard_shape": [32, 4]}
    assert fit["params_layout"] == {"spec": "P()", "shards": 8, "shard_shape": [16, 3],
                                    "devices": 8}


def test_shard_params_splits_divisible_leading_axes_and_equals_one_device(eight):
    got = eight["shard_params"]
    for part in ("params", "opt_state", "model_state"):
        assert got[part] < TOL, (part, got[part])  # measured 1.2e-7, 1.1e-8, 6e-8
    layouts = got["layouts"]
    # 16 and 16 split 8 ways (on jax.make_mesh's Explicit mesh named "batch"); 4 and 3 do not.
    for name in ("batch_norm_0/scale", "batch_norm_0/bias"):
        assert layouts[name] == {"spec": "P('batch',)", "shards": 8, "shard_shape": [2],
                                 "devices": 8}
    assert layouts["dense_1/w"]["shard_shape"] == [2, 3]
    assert layouts["dense_0/w"] == {"spec": "P()", "shards": 8, "shard_shape": [4, 16],
                                    "devices": 8}
    assert layouts["dense_1/b"]["spec"] == "P()"
    assert got["adam_mu_dense_1_w"] == layouts["dense_1/w"]


def test_sharded_sweep_equals_the_unsharded_one(eight):
    got = eight["sweep"]
    assert got["shape"] == [2, 6]  # 12 runs, padded to 16 over 8 devices
    for part in ("curves", "final", "params"):
        assert got[part] < TOL, (part, got[part])  # measured 2.4e-7, 6e-8, 1.2e-7
    assert got["runs_differ"] > 0.1  # the comparison is between distinct runs, not copies


def test_helpers_place_as_documented(eight):
    h = eight["helpers"]
    assert h["shard_runs"] == {"spec": "P('data',)", "shards": 8, "shard_shape": [8, 3],
                               "devices": 8}
    assert h["runs_equal"] == 0.0
    assert h["leading"]["a"]["shard_shape"] == [8, 3]
    assert h["leading"]["b"]["spec"] == "P()" and h["leading"]["s"]["spec"] == "P()"
    assert h["replicate"] == {"spec": "P()", "shards": 8, "shard_shape": [64, 3], "devices": 8}
    # A 4 x 2 ("data", "model") mesh: split 4 ways, each split held by 2 devices.
    assert h["batch_2d"] == {"spec": "P('data',)", "shards": 8, "shard_shape": [16, 3],
                             "devices": 8}
    assert h["batch_axis_1"]["spec"] == "P(None, 'data')"
    assert h["batch_axis_1"]["shard_shape"] == [5, 2]
    assert h["process_slice"] == [0, 64]  # one process holds every row
    assert h["host_shard"]["shard_shape"] == [8, 3]
    assert h["host_shard_equal"] == 0.0 and h["local_data_equal"] == 0.0


def test_bad_input_on_eight_devices_gets_clear_errors(eight):
    e = eight["errors"]
    assert e["fit_batch"].startswith("ValueError: fit: batch_size=30 does not split evenly "
                                     "over the 8 devices of mesh axis 'data'")
    assert "24 or 32" in e["fit_batch"]
    assert "full batch (batch_size=None) of 100 examples" in e["fit_full_batch"]
    assert "first 96" in e["fit_full_batch"]
    assert e["shard_runs"].startswith("ValueError: shard_runs:") and "12 along axis 0" in \
        e["shard_runs"]
    assert "['y'] has 10 along axis 0" in e["shard_batch"]
    assert e["unknown_axis"] == ("ValueError: shard_batch: the mesh has no axis 'model'; its "
                                 "axes are ('data',)")
    assert "axes ('a', 'b')" in e["ambiguous_axis"] and "axis_name=" in e["ambiguous_axis"]
    assert "100 rows do not split over the 8 devices" in e["process_slice"]
    assert "local has 10" in e["host_shard"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_on_loopback_train_like_one_device():
    """``examples/multi_host.py`` as two processes of 4 CPU devices, through jax.distributed."""
    address = f"127.0.0.1:{_free_port()}"
    procs = [subprocess.Popen(
        [sys.executable, "-m", "examples.multi_host", "--coordinator", address,
         "--num-processes", "2", "--process-id", str(i), "--quick", "--check"],
        cwd=ROOT, env=_env(4), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)]
    try:
        outputs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-5000:]
    results = [_result(*out) for out in outputs]
    n = results[0]["train_rows"]
    assert n % 8 == 0 and n > 1000
    for i, r in enumerate(results):
        assert (r["process"], r["processes"], r["devices"], r["local_devices"]) == (i, 2, 8, 4)
        assert r["rows"] == [i * n // 2, (i + 1) * n // 2]  # each host held only its half
        # Replicated over all 8 devices, 4 of them this process's.
        assert r["params_sharding"] == {"spec": "P()", "devices": 8, "addressable_shards": 4}
        assert r["max_abs_diff_vs_one_device"] < TOL  # measured 3e-8
        assert r["test_accuracy"] > 0.3  # chance is 0.1; 2 quick epochs reach ~0.5
    assert results[0]["test_accuracy"] == results[1]["test_accuracy"]


# In this process (one device).


def test_multi_host_example_runs_as_a_single_process(capsys):
    from examples import multi_host

    result = multi_host.main(["--quick"])
    assert (result["processes"], result["devices"]) == (1, jax.device_count())
    assert result["rows"] == [0, result["train_rows"]]
    assert result["test_accuracy"] > 0.3  # chance is 0.1
    assert "process 0 of 1" in capsys.readouterr().out

MODEL = nn.serial(nn.Dense(16), nn.BatchNorm(), nn.relu, nn.Dropout(0.2), nn.Dense(3))


def _blobs(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n).astype(np.int32)
    return np.eye(3, 4, dtype=np.float32)[y] * 2 + rng.normal(size=(n, 4)).astype(np.float32), y


def test_on_one_device_the_mesh_path_gives_the_same_bits():
    x, y = _blobs(100)
    kw = dict(key=jax.random.key(0), epochs=3, batch_size=32, progress=False, val=_blobs(30, 1))
    runs = [train.fit(MODEL, optim.adam(1e-2), (x, y), **kw),
            train.fit(MODEL, optim.adam(1e-2), (x, y), mesh=True, **kw),
            train.fit(MODEL, optim.adam(1e-2), (x, y), mesh=parallel.make_mesh(),
                      shard_params=True, **kw)]
    (plain, history), *others = runs
    for ts, hist in others:
        for a, b in zip(jax.tree.leaves((plain.params, plain.model_state, plain.opt_state)),
                        jax.tree.leaves((ts.params, ts.model_state, ts.opt_state)),
                        strict=True):
            np.testing.assert_array_equal(a, b)
        assert [r["val_loss"] for r in hist.rows] == history["val_loss"]
        assert isinstance(ts.params["dense_0"]["w"].sharding, jax.sharding.NamedSharding)
    assert history["train_loss"][-1] < history["train_loss"][0]


def test_fit_rejects_a_bad_mesh_argument():
    x, y = _blobs(16)
    kw = dict(key=jax.random.key(0), epochs=1, batch_size=8, progress=False)
    with pytest.raises(TypeError, match="fit: mesh must be a jax.sharding.Mesh, True"):
        train.fit(MODEL, optim.sgd(0.1), (x, y), mesh="all", **kw)
    with pytest.raises(ValueError, match="shard_params=True needs a mesh"):
        train.fit(MODEL, optim.sgd(0.1), (x, y), shard_params=True, **kw)
    with pytest.raises(TypeError, match="DataParallel: mesh must be a jax.sharding.Mesh"):
        parallel.DataParallel(jax.devices())


def test_make_mesh_spans_the_devices_with_auto_axes():
    mesh = parallel.make_mesh()
    assert mesh.axis_names == ("data",) and mesh.size == jax.device_count()
    assert mesh.axis_types == (jax.sharding.AxisType.Auto,)
    assert parallel.make_mesh(axis_name="batch").axis_names == ("batch",)
    with pytest.raises(ValueError, match="devices is empty"):
        parallel.make_mesh([])
    with pytest.raises(ValueError, match="axis_name must be a non-empty str"):
        parallel.make_mesh(axis_name="")
    with pytest.raises(ValueError, match="same device twice"):
        parallel.make_mesh(jax.devices() * 2)
    with pytest.raises(TypeError, match="jax.Device objects"):
        parallel.make_mesh([0])


def test_one_process_holds_every_row_and_host_shard_round_trips():
    mesh = parallel.make_mesh()
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    assert parallel.process_slice(10, mesh) == slice(0, 10)
    got = parallel.host_shard({"x": x[parallel.process_slice(10)]}, mesh)["x"]
    assert got.shape == (10, 2) and got.sharding.spec == jax.sharding.PartitionSpec("data")
    np.testing.assert_array_equal(parallel.local_data(got), x)
    np.testing.assert_array_equal(parallel.local_data(x), x)
    with pytest.raises(ValueError, match="num_rows must be a positive int"):
        parallel.process_slice(0, mesh)
    with pytest.raises(ValueError, match="same number of rows"):
        parallel.host_shard((x, x[:5]), mesh)


def test_initialize_is_a_no_op_for_one_process(monkeypatch):
    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.delenv(name, raising=False)
    assert parallel.initialize() is False
    assert parallel.initialize(num_processes=1) is False
    monkeypatch.setenv("JAX_NUM_PROCESSES", "1")
    assert parallel.initialize() is False
    assert not jax.distributed.is_initialized()


@pytest.mark.parametrize("args, env, error, match", [
    (("127.0.0.1:1234", None, None), {}, ValueError, "missing: num_processes, process_id"),
    ((None, 2, 0), {}, ValueError, "missing: coordinator_address"),
    (("127.0.0.1", 2, 0), {}, ValueError, "must be 'host:port'"),
    (("127.0.0.1:1234", 2, 2), {}, ValueError, r"0 <= process_id < num_processes"),
    (("127.0.0.1:1234", 2.0, 0), {}, TypeError, "num_processes must be an int"),
    ((None, None, None), {"JAX_COORDINATOR_ADDRESS": "h:1", "JAX_NUM_PROCESSES": "two",
                          "JAX_PROCESS_ID": "0"}, ValueError, "JAX_NUM_PROCESSES must be an int"),
])
def test_initialize_names_what_is_wrong(monkeypatch, args, env, error, match):
    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(error, match=match):
        parallel.initialize(*args)
    assert not jax.distributed.is_initialized()
