"""Tests for jaxdl.optim.schedules: parity with optax over whole count ranges, hand-computed
values, jit / vmap (over counts and over traced hyperparameters), and construction errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl.optim import schedules as js

RTOL, ATOL = 1e-6, 1e-7
COUNTS = jnp.arange(0, 64, dtype=jnp.int32)  # every case below ends well before 64

SGDR_CYCLES = [
    dict(init_value=0.0, peak_value=1.0, warmup_steps=2, decay_steps=5, end_value=0.1),
    dict(init_value=0.05, peak_value=0.5, warmup_steps=0, decay_steps=7, exponent=2.0),
    dict(init_value=0.0, peak_value=0.25, warmup_steps=3, decay_steps=9),
]

# (name, args, kwargs): the same call goes to jaxdl and to optax.
CASES = [
    ("constant_schedule", (0.5,), {}),
    ("constant_schedule", (3,), {}),
    ("linear_schedule", (1.0, 0.1, 10), {}),
    ("linear_schedule", (1.0, 0.1, 10, 2), {}),
    ("linear_schedule", (0.0, 2.5, 7), dict(transition_begin=5)),
    ("linear_schedule", (1.0, 0.1, 0, 2), {}),  # transition_steps <= 0: constant init
    ("linear_schedule", (1.0, 0.1, -3), {}),
    ("polynomial_schedule", (1.0, 0.1, 2, 10, 2), {}),
    ("polynomial_schedule", (1.0, 0.1, 0.5, 10), {}),
    ("polynomial_schedule", (0.3, 0.0, 3.0, 17, 4), {}),
    ("polynomial_schedule", (1.0, 0.1, 2, 0), {}),
    ("cosine_decay_schedule", (1.0, 10), {}),
    ("cosine_decay_schedule", (1.0, 10, 0.1, 2.0), {}),
    ("cosine_decay_schedule", (2.0, 17), dict(alpha=0.25, exponent=0.5)),
    ("cosine_decay_schedule", (0.1, 1), {}),
    ("warmup_cosine_decay_schedule", (0.0, 1.0, 3, 10), dict(end_value=0.1)),
    ("warmup_cosine_decay_schedule", (0.1, 1.0, 0, 10, 0.1, 3.0), {}),
    ("warmup_cosine_decay_schedule", (0.01, 0.5, 9, 10), {}),
    ("warmup_cosine_decay_schedule", (1e-4, 3e-3, 20, 50, 1e-5), {}),
    ("warmup_constant_schedule", (0.0, 1.0, 4), {}),
    ("warmup_constant_schedule", (0.2, 0.05, 13), {}),
    ("exponential_decay", (1.0, 3, 0.5), {}),
    ("exponential_decay", (1.0, 3, 0.5, 2, True), {}),
    ("exponential_decay", (1.0, 3, 0.5, 2, False, 0.3), {}),
    ("exponential_decay", (1.0, 3, 2.0, 0, False, 4.0), {}),
    ("exponential_decay", (0.1, 7, 1.5), dict(staircase=True, end_value=0.4)),
    ("exponential_decay", (2.0, 1, 0.9), dict(transition_begin=10)),
    ("piecewise_constant_schedule", (1.0,), {}),
    ("piecewise_constant_schedule", (1.0, {5: 0.1, 10: 0.5}), {}),
    ("piecewise_constant_schedule", (0.3, {0: 2.0, 3: 0.0, 20: 5.0}), {}),
    ("piecewise_constant_schedule", (0.1, {1: 0.5, 2: 0.5, 40: 0.1}), {}),
    ("piecewise_interpolate_schedule", ("linear", 2.0, {3: 0.5, 8: 0.1}), {}),
    ("piecewise_interpolate_schedule", ("cosine", 2.0, {0: 0.5, 8: 0.1}), {}),
    ("piecewise_interpolate_schedule", ("cosine", 0.4, {6: 2.0, 7: 0.0, 30: 3.0}), {}),
    ("piecewise_interpolate_schedule", ("linear", 0.4), {}),
    ("cosine_onecycle_schedule", (10, 1.0), {}),
    ("cosine_onecycle_schedule", (7, 2.0, 0.5, 4.0, 10.0), {}),
    ("cosine_onecycle_schedule", (3, 1.0, 0.1), {}),
    ("cosine_onecycle_schedule", (50, 0.1), dict(pct_start=0.25, final_div_factor=100.0)),
    ("linear_onecycle_schedule", (10, 1.0), {}),
    ("linear_onecycle_schedule", (7, 2.0, 0.5, 0.8, 4.0, 10.0), {}),
    ("linear_onecycle_schedule", (40, 0.3), dict(pct_start=0.0, pct_final=0.5)),
    ("sgdr_schedule", (SGDR_CYCLES[:1],), {}),
    ("sgdr_schedule", (SGDR_CYCLES,), {}),
]


def _id(case):
    name, args, kwargs = case
    return f"{name}{args}{kwargs or ''}".replace(" ", "")[:90]


def optax_values(name, args, kwargs, counts=COUNTS):
    """optax's values, op by op (not jitted: under jit optax's polynomial can give NaN)."""
    with jax.numpy_dtype_promotion("standard"):
        schedule = getattr(optax, name)(*args, **kwargs)
        return jax.vmap(lambda c: jnp.asarray(schedule(c)))(counts)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_matches_optax_over_counts(case):
    name, args, kwargs = case
    ours = jax.jit(jax.vmap(getattr(js, name)(*args, **kwargs)))(COUNTS)
    theirs = optax_values(name, args, kwargs)
    assert ours.shape == COUNTS.shape
    assert ours.dtype == jnp.float32
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case", CASES[::3], ids=_id)
def test_scalar_counts_eager_and_jit(case):
    """Scalar counts (a Python int, an int32 array), eager and jitted, agree with optax."""
    name, args, kwargs = case
    schedule = getattr(js, name)(*args, **kwargs)
    jitted = jax.jit(schedule)
    theirs = optax_values(name, args, kwargs)
    for c in (0, 1, 7, 10, 63):
        expected = theirs[c]
        for got in (schedule(c), schedule(jnp.int32(c)), jitted(jnp.int32(c))):
            assert jnp.shape(got) == ()
            np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL, err_msg=f"count {c}")
    assert jitted._cache_size() == 1  # one compile for all counts


# ---------------------------------------------------------------- hand-computed values


def _at(schedule, *counts):
    return [float(schedule(jnp.int32(c))) for c in counts]


def test_linear_and_polynomial_by_hand():
    s = js.linear_schedule(1.0, 0.1, 10, transition_begin=2)
    np.testing.assert_allclose(_at(s, 0, 2, 7, 12, 100), [1.0, 1.0, 0.55, 0.1, 0.1], rtol=RTOL)
    p = js.polynomial_schedule(1.0, 0.0, 2, 4)
    np.testing.assert_allclose(_at(p, 0, 1, 2, 3, 4, 9), [1, 9 / 16, 1 / 4, 1 / 16, 0, 0],
                               rtol=RTOL, atol=ATOL)


def test_cosine_by_hand():
    s = js.cosine_decay_schedule(2.0, 8, alpha=0.25)
    # f(t) = 0.25*2 + 0.75*2 * (1 + cos(pi t / 8)) / 2
    expected = [0.5 + 1.5 * (1 + math.cos(math.pi * t / 8)) / 2 for t in (0, 2, 4, 8)] + [0.5]
    np.testing.assert_allclose(_at(s, 0, 2, 4, 8, 30), expected, rtol=RTOL)
    w = js.warmup_cosine_decay_schedule(0.0, 1.0, 4, 10, end_value=0.1, exponent=2.0)
    mid = 0.1 + 0.9 * ((1 + math.cos(math.pi * 3 / 6)) / 2) ** 2
    np.testing.assert_allclose(_at(w, 0, 2, 4, 7, 10, 50), [0.0, 0.5, 1.0, mid, 0.1, 0.1],
                               rtol=RTOL, atol=ATOL)


def test_exponential_by_hand():
    s = js.exponential_decay(1.0, 3, 0.5, transition_begin=2)
    np.testing.assert_allclose(_at(s, 0, 2, 5, 8, 3), [1, 1, 0.5, 0.25, 0.5 ** (1 / 3)],
                               rtol=RTOL)
    st = js.exponential_decay(1.0, 3, 0.5, transition_begin=2, staircase=True, end_value=0.2)
    np.testing.assert_allclose(_at(st, 4, 5, 7, 8, 11, 50), [1, 0.5, 0.5, 0.25, 0.2, 0.2],
                               rtol=RTOL)
    up = js.exponential_decay(1.0, 2, 3.0, end_value=5.0)  # rate > 1: end_value is a ceiling
    np.testing.assert_allclose(_at(up, 0, 2, 4, 9), [1.0, 3.0, 5.0, 5.0], rtol=RTOL)


def test_piecewise_and_join_by_hand():
    s = js.piecewise_constant_schedule(1.0, {5: 0.1, 10: 0.5})
    np.testing.assert_allclose(_at(s, 0, 4, 5, 9, 10, 99), [1, 1, 0.1, 0.1, 0.05, 0.05],
                               rtol=RTOL)
    j = js.join_schedules(
        [js.constant_schedule(1.0), js.linear_schedule(2.0, 3.0, 4), js.constant_schedule(5.0)],
        [3, 8],
    )
    # at a boundary the next schedule takes over, counting from 0
    np.testing.assert_allclose(_at(j, 0, 2, 3, 5, 7, 8, 40), [1, 1, 2, 2.5, 3, 5, 5], rtol=RTOL)
    i = js.piecewise_interpolate_schedule("linear", 2.0, {4: 0.5, 8: 0.1})
    np.testing.assert_allclose(_at(i, 0, 2, 4, 6, 8, 20), [2, 1.5, 1, 0.55, 0.1, 0.1], rtol=RTOL)


def test_onecycle_by_hand():
    c = js.cosine_onecycle_schedule(10, 1.0)  # up over [0, 3], down over [3, 10]
    down = 4e-6 + (1.0 - 4e-6) * (1 + math.cos(math.pi * 2 / 7)) / 2
    np.testing.assert_allclose(_at(c, 0, 3, 5, 10, 11), [0.04, 1.0, down, 4e-6, 4e-6], rtol=RTOL)
    lin = js.linear_onecycle_schedule(10, 1.0)  # phases [0, 3], [3, 8], [8, 10]
    np.testing.assert_allclose(_at(lin, 0, 3, 8, 9, 10, 60),
                               [0.04, 1.0, 0.04, (0.04 + 4e-6) / 2, 4e-6, 4e-6], rtol=RTOL)


def test_sgdr_restarts_at_cycle_boundaries():
    s = js.sgdr_schedule(SGDR_CYCLES)  # cycles of 5, 7 and 9 steps
    np.testing.assert_allclose(_at(s, 0, 2, 4, 5, 12, 14, 15, 21, 60),
                               [0.0, 1.0, 0.1 + 0.9 * (1 + math.cos(math.pi * 2 / 3)) / 2,
                                0.5, 0.0, 0.25 * 2 / 3, 0.25, 0.0, 0.0], rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------- chosen behaviour at edges


def test_warmup_constant_with_no_warmup_is_peak():
    """Deviation: optax returns init_value forever here; no warmup means starting at the peak."""
    s = js.warmup_constant_schedule(0.0, 0.7, 0)
    np.testing.assert_allclose(_at(s, 0, 1, 100), [0.7] * 3, rtol=RTOL)
    w = js.warmup_cosine_decay_schedule(0.0, 0.7, 0, 10)  # consistent with the cosine one
    np.testing.assert_allclose(_at(w, 0), [0.7], rtol=RTOL)


def test_warmup_cosine_with_zero_peak_follows_its_formula():
    """Deviation: optax returns 0 after the warmup when peak_value == 0."""
    s = js.warmup_cosine_decay_schedule(0.0, 0.0, 2, 6, end_value=0.1)
    np.testing.assert_allclose(_at(s, 2, 4, 6, 9), [0.0, 0.05, 0.1, 0.1], rtol=RTOL, atol=ATOL)


def test_fractional_power_is_finite_under_jit_at_the_end():
    """1 - t/T may round to -1e-8 under fused multiply-add; (-1e-8) ** 0.5 would be NaN."""
    s = jax.jit(jax.vmap(js.polynomial_schedule(1.0, 0.1, 0.5, 10)))
    values = s(jnp.arange(8, 20, dtype=jnp.int32))
    assert bool(jnp.all(jnp.isfinite(values)))
    np.testing.assert_allclose(values[2:], 0.1, rtol=RTOL)


def test_negative_counts_are_treated_as_zero():
    for s in (js.cosine_decay_schedule(1.0, 10), js.linear_schedule(1.0, 0.0, 10),
              js.cosine_onecycle_schedule(10, 1.0), js.exponential_decay(1.0, 3, 0.5)):
        np.testing.assert_allclose(_at(s, -3, -1), _at(s, 0, 0), rtol=RTOL)


def test_output_has_the_shape_of_count():
    counts = jnp.arange(6, dtype=jnp.int32).reshape(2, 3)
    for s in (js.constant_schedule(0.5), js.linear_schedule(1.0, 0.0, 0),
              js.piecewise_constant_schedule(1.0), js.linear_schedule(1.0, 0.0, 4)):
        out = s(counts)
        assert out.shape == (2, 3) and out.dtype == jnp.float32
    np.testing.assert_allclose(js.linear_schedule(1.0, 0.0, 4)(counts),
                               [[1, 0.75, 0.5], [0.25, 0, 0]], rtol=RTOL)


@pytest.mark.parametrize("name", ["linear_schedule", "cosine_decay_schedule", "exponential_decay"])
def test_low_precision_arguments_give_float32_values(name):
    """optax is inconsistent here (float32 from linear_schedule, bfloat16 from cosine); jaxdl
    always computes in float32, so a bfloat16 init_value acts as its float32 value."""
    args = {"linear_schedule": (0.0, 10), "cosine_decay_schedule": (10,),
            "exponential_decay": (10, 0.5)}[name]
    init = jnp.asarray(0.3, jnp.bfloat16)
    ours = getattr(js, name)(init, *args)(jnp.int32(3))
    with jax.numpy_dtype_promotion("standard"):
        theirs = getattr(optax, name)(init.astype(jnp.float32), *args)(jnp.int32(3))
    assert ours.dtype == jnp.float32
    np.testing.assert_allclose(ours, theirs, rtol=RTOL)


def test_join_accepts_optax_schedules():
    with jax.numpy_dtype_promotion("standard"):
        j = js.join_schedules([optax.constant_schedule(0.5), js.linear_schedule(1.0, 0.0, 4)],
                              [2])
        values = jax.jit(jax.vmap(j))(jnp.arange(8, dtype=jnp.int32))
    np.testing.assert_allclose(values, [0.5, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0], rtol=RTOL)


# ---------------------------------------------------------------- traced hyperparameters

# (factory of one traced numeric argument v, Python values of v)
TRACED = [
    (lambda v: js.constant_schedule(v), [0.1, 2.0]),
    (lambda v: js.linear_schedule(v, 0.01, 10, 3), [0.1, 1.0, 3.0]),
    (lambda v: js.linear_schedule(1.0, v, 10), [0.0, 0.5]),
    (lambda v: js.polynomial_schedule(1.0, 0.1, v, 10), [0.5, 2.0]),
    (lambda v: js.cosine_decay_schedule(v, 10, 0.1), [0.1, 1.0, 3.0]),
    (lambda v: js.cosine_decay_schedule(1.0, 10, v, 2.0), [0.0, 0.3]),
    (lambda v: js.warmup_cosine_decay_schedule(0.0, v, 3, 12, 0.01), [0.1, 1.0]),
    (lambda v: js.warmup_cosine_decay_schedule(v, 1.0, 3, 12, exponent=2.0), [0.0, 0.5]),
    (lambda v: js.warmup_constant_schedule(0.0, v, 5), [0.1, 1.0]),
    (lambda v: js.exponential_decay(v, 3, 0.5, 2, True, 0.05), [0.1, 1.0]),
    (lambda v: js.exponential_decay(1.0, 3, v, end_value=0.3), [0.5, 0.9, 1.5]),
    (lambda v: js.piecewise_constant_schedule(v, {4: 0.1, 9: 0.5}), [0.1, 1.0]),
    (lambda v: js.piecewise_constant_schedule(1.0, {4: v}), [0.1, 2.0]),
    (lambda v: js.cosine_onecycle_schedule(20, v), [0.1, 1.0]),
    (lambda v: js.linear_onecycle_schedule(20, v, div_factor=10.0), [0.1, 1.0]),
    (lambda v: js.linear_onecycle_schedule(20, 1.0, final_div_factor=v), [10.0, 1e3]),
    (lambda v: js.sgdr_schedule([dict(init_value=0.0, peak_value=v, warmup_steps=2,
                                      decay_steps=6)] * 2), [0.1, 1.0]),
]


@pytest.mark.parametrize("factory, values", TRACED, ids=[str(i) for i in range(len(TRACED))])
def test_vmap_over_a_traced_hyperparameter_matches_separate_calls(factory, values):
    counts = COUNTS[:30]
    grid = jax.jit(jax.vmap(lambda v: jax.vmap(factory(v))(counts)))(jnp.asarray(values))
    for i, v in enumerate(values):
        separate = jax.vmap(factory(v))(counts)
        np.testing.assert_allclose(grid[i], separate, rtol=RTOL, atol=ATOL, err_msg=f"value {v}")


# ---------------------------------------------------------------- construction errors

ERRORS = [
    (lambda: js.linear_schedule(1.0, 0.0, 10, -1), ValueError, "transition_begin must be"),
    (lambda: js.linear_schedule(1.0, 0.0, 10.5), TypeError, "transition_steps must be a Python"),
    (lambda: js.linear_schedule(1.0, 0.0, True), TypeError, "transition_steps"),
    (lambda: js.linear_schedule(float("nan"), 0.0, 10), ValueError, "init_value must be finite"),
    (lambda: js.polynomial_schedule(1.0, 0.0, 2, 10, -5), ValueError, "transition_begin"),
    (lambda: js.polynomial_schedule(1.0, 0.0, float("inf"), 10), ValueError, "power"),
    (lambda: js.cosine_decay_schedule(1.0, 0), ValueError, "decay_steps must be an int >= 1"),
    (lambda: js.cosine_decay_schedule(1.0, -4), ValueError, "decay_steps"),
    (lambda: js.warmup_cosine_decay_schedule(0.0, 1.0, 10, 10), ValueError,
     "greater than warmup_steps; got decay_steps=10, warmup_steps=10"),
    (lambda: js.warmup_cosine_decay_schedule(0.0, 1.0, -1, 10), ValueError, "warmup_steps"),
    (lambda: js.warmup_constant_schedule(0.0, 1.0, -2), ValueError, "warmup_steps must be"),
    (lambda: js.exponential_decay(1.0, 10, 0.0), ValueError, "decay_rate must be > 0"),
    (lambda: js.exponential_decay(1.0, 10, -0.5), ValueError, "decay_rate must be > 0"),
    (lambda: js.exponential_decay(1.0, 0, 0.5), ValueError, "transition_steps must be an int"),
    (lambda: js.exponential_decay(1.0, 10, 0.5, -3), ValueError, "transition_begin"),
    (lambda: js.exponential_decay(1.0, 10, 0.5, staircase=1), TypeError, "staircase"),
    (lambda: js.piecewise_constant_schedule(1.0, {10: 0.1, 5: 0.5}), ValueError,
     "strictly increasing"),
    (lambda: js.piecewise_constant_schedule(1.0, {-1: 0.1}), ValueError, ">= 0"),
    (lambda: js.piecewise_constant_schedule(1.0, {5: -0.1}), ValueError, "scale at step 5"),
    (lambda: js.piecewise_constant_schedule(1.0, [(5, 0.1)]), TypeError, "must be a dict"),
    (lambda: js.piecewise_interpolate_schedule("cubic", 1.0), ValueError, "'linear' or"),
    (lambda: js.join_schedules([js.constant_schedule(1.0)] * 3, [3]), ValueError,
     "one more schedule than boundaries, got 3 schedules and 1"),
    (lambda: js.join_schedules([js.constant_schedule(1.0)] * 3, [5, 5]), ValueError,
     r"strictly increasing, got \[5, 5\]"),
    (lambda: js.join_schedules([js.constant_schedule(1.0)] * 3, [8, 3]), ValueError,
     "strictly increasing"),
    (lambda: js.join_schedules([js.constant_schedule(1.0)] * 2, [-1]), ValueError, ">= 0"),
    (lambda: js.join_schedules([], []), ValueError, "one more schedule"),
    (lambda: js.join_schedules([0.1, js.constant_schedule(1.0)], [3]), TypeError,
     r"schedules\[0\] must be a callable"),
    (lambda: js.cosine_onecycle_schedule(0, 1.0), ValueError, "transition_steps"),
    (lambda: js.cosine_onecycle_schedule(10, 1.0, pct_start=1.0), ValueError, "pct_start"),
    (lambda: js.cosine_onecycle_schedule(10, 1.0, div_factor=0.0), ValueError, "div_factor"),
    (lambda: js.linear_onecycle_schedule(10, 1.0, final_div_factor=0.0), ValueError,
     "final_div_factor"),
    (lambda: js.linear_onecycle_schedule(10, 1.0, 0.5, 0.4), ValueError, "must exceed"),
    (lambda: js.linear_onecycle_schedule(10, 1.0, 0.31, 0.35), ValueError,
     r"= 3 must exceed int\(pct_start \* transition_steps\) = 3"),
    (lambda: js.linear_onecycle_schedule(10, 1.0, pct_final=1.0), ValueError, "pct_final"),
    (lambda: js.sgdr_schedule([]), ValueError, "at least one cycle"),
    (lambda: js.sgdr_schedule([dict(init_value=0.0, peak_value=1.0, warmup_steps=5,
                                    decay_steps=3)]), ValueError,
     "sgdr_schedule: cycle 0: warmup_cosine_decay_schedule: decay_steps"),
    (lambda: js.sgdr_schedule([dict(init_value=0.0, decay_steps=3)]), TypeError, "cycle 0"),
]


@pytest.mark.parametrize("make, error, match", ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_bad_arguments_raise_clear_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_traced_step_counts_are_rejected_clearly():
    with pytest.raises(TypeError, match="transition_steps must be a Python int"):
        jax.jit(lambda n: js.linear_schedule(1.0, 0.0, n)(3))(10)
