"""SweepResult: shapes and evaluation steps of a real sweep (full batch, a diverging learning
rate, a regression loss), ``sel`` by value and by label, ``to_records``/``to_csv`` round
trips, and ``summary``'s median and quartiles against numpy, NaNs ignored without warnings."""

import csv
import itertools
import warnings

import jax
import numpy as np
import pytest

from jaxdl import nn, optim, sweep

# ----------------------------------------------------------------------------- a real sweep

RNG = np.random.default_rng(0)
W = np.array([[1.0], [-2.0], [0.5]], np.float32)
X = RNG.normal(size=(64, 3)).astype(np.float32)
Y = X @ W + 0.1 * RNG.normal(size=(64, 1)).astype(np.float32)
XV = RNG.normal(size=(16, 3)).astype(np.float32)
YV = XV @ W
RATES = [0.01, 0.1, 100.0]  # 100 diverges: its steps overflow and are skipped


@pytest.fixture(scope="module")
def real():
    # 45 steps, eval_every left to its default (45 // 20 = 2): the last evaluation is a
    # one-step tail after step 44
    return sweep.run(nn.Dense(1), lambda learning_rate: optim.sgd(learning_rate), (X, Y),
                     loss="mse", steps=45, validation=(XV, YV), seeds=2,
                     hyperparameters={"learning_rate": RATES}, keep_params=False)


def test_shapes_and_evaluation_steps(real):
    assert real.axes == {"learning_rate": tuple(RATES), "seed": (0, 1)}
    assert real.shape == (3, 2) and real.num_runs == 6
    np.testing.assert_array_equal(real.eval_steps, [*range(0, 45, 2), 45])
    assert set(real.curves) == {"train_loss", "val_loss", "batch_loss"}  # no accuracy for mse
    assert real.curves["train_loss"].shape == real.curves["val_loss"].shape == (3, 2, 24)
    assert real.curves["batch_loss"].shape == (3, 2, 45)
    assert set(real.final) == {"train_loss", "val_loss", "skipped"}
    assert real.params is None and real.model_state is None


def test_final_is_the_last_evaluation(real):
    for name in ("train_loss", "val_loss"):
        assert real.final[name].shape == (3, 2)
        np.testing.assert_array_equal(real.final[name], real.curves[name][..., -1])


def test_evaluations_happen_at_eval_steps(real):
    # Full batch: step t's batch loss is the training loss of the params after t steps, which
    # is what the evaluation at eval step t measured.
    fine = real.sel(learning_rate=0.1)
    steps = real.eval_steps[:-1]
    np.testing.assert_allclose(fine.curves["train_loss"][:, :-1],
                               fine.curves["batch_loss"][:, steps], rtol=1e-5)


