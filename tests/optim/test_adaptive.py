"""Tests for jaxdl.optim.adaptive, .rms and .low_memory: optax parity (the oracle), first steps
computed by hand, schedules, dtypes, vmapped hyperparameter grids and error messages."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl.optim import adaptive as A
from jaxdl.optim import low_memory as L
from jaxdl.optim import rms as R

OURS = {
    name: getattr(module, name)
    for module in (A, R, L)
    for name in module.__all__
    if name.startswith("scale_by_")
}


def both(name, **kwargs):
    """The jaxdl and optax transformations of the same name and arguments."""
    return OURS[name](**kwargs), getattr(optax, name)(**kwargs)


def big_params(dtype=jnp.float32):
    """Adafactor's test tree: "w" (128 x 130) is factored at the default minimum size (128);
    with min_dim_size_to_factor=4 the two largest axes of "k" (largest last) and "t" (largest
    first) are factored too, their first axes being batch axes, and "m" (3 < 4) is not."""
    k = jax.random.split(jax.random.key(7), 6)
    return {
        "w": jax.random.normal(k[0], (128, 130), dtype),
        "b": jax.random.normal(k[1], (130,), dtype),
        "s": jnp.asarray(0.3, dtype),
        "k": jax.random.normal(k[2], (2, 5, 6), dtype),
        "t": jax.random.normal(k[3], (6, 2, 5), dtype),
        "m": jax.random.normal(k[4], (3, 7), dtype),
    }


def small_params():
    return {"w": jnp.asarray([[0.5, -1.0], [2.0, 0.25]]), "b": jnp.asarray([0.1, -0.2, 0.3])}


def grads_like(params, n, seed=3):
    keys = jax.random.split(jax.random.key(seed), n)
    leaves, treedef = jax.tree.flatten(params)
    return [
        treedef.unflatten([jax.random.normal(jax.random.fold_in(k, i), x.shape, x.dtype)
                           for i, x in enumerate(leaves)])
        for k in keys
    ]


# --------------------------------------------------------------------------------------------
# Parity with optax, float32, 100 jitted steps on fresh gradients (the `parity` fixture).

PARITY = [
    ("scale_by_adam", {}),
    ("scale_by_adam", {"b1": 0.5, "eps_root": 1e-3, "nesterov": True, "mu_dtype": jnp.bfloat16}),
    ("scale_by_amsgrad", {}),
    ("scale_by_amsgrad", {"bias_correction_mu": False, "bias_correction_nu": False,
                          "eps_root": 1e-4, "mu_dtype": jnp.bfloat16}),
    ("scale_by_adamax", {}),
    ("scale_by_adamax", {"b1": 0.5, "b2": 0.9, "eps": 1e-3}),
    ("scale_by_belief", {}),
    ("scale_by_belief", {"eps": 1e-8, "eps_root": 1e-3, "nesterov": True}),
    ("scale_by_yogi", {}),
    ("scale_by_yogi", {"b1": 0.5, "eps_root": 1e-4, "initial_accumulator_value": 0.5}),
    ("scale_by_radam", {}),
    ("scale_by_radam", {"b2": 0.95, "threshold": 6.0, "eps_root": 1e-4, "nesterov": True}),
    ("scale_by_lion", {}),
    ("scale_by_lion", {"mode": "smooth", "smooth_beta": 2.0}),
    ("scale_by_lion", {"mode": "refined", "b1": 0.5, "b2": 0.9, "mu_dtype": jnp.bfloat16}),
    ("scale_by_novograd", {}),
    ("scale_by_rms", {}),
    ("scale_by_rms", {"decay": 0.7, "eps": 1e-3, "initial_scale": 1.0, "eps_in_sqrt": False,
                      "bias_correction": True}),
    ("scale_by_stddev", {}),
    ("scale_by_stddev", {"decay": 0.7, "eps": 1e-3, "initial_scale": 0.5, "eps_in_sqrt": False,
                         "bias_correction": True}),
    ("scale_by_rss", {}),
    ("scale_by_rss", {"initial_accumulator_value": 0.0, "eps": 0.0}),
    ("scale_by_adadelta", {}),
    ("scale_by_adadelta", {"rho": 0.5, "eps": 1e-3}),
]


def _ids(table):
    return [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}"
            for name, kw, *_ in table]


@pytest.mark.parametrize(("name", "kwargs"), PARITY, ids=_ids(PARITY))
def test_parity_float32(parity, name, kwargs):
    reached = parity(*both(name, **kwargs))
    print(f"{name} {kwargs}: largest relative difference {reached:.1e}")


def _decay_with_offset(step, rate):
    # The default schedule is undefined before step_offset (negative steps); this one is not.
    step = jnp.maximum(step, 0).astype(jnp.float32)
    return jnp.minimum(1.0 - (step + 1.0) ** (-rate), 0.9)


ADAFACTOR = [
    {},
    {"min_dim_size_to_factor": 4, "epsilon": 1e-3, "step_offset": 3,
     "decay_rate_fn": _decay_with_offset},
]


@pytest.mark.parametrize("kwargs", ADAFACTOR, ids=["default", "batched"])
def test_parity_adafactor(parity, kwargs):
    reached = parity(*both("scale_by_factored_rms", **kwargs), params=big_params())
    print(f"scale_by_factored_rms {kwargs}: largest relative difference {reached:.1e}")


def _cast_to(dtype):
    """An optax transformation casting updates to ``dtype`` (optax's NovoGrad returns updates
    in mu_dtype; jaxdl returns them in the updates' dtype)."""
    return optax.GradientTransformation(
        lambda p: optax.EmptyState(),
        lambda u, s, p=None: (jax.tree.map(lambda x: x.astype(dtype), u), s),
    )


def test_parity_novograd_weight_decay_mu_dtype_bfloat16(parity):
    kwargs = {"b1": 0.5, "eps_root": 1e-3, "weight_decay": 0.1, "mu_dtype": jnp.bfloat16}
    ours, theirs = both("scale_by_novograd", **kwargs)
    reached = parity(ours, optax.chain(theirs, _cast_to(jnp.float32)))
    print(f"scale_by_novograd {kwargs}: largest relative difference {reached:.1e}")


@pytest.mark.parametrize("name", ["scale_by_adam", "scale_by_amsgrad", "scale_by_lion",
                                  "scale_by_novograd"])
def test_mu_dtype_stores_first_moment_returns_updates_dtype(name):
    params = small_params()
    t = OURS[name](mu_dtype=jnp.bfloat16)
    state = t.init(params)
    updates, state = t.update(grads_like(params, 1)[0], state, params)
    assert all(x.dtype == jnp.bfloat16 for x in jax.tree.leaves(state.mu))
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(updates))
    if hasattr(state, "nu"):
        assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(state.nu))


