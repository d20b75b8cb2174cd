"""Tests for jaxdl/optim/aliases.py: parity with optax, convergence, tracing, errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdl.optim as jo


def schedule(count):
    """A warm-up then exponential decay, written to run under strict promotion (optax's own
    schedules mix int32 counts with Python floats, which strict promotion rejects)."""
    c = jnp.asarray(count).astype(jnp.float32)
    return 0.05 * jnp.minimum(1.0, (c + 1.0) / 10.0) * jnp.exp(-0.01 * c)


def no_bias(params):
    """A mask callable: decay matrices and kernels, not vectors and scalars."""
    return jax.tree.map(lambda x: x.ndim > 1, params)


PREFIX_MASK = {"dense": {"w": True, "b": False}, "conv": True, "scale": False, "vec": True}


def row(name, kwargs, theirs=None, **opts):
    """A parity row: ``jo.<name>(**kwargs)`` against ``optax.<name>(**kwargs)`` (or ``theirs``)."""
    label = name + "(" + ",".join(
        f"{k}={getattr(v, '__name__', v)}" for k, v in kwargs.items()) + ")"
    if "dtype" in opts:
        label += "-" + jnp.dtype(opts["dtype"]).name
    theirs = theirs or (lambda: getattr(optax, name)(**kwargs))
    return pytest.param(lambda: getattr(jo, name)(**kwargs), theirs, opts, id=label)


# One to three settings per optimizer, chosen to cover every structural branch of the alias
# (masks, schedules, optional stages); the bf16 rows below add the plain defaults of sgd,
# adam, adamw and lion. (Each row costs two compiles, so the list is kept short.)
PARITY = [
    row("sgd", dict(learning_rate=0.1)),
    row("sgd", dict(learning_rate=0.1, momentum=0.9, nesterov=True)),
    row("sgd", dict(learning_rate=schedule, momentum=0.5)),
    row("adagrad", dict(learning_rate=schedule, initial_accumulator_value=0.5, eps=1e-3)),
    row("rmsprop", dict(learning_rate=0.01)),
    row("rmsprop", dict(learning_rate=0.01, momentum=0.9, nesterov=True)),
    row("rmsprop", dict(learning_rate=schedule, decay=0.95, centered=True, momentum=0.9,
                        eps_in_sqrt=False, initial_scale=1.0, bias_correction=True)),
    row("adadelta", dict(learning_rate=1.0, rho=0.95, weight_decay=0.1,
                         weight_decay_mask=PREFIX_MASK)),
    row("adam", dict(learning_rate=0.01)),
    row("adam", dict(learning_rate=0.01, eps_root=1e-8, nesterov=True)),
    row("adam", dict(learning_rate=schedule, b1=0.8, b2=0.99)),
    row("adamw", dict(learning_rate=0.01, weight_decay=0.1, mask=PREFIX_MASK)),
    row("adamw", dict(learning_rate=schedule, weight_decay=0.05, mask=no_bias)),
    row("nadam", dict(learning_rate=0.01)),
    row("nadamw", dict(learning_rate=0.01, weight_decay=0.1)),
    row("amsgrad", dict(learning_rate=0.01, bias_correction_mu=False, bias_correction_nu=False)),
    row("adamax", dict(learning_rate=0.01)),
    row("adamaxw", dict(learning_rate=0.01, weight_decay=0.1, mask=no_bias)),
    row("radam", dict(learning_rate=schedule, threshold=4.0, nesterov=True)),
    row("lion", dict(learning_rate=1e-3, b1=0.95, b2=0.98, weight_decay=0.1, mask=no_bias)),
    row("lamb", dict(learning_rate=0.01, weight_decay=0.1, mask=PREFIX_MASK)),
    row("lars", dict(learning_rate=0.1)),
    row("lars", dict(learning_rate=schedule, weight_decay=0.01, weight_decay_mask=no_bias,
                     trust_ratio_mask=PREFIX_MASK, eps=1e-6, nesterov=True)),
    row("adafactor", dict()),
    row("adafactor", dict(learning_rate=0.01, min_dim_size_to_factor=2, momentum=0.9,
                          weight_decay_rate=1e-3, clipping_threshold=None)),
    row("adafactor", dict(learning_rate=schedule, multiply_by_parameter_scale=False,
                          factored=False, decay_rate=0.9, weight_decay_rate=1e-2,
                          weight_decay_mask=no_bias)),
    row("adabelief", dict(learning_rate=0.01, nesterov=True)),
    row("yogi", dict(learning_rate=schedule, b1=0.5, eps=1e-2)),
    row("novograd", dict(learning_rate=0.01, weight_decay=0.1, b2=0.5)),
    row("sign_sgd", dict(learning_rate=schedule)),
    row("signum", dict(learning_rate=0.01, beta=0.5)),
    # rprop: no parity row, optax 0.2.8's rprop lags one step; see test_rprop_* below.
    row("fromage", dict(learning_rate=0.1, min_norm=1e-3)),
    # No optax twin: the textbook form equals sgd with momentum for a constant rate.
    pytest.param(lambda: jo.momentum(0.1, mass=0.9), lambda: optax.sgd(0.1, momentum=0.9), {},
                 id="momentum(0.1,mass=0.9)"),
    # optax.adadelta(None) ascends (it skips the sign flip); ours means learning_rate=1.0.
    pytest.param(lambda: jo.adadelta(), lambda: optax.adadelta(1.0), {}, id="adadelta()"),
]


@pytest.mark.parametrize("ours,theirs,opts", PARITY)
def test_parity_with_optax(parity, ours, theirs, opts):
    reached = parity(ours(), theirs(), **opts)  # asserts every step; returns the final gap
    print(f"largest relative gap in the final params: {reached:.1e}")


# bfloat16 parameters and gradients. Both libraries do the same operations in the same order,
# so today they agree bit for bit; the tolerance allows one bf16 rounding (2**-8) per value,
# in case XLA fuses the two programs differently on other hardware.
BF16_TOL = dict(dtype=jnp.bfloat16, rtol=2.0**-8, atol=1e-6)
BF16 = [
    row("sgd", dict(learning_rate=0.1, momentum=0.9), **BF16_TOL),
    row("adam", dict(learning_rate=0.01), **BF16_TOL),
    row("adamw", dict(learning_rate=0.01, weight_decay=0.1), **BF16_TOL),
    row("lion", dict(learning_rate=1e-3), **BF16_TOL),
    # float32 params, bfloat16 first moment (rounded to bf16 in both libraries).
    row("adam", dict(learning_rate=0.01, mu_dtype=jnp.bfloat16)),
]


@pytest.mark.parametrize("ours,theirs,opts", BF16)
def test_low_precision_parity_with_optax(parity, ours, theirs, opts):
    reached = parity(ours(), theirs(), **opts)
    print(f"largest relative gap in the final params: {reached:.1e}")


# ----------------------------------------------------------------------------- convergence

def parabola(x):
    """Minimum at (1, -1, 1); starts at (-1, 10, 1)."""
    return jnp.sum(jnp.square(x - jnp.array([1.0, -1.0, 1.0])))


def rosenbrock(x):
    """Minimum at (1, 1); starts at (0, 0)."""
    return jnp.square(1.0 - x[0]) + 100.0 * jnp.square(x[1] - jnp.square(x[0]))


START = {"parabola": jnp.array([-1.0, 10.0, 1.0]), "rosenbrock": jnp.array([0.0, 0.0])}
OPTIMUM = {"parabola": np.array([1.0, -1.0, 1.0]), "rosenbrock": np.array([1.0, 1.0])}


def decaying(count):
    """Sign methods take fixed-size steps, so they need a decaying rate to settle."""
    return 0.1 * jnp.exp(-1e-3 * jnp.asarray(count).astype(jnp.float32))


# optax's own test matrix (optax/_src/alias_test.py, 0.2.8): the same learning rates.
CONVERGENCE = [
    ("adabelief", dict(learning_rate=1e-2)),
    ("adadelta", dict(learning_rate=0.1)),
    ("adafactor", dict(learning_rate=5e-3)),
    ("adagrad", dict(learning_rate=1.0)),
    ("adam", dict(learning_rate=1e-1)),
    ("adamax", dict(learning_rate=1e-1)),
    ("adamaxw", dict(learning_rate=1e-1)),
    ("adamw", dict(learning_rate=1e-1)),
    ("amsgrad", dict(learning_rate=1e-1)),
    ("fromage", dict(learning_rate=5e-3)),
    ("lamb", dict(learning_rate=1e-3)),
    ("lars", dict(learning_rate=1.0)),
    ("lion", dict(learning_rate=1e-2, weight_decay=1e-4)),
    ("nadam", dict(learning_rate=1e-2)),
    ("nadamw", dict(learning_rate=1e-2)),
    ("novograd", dict(learning_rate=1e-3)),
    ("radam", dict(learning_rate=5e-3)),
    ("rmsprop", dict(learning_rate=5e-3)),
    ("rmsprop", dict(learning_rate=5e-3, momentum=0.9)),
    ("rprop", dict(learning_rate=1e-1)),
    ("sgd", dict(learning_rate=1e-3, momentum=0.9)),
    ("momentum", dict(learning_rate=1e-3, mass=0.9)),
    ("yogi", dict(learning_rate=1e-1)),
    # optax runs these on the parabola only, at 1e-1 and 1e-2; a decaying rate solves both.
    ("sign_sgd", dict(learning_rate=decaying)),
    ("signum", dict(learning_rate=decaying)),
]


@pytest.mark.parametrize(
    "name,kwargs", CONVERGENCE,
    ids=[n + "(" + ",".join(f"{k}={getattr(v, '__name__', v)}" for k, v in kw.items()) + ")"
         for n, kw in CONVERGENCE])
def test_converges_on_parabola_and_rosenbrock(name, kwargs):
    # Both problems in one params tree: every optimizer here treats leaves independently, so
    # this is two runs for one compile.
    opt = getattr(jo, name)(**kwargs)

    def loss(p):
        return parabola(p["parabola"]) + rosenbrock(p["rosenbrock"])

    @jax.jit
    def run(params):
        def step(carry, _):
            params, state = carry
            updates, state = opt.update(jax.grad(loss)(params), state, params)
            return (jo.apply_updates(params, updates), state), None

        (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), length=10_000)
        return params

    final = run(START)
    # optax's criterion, |x - x*| <= 3e-2 + 3e-2 |x*|. Only lion needs the relative part: its
    # fixed-size sign steps keep it bouncing in the Rosenbrock valley; it ends at
    # (0.970, 0.961), exactly where optax.lion ends.
    for problem, optimum in OPTIMUM.items():
        np.testing.assert_allclose(final[problem], optimum, rtol=3e-2, atol=3e-2, err_msg=problem)


# ----------------------------------------------------------------------------- tracing


@pytest.mark.parametrize("make", [
    lambda: jo.sgd(0.1, momentum=0.9), lambda: jo.adam(schedule), lambda: jo.momentum(0.1),
    lambda: jo.adamw(1e-2, mask=no_bias), lambda: jo.lion(1e-3), lambda: jo.adafactor(1e-2),
    lambda: jo.lars(0.1, trust_ratio_mask=no_bias),
], ids=["sgd", "adam", "momentum", "adamw", "lion", "adafactor", "lars"])
def test_no_recompile_on_second_call(make):
    opt = make()
    params = {"w": jnp.ones((3, 2)), "b": jnp.zeros((2,))}
    step = jax.jit(opt.update)
    state = opt.init(params)
    grads = jax.tree.map(jnp.ones_like, params)
    updates, state = step(grads, state, params)
    params = jo.apply_updates(params, updates)
    grads = jax.tree.map(lambda g: -2.0 * g, grads)
    updates2, state = step(grads, state, params)
    assert step._cache_size() == 1
    # The second call really ran on the new values.
    assert not all(np.array_equal(a, b) for a, b in
                   zip(jax.tree.leaves(updates), jax.tree.leaves(updates2)))


def trajectory(opt, steps=20):
    """Final params after ``steps`` of ``opt`` on a quadratic bowl, as one scan."""
    target = jax.tree.map(lambda x: 0.5 * jnp.ones_like(x), START)

    def loss(p):
        return sum(jnp.sum(jnp.square(a - b) * jnp.arange(1.0, a.size + 1.0))
                   for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(target)))

    def step(carry, _):
        params, state = carry
        updates, state = opt.update(jax.grad(loss)(params), state, params)
        return (jo.apply_updates(params, updates), state), None

    (params, _), _ = jax.lax.scan(step, (START, opt.init(START)), length=steps)
    return params


@pytest.mark.parametrize("make,grid", [
    (lambda lr: jo.sgd(lr), [1e-3, 1e-2, 0.1]),
    (lambda lr: jo.sgd(lr, momentum=0.9), [1e-3, 1e-2, 0.1]),
    (lambda lr: jo.momentum(lr, mass=0.9), [1e-3, 1e-2, 0.1]),
    (lambda lr: jo.adam(lr), [1e-3, 1e-2, 0.1]),
    (lambda lr: jo.lion(lr), [1e-3, 1e-2, 0.1]),
    (lambda b1: jo.adamw(0.1, b1=b1), [0.5, 0.8, 0.9]),
    (lambda wd: jo.adamw(0.1, weight_decay=wd), [0.0, 0.1, 1.0]),
], ids=["sgd", "sgd-momentum", "momentum", "adam", "lion", "adamw-b1", "adamw-weight_decay"])
def test_vmapped_grid_equals_separate_runs(make, grid):
    values = jnp.asarray(grid, jnp.float32)
    swept = jax.jit(jax.vmap(lambda v: trajectory(make(v))))(values)
    for i, v in enumerate(grid):
        alone = jax.jit(lambda: trajectory(make(v)))()
        for key in START:
            np.testing.assert_allclose(swept[key][i], alone[key], rtol=1e-5, atol=1e-6,
                                       err_msg=f"{key} at {v}")
    # The grid points really differ (the swept value reached the computation).
    assert not np.allclose(swept["parabola"][0], swept["parabola"][-1])


# ----------------------------------------------------------------------------- hand-computed


def test_momentum_equals_sgd_with_momentum_for_a_constant_rate():
    grads = [jax.random.normal(jax.random.key(i), (4,)) for i in range(30)]
    a, b = jo.momentum(0.05, mass=0.8), jo.sgd(0.05, momentum=0.8)
    sa, sb = a.init(grads[0]), b.init(grads[0])
    for g in grads:
        ua, sa = a.update(g, sa)
        ub, sb = b.update(g, sb)
        np.testing.assert_allclose(ua, ub, rtol=1e-6, atol=1e-7)
    assert isinstance(sa, jo.MomentumState)
    np.testing.assert_allclose(sa.velocity, ua)


def test_momentum_velocity_form_under_a_schedule():
    """v_t = m v_{t-1} - lr_t g_t, checked by hand; differs from sgd's -lr_t m_t."""
    grads = [jnp.array([1.0, -2.0]), jnp.array([0.5, 0.5]), jnp.array([-1.0, 3.0])]
    rates = lambda c: jnp.asarray([0.1, 0.2, 0.4])[c]  # noqa: E731
    opt = jo.momentum(rates, mass=0.5)
    state = opt.init(grads[0])
    v = np.zeros(2)
    for t, g in enumerate(grads):
        u, state = opt.update(g, state)
        v = 0.5 * v - [0.1, 0.2, 0.4][t] * np.asarray(g)
        np.testing.assert_allclose(u, v, rtol=1e-6)
    u_sgd = None
    sgd, s = jo.sgd(rates, momentum=0.5), None
    s = sgd.init(grads[0])
    for g in grads:
        u_sgd, s = sgd.update(g, s)
    assert not np.allclose(u_sgd, v)


