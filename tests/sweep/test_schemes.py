"""Initialisation schemes: ``reinitialize`` re-draws every weight (Dense and Conv kernels)
from the named initialiser, with the initialiser's own statistics, and leaves biases and
normalisation parameters alone; per-kind mappings and ``"*"``; ``check_scheme``'s errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import init, nn, sweep

KEY = jax.random.key(7)


def make_params(model, input_shape, seed=0):
    return jax.jit(lambda key: model.init(key, input_shape)[1])(jax.random.key(seed))


# biases of ones, so that "biases untouched" can be seen
MLP = nn.serial(nn.Dense(300, b_init="ones"), nn.relu, nn.Dense(200, b_init="ones"))
CNN = nn.serial(nn.Conv(64, 3, b_init="ones"), nn.relu, nn.Flatten(),
                nn.Dense(10, b_init="ones"))
MLP_PARAMS = make_params(MLP, (400,))
CNN_PARAMS = make_params(CNN, (6, 6, 16))  # conv kernel (3, 3, 16, 64): fan_in 144


def weights(params):
    """Every (path, leaf) named "w", in tree order."""
    return [(jax.tree_util.keystr(path), leaf)
            for path, leaf in jax.tree_util.tree_leaves_with_path(params)
            if jax.tree_util.keystr(path).endswith("['w']")]


def others(params):
    return [(jax.tree_util.keystr(path), leaf)
            for path, leaf in jax.tree_util.tree_leaves_with_path(params)
            if not jax.tree_util.keystr(path).endswith("['w']")]


def assert_same_leaves(pairs_a, pairs_b):
    assert [p for p, _ in pairs_a] == [p for p, _ in pairs_b]
    for (path, a), (_, b) in zip(pairs_a, pairs_b):
        np.testing.assert_array_equal(a, b, err_msg=path)


@pytest.mark.parametrize("params", [MLP_PARAMS, CNN_PARAMS], ids=["mlp", "cnn"])
@pytest.mark.parametrize("name", ["he_normal", "glorot_uniform", "zeros"])
def test_weight_i_is_the_initialiser_drawn_with_fold_in_key_i(params, name):
    new = sweep.reinitialize(params, name, KEY)
    fn = init.get(name)
    for i, ((path, leaf), (_, old)) in enumerate(zip(weights(new), weights(params))):
        expected = fn(jax.random.fold_in(KEY, i), old.shape, old.dtype)
        np.testing.assert_array_equal(leaf, expected, err_msg=path)
        assert leaf.dtype == old.dtype
        if name != "zeros":
            assert not np.allclose(leaf, old), f"{path} was not re-drawn"
    assert_same_leaves(others(new), others(params))  # biases as the model made them
    assert jax.tree.structure(new) == jax.tree.structure(params)


@pytest.mark.parametrize("name, variance", [
    ("he_normal", lambda fi, fo: 2 / fi),
    ("he_uniform", lambda fi, fo: 2 / fi),
    ("xavier_normal", lambda fi, fo: 2 / (fi + fo)),
    ("glorot_uniform", lambda fi, fo: 2 / (fi + fo)),
])
def test_redrawn_weights_have_the_initialisers_statistics(name, variance):
    dense = sweep.reinitialize(MLP_PARAMS, name, KEY)["dense_0"]["w"]  # (400, 300)
    conv = sweep.reinitialize(CNN_PARAMS, name, KEY)["conv_0"]["w"]  # (3, 3, 16, 64)
    for w, fan_in, fan_out in [(dense, 400, 300), (conv, 9 * 16, 9 * 64)]:
        w = np.asarray(w, np.float64)
        std = np.sqrt(variance(fan_in, fan_out))
        # standard errors: std / sqrt(N) for the mean, about std / sqrt(2N) for the std
        assert abs(w.mean()) < 5 * std / np.sqrt(w.size)
        np.testing.assert_allclose(w.std(), std, rtol=6 / np.sqrt(2 * w.size))


def test_maxout_pieces_keep_the_fan_of_one_piece():
    # Maxout initialises each of its pieces like a Dense kernel (fan_in = in); a scheme
    # re-drawing its (pieces, in, out) weight must keep that, not count pieces into the fan.
    params = make_params(nn.serial(nn.Maxout(300, pieces=4, w_init="he_normal")), (400,))
    w = np.asarray(sweep.reinitialize(params, "he_normal", KEY)["maxout_0"]["w"], np.float64)
    original = np.asarray(params["maxout_0"]["w"], np.float64)
    np.testing.assert_allclose(original.std(), np.sqrt(2 / 400), rtol=0.02)
    np.testing.assert_allclose(w.std(), np.sqrt(2 / 400), rtol=0.02)


def test_per_kind_mapping_equals_the_name_on_an_all_dense_model():
    by_name = sweep.reinitialize(MLP_PARAMS, "he_normal", KEY)
    by_kind = sweep.reinitialize(MLP_PARAMS, {"dense": "he_normal"}, KEY)
    by_star = sweep.reinitialize(MLP_PARAMS, {"*": "he_normal"}, KEY)
    for tree in (by_kind, by_star):
        jax.tree.map(np.testing.assert_array_equal, tree, by_name)


def test_kinds_map_to_their_initialisers_and_star_to_the_rest():
    new = sweep.reinitialize(CNN_PARAMS, {"conv": "zeros", "*": "ones"}, KEY)
    np.testing.assert_array_equal(new["conv_0"]["w"], np.zeros((3, 3, 16, 64)))
    np.testing.assert_array_equal(new["dense_0"]["w"], np.ones((6 * 6 * 64, 10)))
    assert_same_leaves(others(new), others(CNN_PARAMS))
    # a weight's draw does not depend on how the other kinds are mapped
    mixed = sweep.reinitialize(CNN_PARAMS, {"conv": "zeros", "*": "he_normal"}, KEY)
    plain = sweep.reinitialize(CNN_PARAMS, "he_normal", KEY)
    np.testing.assert_array_equal(mixed["dense_0"]["w"], plain["dense_0"]["w"])


def test_unmapped_kinds_keep_the_models_weights():
    new = sweep.reinitialize(CNN_PARAMS, {"conv": "he_uniform"}, KEY)
    np.testing.assert_array_equal(new["dense_0"]["w"], CNN_PARAMS["dense_0"]["w"])
    assert not np.allclose(new["conv_0"]["w"], CNN_PARAMS["conv_0"]["w"])


def test_kinds_are_found_inside_nested_models():
    model = nn.serial(nn.serial(nn.Dense(300), nn.relu), nn.Dense(200), nn.LayerNorm())
    params = make_params(model, (400,))
    new = sweep.reinitialize(params, {"dense": "ones"}, KEY)
    np.testing.assert_array_equal(new["serial_0"]["dense_0"]["w"], np.ones((400, 300)))
    np.testing.assert_array_equal(new["dense_0"]["w"], np.ones((300, 200)))
    assert_same_leaves(others(new), others(params))  # LayerNorm's scale and offset too


def test_only_weights_named_w_of_rank_two_or_more_change():
    params = {"table": {"embedding": jnp.ones((4, 3))}, "gain": {"w": jnp.ones(3)},
              "dense_0": {"w": jnp.ones((3, 2)), "b": jnp.ones(2)}}
    new = sweep.reinitialize(params, "zeros", KEY)
    np.testing.assert_array_equal(new["dense_0"]["w"], np.zeros((3, 2)))
    for path in (("table", "embedding"), ("gain", "w"), ("dense_0", "b")):
        np.testing.assert_array_equal(new[path[0]][path[1]], params[path[0]][path[1]])


def test_dtype_is_kept():
    params = make_params(nn.serial(nn.Dense(8, dtype=jnp.bfloat16)), (4,))
    assert sweep.reinitialize(params, "he_normal", KEY)["dense_0"]["w"].dtype == jnp.bfloat16


def test_works_under_jit_and_vmap_over_keys():
    keys = jax.random.split(KEY, 3)
    batched = jax.jit(jax.vmap(lambda k: sweep.reinitialize(MLP_PARAMS, "he_normal", k)))(keys)
    for j in range(3):
        one = sweep.reinitialize(MLP_PARAMS, "he_normal", keys[j])
        jax.tree.map(lambda a, b, j=j: np.testing.assert_allclose(a[j], b, rtol=1e-6,
                                                                  atol=1e-7), batched, one)
    assert not np.allclose(batched["dense_0"]["w"][0], batched["dense_0"]["w"][1])


def test_scheme_label():
    assert sweep.scheme_label("he_normal") == "he_normal"
    assert sweep.scheme_label({"dense": "he_normal", "*": "zeros"}) == "dense=he_normal,*=zeros"


@pytest.mark.parametrize("scheme, error, message", [
    ("he_normall", init.UnknownInitializerError,
     "unknown initialiser 'he_normall'. Did you mean 'he_normal'.*Known names: .*xavier_normal"),
    ({"dense": "xavier"}, init.UnknownInitializerError, "unknown initialiser 'xavier'"),
    ({"conv": "he_normal"}, ValueError,
     "my_fn: scheme 'conv=he_normal' names the layer kind 'conv', but the model's weights are "
     "in the kinds \\['dense'\\]"),
    ({}, TypeError, "my_fn: a scheme is an initialiser name or a non-empty mapping"),
    (["he_normal"], TypeError, "my_fn: a scheme is"),
    (None, TypeError, "my_fn: a scheme is"),
])
def test_check_scheme_errors(scheme, error, message):
    with pytest.raises(error, match=message):
        sweep.check_scheme("my_fn", scheme, MLP_PARAMS)


def test_check_scheme_accepts_known_schemes():
    for scheme in ("orthogonal", {"dense": "zeros"}, {"*": "he_uniform"},
                   {"conv": "zeros", "dense": "ones", "*": "normal"}):
        params = CNN_PARAMS if "conv" in scheme else MLP_PARAMS
        assert sweep.check_scheme("my_fn", scheme, params) is None
