"""Resampling as sweeps: k-fold cross-validation, bagging, ensembles, bias and variance.

The data subsets are one more vmapped axis: ``kfold`` trains on every fold's training part
at once (axis ``"fold"``), ``bagging`` on bootstrap replicas (axis ``"replica"``), each still
crossed with any schemes, hyperparameters and seeds. ``ensemble_predict`` averages the
members, and ``bias_variance`` splits their squared error into bias and variance.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import data as jdata
from jaxdl.nn import Layer
from jaxdl.sweep.engine import Pools, _arrays, run
from jaxdl.sweep.result import SweepResult

__all__ = ["kfold", "bagging", "member_predictions", "ensemble_predict", "bias_variance"]


def _padded(index_sets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Ragged index sets as ``(S, max_len)`` indices and weights (0 marks the padding)."""
    width = max(len(s) for s in index_sets)
    idx = np.zeros((len(index_sets), width), np.int32)
    w = np.zeros((len(index_sets), width), np.float32)
    for i, s in enumerate(index_sets):
        idx[i, :len(s)], w[i, :len(s)] = s, 1.0
    return idx, w


def kfold(model: Layer | Callable[..., Layer], optimizer: Any, data: tuple[Any, Any], *,
          k: int = 5, fold_seed: int = 0, stratify: bool = True, **kwargs: Any) -> SweepResult:
    """k-fold cross-validation as one vmapped sweep (axis ``"fold"``, before ``"seed"``).

    Fold ``j``'s model trains on the other ``k - 1`` folds; ``val_*`` metrics are measured on
    fold ``j`` and ``train_*`` on its training part. The cross-validation estimate is the
    mean of ``final["val_accuracy"]`` (or ``val_loss``) over the fold axis. The folds are
    those of ``jaxdl.data.kfold(n, k, key(fold_seed), stratify=labels)``.

    Args:
        model, optimizer: as for ``run``.
        data: ``(x, y)``, all the examples.
        k: number of folds.
        fold_seed: seed of the fold assignment (the runs' seeds are ``seeds``).
        stratify: deal each class evenly over the folds (integer labels only).
        **kwargs: any other ``run`` argument (``steps``, ``seeds``, ``hyperparameters``...);
            not ``validation``: each fold is its own.

    Returns:
        A ``SweepResult``.

    References:
        Stone, "Cross-Validatory Choice and Assessment of Statistical Predictions", 1974.
        Kohavi, "A Study of Cross-Validation and Bootstrap for Accuracy Estimation and Model
        Selection", IJCAI 1995.
    """
    if "validation" in kwargs:
        raise ValueError("sweep.kfold: every fold validates on its held-out part; drop the "
                         "validation argument")
    x, y = _arrays("data", data)
    labels = y if stratify and np.ndim(y) == 1 and np.issubdtype(np.asarray(y).dtype,
                                                                   np.integer) else None
    folds = jdata.kfold(x.shape[0], k, jax.random.key(fold_seed), stratify=labels)
    train_idx, train_w = _padded([t for t, _ in folds])
    val_idx, val_w = _padded([v for _, v in folds])
    pools = Pools(train_idx, train_w,
                  {"train": (x, y, train_idx, train_w), "val": (x, y, val_idx, val_w)},
                  ("fold", tuple(range(k))))
    return run(model, optimizer, (x, y), _pools=pools, **kwargs)


def bagging(model: Layer | Callable[..., Layer], optimizer: Any, train: tuple[Any, Any], *,
            replicas: int = 10, bootstrap_seed: int = 0, validation: tuple[Any, Any] | None = None,
            **kwargs: Any) -> SweepResult:
    """Bootstrap aggregation: one model per bootstrap replica, as one vmapped sweep.

    Replica ``b`` trains on ``n`` examples drawn with replacement
    (``jaxdl.data.bootstrap``); axis ``"replica"`` comes before ``"seed"``. Besides
    ``train_*`` (on the replica) and ``val_*`` (when ``validation`` is given), the result has
    ``oob_*``: Breiman's out-of-bag estimate, on the examples the replica left out.
    Combine the members with ``ensemble_predict``.

    Args:
        model, optimizer: as for ``run``.
        train: ``(x, y)`` to resample.
        replicas: number of bootstrap replicas ``B``.
        bootstrap_seed: seed of the resampling.
        validation: optional held-out ``(x, y)``.
        **kwargs: any other ``run`` argument.

    Returns:
        A ``SweepResult``.

    References:
        Breiman, "Bagging Predictors", Machine Learning 1996.
        Efron, "Bootstrap Methods: Another Look at the Jackknife", Annals of Statistics 1979.
    """
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 2:
        raise ValueError(f"sweep.bagging: replicas must be an int >= 2, got {replicas!r}")
    x, y = _arrays("train", train)
    n = x.shape[0]
    idx = np.asarray(jdata.bootstrap(jax.random.key(bootstrap_seed), n, replicas))
    ones = np.ones(idx.shape, np.float32)
    everyone = np.broadcast_to(np.arange(n, dtype=np.int32), (replicas, n))
    oob = np.asarray(jdata.out_of_bag_mask(idx, n), np.float32)
    evals = {"train": (x, y, idx, ones), "oob": (x, y, everyone, oob)}
    if validation is not None:
        xv, yv = _arrays("validation", validation)
        nv = xv.shape[0]
        evals["val"] = (xv, yv, np.broadcast_to(np.arange(nv, dtype=np.int32), (replicas, nv)),
                        np.ones((replicas, nv), np.float32))
    pools = Pools(idx, ones, evals, ("replica", tuple(range(replicas))))
    return run(model, optimizer, (x, y), _pools=pools, **kwargs)


