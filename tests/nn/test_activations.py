"""Activations: parity with jax.nn (values and gradients, extremes included), hand values,
stability at +-1e4, softmax normalisation, maxout layout and errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import jaxdl.nn.activations as A

# Extremes, the overflow zone of float32 exp (|x| ~ 88), kinks (0, +-1, 6) and ordinary values.
GRID = jnp.array(
    [-1e4, -100.0, -80.0, -20.0, -6.0, -2.5, -1.0, -0.3, -1e-3, 0.0,
     1e-3, 0.3, 1.0, 2.5, 6.0, 7.0, 20.0, 80.0, 100.0, 1e4],
    jnp.float32,
)  # fmt: skip

ELEMENTWISE = [
    ("identity", A.identity, jax.nn.identity),
    ("linear", A.linear, jax.nn.identity),
    ("sigmoid", A.sigmoid, jax.nn.sigmoid),
    ("tanh", A.tanh, jax.nn.tanh),
    ("relu", A.relu, jax.nn.relu),
    ("relu6", A.relu6, jax.nn.relu6),
    ("leaky_relu", A.leaky_relu, jax.nn.leaky_relu),
    ("leaky_relu_0.2", lambda x: A.leaky_relu(x, 0.2), lambda x: jax.nn.leaky_relu(x, 0.2)),
    ("hard_tanh", A.hard_tanh, jax.nn.hard_tanh),
    ("elu", A.elu, jax.nn.elu),
    ("elu_1.7", lambda x: A.elu(x, 1.7), lambda x: jax.nn.elu(x, 1.7)),
    ("selu", A.selu, jax.nn.selu),
    ("gelu_tanh", A.gelu, jax.nn.gelu),
    ("gelu_exact", lambda x: A.gelu(x, approximate=False), lambda x: jax.nn.gelu(x, False)),
    ("silu", A.silu, jax.nn.silu),
    ("swish", A.swish, jax.nn.swish),
    ("softplus", A.softplus, jax.nn.softplus),
]
IDS = [name for name, _, _ in ELEMENTWISE]

# Values far below float32's smallest normal (1.2e-38) may be flushed to zero by either side.
RTOL, ATOL = 2e-6, 1e-37


def _values_and_grads(f):
    """``(f(x), f'(x))`` elementwise, one compiled function."""
    return jax.jit(lambda x: (f(x), jax.vmap(jax.grad(f))(x)))


@pytest.mark.parametrize("name,ours,oracle", ELEMENTWISE, ids=IDS)
def test_values_and_gradients_match_jax_nn_and_stay_finite(name, ours, oracle):
    y, g = _values_and_grads(ours)(GRID)
    y_ref, g_ref = _values_and_grads(oracle)(GRID)
    np.testing.assert_allclose(y, y_ref, rtol=RTOL, atol=ATOL, err_msg=name)
    # jax.nn.sigmoid's gradient is s (1 - s): the 1 - s cancels to 0 for x >~ 17 in float32 and
    # loses digits before; ours is exact there (test_sigmoid_gradient_is_accurate_in_the_tail).
    atol = 1e-7 if name == "sigmoid" else ATOL
    np.testing.assert_allclose(g, g_ref, rtol=RTOL, atol=atol, err_msg=name)
    assert jnp.all(jnp.isfinite(y)) and jnp.all(jnp.isfinite(g)), name


def test_sigmoid_gradient_is_accurate_in_the_tail():
    x = np.array([-80.0, -20.0, -6.0, 0.0, 6.0, 20.0, 80.0])
    exact = np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))) ** 2  # sigmoid' = e / (1 + e)^2
    g = jax.vmap(jax.grad(A.sigmoid))(jnp.asarray(x, jnp.float32))
    np.testing.assert_allclose(g, exact, rtol=1e-6, atol=0)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_low_precision_dtype_preserved_and_matches(dtype):
    x = jnp.linspace(-8, 8, 33, dtype=dtype)
    ys = jax.jit(lambda x: [f(x) for _, f, _ in ELEMENTWISE])(x)
    refs = jax.jit(lambda x: [f(x) for _, _, f in ELEMENTWISE])(x)
    for name, y, ref in zip(IDS, ys, refs, strict=True):
        assert y.dtype == dtype, name
        np.testing.assert_allclose(
            np.asarray(y, np.float32), np.asarray(ref, np.float32), rtol=1e-2, atol=1e-3,
            err_msg=name,
        )


