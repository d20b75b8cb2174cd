"""Safe, atomic checkpoints of any pytree (a whole ``TrainState`` included), without pickle.

A checkpoint is one ``.npz`` file: leaf ``i`` is the array ``"i"``, and ``"tree.json"``
describes the tree (dicts, lists, tuples, NamedTuples by class name, ``None``), each leaf's
dtype and shape, the step and any JSON metadata. NumPy reads it without jaxdl
(``np.load(path)["tree.json"]`` holds the description); loading never unpickles (object
arrays are refused). A save writes a temporary file in the same folder, flushes it to disk
and renames it over the target, so a crash mid-save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import zipfile
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["save", "restore", "read_metadata", "save_checkpoint", "latest", "all_checkpoints"]

_FORMAT = "jaxdl-checkpoint-1"
_NAME = re.compile(r"^checkpoint_(\d+)\.npz$")


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _describe(tree: Any, leaves: list[np.ndarray] | None) -> Any:
    """A JSON description of ``tree``, leaves in ``jax.tree.flatten`` order (dict keys sorted).

    With a ``leaves`` list, the leaves are converted to NumPy and appended to it.
    """
    if tree is None:
        return {"type": "none"}
    if isinstance(tree, dict):
        if not all(isinstance(k, str) for k in tree):
            raise TypeError(f"checkpoint: dict keys must be strings, got {list(tree)}")
        keys = sorted(tree)
        children = [_describe(tree[k], leaves) for k in keys]
        return {"type": "dict", "keys": keys, "children": children}
    if _is_namedtuple(tree):
        return {"type": "namedtuple", "name": type(tree).__name__, "keys": list(tree._fields),
                "children": [_describe(c, leaves) for c in tree]}
    if isinstance(tree, (list, tuple)):
        return {"type": type(tree).__name__, "children": [_describe(c, leaves) for c in tree]}
    return _describe_leaf(tree, leaves)


def _describe_leaf(leaf: Any, leaves: list[np.ndarray] | None) -> dict:
    entry: dict[str, Any] = {"type": "leaf"}
    if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        entry["prng_impl"] = str(jax.random.key_impl(leaf))
        leaf = jax.random.key_data(leaf)
    dtype = np.dtype(getattr(leaf, "dtype", None) or np.asarray(leaf).dtype)
    if dtype.kind == "O":
        raise TypeError("checkpoint: object arrays cannot be saved (only numeric arrays)")
    entry["dtype"], entry["shape"] = str(dtype), list(np.shape(leaf))
    if leaves is not None:
        array = np.asarray(leaf)
        if dtype.kind == "V" or dtype.name not in np.sctypeDict:
            array = array.view(f"u{dtype.itemsize}")  # bfloat16 & co: store the raw bits
        leaves.append(array)
    return entry


def _leaf_nodes(node: dict) -> list[dict]:
    if node["type"] == "leaf":
        return [node]
    return [leaf for child in node.get("children", ()) for leaf in _leaf_nodes(child)]


def _load_leaf(node: dict, array: np.ndarray) -> jax.Array:
    if array.dtype.name != node["dtype"]:
        array = array.view(jnp.dtype(node["dtype"]))
    if "prng_impl" in node:
        return jax.random.wrap_key_data(jnp.asarray(array), impl=node["prng_impl"])
    return jnp.asarray(array)


def _build(node: dict, leaves: Any) -> Any:
    """Rebuilds a tree from its description (NamedTuples as dicts) and an iterator of leaves."""
    kind = node["type"]
    if kind == "none":
        return None
    if kind == "leaf":
        return next(leaves)
    children = [_build(c, leaves) for c in node["children"]]
    if kind in ("dict", "namedtuple"):
        return dict(zip(node["keys"], children))
    return list(children) if kind == "list" else tuple(children)


def _summary(node: dict) -> str:
    """A one-line view of a description: structure, dtypes and shapes."""
    if node["type"] == "leaf":
        return f"{node['dtype']}{node['shape']}"
    if node["type"] == "none":
        return "None"
    inner = ", ".join(
        (f"{k}: " if "keys" in node else "") + _summary(c)
        for k, c in zip(node.get("keys", [None] * len(node["children"])), node["children"]))
    return f"{node.get('name', node['type'])}({inner})"


def _check_finite(tree: Any) -> None:
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            continue
        array = np.asarray(leaf)
        if array.dtype.kind == "f" or jnp.issubdtype(array.dtype, jnp.floating):
            if not np.all(np.isfinite(array.astype(np.float32))):
                raise ValueError(
                    f"checkpoint: refusing to save a non-finite value at "
                    f"{jax.tree_util.keystr(path)}; the previous checkpoint is kept."
                )


def save(path: str | os.PathLike, tree: Any, *, step: int | None = None,
         metadata: dict | None = None, allow_nonfinite: bool = False) -> str:
    """Atomically writes ``tree`` to ``path`` (a ``.npz`` file).

    Args:
        path: the file to write; its folder is created if needed.
        tree: any pytree of arrays (dicts, lists, tuples, NamedTuples, ``None``; PRNG keys).
        step: recorded in the description, e.g. the training step.
        metadata: JSON-serialisable extras (a training history...).
        allow_nonfinite: by default a tree with NaN or Inf is refused, so a diverged run never
            overwrites a good checkpoint.

    Returns:
        The path written.
    """
    path = os.fspath(path)
    if not allow_nonfinite:
        _check_finite(tree)
    leaves: list[np.ndarray] = []
    description = {"format": _FORMAT, "step": step, "metadata": metadata or {},
                   "tree": _describe(tree, leaves)}
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
                for i, array in enumerate(leaves):  # leaf i of the description
                    with zf.open(f"{i}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, array, allow_pickle=False)
                zf.writestr("tree.json", json.dumps(description))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def _read(path: str | os.PathLike) -> tuple[dict, Any]:
    npz = np.load(os.fspath(path), allow_pickle=False)
    try:
        description = json.loads(bytes(npz["tree.json"]).decode())
    except KeyError:
        raise ValueError(f"checkpoint: {path} has no tree.json; not a jaxdl checkpoint") from None
    if description.get("format") != _FORMAT:
        raise ValueError(f"checkpoint: {path} has format {description.get('format')!r}, "
                         f"expected {_FORMAT!r}")
    return description, npz


def read_metadata(path: str | os.PathLike) -> dict:
    """The description's ``step`` and ``metadata`` without loading any array."""
    description, _ = _read(path)
    return {"step": description["step"], **description["metadata"]}


