"""Many trainings of one model as one compiled, vmapped program.

``run`` trains the product of its axes -- initialisation schemes, numeric hyperparameters,
seeds (and, for ``kfold``/``bagging``, data subsets) -- under one ``jax.vmap``: schemes differ
only in the initial weights, and hyperparameters are traced scalars handed to the optimizer
factory, the model factory or the L2 penalty, so the whole sweep compiles once. Each run's
randomness (initialisation, batch order, dropout) comes from its seed alone, so a run gives
the same numbers whatever else the sweep contains.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import numbers
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import parallel
from jaxdl.nn import Layer
from jaxdl.sweep.result import SweepResult
from jaxdl.sweep.schemes import check_scheme, reinitialize
from jaxdl.train.loop import _check_data
from jaxdl.train.state import TrainState, make_eval_step, make_train_step

__all__ = ["run", "paired", "Paired"]


class Paired(NamedTuple):
    """Hyperparameters that vary together along one axis (``paired``)."""

    names: tuple[str, ...]
    rows: tuple[tuple[float, ...], ...]


def paired(**columns: Sequence[float]) -> Paired:
    """Hyperparameters that change together, as one sweep axis.

    ``hyperparameters={"setting": paired(learning_rate=[0.1, 0.01], momentum=[0.9, 0.99])}``
    sweeps two settings, not four; the axis values are ``(learning_rate, momentum)`` tuples.

    Raises:
        ValueError: columns of different lengths.
    """
    if not columns:
        raise ValueError("sweep.paired: give at least one column, e.g. paired(learning_rate=[...])")
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) != 1:
        shown = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise ValueError(f"sweep.paired: the columns must have the same length; {shown}")
    return Paired(tuple(columns), tuple(zip(*columns.values())))


@dataclasses.dataclass(frozen=True)
class Pools:
    """Which examples each data subset trains and is evaluated on (internal to sweeps).

    ``train_idx``/``train_w``: ``(S, m)`` example indices into the training arrays and their
    weights (0 for padding); ``evals``: ``{name: (x, y, idx (S, v), w (S, v))}``; ``axis``:
    the subset axis ``(name, values)``, or ``None`` for one subset.
    """

    train_idx: np.ndarray
    train_w: np.ndarray
    evals: dict[str, tuple[Any, Any, np.ndarray, np.ndarray]]
    axis: tuple[str, tuple] | None = None


def whole_sets(n: int, validation: tuple[Any, Any] | None, x: Any, y: Any) -> Pools:
    """One subset: train on every example; evaluate on the training and validation sets."""
    everyone = lambda k: (np.arange(k, dtype=np.int32)[None], np.ones((1, k), np.float32))
    evals = {"train": (x, y, *everyone(n))}
    if validation is not None:
        evals["val"] = (*validation, *everyone(validation[0].shape[0]))
    return Pools(*everyone(n), evals)


def _is_transformation(obj: Any) -> bool:
    return isinstance(obj, tuple) and hasattr(obj, "init") and hasattr(obj, "update")


def _parameters(factory: Callable) -> tuple[set[str], bool, set[str]]:
    """Named parameters, whether it takes ``**kwargs``, and the required ones."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return set(), True, set()
    named = {p.name for p in sig.parameters.values()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    required = {p.name for p in sig.parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    var_kw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    return named, var_kw, required


def _route(names: list[str], optimizer: Any, model: Any) -> dict[str, str]:
    """Which of ``"optimizer"``, ``"model"`` or ``"l2"`` takes each hyperparameter."""
    opt = _parameters(optimizer) if not _is_transformation(optimizer) else (set(), False, set())
    mdl = _parameters(model) if not isinstance(model, Layer) else (set(), False, set())
    routes = {}
    for name in names:
        if name == "l2":
            routes[name] = "l2"
        elif name in opt[0]:
            routes[name] = "optimizer"
        elif name in mdl[0]:
            routes[name] = "model"
        elif opt[1]:
            routes[name] = "optimizer"
        elif mdl[1]:
            routes[name] = "model"
        else:
            takes_opt = sorted(opt[0]) if not _is_transformation(optimizer) else \
                "nothing: it is a GradientTransformation; pass a factory such as " \
                "lambda learning_rate: optim.adam(learning_rate)"
            takes_model = sorted(mdl[0]) if not isinstance(model, Layer) else \
                "nothing: it is a Layer; pass a factory such as lambda rate: serial(...)"
            raise ValueError(
                f"sweep.run: no part of the training takes the hyperparameter {name!r}. The "
                f"optimizer factory takes {takes_opt}; the model factory takes {takes_model}; "
                "'l2' is the train step's L2 penalty.")
    for part, (_, _, required), factory in (("optimizer", opt, optimizer), ("model", mdl, model)):
        missing = required - {n for n, r in routes.items() if r == part}
        if missing:
            raise ValueError(
                f"sweep.run: the {part} factory {getattr(factory, '__name__', factory)!r} needs "
                f"{sorted(missing)}; sweep them (hyperparameters={{{sorted(missing)[0]!r}: "
                "[...]}) or bind them with functools.partial")
    return routes


def _axis_values(name: str, values: Any) -> tuple[tuple[str, ...], tuple]:
    """(the hyperparameter names on this axis, the axis values), checked."""
    if isinstance(values, Paired):
        rows = values.rows
        names = values.names
    else:
        if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray,
                                                                         jax.Array)):
            raise TypeError(f"sweep.run: hyperparameter {name!r} needs a sequence of numbers, "
                            f"got {values!r}")
        rows = tuple((v,) for v in np.asarray(values).tolist()) if not isinstance(
            values, Sequence) else tuple((v,) for v in values)
        names = (name,)
    if not rows:
        raise ValueError(f"sweep.run: hyperparameter axis {name!r} is empty")
    for row in rows:
        for n, v in zip(names, row):
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v):
                raise ValueError(f"sweep.run: hyperparameter {n!r} must take finite real "
                                 f"numbers, got {v!r}")
    values_out = tuple(r[0] for r in rows) if not isinstance(values, Paired) else rows
    return names, values_out


