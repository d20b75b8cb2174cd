"""The base contract: identity, apply_updates, chain, named_chain, and the helpers' errors."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl import optim


def _params():
    return {"w": jnp.ones((2, 3)), "b": jnp.zeros((3,)), "s": jnp.asarray(2.0)}


def test_identity_passes_updates_through():
    tx = optim.identity()
    state = tx.init(_params())
    updates, new_state = tx.update(_params(), state)
    assert new_state == optim.EmptyState()
    np.testing.assert_array_equal(updates["w"], _params()["w"])


def test_apply_updates_keeps_param_dtype_and_none():
    params = {"a": jnp.ones(3, jnp.bfloat16), "b": None}
    updates = {"a": jnp.full(3, 0.5, jnp.bfloat16), "b": None}
    out = optim.apply_updates(params, updates)
    assert out["a"].dtype == jnp.bfloat16 and out["b"] is None
    np.testing.assert_array_equal(np.asarray(out["a"], np.float32), [1.5, 1.5, 1.5])


def _scale(c):
    """A tiny stateful transformation for composition tests: u <- c * u, counting calls."""

    def init(params):
        del params
        return jnp.zeros([], jnp.int32)

    def update(updates, count, params=None):
        return jax.tree.map(lambda u: c * u, updates), count + 1

    return optim.GradientTransformation(init, update)


def test_chain_applies_in_order_and_keeps_each_state():
    tx = optim.chain(_scale(2.0), _scale(3.0))
    state = tx.init(_params())
    updates, state = tx.update(_params(), state)
    np.testing.assert_allclose(updates["w"], 6.0)
    assert len(state) == 2 and int(state[0]) == 1 and int(state[1]) == 1


def test_named_chain_state_is_a_dict():
    tx = optim.named_chain(("double", _scale(2.0)), ("negate", _scale(-1.0)))
    state = tx.init(_params())
    updates, state = tx.update(_params(), state)
    assert set(state) == {"double", "negate"}
    np.testing.assert_allclose(updates["s"], -4.0)


def test_named_chain_rejects_duplicate_names():
    with pytest.raises(ValueError, match="names must be unique"):
        optim.named_chain(("a", _scale(1.0)), ("a", _scale(2.0)))


def test_chain_interoperates_with_optax_both_ways():
    params = _params()
    grads = jax.tree.map(lambda x: x + 1.0, params)
    ours_outside = optim.chain(optax.scale(-0.5), _scale(2.0))
    optax_outside = optax.chain(_scale(2.0), optax.scale(-0.5))
    with jax.numpy_dtype_promotion("standard"):
        u1, _ = ours_outside.update(grads, ours_outside.init(params))
        u2, _ = optax_outside.update(grads, optax_outside.init(params))
    np.testing.assert_allclose(u1["w"], -2.0)
    np.testing.assert_allclose(u2["w"], -2.0)


def test_chain_rejects_non_transformations():
    with pytest.raises(TypeError, match="argument 1 is float, not a gradient transformation"):
        optim.chain(_scale(1.0), 0.1)


def test_chain_rejects_a_foreign_state():
    tx = optim.chain(_scale(1.0), _scale(2.0))
    with pytest.raises(ValueError, match="the state has 1 entries but the chain has 2"):
        tx.update(_params(), (jnp.zeros([], jnp.int32),))


def test_resolve_evaluates_schedules_only():
    assert optim.resolve(0.1, jnp.asarray(3)) == 0.1
    assert float(optim.resolve(lambda c: 0.1 * c, jnp.asarray(3))) == pytest.approx(0.3)


@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf")])
def test_check_hyperparameter_rejects_bad_numbers(value):
    with pytest.raises(ValueError, match="adam: learning_rate must be finite and in"):
        optim.check_hyperparameter("learning_rate", value, owner="adam")


def test_check_hyperparameter_accepts_arrays_and_schedules():
    optim.check_hyperparameter("learning_rate", jnp.asarray(-1.0), owner="x")
    optim.check_hyperparameter("learning_rate", lambda c: -1.0, owner="x")
    with pytest.raises(ValueError, match=r"in \[0.0, 1.0\)"):
        optim.check_hyperparameter("b1", 1.0, owner="x", high=1.0, high_inclusive=False)


def test_check_tree_matches_names_both_structures():
    with pytest.raises(ValueError, match=r"(?s)initialised for: .*'w'.*given: .*'v'"):
        optim.check_tree_matches({"w": 1.0}, {"v": 1.0}, owner="adam")


def test_require_params():
    with pytest.raises(ValueError, match="adamw needs the current parameters"):
        optim.require_params(None, owner="adamw")