def test_diverging_runs_are_skipped_and_summarised_without_warnings(real):
    skipped = real.final["skipped"]
    assert np.all(skipped[2] > 0) and np.all(skipped[:2] == 0)
    assert not np.all(np.isfinite(real.final["train_loss"][2]))
    assert np.all(real.final["train_loss"][1] < real.final["train_loss"][0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = real.summary()
    assert [row["learning_rate"] for row in rows] == RATES
    for row, losses in zip(rows[:2], real.final["train_loss"][:2]):
        np.testing.assert_allclose(row["train_loss_median"], np.median(losses), rtol=1e-6)
        np.testing.assert_allclose(row["train_loss_q25"], np.percentile(losses, 25), rtol=1e-6)
    assert rows[2]["skipped_median"] == np.median(skipped[2])


def test_summary_of_runs_that_all_overflowed_is_infinite(real):
    # Both runs at learning rate 100 end with an infinite loss: every quantile of {inf, inf}
    # is inf (np.median agrees); NaN would read as "no data".
    losses = real.final["train_loss"][2]
    assert np.all(np.isposinf(losses)) and np.median(losses) == np.inf
    row = real.summary()[2]
    assert row["train_loss_median"] == np.inf
    assert row["train_loss_q25"] == np.inf and row["train_loss_q75"] == np.inf


def test_sel_without_params(real):
    one = real.sel(learning_rate=0.1, seed=1)
    assert one.axes == {} and one.shape == () and one.params is None
    assert one.final["train_loss"] == real.final["train_loss"][1, 1]


# ----------------------------------------------------------------------------- a made-up result

SCHEMES = ("zeros", {"dense": "he_normal", "*": "zeros"})
SETTINGS = ((0.1, 0.9), (0.01, 0.99), (0.001, 0.0))


def made_up():
    """A result with NaNs: one run, and a whole (scheme, setting) slice of seeds."""
    rng = np.random.default_rng(1)
    shape = (2, 3, 4)
    accuracy = rng.uniform(size=shape).astype(np.float32)
    accuracy[0, 1, 2] = np.nan
    accuracy[1, 2, :] = np.nan
    return sweep.SweepResult(
        axes={"scheme": SCHEMES, "setting": SETTINGS, "seed": (0, 1, 5, 7)},
        eval_steps=np.array([0, 5, 10]),
        curves={"val_accuracy": rng.uniform(size=(*shape, 3)).astype(np.float32),
                "batch_loss": rng.uniform(size=(*shape, 10)).astype(np.float32)},
        final={"val_accuracy": accuracy,
               "skipped": rng.integers(0, 3, size=shape).astype(np.int32)},
        params={"dense_0": {"w": rng.normal(size=(*shape, 2, 2)).astype(np.float32)}},
        model_state={},
    )


def test_sel_by_value_and_by_label():
    result = made_up()
    by_value = result.sel(scheme={"dense": "he_normal", "*": "zeros"}, setting=(0.01, 0.99))
    by_label = result.sel(scheme="dense=he_normal,*=zeros", setting="0.01/0.99")
    for one in (by_value, by_label):
        assert one.axes == {"seed": (0, 1, 5, 7)} and one.shape == (4,)
        np.testing.assert_array_equal(one.final["skipped"], result.final["skipped"][1, 1])
        np.testing.assert_array_equal(one.curves["batch_loss"], result.curves["batch_loss"][1, 1])
        np.testing.assert_array_equal(one.params["dense_0"]["w"],
                                      result.params["dense_0"]["w"][1, 1])
    np.testing.assert_array_equal(one.eval_steps, result.eval_steps)
    seed5 = result.sel(seed=5)
    assert list(seed5.axes) == ["scheme", "setting"] and seed5.shape == (2, 3)
    np.testing.assert_array_equal(seed5.final["skipped"], result.final["skipped"][..., 2])


@pytest.mark.parametrize("coords, message", [
    (dict(lr=0.1), "no axis \\['lr'\\]; the axes are \\['scheme', 'setting', 'seed'\\]"),
    (dict(seed=3), "axis 'seed' has no value 3; its values are \\[0, 1, 5, 7\\]"),
    (dict(scheme="he_normal"), "has no value 'he_normal'.*'dense=he_normal,\\*=zeros'"),
])
def test_sel_errors(coords, message):
    with pytest.raises(KeyError, match=message):
        made_up().sel(**coords)


def test_to_records_one_row_per_run_in_axis_order():
    result = made_up()
    records = result.to_records()
    assert len(records) == result.num_runs == 24
    for record, index in zip(records, itertools.product(*(range(n) for n in result.shape))):
        assert list(record) == ["scheme", "setting", "seed", "val_accuracy", "skipped"]
        assert record["scheme"] == ("zeros", "dense=he_normal,*=zeros")[index[0]]
        assert record["setting"] == ("0.1/0.9", "0.01/0.99", "0.001/0.0")[index[1]]
        assert record["seed"] == (0, 1, 5, 7)[index[2]]
        np.testing.assert_equal(record["val_accuracy"], result.final["val_accuracy"][index])
        assert record["skipped"] == result.final["skipped"][index]
        assert isinstance(record["skipped"], int) and isinstance(record["val_accuracy"], float)


def test_to_csv_round_trip(tmp_path):
    result = made_up()
    path = tmp_path / "sweep.csv"
    assert result.to_csv(str(path)) == str(path)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    records = result.to_records()
    assert len(rows) == len(records)
    for row, record in zip(rows, records):
        assert list(row) == list(record)
        assert row["scheme"] == record["scheme"] and row["setting"] == record["setting"]
        assert int(row["seed"]) == record["seed"] and int(row["skipped"]) == record["skipped"]
        np.testing.assert_equal(float(row["val_accuracy"]), record["val_accuracy"])


def test_summary_median_and_quartiles_against_numpy():
    result = made_up()
    acc, skipped = result.final["val_accuracy"], result.final["skipped"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the all-NaN slice must not warn
        rows = result.summary(over="seed")
    assert len(rows) == 6
    for row, (i, j) in zip(rows, itertools.product(range(2), range(3))):
        assert row["scheme"] == ("zeros", "dense=he_normal,*=zeros")[i]
        assert row["setting"] == ("0.1/0.9", "0.01/0.99", "0.001/0.0")[j]
        assert row["n"] == 4
        finite = acc[i, j][~np.isnan(acc[i, j])].astype(np.float64)
        if finite.size:
            expected = [np.median(finite), *np.percentile(finite, [25, 75])]
        else:
            expected = [np.nan] * 3
        got = [row["val_accuracy_median"], row["val_accuracy_q25"], row["val_accuracy_q75"]]
        np.testing.assert_allclose(got, expected, rtol=1e-12)
        np.testing.assert_allclose(
            [row["skipped_median"], row["skipped_q25"], row["skipped_q75"]],
            [np.median(skipped[i, j]), *np.percentile(skipped[i, j], [25, 75])], rtol=1e-12)
    assert rows[1]["val_accuracy_median"] == np.median(np.delete(acc[0, 1], 2))


def test_summary_over_a_middle_axis():
    result = made_up()
    rows = result.summary(over="setting")
    assert [(r["scheme"], r["seed"]) for r in rows] == list(itertools.product(
        ("zeros", "dense=he_normal,*=zeros"), (0, 1, 5, 7)))
    for row, (i, k) in zip(rows, itertools.product(range(2), range(4))):
        assert "setting" not in row and row["n"] == 3
        np.testing.assert_allclose(row["skipped_median"],
                                   np.median(result.final["skipped"][i, :, k]))
        values = result.final["val_accuracy"][i, :, k]
        np.testing.assert_allclose(row["val_accuracy_median"],
                                   np.median(values[~np.isnan(values)]), rtol=1e-7)


def test_summary_of_an_unknown_axis():
    with pytest.raises(KeyError, match="no axis 'fold'; the axes are"):
        made_up().summary(over="fold")


def test_sel_keeps_the_params_tree():
    result = made_up()
    one = result.sel(scheme="zeros", setting=(0.1, 0.9), seed=7)
    assert jax.tree.structure(one.params) == jax.tree.structure(result.params)
    np.testing.assert_array_equal(one.params["dense_0"]["w"],
                                  result.params["dense_0"]["w"][0, 0, 3])
