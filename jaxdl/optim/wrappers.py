"""Wrappers: transformations built from other transformations.

``masked`` and ``freeze`` act on part of the parameter tree, ``partition`` (``multi_transform``)
gives each part its own transformation, ``inject_hyperparams`` moves hyperparameters into the
state, ``MultiSteps`` accumulates gradients over micro-batches, ``apply_if_finite`` skips
non-finite steps, and ``lookahead`` keeps a slow copy of the weights. Names, arguments, defaults
and numbers follow optax; any object with ``init`` and ``update`` may be wrapped.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxdl.optim.base import (
    GradientTransformation,
    OptState,
    Params,
    Updates,
    check_hyperparameter,
    check_tree_matches,
    require_params,
    resolve,
    safe_increment,
)
from jaxdl.optim.constraints import set_to_zero
from jaxdl.optim.tree import tree_zeros_like

__all__ = [
    "MaskedNode", "MaskedState", "masked", "freeze", "PartitionState", "MultiTransformState",
    "partition", "multi_transform", "InjectHyperparamsState", "inject_hyperparams",
    "ShouldSkipUpdateFunction", "MultiStepsState", "MultiSteps", "ApplyIfFiniteState",
    "apply_if_finite", "LookaheadParams", "LookaheadState", "lookahead",
]

# ----------------------------------------------------------------------------- helpers


def _check_transformation(t: Any, *, owner: str, what: str) -> None:
    if not (callable(getattr(t, "init", None)) and callable(getattr(t, "update", None))):
        raise TypeError(
            f"{owner}: {what} is {type(t).__name__}, not a gradient transformation (an object "
            "with init and update)."
        )


def _where_tree(pred: jax.Array, on_true: Any, on_false: Any) -> Any:
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


def _split_by_prefix(prefix: Any, tree: Any, *, owner: str, what: str):
    """Checks that ``prefix`` is a prefix of ``tree``: (treedef, prefix leaves, subtrees)."""
    prefix_def = jax.tree.structure(prefix)
    try:
        subtrees = prefix_def.flatten_up_to(tree)
    except (ValueError, TypeError):
        raise ValueError(
            f"{owner}: the {what} tree must have the structure of the parameters, or be a "
            f"prefix of it.\n  {what}: {prefix_def}\n  params/updates: "
            f"{jax.tree.structure(tree)}"
        ) from None
    return prefix_def, jax.tree.leaves(prefix), subtrees


def _static_bool(flag: Any, *, owner: str) -> bool:
    if isinstance(flag, (bool, np.bool_)):
        return bool(flag)
    if getattr(flag, "dtype", None) == np.bool_ and np.shape(flag) == ():
        try:
            return bool(flag)
        except jax.errors.ConcretizationTypeError:
            raise TypeError(
                f"{owner}: the mask must be static (Python booleans), got a traced value. Build "
                "it from shapes or names, not from array values."
            ) from None
    raise TypeError(
        f"{owner}: mask leaves must be booleans (True or False), got {type(flag).__name__} "
        f"{flag!r}."
    )


def _names(labels: Iterable[Any]) -> str:
    return "[" + ", ".join(sorted(map(repr, labels))) + "]"


def _keep(treedef, flags: list[bool], subtrees: list[Any]) -> Any:
    """The tree with every subtree whose flag is False replaced by a ``MaskedNode``."""
    kept = [s if f else MaskedNode() for f, s in zip(flags, subtrees, strict=True)]
    return treedef.unflatten(kept)


# ----------------------------------------------------------------------------- masking


class MaskedNode(NamedTuple):
    """Stands in for a masked-out subtree: a pytree node with no leaves."""


class MaskedState(NamedTuple):
    """State of ``masked``: the inner state, built for the masked-in leaves only."""

    inner_state: OptState


def masked(inner: GradientTransformation, mask: Any | Callable[[Params], Any]
           ) -> GradientTransformation:
    """Applies ``inner`` to the leaves where ``mask`` is True; the others pass through unchanged.

    ``u_i <- inner(u)_i`` where ``mask_i``, ``u_i <- u_i`` elsewhere. ``inner`` sees a tree in which
    each masked-out subtree is replaced by an empty ``MaskedNode``, so it keeps state only for the
    masked-in leaves. Typical use: weight decay on matrices but not on biases,
    ``masked(add_decayed_weights(1e-4), lambda p: jax.tree.map(lambda x: x.ndim > 1, p))``.

    Args:
        inner: the transformation to apply to the masked-in leaves.
        mask: a tree of Python booleans with the structure of the params (or a prefix of it; a
            leaf then covers a whole subtree), or a function returning one. The function is
            called with the params in ``init`` and with the updates in ``update``. The mask must
            be static: built from shapes or names, never from array values.

    Returns:
        A transformation whose state is ``MaskedState(inner_state)``.
    """
    owner = "masked"
    _check_transformation(inner, owner=owner, what="inner")

    def mask_tree(tree, m):
        treedef, flags, subtrees = _split_by_prefix(m, tree, owner=owner, what="mask")
        flags = [_static_bool(f, owner=owner) for f in flags]
        return treedef, flags, subtrees

    def init_fn(params):
        treedef, flags, subtrees = mask_tree(params, mask(params) if callable(mask) else mask)
        return MaskedState(inner.init(_keep(treedef, flags, subtrees)))

    def update_fn(updates, state, params=None):
        m = mask(updates) if callable(mask) else mask
        treedef, flags, subtrees = mask_tree(updates, m)
        inner_params = None
        if params is not None:
            inner_params = _keep(*mask_tree(params, m))
        new, inner_state = inner.update(_keep(treedef, flags, subtrees), state.inner_state,
                                        inner_params)
        new_subtrees = treedef.flatten_up_to(new)
        out = [n if f else s for f, n, s in zip(flags, new_subtrees, subtrees, strict=True)]
        return treedef.unflatten(out), MaskedState(inner_state)

    return GradientTransformation(init_fn, update_fn)


def freeze(mask: Any) -> GradientTransformation:
    """Zeroes the updates of frozen parameters: ``u_i <- 0`` where ``mask_i``, ``u_i`` elsewhere.

    ``freeze(mask)`` is ``masked(set_to_zero(), mask)``, optax's ``optax.transforms.freeze``.
    Chain it after the optimizer (or wrap the optimizer with ``masked`` on the negated mask to
    keep no optimizer state for frozen parameters).

    Args:
        mask: a single boolean (True freezes everything) or a tree of booleans with the
            structure of the params, or a prefix of it; True marks a frozen parameter.

    Returns:
        A transformation whose state is ``MaskedState(EmptyState())``.
    """
    return masked(set_to_zero(), mask)


# ----------------------------------------------------------------------------- partition


class PartitionState(NamedTuple):
    """State of ``partition``: ``{label: MaskedState(state of that label's transformation)}``."""

    inner_states: dict[Hashable, MaskedState]


MultiTransformState = PartitionState


def partition(transforms: Mapping[Hashable, GradientTransformation],
              param_labels: Any | Callable[[Params], Any]) -> GradientTransformation:
    """Applies a different transformation to each labelled group of parameters.

    ``u_i <- T[label_i](u restricted to the leaves labelled label_i)_i``. Each transformation
    sees only its own leaves (the others are ``MaskedNode``) and keeps state only for them.
    Transformations whose label no parameter carries are allowed (they act on an empty tree).

    Args:
        transforms: a mapping ``{label: transformation}``.
        param_labels: a tree of labels with the structure of the params (or a prefix of it), or
            a function returning one; called with the params in ``init`` and with the updates
            in ``update``. Every label must be a key of ``transforms``.

    Returns:
        A transformation whose state is ``PartitionState({label: MaskedState(inner_state)})``.
    """
    owner = "partition"
    if not isinstance(transforms, Mapping):
        raise TypeError(f"{owner}: transforms must be a dict {{label: transformation}}, got "
                        f"{type(transforms).__name__}.")
    for label, t in transforms.items():
        _check_transformation(t, owner=owner, what=f"transforms[{label!r}]")

    def split(tree):
        labels = param_labels(tree) if callable(param_labels) else param_labels
        treedef, leaves, subtrees = _split_by_prefix(labels, tree, owner=owner,
                                                     what="param_labels")
        try:
            unknown = {lab for lab in leaves if lab not in transforms}
        except TypeError:
            raise TypeError(f"{owner}: labels must be hashable, got {leaves}.") from None
        if unknown:
            raise ValueError(
                f"{owner}: some parameters have labels with no transformation: "
                f"{_names(unknown)}. transforms has labels {_names(transforms)}; add the "
                "missing ones or fix param_labels."
            )
        return treedef, leaves, subtrees

    def group(treedef, leaves, subtrees, label):
        return _keep(treedef, [lab == label for lab in leaves], subtrees)

    def init_fn(params):
        treedef, leaves, subtrees = split(params)
        return PartitionState({
            label: MaskedState(t.init(group(treedef, leaves, subtrees, label)))
            for label, t in transforms.items()
        })

    def update_fn(updates, state, params=None):
        if set(state.inner_states) != set(transforms):
            raise ValueError(
                f"{owner}: the state has labels {_names(state.inner_states)} but transforms "
                f"has {_names(transforms)}; was it made by this init?"
            )
        treedef, leaves, subtrees = split(updates)
        p_split = None if params is None else _split_by_prefix(
            treedef.unflatten(leaves), params, owner=owner, what="param_labels")
        outs, new_states = {}, {}
        for label, t in transforms.items():
            inner_params = None if p_split is None else group(*p_split, label)
            new, s = t.update(group(treedef, leaves, subtrees, label),
                              state.inner_states[label].inner_state, inner_params)
            outs[label] = treedef.flatten_up_to(new)
            new_states[label] = MaskedState(s)
        merged = [outs[lab][i] for i, lab in enumerate(leaves)]
        return treedef.unflatten(merged), PartitionState(new_states)

    return GradientTransformation(init_fn, update_fn)


multi_transform = partition


# ----------------------------------------------------------------------------- hyperparameters


class InjectHyperparamsState(NamedTuple):
    """State of a transformation built by ``inject_hyperparams``."""

    count: jax.Array  # shape=(), int32: number of updates done
    hyperparams: dict[str, jax.Array]  # the values used by the last update (init: step 0)
    inner_state: OptState


def _is_numeric(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, float)):
        return True
    if isinstance(value, (np.ndarray, np.number, jax.Array)):
        return bool(jnp.issubdtype(value.dtype, jnp.number))
    return False


def _float_dtype(tree: Any) -> jnp.dtype:
    """The floating dtype that holds every floating leaf of ``tree`` (float32 if none)."""
    dtypes = {jnp.result_type(x) for x in jax.tree.leaves(tree)}
    dtypes = [d for d in dtypes if jnp.issubdtype(d, jnp.floating)]
    if not dtypes:
        return jnp.result_type(float)
    with jax.numpy_dtype_promotion("standard"):  # a dtype question: bf16 and f16 meet at f32
        return functools.reduce(jnp.promote_types, dtypes)


def inject_hyperparams(inner_factory: Callable[..., GradientTransformation],
                       static_args: str | Iterable[str] = (),
                       hyperparam_dtype: jnp.dtype | None = None
                       ) -> Callable[..., GradientTransformation]:
    """Moves the numeric hyperparameters of a transformation into its state.

    ``inject_hyperparams(sgd)(learning_rate=0.1)`` behaves like ``sgd(0.1)``, but its state is
    ``InjectHyperparamsState(count, hyperparams, inner_state)``. At step ``t``:
    ``h <- {k: state.hyperparams[k] for numbers k} | {k: schedule_k(t) for schedules k}``, then
    ``u, inner_state <- inner_factory(**h, **static).update(u, inner_state)`` and ``h`` is
    stored. Numbers (Python, NumPy or JAX, possibly traced, default values of ``inner_factory``
    included) are stored as arrays. Callables are schedules ``count -> value``, evaluated every
    step (overriding them in the state has no effect). Booleans, strings, ``None`` and the
    names in ``static_args`` are passed unchanged. Floating values are cast, at ``init`` and at
    every step, to ``hyperparam_dtype`` or else to the params' floating dtype (bfloat16 params:
    bfloat16 hyperparameters, as optax does at ``init``), so the state's dtypes never change.

    To change a hyperparameter between steps without recompiling a jitted update, replace it
    by an array of the same dtype::

        lr = jnp.asarray(0.01, state.hyperparams["learning_rate"].dtype)
        state = state._replace(hyperparams={**state.hyperparams, "learning_rate": lr})

    Args:
        inner_factory: a function returning a transformation, e.g. ``sgd``.
        static_args: names of arguments that are callables but not schedules.
        hyperparam_dtype: the dtype of every floating hyperparameter (default: the params').

    Returns:
        A function with ``inner_factory``'s arguments that builds the transformation.
    """
    static_args = frozenset((static_args,) if isinstance(static_args, str) else static_args)
    name = getattr(inner_factory, "__name__", repr(inner_factory))
    owner = f"inject_hyperparams({name})"
    signature = inspect.signature(inner_factory)
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    unknown = static_args - set(signature.parameters)
    if unknown and not takes_kwargs:
        raise ValueError(f"{owner}: static_args {sorted(unknown)} are not arguments of {name}; "
                         f"it takes {signature}.")

    def as_array(value, dtype):
        value = jnp.asarray(value)
        if jnp.issubdtype(value.dtype, jnp.floating):
            value = value.astype(dtype if hyperparam_dtype is None else hyperparam_dtype)
        return value

    @functools.wraps(inner_factory)
    def factory(*args: Any, **kwargs: Any) -> GradientTransformation:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{owner}: {e}; {name} takes {signature}.") from None
        bound.apply_defaults()
        schedules = {k: v for k, v in bound.arguments.items()
                     if callable(v) and k not in static_args}
        numbers = {k: v for k, v in bound.arguments.items()
                   if k not in schedules and _is_numeric(v)}

        def build(hyperparams):
            b = inspect.BoundArguments(signature, dict(bound.arguments))
            b.arguments.update(hyperparams)
            return inner_factory(*b.args, **b.kwargs)

        def hyperparams_at(count, stored, tree):
            dtype = _float_dtype(tree)
            values = {k: as_array(stored[k], dtype) for k in numbers}
            values.update({k: as_array(s(count), dtype) for k, s in schedules.items()})
            return values

        # Built once now so that the factory's own checks reject bad numbers before compiling.
        zero = jnp.zeros([], jnp.int32)
        build({**numbers, **{k: s(zero) for k, s in schedules.items()}})

        def init_fn(params):
            count = jnp.zeros([], jnp.int32)
            hyperparams = hyperparams_at(count, numbers, params)
            return InjectHyperparamsState(count, hyperparams, build(hyperparams).init(params))

        def update_fn(updates, state, params=None):
            expected = set(numbers) | set(schedules)
            if set(state.hyperparams) != expected:
                raise ValueError(
                    f"{owner}: state.hyperparams has keys {sorted(state.hyperparams)}, expected "
                    f"{sorted(expected)}. Replace values, do not add or remove keys."
                )
            hyperparams = hyperparams_at(state.count, state.hyperparams,
                                         updates if params is None else params)
            updates, inner_state = build(hyperparams).update(updates, state.inner_state, params)
            new_state = InjectHyperparamsState(safe_increment(state.count), hyperparams,
                                               inner_state)
            return updates, new_state

        return GradientTransformation(init_fn, update_fn)

    return factory


# ----------------------------------------------------------------------------- accumulation

ShouldSkipUpdateFunction = Callable[[Updates, jax.Array, Params | None], tuple[jax.Array, Any]]


class MultiStepsState(NamedTuple):
    """State of ``MultiSteps``."""

    mini_step: jax.Array  # shape=(), int32: micro-steps accumulated since the last update
    gradient_step: jax.Array  # shape=(), int32: updates of the inner optimizer so far
    inner_opt_state: OptState
    acc_grads: Updates  # like the params, accumulator_dtype: sum or running mean of gradients
    skip_state: Any = ()  # what should_skip_update_fn returned last


class MultiSteps:
    """Gradient accumulation: one update of ``opt`` every ``k`` micro-batches.

    With ``k = every_k_schedule(gradient_step)`` and micro-batch gradients ``g_1..g_k``:
    ``acc = (1/k) sum_j g_j`` (``use_grad_mean``) or ``sum_j g_j``. The first ``k - 1`` calls
    of ``update`` return zero updates; the ``k``-th returns ``opt.update(acc)`` and resets the
    accumulator. With ``use_grad_mean`` the result equals one step of ``opt`` on the mean
    gradient of the ``k`` micro-batches together (a ``k`` times larger batch). If
    ``should_skip_update_fn(updates, gradient_step, params) -> (skip, skip_state)`` returns
    True, the call returns zero updates and changes nothing but ``skip_state``.

    Args:
        opt: the inner transformation.
        every_k_schedule: ``k``, an int >= 1, or a schedule ``gradient_step -> k``.
        use_grad_mean: average the accumulated gradients (True) or sum them (False).
        should_skip_update_fn: optional test for micro-batches to discard (e.g. non-finite).
        accumulator_dtype: dtype of ``acc_grads`` (``None``: the gradients' own dtype).
    """

    def __init__(self, opt: GradientTransformation, every_k_schedule: int | Callable,
                 use_grad_mean: bool = True,
                 should_skip_update_fn: ShouldSkipUpdateFunction | None = None,
                 accumulator_dtype: Any = jnp.float32) -> None:
        _check_transformation(opt, owner="MultiSteps", what="opt")
        if not callable(every_k_schedule):
            if isinstance(every_k_schedule, bool) or not isinstance(every_k_schedule, int) or (
                    every_k_schedule < 1):
                raise ValueError("MultiSteps: every_k_schedule must be an int >= 1 or a "
                                 f"schedule, got {every_k_schedule!r}.")
        self._opt = opt
        self._every_k_schedule = every_k_schedule
        self._use_grad_mean = use_grad_mean
        self._should_skip_update_fn = should_skip_update_fn
        self._accumulator_dtype = accumulator_dtype

    @property
    def inner_opt(self) -> GradientTransformation:
        """The wrapped transformation."""
        return self._opt

    def init(self, params: Params) -> MultiStepsState:
        """Zero counters and accumulator, ``opt.init(params)``."""
        step = jnp.zeros([], jnp.int32)
        skip_state = ()
        if self._should_skip_update_fn is not None:
            _, skip_state = self._should_skip_update_fn(tree_zeros_like(params), step, params)
        acc = tree_zeros_like(params, self._accumulator_dtype)
        return MultiStepsState(step, step, self._opt.init(params), acc, skip_state)

    def update(self, updates: Updates, state: MultiStepsState, params: Params | None = None
               ) -> tuple[Updates, MultiStepsState]:
        """Accumulates ``updates``; every ``k``-th call, applies ``opt`` (see the class)."""
        check_tree_matches(state.acc_grads, updates, owner="MultiSteps.update")
        skip, skip_state = False, ()
        if self._should_skip_update_fn is not None:
            skip, skip_state = self._should_skip_update_fn(updates, state.gradient_step, params)
        k = resolve(self._every_k_schedule, state.gradient_step)
        n = state.mini_step

        def accumulate(acc, g):
            g = g.astype(acc.dtype)
            if self._use_grad_mean:
                return acc + (g - acc) / (n.astype(acc.dtype) + 1)
            return acc + g

        acc = jax.tree.map(accumulate, state.acc_grads, updates)

        def final_step(acc, inner_state):
            grads = jax.tree.map(lambda a, u: a.astype(u.dtype), acc, updates)
            new, inner_state = self._opt.update(grads, inner_state, params)
            new = jax.tree.map(lambda x, u: x.astype(u.dtype), new, updates)
            return new, MultiStepsState(jnp.zeros_like(n), safe_increment(state.gradient_step),
                                        inner_state, tree_zeros_like(acc), skip_state)

        def mid_step(acc, inner_state):
            return tree_zeros_like(updates), MultiStepsState(
                n + 1, state.gradient_step, inner_state, acc, skip_state)

        new, new_state = jax.lax.cond(n >= k - 1, final_step, mid_step, acc,
                                      state.inner_opt_state)
        if self._should_skip_update_fn is not None:
            new = _where_tree(skip, tree_zeros_like(updates), new)
            new_state = _where_tree(skip, state._replace(skip_state=skip_state), new_state)
        return new, new_state

    def has_updated(self, state: MultiStepsState) -> jax.Array:
        """True right after a call that updated the inner optimizer (bool, shape ())."""
        return jnp.logical_and(state.mini_step == 0, state.gradient_step > 0)

    def gradient_transformation(self) -> GradientTransformation:
        """This accumulator as a plain ``GradientTransformation(init, update)``."""
        return GradientTransformation(self.init, self.update)


# ----------------------------------------------------------------------------- non-finite steps


class ApplyIfFiniteState(NamedTuple):
    """State of ``apply_if_finite``."""

    notfinite_count: jax.Array  # shape=(), int32: consecutive non-finite updates, 0 if last ok
    last_finite: jax.Array  # shape=(), bool: whether the last updates were all finite
    total_notfinite: jax.Array  # shape=(), int32: non-finite updates since init
    inner_state: OptState


def apply_if_finite(inner: GradientTransformation, max_consecutive_errors: int
                    ) -> GradientTransformation:
    """Skips steps whose updates contain a NaN or an infinity, up to a limit.

    With ``finite = all(isfinite(u))`` and ``c`` the count of consecutive non-finite steps
    (``c <- 0`` if finite else ``c + 1``): if ``finite or c > max_consecutive_errors`` the step
    is ``inner``'s; otherwise the updates are zero and ``inner``'s state is kept. After more
    than ``max_consecutive_errors`` non-finite steps in a row, the update goes through.

    Args:
        inner: the transformation to protect.
        max_consecutive_errors: how many non-finite steps in a row to skip (an int >= 0).

    Returns:
        A transformation whose state is
        ``ApplyIfFiniteState(notfinite_count, last_finite, total_notfinite, inner_state)``.
    """
    owner = "apply_if_finite"
    _check_transformation(inner, owner=owner, what="inner")
    m = max_consecutive_errors
    if isinstance(m, bool) or (isinstance(m, (int, float)) and (m < 0 or int(m) != m)):
        raise ValueError(f"{owner}: max_consecutive_errors must be an int >= 0, got "
                         f"{max_consecutive_errors!r}.")

    def init_fn(params):
        zero = jnp.zeros([], jnp.int32)
        return ApplyIfFiniteState(zero, jnp.ones([], jnp.bool_), zero, inner.init(params))

    def update_fn(updates, state, params=None):
        finite = jnp.ones([], jnp.bool_)
        for leaf in jax.tree.leaves(updates):
            finite = jnp.logical_and(finite, jnp.all(jnp.isfinite(leaf)))
        count = jnp.where(finite, jnp.zeros_like(state.notfinite_count),
                          state.notfinite_count + 1)
        total = state.total_notfinite + jnp.logical_not(finite).astype(jnp.int32)
        apply = jnp.logical_or(finite, count > max_consecutive_errors)
        new, inner_state = inner.update(updates, state.inner_state, params)
        new = jax.tree.map(lambda x: jnp.where(apply, x, jnp.zeros_like(x)), new)
        inner_state = _where_tree(apply, inner_state, state.inner_state)
        return new, ApplyIfFiniteState(count, finite, total, inner_state)

    return GradientTransformation(init_fn, update_fn)


# ----------------------------------------------------------------------------- lookahead


class LookaheadParams(NamedTuple):
    """The fast weights (take gradients here) and the slow weights (evaluate these)."""

    fast: Params
    slow: Params

    @classmethod
    def init_synced(cls, params: Params) -> LookaheadParams:
        """``LookaheadParams(fast=params, slow=params)``."""
        return cls(fast=params, slow=params)


class LookaheadState(NamedTuple):
    """State of ``lookahead``."""

    fast_state: OptState
    steps_since_sync: jax.Array  # shape=(), int32


def lookahead(fast_optimizer: GradientTransformation, sync_period: int | ArrayLike,
              slow_step_size: float | ArrayLike, reset_state: bool = False
              ) -> GradientTransformation:
    """Lookahead: ``k`` steps forward with a fast optimizer, then one step back.

    Params are ``LookaheadParams(fast, slow)``; gradients are taken at ``fast``. Each step
    ``fast <- fast + fast_optimizer(g)``; every ``k = sync_period`` steps the slow weights move
    toward the fast ones and the fast weights restart from them:
    ``slow <- slow + alpha (fast - slow)``, ``fast <- slow`` (``alpha = slow_step_size``).
    The returned updates are a ``LookaheadParams`` of updates: apply them unmodified with
    ``apply_updates``. With ``reset_state`` the fast optimizer's state is re-initialised (at the
    synced weights) after each synchronisation.

    Args:
        fast_optimizer: the inner optimizer, run on the fast weights.
        sync_period: ``k >= 1``, fast steps between synchronisations.
        slow_step_size: ``alpha``, the slow weights' step toward the fast ones (0.5 in the paper).
        reset_state: whether to re-initialise ``fast_optimizer``'s state at each sync.

    Returns:
        A transformation of gradients (a tree like ``params.fast``) into ``LookaheadParams``
        updates; its state is ``LookaheadState(fast_state, steps_since_sync)``.

    References:
        Zhang, Lucas, Hinton, Ba, "Lookahead Optimizer: k steps forward, 1 step back", 2019.
    """
    owner = "lookahead"
    _check_transformation(fast_optimizer, owner=owner, what="fast_optimizer")
    if isinstance(sync_period, (int, float)) and sync_period < 1:
        raise ValueError(f"{owner}: sync_period must be >= 1, got {sync_period}.")
    check_hyperparameter("slow_step_size", slow_step_size, owner=owner, low=None)

    def check_params(params):
        if not (hasattr(params, "fast") and hasattr(params, "slow")):
            raise TypeError(
                f"{owner}: params must be LookaheadParams(fast, slow), got "
                f"{type(params).__name__}. Wrap them: LookaheadParams.init_synced(params)."
            )

    def init_fn(params):
        check_params(params)
        return LookaheadState(fast_optimizer.init(params.fast), jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None):
        require_params(params, owner=owner)
        check_params(params)
        check_tree_matches(params.fast, updates, owner=owner,
                           what="updates (gradients at params.fast)")
        fast_updates, fast_state = fast_optimizer.update(updates, state.fast_state, params.fast)
        sync = state.steps_since_sync >= sync_period - 1

        def slow_update(fast, u, slow):
            step = jnp.asarray(slow_step_size).astype(slow.dtype) * ((fast + u) - slow)
            return jnp.where(sync, step, jnp.zeros_like(step))

        slow_updates = jax.tree.map(slow_update, params.fast, fast_updates, params.slow)
        fast_updates = jax.tree.map(lambda f, u, s, du: jnp.where(sync, (s + du) - f, u),
                                    params.fast, fast_updates, params.slow, slow_updates)
        if reset_state:
            synced = jax.tree.map(lambda s, du: s + du, params.slow, slow_updates)
            fast_state = _where_tree(sync, fast_optimizer.init(synced), fast_state)
        steps = jnp.where(sync, jnp.zeros_like(state.steps_since_sync),
                          state.steps_since_sync + 1)
        return (LookaheadParams(fast_updates, slow_updates), LookaheadState(fast_state, steps))

    return GradientTransformation(init_fn, update_fn)
