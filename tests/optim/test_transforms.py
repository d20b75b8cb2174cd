"""jaxdl.optim.transforms against optax (the oracle), hand-computed values and error cases."""

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


def decay_schedule(c):
    """A momentum that ramps from 0.5 towards 0.95."""
    return 0.95 - 0.45 / (1.0 + c.astype(jnp.float32))


def inject(factory, **hyper):
    return optax.inject_hyperparams(factory)(**hyper)


PARITY = {
    "scale": (lambda: jo.scale(0.3), lambda: optax.scale(0.3)),
    "scale_negative": (lambda: jo.scale(-2.0), lambda: optax.scale(-2.0)),
    "scale_schedule": (lambda: jo.scale(inv_time), lambda: optax.scale_by_schedule(inv_time)),
    "lr": (lambda: jo.scale_by_learning_rate(0.1), lambda: optax.scale_by_learning_rate(0.1)),
    "lr_no_flip": (lambda: jo.scale_by_learning_rate(0.1, flip_sign=False),
                   lambda: optax.scale_by_learning_rate(0.1, flip_sign=False)),
    "lr_none": (lambda: jo.scale_by_learning_rate(None),
                lambda: optax.scale_by_learning_rate(None)),
    "lr_lambda": (lambda: jo.scale_by_learning_rate(inv_time),
                  lambda: optax.scale_by_learning_rate(inv_time)),
    "lr_optax_schedule": (
        lambda: jo.scale_by_learning_rate(optax.exponential_decay(0.1, 10, 0.5)),
        lambda: optax.scale_by_learning_rate(optax.exponential_decay(0.1, 10, 0.5))),
    "schedule": (lambda: jo.scale_by_schedule(inv_time),
                 lambda: optax.scale_by_schedule(inv_time)),
    "schedule_optax": (lambda: jo.scale_by_schedule(optax.linear_schedule(1.0, 0.0, 50)),
                       lambda: optax.scale_by_schedule(optax.linear_schedule(1.0, 0.0, 50))),
    "trace": (lambda: jo.trace(0.9), lambda: optax.trace(0.9)),
    "trace_nesterov": (lambda: jo.trace(0.9, nesterov=True),
                       lambda: optax.trace(0.9, nesterov=True)),
    "trace_small": (lambda: jo.trace(0.3, nesterov=True), lambda: optax.trace(0.3, nesterov=True)),
    "trace_acc_bf16": (lambda: jo.trace(0.9, accumulator_dtype=jnp.bfloat16),
                       lambda: optax.trace(0.9, accumulator_dtype=jnp.bfloat16)),
    "trace_acc_bf16_nesterov": (lambda: jo.trace(0.8, True, accumulator_dtype=jnp.bfloat16),
                                lambda: optax.trace(0.8, True, accumulator_dtype=jnp.bfloat16)),
    "trace_schedule": (lambda: jo.trace(decay_schedule, nesterov=True),
                       lambda: inject(optax.trace, decay=decay_schedule, nesterov=True)),
    "ema": (lambda: jo.ema(0.9), lambda: optax.ema(0.9)),
    "ema_no_debias": (lambda: jo.ema(0.99, debias=False), lambda: optax.ema(0.99, debias=False)),
    "ema_acc_bf16": (lambda: jo.ema(0.9, accumulator_dtype="bfloat16"),
                     lambda: optax.ema(0.9, accumulator_dtype="bfloat16")),
    "ema_schedule": (lambda: jo.ema(decay_schedule, debias=False),
                     lambda: inject(optax.ema, decay=decay_schedule, debias=False)),
    "sign": (jo.scale_by_sign, optax.scale_by_sign),
    "trust": (jo.scale_by_trust_ratio, optax.scale_by_trust_ratio),
    "trust_args": (lambda: jo.scale_by_trust_ratio(min_norm=0.5, trust_coefficient=0.01, eps=1e-3),
                   lambda: optax.scale_by_trust_ratio(min_norm=0.5, trust_coefficient=0.01,
                                                      eps=1e-3)),
    "trust_schedule": (lambda: jo.scale_by_trust_ratio(trust_coefficient=inv_time),
                       lambda: inject(optax.scale_by_trust_ratio, trust_coefficient=inv_time)),
}


