"""Initialisation schemes for sweeps: re-draw a model's weights with a named initialiser.

A scheme is a ``jaxdl.init`` registry name (``"he_normal"``), applied to every weight of the
model, or a mapping from layer kind to name (``{"dense": "he_normal", "conv": "lecun_normal"}``,
with ``"*"`` for every other kind). A weight is a leaf named ``"w"`` of rank >= 2 (the kernels
of ``Dense`` and ``Conv``); biases and normalisation parameters keep the model's own values,
so schemes differ only in the initial weights and stack into one vmapped sweep.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jax

from jaxdl import init

__all__ = ["reinitialize", "scheme_label", "check_scheme"]

Scheme = str | Mapping[str, str]
_INDEX = re.compile(r"_\d+$")


def _kind(name: str) -> str:
    """``"dense_1"`` -> ``"dense"``: a child's layer kind, from the name ``serial`` gave it."""
    return _INDEX.sub("", name)


def _names(path: tuple) -> tuple[str, ...]:
    """A tree path as its dict keys (or sequence indices), as strings."""
    return tuple(str(getattr(p, "key", getattr(p, "idx", p))) for p in path)


def _weights(params: Any) -> list[tuple[tuple[str, ...], Any]]:
    """``(path, leaf)`` of every weight: a leaf named ``"w"`` with rank >= 2."""
    found = []
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        names = _names(path)
        if names and names[-1] == "w" and getattr(leaf, "ndim", 0) >= 2:
            found.append((names, leaf))
    return found


def _initializer_for(scheme: Scheme, names: tuple[str, ...]):
    if isinstance(scheme, str):
        return init.get(scheme)
    kind = _kind(names[-2]) if len(names) >= 2 else ""
    name = scheme.get(kind, scheme.get("*"))
    return None if name is None else init.get(name)


def scheme_label(scheme: Scheme) -> str:
    """A scheme as a short string for tables: the name, or ``"dense=he_normal,conv=..."``."""
    if isinstance(scheme, str):
        return scheme
    return ",".join(f"{kind}={name}" for kind, name in scheme.items())


def check_scheme(fn: str, scheme: Any, params: Any) -> None:
    """Raises, in ``fn``'s terms, for an unknown initialiser name or a layer kind the model
    does not have; call before compiling."""
    if isinstance(scheme, str):
        init.get(scheme)  # UnknownInitializerError lists the known names
        return
    if not isinstance(scheme, Mapping) or not scheme:
        raise TypeError(f"{fn}: a scheme is an initialiser name or a non-empty mapping "
                        f"{{layer kind: name}}, got {scheme!r}")
    kinds = {_kind(names[-2]) for names, _ in _weights(params) if len(names) >= 2}
    for kind, name in scheme.items():
        if kind != "*" and kind not in kinds:
            raise ValueError(f"{fn}: scheme {scheme_label(scheme)!r} names the layer kind "
                             f"{kind!r}, but the model's weights are in the kinds "
                             f"{sorted(kinds)} (or use '*' for every kind)")
        init.get(name)


def reinitialize(params: Any, scheme: Scheme, key: jax.Array) -> Any:
    """``params`` with every weight re-drawn from ``scheme``'s initialiser.

    Weight ``i`` (in tree order) gets ``fold_in(key, i)``; its shape and dtype are kept.
    ``Maxout``'s ``(pieces, in, out)`` weights are drawn piece by piece (split keys), so
    each piece has a ``Dense`` kernel's fans, as ``nn.Maxout`` itself initialises them.
    Works under ``jit`` and ``vmap`` (over ``key``).

    Args:
        params: a model's params (nested dicts, as ``Layer.init`` returns them).
        scheme: an initialiser name, or a mapping ``{layer kind: name}`` (``"*"``: the rest).
        key: PRNG key.

    Returns:
        A params tree of the same structure.
    """
    replaced = {}
    for i, (names, leaf) in enumerate(_weights(params)):
        fn = _initializer_for(scheme, names)
        if fn is None:
            continue
        k = jax.random.fold_in(key, i)
        if len(names) >= 2 and _kind(names[-2]) == "maxout":  # (pieces, in, out): per piece
            keys = jax.random.split(k, leaf.shape[0])
            replaced[names] = jax.vmap(lambda k, fn=fn, leaf=leaf: fn(k, leaf.shape[1:],
                                                                      leaf.dtype))(keys)
        else:
            replaced[names] = fn(k, leaf.shape, leaf.dtype)

    def swap(path, leaf):
        names = _names(path)
        return replaced.get(names, leaf)

    return jax.tree_util.tree_map_with_path(swap, params)
