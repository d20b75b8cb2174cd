"""k-fold cross-validation and bagging as sweeps: each fold trains on exactly its training
part and is validated on its held-out fold, each replica on its bootstrap sample with the
out-of-bag estimate on the rest (all checked by hand); ensembles (mean, probabilities, vote)
and the bias-variance decomposition by hand; errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import data, nn, optim, sweep


def blobs(n, seed=0):
    """Three overlapping Gaussian blobs in 2-D (so held-out metrics are not all perfect)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n).astype(np.int32)
    centres = np.array([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0]], np.float32)
    return centres[y] + rng.normal(size=(n, 2)).astype(np.float32) * 1.2, y


X, Y = blobs(91)  # 3 folds of 31, 30, 30: training parts of 60, 61, 61 (one is padded)
XV, YV = blobs(25, seed=1)
MODEL = nn.serial(nn.Dense(16), nn.relu, nn.Dense(3))
SGD = lambda learning_rate: optim.sgd(learning_rate)
RUN = dict(steps=9, batch_size=20, eval_every=3)


def hand_metrics(params, x, y):
    """Mean cross-entropy and accuracy of MODEL with ``params`` on ``(x, y)``."""
    logits = np.asarray(MODEL.apply(params, {}, jnp.asarray(x))[0], np.float64)
    log_p = logits - np.log(np.sum(np.exp(logits - logits.max(-1, keepdims=True)), -1,
                                   keepdims=True)) - logits.max(-1, keepdims=True)
    loss = -np.mean(log_p[np.arange(len(y)), y])
    return loss, np.mean(np.argmax(logits, -1) == y)


def run_params(result, index):
    return jax.tree.map(lambda a: a[index], result.params)


# ----------------------------------------------------------------------------- k-fold


@pytest.fixture(scope="module")
def folds():
    return data.kfold(len(X), 3, jax.random.key(4), stratify=Y)


@pytest.fixture(scope="module")
def cv():
    return sweep.kfold(MODEL, SGD, (X, Y), k=3, fold_seed=4, seeds=1,
                       hyperparameters={"learning_rate": [0.1, 0.3]}, **RUN)


def test_kfold_axes(cv):
    assert cv.axes == {"learning_rate": (0.1, 0.3), "fold": (0, 1, 2), "seed": (0,)}
    assert set(cv.curves) == {"train_loss", "train_accuracy", "val_loss", "val_accuracy",
                              "batch_loss"}
    assert cv.curves["val_loss"].shape == (2, 3, 1, 4)


def test_kfold_folds_partition_the_data(folds):
    held_out = np.concatenate([val for _, val in folds])
    assert len(held_out) == len(X)  # the validation weights sum to n across folds
    np.testing.assert_array_equal(np.sort(held_out), np.arange(len(X)))
    for train_idx, val_idx in folds:
        assert np.intersect1d(train_idx, val_idx).size == 0
        assert len(train_idx) + len(val_idx) == len(X)
    assert sorted(len(v) for _, v in folds) == [30, 30, 31]


def test_kfold_metrics_are_each_folds_model_on_its_parts(cv, folds):
    for lr in range(2):
        for j, (train_idx, val_idx) in enumerate(folds):
            params = run_params(cv, (lr, j, 0))
            val_loss, val_acc = hand_metrics(params, X[val_idx], Y[val_idx])
            train_loss, train_acc = hand_metrics(params, X[train_idx], Y[train_idx])
            np.testing.assert_allclose(cv.final["val_loss"][lr, j, 0], val_loss, rtol=1e-5)
            np.testing.assert_allclose(cv.final["val_accuracy"][lr, j, 0], val_acc, rtol=1e-6)
            np.testing.assert_allclose(cv.final["train_loss"][lr, j, 0], train_loss, rtol=1e-5)
            np.testing.assert_allclose(cv.final["train_accuracy"][lr, j, 0], train_acc,
                                       rtol=1e-6)
    assert not np.allclose(cv.final["val_loss"][:, 0], cv.final["val_loss"][:, 1])


