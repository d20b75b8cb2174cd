"""sweep.run: a run inside a big sweep equals the same run alone and a hand-written loop;
chunking changes no number and compiles once; schemes, hyperparameters (plain and paired)
reach the initial weights, the optimizer, the model factory and the L2 penalty; every bad
input is refused before anything compiles."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import init, nn, optim, sweep
from jaxdl import train as jtrain
from jaxdl.sweep import engine


def blobs(n, seed=0):
    """Three Gaussian blobs in 2-D: an easy 3-class problem."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n).astype(np.int32)
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]], np.float32)
    return centres[y] + rng.normal(size=(n, 2)).astype(np.float32) * 0.7, y


X, Y = blobs(100)  # batches of 32: 3 per epoch, 4 examples left out of each epoch
XV, YV = blobs(30, seed=1)
MODEL = nn.serial(nn.Dense(16), nn.relu, nn.Dense(3))
DROPOUT_MODEL = lambda rate: nn.serial(nn.Dense(16), nn.relu, nn.Dropout(rate), nn.Dense(3))
TRACED = {"optimizer": 0, "model": 0}


def counted_sgd(learning_rate, momentum=0.0):
    """``optim.sgd`` that counts the calls made while tracing (once per traced program)."""
    TRACED["optimizer"] += isinstance(learning_rate, jax.core.Tracer)
    return optim.sgd(learning_rate, momentum)


def counted_model(rate):
    TRACED["model"] += isinstance(rate, jax.core.Tracer)
    return DROPOUT_MODEL(rate)


# 3 schemes x 2 learning rates x 2 (momentum, dropout) settings x 2 L2 x 2 seeds = 48 runs
SCHEMES = ["zeros", "he_normal", {"dense": "he_normal"}]
BIG = dict(steps=20, batch_size=32, eval_every=7, validation=(XV, YV), seeds=[0, 3],
           schemes=SCHEMES, hyperparameters={
               "learning_rate": [0.05, 0.2],
               "setting": sweep.paired(momentum=[0.0, 0.5], rate=[0.0, 0.5]),
               "l2": [0.0, 0.01]})


def run_counted(**kwargs):
    before = dict(TRACED)
    result = sweep.run(counted_model, counted_sgd, (X, Y), **{**BIG, **kwargs})
    return result, {k: TRACED[k] - before[k] for k in TRACED}


@pytest.fixture(scope="module")
def big():
    return run_counted()


@pytest.fixture(scope="module")
def alone():
    # run (he_normal, lr 0.2, momentum 0.5, rate 0.5, l2 0.01, seed 3) by itself: a Layer, a
    # GradientTransformation and the l2 keyword, every axis of length 1
    return sweep.run(DROPOUT_MODEL(0.5), optim.sgd(0.2, 0.5), (X, Y), l2=0.01,
                     **{**BIG, "schemes": ["he_normal"], "seeds": [3], "hyperparameters": None})


# chunking: a cheaper program, 2 learning rates x 5 seeds = 10 runs
CHEAP = dict(steps=6, batch_size=32, eval_every=3, seeds=5,
             hyperparameters={"learning_rate": [0.05, 0.2]})


def run_cheap(**kwargs):
    before = TRACED["optimizer"]
    result = sweep.run(MODEL, counted_sgd, (X, Y), **CHEAP, **kwargs)
    return result, TRACED["optimizer"] - before


@pytest.fixture(scope="module")
def cheap():
    return run_cheap()


@pytest.fixture(scope="module")
def chunked():
    return run_cheap(max_parallel=3)  # chunks of 3, the last padded with 2 copies


@pytest.fixture(scope="module")
def auto_chunked():
    # "auto" measures one run's memory and fills half the free memory: 1 per chunk here (the
    # measured one-run program is then the program that runs, compiled once)
    measured, per_run_bytes = [], engine._per_run_bytes
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine, "_per_run_bytes", lambda *a: measured.append(per_run_bytes(*a))
                   or measured[-1])
        mp.setattr(engine, "_available_bytes", lambda: 3 * measured[-1])
        result, traced = run_cheap(max_parallel="auto")
    return result, traced, measured


def build(h):
    """The model, optimizer and L2 coefficient of one setting of BIG's hyperparameters."""
    return DROPOUT_MODEL(h["rate"]), optim.sgd(h["learning_rate"], h["momentum"]), h["l2"]


