"""split, kfold and kfold_masks: partitions, sizes, stratification, determinism, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdl.data as data

# Unbalanced classes: 50, 30, 17 and 3 examples, interleaved.
LABELS = np.repeat(np.arange(4, dtype=np.int32), [50, 30, 17, 3])[
    np.random.default_rng(0).permutation(100)]


def _indices(parts):
    """With X = arange(n), each part's X holds the indices of its examples."""
    return [np.asarray(x).ravel() for x, _ in parts]


def test_default_is_70_30_and_a_partition(key):
    X = np.arange(100)
    parts = data.split(X, 10 * X, key=key)
    assert [len(x) for x, _ in parts] == [70, 30]
    idx = np.concatenate(_indices(parts))
    np.testing.assert_array_equal(np.sort(idx), np.arange(100))  # every example exactly once
    for x, y in parts:
        np.testing.assert_array_equal(y, 10 * x)  # X and y stay paired


def test_three_parts_sizes_by_hand(key):
    # floors 5, 2, 2; the one left over goes to the largest remainder (0.5, tie: first)
    parts = data.split(np.arange(10), np.arange(10), (0.5, 0.25, 0.25), key=key)
    assert [len(x) for x, _ in parts] == [5, 3, 2]
    np.testing.assert_array_equal(np.sort(np.concatenate(_indices(parts))), np.arange(10))


def test_same_key_same_split_other_key_other_split(key):
    X = np.arange(100)
    a = _indices(data.split(X, X, key=key))
    b = _indices(data.split(X, X, key=key))
    c = _indices(data.split(X, X, key=jax.random.key(1)))
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(np.sort(a[0]), np.sort(c[0]))


def test_parts_are_shuffled_not_in_data_order(key):
    x0 = _indices(data.split(np.arange(100), np.arange(100), key=key))[0]
    assert not np.all(np.diff(x0) > 0)


def test_keeps_numpy_or_jax_array_type(key):
    (xn, yn), _ = data.split(np.ones((10, 2)), np.zeros(10), key=key)
    (xj, yj), _ = data.split(jnp.ones((10, 2)), jnp.zeros(10), key=key)
    assert isinstance(xn, np.ndarray) and isinstance(yn, np.ndarray)
    assert isinstance(xj, jax.Array) and isinstance(yj, jax.Array)
    assert xn.shape == xj.shape == (7, 2)