# bfloat16 params (and gradients): states are bfloat16 like optax's. The operations are written
# in optax's order, so the numbers are usually bit-identical (reached: 0); but XLA may keep
# excess precision inside fused bfloat16 kernels, which can differ between two programs by one
# rounding. rtol=1e-2 is 2.5 units in the last place of bfloat16 (2**-8 = 3.9e-3).
BF16 = [
    ("scale_by_adam", {"nesterov": True}),
    ("scale_by_novograd", {"weight_decay": 0.1}),
    ("scale_by_rms", {"bias_correction": True}),
]


@pytest.mark.parametrize(("name", "kwargs"), BF16, ids=_ids(BF16))
def test_parity_bfloat16_params(parity, name, kwargs):
    reached = parity(*both(name, **kwargs), params=big_params(jnp.bfloat16), rtol=1e-2)
    print(f"{name} {kwargs} bfloat16: largest relative difference {reached:.1e}")


def test_parity_bfloat16_adafactor(parity):
    reached = parity(*both("scale_by_factored_rms"), params=big_params(jnp.bfloat16), rtol=1e-2)
    print(f"scale_by_factored_rms bfloat16: largest relative difference {reached:.1e}")


@pytest.mark.parametrize("name", sorted(OURS))
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_state_matches_optax_fields_shapes_dtypes(name, dtype):
    ours, theirs = both(name)
    params = big_params(dtype)
    s_ours = ours.init(params)
    with jax.numpy_dtype_promotion("standard"):
        s_theirs = theirs.init(params)
    assert type(s_ours)._fields == type(s_theirs)._fields
    spec = lambda s: jax.tree.map(lambda x: (x.shape, x.dtype), s._asdict())
    assert spec(s_ours) == spec(s_theirs)