@functools.cache
def compiled_steps():
    """A jitted train step and eval step with the hyperparameters ``h`` traced: one compile
    serves every setting."""
    def step(ts, batch, h):
        model, opt, l2 = build(h)
        return jtrain.make_train_step(model, "cross_entropy", opt, l2=l2)(ts, batch)

    def evaluate(ts, batch, h):
        return jtrain.make_eval_step(build(h)[0], "cross_entropy")(ts, batch)

    return jax.jit(step), jax.jit(evaluate)


def hand_run(h, *, seed, scheme, steps=20, batch_size=32, eval_every=7):
    """engine.one_run written out for one run: key(seed) split into init, scheme, run and
    order keys; a permutation per epoch from fold_in(order key, epoch); make_train_step."""
    h = {k: jnp.asarray(v, jnp.float32) for k, v in h.items()}
    model, opt, _ = build(h)
    step, evaluate = compiled_steps()
    init_key, scheme_key, run_key, order_key = jax.random.split(jax.random.key(seed), 4)
    _, params, state = model.init(init_key, X.shape[1:])
    params = sweep.reinitialize(params, scheme, scheme_key)
    zero = jnp.zeros([], jnp.int32)
    ts = jtrain.TrainState(params, state, opt.init(params), zero, run_key, zero)
    evals = (("train", X, Y), ("val", XV, YV))
    curves = {f"{name}_{m}": [] for name, _, _ in evals for m in ("loss", "accuracy")}

    def record(ts):
        for name, ex, ey in evals:
            found = evaluate(ts, (ex, ey, np.ones(len(ey), np.float32)), h)
            curves[f"{name}_loss"].append(float(found["loss"]))
            curves[f"{name}_accuracy"].append(float(found["accuracy"]))

    record(ts)
    per_epoch, batch_loss = len(X) // batch_size, []
    for t in range(steps):
        if t % per_epoch == 0:
            epoch_key = jax.random.fold_in(order_key, t // per_epoch)
            order = np.asarray(jax.random.permutation(epoch_key, len(X)))
        i = order[(t % per_epoch) * batch_size:(t % per_epoch + 1) * batch_size]
        ts, metrics = step(ts, (X[i], Y[i], np.ones(batch_size, np.float32)), h)
        batch_loss.append(float(metrics["loss"]))
        if (t + 1) % eval_every == 0 or t + 1 == steps:
            record(ts)
    curves["batch_loss"] = batch_loss
    return ts.params, {k: np.asarray(v) for k, v in curves.items()}


def assert_runs_close(a, index_a, b, index_b=(), rtol=1e-5, atol=1e-6):
    """Run ``index_a`` of result ``a`` against run ``index_b`` of ``b`` (a result, or a
    ``(params, curves)`` pair of plain arrays)."""
    params, curves = (b.params, b.curves) if isinstance(b, sweep.SweepResult) else b
    assert set(a.curves) == set(curves)
    for name, curve in curves.items():
        np.testing.assert_allclose(a.curves[name][index_a], np.asarray(curve)[index_b],
                                   rtol=rtol, atol=atol, err_msg=name)
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x[index_a], y[index_b], rtol=rtol,
                                                         atol=atol), a.params, params)


# ----------------------------------------------------------------------------- axes, equivalence


def test_axes_are_scheme_then_hyperparameters_in_order_then_seed(big):
    result, _ = big
    assert list(result.axes) == ["scheme", "learning_rate", "setting", "l2", "seed"]
    assert result.axes == {"scheme": tuple(SCHEMES), "learning_rate": (0.05, 0.2),
                           "setting": ((0.0, 0.0), (0.5, 0.5)), "l2": (0.0, 0.01),
                           "seed": (0, 3)}
    assert result.shape == (3, 2, 2, 2, 2) and result.num_runs == 48
    np.testing.assert_array_equal(result.eval_steps, [0, 7, 14, 20])
    lead = result.shape
    assert jax.tree.map(np.shape, result.params) == {
        "dense_0": {"w": (*lead, 2, 16), "b": (*lead, 16)},
        "dense_1": {"w": (*lead, 16, 3), "b": (*lead, 3)}}
    assert result.compile_seconds > 0 and result.run_seconds > 0


def test_run_in_a_big_sweep_equals_the_same_run_alone(big, alone):
    result, _ = big
    assert alone.axes == {"scheme": ("he_normal",), "seed": (3,)}
    assert_runs_close(result, (1, 1, 1, 1, 1), alone, (0, 0))


@pytest.mark.parametrize("index", [(1, 1, 1, 1, 1), (0, 0, 0, 0, 0), (2, 0, 1, 0, 1),
                                   (1, 1, 0, 1, 0), (0, 1, 1, 1, 1)])