def _settings(value: Any, cols: tuple[str, ...], is_paired: bool) -> dict[str, Any]:
    """One axis value as ``{hyperparameter: number}``."""
    return dict(zip(cols, value if is_paired else (value,)))


def _seeds(seeds: Any) -> tuple[int, ...]:
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"sweep.run: seeds must be >= 1 (a count) or a list of ints, "
                             f"got {seeds}")
        return tuple(range(int(seeds)))
    if isinstance(seeds, Sequence) and seeds and all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in seeds):
        bad = [s for s in seeds if not 0 <= s < 2**31]
        if bad:
            raise ValueError(f"sweep.run: seeds must be in [0, 2**31), got {bad}")
        return tuple(int(s) for s in seeds)
    raise TypeError(f"sweep.run: seeds must be a count or a non-empty list of ints, "
                    f"got {seeds!r}")


def _check_l2(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
            np.isfinite(value) and value >= 0):
        raise ValueError(f"sweep.run: l2 must be a finite number >= 0, got {value!r}")


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"sweep.run: {name} must be a positive int, got {value!r}")
    return int(value)


def _available_bytes() -> int:
    stats = jax.devices()[0].memory_stats() or {}
    if "bytes_limit" in stats:
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def _per_run_bytes(program: Callable, args: tuple) -> int | None:
    one = jax.tree.map(lambda a: a[:1], args[0])
    analysis = jax.jit(program).lower(one, *args[1:]).compile().memory_analysis()
    if analysis is None:
        return None
    return int(analysis.temp_size_in_bytes + analysis.output_size_in_bytes
               + analysis.argument_size_in_bytes)


