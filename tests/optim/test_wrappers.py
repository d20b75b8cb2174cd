"""Tests for jaxdl.optim.wrappers: parity with optax every step, and the wrappers' behaviours."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import assert_trees_close, gradient_stream, params_tree

import jaxdl.optim as jo

STD = "standard"
STEPS = 12  # one stream length for every test: the stream helper compiles per length


def std(t):
    """An optax transformation run under standard promotion (optax needs it; jaxdl must not)."""

    def init(params):
        with jax.numpy_dtype_promotion(STD):
            return t.init(params)

    def update(updates, state, params=None):
        with jax.numpy_dtype_promotion(STD):
            return t.update(updates, state, params)

    return jo.GradientTransformation(init, update)


def local_sgd(learning_rate, momentum=None):
    """A tiny strict-promotion SGD factory: ``u <- -lr * u`` (momentum must be None)."""
    assert momentum is None

    def update(updates, state, params=None):
        lr = jnp.asarray(learning_rate)
        return jax.tree.map(lambda g: -lr.astype(g.dtype) * g, updates), state

    return jo.GradientTransformation(lambda p: jo.EmptyState(), update)


def local_decay(weight_decay):
    """``u <- u + wd * p``, strict-promotion safe."""

    def update(updates, state, params=None):
        return jax.tree.map(lambda g, p: g + weight_decay * p, updates, params), state

    return jo.GradientTransformation(lambda p: jo.EmptyState(), update)


def jaxdl_adam(learning_rate):
    return jo.chain(jo.scale_by_adam(), jo.scale_by_learning_rate(learning_rate))


def small_bf16_params():
    """A small bfloat16 tree: the gradient stream compiles per leaf shape and dtype."""
    return {"w": jnp.linspace(-1.0, 1.0, 15).reshape(5, 3).astype(jnp.bfloat16),
            "b": jnp.zeros((3,), jnp.bfloat16)}


PREFIX_MASK = {"dense": True, "conv": False, "scale": True, "vec": False}
PREFIX_LABELS = {"dense": "adam", "conv": "adam", "scale": "sgd", "vec": "sgd"}


def ndim_mask(tree):
    return jax.tree.map(lambda x: x.ndim > 1, tree)


def ndim_labels(tree):
    return jax.tree.map(lambda x: "adam" if x.ndim > 1 else "sgd", tree)


def run_pair(ours, theirs, grads, params, *, rtol=1e-5, atol=1e-6):
    """Like the parity fixture, on a given gradient stream; returns both final states."""
    s_o, p_o = ours.init(params), params
    with jax.numpy_dtype_promotion(STD):
        s_t, p_t = theirs.init(params), params
    step_o, step_t = jax.jit(ours.update), jax.jit(theirs.update)
    for i, g in enumerate(grads):
        u_o, s_o = step_o(g, s_o, p_o)
        with jax.numpy_dtype_promotion(STD):
            u_t, s_t = step_t(g, s_t, p_t)
            p_t = optax.apply_updates(p_t, u_t)
        p_o = jo.apply_updates(p_o, u_o)
        assert_trees_close(u_o, u_t, rtol, atol, what=f"updates at step {i}")
    assert_trees_close(p_o, p_t, rtol, atol, what="final params")
    return s_o, s_t


# ----------------------------------------------------------------------------- masked / freeze


def test_masked_parity(parity):
    ours = jo.masked(std(optax.adam(0.1)), ndim_mask)
    parity(ours, optax.masked(optax.adam(0.1), ndim_mask), steps=STEPS)


def test_masked_inside_optax_chain_parity(parity):
    ours = optax.chain(jo.masked(local_decay(0.1), ndim_mask), optax.sgd(0.1, 0.9))
    theirs = optax.chain(optax.masked(optax.add_decayed_weights(0.1), ndim_mask),
                         optax.sgd(0.1, 0.9))
    parity(std(ours), theirs, steps=STEPS)


def test_masked_weight_decay_leaves_biases_untouched():
    params = {"w": jnp.arange(6.0).reshape(2, 3), "b": jnp.asarray([1.0, -2.0, 3.0])}
    grads = {"w": jnp.ones((2, 3)), "b": jnp.asarray([0.5, 0.25, -1.0])}
    tx = jo.masked(local_decay(0.1), ndim_mask)
    state = tx.init(params)
    assert state.inner_state == jo.EmptyState()
    updates, _ = jax.jit(tx.update)(grads, state, params)
    np.testing.assert_array_equal(updates["b"], grads["b"])
    np.testing.assert_allclose(updates["w"], 1.0 + 0.1 * np.arange(6.0).reshape(2, 3), rtol=1e-6)


def test_masked_keeps_state_only_for_masked_in_leaves():
    params = {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}
    state = jo.masked(std(optax.trace(0.9)), {"w": True, "b": False}).init(params)
    assert state.inner_state.trace["b"] == jo.MaskedNode()
    assert state.inner_state.trace["w"].shape == (2, 2)


def test_masked_callable_sees_params_then_updates():
    seen = []

    def mask_fn(tree):
        seen.append(float(tree["a"][0]))
        return {"a": True}

    tx = jo.masked(local_sgd(1.0), mask_fn)
    state = tx.init({"a": jnp.full(2, 3.0)})
    updates, _ = tx.update({"a": jnp.full(2, 5.0)}, state, {"a": jnp.full(2, 3.0)})
    assert seen == [3.0, 5.0]
    np.testing.assert_array_equal(updates["a"], -5.0 * np.ones(2))


def test_masked_mismatched_mask_tree_is_a_clear_error():
    params = {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}
    tx = jo.masked(local_sgd(1.0), {"w": True, "c": False})
    with pytest.raises(ValueError, match=r"masked: the mask tree must have the structure"):
        tx.init(params)


def test_masked_rejects_non_boolean_and_traced_masks():
    params = {"w": jnp.ones((2, 2))}
    with pytest.raises(TypeError, match=r"masked: mask leaves must be booleans.*str"):
        jo.masked(local_sgd(1.0), {"w": "yes"}).init(params)
    tx = jo.masked(local_sgd(1.0), lambda t: jax.tree.map(lambda x: jnp.sum(x) > 0, t))
    state = tx.init(params)
    with pytest.raises(TypeError, match=r"masked: the mask must be static"):
        jax.jit(tx.update)(params, state, params)


def test_freeze_parity(parity):
    mask = {"dense": {"w": False, "b": True}, "conv": True, "scale": False, "vec": False}
    parity(jo.chain(std(optax.adam(0.1)), jo.freeze(mask)),
           optax.chain(optax.adam(0.1), optax.transforms.freeze(mask)), steps=STEPS)


def test_freeze_zeroes_frozen_and_keeps_the_rest():
    params = {"a": jnp.ones(2), "b": jnp.ones(3)}
    grads = {"a": jnp.asarray([1.0, 2.0]), "b": jnp.asarray([3.0, 4.0, 5.0])}
    tx = jo.freeze({"a": True, "b": False})
    updates, _ = tx.update(grads, tx.init(params), params)
    np.testing.assert_array_equal(updates["a"], np.zeros(2))
    np.testing.assert_array_equal(updates["b"], grads["b"])
    everything = jo.freeze(True)
    updates, _ = everything.update(grads, everything.init(params), params)
    assert all(np.all(np.asarray(u) == 0) for u in jax.tree.leaves(updates))


# ----------------------------------------------------------------------------- partition


def test_partition_parity(parity):
    labels = ndim_labels
    transforms = {"adam": optax.adam(0.05), "sgd": optax.sgd(0.1, 0.9), "unused": optax.adam(1.0)}
    ours = jo.partition({k: std(t) for k, t in transforms.items()}, labels)
    parity(ours, optax.partition(transforms, labels), steps=STEPS)


def test_partition_applies_each_transform_to_its_group():
    params = {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}
    grads = {"w": jnp.full((2, 2), 2.0), "b": jnp.full(2, 3.0)}
    tx = jo.multi_transform({"adam": local_sgd(0.5), "sgd": local_sgd(2.0),
                             "never": local_sgd(9.0)}, ndim_labels)
    state = tx.init(params)
    assert set(state.inner_states) == {"adam", "sgd", "never"}
    assert isinstance(state, jo.MultiTransformState)
    updates, _ = jax.jit(tx.update)(grads, state, params)
    np.testing.assert_array_equal(updates["w"], np.full((2, 2), -1.0))
    np.testing.assert_array_equal(updates["b"], np.full(2, -6.0))


def test_partition_unknown_label_lists_it():
    params = {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}
    tx = jo.partition({"adam": local_sgd(0.5)}, {"w": "adam", "b": "bias"})
    with pytest.raises(ValueError, match=r"labels with no transformation: \['bias'\]"):
        tx.init(params)
    with pytest.raises(ValueError, match=r"param_labels tree must have the structure"):
        jo.partition({"adam": local_sgd(0.5)}, {"w": "adam"}).init(params)


# ----------------------------------------------------------------------------- inject_hyperparams


def strict_adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8):
    return std(optax.adam(learning_rate, b1, b2, eps))


def test_inject_hyperparams_parity_with_a_schedule(parity):
    sched = jo.exponential_decay(0.1, transition_steps=5, decay_rate=0.5)
    oracle_sched = optax.exponential_decay(0.1, transition_steps=5, decay_rate=0.5)
    ours = jo.inject_hyperparams(strict_adam)(learning_rate=sched, b1=0.8)
    theirs = optax.inject_hyperparams(optax.adam)(learning_rate=oracle_sched, b1=0.8)
    parity(ours, theirs, steps=STEPS)


def test_inject_hyperparams_bfloat16_parity(parity):
    ours = jo.inject_hyperparams(strict_adam)(learning_rate=jnp.asarray(0.1), b1=0.8)
    theirs = optax.inject_hyperparams(optax.adam)(learning_rate=jnp.asarray(0.1), b1=0.8)
    params = small_bf16_params()
    parity(ours, theirs, steps=STEPS, rtol=0, atol=0, params=params)  # same inner: exact
    state = ours.init(params)
    assert {v.dtype for v in state.hyperparams.values()} == {jnp.dtype(jnp.bfloat16)}


def test_inject_hyperparams_state_holds_numbers_defaults_and_schedule_values():
    tx = jo.inject_hyperparams(strict_adam)(learning_rate=lambda c: 0.5 * c.astype(jnp.float32),
                                            b1=0.8)
    params = {"a": jnp.ones(3)}
    state = tx.init(params)
    assert set(state.hyperparams) == {"learning_rate", "b1", "b2", "eps"}
    assert state.hyperparams["b1"].dtype == jnp.float32
    np.testing.assert_allclose(state.hyperparams["b2"], 0.999)
    update = jax.jit(tx.update)
    for t in range(3):
        _, state = update({"a": jnp.ones(3)}, state, params)
        assert int(state.count) == t + 1
        np.testing.assert_allclose(state.hyperparams["learning_rate"], 0.5 * t)


def test_inject_hyperparams_changes_learning_rate_without_recompiling():
    traces = []

    def step(grads, state, params):
        traces.append(1)
        return tx.update(grads, state, params)

    tx = jo.inject_hyperparams(local_sgd)(learning_rate=0.1)
    params = {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}
    grads = jax.tree.map(lambda x: jnp.full_like(x, 2.0), params)
    state = tx.init(params)
    step = jax.jit(step)
    updates, state = step(grads, state, params)
    np.testing.assert_allclose(updates["b"], np.full(2, -0.2), rtol=1e-6)
    assert state.hyperparams["learning_rate"].dtype == jnp.float32
    hyperparams = {**state.hyperparams, "learning_rate": jnp.asarray(0.01, jnp.float32)}
    state = state._replace(hyperparams=hyperparams)
    updates, state = step(grads, state, params)
    np.testing.assert_allclose(updates["w"], np.full((2, 2), -0.02), rtol=1e-6)
    np.testing.assert_allclose(state.hyperparams["learning_rate"], 0.01)
    updates, state = step(grads, state, params)
    np.testing.assert_allclose(updates["w"], np.full((2, 2), -0.02), rtol=1e-6)
    assert len(traces) == 1


def test_inject_hyperparams_vmaps_over_a_traced_learning_rate():
    params = {"w": jnp.ones((2, 3))}
    grads = gradient_stream(params, STEPS)[:4]

    def train(lr):
        tx = jo.inject_hyperparams(local_sgd)(learning_rate=lr)
        state, p = tx.init(params), params
        for g in grads:
            u, state = tx.update(g, state, p)
            p = jo.apply_updates(p, u)
        return p["w"]

    lrs = jnp.asarray([0.1, 0.01, 0.5])
    batched = jax.jit(jax.vmap(train))(lrs)
    total = sum(np.asarray(g["w"]) for g in grads)
    for i, lr in enumerate([0.1, 0.01, 0.5]):
        np.testing.assert_allclose(batched[i], 1.0 - lr * total, rtol=1e-5)


def test_inject_hyperparams_static_args_dtype_and_errors():
    def factory(learning_rate, transform=jnp.tanh, nesterov=False):
        def update(u, s, p=None):
            lr = jnp.asarray(learning_rate)
            return jax.tree.map(lambda g: -lr.astype(g.dtype) * transform(g), u), s
        return jo.GradientTransformation(lambda p: jo.EmptyState(), update)

    tx = jo.inject_hyperparams(factory, static_args="transform",
                               hyperparam_dtype=jnp.bfloat16)(0.5, jnp.sin, nesterov=True)
    state = tx.init({"a": jnp.ones(2)})
    assert set(state.hyperparams) == {"learning_rate"}
    assert state.hyperparams["learning_rate"].dtype == jnp.bfloat16
    updates, _ = tx.update({"a": jnp.asarray([1.0, 2.0])}, state)
    np.testing.assert_allclose(updates["a"], -0.5 * np.sin([1.0, 2.0]), rtol=1e-6)
    with pytest.raises(TypeError, match=r"inject_hyperparams\(factory\): .*'momentum'"):
        jo.inject_hyperparams(factory)(0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"static_args \['fn'\] are not arguments"):
        jo.inject_hyperparams(factory, static_args=("fn",))


# ----------------------------------------------------------------------------- MultiSteps


@pytest.mark.parametrize("inner,kwargs", [
    ("optax", dict(every_k_schedule=3)),
    ("jaxdl", dict(every_k_schedule=2, use_grad_mean=False)),
    ("jaxdl", dict(every_k_schedule=lambda s: jnp.minimum(s + 1, 3))),
])
def test_multi_steps_parity(parity, inner, kwargs):
    opt = std(optax.adam(0.05)) if inner == "optax" else jaxdl_adam(0.05)
    ours = jo.MultiSteps(opt, **kwargs)
    parity(ours, optax.MultiSteps(optax.adam(0.05), **kwargs), steps=STEPS)


def test_multi_steps_bfloat16_parity(parity):
    ours = jo.MultiSteps(std(optax.adam(0.05)), 3)
    theirs = optax.MultiSteps(optax.adam(0.05), 3)
    parity(ours, theirs, steps=STEPS, rtol=8e-3, atol=1e-3, params=small_bf16_params())


def test_multi_steps_equals_one_big_batch_step():
    params = params_tree()
    k = 4
    micro = gradient_stream(params, STEPS)[:2 * k]
    ms = jo.MultiSteps(std(optax.adam(0.1)), k)
    assert ms.gradient_transformation() == jo.GradientTransformation(ms.init, ms.update)
    big = std(optax.adam(0.1))
    s_ms, s_big, p_ms, p_big = ms.init(params), big.init(params), params, params
    update, big_update = jax.jit(ms.update), jax.jit(big.update)
    for start in range(0, 2 * k, k):
        for j in range(k):
            u, s_ms = update(micro[start + j], s_ms, p_ms)
            p_ms = jo.apply_updates(p_ms, u)
            if j < k - 1:
                assert all(np.all(np.asarray(x) == 0) for x in jax.tree.leaves(u))
                assert not bool(ms.has_updated(s_ms))
        assert bool(ms.has_updated(s_ms))
        mean = jax.tree.map(lambda *g: sum(g) / k, *micro[start:start + k])
        u, s_big = big_update(mean, s_big, p_big)
        p_big = jo.apply_updates(p_big, u)
        assert_trees_close(p_ms, p_big, 1e-5, 1e-6, what=f"after big step {start // k}")
    assert int(s_ms.gradient_step) == 2 and int(s_ms.mini_step) == 0


def test_multi_steps_skip_keeps_everything_but_skip_state():
    def skip_nonfinite(updates, gradient_step, params):
        finite = jnp.all(jnp.asarray([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(updates)]))
        return jnp.logical_not(finite), gradient_step

    ms = jo.MultiSteps(local_sgd(1.0), 2, should_skip_update_fn=skip_nonfinite)
    params = {"a": jnp.zeros(2)}
    state = ms.init(params)
    _, state = ms.update({"a": jnp.asarray([1.0, 3.0])}, state, params)
    u, skipped = ms.update({"a": jnp.asarray([jnp.nan, 1.0])}, state, params)
    np.testing.assert_array_equal(u["a"], np.zeros(2))
    assert int(skipped.mini_step) == 1
    np.testing.assert_array_equal(skipped.acc_grads["a"], state.acc_grads["a"])
    u, done = ms.update({"a": jnp.asarray([3.0, 5.0])}, skipped, params)
    np.testing.assert_allclose(u["a"], [-2.0, -4.0])
    assert int(done.gradient_step) == 1


def test_multi_steps_rejects_bad_k_and_mismatched_updates():
    with pytest.raises(ValueError, match=r"MultiSteps: every_k_schedule must be an int >= 1"):
        jo.MultiSteps(local_sgd(1.0), 0)
    ms = jo.MultiSteps(local_sgd(1.0), 2)
    state = ms.init({"a": jnp.zeros(2)})
    with pytest.raises(ValueError, match=r"MultiSteps.update: the updates do not have the tree"):
        ms.update({"b": jnp.zeros(2)}, state)


# ----------------------------------------------------------------------------- apply_if_finite


def nan_stream(params, steps, bad):
    grads = gradient_stream(params, steps)
    return [jax.tree.map(lambda x: x.at[..., 0].set(jnp.nan) if x.ndim else jnp.nan * x, g)
            if i in bad else g for i, g in enumerate(grads)]


@pytest.mark.parametrize("inner", ["optax", "jaxdl"])
def test_apply_if_finite_parity_with_nans(inner):
    params = params_tree()
    grads = nan_stream(params, STEPS, bad={2, 5, 6, 9, 10})
    ours = jo.apply_if_finite(std(optax.adam(0.1)) if inner == "optax" else jaxdl_adam(0.1), 2)
    theirs = optax.apply_if_finite(optax.adam(0.1), 2)
    s_o, s_t = run_pair(ours, theirs, grads, params)
    for field in ("notfinite_count", "last_finite", "total_notfinite"):
        np.testing.assert_array_equal(getattr(s_o, field), getattr(s_t, field))


def test_apply_if_finite_skips_nan_then_gives_up():
    params = {"a": jnp.asarray([1.0, 2.0])}
    tx = jo.apply_if_finite(std(optax.sgd(0.1, momentum=0.9)), max_consecutive_errors=2)
    state = tx.init(params)
    update = jax.jit(tx.update)
    u, state = update({"a": jnp.asarray([1.0, 1.0])}, state, params)
    trace = state.inner_state[0].trace["a"]
    bad = {"a": jnp.asarray([jnp.nan, 1.0])}
    for count in (1, 2):
        u, state = update(bad, state, params)
        np.testing.assert_array_equal(jo.apply_updates(params, u)["a"], params["a"])
        np.testing.assert_array_equal(state.inner_state[0].trace["a"], trace)
        assert int(state.notfinite_count) == count and not bool(state.last_finite)
    u, state = update(bad, state, params)  # the third in a row goes through
    assert bool(jnp.isnan(u["a"][0])) and int(state.total_notfinite) == 3
    u, state = update({"a": jnp.asarray([1.0, 1.0])}, state, params)
    assert int(state.notfinite_count) == 0 and bool(state.last_finite)
    assert int(state.total_notfinite) == 3
    with pytest.raises(ValueError, match=r"apply_if_finite: max_consecutive_errors"):
        jo.apply_if_finite(local_sgd(1.0), -1)


# ----------------------------------------------------------------------------- lookahead


@pytest.mark.parametrize("inner,reset_state", [("optax", False), ("jaxdl", True)])
def test_lookahead_parity(inner, reset_state):
    base = params_tree()
    fast = std(optax.adam(0.05)) if inner == "optax" else jaxdl_adam(0.05)
    ours = jo.lookahead(fast, 3, 0.5, reset_state=reset_state)
    theirs = optax.lookahead(optax.adam(0.05), 3, 0.5, reset_state=reset_state)
    p_o = jo.LookaheadParams.init_synced(base)
    p_t = optax.LookaheadParams.init_synced(base)
    s_o = ours.init(p_o)
    with jax.numpy_dtype_promotion(STD):
        s_t = theirs.init(p_t)
    step_o, step_t = jax.jit(ours.update), jax.jit(theirs.update)
    for i, g in enumerate(gradient_stream(base, STEPS)):
        u_o, s_o = step_o(g, s_o, p_o)
        with jax.numpy_dtype_promotion(STD):
            u_t, s_t = step_t(g, s_t, p_t)
            p_t = optax.apply_updates(p_t, u_t)
        p_o = jo.apply_updates(p_o, u_o)
        assert_trees_close((u_o.fast, u_o.slow), (u_t.fast, u_t.slow), 1e-5, 1e-6,
                           what=f"updates at step {i}")
    assert_trees_close((p_o.fast, p_o.slow), (p_t.fast, p_t.slow), 1e-5, 1e-6, what="params")


def test_lookahead_hand_computed():
    tx = jo.lookahead(local_sgd(0.5), sync_period=2, slow_step_size=0.5)
    params = jo.LookaheadParams.init_synced({"w": jnp.asarray([1.0, 2.0])})
    state = tx.init(params)
    grad = {"w": jnp.ones(2)}
    expected = [([0.5, 1.5], [1.0, 2.0]), ([0.5, 1.5], [0.5, 1.5]), ([0.0, 1.0], [0.5, 1.5]),
                ([0.0, 1.0], [0.0, 1.0])]
    for fast, slow in expected:
        updates, state = tx.update(grad, state, params)
        params = jo.apply_updates(params, updates)
        np.testing.assert_allclose(params.fast["w"], fast)
        np.testing.assert_allclose(params.slow["w"], slow)


def test_lookahead_errors():
    with pytest.raises(ValueError, match=r"lookahead: sync_period must be >= 1"):
        jo.lookahead(local_sgd(0.1), 0, 0.5)
    tx = jo.lookahead(local_sgd(0.1), 2, 0.5)
    with pytest.raises(TypeError, match=r"LookaheadParams.init_synced"):
        tx.init({"w": jnp.ones(2)})
    state = tx.init(jo.LookaheadParams.init_synced({"w": jnp.ones(2)}))
    with pytest.raises(ValueError, match=r"lookahead needs the current parameters"):
        tx.update({"w": jnp.ones(2)}, state)


# ----------------------------------------------------------------------------- jaxdl inner


JAXDL_INNER = {
    "masked": (lambda: jo.chain(jo.masked(jo.add_decayed_weights(0.1), PREFIX_MASK),
                                jaxdl_adam(0.05)),
               lambda: optax.chain(optax.masked(optax.add_decayed_weights(0.1), PREFIX_MASK),
                                   optax.adam(0.05))),
    "partition": (lambda: jo.partition({"adam": jaxdl_adam(0.05), "sgd": jo.trace(0.9)},
                                       PREFIX_LABELS),
                  lambda: optax.partition({"adam": optax.adam(0.05), "sgd": optax.trace(0.9)},
                                          PREFIX_LABELS)),
    "inject": (lambda: jo.inject_hyperparams(jo.scale_by_adam)(b1=lambda c: 0.8, b2=0.99),
               lambda: optax.inject_hyperparams(optax.scale_by_adam)(b1=lambda c: 0.8, b2=0.99)),
}


@pytest.mark.parametrize("name", sorted(JAXDL_INNER))
def test_wrappers_around_jaxdl_transforms_parity(parity, name):
    ours, theirs = JAXDL_INNER[name]
    parity(ours(), theirs(), steps=STEPS)

