"""Data: bundled and synthetic data sets, splits, folds, bootstrap, batching, augmentation.

Randomness only through explicit PRNG keys (the same key gives the same bits). Bundled data
sets are float32/int32 numpy arrays (host data); synthetic ones and everything meant for the
hot path (``kfold_masks``, ``bootstrap``, ``stacked_batches``, augmentations) are JAX arrays
and work under ``jit``/``vmap``. Regression targets have shape ``(n, 1)``, class labels
``(n,)``.
"""

from jaxdl.data.augment import gaussian_noise, mixup, random_shift, shift_images
from jaxdl.data.batching import batches, num_batches, stacked_batches
from jaxdl.data.bundled import breast_cancer, diabetes, digits, iris, wine
from jaxdl.data.preprocessing import Standardizer, standardize
from jaxdl.data.resampling import bootstrap, out_of_bag_mask
from jaxdl.data.splits import kfold, kfold_masks, split
from jaxdl.data.synthetic import function_1d, gaussian_blobs, moons, sine, spirals
from jaxdl.data.validation import check_dataset

__all__ = [
    "Standardizer",
    "batches",
    "bootstrap",
    "breast_cancer",
    "check_dataset",
    "diabetes",
    "digits",
    "function_1d",
    "gaussian_blobs",
    "gaussian_noise",
    "iris",
    "kfold",
    "kfold_masks",
    "mixup",
    "moons",
    "num_batches",
    "out_of_bag_mask",
    "random_shift",
    "shift_images",
    "sine",
    "spirals",
    "split",
    "stacked_batches",
    "standardize",
    "wine",
]
