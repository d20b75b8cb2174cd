"""The train step and fit: purity, equivalence with a hand-written step, batching, early
stopping, non-finite handling, determinism, and errors before compiling."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import losses, nn, optim, train


def blobs(n=120, seed=0):
    """Three well-separated Gaussian blobs in 2-D: an easy 3-class problem."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n).astype(np.int32)
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]], np.float32)
    x = centres[y] + rng.normal(size=(n, 2)).astype(np.float32) * 0.5
    return x, y


MODEL = nn.serial(nn.Dense(16), nn.tanh, nn.Dense(3))
UNBOUNDED = nn.serial(nn.Dense(16), nn.relu, nn.Dense(3))  # a huge step overflows it


def test_train_step_equals_hand_written_step(key):
    x, y = blobs(32)
    tx = optim.sgd(0.1, momentum=0.9)
    ts = train.init_state(MODEL, tx, key, (2,))
    step = jax.jit(train.make_train_step(MODEL, "cross_entropy", tx), donate_argnums=0)

    def loss_fn(p):
        logits, _ = MODEL.apply(p, {}, x)
        return jnp.mean(losses.softmax_cross_entropy_with_integer_labels(logits, y))

    params, opt_state = ts.params, ts.opt_state
    for _ in range(3):
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optim.apply_updates(params, updates)
    expected_last_loss = loss
    for _ in range(3):
        ts, metrics = step(ts, (x, y))
    np.testing.assert_allclose(metrics["loss"], expected_last_loss, rtol=1e-5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
                 ts.params, params)
    assert int(ts.step) == 3 and int(ts.skipped) == 0
    assert set(metrics) >= {"loss", "accuracy", "grad_norm", "finite"}


def test_train_step_reports_injected_learning_rate(key):
    tx = optim.inject_hyperparams(optim.sgd)(learning_rate=0.05)
    ts = train.init_state(MODEL, tx, key, (2,))
    _, metrics = train.make_train_step(MODEL, "cross_entropy", tx)(ts, blobs(8))
    np.testing.assert_allclose(metrics["learning_rate"], 0.05)


def test_epoch_batches_cover_every_example_once():
    idx, weight = train.epoch_batches(jax.random.key(0), 10, 4, drop_last=False)
    assert idx.shape == (3, 4) and weight.shape == (3, 4)
    real = np.asarray(idx)[np.asarray(weight) > 0]
    np.testing.assert_array_equal(np.sort(real), np.arange(10))
    assert float(weight.sum()) == 10
    idx, weight = train.epoch_batches(jax.random.key(0), 10, 4, drop_last=True)
    assert idx.shape == (2, 4) and weight is None
    assert len(set(np.asarray(idx).ravel().tolist())) == 8


def test_full_batch_fit_is_gradient_descent(key):
    x, y = blobs(30)
    tx = optim.sgd(0.5)
    ts0 = train.init_state(MODEL, tx, key, (2,))
    ts, history = train.fit(MODEL, tx, (x, y), key=key, epochs=2, batch_size=None,
                            progress=False)
    params = ts0.params
    for _ in range(2):
        grads = jax.grad(lambda p: jnp.mean(losses.softmax_cross_entropy_with_integer_labels(
            MODEL.apply(p, {}, x)[0], y)))(params)
        params = jax.tree.map(lambda p, g: p - 0.5 * g, params, grads)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
                 ts.params, params)
    assert int(ts.step) == 2 and len(history) == 2


@pytest.mark.parametrize("batch_size,drop_last,steps", [(1, False, 30), (7, False, 5),
                                                        (7, True, 4), (None, False, 1)])
def test_steps_per_epoch(key, batch_size, drop_last, steps):
    ts, _ = train.fit(MODEL, optim.sgd(0.1), blobs(30), key=key, epochs=1,
                      batch_size=batch_size, drop_last=drop_last, progress=False)
    assert int(ts.step) == steps


def test_fit_learns_and_evaluates(key):
    x, y = blobs(200)
    ts, history = train.fit(MODEL, optim.adam(0.05), (x[:150], y[:150]), val=(x[150:], y[150:]),
                            key=key, epochs=10, batch_size=16, progress=False)
    assert history["val_accuracy"][-1] > 0.95
    assert history["train_loss"][-1] < history["train_loss"][0]
    result = train.evaluate(MODEL, ts, (x[150:], y[150:]))
    assert result["accuracy"] == pytest.approx(history["val_accuracy"][-1])
    logits, _ = MODEL.apply(ts.params, {}, x[150:])
    manual = float(jnp.mean(losses.softmax_cross_entropy_with_integer_labels(logits, y[150:])))
    assert result["loss"] == pytest.approx(manual, rel=1e-5)
    small_batches = train.evaluate(MODEL, ts, (x[150:], y[150:]), batch_size=7)
    assert small_batches["loss"] == pytest.approx(manual, rel=1e-5)


def test_same_seed_same_bits(key):
    model = nn.serial(nn.Dense(16), nn.relu, nn.Dropout(0.3), nn.Dense(3))
    runs = [train.fit(model, optim.adam(1e-2), blobs(64), key=key, epochs=3, batch_size=8,
                      progress=False)[0].params for _ in range(2)]
    jax.tree.map(np.testing.assert_array_equal, *runs)
    other = train.fit(model, optim.adam(1e-2), blobs(64), key=jax.random.key(1), epochs=3,
                      batch_size=8, progress=False)[0].params
    assert not np.array_equal(other["dense_0"]["w"], runs[0]["dense_0"]["w"])