# --------------------------------------------------------------------------------------------
# First steps computed by hand (numpy, float64), on g = [3, -4, 0.5] and p = [1, 2, -1].

G = np.array([3.0, -4.0, 0.5])
P = np.array([1.0, 2.0, -1.0])
NORM = np.sqrt(np.sum(G**2))

FIRST_STEP = [
    ("scale_by_adam", {"b1": 0.5, "b2": 0.5, "eps": 0.1}, G / (np.abs(G) + 0.1)),
    ("scale_by_adam", {"b1": 0.5, "b2": 0.5, "eps": 0.1, "nesterov": True},
     (0.5 * 0.5 * G / (1 - 0.25) + 0.5 * G / 0.5) / (np.abs(G) + 0.1)),
    ("scale_by_amsgrad", {"b2": 0.75, "eps": 0.1}, G / (np.abs(G) + 0.1)),
    ("scale_by_adamax", {"b1": 0.5, "eps": 0.1}, G / (np.abs(G) + 0.1)),
    ("scale_by_belief", {"b1": 0.5, "b2": 0.75, "eps": 0.1, "eps_root": 0.01},
     G / (np.sqrt((0.25 * 0.25 * G**2 + 0.01) / 0.25) + 0.1)),
    ("scale_by_yogi", {"b1": 0.5, "b2": 0.75, "eps": 0.1, "initial_accumulator_value": 1.0},
     ((0.5 + 0.5 * G) / 0.5) / (np.sqrt((1 - 0.25 * np.sign(1 - G**2) * G**2) / 0.25) + 0.1)),
    ("scale_by_radam", {}, G),  # rho_1 = 1 < threshold: the un-adapted first moment
    ("scale_by_lion", {"b2": 0.5}, np.sign(G)),
    ("scale_by_lion", {"mode": "smooth", "smooth_beta": 3.0}, np.tanh(3.0 * 0.1 * G)),
    ("scale_by_novograd", {"eps": 0.1, "weight_decay": 0.5}, G / (NORM + 0.1) + 0.5 * P),
    ("scale_by_rms", {"decay": 0.5, "eps": 0.1, "initial_scale": 1.0},
     G / np.sqrt(0.5 * G**2 + 0.5 + 0.1)),
    ("scale_by_rms", {"decay": 0.5, "eps": 0.1, "eps_in_sqrt": False, "bias_correction": True},
     G / (np.abs(G) + 0.1)),
    ("scale_by_stddev", {"decay": 0.5, "eps": 0.1}, G / np.sqrt(0.25 * G**2 + 0.1)),
    ("scale_by_rss", {"initial_accumulator_value": 0.5, "eps": 0.1},
     G / np.sqrt(0.5 + G**2 + 0.1)),
    ("scale_by_adadelta", {"rho": 0.5, "eps": 0.1}, np.sqrt(0.1) * G / np.sqrt(0.5 * G**2 + 0.1)),
    ("scale_by_factored_rms", {"epsilon": 0.1}, G / np.sqrt(G**2 + 0.1)),  # decay 0 at step 0
]


@pytest.mark.parametrize(("name", "kwargs", "expected"), FIRST_STEP,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(FIRST_STEP)])
def test_first_step_by_hand(name, kwargs, expected):
    t = OURS[name](**kwargs)
    params = jnp.asarray(P, jnp.float32)
    updates, _ = t.update(jnp.asarray(G, jnp.float32), t.init(params), params)
    np.testing.assert_allclose(np.asarray(updates), expected, rtol=2e-6)


def test_adafactor_is_exact_for_a_rank_one_gradient():
    # For g = a b^T, row means times column means over the grand mean is exactly g^2, so the
    # first factored update is sign(g).
    a = jnp.linspace(0.5, 2.0, 128)
    b = jnp.linspace(-1.5, 1.0, 130)
    g = jnp.outer(a, b)
    t = L.scale_by_factored_rms(epsilon=0.0)
    state = t.init(g)
    assert state.v_row.shape == (128,) and state.v_col.shape == (130,) and state.v.shape == (1,)
    updates, _ = t.update(g, state)
    np.testing.assert_allclose(np.asarray(updates), np.sign(np.asarray(g)), rtol=1e-5)


