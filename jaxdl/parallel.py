"""Data-parallel and sweep-parallel training over devices and hosts, on ``jax.sharding``.

Nothing here rewrites a program: arrays are placed on a ``Mesh`` with ``NamedSharding``s
and XLA's GSPMD partitioner turns the single-device program into a multi-device one. A batch
sharded along the mesh with replicated parameters is data parallelism: the compiler inserts
the gradient's all-reduce. A sweep's stacked runs sharded along the mesh is sweep
parallelism: 64 vmapped runs on 8 devices run 8 per device, with no communication at all.

- Data parallel: ``train.fit(..., mesh=parallel.make_mesh())`` (or ``mesh=True``). The batch
  size must divide by the number of devices. ``shard_params=True`` also shards parameters
  and optimizer state along their leading axis where it divides (for large models).
- Sweep parallel: ``sweep.run(..., mesh=mesh)`` shards the run axis with ``shard_runs``.
- Multi-host: one process per host; ``initialize`` first, then a mesh over every host's
  devices, each host reading only its own rows (``process_slice``) and ``host_shard``
  assembling them into global arrays; ``fit(..., mesh=mesh)`` is then unchanged.

Launch recipe, two hosts (host 0 at 10.0.0.1 is the coordinator; any free port), one command
per host, started within a few minutes of each other::

    # host 0
    python -m examples.multi_host --coordinator 10.0.0.1:1234 --num-processes 2 --process-id 0
    # host 1
    python -m examples.multi_host --coordinator 10.0.0.1:1234 --num-processes 2 --process-id 1

(or set ``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID`` and call
``initialize()``). On one machine, ``--coordinator 127.0.0.1:1234`` with
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` runs the same thing on CPU.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

__all__ = [
    "DataParallel",
    "host_shard",
    "initialize",
    "local_data",
    "make_mesh",
    "process_slice",
    "replicate",
    "shard_batch",
    "shard_leading_axis",
    "shard_runs",
]

DEFAULT_AXIS = "data"


def make_mesh(devices: Sequence[jax.Device] | None = None, axis_name: str = DEFAULT_AXIS) -> Mesh:
    """A one-axis mesh over ``devices`` (default: every device of every process).

    The axis is of ``AxisType.Auto`` (``jax.make_mesh`` defaults to ``Explicit``): shardings
    are propagated by the compiler, so unmodified single-device code runs on it.

    Args:
        devices: the devices, in mesh order; ``None``: ``jax.devices()``.
        axis_name: the axis's name.

    Returns:
        A ``jax.sharding.Mesh`` of shape ``{axis_name: len(devices)}``.
    """
    if not isinstance(axis_name, str) or not axis_name:
        raise ValueError(f"make_mesh: axis_name must be a non-empty str, got {axis_name!r}")
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("make_mesh: devices is empty; pass at least one device")
    if not all(isinstance(d, jax.Device) for d in devices):
        raise TypeError(f"make_mesh: devices must be jax.Device objects (jax.devices()), got "
                        f"{sorted({type(d).__name__ for d in devices})}")
    if len(set(devices)) != len(devices):
        raise ValueError("make_mesh: devices holds the same device twice")
    return Mesh(np.array(devices), (axis_name,), axis_types=(AxisType.Auto,))


def _resolve(fn: str, mesh: Any, axis_name: str | None) -> tuple[Mesh, str]:
    """The mesh (with ``Auto`` axes) and the axis to shard along, or a clear error."""
    if not isinstance(mesh, Mesh):
        raise TypeError(f"{fn}: mesh must be a jax.sharding.Mesh (parallel.make_mesh() builds "
                        f"one), got {type(mesh).__name__}")
    names = tuple(mesh.axis_names)
    if axis_name is None:
        if len(names) == 1:
            axis_name = names[0]
        elif DEFAULT_AXIS in names:
            axis_name = DEFAULT_AXIS
        else:
            raise ValueError(f"{fn}: the mesh has axes {names} and none is called "
                             f"{DEFAULT_AXIS!r}; name the one to shard along with axis_name=")
    elif axis_name not in names:
        raise ValueError(f"{fn}: the mesh has no axis {axis_name!r}; its axes are {names}")
    if any(t != AxisType.Auto for t in mesh.axis_types):
        mesh = Mesh(mesh.devices, names, axis_types=(AxisType.Auto,) * len(names))
    return mesh, axis_name


def _shape(leaf: Any) -> tuple[int, ...]:
    shape = getattr(leaf, "shape", None)
    return tuple(np.shape(leaf) if shape is None else shape)


def _shardings(fn: str, tree: Any, mesh: Mesh, axis_name: str | None, dim: int | None,
               strict: bool, what: str) -> Any:
    """A ``NamedSharding`` per leaf: split along ``dim`` over the mesh axis (``None``:
    replicated). Leaves that cannot be split are an error when ``strict``, else replicated."""
    mesh, name = _resolve(fn, mesh, axis_name)
    size = mesh.shape[name]

    def one(path, leaf):
        shape = _shape(leaf)
        if dim is None:
            return NamedSharding(mesh, P())
        if len(shape) <= dim or shape[dim] % size:
            if strict:
                where = jax.tree_util.keystr(path) or "the array"
                got = (f"has shape {shape}, no axis {dim}" if len(shape) <= dim else
                       f"has {shape[dim]} along axis {dim} (shape {shape})")
                raise ValueError(f"{fn}: {what} {where} {got}, which does not split over the "
                                 f"{size} devices of mesh axis {name!r}; use a multiple of "
                                 f"{size}")
            return NamedSharding(mesh, P())
        return NamedSharding(mesh, P(*([None] * dim), name))

    return jax.tree_util.tree_map_with_path(one, tree)


def _put(tree: Any, shardings: Any) -> Any:
    """``jax.device_put``; with several processes, arrays of this process's devices go
    through the host (device_put moves only host data or global arrays onto a global mesh),
    PRNG keys as their raw data."""
    if jax.process_count() == 1:
        return jax.device_put(tree, shardings)

    def one(leaf, sharding):
        if isinstance(leaf, jax.Array) and leaf.is_fully_addressable:
            if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
                raw = one(jax.random.key_data(leaf), sharding)
                return jax.random.wrap_key_data(raw, impl=jax.random.key_impl(leaf))
            leaf = np.asarray(leaf)
        return jax.device_put(leaf, sharding)

    return jax.tree.map(one, tree, shardings)


def replicate(tree: Any, mesh: Mesh) -> Any:
    """A copy of ``tree`` on every device of ``mesh``: ``NamedSharding(mesh, P())``.

    Args:
        tree: a pytree of arrays (NumPy or JAX). On several hosts every host must pass the
            same values.
        mesh: the mesh.

    Returns:
        The tree of replicated ``jax.Array``s.
    """
    return _put(tree, _shardings("replicate", tree, mesh, None, None, False, "leaf"))


def shard_batch(tree: Any, mesh: Mesh, *, axis: int = 0, axis_name: str | None = None) -> Any:
    """Splits every leaf along its batch axis ``axis`` over the mesh axis (``P(axis_name)``).

    Device ``k`` of ``D`` holds examples ``[k B/D, (k+1) B/D)`` of a batch of ``B``.

    Args:
        tree: a pytree of arrays sharing the batch axis.
        mesh: the mesh.
        axis: which axis of each leaf is the batch axis (1 for ``(steps, batch)`` stacks).
        axis_name: the mesh axis; ``None``: the mesh's only axis, or ``"data"``.

    Returns:
        The tree of sharded ``jax.Array``s.

    Raises:
        ValueError: a leaf's batch axis does not divide by the number of devices.
    """
    return _put(tree, _shardings("shard_batch", tree, mesh, axis_name, axis, True, "leaf"))


def shard_leading_axis(tree: Any, mesh: Mesh, *, axis_name: str | None = None) -> Any:
    """Splits each leaf whose first dimension divides by the device count along it; the other
    leaves (scalars, odd sizes) are replicated. For parameters and optimizer state of large
    models: each device keeps ``1/D`` of every splittable array, and the compiler gathers
    them where the computation needs them whole (as in ZeRO-3 / fully sharded data parallel).

    Args:
        tree: a pytree of arrays.
        mesh: the mesh.
        axis_name: the mesh axis; ``None``: the mesh's only axis, or ``"data"``.

    Returns:
        The tree of ``jax.Array``s, sharded or replicated leaf by leaf.

    References:
        Rajbhandari, Rasley, Ruwase, He, "ZeRO: Memory optimizations toward training trillion
        parameter models", 2020.
    """
    fn = "shard_leading_axis"
    return _put(tree, _shardings(fn, tree, mesh, axis_name, 0, False, "leaf"))


def shard_runs(tree: Any, mesh: Mesh, *, axis_name: str | None = None) -> Any:
    """Splits a sweep's stacked runs (every leaf's leading axis) over the mesh axis, so ``R``
    runs on ``D`` devices run ``R/D`` per device. The sweep pads its chunk of runs to a
    multiple of ``D`` first.

    Args:
        tree: a pytree whose every leaf has the run axis first.
        mesh: the mesh.
        axis_name: the mesh axis; ``None``: the mesh's only axis, or ``"data"``.

    Returns:
        The tree of sharded ``jax.Array``s.

    Raises:
        ValueError: the number of runs does not divide by the number of devices.
    """
    return _put(tree, _shardings("shard_runs", tree, mesh, axis_name, 0, True, "run stack"))


class DataParallel:
    """Data-parallel placement for a ``TrainState`` training loop (``fit(mesh=...)`` uses it).

    Parameters, model state and optimizer state are replicated (or, with
    ``shard_params=True``, parameters and optimizer state split along their leading axis
    where it divides); each batch is split along the mesh axis. The train step is unchanged:
    the mean loss over a sharded batch makes GSPMD insert the gradient's all-reduce, and
    BatchNorm's batch statistics are those of the global batch.

    Args:
        mesh: the mesh.
        shard_params: split parameters and optimizer state (see ``shard_leading_axis``).
        axis_name: the mesh axis; ``None``: the mesh's only axis, or ``"data"``.
    """

    def __init__(self, mesh: Mesh, *, shard_params: bool = False, axis_name: str | None = None):
        self.mesh, self.axis_name = _resolve("DataParallel", mesh, axis_name)
        self.size = self.mesh.shape[self.axis_name]
        self.shard_params = bool(shard_params)
        self.replicated = NamedSharding(self.mesh, P())

    def check_batch_size(self, fn: str, batch_size: int, full_batch: bool = False) -> None:
        """Raises a ValueError naming ``fn`` unless ``batch_size`` divides by the devices."""
        if batch_size % self.size:
            lower = batch_size // self.size * self.size
            upper = lower + self.size
            if full_batch:
                what = f"the full batch (batch_size=None) of {batch_size} examples"
                fix = (f"train on a multiple of {self.size} examples (e.g. the first {lower})"
                       if lower else f"pass at least {self.size} examples")
            else:
                what = f"batch_size={batch_size}"
                either = f"{lower} or " if lower else ""
                fix = f"use a multiple of {self.size} (e.g. {either}{upper})"
            raise ValueError(f"{fn}: {what} does not split evenly over the {self.size} devices "
                             f"of mesh axis {self.axis_name!r}; {fix}")

    def state_shardings(self, train_state: Any) -> Any:
        """The ``NamedSharding`` of every leaf of ``train_state`` (concrete or traced)."""
        out = _shardings("DataParallel", train_state, self.mesh, self.axis_name, None, False, "")
        if self.shard_params:
            split = {name: _shardings("DataParallel", getattr(train_state, name), self.mesh,
                                      self.axis_name, 0, False, "")
                     for name in ("params", "opt_state")}
            out = out._replace(**split)
        return out

    def place_state(self, train_state: Any) -> Any:
        """``train_state`` on the mesh, as ``state_shardings`` says."""
        return _put(train_state, self.state_shardings(train_state))

    def place_data(self, array: Any) -> Any:
        """A data set on the mesh: kept as it is when already spread over the mesh's devices
        (``host_shard``'s global arrays), else replicated (each device gathers its batches
        locally)."""
        devices = set(self.mesh.devices.flat)
        if isinstance(array, jax.Array) and array.sharding.device_set == devices:
            return array
        return replicate(array, self.mesh)

    def place_batches(self, idx: Any, weight: Any) -> tuple[Any, Any]:
        """An epoch's ``(steps, batch)`` indices and weights (or ``None``), split along the
        batch axis."""
        return shard_batch((idx, weight), self.mesh, axis=1, axis_name=self.axis_name)

    def constrain_batch(self, batch: Any) -> Any:
        """Inside ``jit``: the batch's leading axis split over the mesh axis."""
        spec = NamedSharding(self.mesh, P(self.axis_name))
        return jax.tree.map(lambda a: jax.lax.with_sharding_constraint(a, spec), batch)

    def constrain_state(self, train_state: Any) -> Any:
        """Inside ``jit``: keeps the train state's sharding fixed across steps."""
        return jax.lax.with_sharding_constraint(train_state, self.state_shardings(train_state))