def run(
    model: Layer | Callable[..., Layer],
    optimizer: Any,
    train: tuple[Any, Any],
    *,
    steps: int,
    batch_size: int | None = None,
    loss: str | Callable = "cross_entropy",
    validation: tuple[Any, Any] | None = None,
    seeds: int | Sequence[int] = 1,
    schemes: Sequence[str | Mapping[str, str]] | None = None,
    hyperparameters: Mapping[str, Sequence[float] | Paired] | None = None,
    eval_every: int | None = None,
    l2: float = 0.0,
    augment: Callable | None = None,
    max_parallel: int | str | None = None,
    mesh: jax.sharding.Mesh | None = None,
    keep_params: bool = True,
    _pools: Pools | None = None,
) -> SweepResult:
    """Trains every combination of schemes x hyperparameters x seeds as one vmapped program.

    Each run: ``model.init`` from ``key(seed)``, weights re-drawn from its scheme
    (``jaxdl.sweep.reinitialize``), then ``steps`` steps of ``jaxdl.train.make_train_step``
    on minibatches of ``batch_size`` drawn without replacement (a fresh permutation of the
    training set every epoch, from the seed; an epoch's last partial batch is dropped), and
    an evaluation on the whole training (and validation) set at step 0, every
    ``eval_every`` steps and at the end.

    Args:
        model: a ``Layer``, or a factory ``(**model_hyperparameters) -> Layer`` (for a swept
            dropout rate, say: ``lambda rate: serial(Dense(64), relu, Dropout(rate), ...)``).
        optimizer: a factory ``(**optimizer_hyperparameters) -> GradientTransformation``
            (``optim.sgd`` itself, or ``lambda learning_rate: optim.adam(learning_rate)``),
            or a ``GradientTransformation`` when no axis sweeps it.
        train: ``(x, y)`` training data, shared by every run.
        steps: optimizer steps per run.
        batch_size: examples per step; ``None`` for full-batch gradient descent.
        loss: a ``jaxdl.losses.get`` name or a per-example loss ``(outputs, y) -> (batch,)``.
        validation: optional ``(x, y)`` evaluated with the training set.
        seeds: a count ``n`` (seeds ``0..n-1``) or a list of ints; the last axis, ``"seed"``.
        schemes: optional axis ``"scheme"``: ``jaxdl.init`` names, or mappings
            ``{layer kind: name}`` (``"*"`` for the other kinds).
        hyperparameters: optional axes ``{name: values}``, in order; each name goes to the
            optimizer factory, else the model factory; ``"l2"`` is the L2 penalty. Use
            ``paired`` for values that change together.
        eval_every: steps between evaluations (default: ``steps // 20``, at least 1).
        l2: the L2 penalty when no axis sweeps it.
        augment: optional ``(key, batch) -> batch`` for each training batch.
        max_parallel: runs per vmapped chunk; ``None``: all at once; ``"auto"``: as many as
            fit in half the free memory (measured on the compiled one-run program).
            Chunking gives the same numbers as one chunk.
        mesh: a ``jax.sharding.Mesh``: each chunk's runs are split across its devices along
            its first axis (sweep-parallel); chunks are padded to a multiple of its size.
        keep_params: return the final params and model state of every run.

    Returns:
        A ``SweepResult``; axes ``"scheme"``, the hyperparameters in order, ``"seed"``.

    Raises:
        ValueError / TypeError / jaxdl.init.UnknownInitializerError: before compiling, for
        unknown scheme names, hyperparameters nothing takes, bad values or data.
    """
    steps = _positive("steps", steps)
    eval_every = max(1, steps // 20) if eval_every is None else _positive("eval_every",
                                                                          eval_every)
    if eval_every > steps:
        raise ValueError(f"sweep.run: eval_every ({eval_every}) is more than steps ({steps})")
    seed_values = _seeds(seeds)
    hyperparameters = dict(hyperparameters or {})
    axes: list[tuple[str, tuple]] = []
    columns: list[tuple[str, ...]] = []
    pairs: list[bool] = []
    if schemes is not None:
        if isinstance(schemes, (str, Mapping)) or not schemes:
            raise TypeError("sweep.run: schemes must be a non-empty list of initialiser names "
                            f"(or mappings), got {schemes!r}")
        axes.append(("scheme", tuple(schemes)))
        columns.append(())
        pairs.append(False)
    for name, values in hyperparameters.items():
        if name in ("scheme", "seed") or (_pools is not None and _pools.axis is not None
                                          and name == _pools.axis[0]):
            raise ValueError(f"sweep.run: {name!r} is a reserved axis name")
        names, vals = _axis_values(name, values)
        axes.append((name, vals))
        columns.append(names)
        pairs.append(isinstance(values, Paired))
    if _pools is not None and _pools.axis is not None:
        axes.append(_pools.axis)
        columns.append(())
        pairs.append(False)
    axes.append(("seed", seed_values))
    columns.append(())
    pairs.append(False)
    hnames = [n for cols in columns for n in cols]
    if len(set(hnames)) != len(hnames):
        raise ValueError(f"sweep.run: a hyperparameter appears on two axes: {hnames}")
    routes = _route(hnames, optimizer, model)

    x, y = _arrays("train", train)
    if validation is not None:
        validation = _arrays("validation", validation)
    pools = _pools if _pools is not None else whole_sets(x.shape[0], validation, x, y)
    m = pools.train_idx.shape[1]
    if batch_size is not None and (isinstance(batch_size, bool)
                                   or not isinstance(batch_size, numbers.Integral)):
        raise TypeError(f"sweep.run: batch_size must be an int or None, got {batch_size!r}")
    if batch_size is not None and not 1 <= batch_size <= m:
        raise ValueError(f"sweep.run: batch_size must be in [1, {m}] (the examples each run "
                         f"trains on) or None for the full batch, got {batch_size}")

    # Build each factory once per axis value with plain numbers: their own checks (a negative
    # learning rate, a dropout rate of 2) speak before anything compiles.
    first = {}
    for (_, vals), cols, is_paired in zip(axes, columns, pairs):
        first.update(_settings(vals[0], cols, is_paired))
    for (_, vals), cols, is_paired in zip(axes, columns, pairs):
        for v in vals:
            setting = {**first, **_settings(v, cols, is_paired)}
            _check_l2(setting.get("l2", l2))
            _build(routes, optimizer, model, setting)
    model0 = _build(routes, optimizer, model, first)[1]
    shapes = jax.eval_shape(lambda k: model0.init(k, tuple(x.shape[1:])), jax.random.key(0))
    num_outputs = jax.eval_shape(lambda p, s, a: model0.apply(p, s, a)[0], shapes[1], shapes[2],
                                 jax.ShapeDtypeStruct((1, *x.shape[1:]), x.dtype)).shape[-1]
    for name, (ex, ey, _, _) in pools.evals.items():
        _check_data(name if name != "val" else "validation", ex, ey, loss, num_outputs)
    for scheme in schemes or ():
        check_scheme("sweep.run", scheme, shapes[1])

    table = _run_table(axes, columns, pairs, hnames)
    program = _program(routes, optimizer, model, tuple(schemes or ()), loss, l2, augment,
                       steps, eval_every, batch_size, m, tuple(x.shape[1:]), keep_params)
    data = (jnp.asarray(x), jnp.asarray(y), jnp.asarray(pools.train_idx),
            jnp.asarray(pools.train_w),
            {k: tuple(jnp.asarray(a) for a in v) for k, v in pools.evals.items()})
    outputs, compile_s, run_s = _execute(program, table, data, max_parallel, mesh)
    shape = tuple(len(v) for _, v in axes)
    reshape = lambda a: np.asarray(a).reshape(*shape, *a.shape[1:])
    curves = {k: reshape(v) for k, v in outputs["curves"].items()}
    final = {k: v[..., -1] for k, v in curves.items() if k != "batch_loss"}
    final["skipped"] = reshape(outputs["skipped"])
    params = jax.tree.map(reshape, outputs["params"]) if keep_params else None
    model_state = jax.tree.map(reshape, outputs["model_state"]) if keep_params else None
    eval_steps = np.unique(np.r_[np.arange(0, steps + 1, eval_every), steps])
    return SweepResult(dict(axes), eval_steps, curves, final, params, model_state, compile_s,
                       run_s)


