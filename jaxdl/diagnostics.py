"""Per-layer diagnostics: activation statistics, gradient norms, update-to-weight ratios, plots.

``activation_stats`` runs a ``serial`` model on a batch and summarises every child's output
(mean, std, saturated and dead fractions, a fixed-edge histogram); ``gradient_stats`` gives
the norm of each layer's weight gradient and the first-to-last ratio that shows vanishing or
exploding gradients; ``update_ratio`` compares an optimizer's updates with the weights. All
three return pytrees of arrays and make no host calls, so they run under ``jit`` and
``jax.vmap`` over a sweep's stacked params::

    stats = jax.vmap(lambda p: diagnostics.activation_stats(model, p, state, x))(stacked)

The plots (matplotlib, the ``bench`` extra) draw such results into PNG files.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxdl import losses, optim
from jaxdl.nn import Layer, intermediates

__all__ = [
    "ActivationStats",
    "GradientStats",
    "kind_of",
    "activation_stats",
    "gradient_stats",
    "update_ratio",
    "plot_activation_histograms",
    "plot_gradient_norms",
    "DEFAULT_RANGE",
    "SATURATION_MARGIN",
]

# Layer kinds (a child's name without its index: "sigmoid_2" -> "sigmoid") and their outputs.
_TANH_KINDS, _RELU_KINDS = ("tanh", "hard_tanh"), ("relu", "relu6")  # relus can die
_BOUNDS = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "hard_tanh": (-1.0, 1.0),
           "relu6": (0.0, 6.0)}
DEFAULT_RANGE = (-3.0, 3.0)  # histogram range of an unbounded layer's output (relu: 0 to 3)
SATURATION_MARGIN = 0.01  # saturated: within 1% of a bound of the output's range

Range = tuple[float, float]


class ActivationStats(NamedTuple):
    """Statistics of one layer's output over a batch; ``vmap`` adds its axes to every field."""

    mean: jax.Array  # shape=(), over all examples and units
    std: jax.Array  # shape=()
    saturated: jax.Array  # shape=(), fraction near a bound (sigmoid, tanh kinds; else NaN)
    dead: jax.Array  # shape=(), fraction of units 0 for every example (relu kinds; else NaN)
    histogram: jax.Array  # shape=(bins,), int32 counts; beyond the range: in the end bins
    edges: jax.Array  # shape=(bins + 1,)


class GradientStats(NamedTuple):
    """Per-layer weight-gradient norms of a loss on one batch (see ``gradient_stats``)."""

    norms: dict[str, jax.Array]  # {layer path: ||dL/dW||_2}, model order; each shape=()
    first_to_last: jax.Array  # shape=(), << 1: vanishing toward the input, >> 1: exploding
    loss: jax.Array  # shape=(), the (weighted) mean loss on the batch


# ----------------------------------------------------------------------------- checks


def kind_of(path: str) -> str:
    """The layer kind of an ``intermediates`` path: its last name without the index.

    ``kind_of("serial_0/leaky_relu_1") = "leaky_relu"``.

    Args:
        path: a layer path such as ``"dense_0"`` or ``"serial_0/sigmoid_2"``.

    Returns:
        The kind, e.g. ``"dense"``, ``"sigmoid"``.
    """
    return re.sub(r"_\d+$", "", path.rsplit("/", 1)[-1])


def _check_model(fn: str, model: Any, serial: bool = True) -> None:
    if not isinstance(model, Layer):
        raise TypeError(f"{fn}: model must be a jaxdl.nn Layer, got {type(model).__name__}")
    if serial and model.name != "serial":
        raise ValueError(f"{fn}: model must be a serial model (per-layer outputs are read from "
                         f"its children), got a {model.name!r} layer; wrap it as serial(layer)")


def _check_params(fn: str, params: Any) -> None:
    if not isinstance(params, Mapping):
        raise TypeError(f"{fn}: params must be the model's params dict (from model.init), got "
                        f"{type(params).__name__}")