@pytest.mark.parametrize("name", sorted(PARITY))
def test_parity_float32(parity, name):
    ours, theirs = PARITY[name]
    parity(ours(), theirs())


@pytest.mark.parametrize("name", ["scale", "lr", "lr_lambda", "trace", "trace_nesterov",
                                  "ema", "sign"])
def test_parity_bfloat16(parity, name):
    ours, theirs = PARITY[name]
    parity(ours(), theirs(), dtype=jnp.bfloat16, steps=30)


def test_trace_float32_accumulator_for_bfloat16_params():
    # The updates come out float32 (as optax's do), which jo.apply_updates does not yet add to
    # bfloat16 params under strict promotion; so compare the updates only.
    ours = jo.trace(0.9, nesterov=True, accumulator_dtype=jnp.float32)
    theirs = optax.trace(0.9, nesterov=True, accumulator_dtype=jnp.float32)
    params = params_tree(jnp.bfloat16)
    s_ours, s_theirs = ours.init(params), theirs.init(params)
    step = jax.jit(ours.update)
    for g in gradient_stream(params, 30):
        u_ours, s_ours = step(g, s_ours)
        with jax.numpy_dtype_promotion("standard"):
            u_theirs, s_theirs = theirs.update(g, s_theirs)
        for x, y in zip(jax.tree.leaves(u_ours), jax.tree.leaves(u_theirs), strict=True):
            assert x.dtype == y.dtype == jnp.float32
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)  # the parity harness's


def test_accumulator_dtype_is_the_state_dtype():
    params = {"w": jnp.ones((2, 3)), "b": jnp.ones(3)}
    for t in (jo.trace(0.9, accumulator_dtype=jnp.bfloat16),
              jo.ema(0.9, accumulator_dtype=jnp.bfloat16)):
        state = t.init(params)
        _, state = t.update(params, state)
        buf = state.trace if isinstance(state, jo.TraceState) else state.ema
        assert {x.dtype for x in jax.tree.leaves(buf)} == {jnp.dtype(jnp.bfloat16)}


# --- Rprop: optax 0.2.8 emits each update one step late, so compare with its state ---------


@pytest.mark.parametrize("kwargs", [
    dict(learning_rate=0.01),
    dict(learning_rate=0.1, eta_minus=0.3, eta_plus=1.5, min_step_size=0.02, max_step_size=0.3),
])
def test_rprop_matches_the_update_optax_stores(kwargs):
    ours, theirs = jo.scale_by_rprop(**kwargs), optax.scale_by_rprop(**kwargs)
    params = params_tree()
    # Correlated gradients, so some signs persist and some flip.
    correlate = jax.jit(lambda g: jax.tree.map(lambda a, b: a + 0.8 * b, g, params))
    s_ours, s_theirs = ours.init(params), theirs.init(params)
    step, step_theirs = jax.jit(ours.update), jax.jit(theirs.update)
    for g in gradient_stream(params, 100):
        g = correlate(g)
        u, s_ours = step(g, s_ours)
        with jax.numpy_dtype_promotion("standard"):
            _, s_theirs = step_theirs(g, s_theirs)
        for a, b in [(u, s_theirs.prev_updates), (s_ours.step_sizes, s_theirs.step_sizes),
                     (s_ours.prev_updates, s_theirs.prev_updates)]:
            for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
                np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-7)


def test_rprop_hand_computed():
    t = jo.scale_by_rprop(0.1, eta_minus=0.5, eta_plus=1.2, max_step_size=0.13)
    state = t.init(jnp.zeros(1))
    got = []
    for g in [1.0, 1.0, 1.0, -1.0, 1.0, 1.0]:
        u, state = t.update(jnp.array([g]), state)
        got.append(float(u[0]))
    # 0.1; grow to 0.12; grow to 0.144, capped at 0.13; flip: shrink to 0.065, emit 0;
    # no previous sign: keep 0.065; grow to 0.078.
    np.testing.assert_allclose(got, [0.1, 0.12, 0.13, 0.0, 0.065, 0.078], rtol=1e-6)