def test_amsgrad_keeps_the_largest_second_moment():
    t = A.scale_by_amsgrad(b1=0.0, b2=0.5, eps=0.0)
    x = jnp.zeros(1)
    state = t.init(x)
    _, state = t.update(jnp.asarray([2.0]), state)  # v_hat_1 = 4
    u, state = t.update(jnp.asarray([1.0]), state)  # v_hat_2 = (0.5*2 + 0.5*1)/0.75 = 2 < 4
    np.testing.assert_allclose(np.asarray(state.nu_max), [4.0])
    np.testing.assert_allclose(np.asarray(u), [0.5], rtol=1e-6)


def test_radam_rectifies_once_rho_reaches_threshold():
    b2 = 0.9
    rho_inf = 2 / (1 - b2) - 1
    t = A.scale_by_radam(b1=0.0, b2=b2, eps=0.0)
    state = t.init(jnp.zeros(1))
    for step in range(1, 8):
        u, state = t.update(jnp.asarray([2.0]), state)
        rho = rho_inf - 2 * step * b2**step / (1 - b2**step)
        expected = 2.0  # m_hat before rectification; m_hat / sqrt(v_hat) = 1 after
        if rho >= 5.0:
            ratio = (rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)
            expected = np.sqrt(ratio)
        np.testing.assert_allclose(np.asarray(u), [expected], rtol=1e-4)


# --------------------------------------------------------------------------------------------
# Schedules and traced hyperparameters.


def _b1_schedule(count):
    return 0.9 - 0.4 * 0.95 ** count.astype(jnp.float32)


SCHEDULED = [
    ("scale_by_adam", {"b1": _b1_schedule, "eps": lambda c: 1e-8 + 1e-4 * (c % 3).astype(float)},
     ("b2", "eps_root")),
    ("scale_by_rms", {"decay": lambda c: jnp.minimum(0.99, 0.5 + 0.01 * c.astype(float))},
     ("eps", "initial_scale")),
]


@pytest.mark.parametrize(("name", "kwargs", "static"), SCHEDULED, ids=[n for n, *_ in SCHEDULED])
def test_schedules_match_optax_inject_hyperparams(parity, name, kwargs, static):
    # optax evaluates injected schedules at its own count before the update, as jaxdl does.
    # The other numbers stay static: injected, optax would turn them into float32 arrays.
    theirs = optax.inject_hyperparams(getattr(optax, name), static_args=static)(**kwargs)
    reached = parity(OURS[name](**kwargs), theirs)
    print(f"{name} scheduled: largest relative difference {reached:.1e}")


def test_adam_with_scheduled_b1_matches_a_hand_reference():
    b1 = lambda c: 0.5 + 0.1 * c.astype(jnp.float32)  # 0.5, 0.6, ...
    t = A.scale_by_adam(b1=b1, b2=0.9, eps=1e-3)
    state = t.init(jnp.zeros(3))
    m = v = np.zeros(3)
    step = jax.jit(t.update)
    for k, g in enumerate(grads_like(jnp.zeros(3), 5)):
        u, state = step(g, state)
        b1_k, g = 0.5 + 0.1 * k, np.asarray(g, np.float64)
        m, v = b1_k * m + (1 - b1_k) * g, 0.9 * v + 0.1 * g**2
        m_hat, v_hat = m / (1 - b1_k ** (k + 1)), v / (1 - 0.9 ** (k + 1))
        np.testing.assert_allclose(np.asarray(u), m_hat / (np.sqrt(v_hat) + 1e-3), rtol=1e-5)


CONSTANT_AS_SCHEDULE = [
    ("scale_by_adam", "b1", 0.8),
    ("scale_by_rms", "decay", 0.8),
    ("scale_by_stddev", "eps", 1e-3),
    ("scale_by_rss", "eps", 1e-3),
    ("scale_by_adadelta", "rho", 0.8),
    ("scale_by_novograd", "b2", 0.5),
    ("scale_by_factored_rms", "decay_rate", 0.5),
]