def restore(path: str | os.PathLike, like: Any = None) -> Any:
    """Reads a checkpoint written by ``save``.

    Args:
        path: the ``.npz`` file.
        like: a tree of the expected structure (e.g. a freshly initialised ``TrainState``).
            With it, the result has exactly its structure (NamedTuple classes included), and a
            checkpoint whose structure, dtypes or shapes differ is refused with both shown;
            without it, NamedTuples come back as dicts.

    Returns:
        The tree.
    """
    description, npz = _read(path)
    nodes = _leaf_nodes(description["tree"])
    leaves = [_load_leaf(node, npz[str(i)]) for i, node in enumerate(nodes)]
    if like is None:
        return _build(description["tree"], iter(leaves))
    expected = _describe(like, None)
    if expected != description["tree"]:
        raise ValueError(
            f"checkpoint: {path} does not match the tree given as `like`.\n"
            f"  saved:    {_summary(description['tree'])}\n"
            f"  expected: {_summary(expected)}"
        )
    return jax.tree.unflatten(jax.tree.structure(like), leaves)


def all_checkpoints(directory: str | os.PathLike) -> list[str]:
    """The ``checkpoint_<step>.npz`` files in ``directory``, oldest step first."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        return []
    found = [(int(m.group(1)), name) for name in os.listdir(directory)
             if (m := _NAME.match(name))]
    return [os.path.join(directory, name) for _, name in sorted(found)]


def latest(directory: str | os.PathLike) -> str | None:
    """The newest checkpoint in ``directory``, or ``None``."""
    found = all_checkpoints(directory)
    return found[-1] if found else None


def save_checkpoint(directory: str | os.PathLike, tree: Any, step: int, *, keep: int | None = 3,
                    metadata: dict | None = None) -> str:
    """Saves ``directory/checkpoint_<step>.npz`` and deletes all but the newest ``keep``."""
    if keep is not None and keep < 1:
        raise ValueError(f"save_checkpoint: keep must be >= 1 or None, got {keep}")
    path = save(os.path.join(os.fspath(directory), f"checkpoint_{step:09d}.npz"), tree,
                step=step, metadata=metadata)
    if keep is not None:
        for old in all_checkpoints(directory)[:-keep]:
            os.remove(old)
    return path