# --- Hand-computed values -------------------------------------------------------------------


def test_trace_hand_computed():
    for nesterov, expected in [(False, [1.0, 1.5, 1.75]), (True, [1.5, 1.75, 1.875])]:
        t = jo.trace(0.5, nesterov=nesterov)
        state = t.init(jnp.zeros(2))
        got = []
        for _ in range(3):
            u, state = t.update(jnp.ones(2), state)
            got.append(float(u[0]))
        np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_ema_of_a_constant_is_the_constant_when_debiased():
    t = jo.ema(0.9)
    state = t.init(jnp.zeros(3))
    g = jnp.array([2.0, -1.0, 0.5])
    for k in range(1, 6):
        u, state = t.update(g, state)
        np.testing.assert_allclose(u, g, rtol=1e-5)
        np.testing.assert_allclose(state.ema, g * (1 - 0.9**k), rtol=1e-5)
    assert int(state.count) == 5


def test_sign_and_scale_hand_computed():
    g = jnp.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(jo.scale_by_sign().update(g, jo.EmptyState())[0], [-1, 0, 1])
    t = jo.scale_by_learning_rate(0.5)
    np.testing.assert_array_equal(t.update(g, t.init(g))[0], [1.0, 0.0, -1.5])


def test_trust_ratio_hand_computed():
    t = jo.scale_by_trust_ratio(trust_coefficient=0.5)
    params = {"w": jnp.array([3.0, 4.0]), "b": jnp.zeros(2)}
    updates = {"w": jnp.array([0.6, 0.8]), "b": jnp.array([1.0, 2.0])}
    out, _ = t.update(updates, t.init(params), params)
    np.testing.assert_allclose(out["w"], [1.5, 2.0], rtol=1e-6)  # 0.5 * 5 / 1 * u
    np.testing.assert_array_equal(out["b"], updates["b"])  # zero param norm: unchanged


def test_schedule_sees_count_zero_first_and_count_is_kept():
    seen = []
    t = jo.scale_by_schedule(lambda c: (seen.append(int(c)), 2.0 + c.astype(jnp.float32))[1])
    state = t.init(jnp.zeros(1))
    for _ in range(3):
        u, state = t.update(jnp.ones(1), state)
    assert seen == [0, 1, 2] and float(u[0]) == 4.0 and int(jo.tree_get(state, "count")) == 3


def test_count_saturates_instead_of_wrapping():
    t = jo.scale_by_schedule(lambda c: jnp.ones([], jnp.float32))
    top = jnp.asarray(np.iinfo(np.int32).max, jnp.int32)
    _, state = t.update(jnp.ones(1), jo.ScaleByScheduleState(count=top))
    assert int(state.count) == np.iinfo(np.int32).max


def test_count_kept_only_when_a_hyperparameter_is_a_schedule():
    params = params_tree()
    assert jo.trace(0.9).init(params).count is None
    assert jo.tree_get(jo.trace(0.9).init(params), "count") is None
    assert int(jo.trace(decay_schedule).init(params).count) == 0
    assert isinstance(jo.scale(0.1).init(params), jo.EmptyState)
    assert isinstance(jo.scale(inv_time).init(params), jo.ScaleByScheduleState)


# --- Traceable hyperparameters --------------------------------------------------------------


def test_vmap_over_hyperparameters_matches_one_run_each():
    params = params_tree()
    g = gradient_stream(params, 100)[0]
    values = jnp.array([0.0, 0.3, 0.9])

    def run(factory, v):
        t = factory(v)
        s = t.init(params)
        u, s = t.update(g, s, params)
        u, _ = t.update(g, s, params)
        return u

    for factory in (jo.scale_by_learning_rate, lambda v: jo.trace(v, nesterov=True), jo.ema,
                    lambda v: jo.scale_by_trust_ratio(trust_coefficient=v)):
        batched = jax.jit(jax.vmap(lambda v, f=factory: run(f, v)))(values)
        for i, v in enumerate(values.tolist()):
            single = run(factory, v)
            for x, y in zip(jax.tree.leaves(batched), jax.tree.leaves(single), strict=True):
                np.testing.assert_allclose(x[i], y, rtol=1e-6, atol=1e-7)