def test_kfold_folds_train_on_their_training_part(cv, folds):
    # The first batch of fold j: slots 0..19 of a permutation of its m = 61 training slots
    # (the fold holding out 31 has 60 examples and a padding slot of weight 0), the initial
    # params of seed 0.
    m = max(len(t) for t, _ in folds)
    init_key, _, _, order_key = jax.random.split(jax.random.key(0), 4)
    params = MODEL.init(init_key, X.shape[1:])[1]
    slots = np.asarray(jax.random.permutation(jax.random.fold_in(order_key, 0), m))[:20]
    for j, (train_idx, _) in enumerate(folds):
        batch = train_idx[slots[slots < len(train_idx)]]
        loss, _ = hand_metrics(params, X[batch], Y[batch])
        np.testing.assert_allclose(cv.curves["batch_loss"][:, j, 0, 0], [loss, loss], rtol=1e-5)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(validation=(XV, YV)), ValueError, "sweep.kfold: every fold validates on its held-out"),
    (dict(k=1), ValueError, "`k`"),
    (dict(k=92), ValueError, "92 folds need at least 92 examples"),
    (dict(hyperparameters={"learning_rate": [0.1], "fold": [1.0]}), ValueError,
     "'fold' is a reserved axis name"),
])
def test_kfold_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        sweep.kfold(MODEL, SGD, (X, Y), **{"steps": 5, "hyperparameters":
                                           {"learning_rate": [0.1]}, **kwargs})


# ----------------------------------------------------------------------------- bagging


@pytest.fixture(scope="module")
def bag():
    return sweep.bagging(MODEL, optim.sgd(0.3), (X, Y), replicas=4, bootstrap_seed=2,
                         validation=(XV, YV), seeds=1, **RUN)


def test_bagging_errors_name_its_arguments():
    with pytest.raises(ValueError, match="replicas"):
        sweep.bagging(MODEL, optim.sgd(0.1), (X, Y), replicas=0, steps=5)


def test_bagging_axes_and_metrics(bag):
    assert bag.axes == {"replica": (0, 1, 2, 3), "seed": (0,)}
    assert set(bag.final) == {"train_loss", "train_accuracy", "oob_loss", "oob_accuracy",
                              "val_loss", "val_accuracy", "skipped"}


def test_bagging_metrics_by_hand(bag):
    idx = np.asarray(data.bootstrap(jax.random.key(2), len(X), 4))
    for b in range(4):
        out_of_bag = np.setdiff1d(np.arange(len(X)), idx[b])
        assert 0 < len(out_of_bag) < len(X)
        params = run_params(bag, (b, 0))
        for name, (x, y) in {"oob": (X[out_of_bag], Y[out_of_bag]),
                             "train": (X[idx[b]], Y[idx[b]]),  # the sample, repeats and all
                             "val": (XV, YV)}.items():
            loss, accuracy = hand_metrics(params, x, y)
            np.testing.assert_allclose(bag.final[f"{name}_loss"][b, 0], loss, rtol=1e-5,
                                       err_msg=name)
            np.testing.assert_allclose(bag.final[f"{name}_accuracy"][b, 0], accuracy,
                                       rtol=1e-6, err_msg=name)
    assert len(np.unique(bag.final["oob_loss"])) == 4