def _env_int(name: str, value: int | None, env: str) -> int | None:
    if value is None and os.environ.get(env, "").strip():
        text = os.environ[env].strip()
        if not text.lstrip("-").isdigit():
            raise ValueError(f"initialize: environment variable {env} must be an integer, got "
                             f"{text!r}")
        return int(text)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"initialize: {name} must be an int, got {type(value).__name__}")
    return value


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, *,
               local_device_ids: Sequence[int] | None = None) -> bool:
    """Connects this process to the others (``jax.distributed.initialize``); call it first,
    before anything else touches JAX.

    Arguments left ``None`` are read from ``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES``
    and ``JAX_PROCESS_ID``. With none given anywhere, or one process, this is a single-process
    run and nothing happens, so one script serves a laptop and a cluster. (On SLURM, Open MPI,
    Cloud TPU or Kubernetes, ``jax.distributed.initialize()`` detects everything itself.)

    Args:
        coordinator_address: ``"host:port"`` of process 0, reachable from every host.
        num_processes: the number of processes (usually one per host).
        process_id: this process's index in ``[0, num_processes)``.
        local_device_ids: restrict this process to these local accelerators.

    Returns:
        Whether JAX runs distributed (True also when it already was).
    """
    if jax.distributed.is_initialized():
        return True
    coordinator_address = coordinator_address or os.environ.get("JAX_COORDINATOR_ADDRESS") or None
    num_processes = _env_int("num_processes", num_processes, "JAX_NUM_PROCESSES")
    process_id = _env_int("process_id", process_id, "JAX_PROCESS_ID")
    given = {"coordinator_address": coordinator_address, "num_processes": num_processes,
             "process_id": process_id}
    if all(v is None for v in given.values()) or (num_processes == 1 and process_id in (None, 0)):
        return False
    missing = [k for k, v in given.items() if v is None]
    if missing:
        raise ValueError(f"initialize: a multi-process run needs coordinator_address, "
                         f"num_processes and process_id (or JAX_COORDINATOR_ADDRESS, "
                         f"JAX_NUM_PROCESSES, JAX_PROCESS_ID); missing: {', '.join(missing)}")
    host, _, port = str(coordinator_address).rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"initialize: coordinator_address must be 'host:port', e.g. "
                         f"'10.0.0.1:1234', got {coordinator_address!r}")
    if num_processes < 1 or not 0 <= process_id < num_processes:
        raise ValueError(f"initialize: need num_processes >= 1 and 0 <= process_id < "
                         f"num_processes, got num_processes={num_processes}, "
                         f"process_id={process_id}")
    try:
        jax.distributed.initialize(coordinator_address, num_processes, process_id,
                                   local_device_ids=local_device_ids)
    except RuntimeError as e:
        raise RuntimeError(f"initialize: jax.distributed.initialize failed ({e}). It must run "
                           "before any JAX computation, once per process.") from e
    return True