def test_fromage_with_a_schedule_keeps_the_paper_step():
    """w <- (w - lr_t ||w||/||g|| g) / sqrt(1 + lr_t^2), a rate per step (optax takes only a
    constant rate here)."""
    rates = lambda c: 0.1 / (1.0 + jnp.asarray(c).astype(jnp.float32))  # noqa: E731
    opt = jo.fromage(rates)
    w = jnp.array([3.0, 4.0])
    state = opt.init(w)
    for t, g in enumerate([jnp.array([1.0, 0.0]), jnp.array([0.0, -2.0])]):
        u, state = opt.update(g, state, w)
        lr = 0.1 / (1.0 + t)
        ratio = np.linalg.norm(w) / np.linalg.norm(g)
        expected = (np.asarray(w) - lr * ratio * np.asarray(g)) / math.sqrt(1 + lr**2)
        w = jo.apply_updates(w, u)
        np.testing.assert_allclose(w, expected, rtol=1e-6)


def rprop_reference(grads, lr, eta_minus=0.5, eta_plus=1.2, lo=1e-6, hi=50.0):
    """iRprop- as in torch.optim.Rprop, in numpy: the updates, step by step."""
    step, prev, out = np.full_like(grads[0], lr), np.zeros_like(grads[0]), []
    for g in grads:
        s = np.sign(g) * np.sign(prev)
        step = np.where(s > 0, np.minimum(step * eta_plus, hi),
                        np.where(s < 0, np.maximum(step * eta_minus, lo), step))
        prev = np.where(s < 0, 0.0, g)
        out.append(-step * np.sign(prev))
    return out


