"""Every classic regulariser, each shown to have its effect with a number: the L2 penalty,
decoupled weight decay, dropout, batch normalisation's running statistics, early stopping,
and ``augmentation``'s input noise, shifts, label smoothing and mixup."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import data, losses, nn, optim, train
from jaxdl.train.regularization import augmentation, chain_augmentations

MLP = nn.serial(nn.Dense(64), nn.relu, nn.Dense(10))


@functools.lru_cache(maxsize=1)
def digits_parts():
    """A stratified 20% of the digits for training (359), 400 held-out examples."""
    X, y = data.digits()
    train_part, val_part = data.split(X, y, (0.2, 0.8), key=jax.random.key(0), stratify=True)
    return train_part, (val_part[0][:400], val_part[1][:400])


def weight_norm(params, min_rank=2):
    """Frobenius norm over the leaves of rank >= min_rank (the weights; 1 adds the biases)."""
    leaves = [leaf for leaf in jax.tree.leaves(params) if leaf.ndim >= min_rank]
    return float(jnp.sqrt(sum(jnp.sum(jnp.square(leaf)) for leaf in leaves)))


def fit_digits(key, optimizer=None, **kwargs):
    """MLP, Adam(1e-2) unless given, 10 epochs of 64-example batches: 60 steps."""
    return train.fit(MLP, optimizer or optim.adam(1e-2), digits_parts()[0], key=key, epochs=10,
                     batch_size=64, progress=False, **kwargs)


@functools.lru_cache(maxsize=1)
def unregularised():
    """The reference run the regularised ones are compared with (computed once)."""
    return fit_digits(jax.random.key(0))


@functools.partial(jax.jit, static_argnums=0)
def mean_loss(model, ts, part):
    """Mean cross-entropy in evaluation mode."""
    logits, _ = model.apply(ts.params, ts.model_state, part[0])
    return jnp.mean(losses.cross_entropy(logits, part[1]))


# ----------------------------------------------------------------------------- penalties


def test_l2_penalty_shrinks_the_weights(key):
    plain, _ = unregularised()
    penalised, _ = fit_digits(key, l2=1e-2)
    # The penalty's gradient l2 * w pulls every weight towards 0: ratio 0.61-0.62 for seeds 0-2.
    assert weight_norm(penalised.params) < 0.8 * weight_norm(plain.params)


def test_decoupled_weight_decay_shrinks_the_weights(key):
    adam, _ = unregularised()
    adamw, _ = fit_digits(key, optim.adamw(1e-2, weight_decay=0.5))
    # 60 steps of w <- w - lr * wd * w alone would scale the params by 0.995^60 = 0.74; with
    # the gradient steps the norm ratio is 0.844-0.846 for seeds 0-2.
    assert weight_norm(adamw.params, 1) < 0.9 * weight_norm(adam.params, 1)


# ----------------------------------------------------------------------------- dropout


def test_dropout_drops_in_training_and_is_the_identity_in_evaluation(key):
    rate = 0.25
    layer = nn.Dropout(rate)
    x = jnp.ones((1000, 100), jnp.float32)
    y_eval, _ = layer.apply({}, {}, x, train=False)
    np.testing.assert_array_equal(y_eval, x)
    y_train, _ = layer.apply({}, {}, x, key=key, train=True)
    y_train = np.asarray(y_train)
    # Inverted dropout: kept units are scaled by 1 / (1 - rate), so the mean stays 1.
    np.testing.assert_allclose(np.unique(y_train), [0.0, 1.0 / (1.0 - rate)], rtol=1e-6)
    # 1e5 Bernoulli draws: the standard error of the dropped fraction is 0.0014.
    assert abs(np.mean(y_train == 0) - rate) < 0.01
    assert abs(np.mean(y_train) - 1.0) < 0.01
    other, _ = layer.apply({}, {}, x, key=jax.random.fold_in(key, 1), train=True)
    assert np.mean(np.asarray(other) != y_train) > 0.3  # a new key, a new mask


def test_dropout_narrows_the_generalisation_gap(key):
    (x_train, y_train), val = digits_parts()
    rng = np.random.default_rng(0)  # 100 examples, 30% of them relabelled at random
    y_noisy = y_train[:100].copy()
    flip = rng.random(100) < 0.3
    y_noisy[flip] = rng.integers(0, 10, int(flip.sum()))
    small = (x_train[:100], y_noisy.astype(np.int32))
    gaps, val_losses = [], []
    for rate in (0.0, 0.5):
        model = nn.serial(nn.Dense(128), nn.relu, nn.Dropout(rate), nn.Dense(10))
        ts, _ = train.fit(model, optim.adam(1e-2), small, key=key, epochs=40, batch_size=50,
                          progress=False)
        fitted, held_out = mean_loss(model, ts, small), mean_loss(model, ts, val)
        gaps.append(held_out - fitted)
        val_losses.append(held_out)
    # Without dropout the net memorises the noisy labels (gap 0.86-0.91 for seeds 0-3);
    # dropout roughly halves it (ratios 0.51-0.61 over those seeds).
    assert gaps[1] < 0.75 * gaps[0]
    assert val_losses[1] < val_losses[0]


# ----------------------------------------------------------------------------- batch norm


def bn_data(n):
    rng = np.random.default_rng(0)
    std, mean = np.array([1.0, 2.0, 0.5]), np.array([3.0, -2.0, 5.0])
    x = (rng.normal(size=(n, 3)) * std + mean).astype(np.float32)
    return x, np.zeros((n, 1), np.float32)


BN_MODEL = nn.serial(nn.BatchNorm(momentum=0.9), nn.Dense(1))


def test_batch_norm_running_statistics_follow_the_moving_average_formula(key):
    # Full batch: every step sees the whole data, so after t steps the running statistics are
    # exactly m^t * init + (1 - m^t) * (data mean, biased data variance).
    x, y = bn_data(64)
    steps, m = 60, 0.9
    ts, _ = train.fit(BN_MODEL, optim.sgd(0.01), (x, y), key=key, loss="mse", epochs=steps,
                      batch_size=None, progress=False)
    stats = ts.model_state["batch_norm_0"]
    mean, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(stats["mean"], (1 - m**steps) * mean, rtol=1e-5)
    np.testing.assert_allclose(stats["var"], m**steps + (1 - m**steps) * var, rtol=1e-5)
    np.testing.assert_allclose(stats["mean"], mean, rtol=1e-2)  # started at 0


def test_batch_norm_running_mean_converges_with_minibatches(key):
    x, y = bn_data(256)
    ts, _ = train.fit(BN_MODEL, optim.sgd(0.01), (x, y), key=key, loss="mse", epochs=10,
                      batch_size=32, progress=False)
    running = np.asarray(ts.model_state["batch_norm_0"]["mean"])
    # An average of batch means with weights (1 - m) m^k has standard error
    # std / sqrt(32) * sqrt((1 - m) / (1 + m)) * sqrt(224 / 255) = 0.038 std: allow 5 of them.
    assert np.all(np.abs(running - x.mean(0)) < 0.2 * x.std(0))


# ----------------------------------------------------------------------------- early stopping


def test_early_stopping_stops_after_the_best_epoch_and_restores_it(key):
    (x_train, y_train), val = digits_parts()
    patience, epochs = 3, 60
    snapshots = []  # every epoch's params, copied to the host (the next epoch donates them)
    rule = train.EarlyStopping(patience=patience, restore_best=True)
    ts, history = train.fit(
        MLP, optim.adam(3e-2), (x_train[:50], y_train[:50]), val=val, key=key, epochs=epochs,
        batch_size=None, early_stopping=rule, progress=False,
        callbacks=[lambda epoch, record, ts: snapshots.append(
            jax.tree.map(lambda a: np.array(a, copy=True), ts.params))])
    val_loss = history["val_loss"]
    best = int(np.argmin(val_loss))  # 11 of 16 epochs run
    assert val_loss[-1] > val_loss[best]  # it did overfit: the validation loss went back up
    # patience epochs without improvement are tolerated; the next one stops the run.
    assert len(history) == len(snapshots) == best + patience + 2 < epochs
    assert int(ts.step) == best + 1  # one full-batch step per epoch
    jax.tree.map(np.testing.assert_array_equal, ts.params, snapshots[best])
    assert not np.array_equal(snapshots[-1]["dense_0"]["w"], snapshots[best]["dense_0"]["w"])
    np.testing.assert_allclose(train.evaluate(MLP, ts, val)["loss"], val_loss[best], rtol=1e-6)


# ----------------------------------------------------------------------------- augmentation


def test_input_noise_has_the_requested_standard_deviation(key):
    x = jnp.full((1000, 100), 0.5, jnp.float32)
    y, w = jnp.arange(1000, dtype=jnp.int32) % 10, jnp.ones(1000, jnp.float32)
    x_noisy, y_out, w_out = augmentation(input_noise=0.3)(key, (x, y, w))
    noise = np.asarray(x_noisy - x)
    # 1e5 draws: standard errors 0.3 / sqrt(2e5) = 0.0007 (std) and 0.001 (mean).
    assert abs(noise.std() - 0.3) < 0.005 and abs(noise.mean()) < 0.005
    assert y_out is y and w_out is w  # labels and weights untouched


def test_label_smoothing_gives_the_smoothed_one_hot_values(key):
    a, c = 0.1, 10
    y = jnp.array([3, 0, 9], jnp.int32)
    x, w = jnp.zeros((3, 4), jnp.float32), jnp.array([1.0, 1.0, 0.0], jnp.float32)
    x_out, y_out, w_out = augmentation(label_smoothing=a, num_classes=c)(key, (x, y, w))
    expected = np.full((3, c), a / c, np.float32)
    expected[np.arange(3), np.asarray(y)] = (1 - a) + a / c  # 0.91 and 0.01
    np.testing.assert_allclose(y_out, expected, rtol=1e-6)
    np.testing.assert_allclose(np.sum(y_out, 1), 1.0, rtol=1e-6)
    assert x_out is x and w_out is w


def test_mixup_rows_are_convex_combinations_of_pairs(key):
    n, c = 16, 4
    x = jnp.eye(n, dtype=jnp.float32)  # row i of the mixed x shows which rows were mixed
    y = jnp.arange(n, dtype=jnp.int32) % c
    aug = augmentation(label_smoothing=0.2, mixup=1.0, num_classes=c)
    x_mix, y_mix, _ = aug(key, (x, y, jnp.ones(n, jnp.float32)))
    x_mix = np.asarray(x_mix)
    assert np.all(x_mix >= 0) and np.all((x_mix > 0).sum(1) <= 2)
    np.testing.assert_allclose(x_mix.sum(1), 1.0, rtol=1e-6)  # convex weights lam, 1 - lam
    diag = np.diag(x_mix)  # lam, or 1 where an example was paired with itself
    lam = float(np.min(diag))
    assert 0.0 < lam < 1.0 and np.all(np.isclose(diag, lam) | np.isclose(diag, 1.0))
    # The labels were mixed with the same lam and pairs, after smoothing.
    smoothed = np.asarray(losses.smooth_labels(losses.one_hot(y, c), 0.2))
    np.testing.assert_allclose(y_mix, x_mix @ smoothed, rtol=1e-5, atol=1e-6)


def test_shift_moves_flat_images_as_random_shift_does(key):
    X, _ = data.digits()
    x = jnp.asarray(X[:32])
    y = jnp.zeros(32, jnp.int32)
    x_shift, _ = augmentation(shift=2, image_shape=(8, 8, 1))(key, (x, y))
    # Stage 2 of augmentation draws with fold_in(key, 1).
    expected = data.random_shift(jax.random.fold_in(key, 1), x.reshape(32, 8, 8, 1), 2)
    np.testing.assert_array_equal(x_shift, expected.reshape(32, 64))
    assert np.mean(np.any(np.asarray(x_shift) != np.asarray(x), axis=1)) > 0.5
    images = x.reshape(32, 8, 8, 1)
    np.testing.assert_array_equal(augmentation(shift=2)(key, (images, y))[0], expected)


def test_each_stage_keeps_its_draws_when_others_are_switched_on(key):
    x, y = jnp.zeros((8, 5), jnp.float32), jnp.arange(8, dtype=jnp.int32)
    alone = augmentation(input_noise=0.1)(key, (x, y))[0]
    with_smoothing = augmentation(input_noise=0.1, label_smoothing=0.1, num_classes=8)(
        key, (x, y))[0]
    np.testing.assert_array_equal(alone, with_smoothing)
    np.testing.assert_array_equal(alone, data.gaussian_noise(jax.random.fold_in(key, 0), x, 0.1))


def test_chain_augmentations_feeds_each_output_to_the_next(key):
    x, y = jnp.ones((4, 3), jnp.float32), jnp.arange(4, dtype=jnp.int32)
    double = lambda k, b: (2.0 * b[0], *b[1:])
    noise = augmentation(input_noise=0.5)
    out = chain_augmentations(double, noise)(key, (x, y))
    np.testing.assert_array_equal(out[0], noise(jax.random.fold_in(key, 1), (2.0 * x, y))[0])
    assert chain_augmentations()(key, (x, y)) == (x, y)


def test_hyperparameters_can_be_traced_for_a_grid(key):
    x, y = jnp.zeros((200, 5), jnp.float32), jnp.arange(200, dtype=jnp.int32) % 10
    sigmas, alphas = jnp.array([0.1, 0.5, 2.0]), jnp.array([0.05, 0.1, 0.3])

    def run(sigma, a):
        return augmentation(input_noise=sigma, label_smoothing=a, num_classes=10)(key, (x, y))

    x_grid, y_grid = jax.jit(jax.vmap(run))(sigmas, alphas)
    for i in range(3):
        x_one, y_one = run(float(sigmas[i]), float(alphas[i]))
        np.testing.assert_allclose(x_grid[i], x_one, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(y_grid[i], y_one, rtol=1e-6, atol=1e-6)
    # The same noise, scaled by each grid point's sigma; each point's own smoothing.
    np.testing.assert_allclose(x_grid / sigmas[:, None, None],
                               np.broadcast_to(x_grid[0] / 0.1, x_grid.shape), rtol=1e-5)
    np.testing.assert_allclose(np.min(y_grid, axis=(1, 2)), alphas / 10, rtol=1e-6)


def test_label_smoothing_makes_predictions_less_confident(key):
    _, (x_val, _) = digits_parts()

    def confidence(ts):
        logits, _ = MLP.apply(ts.params, ts.model_state, jnp.asarray(x_val))
        return float(jnp.mean(jnp.max(jax.nn.softmax(logits), -1)))

    smoothed, history = fit_digits(key, augment=augmentation(label_smoothing=0.2,
                                                             num_classes=10))
    # 0.89-0.90 without, 0.71 with smoothing (whose optimum caps it near 0.8 + 0.02), seeds 0-2.
    assert confidence(smoothed) < confidence(unregularised()[0]) - 0.1
    assert history["train_accuracy"][-1] > 0.9  # it still learns the task


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("kwargs, error, match", [
    ({"label_smoothing": 0.1}, ValueError, "num_classes"),
    ({"mixup": 0.2}, ValueError, "num_classes"),
    ({"mixup": 0.2, "num_classes": 2.0}, TypeError, "num_classes"),
    ({"mixup": 0.2, "num_classes": 0}, ValueError, "num_classes"),
    ({"input_noise": -0.1}, ValueError, "input_noise"),
    ({"label_smoothing": 1.5, "num_classes": 3}, ValueError, "label_smoothing"),
    ({"mixup": -1.0, "num_classes": 3}, ValueError, "mixup"),
    ({"shift": 1.5}, TypeError, "shift"),
    ({"shift": -1}, ValueError, "shift"),
    ({"shift": 1, "image_shape": (8, 8)}, ValueError, "image_shape"),
    ({"input_noise": jnp.ones(3)}, ValueError, "scalar"),
])
def test_bad_settings_are_rejected_at_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        augmentation(**kwargs)


def test_bad_batches_get_errors_in_the_users_terms(key):
    x, y = jnp.zeros((4, 64), jnp.float32), jnp.arange(4, dtype=jnp.int32)
    with pytest.raises(ValueError, match="image_shape=\\(height, width, channels\\)"):
        augmentation(shift=1)(key, (x, y))
    with pytest.raises(ValueError, match="needs 48 values per example"):
        augmentation(shift=1, image_shape=(4, 4, 3))(key, (x, y))
    with pytest.raises(ValueError, match=r"\(batch, num_classes\) = \(4, 10\)"):
        augmentation(label_smoothing=0.1, num_classes=10)(key, (x, jnp.zeros((4, 3))))
    with pytest.raises(ValueError, match="a tuple of 4"):
        augmentation(input_noise=0.1)(key, (x, y, y, y))