def test_run_equals_a_hand_written_loop(big, index):
    result, _ = big
    scheme, lr, (momentum, rate), l2, seed = (v[i] for v, i in zip(result.axes.values(), index))
    h = {"learning_rate": lr, "momentum": momentum, "rate": rate, "l2": l2}
    assert_runs_close(result, index, hand_run(h, seed=seed, scheme=scheme))


def test_runs_with_different_seeds_differ(big):
    batch_loss = big[0].curves["batch_loss"][1, 1, 0, 0]
    assert not np.allclose(batch_loss[0], batch_loss[1])


@pytest.mark.parametrize("which", ["chunks_of_3", "auto"])
def test_chunking_gives_the_numbers_of_one_chunk(cheap, chunked, auto_chunked, which):
    result = cheap[0]
    other = chunked[0] if which == "chunks_of_3" else auto_chunked[0]
    assert other.shape == result.shape == (2, 5) and other.axes == result.axes
    for name in result.curves:
        np.testing.assert_allclose(other.curves[name], result.curves[name], rtol=1e-5,
                                   atol=1e-6, err_msg=name)
    np.testing.assert_array_equal(other.final["skipped"], result.final["skipped"])
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
                 other.params, result.params)
    # and no two runs alike: a chunk put in the wrong place would show
    loss = result.final["train_loss"].ravel()
    assert len(np.unique(loss)) == loss.size


def test_one_compile_whatever_the_chunking(big, cheap, chunked, auto_chunked):
    # The factories see tracers once per traced program: once for the whole sweep, not per
    # run, scheme or chunk (the chunks reuse the compiled program).
    assert big[1] == {"optimizer": 1, "model": 1}
    assert cheap[1] == chunked[1] == 1
    _, traced, measured = auto_chunked
    assert len(measured) == 1 and measured[0] > X.nbytes
    assert 1 <= traced <= 2  # the measurement, and the chunk program if not the same


# ----------------------------------------------------------------------------- schemes in a sweep


def test_zero_init_keeps_hidden_units_identical_and_accuracy_at_chance(big):
    zeros = big[0].sel(scheme="zeros")
    # every hidden unit the same: the columns of the first weight, the rows of the second
    for leaf in (zeros.params["dense_0"]["w"], zeros.params["dense_1"]["w"].swapaxes(-1, -2)):
        np.testing.assert_array_equal(leaf, np.broadcast_to(leaf[..., :1], leaf.shape))
    majority = np.bincount(Y).max() / len(Y)
    np.testing.assert_allclose(zeros.final["train_accuracy"], majority, rtol=1e-6)
    he = big[0].sel(scheme="he_normal")
    assert np.all(he.final["train_accuracy"][:, 0] > majority + 0.3)


def test_per_kind_scheme_equals_the_name_on_an_all_dense_model(big):
    result = big[0]
    for tree in (result.curves, result.final, result.params):
        jax.tree.map(lambda a: np.testing.assert_array_equal(a[2], a[1]), tree)
    assert not np.allclose(result.curves["train_loss"][0, ..., 0],
                           result.curves["train_loss"][1, ..., 0])


# ----------------------------------------------------------------------------- hyperparameters


def test_larger_learning_rate_trains_faster(big):
    he = big[0].sel(scheme="he_normal", setting=(0.0, 0.0), l2=0.0)
    loss = he.final["train_loss"]  # (learning_rate, seed)
    assert np.all(loss[1] < loss[0])
    assert np.all(loss < he.curves["train_loss"][..., 0])


def test_dropout_rate_changes_training_not_the_initial_model(big):
    he = big[0].sel(scheme="he_normal", l2=0.0)
    loss0 = he.curves["train_loss"][..., 0]  # (learning_rate, setting, seed)
    np.testing.assert_array_equal(loss0[:, 0], loss0[:, 1])  # same init, evaluation mode
    first = he.curves["batch_loss"][..., 0]  # the first step: dropout, not momentum, differs
    assert np.all(np.abs(first[:, 0] - first[:, 1]) > 1e-4)


def test_l2_axis_shrinks_the_weights(big):
    he = big[0].sel(scheme="he_normal")
    norm = sum(np.sum(leaf ** 2, axis=(-2, -1)) for leaf in jax.tree.leaves(he.params)
               if leaf.ndim == 6)  # (learning_rate, setting, l2, seed)
    assert np.all(norm[:, :, 1] < norm[:, :, 0])