def test_early_stopping_stops_and_restores_best(key):
    patience = 2
    # "improvement" = the train loss going up, which never happens: stop after patience + 1
    rule = train.EarlyStopping(monitor="train_loss", mode="max", patience=patience,
                               restore_best=True)
    ts, history = train.fit(MODEL, optim.sgd(0.1), blobs(40), key=key, epochs=20,
                            batch_size=None, early_stopping=rule, progress=False)
    assert len(history) == patience + 2
    after_one, _ = train.fit(MODEL, optim.sgd(0.1), blobs(40), key=key, epochs=1,
                             batch_size=None, progress=False)
    jax.tree.map(np.testing.assert_array_equal, ts.params, after_one.params)


def test_callback_can_stop(key):
    seen = []

    def callback(epoch, record, ts):
        seen.append(record["train_loss"])
        return epoch == 1

    _, history = train.fit(MODEL, optim.sgd(0.1), blobs(20), key=key, epochs=10,
                           batch_size=10, callbacks=[callback], progress=False)
    assert len(history) == 2 and seen == history["train_loss"]


def test_l2_penalty_shrinks_weights_not_biases(key):
    data = blobs(60)
    plain, _ = train.fit(MODEL, optim.sgd(0.1), data, key=key, epochs=5, progress=False)
    shrunk, _ = train.fit(MODEL, optim.sgd(0.1), data, key=key, epochs=5, l2=0.5,
                          progress=False)
    norm = lambda p: sum(float(jnp.sum(p[k]["w"] ** 2)) for k in p)  # noqa: E731
    assert norm(shrunk.params) < 0.7 * norm(plain.params)


def test_batch_norm_state_is_updated_by_fit(key):
    model = nn.serial(nn.Dense(8), nn.BatchNorm(), nn.relu, nn.Dense(3))
    ts, _ = train.fit(model, optim.adam(1e-2), blobs(40), key=key, epochs=2, progress=False)
    assert float(jnp.abs(ts.model_state["batch_norm_0"]["mean"]).sum()) > 0


def test_non_finite_loss_stops_with_epoch_and_step(key):
    with pytest.raises(train.NonFiniteLossError, match=r"non-finite at epoch 0, step \d+") as e:
        train.fit(UNBOUNDED, optim.sgd(1e30), blobs(40), key=key, epochs=3, batch_size=4,
                  progress=False)
    leaves = jax.tree.leaves(e.value.train_state.params)
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in leaves)


def test_non_finite_loss_can_be_skipped_and_counted(key):
    ts, history = train.fit(UNBOUNDED, optim.sgd(1e30), blobs(40), key=key, epochs=2,
                            batch_size=4, on_nonfinite="skip", progress=False)
    assert int(ts.skipped) > 0 and sum(history["skipped"]) == int(ts.skipped)
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(ts.params))


@pytest.mark.parametrize(
    "data,kwargs,match",
    [
        ((np.zeros((5, 2), np.float32), np.zeros(4, np.int32)), {},
         r"train X and y must hold the same number of examples, got 5 inputs"),
        ((np.zeros((0, 2), np.float32), np.zeros(0, np.int32)), {}, "train data set is empty"),
        (blobs(10), {"batch_size": 0}, r"batch_size must be in \[1, 10\]"),
        (blobs(10), {"batch_size": 11}, r"batch_size must be in \[1, 10\]"),
        ((np.full((4, 2), np.nan, np.float32), np.zeros(4, np.int32)), {},
         "train X contains NaN or Inf: 8 value"),
        ((np.zeros((4, 2), np.float32), np.zeros(4, np.float32)), {},
         "train y must hold integer class labels"),
        ((np.zeros((4, 2), np.float32), np.array([0, 1, 2, 3], np.int32)), {},
         r"has labels outside \[0, num_classes=3\)"),
    ],
)
def test_bad_input_is_reported_before_compiling(key, data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        train.fit(MODEL, optim.sgd(0.1), data, key=key, epochs=1, progress=False, **kwargs)


def test_wrong_input_shape_names_the_layer(key):
    x = np.zeros((4, 5), np.float32)
    ts = train.init_state(MODEL, optim.sgd(0.1), key, (2,))
    with pytest.raises(nn.LayerError, match="dense_0: Dense: expected input with 2 features"):
        train.fit(MODEL, optim.sgd(0.1), (x, np.zeros(4, np.int32)), key=key, epochs=1,
                  train_state=ts, progress=False)


def test_resumed_run_is_bit_identical(key, tmp_path):
    model = nn.serial(nn.Dense(16), nn.relu, nn.Dropout(0.2), nn.Dense(3))
    data = blobs(48)
    kwargs = dict(key=key, batch_size=8, progress=False)
    straight, _ = train.fit(model, optim.adam(1e-2), data, epochs=4, **kwargs)
    train.fit(model, optim.adam(1e-2), data, epochs=2, checkpoint_dir=str(tmp_path), **kwargs)
    resumed, history = train.fit(model, optim.adam(1e-2), data, epochs=4, resume=True,
                                 checkpoint_dir=str(tmp_path), **kwargs)
    assert [r["epoch"] for r in history.rows] == [0, 1, 2, 3]
    jax.tree.map(np.testing.assert_array_equal, resumed.params, straight.params)
    jax.tree.map(np.testing.assert_array_equal, resumed.opt_state, straight.opt_state)
    assert len(list(tmp_path.glob("checkpoint_*.npz"))) == 3  # keep=3 of epochs 1..4