@pytest.mark.parametrize("fractions", [(0.7, 0.3), (0.6, 0.2, 0.2), (0.25, 0.25, 0.25, 0.25)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stratified_proportions_within_one_per_class(fractions, seed):
    X = np.arange(100)
    parts = data.split(X, LABELS, fractions, key=jax.random.key(seed), stratify=True)
    idx = _indices(parts)
    np.testing.assert_array_equal(np.sort(np.concatenate(idx)), np.arange(100))
    class_sizes = np.bincount(LABELS)
    for f, (x, y) in zip(fractions, parts):
        np.testing.assert_array_equal(y, LABELS[x])
        counts = np.bincount(y, minlength=4)
        floor = np.floor(f * class_sizes + 1e-9)
        assert np.all((counts == floor) | (counts == floor + 1)), (f, counts, f * class_sizes)
        # totals: within one example per class of f * n
        assert abs(len(x) - f * 100) <= 4


@pytest.mark.parametrize("fractions", [(0.7, 0.3), (0.55, 0.45), (0.9, 0.1)])
def test_stratified_two_parts_sizes_within_one(key, fractions):
    parts = data.split(np.arange(100), LABELS, fractions, key=key, stratify=True)
    for f, (_, yp) in zip(fractions, parts):
        assert abs(len(yp) - f * 100) < 1


def test_stratified_parts_mix_classes(key):
    _, y0 = data.split(np.arange(100), LABELS, key=key, stratify=True)[0]
    assert not np.all(np.diff(y0) >= 0)  # not grouped by class


def test_split_errors(key):
    X, y = np.zeros((10, 2)), np.zeros(10, np.int32)
    with pytest.raises(ValueError, match=r"split: `X` and `y` must hold the same number.*10.*9"):
        data.split(X, y[:9], key=key)
    with pytest.raises(ValueError, match=r"must sum to 1, got \(0.7, 0.2\) which sums to 0.9"):
        data.split(X, y, (0.7, 0.2), key=key)
    with pytest.raises(ValueError, match="every fraction must be positive"):
        data.split(X, y, (1.2, -0.2), key=key)
    with pytest.raises(ValueError, match=r"part 1 \(fraction 0.1\) would be empty with 3 examples"):
        data.split(X[:3], y[:3], (0.9, 0.1), key=key)
    with pytest.raises(TypeError, match=r"split: needs a PRNG key: pass key=jax.random.key"):
        data.split(X, y, key=None)
    with pytest.raises(TypeError, match="must be one PRNG key"):
        data.split(X, y, key=0)
    with pytest.raises(TypeError, match="`fractions` must be a sequence"):
        data.split(X, y, 0.7, key=key)
    with pytest.raises(TypeError, match="stratifying needs integer class labels in `y`"):
        data.split(X, np.zeros(10, np.float32), key=key, stratify=True)
    with pytest.raises(ValueError, match=r"1-D array of 10 class labels.*got shape \(10, 3\)"):
        data.split(X, np.zeros((10, 3), np.int32), key=key, stratify=True)


# ----------------------------------------------------------------------------- k-fold


@pytest.mark.parametrize("n, k", [(10, 3), (7, 7)])
def test_kfold_partitions(key, n, k):
    folds = data.kfold(n, k, key)
    assert len(folds) == k
    vals = np.concatenate([v for _, v in folds])
    np.testing.assert_array_equal(np.sort(vals), np.arange(n))  # each validated exactly once
    for train, val in folds:
        np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(n))
        assert len(val) in (n // k, -(-n // k))
        assert train.dtype == val.dtype == np.int32


def test_kfold_masks_agree_with_kfold(key):
    masks = data.kfold_masks(10, 3, key)
    assert masks.shape == (3, 10) and masks.dtype == jnp.bool_
    np.testing.assert_array_equal(np.asarray(masks).sum(axis=0), np.ones(10))
    for j, (_, val) in enumerate(data.kfold(10, 3, key)):
        np.testing.assert_array_equal(np.flatnonzero(np.asarray(masks[j])), val)


def test_kfold_stratified_class_counts(key):
    k = 5
    masks = np.asarray(data.kfold_masks(100, k, key, stratify=LABELS))
    sizes = np.bincount(LABELS)
    for j in range(k):
        counts = np.bincount(LABELS[masks[j]], minlength=4)
        assert np.all((counts == sizes // k) | (counts == -(-sizes // k))), counts
    assert masks.sum(axis=1).tolist() == [20] * 5
    folds = data.kfold(100, k, key, stratify=LABELS)
    for j, (_, val) in enumerate(folds):
        np.testing.assert_array_equal(np.flatnonzero(masks[j]), val)


def test_kfold_deterministic_and_key_dependent(key):
    a = np.asarray(data.kfold_masks(10, 3, key))
    np.testing.assert_array_equal(a, np.asarray(data.kfold_masks(10, 3, key)))
    assert not np.array_equal(a, np.asarray(data.kfold_masks(10, 3, jax.random.key(1))))


def test_kfold_masks_jit_and_vmap_over_keys(key):
    keys = jax.random.split(key, 3)
    many = jax.jit(jax.vmap(lambda k: data.kfold_masks(10, 3, k)))(keys)
    assert many.shape == (3, 3, 10)
    np.testing.assert_array_equal(np.asarray(many).sum(axis=1), np.ones((3, 10)))
    np.testing.assert_array_equal(many[1], data.kfold_masks(10, 3, keys[1]))


def test_kfold_errors(key):
    with pytest.raises(ValueError, match=r"kfold: `k` must be at least 2, got 1"):
        data.kfold(10, 1, key)
    with pytest.raises(ValueError, match=r"kfold_masks: `k`=11 folds need at least 11 examples"):
        data.kfold_masks(10, 11, key)
    with pytest.raises(TypeError, match=r"kfold: `n` must be a Python int, got 10.0"):
        data.kfold(10.0, 2, key)
    with pytest.raises(ValueError, match=r"`stratify` must be a 1-D array of 10 class labels"):
        data.kfold(10, 2, key, stratify=np.zeros(9, np.int32))
    with pytest.raises(TypeError, match="kfold: needs a PRNG key"):
        data.kfold(10, 2, None)