def member_predictions(model: Layer, members: SweepResult, x: Any) -> jax.Array:
    """Every run's outputs on ``x`` (evaluation mode), runs flattened: ``(runs, n, ...)``."""
    if not isinstance(members, SweepResult) or members.params is None:
        raise ValueError("sweep: members must be a SweepResult run with keep_params=True")
    lead = len(members.shape)
    flat = lambda tree: jax.tree.map(lambda a: jnp.asarray(a).reshape(-1, *a.shape[lead:]),
                                     tree)
    return _predictor(model)(flat(members.params), flat(members.model_state), jnp.asarray(x))


@functools.lru_cache(maxsize=32)
def _predictor(model: Layer):
    """One compiled vmapped forward pass per model, reused across calls."""
    apply = lambda p, s, x: model.apply(p, s, x, train=False)[0]
    return jax.jit(jax.vmap(apply, in_axes=(0, 0, None)))


def ensemble_predict(model: Layer, members: SweepResult, x: Any, *,
                     combine: str = "mean") -> jax.Array:
    """The ensemble of every run in ``members`` (e.g. ``bagging``'s replicas) on ``x``.

    ``combine="mean"`` averages the outputs (regression: ``f(x) = 1/B sum_b f_b(x)``);
    ``"probabilities"`` averages the softmax probabilities (classification; returns
    probabilities); ``"vote"`` returns the class most members predict (Breiman's plurality
    vote; ties go to the lower class).

    References:
        Breiman, "Bagging Predictors", Machine Learning 1996.
    """
    if combine not in ("mean", "probabilities", "vote"):
        raise ValueError(f"sweep.ensemble_predict: combine must be 'mean', 'probabilities' or "
                         f"'vote', got {combine!r}")
    outputs = member_predictions(model, members, x)
    if combine == "mean":
        return jnp.mean(outputs, axis=0)
    if combine == "probabilities":
        return jnp.mean(jax.nn.softmax(outputs, axis=-1), axis=0)
    if combine == "vote":
        votes = jax.nn.one_hot(jnp.argmax(outputs, -1), outputs.shape[-1], dtype=jnp.int32)
        return jnp.argmax(jnp.sum(votes, axis=0), axis=-1)


def bias_variance(predictions: Any, targets: Any) -> dict[str, jax.Array]:
    """Bootstrap estimate of the squared-error decomposition ``error = bias^2 + variance``.

    With ``f_b(x_i)`` the prediction of the model trained on replica ``b`` and
    ``fbar(x_i) = 1/B sum_b f_b(x_i)``:

        bias^2   = mean_i (fbar(x_i) - t_i)^2
        variance = mean_i 1/B sum_b (f_b(x_i) - fbar(x_i))^2
        error    = mean_i 1/B sum_b (f_b(x_i) - t_i)^2  = bias^2 + variance

    With noisy targets, ``bias^2`` also holds the noise variance; pass the noise-free
    function values where they are known. ``ensemble_error`` is ``bias^2``: the error of
    the averaged (bagged) predictor, so ``error - ensemble_error = variance`` is bagging's
    gain.

    Args:
        predictions: ``(B, n)`` or ``(B, n, d)``, one row per model.
        targets: ``(n,)`` or ``(n, d)``.

    Returns:
        ``{"bias2", "variance", "error", "ensemble_error"}``, scalars.

    References:
        Geman, Bienenstock and Doursat, "Neural Networks and the Bias/Variance Dilemma",
        Neural Computation 1992. Hastie, Tibshirani and Friedman, "The Elements of
        Statistical Learning", 2nd ed., 2009, section 7.3.
    """
    p = jnp.asarray(predictions)
    if not jnp.issubdtype(p.dtype, jnp.floating):
        p = p.astype(jnp.float32)
    t = jnp.asarray(targets)
    if p.ndim < 2 or p.shape[1:] != t.shape:
        raise ValueError(f"sweep.bias_variance: predictions must be (models, *targets.shape) = "
                         f"(B, {', '.join(map(str, t.shape))}), got {p.shape}")
    if p.shape[0] < 2:
        raise ValueError("sweep.bias_variance: needs at least 2 models to estimate a variance")
    t = t.astype(p.dtype)
    mean = jnp.mean(p, axis=0)
    bias2 = jnp.mean((mean - t) ** 2)
    variance = jnp.mean((p - mean[None]) ** 2)
    error = jnp.mean((p - t[None]) ** 2)
    return {"bias2": bias2, "variance": variance, "error": error, "ensemble_error": bias2}
