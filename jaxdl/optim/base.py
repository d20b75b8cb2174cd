"""The optimizer contract: optax's, written from scratch.

A ``GradientTransformation`` is a pair of pure functions. ``init(params) -> state`` builds the
state; ``update(updates, state, params=None) -> (updates, new_state)`` turns gradients into
updates. ``apply_updates`` adds updates to parameters, so every sign flip lives in the
transformations (``scale_by_learning_rate`` negates). ``chain`` composes transformations.

Every numeric hyperparameter may be a Python number, a JAX scalar (possibly traced, so a grid
of values is one ``vmap``) or a schedule ``count -> value``; ``resolve`` evaluates it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp

__all__ = [
    "Params",
    "Updates",
    "OptState",
    "Schedule",
    "ScalarOrSchedule",
    "TransformInitFn",
    "TransformUpdateFn",
    "GradientTransformation",
    "EmptyState",
    "identity",
    "apply_updates",
    "chain",
    "named_chain",
    "resolve",
    "check_hyperparameter",
    "check_tree_matches",
    "require_params",
    "safe_increment",
]

Params = Any
Updates = Any
OptState = Any
Schedule = Callable[[jax.Array], jax.Array]
ScalarOrSchedule = float | jax.Array | Schedule


class TransformInitFn(Protocol):
    def __call__(self, params: Params) -> OptState: ...


class TransformUpdateFn(Protocol):
    def __call__(
        self, updates: Updates, state: OptState, params: Params | None = None
    ) -> tuple[Updates, OptState]: ...


class GradientTransformation(NamedTuple):
    """A pair of pure functions ``(init, update)``; see the module docstring."""

    init: TransformInitFn
    update: TransformUpdateFn


class EmptyState(NamedTuple):
    """The state of a stateless transformation."""


def identity() -> GradientTransformation:
    """Leaves updates unchanged: ``u <- u``."""

    def init_fn(params):
        del params
        return EmptyState()

    def update_fn(updates, state, params=None):
        del params
        return updates, state

    return GradientTransformation(init_fn, update_fn)


def apply_updates(params: Params, updates: Updates) -> Params:
    """Returns ``params + updates`` leaf by leaf, in each parameter's own dtype.

    ``None`` leaves (masked-out parameters) are kept as they are.
    """

    def add(p, u):
        if p is None:
            return None
        p = jnp.asarray(p)
        u = jnp.asarray(u)
        if u.dtype != p.dtype:  # e.g. float32 updates from a float32 accumulator, bf16 params
            wide = max(p.dtype, u.dtype, key=lambda d: jnp.dtype(d).itemsize)
            return (p.astype(wide) + u.astype(wide)).astype(p.dtype)
        return p + u

    return jax.tree.map(add, params, updates, is_leaf=lambda x: x is None)


def chain(*transforms: Any) -> GradientTransformation:
    """Applies transformations in sequence; the state is the tuple of their states.

    Any object with ``init`` and ``update`` (an optax transformation too) may be chained.
    """
    for i, t in enumerate(transforms):
        if not (callable(getattr(t, "init", None)) and callable(getattr(t, "update", None))):
            raise TypeError(
                f"chain: argument {i} is {type(t).__name__}, not a gradient transformation "
                "(an object with init and update). Did you pass a learning rate where a "
                "transformation belongs?"
            )

    def init_fn(params):
        return tuple(t.init(params) for t in transforms)

    def update_fn(updates, state, params=None):
        if len(state) != len(transforms):
            raise ValueError(
                f"chain: the state has {len(state)} entries but the chain has "
                f"{len(transforms)} transformations; was it made by this chain's init?"
            )
        new_state = []
        for t, s in zip(transforms, state):
            updates, s = t.update(updates, s, params)
            new_state.append(s)
        return updates, tuple(new_state)

    return GradientTransformation(init_fn, update_fn)


def named_chain(*transforms: tuple[str, Any]) -> GradientTransformation:
    """Like ``chain``, with named steps; the state is a dict ``{name: state}``."""
    names = [name for name, _ in transforms]
    if len(set(names)) != len(names):
        raise ValueError(f"named_chain: names must be unique, got {names}")

    def init_fn(params):
        return {name: t.init(params) for name, t in transforms}

    def update_fn(updates, state, params=None):
        new_state = {}
        for name, t in transforms:
            updates, new_state[name] = t.update(updates, state[name], params)
        return updates, new_state

    return GradientTransformation(init_fn, update_fn)


def resolve(value: ScalarOrSchedule, count: jax.Array) -> jax.Array:
    """The value of a hyperparameter at step ``count``: ``value(count)`` for a schedule."""
    return value(count) if callable(value) else value


def check_hyperparameter(
    name: str,
    value: ScalarOrSchedule,
    *,
    owner: str,
    low: float | None = 0.0,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> None:
    """Rejects a bad Python-number hyperparameter at construction time.

    JAX scalars (possibly traced) and schedules are accepted as given: checking them would need
    their value, which a traced sweep does not have.
    """
    if callable(value) or isinstance(value, jax.Array) or not isinstance(value, (int, float)):
        return
    value = float(value)
    bad = not math.isfinite(value)
    if low is not None:
        bad |= value < low if low_inclusive else value <= low
    if high is not None:
        bad |= value > high if high_inclusive else value >= high
    if bad:
        lo = "-inf" if low is None else f"{low}"
        hi = "inf" if high is None else f"{high}"
        interval = f"{'[' if low_inclusive else '('}{lo}, {hi}{']' if high_inclusive else ')'}"
        raise ValueError(f"{owner}: {name} must be finite and in {interval}, got {value}")


def check_tree_matches(expected: Any, given: Any, *, owner: str, what: str = "updates") -> None:
    """Raises if ``given`` does not have the tree structure ``init`` saw (``expected``)."""
    expected_def = jax.tree.structure(expected)
    given_def = jax.tree.structure(given)
    if expected_def != given_def:
        raise ValueError(
            f"{owner}: the {what} do not have the tree structure the state was initialised "
            f"with.\n  state was initialised for: {expected_def}\n  {what} given:            "
            f"{given_def}\nPass gradients shaped like the params given to init."
        )


def safe_increment(count: jax.Array) -> jax.Array:
    """``count + 1``, saturating at the largest value of ``count``'s integer dtype instead of
    wrapping around (a step counter must never turn negative)."""
    return jnp.where(count < jnp.iinfo(count.dtype).max, count + 1, count)


def require_params(params: Params | None, *, owner: str) -> None:
    """Raises a clear error when a transformation that needs ``params`` got None."""
    if params is None:
        raise ValueError(
            f"{owner} needs the current parameters: call update(updates, state, params)."
        )