@pytest.mark.parametrize(("name", "arg", "value"), CONSTANT_AS_SCHEDULE,
                         ids=[n for n, _, _ in CONSTANT_AS_SCHEDULE])
def test_constant_schedule_equals_constant(name, arg, value):
    params = small_params()
    runs = []
    for hyper in (value, lambda c: jnp.full((), value, jnp.float32)):
        t = OURS[name](**{arg: hyper})
        state = t.init(params)
        for g in grads_like(params, 10):
            u, state = t.update(g, state, params)
        runs.append((u, state))
    (u0, s0), (u1, s1) = runs
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), u0, u1)
    if name in ("scale_by_rms", "scale_by_stddev", "scale_by_rss", "scale_by_adadelta"):
        # optax's state (no count) for constants; a count only when a schedule needs one.
        assert "count" not in type(s0)._fields and "count" in type(s1)._fields
        assert int(s1.count) == 10


VMAPPED = [
    ("scale_by_adam", {"b1": [0.8, 0.9, 0.5], "b2": [0.99, 0.999, 0.9], "eps": [1e-8, 1e-3, 0.1]}),
    ("scale_by_radam", {"b1": [0.8, 0.9, 0.5], "b2": [0.9, 0.95, 0.8]}),
    ("scale_by_rms", {"decay": [0.5, 0.9, 0.99], "eps": [1e-8, 1e-3, 0.1]}),
]


@pytest.mark.parametrize(("name", "grid"), VMAPPED, ids=[n for n, _ in VMAPPED])
def test_vmap_over_traced_hyperparameters_equals_separate_runs(name, grid):
    params = small_params()
    grads = jax.tree.map(lambda *xs: jnp.stack(xs), *grads_like(params, 12))

    def run(**hypers):
        t = OURS[name](**hypers)

        def body(carry, g):
            p, s = carry
            u, s = t.update(g, s, p)
            return (jax.tree.map(lambda a, b: a - 0.01 * b, p, u), s), None

        (p, _), _ = jax.lax.scan(body, (params, t.init(params)), grads)
        return p

    arrays = {k: jnp.asarray(v, jnp.float32) for k, v in grid.items()}
    swept = jax.jit(jax.vmap(run))(**arrays)
    for i in range(3):
        alone = jax.jit(lambda: run(**{k: v[i] for k, v in grid.items()}))()  # Python floats
        jax.tree.map(
            lambda a, b, i=i: np.testing.assert_allclose(a[i], b, rtol=1e-5, atol=1e-6),
            swept, alone,
        )


# --------------------------------------------------------------------------------------------
# Errors, raised in Python before anything compiles.


@pytest.mark.parametrize("name", sorted(OURS))
def test_mismatched_update_tree_names_both_structures(name):
    t = OURS[name]()
    params = {"w": jnp.ones((3, 2)), "b": jnp.ones(2)}
    state = t.init(params)
    wrong = {"w": jnp.ones((3, 2)), "bias": jnp.ones(2)}
    with pytest.raises(ValueError, match=name) as err:
        t.update(wrong, state, params)
    message = str(err.value)
    assert str(jax.tree.structure(params)) in message
    assert str(jax.tree.structure(wrong)) in message


@pytest.mark.parametrize("name", sorted(set(OURS) - {"scale_by_factored_rms"}))
def test_mismatched_leaf_shape_names_the_leaf(name):
    t = OURS[name]()
    params = {"w": jnp.ones((3, 2)), "b": jnp.ones(2)}
    state = t.init(params)
    with pytest.raises(ValueError, match=r"\['w'\].*\(2, 3\).*\(3, 2\)"):
        t.update({"w": jnp.ones((2, 3)), "b": jnp.ones(2)}, state, params)