def _check_batch_x(fn: str, x: Any) -> jax.Array:
    x = jnp.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"{fn}: x must be a batch of inputs with a leading batch axis, "
                         f"(batch, *features), got shape {x.shape}; add one, e.g. x[None]")
    return x


def _check_range(fn: str, name: str, value: Any) -> Range:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: {name} must be a (low, high) pair, got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"{fn}: {name} must be finite with low < high, got {value!r}")
    return lo, hi


def _layer_range(path: str, pair: Range | None, overrides: dict) -> Range:
    kind = kind_of(path)
    for k in (path, kind):
        if k in overrides:
            return overrides[k]
    if kind in _BOUNDS:
        return _BOUNDS[kind]
    if pair is not None:
        return pair
    return (0.0, DEFAULT_RANGE[1]) if kind in _RELU_KINDS else DEFAULT_RANGE


# ----------------------------------------------------------------------------- activations


def _histogram(y: jax.Array, lo: float, hi: float, bins: int) -> tuple[jax.Array, jax.Array]:
    """Counts in ``bins`` equal bins of ``[lo, hi]``, the outside clipped into the end bins.

    Binned as ``numpy.histogram`` does: ``floor((y - lo) * bins / (hi - lo))``, then moved by
    one where rounding put a value on the wrong side of an edge; the last bin is closed.
    """
    y = jnp.clip(y.ravel(), lo, hi)
    edges = jnp.asarray(np.linspace(lo, hi, bins + 1), y.dtype)  # numpy's rounding of edges
    index = jnp.clip(jnp.floor((y - lo) * (bins / (hi - lo))), 0, bins - 1).astype(jnp.int32)
    index = index - (y < edges[index]).astype(jnp.int32)
    index = index + ((y >= edges[index + 1]) & (index < bins - 1)).astype(jnp.int32)
    index = jnp.where(jnp.isnan(y), bins, index)  # NaNs go to a dropped extra bin
    return jnp.bincount(index, length=bins + 1)[:bins].astype(jnp.int32), edges


def _layer_stats(path: str, y: jax.Array, bins: int, lo_hi: Range) -> ActivationStats:
    y = y.astype(jnp.promote_types(y.dtype, jnp.float32))
    kind, nan = kind_of(path), jnp.asarray(jnp.nan, y.dtype)
    if kind == "sigmoid":
        outside = (y < SATURATION_MARGIN) | (y > 1 - SATURATION_MARGIN)
        saturated = jnp.mean(outside.astype(y.dtype))
    elif kind in _TANH_KINDS:
        saturated = jnp.mean((jnp.abs(y) > 1 - SATURATION_MARGIN).astype(y.dtype))
    else:
        saturated = nan
    if kind in _RELU_KINDS:
        units = y.reshape(y.shape[0], -1)
        dead = jnp.mean(jnp.all(units == 0, axis=0).astype(y.dtype))
    else:
        dead = nan
    histogram, edges = _histogram(y, *lo_hi, bins)
    return ActivationStats(jnp.mean(y), jnp.std(y), saturated, dead, histogram, edges)