def process_slice(num_rows: int, mesh: Mesh | None = None, *,
                  axis_name: str | None = None) -> slice:
    """The contiguous rows of a ``num_rows`` data set that this process holds when the rows
    are split over the mesh axis: with ``H`` equal hosts, host ``h`` holds
    ``[h n/H, (h+1) n/H)``. Each host reads only these rows from storage.

    Args:
        num_rows: the global number of rows (a multiple of the mesh axis's devices).
        mesh: the mesh; ``None``: ``make_mesh()`` over every device.
        axis_name: the mesh axis; ``None``: the mesh's only axis, or ``"data"``.

    Returns:
        ``slice(start, stop)`` of this process's rows.
    """
    fn = "process_slice"
    mesh, name = _resolve(fn, make_mesh() if mesh is None else mesh, axis_name)
    size = mesh.shape[name]
    if isinstance(num_rows, bool) or not isinstance(num_rows, (int, np.integer)) or num_rows < 1:
        raise ValueError(f"{fn}: num_rows must be a positive int, got {num_rows!r}")
    if num_rows % size:
        raise ValueError(f"{fn}: {num_rows} rows do not split over the {size} devices of mesh "
                         f"axis {name!r}; drop or pad rows to a multiple of {size}")
    index = NamedSharding(mesh, P(name)).addressable_devices_indices_map((int(num_rows),))
    rows = sorted({(s[0].start or 0, num_rows if s[0].stop is None else s[0].stop)
                   for s in index.values()})
    if any(a[1] != b[0] for a, b in zip(rows, rows[1:])):
        raise ValueError(f"{fn}: this process's devices hold rows {rows}, which are not "
                         f"contiguous; build the mesh with parallel.make_mesh() (process-major "
                         f"device order)")
    return slice(rows[0][0], rows[-1][1])


