"""jaxdl.optim.constraints against optax (the oracle), hand-computed values and error cases."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import gradient_stream, params_tree

import jaxdl.optim as jo


def inv_time(c):
    """A strict-promotion-safe schedule: 0.1 / (1 + count)."""
    return 0.1 / (1.0 + c.astype(jnp.float32))


def growing(c):
    """A strict-promotion-safe schedule growing from 1 to 5."""
    return 5.0 - 4.0 / (1.0 + c.astype(jnp.float32))


def inject(factory, **hyper):
    return optax.inject_hyperparams(factory)(**hyper)


def no_bias_mask(params):
    return jax.tree.map(lambda x: x.ndim > 1, params)


DENSE_ONLY = {"dense": {"w": True, "b": False}, "conv": True, "scale": False, "vec": False}

PARITY = {
    "wd": (lambda: jo.add_decayed_weights(0.1), lambda: optax.add_decayed_weights(0.1)),
    "wd_default": (jo.add_decayed_weights, optax.add_decayed_weights),
    "wd_mask_tree": (lambda: jo.add_decayed_weights(0.05, DENSE_ONLY),
                     lambda: optax.add_decayed_weights(0.05, DENSE_ONLY)),
    "wd_mask_prefix": (lambda: jo.add_decayed_weights(0.05, {"dense": False, "conv": True,
                                                             "scale": True, "vec": False}),
                       lambda: optax.add_decayed_weights(0.05, {"dense": False, "conv": True,
                                                                "scale": True, "vec": False})),
    "wd_mask_fn": (lambda: jo.add_decayed_weights(0.05, no_bias_mask),
                   lambda: optax.add_decayed_weights(0.05, no_bias_mask)),
    "wd_schedule": (lambda: jo.add_decayed_weights(inv_time),
                    lambda: optax.add_decayed_weights(inv_time)),
    "clip": (lambda: jo.clip(0.5), lambda: optax.clip(0.5)),
    "clip_schedule": (lambda: jo.clip(growing), lambda: inject(optax.clip, max_delta=growing)),
    "gnorm": (lambda: jo.clip_by_global_norm(1.0), lambda: optax.clip_by_global_norm(1.0)),
    "gnorm_sometimes": (lambda: jo.clip_by_global_norm(6.0),
                        lambda: optax.clip_by_global_norm(6.0)),
    "gnorm_never": (lambda: jo.clip_by_global_norm(1e3), lambda: optax.clip_by_global_norm(1e3)),
    "gnorm_schedule": (lambda: jo.clip_by_global_norm(growing),
                       lambda: inject(optax.clip_by_global_norm, max_norm=growing)),
    "block_rms": (lambda: jo.clip_by_block_rms(0.5), lambda: optax.clip_by_block_rms(0.5)),
    "block_rms_loose": (lambda: jo.clip_by_block_rms(1.2), lambda: optax.clip_by_block_rms(1.2)),
    "block_rms_schedule": (lambda: jo.clip_by_block_rms(growing),
                           lambda: inject(optax.clip_by_block_rms, threshold=growing)),
    "agc": (lambda: jo.adaptive_grad_clip(0.1), lambda: optax.adaptive_grad_clip(0.1)),
    "agc_loose": (lambda: jo.adaptive_grad_clip(1.0, eps=0.1),
                  lambda: optax.adaptive_grad_clip(1.0, eps=0.1)),
    "agc_schedule": (lambda: jo.adaptive_grad_clip(growing),
                     lambda: inject(optax.adaptive_grad_clip, clipping=growing)),
    "centralize": (jo.centralize, optax.centralize),
    "zero_nans": (jo.zero_nans, optax.zero_nans),
    "set_to_zero": (jo.set_to_zero, optax.set_to_zero),
    # After a learning rate, as it is meant to be used: params_tree has negative entries.
    "nonnegative": (lambda: jo.chain(jo.scale_by_learning_rate(0.3), jo.keep_params_nonnegative()),
                    lambda: optax.chain(optax.scale_by_learning_rate(0.3),
                                        optax.keep_params_nonnegative())),
}


@pytest.mark.parametrize("name", sorted(PARITY))
def test_parity_float32(parity, name):
    ours, theirs = PARITY[name]
    parity(ours(), theirs())


@pytest.mark.parametrize("name", ["wd", "wd_mask_tree", "clip", "centralize", "nonnegative"])
def test_parity_bfloat16(parity, name):
    ours, theirs = PARITY[name]
    parity(ours(), theirs(), dtype=jnp.bfloat16, steps=30)


@pytest.mark.parametrize("axis", [0, 1, (0, 1)])
def test_agc_axis_parity(parity, axis):
    full = params_tree()
    params = {"w": full["dense"]["w"], "k": full["conv"]["kernel"]}  # ranks 2 and 4
    parity(jo.adaptive_grad_clip(0.2, axis=axis), optax.adaptive_grad_clip(0.2, axis=axis),
           params=params)


def test_agc_rank5_matches_optax():
    k = jax.random.split(jax.random.key(5), 2)
    p = {"w": jax.random.normal(k[0], (2, 2, 2, 1, 3)), "v": jnp.ones(3)}
    g = jax.tree.map(lambda x: 0.3 * x + jax.random.normal(k[1], x.shape), p)
    ours, _ = jax.jit(jo.adaptive_grad_clip(0.05).update)(g, jo.EmptyState(), p)
    with jax.numpy_dtype_promotion("standard"):
        theirs, _ = jax.jit(optax.adaptive_grad_clip(0.05).update)(g, optax.EmptyState(), p)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(ours["w"], g["w"])  # it did clip


# --- Weight-decay masks -------------------------------------------------------------------


@pytest.mark.parametrize("mask", [DENSE_ONLY, no_bias_mask])
def test_masked_leaves_are_exactly_untouched(mask):
    params = params_tree()
    g = gradient_stream(params, 100)[0]
    t = jo.add_decayed_weights(0.5, mask)
    out, _ = jax.jit(t.update)(g, t.init(params), params)
    for name in ("b",):
        np.testing.assert_array_equal(out["dense"][name], g["dense"][name])
    np.testing.assert_array_equal(out["vec"], g["vec"])
    np.testing.assert_array_equal(out["scale"], g["scale"])
    np.testing.assert_allclose(out["dense"]["w"], g["dense"]["w"] + 0.5 * params["dense"]["w"],
                               rtol=1e-6)


def test_traced_mask_leaf_also_leaves_the_update_alone():
    params = {"w": jnp.ones(2), "b": jnp.full(2, 3.0)}
    g = {"w": jnp.full(2, 0.25), "b": jnp.full(2, 0.125)}

    def run(on):
        t = jo.add_decayed_weights(0.5, {"w": on, "b": jnp.logical_not(on)})
        return t.update(g, t.init(params), params)[0]

    out = jax.jit(run)(jnp.asarray(True))
    np.testing.assert_array_equal(out["b"], g["b"])
    np.testing.assert_allclose(out["w"], 0.75)


def test_bad_masks_are_clear_errors():
    params = params_tree()
    g = gradient_stream(params, 100)[0]
    t = jo.add_decayed_weights(0.1, {"dense": True, "other": False})
    with pytest.raises(ValueError, match="mask must be a tree of booleans") as err:
        t.update(g, t.init(params), params)
    assert "other" in str(err.value) and "conv" in str(err.value)
    with pytest.raises(TypeError, match="mask leaves must be booleans"):
        jo.add_decayed_weights(0.1, {"dense": "yes"})


# --- add_noise: same variance schedule as optax (the draws themselves differ) ----------------


def test_add_noise_variance_schedule_matches_formula_and_optax():
    eta, gamma, n = 0.3, 0.55, 20_000
    zeros = {"a": jnp.zeros((n,)), "b": jnp.zeros((100, 50))}
    ours = jo.add_noise(eta, gamma, jax.random.key(1))
    theirs = optax.add_noise(eta, gamma, key=jax.random.key(1))
    s_ours, s_theirs = ours.init(zeros), theirs.init(zeros)
    step, step_theirs = jax.jit(ours.update), jax.jit(theirs.update)
    for t in range(12):
        u_ours, s_ours = step(zeros, s_ours)
        with jax.numpy_dtype_promotion("standard"):
            u_theirs, s_theirs = step_theirs(zeros, s_theirs)
        expected = eta / (1.0 + t) ** gamma
        for u in (u_ours, u_theirs):
            for leaf in jax.tree.leaves(u):
                x = np.asarray(leaf).ravel()
                # relative s.d. of a sample variance is sqrt(2 / n) < 1.5%: 5 sigma below 7.5%
                np.testing.assert_allclose(np.var(x), expected, rtol=0.075)
                assert abs(np.mean(x)) < 5 * np.sqrt(expected / x.size)
        assert int(s_ours.count) == int(s_theirs.count) == t + 1
    assert not np.allclose(u_ours["a"][:10], u_ours["b"].ravel()[:10])  # leaves independent


def test_add_noise_is_reproducible_and_keyed():
    g = {"w": jnp.ones(5)}

    def first(noise):
        return noise.update(g, noise.init(g))[0]["w"]

    np.testing.assert_array_equal(first(jo.add_noise(0.1, 0.5, 3)),
                                  first(jo.add_noise(0.1, 0.5, jax.random.key(3))))
    np.testing.assert_array_equal(first(jo.add_noise(0.1, 0.5, seed=3)),
                                  first(jo.add_noise(0.1, 0.5, jax.random.PRNGKey(3))))
    assert not np.allclose(first(jo.add_noise(0.1, 0.5, 3)), first(jo.add_noise(0.1, 0.5, 4)))
    noise = jo.add_noise(0.1, 0.5, 3)
    s = noise.init(g)
    u1, s = noise.update(g, s)
    u2, s = noise.update(g, s)
    assert not np.allclose(u1["w"], u2["w"])
    with jax.numpy_dtype_promotion("standard"):
        s_theirs = optax.add_noise(0.1, 0.5, key=3).init(g)
    assert type(s).__name__ == type(s_theirs).__name__ and s._fields == s_theirs._fields


def test_add_noise_key_errors():
    with pytest.raises(ValueError, match="a key is required"):
        jo.add_noise(0.1, 0.55)
    with pytest.raises(ValueError, match="not both"):
        jo.add_noise(0.1, 0.55, key=1, seed=2)
    with pytest.raises(TypeError, match="single PRNG key"):
        jo.add_noise(0.1, 0.55, key=jax.random.split(jax.random.key(0), 3))
    with pytest.raises(ValueError, match="eta"):
        jo.add_noise(-0.1, 0.55, key=0)


# --- Hand-computed values -------------------------------------------------------------------


def test_clipping_hand_computed():
    u = {"a": jnp.array([3.0, 0.0]), "b": jnp.array([4.0])}
    out, _ = jo.clip_by_global_norm(1.0).update(u, jo.EmptyState())
    np.testing.assert_allclose(out["a"], [0.6, 0.0], rtol=1e-6)
    np.testing.assert_allclose(out["b"], [0.8], rtol=1e-6)
    out, _ = jo.clip_by_global_norm(10.0).update(u, jo.EmptyState())
    np.testing.assert_array_equal(out["a"], u["a"])
    out, _ = jo.clip_by_global_norm(0.0).update({"z": jnp.zeros(3)}, jo.EmptyState())
    np.testing.assert_array_equal(out["z"], 0.0)  # no 0/0
    out, _ = jo.clip(1.5).update(jnp.array([-3.0, 0.5, 2.0]), jo.EmptyState())
    np.testing.assert_array_equal(out, [-1.5, 0.5, 1.5])
    out, _ = jo.clip_by_block_rms(1.0).update(
        {"x": jnp.array([3.0, 4.0, 0.0, 0.0]), "y": jnp.array([0.5, -0.5])}, jo.EmptyState())
    np.testing.assert_allclose(out["x"], [1.2, 1.6, 0.0, 0.0], rtol=1e-6)  # rms 2.5
    np.testing.assert_array_equal(out["y"], [0.5, -0.5])


def test_agc_hand_computed():
    # A (2, 2) kernel: units are columns. Column 0 of p has norm 5, column 1 norm 0 (eps).
    p = jnp.array([[3.0, 0.0], [4.0, 0.0]])
    g = jnp.array([[6.0, 1.0], [8.0, 0.0]])
    out, _ = jo.adaptive_grad_clip(0.5, eps=0.1).update(g, jo.EmptyState(), p)
    # column 0: |g| = 10 > 0.5 * 5 -> scaled to norm 2.5; column 1: |g| = 1 > 0.5 * 0.1 -> 0.05
    np.testing.assert_allclose(out[:, 0], [1.5, 2.0], rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], [0.05, 0.0], rtol=1e-5)
    np.testing.assert_allclose(jo.unitwise_norm(p), [[5.0, 0.0]])


def test_centralize_zero_nans_and_friends_hand_computed():
    out, _ = jo.centralize().update(jnp.array([[1.0, 2.0, 3.0], [4.0, 5.0, 9.0]]), jo.EmptyState())
    np.testing.assert_allclose(out, [[-1.0, 0.0, 1.0], [-2.0, -1.0, 3.0]])
    vec = jnp.array([1.0, 2.0])
    np.testing.assert_array_equal(jo.centralize().update(vec, jo.EmptyState())[0], vec)
    g = {"a": jnp.array([1.0, jnp.nan, jnp.inf]), "b": jnp.array(2.0)}
    t = jo.zero_nans()
    out, state = t.update(g, t.init(g))
    np.testing.assert_array_equal(out["a"], [1.0, 0.0, np.inf])
    assert bool(state.found_nan["a"]) and not bool(state.found_nan["b"])
    with jax.numpy_dtype_promotion("standard"):
        _, s_theirs = optax.zero_nans().update(g, optax.zero_nans().init(g))
    assert jax.tree.map(bool, state.found_nan) == jax.tree.map(bool, s_theirs.found_nan)
    np.testing.assert_array_equal(jo.set_to_zero().update(vec, jo.EmptyState())[0], [0.0, 0.0])
    p = jnp.array([1.0, 0.5, 0.0, 2.0])
    out, _ = jo.keep_params_nonnegative().update(jnp.array([-2.0, -0.5, 1.0, -1.0]),
                                                 jo.EmptyState(), p)
    np.testing.assert_array_equal(out, [-1.0, -0.5, 1.0, -1.0])


def test_weight_decay_hand_computed_with_schedule():
    t = jo.add_decayed_weights(lambda c: 0.5 * (1 + c.astype(jnp.float32)))
    p, g = jnp.array([2.0]), jnp.array([1.0])
    state = t.init(p)
    got = []
    for _ in range(3):
        u, state = t.update(g, state, p)
        got.append(float(u[0]))
    assert got == [2.0, 3.0, 4.0] and isinstance(state, jo.WeightDecaySchedule)


# --- Traceable hyperparameters and composition ----------------------------------------------


def test_vmap_over_clip_thresholds_and_weight_decay():
    params = params_tree()
    g = gradient_stream(params, 100)[0]
    values = jnp.array([0.5, 2.0, 50.0])
    for factory in (jo.clip_by_global_norm, jo.add_decayed_weights, jo.adaptive_grad_clip):
        def run(v, f=factory):
            t = f(v)
            return t.update(g, t.init(params), params)[0]

        batched = jax.jit(jax.vmap(run))(values)
        for i, v in enumerate(values.tolist()):
            for x, y in zip(jax.tree.leaves(batched), jax.tree.leaves(run(v)), strict=True):
                np.testing.assert_allclose(x[i], y, rtol=1e-6, atol=1e-7)


def test_jaxdl_constraints_inside_optax_chain(parity):
    ours = optax.chain(jo.zero_nans(), jo.adaptive_grad_clip(0.5), optax.trace(0.9),
                       jo.add_decayed_weights(1e-2, no_bias_mask), optax.scale(-0.05))
    theirs = optax.chain(optax.zero_nans(), optax.adaptive_grad_clip(0.5), optax.trace(0.9),
                         optax.add_decayed_weights(1e-2, no_bias_mask), optax.scale(-0.05))
    parity(ours, theirs)


def test_optax_constraints_inside_jaxdl_chain(parity):
    ours = jo.chain(optax.clip_by_global_norm(2.0), jo.centralize(), optax.clip(0.4),
                    jo.scale_by_learning_rate(0.1))
    theirs = optax.chain(optax.clip_by_global_norm(2.0), optax.centralize(), optax.clip(0.4),
                         optax.scale_by_learning_rate(0.1))
    parity(ours, theirs)


# --- Errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: jo.add_decayed_weights(0.1),
    jo.keep_params_nonnegative,
    lambda: jo.adaptive_grad_clip(0.1),
])
def test_transforms_that_need_params_say_so(make):
    t = make()
    with pytest.raises(ValueError, match="needs the current parameters"):
        t.update(jnp.ones(2), t.init(jnp.ones(2)))


def test_mismatched_trees_name_both_structures():
    t = jo.add_decayed_weights(0.1)
    with pytest.raises(ValueError, match="different tree structures") as err:
        t.update({"w": jnp.ones(2)}, t.init(None), {"w": jnp.ones(2), "b": jnp.ones(1)})
    assert "'b'" in str(err.value)
    msg = r"update \[.w.\] has shape \(2,\) but its param has shape \(3,\)"
    with pytest.raises(ValueError, match=msg):
        t.update({"w": jnp.ones(2)}, t.init(None), {"w": jnp.ones(3)})
    t = jo.zero_nans()
    with pytest.raises(ValueError, match="zero_nans"):
        t.update([jnp.ones(2)], t.init({"w": jnp.ones(2)}))


def test_agc_rank_without_default_names_the_leaf():
    p = {"big": jnp.ones((1, 1, 1, 1, 1, 2))}
    t = jo.adaptive_grad_clip(0.1)
    with pytest.raises(ValueError, match=r"\['big'\].*\(1, 1, 1, 1, 1, 2\).*axis="):
        t.update(p, t.init(p), p)
    q = {"big": jnp.ones((2, 2))}
    with pytest.raises(ValueError, match="out of range"):
        jo.adaptive_grad_clip(0.1, axis=3).update(q, t.init(q), q)


@pytest.mark.parametrize("make, match", [
    (lambda: jo.add_decayed_weights(-1e-4), "weight_decay"),
    (lambda: jo.clip(-1.0), "max_delta"),
    (lambda: jo.clip_by_global_norm(float("nan")), "max_norm"),
    (lambda: jo.clip_by_block_rms(0.0), "threshold"),
    (lambda: jo.adaptive_grad_clip(-0.1), "clipping"),
    (lambda: jo.adaptive_grad_clip(0.1, eps=-1.0), "eps"),
])
def test_bad_hyperparameters_rejected_at_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_exports():
    for name in ["add_decayed_weights", "add_noise", "clip", "clip_by_global_norm",
                 "clip_by_block_rms", "adaptive_grad_clip", "centralize", "zero_nans",
                 "set_to_zero", "keep_params_nonnegative", "AddNoiseState", "ZeroNansState"]:
        assert name in jo.constraints.__all__ and hasattr(jo, name)