def activation_stats(
    model: Layer,
    params: Any,
    state: Any,
    x: ArrayLike,
    *,
    bins: int = 20,
    range: Range | Mapping[str, Range] | None = None,  # numpy.histogram's name
    key: jax.Array | None = None,
    train: bool = False,
) -> dict[str, ActivationStats]:
    """Statistics of every layer's output of a ``serial`` model on the batch ``x``.

    For a layer output ``y`` of shape ``(batch, *units)``: ``mean = mean(y)``,
    ``std = sqrt(mean((y - mean)^2))``; ``saturated = mean(y < 0.01 or y > 0.99)`` for sigmoid
    layers and ``mean(|y| > 0.99)`` for tanh and hard_tanh layers (NaN for other kinds);
    ``dead = mean_u [y_{i,u} = 0 for every example i]`` for relu and relu6 layers (NaN for other
    kinds); and ``histogram[k] = #{y in [e_k, e_{k+1})}`` on ``bins`` fixed, equal bins, so it
    works under ``jit`` and ``vmap``. The kind is read from the layer's name in the path
    (``"sigmoid_1"`` is a sigmoid). Histogram ranges: sigmoid ``[0, 1]``, tanh and hard_tanh
    ``[-1, 1]``, relu6 ``[0, 6]``; every other layer ``range`` when it is a pair, else relu
    ``[0, 3]`` and anything else ``[-3, 3]``. Children with a tuple output (``fan_out``,
    ``parallel``) are left out.

    Args:
        model: a ``serial`` model.
        params: its params; under ``jax.vmap`` one run's params of a stacked sweep.
        state: its model state.
        x: a batch of inputs ``(batch, *features)``.
        bins: number of histogram bins, a positive int.
        range: ``(low, high)`` for the layers without a natural range, or a dict
            ``{kind or path: (low, high)}`` that sets the range of those layers only.
        key: PRNG key for dropout, passed to the model (only with ``train=True``).
        train: run the model in training mode (dropout, batch statistics).

    Returns:
        An ``OrderedDict`` ``{path: ActivationStats}`` in the model's order (which, unlike a
        dict's, survives ``jit`` and ``vmap``), paths as in ``jaxdl.nn.intermediates``:
        ``"dense_0"``, ``"sigmoid_0"``, ``"serial_0/relu_1"``. Computed by one program,
        compiled once per model, shapes and options.

    Raises:
        ValueError: a model that is not serial, ``x`` without a batch axis, a bad ``bins`` or
            ``range``; ``jaxdl.nn.LayerError`` (naming the layer) when ``x`` does not fit.

    References:
        Glorot & Bengio, "Understanding the difficulty of training deep feedforward neural
        networks", 2010 (activation histograms per layer, saturation of sigmoid units).
    """
    fn = "diagnostics.activation_stats"
    _check_model(fn, model)
    _check_params(fn, params)
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"{fn}: bins must be a positive int, got {bins!r}")
    pair, overrides = None, {}
    if isinstance(range, Mapping):
        overrides = {k: _check_range(fn, f"range[{k!r}]", v) for k, v in range.items()}
    elif range is not None:
        pair = _check_range(fn, "range", range)
    x = _check_batch_x(fn, x)
    return _activation_stats(model, params, state, x, key, bins=bins, pair=pair,
                             overrides=tuple(overrides.items()), train=train)


@functools.partial(jax.jit, static_argnames=("model", "bins", "pair", "overrides", "train"))
def _activation_stats(model, params, state, x, key, *, bins, pair, overrides, train):
    _, outputs = intermediates(model, params, state, x, key=key, train=train)
    return OrderedDict(
        (path, _layer_stats(path, y, bins, _layer_range(path, pair, dict(overrides))))
        for path, y in outputs.items()
        if isinstance(y, jax.Array)
    )


# ----------------------------------------------------------------------------- gradients


def _weights(tree: Any) -> list:
    return [leaf for leaf in jax.tree.leaves(tree) if jnp.ndim(leaf) >= 2]


def _groups_by_model(layer: Layer, tree: Any, prefix: str, out: dict) -> None:
    """``out[path] = [weight leaves]`` for each leaf child of ``layer``, in the model's order."""
    for name, child in layer.children:
        if name in tree and child.children:
            _groups_by_model(child, tree[name], f"{prefix}{name}/", out)
        elif name in tree and _weights(tree[name]):
            out[f"{prefix}{name}"] = _weights(tree[name])


def _groups_by_dict(tree: Any, prefix: str, out: dict) -> None:
    """``out[path of a dict] = [its own weight leaves]``, for every dict in ``tree``."""
    if leaves := _weights([v for v in tree.values() if not isinstance(v, Mapping)]):
        out[prefix.rstrip("/") or "params"] = leaves
    for name, value in tree.items():
        if isinstance(value, Mapping):
            _groups_by_dict(value, f"{prefix}{name}/", out)


