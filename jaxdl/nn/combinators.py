"""Combinators build layers from layers: ``serial``, ``parallel``, fan-out/fan-in, ``residual``.

Children are named by kind and position among their kind (``dense_0``, ``relu_0``,
``dense_1``), and their params and state live under those names. A model is just a layer.
``intermediates`` runs a ``serial`` model and returns every child's output by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jaxdl.nn.base import Layer, LayerError, as_layer

__all__ = [
    "serial",
    "parallel",
    "fan_out",
    "fan_in_sum",
    "fan_in_concat",
    "residual",
    "intermediates",
]


def _name_children(layers: Sequence[Layer]) -> tuple[tuple[str, Layer], ...]:
    counts: dict[str, int] = {}
    named = []
    for layer in layers:
        index = counts.get(layer.name, 0)
        counts[layer.name] = index + 1
        named.append((f"{layer.name}_{index}", layer))
    return tuple(named)


def _in_child(path: str, fn, *args, **kwargs):
    """Calls ``fn`` and prefixes a ``LayerError`` with the child's path in the model."""
    try:
        return fn(*args, **kwargs)
    except LayerError as e:
        raise e.within(path) from None


def _child_keys(key: jax.Array | None, n: int) -> list[jax.Array | None]:
    return [None] * n if key is None else list(jax.random.split(key, n))


def _collect(named, trees) -> dict[str, Any]:
    """``{name: tree}`` for the children whose tree is not empty."""
    return {name: tree for (name, _), tree in zip(named, trees) if jax.tree.leaves(tree)}


def serial(*layers: Any) -> Layer:
    """Composes layers in sequence: ``y = f_n(... f_2(f_1(x)))``.

    A plain function (``nn.relu``) becomes an ``elementwise`` layer. Params and state are
    dicts keyed by child name (children without params or state are left out).

    Example:
        >>> model = serial(Dense(128), relu, Dense(10))
        >>> out_shape, params, state = model.init(key, (64,))
        >>> sorted(params)
        ['dense_0', 'dense_1']
    """
    named = _name_children([as_layer(layer, "serial") for layer in layers])

    def init(key, input_shape):
        shape, params, state = tuple(input_shape), [], []
        for (name, layer), k in zip(named, _child_keys(key, len(named))):
            shape, p, s = _in_child(name, layer.init, k, shape)
            params.append(p)
            state.append(s)
        return shape, _collect(named, params), _collect(named, state)

    def apply(params, state, x, *, key=None, train=False):
        new_state = []
        for (name, layer), k in zip(named, _child_keys(key, len(named))):
            x, s = _in_child(
                name, layer.apply, params.get(name, {}), state.get(name, {}), x, key=k, train=train
            )
            new_state.append(s)
        return x, _collect(named, new_state)

    return Layer(init, apply, "serial", named)


def parallel(*layers: Any) -> Layer:
    """Applies layer ``i`` to input ``i``: ``(x_1, ..., x_n) -> (f_1(x_1), ..., f_n(x_n))``.

    Input and output shapes are tuples of shapes. Combine with ``fan_out`` and a fan-in to
    build branches: ``serial(fan_out(2), parallel(a, b), fan_in_sum())``.
    """
    named = _name_children([as_layer(layer, "parallel") for layer in layers])

    def init(key, input_shape):
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) != len(named) or not all(
            isinstance(s, (tuple, list)) for s in input_shape
        ):
            raise LayerError(
                f"parallel: expected a tuple of {len(named)} input shapes (use fan_out first), "
                f"got {input_shape}"
            )
        results = [
            _in_child(name, layer.init, k, tuple(s))
            for (name, layer), k, s in zip(named, _child_keys(key, len(named)), input_shape)
        ]
        shapes, params, state = zip(*results)
        return tuple(shapes), _collect(named, params), _collect(named, state)

    def apply(params, state, xs, *, key=None, train=False):
        if len(xs) != len(named):
            raise LayerError(f"parallel: expected {len(named)} inputs, got {len(xs)}")
        results = [
            _in_child(name, layer.apply, params.get(name, {}), state.get(name, {}), x, key=k,
                      train=train)
            for (name, layer), k, x in zip(named, _child_keys(key, len(named)), xs)
        ]
        ys, new_state = zip(*results)
        return tuple(ys), _collect(named, new_state)

    return Layer(init, apply, "parallel", named)


