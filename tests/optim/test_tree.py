"""jaxdl.optim.tree: norms, casts, moments, and reading/setting fields of nested states."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import params_tree

import jaxdl.optim as jo


class Inner(NamedTuple):
    count: jax.Array
    mu: dict


class Outer(NamedTuple):
    hyperparams: dict
    inner: tuple


def nested_state():
    return Outer(
        hyperparams={"learning_rate": jnp.asarray(0.1), "b1": 0.9},
        inner=(Inner(count=jnp.asarray(3), mu={"w": jnp.ones(2)}),
               [Inner(count=jnp.asarray(7), mu={})], None),
    )


# --- global_norm ----------------------------------------------------------------------------


def test_global_norm_matches_optax_and_numpy():
    tree = params_tree()
    expected = np.sqrt(sum(np.sum(np.square(np.asarray(x, np.float64)))
                           for x in jax.tree.leaves(tree)))
    got = jo.global_norm(tree)
    assert got.dtype == jnp.float32 and got.shape == ()
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    with jax.numpy_dtype_promotion("standard"):
        np.testing.assert_allclose(got, optax.global_norm(tree), rtol=1e-6)


def test_global_norm_low_precision_is_computed_in_float32():
    tree = {"a": jnp.full((4,), 300.0, jnp.float16), "b": jnp.asarray(1e-3, jnp.bfloat16)}
    got = jo.global_norm(tree)
    assert got.dtype == jnp.float32
    # 4 * 300^2 = 360000 overflows float16 (max 65504) if squared in float16.
    expected = np.sqrt(4 * 300.0**2 + float(jnp.asarray(1e-3, jnp.bfloat16)) ** 2)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_global_norm_edge_cases():
    assert float(jo.global_norm({})) == 0.0
    np.testing.assert_allclose(jo.global_norm({"z": jnp.array([3 + 4j], jnp.complex64)}), 5.0)
    assert float(jo.global_norm([jnp.zeros(3), None])) == 0.0


# --- casts and moments ----------------------------------------------------------------------


def test_tree_zeros_like_and_cast():
    tree = params_tree()
    zeros = jo.tree_zeros_like(tree)
    assert jax.tree.structure(zeros) == jax.tree.structure(tree)
    assert all(float(jnp.abs(z).sum()) == 0 and z.dtype == x.dtype and z.shape == x.shape
               for z, x in zip(jax.tree.leaves(zeros), jax.tree.leaves(tree), strict=True))
    assert {z.dtype for z in jax.tree.leaves(jo.tree_zeros_like(tree, jnp.bfloat16))} == {
        jnp.dtype(jnp.bfloat16)}
    assert jo.tree_cast(tree, None) is tree
    cast = jo.tree_cast(tree, jnp.bfloat16)
    for c, x in zip(jax.tree.leaves(cast), jax.tree.leaves(tree), strict=True):
        np.testing.assert_array_equal(c, x.astype(jnp.bfloat16))


def test_moments_match_optax():
    tree = params_tree()
    g = jax.tree.map(lambda x: x * 0.5 + 1.0, tree)
    for order in (1, 2):
        ours = jo.tree_update_moment(g, tree, 0.9, order)
        theirs = optax.tree_utils.tree_update_moment(g, tree, 0.9, order)
        for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6)
    count = jnp.asarray(3, jnp.int32)
    with jax.numpy_dtype_promotion("standard"):
        theirs = optax.tree_utils.tree_bias_correction(tree, 0.9, count)
    ours = jo.tree_bias_correction(tree, 0.9, count)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    # by hand: 1 / (1 - 0.9^3) = 1 / 0.271
    np.testing.assert_allclose(ours["scale"], 0.5 / 0.271, rtol=1e-5)


def test_update_moment_keeps_a_bfloat16_accumulator_working_under_strict_promotion():
    g = jnp.ones(3, jnp.float32)
    m = jnp.ones(3, jnp.bfloat16)
    out = jo.tree_update_moment(g, m, 0.5, 1)
    assert out.dtype == jnp.float32
    np.testing.assert_allclose(out, 1.0)


# --- tree_get / tree_get_all_with_path ------------------------------------------------------


def test_tree_get_on_optax_states_agrees_with_optax():
    params = params_tree()
    state = optax.adam(1e-3).init(params)
    assert int(jo.tree_get(state, "count")) == int(optax.tree_utils.tree_get(state, "count"))
    mu = jo.tree_get(state, "mu")
    assert jax.tree.structure(mu) == jax.tree.structure(params)
    assert type(jo.tree_get(state, "ScaleByAdamState")).__name__ == "ScaleByAdamState"
    assert jo.tree_get(state, "nothing", default="fallback") == "fallback"


def test_tree_get_finds_dict_keys_and_fields_anywhere():
    state = nested_state()
    assert float(jo.tree_get(state, "learning_rate")) == pytest.approx(0.1)
    assert jo.tree_get(state, "b1") == 0.9
    assert jo.tree_get(state, "mu", filtering=lambda path, v: v != {})["w"].shape == (2,)
    assert jo.tree_get(state, "missing") is None


def test_tree_get_ambiguous_lists_the_paths():
    with pytest.raises(KeyError) as err:
        jo.tree_get(nested_state(), "count")
    msg = str(err.value)
    assert "2 values" in msg and "state.inner[0].count" in msg and "state.inner[1][0].count" in msg
    assert "Inner" in msg


def test_tree_get_all_with_path():
    found = jo.tree_get_all_with_path(nested_state(), "count")
    assert [jax.tree_util.keystr(p) for p, _ in found] == [".inner[0].count", ".inner[1][0].count"]
    assert [int(v) for _, v in found] == [3, 7]
    assert jo.tree_get_all_with_path(nested_state(), "absent") == []
    # filtering sees the path and the value
    kept = jo.tree_get_all_with_path(nested_state(), "count", lambda p, v: int(v) > 5)
    assert [int(v) for _, v in kept] == [7]


def test_none_fields_count_as_absent():
    state = jo.trace(0.9).init({"w": jnp.zeros(2)})
    assert state.count is None
    assert jo.tree_get(state, "count", default="absent") == "absent"


# --- tree_set -------------------------------------------------------------------------------


def test_tree_set_replaces_and_leaves_the_input_alone():
    state = nested_state()
    new = jo.tree_set(state, learning_rate=jnp.asarray(0.5), b1=0.8)
    assert float(new.hyperparams["learning_rate"]) == 0.5 and new.hyperparams["b1"] == 0.8
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(0.1)
    assert type(new) is Outer and type(new.inner[0]) is Inner
    assert jax.tree.structure(new) == jax.tree.structure(state)
    # every match is replaced
    both = jo.tree_set(state, count=jnp.asarray(0))
    assert [int(v) for _, v in jo.tree_get_all_with_path(both, "count")] == [0, 0]
    one = jo.tree_set(state, lambda path, v: int(v) == 7, count=jnp.asarray(1))
    assert [int(v) for _, v in jo.tree_get_all_with_path(one, "count")] == [3, 1]


def test_tree_set_unknown_name_is_an_error():
    with pytest.raises(KeyError, match="learning_rat"):
        jo.tree_set(nested_state(), learning_rat=0.1)


def test_tree_set_drives_optax_inject_hyperparams():
    params = params_tree()
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    state = opt.init(params)
    ours = jo.tree_set(state, learning_rate=jnp.asarray(0.5))
    theirs = optax.tree_utils.tree_set(state, learning_rate=jnp.asarray(0.5))
    assert jax.tree.structure(ours) == jax.tree.structure(theirs)
    g = jax.tree.map(jnp.ones_like, params)
    with jax.numpy_dtype_promotion("standard"):
        u, _ = opt.update(g, ours, params)
    np.testing.assert_allclose(u["vec"], -0.5)


def test_exports():
    for name in ["global_norm", "tree_get", "tree_get_all_with_path", "tree_set",
                 "tree_zeros_like", "tree_cast", "tree_update_moment", "tree_bias_correction"]:
        assert name in jo.tree.__all__ and hasattr(jo, name)