def _weight_groups(fn: str, tree: Any, model: Layer | None) -> dict[str, list]:
    out: dict[str, list] = {}
    if model is not None and model.children:
        _groups_by_model(model, tree, "", out)
    elif model is not None:
        out = {model.name: _weights(tree)} if _weights(tree) else {}
    else:  # natural order of the paths: dense_2 before dense_10
        _groups_by_dict(tree, "", out)
        out = dict(sorted(out.items(), key=lambda item: [
            int(p) if p.isdigit() else p for p in re.split(r"(\d+)", item[0])]))
    if not out:
        raise ValueError(f"{fn}: the params hold no weights (leaves of rank >= 2); per-layer "
                         "statistics need at least one Dense or Conv kernel")
    return out


def _unpack(fn: str, batch: Any) -> tuple[jax.Array, jax.Array, jax.Array | None]:
    if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
        given = f"{len(batch)} items" if isinstance(batch, (tuple, list)) else repr(batch)
        raise ValueError(f"{fn}: batch must be (x, y) or (x, y, weight), got {given}")
    x, y = _check_batch_x(fn, batch[0]), jnp.asarray(batch[1])
    weight = None if len(batch) == 2 else jnp.asarray(batch[2])
    if y.shape[:1] != x.shape[:1] or (weight is not None and weight.shape != x.shape[:1]):
        raise ValueError(f"{fn}: x, y (and weight) need one row per example, got x {x.shape}, "
                         f"y {y.shape}" + ("" if weight is None else f", weight {weight.shape}"))
    return x, y, weight


def gradient_stats(
    model: Layer,
    params: Any,
    state: Any,
    batch: tuple,
    loss: str | Callable[[jax.Array, jax.Array], jax.Array] = "cross_entropy",
    *,
    key: jax.Array | None = None,
    train: bool = False,
) -> GradientStats:
    """Norms of each layer's weight gradient on one batch, and their first-to-last ratio.

    With ``L = sum_i w_i loss(f(x_i), y_i) / sum_i w_i`` (``w_i = 1`` without weights), layer
    ``l``'s norm is ``||dL/dW_l||_2 = sqrt(sum_j (dL/dW_l)_j^2)`` over its weights (leaves of
    rank >= 2; biases and normalisation scales are left out). A layer is a child of the model
    holding weights: ``"dense_0"``, ``"serial_0/dense_1"``. Backpropagation multiplies the
    gradient by each layer's Jacobian, so ``first_to_last = ||dL/dW_first|| / ||dL/dW_last||``
    is ``<< 1`` through saturating sigmoids (vanishing) and ``>> 1`` when it explodes.

    Args:
        model: the model (any layer; combinators are walked to name their children).
        params: its params; under ``jax.vmap`` one run's params of a stacked sweep.
        state: its model state.
        batch: ``(x, y)`` or ``(x, y, weight)``.
        loss: a ``jaxdl.losses.get`` name or a per-example loss ``(outputs, y) -> (batch,)``.
        key: PRNG key for dropout (only with ``train=True``).
        train: run the model in training mode.

    Returns:
        ``GradientStats(norms, first_to_last, loss)``; ``norms`` an ``OrderedDict``.

    Raises:
        ValueError: an unknown loss name, a malformed batch, no weights in ``params``.

    References:
        Glorot & Bengio, "Understanding the difficulty of training deep feedforward neural
        networks", 2010; Hochreiter, "Untersuchungen zu dynamischen neuronalen Netzen", 1991.
    """
    fn = "diagnostics.gradient_stats"
    _check_model(fn, model, serial=False)
    _check_params(fn, params)
    try:
        loss_fn = losses.get(loss)
    except (ValueError, TypeError) as e:
        raise type(e)(f"{fn}: {e}") from None
    x, y, weight = _unpack(fn, batch)
    return _gradient_stats(model, params, state, (x, y, weight), key, loss_fn=loss_fn,
                           train=train)