def _stateless(name: str, shape_fn, fn) -> Layer:
    def init(key, input_shape):
        del key
        return shape_fn(input_shape), {}, {}

    def apply(params, state, x, *, key=None, train=False):
        del params, key, train
        return fn(x), state

    return Layer(init, apply, name)


def fan_out(num: int) -> Layer:
    """Copies the input ``num`` times: ``x -> (x, ..., x)``."""
    return _stateless("fan_out", lambda s: (tuple(s),) * num, lambda x: (x,) * num)


def fan_in_sum() -> Layer:
    """Sums a tuple of inputs of one shape: ``(x_1, ..., x_n) -> sum_i x_i``."""

    def shape_fn(shapes):
        if len({tuple(s) for s in shapes}) != 1:
            raise LayerError(f"fan_in_sum: all inputs must have one shape, got {list(shapes)}")
        return tuple(shapes[0])

    return _stateless("fan_in_sum", shape_fn, lambda xs: sum(xs[1:], xs[0]))


def fan_in_concat(axis: int = -1) -> Layer:
    """Concatenates a tuple of inputs along ``axis`` (of one example; -1 is features)."""

    def shape_fn(shapes):
        rank = len(shapes[0])
        ax = axis % rank
        rest = {tuple(s[:ax]) + tuple(s[ax + 1:]) for s in shapes}
        if len(rest) != 1 or any(len(s) != rank for s in shapes):
            raise LayerError(
                f"fan_in_concat: inputs must agree on every axis but {axis}, got {list(shapes)}"
            )
        return (*shapes[0][:ax], sum(s[ax] for s in shapes), *shapes[0][ax + 1:])

    def fn(xs):
        return jnp.concatenate(xs, axis=axis if axis < 0 else axis + 1)

    return _stateless("fan_in_concat", shape_fn, fn)


def residual(*layers: Any) -> Layer:
    """A residual block: ``y = x + f(x)`` with ``f = serial(*layers)``.

    ``f`` must keep the input's shape; a mismatch is reported when the model is initialised.

    References:
        He et al., "Deep Residual Learning for Image Recognition", CVPR 2016.
    """
    body = serial(*layers)

    def init(key, input_shape):
        shape, params, state = body.init(key, input_shape)
        if tuple(shape) != tuple(input_shape):
            raise LayerError(
                f"residual: the block maps shape {tuple(input_shape)} to {tuple(shape)}; "
                "x + f(x) needs f to keep the shape."
            )
        return shape, params, state

    def apply(params, state, x, *, key=None, train=False):
        y, new_state = body.apply(params, state, x, key=key, train=train)
        return x + y, new_state

    return Layer(init, apply, "residual", body.children)


def intermediates(
    model: Layer,
    params: Any,
    state: Any,
    x: Any,
    *,
    key: jax.Array | None = None,
    train: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """Runs a ``serial`` model and captures every child's output, without changing the model.

    Nested ``serial`` children are walked too; their outputs are named by path
    (``"serial_0/dense_1"``). The model's own output equals ``model.apply``'s.

    Returns:
        ``(y, outputs)`` with ``outputs`` an ordered dict ``{path: activation}``.
    """
    if model.name != "serial":
        raise LayerError(
            f"intermediates: expected a serial model, got a {model.name!r} layer; wrap it as "
            "serial(layer)."
        )
    outputs: dict[str, Any] = {}

    def run(layer, params, state, x, key, prefix):
        keys = _child_keys(key, len(layer.children))
        for (name, child), k in zip(layer.children, keys):
            path = f"{prefix}{name}"
            p, s = params.get(name, {}), state.get(name, {})
            if child.name == "serial":
                x = run(child, p, s, x, k, f"{path}/")
            else:
                x, _ = _in_child(path, child.apply, p, s, x, key=k, train=train)
            outputs[path] = x
        return x

    y = run(model, params, state, x, key, "")
    return y, outputs