def test_rprop_hand_computed():
    """Signs +,+,+,-,+ with lr 0.1: steps grow by 1.2, the flip costs a step and halves it."""
    opt = jo.rprop(0.1)
    state = opt.init(jnp.zeros(1))
    got = []
    for g in [1.0, 1.0, 1.0, -1.0, 1.0]:
        u, state = opt.update(jnp.array([g]), state)
        got.append(float(u[0]))
    np.testing.assert_allclose(got, [-0.1, -0.12, -0.144, 0.0, -0.072], rtol=1e-6)


@pytest.mark.parametrize("kwargs", [
    dict(learning_rate=0.01),
    dict(learning_rate=0.01, eta_minus=0.3, eta_plus=1.5, min_step_size=1e-3,
         max_step_size=0.02),
])
def test_rprop_matches_a_reference_implementation(kwargs):
    rng = np.random.default_rng(0)
    # Correlated signs, so steps both grow (to the cap) and shrink (to the floor).
    grads = [(rng.normal(size=7) + (0.8 if t % 15 < 10 else -0.8)).astype(np.float32)
             for t in range(60)]
    names = ["lr", "eta_minus", "eta_plus", "lo", "hi"]
    keys = ["learning_rate", "eta_minus", "eta_plus", "min_step_size", "max_step_size"]
    expected = rprop_reference(grads, **{n: kwargs[k] for n, k in zip(names, keys) if k in kwargs})
    opt = jo.rprop(**kwargs)
    step = jax.jit(opt.update)
    state = opt.init(jnp.zeros(7))
    for t, (g, e) in enumerate(zip(grads, expected)):
        u, state = step(jnp.asarray(g), state)
        np.testing.assert_allclose(u, e, rtol=1e-5, atol=1e-9, err_msg=f"step {t}")