def host_shard(local: Any, mesh: Mesh | None = None, *, num_rows: int | None = None,
               axis_name: str | None = None) -> Any:
    """Global arrays, split by rows over the mesh axis, from each process's own rows
    (``jax.make_array_from_process_local_data``). No host ever holds the whole data set.

    Args:
        local: a pytree of this process's rows, ``data[process_slice(num_rows)]`` of each
            leaf (all leaves with the same number of rows).
        mesh: the mesh; ``None``: ``make_mesh()`` over every device.
        num_rows: the global number of rows; ``None``: local rows x number of processes.
        axis_name: the mesh axis; ``None``: the mesh's only axis, or ``"data"``.

    Returns:
        The tree of global ``jax.Array``s of ``num_rows`` rows each, ready for
        ``fit(..., mesh=mesh)``.
    """
    fn = "host_shard"
    mesh, name = _resolve(fn, make_mesh() if mesh is None else mesh, axis_name)
    leaves = jax.tree.leaves(local)
    if not leaves:
        raise ValueError(f"{fn}: local holds no arrays")
    lengths = {_shape(a)[0] if _shape(a) else None for a in leaves}
    if len(lengths) != 1 or None in lengths:
        raise ValueError(f"{fn}: every leaf of local needs the same number of rows, got "
                         f"leading sizes {sorted(map(str, lengths))}")
    (rows,) = lengths
    num_rows = rows * jax.process_count() if num_rows is None else num_rows
    mine = process_slice(num_rows, mesh, axis_name=name)
    if mine.stop - mine.start != rows:
        raise ValueError(f"{fn}: process {jax.process_index()} holds rows [{mine.start}, "
                         f"{mine.stop}) of {num_rows}, {mine.stop - mine.start} rows, but local "
                         f"has {rows}; pass data[parallel.process_slice({num_rows})]")
    sharding = NamedSharding(mesh, P(name))
    return jax.tree.map(lambda a: jax.make_array_from_process_local_data(
        sharding, np.asarray(a), (num_rows, *_shape(a)[1:])), local)


def local_data(array: Any) -> np.ndarray:
    """This process's part of ``array`` as NumPy, for checking and logging data without
    gathering it across hosts.

    Args:
        array: a NumPy or JAX array; a global array split by rows (``host_shard``) included.

    Returns:
        The whole array when every device holding it is this process's; else the rows this
        process holds (its shards along the first axis, in order, each once).
    """
    if not isinstance(array, jax.Array) or array.is_fully_addressable:
        return np.asarray(array)
    seen: dict[int, np.ndarray] = {}
    for shard in array.addressable_shards:
        index = shard.index[0] if shard.index else slice(None)
        seen.setdefault(index.start or 0, np.asarray(shard.data))
    return np.concatenate([seen[k] for k in sorted(seen)])