# ----------------------------------------------------------------------------- bad input


@pytest.fixture
def no_compile(monkeypatch):
    """Fails the test if sweep.run gets as far as tracing its program (compiling comes next)."""
    def program(*args, **kwargs):
        def refuse(*args, **kwargs):
            raise AssertionError("sweep.run traced its program: the error came too late")
        return refuse
    monkeypatch.setattr(engine, "_program", program)


adam_lr = lambda learning_rate: optim.adam(learning_rate)
GOOD = dict(model=MODEL, optimizer=adam_lr, train=(X, Y), steps=10,
            hyperparameters={"learning_rate": [0.01]})
X_FLOAT_LABELS = (X, Y.astype(np.float32))

BAD = [
    ("unknown scheme", dict(schemes=["he_normall"]), init.UnknownInitializerError,
     "Did you mean 'he_normal'.*Known names: .*glorot_normal"),
    ("unknown name in mapping", dict(schemes=[{"dense": "gauss"}]), init.UnknownInitializerError,
     "unknown initialiser 'gauss'"),
    ("unknown kind", dict(schemes=[{"conv": "he_normal"}]), ValueError,
     "layer kind 'conv'.*kinds \\['dense'\\]"),
    ("empty mapping", dict(schemes=[{}]), TypeError, "non-empty mapping"),
    ("schemes a string", dict(schemes="he_normal"), TypeError, "non-empty list"),
    ("schemes empty", dict(schemes=[]), TypeError, "non-empty list"),
    ("momentum for adam", dict(hyperparameters={"learning_rate": [0.1], "momentum": [0.9]}),
     ValueError, "no part of the training takes the hyperparameter 'momentum'.*learning_rate"),
    ("hyperparameter for a transformation",
     dict(optimizer=optim.adam(0.1), hyperparameters={"learning_rate": [0.1]}), ValueError,
     "'learning_rate'.*GradientTransformation"),
    ("missing optimizer argument", dict(optimizer=optim.sgd, hyperparameters=None), ValueError,
     "optimizer factory 'sgd' needs \\['learning_rate'\\].*functools.partial"),
    ("missing model argument", dict(model=DROPOUT_MODEL), ValueError,
     "model factory .* needs \\['rate'\\]"),
    ("empty axis", dict(hyperparameters={"learning_rate": []}), ValueError,
     "axis 'learning_rate' is empty"),
    ("nan value", dict(hyperparameters={"learning_rate": [0.1, float("nan")]}), ValueError,
     "'learning_rate' must take finite real numbers, got nan"),
    ("inf value", dict(hyperparameters={"learning_rate": [float("inf")]}), ValueError,
     "finite real numbers, got inf"),
    ("string value", dict(hyperparameters={"learning_rate": ["0.1"]}), ValueError,
     "finite real numbers, got '0.1'"),
    ("scalar not a list", dict(hyperparameters={"learning_rate": 0.1}), TypeError,
     "needs a sequence of numbers, got 0.1"),
    ("reserved axis", dict(hyperparameters={"learning_rate": [0.1], "seed": [1]}), ValueError,
     "'seed' is a reserved axis name"),
    ("on two axes", dict(hyperparameters={"learning_rate": [0.1],
                                          "s": sweep.paired(learning_rate=[0.2])}),
     ValueError, "appears on two axes"),
    ("negative learning rate", dict(hyperparameters={"learning_rate": [0.1, -0.1]}),
     ValueError, "adam: learning_rate .*got -0.1"),
    ("dropout rate out of range", dict(model=DROPOUT_MODEL,
                                       hyperparameters={"learning_rate": [0.1], "rate": [2.0]}),
     ValueError, "Dropout: rate .*got 2.0"),
    ("zero seeds", dict(seeds=0), ValueError, "seeds must be >= 1"),
    ("empty seeds", dict(seeds=[]), TypeError, "seeds must be a count or a non-empty list"),
    ("float seeds", dict(seeds=[1.5]), TypeError, "list of ints, got \\[1.5\\]"),
    ("bool seeds", dict(seeds=True), TypeError, "seeds"),
    ("seed beyond int32", dict(seeds=[2 ** 31]), (TypeError, ValueError), "seeds"),
    ("zero steps", dict(steps=0), ValueError, "steps must be a positive int, got 0"),
    ("float steps", dict(steps=10.0), ValueError, "steps must be a positive int, got 10.0"),
    ("zero eval_every", dict(eval_every=0), ValueError, "eval_every must be a positive int"),
    ("eval_every above steps", dict(eval_every=11), ValueError,
     "eval_every \\(11\\) is more than steps \\(10\\)"),
    ("zero batch_size", dict(batch_size=0), ValueError, "batch_size must be in \\[1, 100\\]"),
    ("batch_size above n", dict(batch_size=101), ValueError, "got 101"),
    ("float batch_size", dict(batch_size=32.0), (TypeError, ValueError), "batch_size"),
    ("bool batch_size", dict(batch_size=True), (TypeError, ValueError), "batch_size"),
    ("train not a pair", dict(train=X), ValueError, "train data must be a pair \\(x, y\\)"),
    ("float labels", dict(train=X_FLOAT_LABELS), ValueError, "train y must hold integer class"),
    ("float validation labels", dict(validation=X_FLOAT_LABELS), ValueError,
     "validation y must hold integer class labels"),
    ("labels out of range", dict(train=(X, Y + 1)), ValueError,
     "labels outside \\[0, num_classes=3\\)"),
    ("lengths differ", dict(train=(X, Y[:-1])), ValueError, "100 inputs .* 99 targets"),
    ("nan inputs", dict(train=(np.where(X > 2, np.nan, X).astype(np.float32), Y)), ValueError,
     "train X contains NaN"),
    ("max_parallel zero", dict(max_parallel=0), ValueError, "max_parallel must be a positive int"),
    ("max_parallel word", dict(max_parallel="many"), ValueError,
     "max_parallel must be a positive int, got 'many'"),
    ("l2 keyword negative", dict(l2=-1.0), ValueError, "l2"),
    ("l2 keyword nan", dict(l2=float("nan")), ValueError, "l2"),
    ("l2 axis negative", dict(hyperparameters={"learning_rate": [0.1], "l2": [-0.1]}),
     ValueError, "l2"),
]