def test_hand_values():
    e = math.e
    cases = [
        (A.relu(-1.0), 0.0),
        (A.relu(2.0), 2.0),
        (A.relu6(7.0), 6.0),
        (A.relu6(3.0), 3.0),
        (A.relu6(-1.0), 0.0),
        (A.leaky_relu(-2.0, 0.1), -0.2),
        (A.leaky_relu(3.0, 0.1), 3.0),
        (A.hard_tanh(-3.0), -1.0),
        (A.hard_tanh(0.5), 0.5),
        (A.hard_tanh(3.0), 1.0),
        (A.elu(-1.0), 1 / e - 1),
        (A.elu(-1.0, 2.0), 2 * (1 / e - 1)),
        (A.elu(2.0), 2.0),
        (A.elu(-jnp.inf, 1.5), -1.5),
        (A.selu(1.0), 1.0507009873554805),
        (A.selu(-jnp.inf), -1.0507009873554805 * 1.6732632423543772),
        (A.sigmoid(0.0), 0.5),
        (A.sigmoid(1.0), 1 / (1 + 1 / e)),
        (A.sigmoid(-1.0), 1 / (1 + e)),
        (A.sigmoid(1e4), 1.0),
        (A.sigmoid(-1e4), 0.0),
        (A.tanh(1.0), (e - 1 / e) / (e + 1 / e)),
        (A.softplus(0.0), math.log(2)),
        (A.softplus(1e4), 1e4),
        (A.softplus(-1e4), 0.0),
        (A.silu(1.0), 1 / (1 + 1 / e)),
        (A.gelu(1.0, approximate=False), 0.5 * (1 + math.erf(1 / math.sqrt(2)))),
        (A.gelu(1.0), 0.5 * (1 + math.tanh(math.sqrt(2 / math.pi) * 1.044715))),
        (A.gelu(0.0), 0.0),
        (A.identity(-3.5), -3.5),
    ]
    for i, (got, want) in enumerate(cases):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=0, err_msg=f"case {i}")


def test_hand_gradients_at_kinks():
    g = jax.grad
    assert g(A.relu)(0.0) == 0.0 and g(A.relu)(1.0) == 1.0
    assert g(A.relu6)(0.0) == 0.0 and g(A.relu6)(6.0) == 0.0 and g(A.relu6)(3.0) == 1.0
    assert g(A.hard_tanh)(1.0) == 1.0 and g(A.hard_tanh)(-1.0) == 1.0 and g(A.hard_tanh)(2.0) == 0
    assert g(A.leaky_relu)(0.0) == 1.0
    assert g(lambda x: A.leaky_relu(x, 0.3))(-1.0) == pytest.approx(0.3)
    assert g(A.sigmoid)(0.0) == 0.25  # the two branches meet smoothly at 0
    assert g(A.softplus)(0.0) == 0.5
    assert g(lambda x: A.elu(x, 2.0))(-1.0) == pytest.approx(2 / math.e)


def test_integer_input_becomes_float():
    x = jnp.array([-1, 0, 2], jnp.int32)
    y = A.sigmoid(x)
    assert y.dtype == jnp.float32
    np.testing.assert_allclose(y, jax.nn.sigmoid(x.astype(jnp.float32)), rtol=1e-6)
    assert A.relu(x).dtype == jnp.int32


def test_hyperparameters_are_traceable():
    x = jnp.array([-2.0, -0.5, 1.0])
    slopes = jnp.array([0.0, 0.1, 0.5])
    got = jax.vmap(lambda s: A.leaky_relu(x, s))(slopes)
    want = jnp.stack([jax.nn.leaky_relu(x, float(s)) for s in slopes])
    np.testing.assert_allclose(got, want, rtol=1e-6)
    alphas = jnp.array([0.5, 1.0, 2.0])
    got = jax.vmap(lambda a: A.elu(x, a))(alphas)
    want = jnp.stack([jax.nn.elu(x, float(a)) for a in alphas])
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_array_hyperparameter_with_bfloat16_input_under_strict_promotion():
    x = jnp.array([-2.0, 1.0], jnp.bfloat16)
    y = A.elu(x, jnp.array(1.5, jnp.float32))
    assert y.dtype == jnp.bfloat16
    want = [1.5 * (math.exp(-2) - 1), 1.0]
    np.testing.assert_allclose(np.asarray(y, np.float32), want, rtol=1e-2)
    assert A.leaky_relu(x, jnp.array(0.5)).dtype == jnp.bfloat16


@pytest.mark.parametrize(
    "ours", [A.sigmoid, A.gelu, lambda x: A.gelu(x, approximate=False), A.softplus, A.softmax]
)
def test_check_grads(ours):
    # float64, where finite differences are accurate enough for second derivatives.
    with jax.enable_x64(True):
        x = jnp.array([[-3.1, -0.7, 0.4, 2.3], [1.5, -0.2, 0.0, 7.0]], jnp.float64)
        check_grads(jax.jit(ours), (x,), order=2, modes=["rev"])
        check_grads(jax.jit(ours), (x,), order=1, modes=["fwd"])


# ----------------------------------------------------------------------------- softmax