BAD = [
    ("scale_by_adam", {"b1": 1.0}, ValueError, "b1"),
    ("scale_by_adam", {"b2": -0.1}, ValueError, "b2"),
    ("scale_by_adam", {"eps": -1e-8}, ValueError, "eps"),
    ("scale_by_adam", {"eps_root": float("nan")}, ValueError, "eps_root"),
    ("scale_by_adam", {"mu_dtype": jnp.int32}, TypeError, "mu_dtype"),
    ("scale_by_adam", {"nesterov": 1}, TypeError, "nesterov"),
    ("scale_by_amsgrad", {"b1": 1.5}, ValueError, "b1"),
    ("scale_by_amsgrad", {"bias_correction_nu": "no"}, TypeError, "bias_correction_nu"),
    ("scale_by_adamax", {"eps": -1.0}, ValueError, "eps"),
    ("scale_by_belief", {"b2": 1.0}, ValueError, "b2"),
    ("scale_by_yogi", {"initial_accumulator_value": -1.0}, ValueError,
     "initial_accumulator_value"),
    ("scale_by_radam", {"threshold": 3.0}, ValueError, "threshold"),
    ("scale_by_lion", {"b1": 1.1}, ValueError, "b1"),
    ("scale_by_lion", {"mode": "soft"}, ValueError, "mode"),
    ("scale_by_lion", {"smooth_beta": 0.0}, ValueError, "smooth_beta"),
    ("scale_by_novograd", {"weight_decay": -0.1}, ValueError, "weight_decay"),
    ("scale_by_rms", {"decay": 1.5}, ValueError, "decay"),
    ("scale_by_rms", {"decay": 1.0, "bias_correction": True}, ValueError, "decay"),
    ("scale_by_stddev", {"initial_scale": -1.0}, ValueError, "initial_scale"),
    ("scale_by_stddev", {"eps_in_sqrt": None}, TypeError, "eps_in_sqrt"),
    ("scale_by_rss", {"initial_accumulator_value": -0.1}, ValueError,
     "initial_accumulator_value"),
    ("scale_by_adadelta", {"rho": 2.0}, ValueError, "rho"),
    ("scale_by_factored_rms", {"min_dim_size_to_factor": 1.5}, ValueError,
     "min_dim_size_to_factor"),
    ("scale_by_factored_rms", {"decay_rate": -0.8}, ValueError, "decay_rate"),
    ("scale_by_factored_rms", {"factored": "yes"}, TypeError, "factored"),
    ("scale_by_factored_rms", {"decay_rate_fn": 0.8}, TypeError, "decay_rate_fn"),
]


@pytest.mark.parametrize(("name", "kwargs", "error", "arg"), BAD,
                         ids=[f"{n}-{a}" for n, _, _, a in BAD])
def test_bad_python_hyperparameters_are_rejected(name, kwargs, error, arg):
    with pytest.raises(error, match=f"{name}: {arg}"):
        OURS[name](**kwargs)


def test_traced_hyperparameters_are_not_checked_at_construction():
    t = A.scale_by_adam(b1=jnp.asarray(0.9), b2=jnp.asarray(0.999))  # values unknown when traced
    u, _ = t.update(jnp.ones(2), t.init(jnp.ones(2)))
    np.testing.assert_allclose(np.asarray(u), np.ones(2), rtol=1e-6)


def test_novograd_needs_params_only_with_weight_decay():
    g = jnp.asarray([3.0, 4.0])
    plain = L.scale_by_novograd(eps=0.0)
    u, _ = plain.update(g, plain.init(g))  # no params needed
    np.testing.assert_allclose(np.asarray(u), [0.6, 0.8], rtol=1e-6)
    decayed = L.scale_by_novograd(weight_decay=0.1)
    with pytest.raises(ValueError, match="scale_by_novograd with weight_decay needs the current"):
        decayed.update(g, decayed.init(g))


def test_adafactor_unfactored_keeps_the_full_second_moment():
    params = big_params()
    ours, theirs = both("scale_by_factored_rms", factored=False, epsilon=0.1)
    state = ours.init(params)
    assert state.v["w"].shape == (128, 130) and state.v_row["w"].shape == (1,)
    spec = lambda s: jax.tree.map(lambda x: x.shape, s._asdict())
    assert spec(state) == spec(theirs.init(params))
    g = grads_like(params, 1)[0]["w"]
    updates, _ = ours.update({**params, "w": g}, state)
    np.testing.assert_allclose(updates["w"], g / np.sqrt(np.square(g) + 0.1), rtol=2e-6)