@functools.partial(jax.jit, static_argnames=("model", "loss_fn", "train"))
def _gradient_stats(model, params, state, batch, key, *, loss_fn, train):
    x, y, weight = batch

    def objective(p):
        out, _ = model.apply(p, state, x, key=key, train=train)
        values = loss_fn(out, y)
        if weight is None:
            return jnp.mean(values)
        w = weight.astype(values.dtype)
        return jnp.sum(values * w) / jnp.maximum(jnp.sum(w), 1.0)

    value, grads = jax.value_and_grad(objective)(params)
    groups = _weight_groups("diagnostics.gradient_stats", grads, model)
    norms = OrderedDict((path, optim.global_norm(g)) for path, g in groups.items())
    first, last = norms[next(iter(norms))], norms[next(reversed(norms))]
    return GradientStats(norms, first / last, value)


def update_ratio(params: Any, updates: Any, *, model: Layer | None = None) -> dict[str, jax.Array]:
    """Per-layer update-to-weight ratio ``||u_l||_2 / ||W_l||_2`` of one optimizer step.

    ``u`` are the updates the optimizer returns (``params + u`` is the next step), ``W_l`` and
    ``u_l`` a layer's weights (leaves of rank >= 2). Karpathy's rule of thumb: about ``1e-3``;
    much lower, the learning rate is probably too low; much higher, too high. A zero weight
    gives ``inf`` (``nan`` with a zero update).

    Args:
        params: the params before the step.
        updates: the updates, of the structure of ``params``.
        model: group the weights by the model's children, in its order, as
            ``gradient_stats`` does; without it a layer is each dict holding weights, in
            natural order of the paths (``dense_2`` before ``dense_10``).

    Returns:
        An ``OrderedDict`` ``{layer path: ratio}``, each a scalar.

    References:
        Karpathy, CS231n course notes, "Neural Networks Part 3: Learning and Evaluation",
        Stanford, 2016 (section "Ratio of weights:updates").
    """
    fn = "diagnostics.update_ratio"
    _check_params(fn, params)
    if model is not None:
        _check_model(fn, model, serial=False)
    p_def, u_def = jax.tree.structure(params), jax.tree.structure(updates)
    if p_def != u_def:
        raise ValueError(f"{fn}: updates must have the tree structure of params.\n"
                         f"  params:  {p_def}\n  updates: {u_def}")
    weights = _weight_groups(fn, params, model)
    steps = _weight_groups(fn, updates, model)
    return OrderedDict((path, optim.global_norm(steps[path]) / optim.global_norm(w))
                       for path, w in weights.items())


# ----------------------------------------------------------------------------- plots