def test_adadelta_default_descends():
    """learning_rate=None is 1.0: the update points against the gradient (optax 0.2.8 ascends)."""
    g = jnp.array([1.0, -3.0])
    for opt in (jo.adadelta(), jo.adadelta(1.0)):
        u, _ = opt.update(g, opt.init(g), g)
        assert np.all(np.sign(u) == -np.sign(g))
    u0, _ = jo.adadelta().update(g, jo.adadelta().init(g), g)
    u1, _ = jo.adadelta(1.0).update(g, jo.adadelta(1.0).init(g), g)
    np.testing.assert_array_equal(u0, u1)


# ----------------------------------------------------------------------------- errors

WITH_LR = ["sgd", "momentum", "adagrad", "rmsprop", "adadelta", "adam", "adamw", "nadam",
           "nadamw", "amsgrad", "adamax", "adamaxw", "radam", "lion", "lamb", "lars",
           "adafactor", "adabelief", "yogi", "novograd", "sign_sgd", "signum", "rprop", "fromage"]


@pytest.mark.parametrize("name", WITH_LR)
@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_bad_learning_rate_is_rejected_at_construction(name, bad):
    with pytest.raises(ValueError, match=rf"{name}: learning_rate must be finite"):
        getattr(jo, name)(bad)


@pytest.mark.parametrize("name", WITH_LR)
def test_a_transformation_as_learning_rate_is_a_clear_error(name):
    for wrong in (jo.adam(1e-3), optax.sgd(1e-3)):
        with pytest.raises(TypeError, match=rf"{name}: learning_rate .* gradient transformation"):
            getattr(jo, name)(wrong)


def test_learning_rate_type_and_shape_errors():
    with pytest.raises(TypeError, match="adam: learning_rate must be a number.*str"):
        jo.adam("0.1")
    with pytest.raises(ValueError, match="adam: learning_rate must be a scalar.*vmap"):
        jo.adam(jnp.array([0.1, 0.2]))


def test_jax_scalar_learning_rate_is_accepted_unchecked():
    """A JAX scalar may be traced, so it is not inspected; a zero rate is allowed."""
    for lr in (jnp.asarray(0.01), 0.0, 1):
        u, _ = jo.adam(lr).update(jnp.ones(2), jo.adam(lr).init(jnp.ones(2)))
        np.testing.assert_allclose(u, -float(lr) * np.ones(2), rtol=1e-4)