def test_ensemble_of_bagged_members_by_hand(bag):
    outputs = np.stack([np.asarray(MODEL.apply(run_params(bag, (b, 0)), {}, XV)[0])
                        for b in range(4)])  # (members, n, classes)
    np.testing.assert_allclose(sweep.member_predictions(MODEL, bag, XV), outputs, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(sweep.ensemble_predict(MODEL, bag, XV), outputs.mean(0),
                               rtol=1e-5, atol=1e-6)
    e = np.exp(outputs - outputs.max(-1, keepdims=True))
    probabilities = (e / e.sum(-1, keepdims=True)).mean(0)
    got = sweep.ensemble_predict(MODEL, bag, XV, combine="probabilities")
    np.testing.assert_allclose(got, probabilities, rtol=1e-5, atol=1e-6)
    votes = np.stack([np.bincount(v, minlength=3) for v in np.argmax(outputs, -1).T])
    np.testing.assert_array_equal(sweep.ensemble_predict(MODEL, bag, XV, combine="vote"),
                                  np.argmax(votes, -1))


LINEAR = nn.Dense(3, use_bias=False)  # on one-hot inputs, member b's outputs are its w rows


def members(w):
    """A made-up result over axes (replica, seed) whose runs have the given weights."""
    return sweep.SweepResult(axes={"replica": (0, 1), "seed": (0, 1)}, eval_steps=np.zeros(1),
                             curves={}, final={}, params={"w": w.reshape(2, 2, 3, 3)},
                             model_state={})


def test_vote_is_the_plurality_with_ties_to_the_lower_class():
    w = np.zeros((4, 3, 3), np.float32)  # member b, example i (its one-hot input), class
    w[:, 0, :] = np.eye(3)[[2, 2, 0, 1]]  # example 0: class 2 wins 2 votes to 1 and 1
    w[:, 1, :] = np.eye(3)[[2, 1, 2, 1]]  # example 1: a 2-2 tie of classes 1 and 2 -> 1
    w[:, 2, :] = np.eye(3)[[2, 0, 1, 0]] * 5 + 0.1  # example 2: class 0 by 2 votes
    result = members(w)
    x = np.eye(3, dtype=np.float32)
    np.testing.assert_array_equal(sweep.member_predictions(LINEAR, result, x), w)
    np.testing.assert_array_equal(sweep.ensemble_predict(LINEAR, result, x, combine="vote"),
                                  [2, 1, 0])
    # the averaged probabilities can overrule the vote: one confident member decides
    w[3, 0, :] = [0.0, 20.0, 0.0]
    probabilities = sweep.ensemble_predict(LINEAR, members(w), x, combine="probabilities")
    assert sweep.ensemble_predict(LINEAR, members(w), x, combine="vote")[0] == 2
    assert int(np.argmax(probabilities[0])) == 1
    np.testing.assert_allclose(np.sum(probabilities, -1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("members_arg, combine, message", [
    ("bad", "mean", "members must be a SweepResult run with keep_params=True"),
    (None, "mean", "keep_params=True"),
    ("ok", "median", "combine must be 'mean', 'probabilities' or 'vote', got 'median'"),
])
def test_ensemble_errors(members_arg, combine, message):
    result = members(np.zeros((4, 3, 3), np.float32))
    if members_arg is None:
        result.params = None
    elif members_arg == "bad":
        result = {"w": np.zeros((4, 3, 3))}
    with pytest.raises(ValueError, match=message):
        sweep.ensemble_predict(LINEAR, result, np.eye(3, dtype=np.float32), combine=combine)


def test_ensemble_checks_combine_before_running_the_members():
    def apply(params, state, x, *, key=None, train=False):
        raise AssertionError("ran every member before checking combine")

    model = nn.Layer(LINEAR.init, apply, "dense")
    with pytest.raises(ValueError, match="combine must be"):
        sweep.ensemble_predict(model, members(np.zeros((4, 3, 3), np.float32)),
                               np.eye(3, dtype=np.float32), combine="average")


# ----------------------------------------------------------------------------- bias, variance


def test_bias_variance_by_hand():
    # fbar = (2, 3); bias2 = ((2-2)^2 + (3-2)^2) / 2; variance = mean of (+-1)^2;
    # error = ((1-2)^2 + (2-2)^2 + (3-2)^2 + (4-2)^2) / 4
    found = sweep.bias_variance(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32),
                                np.array([2.0, 2.0], np.float32))
    expected = {"bias2": 0.5, "variance": 1.0, "error": 1.5, "ensemble_error": 0.5}
    assert set(found) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(found[name], value, rtol=1e-6, err_msg=name)


def test_bias_variance_accepts_integer_predictions():
    found = sweep.bias_variance(np.array([[1, 2], [3, 4]]), np.array([2, 2]))
    np.testing.assert_allclose([found["bias2"], found["variance"], found["error"]],
                               [0.5, 1.0, 1.5], rtol=1e-6)


@pytest.mark.parametrize("shape", [(5, 7), (6, 4, 3)])
def test_bias_variance_identity_on_random_arrays(shape):
    rng = np.random.default_rng(3)
    p = rng.normal(size=shape).astype(np.float32)
    t = rng.normal(size=shape[1:]).astype(np.float32)
    found = {k: float(v) for k, v in sweep.bias_variance(p, t).items()}
    mean = p.astype(np.float64).mean(0)
    np.testing.assert_allclose(found["bias2"], np.mean((mean - t) ** 2), rtol=1e-5)
    np.testing.assert_allclose(found["variance"], np.mean(p.var(0)), rtol=1e-5)
    np.testing.assert_allclose(found["error"], np.mean((p - t) ** 2), rtol=1e-5)
    np.testing.assert_allclose(found["error"], found["bias2"] + found["variance"], rtol=1e-5)
    np.testing.assert_allclose(found["ensemble_error"], found["bias2"], rtol=1e-7)


@pytest.mark.parametrize("p, t, message", [
    (np.zeros((3, 4)), np.zeros(5), "predictions must be \\(models, \\*targets.shape\\) = "
                                    "\\(B, 5\\), got \\(3, 4\\)"),
    (np.zeros(4), np.zeros(4), "got \\(4,\\)"),
    (np.zeros((1, 4)), np.zeros(4), "needs at least 2 models"),
])
def test_bias_variance_errors(p, t, message):
    with pytest.raises(ValueError, match=message):
        sweep.bias_variance(p, t)