@pytest.mark.parametrize("kwargs, error, message", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input_is_refused_before_compiling(no_compile, kwargs, error, message):
    args = {**GOOD, **kwargs}
    model, optimizer, train = args.pop("model"), args.pop("optimizer"), args.pop("train")
    with pytest.raises(error, match=message):
        sweep.run(model, optimizer, train, **args)


@pytest.mark.parametrize("kwargs, message", [
    (dict(train=(X, np.stack([Y, Y], 1))),
     "labels` must have shape \\(100,\\).*got \\(100, 2\\)"),
    (dict(validation=(XV[:, :1], YV)),
     "Dense: expected input with 2 features.*got shape \\(30, 1\\)"),
    (dict(loss="crossentropy"), "unknown loss 'crossentropy'; known losses: .*cross_entropy"),
])
def test_mistakes_found_while_tracing_are_still_clear(kwargs, message):
    # Found by the model or the loss as the program is traced: no XLA error, a clear message.
    args = {**GOOD, **kwargs}
    model, optimizer, train = args.pop("model"), args.pop("optimizer"), args.pop("train")
    with pytest.raises(ValueError, match=message):
        sweep.run(model, optimizer, train, **args)


def test_a_paired_axis_of_one_column(monkeypatch):
    # paired(learning_rate=[...]) is one axis of plain numbers: each run gets one float
    def capture(program, table, data, max_parallel, mesh):
        raise LookupError(table["hyper"])
    monkeypatch.setattr(engine, "_execute", capture)
    with pytest.raises(LookupError) as found:
        sweep.run(MODEL, lambda learning_rate: optim.sgd(learning_rate), (X, Y), steps=2,
                  seeds=2, hyperparameters={"s": sweep.paired(learning_rate=[0.1, 0.2])})
    np.testing.assert_array_equal(found.value.args[0]["learning_rate"],
                                  np.float32([0.1, 0.1, 0.2, 0.2]))


@pytest.mark.parametrize("columns, message", [
    (dict(learning_rate=[0.1, 0.2], momentum=[0.9]), "learning_rate has 2, momentum has 1"),
    ({}, "at least one column"),
])
def test_paired_columns_must_match(columns, message):
    with pytest.raises(ValueError, match=message):
        sweep.paired(**columns)


def test_factory_returning_the_wrong_type(no_compile):
    with pytest.raises(TypeError, match="optimizer factory returned float"):
        sweep.run(MODEL, lambda learning_rate: learning_rate, (X, Y), steps=5,
                  hyperparameters={"learning_rate": [0.1]})
    with pytest.raises(TypeError, match="model factory returned str, not a Layer"):
        sweep.run(lambda: "a model", optim.sgd(0.1), (X, Y), steps=5)