def _arrays(name: str, pair: Any) -> tuple[Any, Any]:
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise ValueError(f"sweep.run: {name} data must be a pair (x, y), got "
                         f"{type(pair).__name__}")
    return tuple(a if isinstance(a, (np.ndarray, jax.Array)) else np.asarray(a) for a in pair)


def _build(routes: dict[str, str], optimizer: Any, model: Any, setting: Mapping[str, Any]):
    """The optimizer, model and L2 coefficient for one setting of the hyperparameters."""
    part = lambda p: {k: v for k, v in setting.items() if routes[k] == p}
    opt = optimizer if _is_transformation(optimizer) else optimizer(**part("optimizer"))
    mdl = model if isinstance(model, Layer) else model(**part("model"))
    if not _is_transformation(opt):
        raise TypeError(f"sweep.run: the optimizer factory returned {type(opt).__name__}, "
                        "not a GradientTransformation")
    if not isinstance(mdl, Layer):
        raise TypeError(f"sweep.run: the model factory returned {type(mdl).__name__}, "
                        "not a Layer")
    return opt, mdl, setting.get("l2")


def _run_table(axes, columns, pairs, hnames) -> dict[str, np.ndarray]:
    """One row per run (C order over the axes): seed, scheme index, subset index, and each
    hyperparameter's value."""
    rows = {"seed": [], "scheme": [], "subset": [], **{n: [] for n in hnames}}
    for index in itertools.product(*(range(len(v)) for _, v in axes)):
        rows["scheme"].append(0)
        rows["subset"].append(0)
        for (name, values), cols, is_paired, i in zip(axes, columns, pairs, index):
            if name == "seed":
                rows["seed"].append(values[i])
            elif name == "scheme":
                rows["scheme"][-1] = i
            elif not cols:
                rows["subset"][-1] = i
            else:
                for n, v in _settings(values[i], cols, is_paired).items():
                    rows[n].append(v)
    table = {k: np.asarray(v, np.int32) for k, v in rows.items() if k in ("seed", "scheme",
                                                                       "subset")}
    table["hyper"] = {n: np.asarray(rows[n], np.float32) for n in hnames}
    return table


