"""Bundled data sets: shapes, dtypes, value ranges, and equality with scikit-learn's copies."""

import sys

import numpy as np
import pytest
from sklearn import datasets as sk

import jaxdl.data as data

CLASSIFICATION = [
    (data.digits, sk.load_digits, (1797, 64), 10),
    (data.breast_cancer, sk.load_breast_cancer, (569, 30), 2),
    (data.wine, sk.load_wine, (178, 13), 3),
    (data.iris, sk.load_iris, (150, 4), 3),
]


@pytest.mark.parametrize("loader, oracle, shape, num_classes", CLASSIFICATION)
def test_classification_sets(loader, oracle, shape, num_classes):
    X, y = loader()
    assert isinstance(X, np.ndarray) and isinstance(y, np.ndarray)
    assert X.shape == shape and X.dtype == np.float32
    assert y.shape == (shape[0],) and y.dtype == np.int32
    np.testing.assert_array_equal(np.unique(y), np.arange(num_classes))
    ref_x, ref_y = oracle(return_X_y=True)
    scale = 16.0 if loader is data.digits else 1.0
    np.testing.assert_allclose(X, ref_x / scale, rtol=1e-6)
    np.testing.assert_array_equal(y, ref_y)
    data.check_dataset(X, y, num_classes=num_classes)


def test_digits_scaled_to_unit_interval():
    X, y = data.digits()
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y)[:3], [178, 182, 177])  # sklearn's class counts


def test_digits_images_are_the_same_pixels_nhwc():
    flat, y = data.digits()
    images, y_img = data.digits(images=True)
    assert images.shape == (1797, 8, 8, 1) and images.dtype == np.float32
    np.testing.assert_array_equal(y_img, y)
    # pixel (row r, column c) of image i is feature 8 r + c
    assert images[5, 2, 3, 0] == flat[5, 8 * 2 + 3]
    np.testing.assert_array_equal(images.reshape(1797, 64), flat)


def test_class_counts_by_hand():
    assert np.bincount(data.iris()[1]).tolist() == [50, 50, 50]
    assert np.bincount(data.breast_cancer()[1]).tolist() == [212, 357]  # malignant, benign


def test_diabetes_raw_features_and_column_targets():
    X, y = data.diabetes()
    assert X.shape == (442, 10) and X.dtype == np.float32
    assert y.shape == (442, 1) and y.dtype == np.float32
    ref_x, ref_y = sk.load_diabetes(return_X_y=True, scaled=False)
    np.testing.assert_allclose(X, ref_x, rtol=1e-6)
    np.testing.assert_allclose(y[:, 0], ref_y, rtol=1e-6)
    assert 25.0 <= y.min() and y.max() <= 346.0
    data.check_dataset(X, y, task="regression")


def test_each_call_returns_fresh_arrays():
    X, _ = data.iris()
    X[0, 0] = -100.0
    assert data.iris()[0][0, 0] != -100.0


@pytest.mark.parametrize("loader", [data.digits, data.wine, data.diabetes])
def test_missing_scikit_learn_names_the_extra(monkeypatch, loader):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ImportError, match=r"needs scikit-learn.*pip install 'jaxdl\[bench\]'"):
        loader()