def _figure(fn: str, width: float, height: float):
    """A matplotlib figure on the Agg canvas (no pyplot, no global backend switch)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError(f"{fn} needs matplotlib: pip install jaxdl[bench]") from e
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: str | os.PathLike) -> str | os.PathLike:
    """Writes the PNG atomically: a temporary file in the same folder, then a rename."""
    tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
    try:
        figure.savefig(tmp, format="png", dpi=100)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _rows(fn: str, stats_grid: Any) -> list[dict[str, ActivationStats]]:
    """Rows of host stats: a sequence of per-row dicts, or one dict with a leading row axis."""
    if isinstance(stats_grid, Mapping):
        stacked = jax.tree.map(np.asarray, dict(stats_grid))
        if not stacked or np.ndim(next(iter(stacked.values())).histogram) != 2:
            raise ValueError(f"{fn}: a single stats dict needs a leading row axis (stack runs "
                             "with jax.vmap) or pass a list of dicts, one per row")
        n = len(next(iter(stacked.values())).histogram)
        return [jax.tree.map(lambda a, i=i: a[i], stacked) for i in range(n)]
    rows = [jax.tree.map(np.asarray, dict(row)) for row in stats_grid]
    if not rows:
        raise ValueError(f"{fn}: stats_grid is empty")
    return rows


def plot_activation_histograms(
    stats_grid: Sequence[Mapping[str, ActivationStats]] | Mapping[str, ActivationStats],
    path: str | os.PathLike,
    row_labels: Sequence[str],
    *,
    layers: Sequence[str] | None = None,
    title: str | None = None,
) -> str | os.PathLike:
    """Draws a grid of activation histograms (rows: runs or schemes, columns: layers) as PNG.

    Each cell shows the fraction of outputs per bin, ``histogram / sum(histogram)``.

    Args:
        stats_grid: one ``activation_stats`` result per row, or one result with a leading row
            axis (from ``jax.vmap`` over stacked params).
        path: the PNG file to write (written atomically).
        row_labels: one label per row.
        layers: the columns, as paths or kinds (``["sigmoid"]``: every sigmoid layer);
            default every layer.
        title: an optional figure title.

    Returns:
        ``path``.

    Raises:
        ImportError: matplotlib is missing (``pip install jaxdl[bench]``).
    """
    fn = "diagnostics.plot_activation_histograms"
    rows = _rows(fn, stats_grid)
    labels = [str(label) for label in row_labels]
    if len(labels) != len(rows):
        raise ValueError(f"{fn}: got {len(rows)} rows of stats but {len(labels)} row_labels")
    paths = list(rows[0])
    if layers is not None:
        wanted = set(layers)
        paths = [p for p in paths if p in wanted or kind_of(p) in wanted]
        if not paths:
            raise ValueError(f"{fn}: no layer matches layers={list(layers)}; the layers are "
                             f"{list(rows[0])}")
    figure = _figure(fn, 2.2 * len(paths) + 0.6, 1.7 * len(rows) + 0.6)
    axes = figure.subplots(len(rows), len(paths), squeeze=False, sharey="row")
    for r, (row, label) in enumerate(zip(rows, labels)):
        for c, p in enumerate(paths):
            if p not in row:
                raise ValueError(f"{fn}: row {label!r} has no layer {p!r}; rows must come from "
                                 "the same model")
            counts, edges, ax = row[p].histogram, row[p].edges, axes[r, c]
            ax.bar(edges[:-1], counts / max(counts.sum(), 1), np.diff(edges), align="edge")
            ax.set_title(p if r == 0 else "", fontsize=9)
            ax.set_ylabel(label if c == 0 else "", fontsize=9)
            ax.tick_params(labelsize=7)
    if title:
        figure.suptitle(title)
    return _save(figure, path)


def plot_gradient_norms(
    norms_by_label: Mapping[str, Mapping[str, ArrayLike] | GradientStats],
    path: str | os.PathLike,
    *,
    title: str | None = None,
) -> str | os.PathLike:
    """Plots per-layer gradient norms (log y axis), one line per label, as PNG.

    A norm with extra axes (seeds of a sweep) is drawn as its median with the interquartile
    range shaded.

    Args:
        norms_by_label: ``{label: {layer: norm}}`` or ``{label: GradientStats}``.
        path: the PNG file to write (written atomically).
        title: an optional figure title.

    Returns:
        ``path``.

    Raises:
        ImportError: matplotlib is missing (``pip install jaxdl[bench]``).
    """
    fn = "diagnostics.plot_gradient_norms"
    if not norms_by_label:
        raise ValueError(f"{fn}: norms_by_label is empty")
    series = {str(label): dict(v.norms if isinstance(v, GradientStats) else v)
              for label, v in norms_by_label.items()}
    figure = _figure(fn, 6.0, 3.6)
    ax = figure.subplots()
    for label, norms in series.items():
        values = [np.asarray(v, dtype=np.float64).reshape(-1) for v in norms.values()]
        low, mid, high = np.stack([np.quantile(v, [0.25, 0.5, 0.75]) for v in values], 1)
        (line,) = ax.plot(np.arange(len(mid)), mid, marker="o", label=label)
        if any(v.size > 1 for v in values):
            ax.fill_between(np.arange(len(mid)), low, high, color=line.get_color(), alpha=0.2)
    longest = max(series.values(), key=len)
    ax.set_xticks(np.arange(len(longest)), list(longest), rotation=45, fontsize=7)
    ax.set(yscale="log", xlabel="layer", ylabel="||dL/dW||", title=title or "")
    ax.legend(fontsize=8)
    return _save(figure, path)