def _program(routes, optimizer, model, schemes, loss, l2, augment, steps, eval_every,
             batch_size, m, input_shape, keep_params):
    """The vmapped function of (run table chunk, data) that trains every run in the chunk."""
    full_batch = batch_size is None or batch_size == m
    size = m if batch_size is None else batch_size
    per_epoch = m // size

    def one_run(row, data):
        x, y, train_idx, train_w, evals = data
        opt, mdl, l2_value = _build(routes, optimizer, model, row["hyper"])
        init_key, scheme_key, run_key, order_key = jax.random.split(jax.random.key(row["seed"]),
                                                                    4)
        _, params, model_state = mdl.init(init_key, input_shape)
        if schemes:
            branches = [lambda p, k, s=s: reinitialize(p, s, k) for s in schemes]
            params = jax.lax.switch(row["scheme"], branches, params, scheme_key)
        ts = TrainState(params, model_state, opt.init(params), jnp.zeros([], jnp.int32),
                        run_key, jnp.zeros([], jnp.int32))
        step = make_train_step(mdl, loss, opt, l2=l2 if l2_value is None else l2_value,
                               augment=augment)
        evaluate = make_eval_step(mdl, loss)
        pool, pool_w = train_idx[row["subset"]], train_w[row["subset"]]

        def metrics(ts):
            out = {}
            for name, (ex, ey, idx, w) in evals.items():
                i = idx[row["subset"]]
                found = evaluate(ts, (ex[i], ey[i], w[row["subset"]]))
                out.update({f"{name}_{k}": v for k, v in found.items() if k != "weight"})
            return out

        def train_step(carry, t):
            ts, order = carry
            if not full_batch:
                order = jax.lax.cond(
                    t % per_epoch == 0,
                    lambda: jax.random.permutation(jax.random.fold_in(order_key, t // per_epoch),
                                                   m).astype(jnp.int32),
                    lambda: order)
            j = jax.lax.dynamic_slice(order, ((t % per_epoch) * size,), (size,))
            i = pool[j]
            ts, found = step(ts, (x[i], y[i], pool_w[j]))
            return (ts, order), found["loss"]

        def chunk(carry, t0, length):
            carry, batch_loss = jax.lax.scan(train_step, carry,
                                             t0 + jnp.arange(length, dtype=jnp.int32))
            return carry, (batch_loss, metrics(carry[0]))

        carry = (ts, jnp.arange(m, dtype=jnp.int32))
        starts = jnp.arange(steps // eval_every, dtype=jnp.int32) * eval_every
        carry, (batch_loss, curves) = jax.lax.scan(
            lambda c, t0: chunk(c, t0, eval_every), carry, starts)
        batch_loss = batch_loss.reshape(-1)
        curves = {k: jnp.concatenate([v0[None], curves[k]]) for k, v0 in metrics(ts).items()}
        rest = steps % eval_every
        if rest:
            carry, (tail_loss, tail) = chunk(carry, jnp.asarray(steps - rest, jnp.int32), rest)
            batch_loss = jnp.concatenate([batch_loss, tail_loss])
            curves = {k: jnp.concatenate([v, tail[k][None]]) for k, v in curves.items()}
        ts = carry[0]
        out = {"curves": {**curves, "batch_loss": batch_loss}, "skipped": ts.skipped}
        if keep_params:
            out.update(params=ts.params, model_state=ts.model_state)
        else:
            out.update(params=None, model_state=None)
        return out

    return jax.vmap(one_run, in_axes=(0, None))


def _execute(program, table, data, max_parallel, mesh):
    """Runs ``program`` over the run table in equal chunks (the last padded with copies of
    the first run); returns the concatenated outputs, compile and run seconds."""
    n = len(table["seed"])
    rows = {"seed": table["seed"], "scheme": table["scheme"], "subset": table["subset"],
            "hyper": table["hyper"]}
    devices = 1 if mesh is None else mesh.shape[mesh.axis_names[0]]
    if max_parallel == "auto":
        per_run = _per_run_bytes(program, (rows, data))
        chunk = n if per_run is None else max(1, min(n, _available_bytes() // 2 // per_run))
    elif max_parallel is None:
        chunk = n
    else:
        chunk = min(n, _positive("max_parallel", max_parallel))
    chunk = -(-chunk // devices) * devices
    count = -(-n // chunk)
    padded = jax.tree.map(lambda a: np.concatenate([a, np.repeat(a[:1], count * chunk - n, 0)]),
                          rows)
    place = lambda tree: tree
    if mesh is not None:  # sweep-parallel: each device trains its share of every chunk
        place = lambda tree: parallel.shard_runs(tree, mesh, axis_name=mesh.axis_names[0])
        data = parallel.replicate(data, mesh)
    pieces = [place(jax.tree.map(lambda a: a[c * chunk:(c + 1) * chunk], padded))
              for c in range(count)]
    start = time.perf_counter()
    compiled = jax.jit(program).lower(pieces[0], data).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    results = [jax.device_get(compiled(piece, data)) for piece in pieces]
    run_s = time.perf_counter() - start
    joined = jax.tree.map(lambda *a: np.concatenate(a)[:n], *results)
    return joined, compile_s, run_s