@pytest.mark.parametrize("axis", [-1, 0, (0, 1)])
def test_softmax_matches_jax_and_normalises(key, axis):
    x = 30 * jax.random.normal(key, (4, 5, 6))
    s, ls = jax.jit(lambda x: (A.softmax(x, axis=axis), A.log_softmax(x, axis=axis)))(x)
    np.testing.assert_allclose(s, jax.nn.softmax(x, axis=axis), rtol=1e-5, atol=1e-30)
    np.testing.assert_allclose(jnp.sum(s, axis=axis), 1.0, rtol=1e-6)
    assert jnp.all(s >= 0)
    np.testing.assert_allclose(ls, jax.nn.log_softmax(x, axis=axis), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(jnp.sum(jnp.exp(ls), axis=axis), 1.0, rtol=1e-6)


def test_softmax_gradients_match_jax(key):
    k1, k2 = jax.random.split(key)
    x = 3 * jax.random.normal(k1, (3, 7))
    w = jax.random.normal(k2, (3, 7))
    for ours, oracle in [(A.softmax, jax.nn.softmax), (A.log_softmax, jax.nn.log_softmax)]:
        g = jax.jit(jax.grad(lambda x, f=ours: jnp.sum(w * f(x))))(x)
        g_ref = jax.jit(jax.grad(lambda x, f=oracle: jnp.sum(w * f(x))))(x)
        np.testing.assert_allclose(g, g_ref, rtol=1e-5, atol=1e-6)


def test_softmax_extremes_are_stable():
    x = jnp.array([[1e4, -1e4, 0.0], [80.0, 80.0, -80.0], [-1e4, -1e4, -1e4]])
    s, ls = jax.jit(lambda x: (A.softmax(x), A.log_softmax(x)))(x)
    np.testing.assert_allclose(s[0], [1.0, 0.0, 0.0], atol=0)
    np.testing.assert_allclose(s[1], [0.5, 0.5, 0.0], atol=1e-30)
    np.testing.assert_allclose(s[2], [1 / 3] * 3, rtol=1e-6)
    np.testing.assert_allclose(ls[0], [0.0, -2e4, -1e4], rtol=1e-6)
    assert jnp.all(jnp.isfinite(ls))
    g = jax.jit(jax.grad(lambda x: jnp.sum(A.log_softmax(x)[:, 0])))(x)
    assert jnp.all(jnp.isfinite(g))


def test_softmax_is_shift_invariant():
    x = jnp.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(A.softmax(x + 1e3), A.softmax(x), rtol=1e-6)


# ----------------------------------------------------------------------------- maxout


def test_maxout_hand_example():
    x = jnp.array([[1.0, 5.0, 2.0, 0.0, -1.0, -3.0], [0.0, -1.0, 4.0, 4.5, 9.0, 8.0]])
    np.testing.assert_array_equal(A.maxout(x, 2), [[5.0, 2.0, -1.0], [0.0, 4.5, 9.0]])
    np.testing.assert_array_equal(A.maxout(x, 3), [[5.0, 0.0], [4.0, 9.0]])
    np.testing.assert_array_equal(A.maxout(x, 1), x)
    np.testing.assert_array_equal(A.maxout(x, 6), [[5.0], [9.0]])


def test_maxout_layout_matches_reshape_and_other_axes(key):
    x = jax.random.normal(key, (2, 3, 12))
    np.testing.assert_array_equal(A.maxout(x, 4), x.reshape(2, 3, 3, 4).max(-1))
    y = A.maxout(x, 3, axis=1)
    assert y.shape == (2, 1, 12)
    np.testing.assert_array_equal(y[:, 0], x.max(axis=1))
    np.testing.assert_array_equal(A.maxout(x, 2, axis=0), x.max(axis=0, keepdims=True))


def test_maxout_gradient_goes_to_the_winner():
    x = jnp.array([1.0, 5.0, 2.0, 0.0])
    g = jax.grad(lambda x: jnp.sum(A.maxout(x, 2)))(x)
    np.testing.assert_array_equal(g, [0.0, 1.0, 1.0, 0.0])


@pytest.mark.parametrize(
    "pieces,axis,match",
    [
        (2, -1, "not divisible by pieces=2"),
        (4, -1, "not divisible by pieces=4"),
        (0, -1, "positive int"),
        (2.0, -1, "positive int"),
        (True, -1, "positive int"),
        (1, 2, "out of range"),
    ],
)
def test_maxout_errors(pieces, axis, match):
    x = jnp.ones((3, 5))
    with pytest.raises(ValueError, match=match):
        A.maxout(x, pieces, axis=axis)


def test_all_names_are_exported():
    for name in A.__all__:
        assert callable(getattr(A, name)), name
    import jaxdl.nn

    assert jaxdl.nn.maxout is A.maxout and jaxdl.nn.swish is A.silu
