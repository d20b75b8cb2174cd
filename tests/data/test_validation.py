"""check_dataset: every problem raises a ValueError in the user's terms; good data passes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdl.data as data

X = np.zeros((6, 3), np.float32)
Y = np.array([0, 1, 2, 0, 1, 2], np.int32)


def test_good_data_passes():
    assert data.check_dataset(X, Y, num_classes=3) is None
    assert data.check_dataset(jnp.asarray(X), jnp.asarray(Y)) is None
    assert data.check_dataset(X, np.ones((6, 1), np.float32), task="regression") is None
    assert data.check_dataset(X, np.arange(6), task="regression") is None  # integer targets ok


def test_different_lengths():
    with pytest.raises(ValueError, match=r"train X and y must hold the same number of examples, "
                                         r"got 6 inputs \(shape \(6, 3\)\) and 5 targets"):
        data.check_dataset(X, Y[:5])


def test_empty():
    with pytest.raises(ValueError, match=r"the test data set is empty"):
        data.check_dataset(X[:0], Y[:0], name="test")


def test_nan_and_inf_counted_with_first_example():
    x = X.copy()
    x[3, 1] = np.nan
    x[3, 2] = np.inf
    x[5, 0] = -np.inf
    with pytest.raises(ValueError, match=r"validation X contains NaN or Inf: 3 value\(s\) in 2 "
                                         r"example\(s\); the first is example 3 \(value nan\)"):
        data.check_dataset(x, Y, name="validation")


def test_float_labels_for_classification():
    with pytest.raises(ValueError, match=r"train y must hold integer class labels for "
                                         r"classification, got dtype float32.*task='regression'"):
        data.check_dataset(X, Y.astype(np.float32))


def test_labels_out_of_range():
    y = Y.copy()
    y[4] = 3
    with pytest.raises(ValueError, match=r"has labels outside \[0, num_classes=3\): 1 value\(s\) "
                                         r"in 1 example\(s\); the first is example 4 \(value 3\)"):
        data.check_dataset(X, y, num_classes=3)
    y[1] = -1
    with pytest.raises(ValueError, match=r"has negative class labels: 1 value.*example 1"):
        data.check_dataset(X, y)


def test_one_hot_labels_rejected_for_classification():
    with pytest.raises(ValueError, match=r"one class index per example, shape \(6,\)"):
        data.check_dataset(X, np.eye(6, 3, dtype=np.int32))


def test_regression_targets_must_be_finite():
    t = np.ones((6, 1), np.float32)
    t[2, 0] = np.nan
    with pytest.raises(ValueError, match=r"train y contains NaN or Inf: .*example 2"):
        data.check_dataset(X, t, task="regression")


def test_argument_errors():
    with pytest.raises(ValueError, match=r"`task` must be one of \('classification', 'regr"):
        data.check_dataset(X, Y, task="ranking")
    with pytest.raises(ValueError, match=r"`num_classes` must be at least 1, got 0"):
        data.check_dataset(X, Y, num_classes=0)
    with pytest.raises(ValueError, match="train X must be numeric, got dtype <U1"):
        data.check_dataset(np.array([["a"]] * 6), Y)
    with pytest.raises(TypeError, match="`X` is a traced array"):
        jax.jit(lambda x: data.check_dataset(x, Y))(X)
