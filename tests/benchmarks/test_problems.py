"""Tests of benchmarks/problems.py: the problem contract, the analytic minima, DeepOBS's noisy
quadratic, and that each target is reachable by Adam at a good rate and missed at a tiny one."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import problems
from jaxdl import optim

NAMES = problems.names()
SURFACES = ["rosenbrock", "beale", "rastrigin", "six-hump-camel"]


def _init_key(seed):
    """A key for ``init``: XLA on CPU compiles threefry's vmapped draws (the initialisers)
    slowly, seconds per problem, so the inits here use the "rbg" generator; the problems take
    any key (test_default_keys_work). Minibatch keys stay threefry: under vmap, rbg's bits
    depend on the batch position."""
    return jax.random.key(seed, impl="rbg")


@functools.cache
def _compiled(name):
    """A problem's ``init`` and ``(params, key) -> (loss, grads, metric)``, each vmapped over
    a batch and jitted once, shared by the tests below to keep compiles few."""
    p = problems.get(name)

    def probe(params, key):
        value, grads = jax.value_and_grad(p.loss)(params, key)
        full = p.full_loss(params) if hasattr(p, "full_loss") else jnp.zeros(())
        return value, grads, p.metric(params), full

    return jax.jit(jax.vmap(p.init)), jax.jit(jax.vmap(probe))


def _first_hits(problem, make, lrs, seeds):
    """Steps to target (inf: missed) of ``make(lr)`` for each (lr, seed), as one vmapped
    program started from ``init(key(seed))``, with step keys ``fold_in(key, t)`` and the
    metric every ``eval_every`` steps: the protocol of the convergence benchmark."""
    params = _compiled(problem.name)[0](jnp.stack([_init_key(s) for s in seeds]))
    run_keys = jnp.stack([jax.random.key(s) for s in seeds])
    n_chunks = problem.budget // problem.eval_every

    def single(params, lr, key):
        opt = make(lr)

        def step(carry, t):
            p, state = carry
            grads = jax.grad(problem.loss)(p, jax.random.fold_in(key, t))
            updates, state = opt.update(grads, state, p)
            return (optim.apply_updates(p, updates), state), None

        def chunk(carry, i):
            carry, _ = jax.lax.scan(step, carry, i * problem.eval_every
                                    + jnp.arange(problem.eval_every))
            return carry, problem.metric(carry[0])

        return jax.lax.scan(chunk, (params, opt.init(params)), jnp.arange(n_chunks))[1]

    metrics = np.asarray(jax.jit(jax.vmap(single))(params, jnp.asarray(lrs, jnp.float32),
                                                   run_keys))
    hit = metrics >= problem.target if problem.higher_is_better else metrics <= problem.target
    steps = (hit.argmax(axis=1) + 1) * problem.eval_every
    return np.where(hit.any(axis=1), steps, np.inf), metrics


# ----------------------------------------------------------------------------- registry


def test_registry_lists_eleven_consistent_problems():
    assert len(NAMES) == len(set(NAMES)) == 11
    assert set(problems.QUICK) <= set(NAMES) and len(problems.QUICK) == 3
    for name in NAMES:
        p = problems.get(name)
        assert p is problems.get(name) and p.name == name and p.description
        assert p.kind in ("analytic", "learning") and p.budget % p.eval_every == 0
        assert p.budget >= 10 * p.eval_every and math.isfinite(p.target)
        lo, hi = p.default_lr_range
        assert 0 < lo < hi
        assert (p.batch_size is None) == (name in SURFACES)  # the quadratic is minibatched
        if p.kind == "learning":
            assert p.metric_name in ("val_accuracy", "val_binary_accuracy", "val_mse")
            assert p.higher_is_better == (p.metric_name != "val_mse")


def test_unknown_names_list_the_known_ones_and_the_closest():
    with pytest.raises(ValueError, match=r"unknown problem 'rosenbrok'.*did you mean 'rosenbrock'"):
        problems.get("rosenbrok")
    with pytest.raises(ValueError, match="mlp-tanh-digits"):
        problems.get("nonsense")
    for fn in (problems.function, problems.bounds, problems.global_minimum):
        with pytest.raises(ValueError, match="not a 2-D test function.*did you mean 'beale'"):
            fn("beal")
    with pytest.raises(ValueError, match="not a 2-D test function"):
        problems.function("logistic-digits")


# ----------------------------------------------------------------------------- 2-D functions


def test_functions_match_hand_computed_values():
    f = {n: problems.function(n) for n in SURFACES}
    z = lambda x, y: jnp.array([x, y], jnp.float32)  # noqa: E731
    # (1 + 1.2)^2 + 100 (1 - 1.44)^2 = 4.84 + 19.36
    np.testing.assert_allclose(f["rosenbrock"](z(-1.2, 1.0)), 24.2, rtol=1e-6)
    # (1.5 - 1 + 1.5)^2 + (2.25 - 1 + 2.25)^2 + (2.625 - 1 + 3.375)^2 = 4 + 12.25 + 25
    np.testing.assert_allclose(f["beale"](z(1.0, 1.5)), 41.25, rtol=1e-6)
    # 20 + 2 (1 - 10 cos 2 pi) = 2; at (0.5, 0): 20 + (0.25 + 10) + (0 - 10) = 20.25
    np.testing.assert_allclose(f["rastrigin"](z(1.0, 1.0)), 2.0, atol=1e-5)
    np.testing.assert_allclose(f["rastrigin"](z(0.5, 0.0)), 20.25, atol=1e-5)
    # (4 - 2.1 + 1/3) * 1 + 0 + 0 = 2.2333; at (0, 1): 0 + 0 + (4 - 4) = 0; at (1, 1): 2.2333 + 1
    np.testing.assert_allclose(f["six-hump-camel"](z(1.0, 0.0)), 4 - 2.1 + 1 / 3, rtol=1e-6)
    np.testing.assert_allclose(f["six-hump-camel"](z(0.0, 1.0)), 0.0, atol=1e-6)
    np.testing.assert_allclose(f["six-hump-camel"](z(1.0, 1.0)), 4 - 2.1 + 1 / 3 + 1, rtol=1e-6)


@pytest.mark.parametrize("name", SURFACES)
def test_global_minimum_is_a_stationary_point_below_a_dense_grid(name):
    f, minimum = problems.function(name), problems.global_minimum(name)
    (x0, x1), (y0, y1) = problems.bounds(name)
    assert minimum.points.ndim == 2 and minimum.points.shape[1] == 2
    for point in minimum.points:
        assert x0 <= point[0] <= x1 and y0 <= point[1] <= y1
        z = jnp.asarray(point, jnp.float32)
        np.testing.assert_allclose(f(z), minimum.value, atol=1e-5)
        np.testing.assert_allclose(jax.grad(f)(z), 0.0, atol=2e-3)
    xs, ys = np.linspace(x0, x1, 201), np.linspace(y0, y1, 201)
    grid = jnp.asarray(np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2), jnp.float32)
    values = jax.vmap(f)(grid)
    assert float(values.min()) >= minimum.value - 1e-5  # no grid point below the minimum
    assert float(values.min()) <= minimum.value + 0.1  # and the grid comes close to it


def test_documented_local_minima_of_the_camel_are_stationary():
    f = problems.function("six-hump-camel")
    for point, value in [((1.7036, -0.7961), -0.2155), ((1.6071, 0.5687), 2.1043)]:
        for sign in (1.0, -1.0):
            z = sign * jnp.asarray(point, jnp.float32)
            np.testing.assert_allclose(f(z), value, atol=1e-4)
            np.testing.assert_allclose(jax.grad(f)(z), 0.0, atol=2e-3)


# ----------------------------------------------------------------------------- DeepOBS quadratic


def test_quadratic_deep_has_deepobs_spectrum_and_unbiased_noisy_gradients():
    p = problems.get("quadratic-deep")
    hessian = problems._deep_hessian()
    np.testing.assert_allclose(hessian, hessian.T, atol=1e-12)
    eig = np.linalg.eigvalsh(hessian)
    assert np.all((eig[:90] > 0) & (eig[:90] < 1)) and np.all((eig[90:] > 30) & (eig[90:] < 60))
    theta = p.init(jax.random.key(0))
    np.testing.assert_array_equal(theta, np.ones(100, np.float32))
    for z in (theta, jax.random.normal(jax.random.key(3), (100,))):
        np.testing.assert_allclose(p.metric(z), 0.5 * z @ hessian @ z, rtol=1e-4)
    assert float(p.metric(jnp.zeros(100, jnp.float32))) == 0.0
    # grad loss = Q (theta - xbar), xbar ~ N(0, 0.6^2 / 128 I): mean Q theta and standard
    # deviation sqrt(diag(Q^2)) 0.6 / sqrt(128); the mean of n draws is within 5 standard
    # errors of Q theta, and the spread within 10% of the formula
    n = 2000
    grads = np.asarray(jax.jit(jax.vmap(jax.grad(p.loss), (None, 0)))(
        theta, jax.random.split(jax.random.key(1), n)), np.float64)
    std = np.sqrt(np.diag(hessian @ hessian)) * 0.6 / math.sqrt(128)
    assert np.all(np.abs(grads.mean(0) - hessian @ np.ones(100)) < 5 * std / math.sqrt(n))
    np.testing.assert_allclose(grads.std(0), std, rtol=0.1)


# ----------------------------------------------------------------------------- the contract


@pytest.mark.parametrize("name", NAMES)
def test_contract_shapes_determinism_and_vmap(name):
    p = problems.get(name)
    init, probe = _compiled(name)
    init_keys = jnp.stack([_init_key(1), _init_key(2)])
    params = init(init_keys)
    leaves = jax.tree.leaves(params)
    assert all(bool(jnp.array_equal(a, b))
               for a, b in zip(leaves, jax.tree.leaves(init(init_keys))))
    keys = jnp.stack([jax.random.key(1), jax.random.key(2)])
    same_start = all(bool(jnp.array_equal(leaf[0], leaf[1])) for leaf in leaves)
    assert same_start == (p.kind == "analytic")  # analytic: a fixed start; learning: drawn
    values, grads, m, full = probe(params, keys)
    assert values.shape == (2,) and values.dtype == jnp.float32 and np.all(np.isfinite(values))
    np.testing.assert_array_equal(values, probe(params, keys)[0])  # same keys, same minibatch
    # each example keeps its values wherever it sits in the vmapped batch
    flipped = probe(jax.tree.map(lambda a: a[::-1], params), keys[::-1])
    np.testing.assert_allclose(flipped[0][::-1], values, rtol=1e-6)
    np.testing.assert_allclose(flipped[2][::-1], m, rtol=1e-6)
    # another key draws another minibatch (stochastic problems only)
    other = probe(params, keys[::-1])[0]
    assert np.all(np.isfinite(other)) and (other[0] != values[0]) == (p.batch_size is not None)
    assert jax.tree.structure(grads) == jax.tree.structure(params)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
    assert m.shape == (2,) and np.all(np.isfinite(m))
    assert full.shape == (2,) and np.all(np.isfinite(full))
    if p.batch_size is None:  # deterministic: the one-step loss is the full-batch loss
        np.testing.assert_array_equal(full, values)
    # every problem but the CNN (too costly a full batch) has a full-batch loss
    assert isinstance(p, problems.FullBatchProblem) == (name != "cnn-digits")
    if p.kind == "learning" and p.higher_is_better:
        assert np.all(m < 0.7)  # an untrained model is far from the target


@pytest.mark.parametrize("name", ["quadratic-deep", "logistic-digits", "mlp-function-1d"])
def test_full_loss_is_the_mean_of_the_minibatch_losses(name):
    # minibatches are drawn with replacement (noise i.i.d.), so E_key loss = full_loss: the
    # mean over n keys is within 5 standard errors
    p = problems.get(name)
    params = _compiled(name)[0](jnp.stack([_init_key(0)]))
    params = jax.tree.map(lambda a: a[0], params)
    n = 400
    values = np.asarray(jax.jit(jax.vmap(p.loss, (None, 0)))(
        params, jax.random.split(jax.random.key(5), n)), np.float64)
    std_err = values.std() / math.sqrt(n)
    assert abs(values.mean() - float(p.full_loss(params))) < 5 * std_err
    assert std_err > 0


def test_default_keys_work():
    params = problems.get("logistic-breast-cancer").init(jax.random.key(0))
    assert params["dense_0"]["w"].shape == (30, 1) and params["dense_0"]["b"].shape == (1,)


def test_learning_splits_are_fixed_and_disjoint():
    d1 = problems._digits(False)
    assert d1.x_train.shape == (1438, 64) and d1.x_val.shape == (359, 64)
    assert problems._digits(True).x_train.shape == (1438, 8, 8, 1)
    images = problems._digits(True)  # the same split, as images
    np.testing.assert_array_equal(images.y_val, d1.y_val)
    np.testing.assert_array_equal(images.x_val.reshape(-1, 64), d1.x_val)
    assert np.bincount(np.asarray(d1.y_val)).min() >= 34  # stratified: 34-37 of each digit
    bc = problems._breast_cancer()
    assert bc.x_train.shape == (455, 30) and bc.y_val.shape == (114, 1)
    assert float(bc.x_train.max()) > 1000  # raw areas: the features are not standardised
    f1 = problems._function_1d()
    assert f1.x_train.shape == f1.y_val.shape == (256, 1)
    residual = f1.y_val - jnp.sin(math.pi * f1.x_val)
    np.testing.assert_allclose(float(jnp.std(residual)), 0.1, rtol=0.15)  # the noise level


# ----------------------------------------------------------------------------- reachability

# Adam's good rate on each problem, from a sweep of 11 half-decade rates x 3 seeds.
ADAM_RATES = {
    "rosenbrock": 0.3, "beale": 0.3, "quadratic-deep": 0.1, "six-hump-camel": 0.1,
    "logistic-digits": 0.1, "mlp-tanh-digits": 0.03, "mlp-relu-digits": 0.01,
    "cnn-digits": 0.01, "mlp-function-1d": 0.3, "logistic-breast-cancer": 0.3,
}


@pytest.mark.parametrize("name", sorted(ADAM_RATES))
def test_adam_reaches_the_target_at_a_good_rate_and_misses_at_a_tiny_one(name):
    p = problems.get(name)
    steps, _ = _first_hits(p, optim.adam, [ADAM_RATES[name], 1e-6], [0, 1])
    assert steps[0] <= p.budget // 2, steps  # well within the budget
    assert steps[1] == np.inf, steps


def test_camel_gd_stops_in_a_local_minimum_where_momentum_rolls_through():
    p = problems.get("six-hump-camel")
    rates = [1e-4, 1e-3, 1e-2, 3e-2]  # GD diverges above 0.05
    gd, gd_metric = _first_hits(p, optim.sgd, rates, [0] * 4)
    assert np.all(gd == np.inf)
    np.testing.assert_allclose(gd_metric[1:, -1], 2.1043, atol=1e-3)  # the local minimum
    momentum, _ = _first_hits(p, lambda lr: optim.sgd(lr, momentum=0.9), [1e-2, 3e-2], [0, 0])
    assert np.all(momentum <= 100)


def test_rastrigin_is_not_solved_by_gd_momentum_or_adam():
    # Measured: from (-2.3, 1.7) no rate on a half-decade grid takes GD, momentum or Adam to
    # the global minimum; at stable rates they all stop in the local minimum near (-2, 2).
    p = problems.get("rastrigin")
    for make, rates in [(optim.sgd, [1e-3, 3e-3]), (lambda lr: optim.sgd(lr, momentum=0.9),
                                                     [1e-3, 3e-3]), (optim.adam, [0.1, 0.3])]:
        steps, metric = _first_hits(p, make, rates, [0, 0])
        assert np.all(steps == np.inf)
        np.testing.assert_allclose(metric[:, -1], 7.96, atol=0.01)
