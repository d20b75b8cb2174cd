"""The layer contract: a layer is a ``Layer(init, apply)`` pair of pure functions.

``init(key, input_shape) -> (output_shape, params, state)`` where ``input_shape`` is one
example's shape (no batch axis); ``apply(params, state, x, *, key=None, train=False) ->
(y, new_state)`` where ``x`` has a leading batch axis. ``params`` are trainable arrays,
``state`` non-trainable ones (running statistics); both nested dicts, ``{}`` when empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax

__all__ = ["Layer", "LayerError", "Shape", "elementwise", "as_layer", "check_features"]

Shape = tuple[int, ...]
Params = Any
State = Any


class InitFn(Protocol):
    def __call__(self, key: jax.Array, input_shape: Shape) -> tuple[Shape, Params, State]: ...


class ApplyFn(Protocol):
    def __call__(
        self,
        params: Params,
        state: State,
        x: Any,
        *,
        key: jax.Array | None = None,
        train: bool = False,
    ) -> tuple[Any, State]: ...


class Layer(NamedTuple):
    """A layer: pure ``init`` and ``apply`` functions (see the module docstring).

    Attributes:
        init: ``(key, input_shape) -> (output_shape, params, state)``.
        apply: ``(params, state, x, *, key=None, train=False) -> (y, new_state)``.
        name: the kind of layer (``"dense"``, ``"relu"``...), used by combinators to name
            children ``dense_0``, ``dense_1``...
        children: for combinators, the ``(name, layer)`` pairs they run, so tools such as
            ``intermediates`` can walk a model without changing it.
    """

    init: InitFn
    apply: ApplyFn
    name: str = "layer"
    children: tuple[tuple[str, Layer], ...] = ()


class LayerError(ValueError):
    """A user mistake found in a layer (a shape, a rate, a missing key), in the user's terms.

    Combinators prefix the message with the path of the layer inside the model, e.g.
    ``dense_1: Dense: expected input with 64 features on the last axis, got shape (32, 65)``;
    nested combinators join the names: ``serial_0/dense_1: ...``.
    """

    def __init__(self, message: str, path: str = ""):
        super().__init__(f"{path}: {message}" if path else message)
        self.message = message
        self.path = path

    def within(self, name: str) -> LayerError:
        """The same error, located inside the child called ``name``."""
        return LayerError(self.message, f"{name}/{self.path}" if self.path else name)


def check_features(owner: str, argument: str, value: Any) -> int:
    """Returns ``value`` as a positive int, or raises a ``LayerError`` naming the argument."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise LayerError(f"{owner}: {argument} must be a positive int, got {value!r}")
    return value


def elementwise(fn: Callable[..., Any], name: str | None = None, **fn_kwargs: Any) -> Layer:
    """Turns an elementwise function (an activation) into a parameter-free layer.

    ``elementwise(jnp.tanh)`` applies ``tanh`` to every entry: ``y = fn(x, **fn_kwargs)``.

    Args:
        fn: any function of an array returning an array of the same shape.
        name: the layer's kind, for child names; defaults to ``fn.__name__``.
        **fn_kwargs: fixed keyword arguments, e.g. ``negative_slope=0.2``.

    Returns:
        A ``Layer`` with no params and no state.
    """
    if not callable(fn):
        raise LayerError(f"elementwise: fn must be callable, got {type(fn).__name__}")
    kind = name or getattr(fn, "__name__", "elementwise").lstrip("_") or "elementwise"

    def init(key, input_shape):
        del key
        return tuple(input_shape), {}, {}

    def apply(params, state, x, *, key=None, train=False):
        del params, key, train
        return fn(x, **fn_kwargs), state

    return Layer(init, apply, kind)


def as_layer(obj: Any, owner: str) -> Layer:
    """A ``Layer`` as is; a plain function (``nn.relu``) as an ``elementwise`` layer."""
    if isinstance(obj, Layer):
        return obj
    if callable(obj):
        return elementwise(obj)
    raise LayerError(
        f"{owner}: expected a Layer or an activation function, got {type(obj).__name__} "
        f"({obj!r}). Layers are built by calling their constructor, e.g. nn.Dense(10)."
    )
