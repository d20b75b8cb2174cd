"""Small real data sets that ship inside scikit-learn (no download), as float32 numpy arrays.

Every loader returns ``(X, y)`` as numpy arrays: the data live on the host and move to the
device batch by batch (``batches``) or at once (``jnp.asarray``). ``X`` is float32 with one
row per example; classification labels ``y`` are int32 class indices of shape ``(n,)``;
regression targets are float32 of shape ``(n, 1)``, the shape of a one-output model's
predictions, so ``jaxdl.losses.squared_error(model_out, y)`` needs no reshape. Features are
raw (only the digits are rescaled, by a fixed constant): standardise them with statistics of
the training part (``Standardizer``) after splitting, not before.

scikit-learn is an optional dependency (the ``bench`` extra); it is imported when a loader
is called.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["breast_cancer", "diabetes", "digits", "iris", "wine"]


def _sklearn(fn: str, loader: str, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn import datasets
    except ImportError as e:
        raise ImportError(
            f"jaxdl.data.{fn} needs scikit-learn (it ships the data): pip install 'jaxdl[bench]'"
        ) from e
    X, y = getattr(datasets, loader)(return_X_y=True, **kwargs)
    return np.asarray(X, np.float32), np.asarray(y)


def _classification(fn: str, loader: str) -> tuple[np.ndarray, np.ndarray]:
    X, y = _sklearn(fn, loader)
    return X, y.astype(np.int32)


def digits(*, images: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The 8x8 handwritten digits (UCI optical recognition set, test part): 1797 examples.

    Pixel intensities (0..16) are divided by 16, so ``X`` lies in [0, 1]. Ten classes 0-9,
    about 180 examples each.

    Args:
      images: return ``X`` as NHWC images ``(1797, 8, 8, 1)`` (for convolutions and
        ``random_shift``) instead of flat vectors ``(1797, 64)``.

    Returns:
      ``(X, y)``: float32 ``(1797, 64)`` or ``(1797, 8, 8, 1)``, and int32 ``(1797,)``.

    References:
      Alpaydin, Kaynak, "Optical Recognition of Handwritten Digits", UCI Machine Learning
      Repository 1998.
    """
    X, y = _classification("digits", "load_digits")
    X = X / np.float32(16.0)
    return (X.reshape(-1, 8, 8, 1) if images else X), y


def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """Wisconsin diagnostic breast cancer: 569 examples, 30 real features, 2 classes.

    Labels: 0 malignant (212), 1 benign (357). Features span very different scales
    (areas in the hundreds, smoothness near 0.1): standardise before training.

    Returns:
      ``(X, y)``: float32 ``(569, 30)`` and int32 ``(569,)``.

    References:
      Street, Wolberg, Mangasarian, "Nuclear Feature Extraction for Breast Tumor Diagnosis",
      1993.
    """
    return _classification("breast_cancer", "load_breast_cancer")


def wine() -> tuple[np.ndarray, np.ndarray]:
    """Wine recognition: 178 wines from three cultivars, 13 chemical features, 3 classes.

    Returns:
      ``(X, y)``: float32 ``(178, 13)`` and int32 ``(178,)`` with classes 0, 1, 2.

    References:
      Forina et al., "PARVUS: An Extendible Package for Data Exploration, Classification and
      Correlation", 1988 (UCI Machine Learning Repository).
    """
    return _classification("wine", "load_wine")


def iris() -> tuple[np.ndarray, np.ndarray]:
    """Fisher's iris: 150 flowers, 4 measurements in cm, 3 species (50 each).

    Returns:
      ``(X, y)``: float32 ``(150, 4)`` and int32 ``(150,)`` with classes 0, 1, 2.

    References:
      Fisher, "The Use of Multiple Measurements in Taxonomic Problems", Annals of Eugenics
      1936.
    """
    return _classification("iris", "load_iris")


def diabetes() -> tuple[np.ndarray, np.ndarray]:
    """Diabetes progression (regression): 442 patients, 10 baseline variables.

    The features are the raw variables (age, sex, BMI, blood pressure, six serum
    measurements), not scikit-learn's default pre-scaled version, whose scaling used all 442
    examples; fit a ``Standardizer`` on the training part instead. The target is a
    quantitative measure of disease progression one year later (25 to 346).

    Returns:
      ``(X, y)``: float32 ``(442, 10)`` and float32 ``(442, 1)``.

    References:
      Efron, Hastie, Johnstone, Tibshirani, "Least Angle Regression", Annals of Statistics
      2004.
    """
    X, y = _sklearn("diabetes", "load_diabetes", scaled=False)
    return X, y.astype(np.float32).reshape(-1, 1)