# --- Composition with optax, both ways ------------------------------------------------------


def test_jaxdl_transforms_inside_optax_chain(parity):
    ours = optax.chain(optax.clip_by_global_norm(3.0), jo.trace(0.9, nesterov=True),
                       optax.add_decayed_weights(1e-2), jo.scale_by_learning_rate(inv_time))
    theirs = optax.chain(optax.clip_by_global_norm(3.0), optax.trace(0.9, nesterov=True),
                         optax.add_decayed_weights(1e-2), optax.scale_by_learning_rate(inv_time))
    # ours runs under strict promotion in the harness, so the optax parts must be strict-safe.
    parity(ours, theirs)


def test_optax_transforms_inside_jaxdl_chain(parity):
    ours = jo.chain(jo.ema(0.9), optax.scale_by_trust_ratio(), jo.scale_by_learning_rate(0.05))
    theirs = optax.chain(optax.ema(0.9), optax.scale_by_trust_ratio(),
                         optax.scale_by_learning_rate(0.05))
    parity(ours, theirs)


# --- Errors ---------------------------------------------------------------------------------


def test_mismatched_tree_names_both_structures():
    t = jo.trace(0.9)
    state = t.init({"w": jnp.zeros(2), "b": jnp.zeros(1)})
    with pytest.raises(ValueError, match="trace") as err:
        t.update({"w": jnp.zeros(2)}, state)
    assert "'b'" in str(err.value) and "'w'" in str(err.value)
    for t in (jo.ema(0.9), jo.scale_by_rprop(0.1)):
        with pytest.raises(ValueError, match="tree structure"):
            t.update([jnp.zeros(2)], t.init({"w": jnp.zeros(2)}))
        # same structure, wrong shape: would broadcast silently without the check
        with pytest.raises(ValueError, match=r"update \['w'\] has shape \(1,\)"):
            t.update({"w": jnp.zeros(1)}, t.init({"w": jnp.zeros(2)}))


def test_trust_ratio_needs_params():
    t = jo.scale_by_trust_ratio()
    with pytest.raises(ValueError, match="scale_by_trust_ratio needs the current parameters"):
        t.update(jnp.ones(2), t.init(jnp.ones(2)))
    with pytest.raises(ValueError, match="different tree structures"):
        t.update({"a": jnp.ones(2)}, t.init(None), {"b": jnp.ones(2)})


@pytest.mark.parametrize("make, match", [
    (lambda: jo.scale_by_learning_rate(-0.1), "learning_rate"),
    (lambda: jo.scale_by_learning_rate(float("nan")), "learning_rate"),
    (lambda: jo.scale(float("inf")), "step_size"),
    (lambda: jo.trace(-0.5), "decay"),
    (lambda: jo.ema(1.5), "decay"),
    (lambda: jo.scale_by_rprop(0.1, eta_plus=0.9), "eta_plus"),
    (lambda: jo.scale_by_rprop(-1.0), "learning_rate"),
    (lambda: jo.scale_by_trust_ratio(eps=-1.0), "eps"),
])
def test_bad_hyperparameters_rejected_at_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_types_rejected_at_construction():
    with pytest.raises(TypeError, match="step_size_fn must be a function"):
        jo.scale_by_schedule(0.1)
    with pytest.raises(TypeError, match="accumulator_dtype"):
        jo.trace(0.9, accumulator_dtype="not a dtype")


def test_exports():
    for name in ["scale", "scale_by_learning_rate", "scale_by_schedule", "trace", "ema",
                 "scale_by_sign", "scale_by_rprop", "scale_by_trust_ratio", "TraceState",
                 "EmaState", "ScaleByRpropState", "ScaleByScheduleState"]:
        assert name in jo.transforms.__all__ and hasattr(jo, name)
