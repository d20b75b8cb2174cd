"""Initialisers: statistics against the formulas, parity with jax.nn.initializers (same key,
same draw), fans of dense and conv kernels, orthogonality, dtypes, jit/vmap, registry, errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdl.init as I

J = jax.nn.initializers


# Compiling a random draw costs far more than running it, and jax caches each compiled draw by
# (shape, dtype): these tests call initialisers eagerly on a few shared shapes.
DENSE = (64, 32)
CONV = (3, 3, 16, 32)  # HWIO
STACK = (6, 16, 32)  # a stack of 6 dense kernels: batch_axis=0

# A non-square kernel tells fan_in (256), fan_out (1024), fan_avg (640) and fan_geo_avg (512)
# apart; 262144 draws estimate a variance to ~0.3% (normal) or ~0.2% (uniform), one sigma.
SHAPE = (256, 1024)
FAN_IN, FAN_OUT = 256, 1024
VAR_TOL = 0.02  # relative; about 7 standard errors
TRUNC = 0.87962566103423978  # std of N(0, 1) truncated to [-2, 2]

# (name, initialiser, variance from the formula, bound on |w| or None)
STATS = [
    ("normal", I.normal(0.05), 0.05**2, None),
    ("truncated_normal", I.truncated_normal(0.05), (0.05 * TRUNC) ** 2, 2 * 0.05),
    ("truncated_normal_1_3", I.truncated_normal(1.0, lower=-1.0, upper=1.0), None, 1.0),
    ("uniform", I.uniform(0.05), 0.05**2 / 3, 0.05),
    ("glorot_normal", I.glorot_normal(), 2 / (FAN_IN + FAN_OUT), None),
    ("glorot_uniform", I.glorot_uniform(), 2 / (FAN_IN + FAN_OUT), math.sqrt(6 / 1280)),
    ("he_normal", I.he_normal(), 2 / FAN_IN, None),
    ("he_uniform", I.he_uniform(), 2 / FAN_IN, math.sqrt(6 / FAN_IN)),
    ("lecun_normal", I.lecun_normal(), 1 / FAN_IN, None),
    ("lecun_uniform", I.lecun_uniform(), 1 / FAN_IN, math.sqrt(3 / FAN_IN)),
    ("vs_fan_out_normal", I.variance_scaling(3.0, "fan_out", "normal"), 3 / FAN_OUT, None),
    ("vs_geo_uniform", I.variance_scaling(0.5, "fan_geo_avg", "uniform"), 0.5 / 512, None),
    ("vs_avg_truncated", I.variance_scaling(2.0, "fan_avg", "truncated_normal"), 2 / 640, None),
]


@pytest.mark.parametrize("name,init,var,bound", STATS, ids=[s[0] for s in STATS])
def test_statistics_match_formulas(key, name, init, var, bound):
    w = np.asarray(init(key, SHAPE), np.float64)
    assert w.shape == SHAPE and w.dtype == np.float64
    std = w.std()
    assert abs(w.mean()) < 5 * std / math.sqrt(w.size), name
    if var is not None:
        assert w.var() == pytest.approx(var, rel=VAR_TOL), name
    if bound is not None:
        assert np.abs(w).max() <= bound, name
        assert np.abs(w).max() > 0.99 * bound, name  # the whole range is used
    if name.endswith("_normal") and "vs" not in name and name != "normal":
        # Truncated schemes: within 2 standard deviations of the untruncated normal.
        assert np.abs(w).max() <= 2 * math.sqrt(var) / TRUNC


def test_truncated_normal_std_constant_from_its_formula():
    assert I.TRUNCATED_NORMAL_STD == pytest.approx(TRUNC, rel=1e-15)


# ----------------------------------------------------------------------------- jax.nn parity

# The same algorithm and the same draw as jax.nn.initializers: equal to the last bit.
EXACT = [
    ("normal", I.normal(0.3), J.normal(0.3)),
    ("truncated_normal", I.truncated_normal(0.3), J.truncated_normal(0.3)),
    ("orthogonal", I.orthogonal(1.3), J.orthogonal(1.3)),
    ("orthogonal_col0", I.orthogonal(0.7, column_axis=0), J.orthogonal(0.7, column_axis=0)),
]
# Same draw; the standard deviation is computed in another order (a rounding apart).
CLOSE = [
    ("glorot_normal", I.glorot_normal(), J.glorot_normal()),
    ("glorot_uniform", I.glorot_uniform(), J.glorot_uniform()),
    ("he_normal", I.he_normal(), J.he_normal()),
    ("he_uniform", I.he_uniform(), J.he_uniform()),
    ("lecun_normal", I.lecun_normal(), J.lecun_normal()),
    ("lecun_uniform", I.lecun_uniform(), J.lecun_uniform()),
    ("xavier_uniform", I.xavier_uniform(), J.xavier_uniform()),
    ("kaiming_normal", I.kaiming_normal(), J.kaiming_normal()),
] + [
    (f"vs_{args}", I.variance_scaling(*args, **kw), J.variance_scaling(*args, **kw))
    for args, kw in [
        ((1.7, "fan_out", "normal"), {}),
        ((0.3, "fan_geo_avg", "uniform"), {}),
        ((1.0, "fan_in", "uniform"), {"batch_axis": 0}),
    ]
]


@pytest.mark.parametrize("shape", [DENSE, CONV, (16, 48)])
@pytest.mark.parametrize("name,ours,theirs", EXACT, ids=[e[0] for e in EXACT])
def test_exactly_equal_to_jax(key, name, ours, theirs, shape):
    np.testing.assert_array_equal(ours(key, shape), theirs(key, shape), err_msg=name)


@pytest.mark.parametrize(
    "shape,dtype", [(CONV, jnp.float32), (CONV, jnp.bfloat16), (CONV, jnp.float16),
                    (STACK, jnp.float32)],
)  # fmt: skip
def test_variance_scaling_equal_to_jax_up_to_rounding(key, shape, dtype):
    rtol = 2 * float(jnp.finfo(dtype).eps)
    for name, ours, theirs in CLOSE:
        a, b = ours(key, shape, dtype), theirs(key, shape, dtype)
        assert a.dtype == b.dtype == dtype, name
        np.testing.assert_allclose(
            np.asarray(a, np.float32), np.asarray(b, np.float32), rtol=rtol, atol=0, err_msg=name
        )


def test_uniform_is_jax_uniform_made_symmetric(key):
    # jax.nn.initializers.uniform(s) is U[0, s); ours is U[-s, s) from the same bits: 2u - s.
    ours, theirs = I.uniform(0.5)(key, DENSE), J.uniform(0.5)(key, DENSE)
    np.testing.assert_allclose(ours, 2 * theirs - 0.5, rtol=0, atol=1e-7)
    assert float(ours.min()) < -0.49 and float(theirs.min()) >= 0


# ----------------------------------------------------------------------------- fans


FANS = [
    ((20, 30), {}, 20, 30),
    (CONV, {}, 3 * 3 * 16, 3 * 3 * 32),
    ((5, 7, 4, 6), {}, 5 * 7 * 4, 5 * 7 * 6),
    ((3, 16, 32), {}, 3 * 16, 3 * 32),  # 1-D conv
    (STACK, {"batch_axis": 0}, 16, 32),
    ((4, 8, 32), {"in_axis": (0, 1)}, 32, 32),
    ((32, 16, 3, 3), {"in_axis": 1, "out_axis": 0}, 16 * 9, 32 * 9),  # conv OIHW
    ((2, 3, 4, 5), {"in_axis": -2, "out_axis": -1, "batch_axis": (0,)}, 4 * 3, 5 * 3),
]


@pytest.mark.parametrize("shape,kwargs,fan_in,fan_out", FANS)
def test_fan_sizes(shape, kwargs, fan_in, fan_out):
    axes = tuple(kwargs.get(k, d) for k, d in [("in_axis", -2), ("out_axis", -1),
                                               ("batch_axis", ())])  # fmt: skip
    assert I._fans("test", shape, axes) == (fan_in, fan_out)


@pytest.mark.parametrize("shape,kwargs,fan_in,fan_out", [FANS[1], FANS[4]])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"])
def test_fans_set_the_scale(key, shape, kwargs, fan_in, fan_out, mode):
    # With distribution="normal" the draw is N(0, 1) * sqrt(scale / fan): the fan is exact.
    fan = {
        "fan_in": fan_in,
        "fan_out": fan_out,
        "fan_avg": (fan_in + fan_out) / 2,
        "fan_geo_avg": math.sqrt(fan_in * fan_out),
    }[mode]
    w = I.variance_scaling(2.0, mode, "normal", **kwargs)(key, shape)
    np.testing.assert_allclose(w, jax.random.normal(key, shape) * math.sqrt(2.0 / fan), rtol=1e-6)


# ----------------------------------------------------------------------------- orthogonal


@pytest.mark.parametrize(
    "shape,column_axis",
    [(DENSE, -1), ((16, 48), -1), (CONV, -1), ((8, 3, 3, 4), 0)],
)
@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_orthogonal(key, shape, column_axis, scale):
    w = I.orthogonal(scale, column_axis)(key, shape)
    assert w.shape == shape
    m = jnp.moveaxis(w, column_axis, -1).reshape(-1, shape[column_axis])  # (rows, cols)
    rows, cols = m.shape
    gram = m.T @ m if rows >= cols else m @ m.T
    np.testing.assert_allclose(gram / scale**2, jnp.eye(min(rows, cols)), atol=1e-5)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_orthogonal_low_precision(key, dtype):
    w = I.orthogonal()(key, DENSE, dtype)
    assert w.dtype == dtype
    np.testing.assert_allclose(
        I.orthogonal()(key, DENSE), np.asarray(w, np.float32), rtol=0, atol=4e-3
    )


def test_orthogonal_is_not_biased_by_qr_signs():
    # Without the diag(R) sign correction, Householder QR makes Q[0, 0] < 0 on every draw.
    keys = jax.random.split(jax.random.key(1), 64)
    positive = sum(int(I.orthogonal()(k, DENSE)[0, 0] > 0) for k in keys)
    assert 16 < positive < 48


# ----------------------------------------------------------------------------- constants


def test_zeros_ones_constant():
    np.testing.assert_array_equal(I.zeros(None, (2, 3)), np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(I.ones(jax.random.key(0), (4,)), np.ones(4, np.float32))
    assert I.zeros(None, (2,), jnp.int32).dtype == jnp.int32
    assert I.ones(None, (2,), jnp.bfloat16).dtype == jnp.bfloat16
    np.testing.assert_array_equal(I.constant(0.25)(None, (2, 2)), np.full((2, 2), 0.25))
    np.testing.assert_array_equal(
        I.constant(jnp.array([1.0, 2.0, 3.0]))(None, (2, 3)), [[1, 2, 3], [1, 2, 3]]
    )
    assert I.constant(3, jnp.int32)(None, (2,)).dtype == jnp.int32
    assert I.constant(0.5)(None, (2,), jnp.float16).dtype == jnp.float16
    assert I.zeros is I.get("zeros") and I.ones is I.get("ones")


# ----------------------------------------------------------------------------- transformations


@pytest.mark.parametrize("name", ["he_uniform", "glorot_normal", "orthogonal"])
def test_jit_and_vmap_over_keys(key, name):
    init = I.get(name)
    shape = DENSE
    keys = jax.random.split(key, 8)
    batch = jax.jit(jax.vmap(lambda k: init(k, shape)))(keys)
    assert batch.shape == (8, *shape)
    flat = np.asarray(batch).reshape(8, -1)
    assert len({row.tobytes() for row in flat}) == 8  # 8 different draws
    np.testing.assert_allclose(batch[3], init(keys[3], shape), rtol=1e-6, atol=1e-7)


def test_vmap_over_hyperparameters(key):
    """A grid of scales is one vmap: no Python branch on their values."""
    shape = DENSE
    grid = jnp.array([0.5, 1.0, 2.0])
    # (factory of the scale, ratio of the draws at scale 2 and 0.5: the std ratio)
    for make, ratio in [
        (I.normal, 4.0),
        (I.uniform, 4.0),
        (I.orthogonal, 4.0),
        (lambda s: I.variance_scaling(s, "fan_avg", "truncated_normal"), 2.0),  # a variance
    ]:
        ws = jax.jit(jax.vmap(lambda s, make=make: make(s)(key, shape)))(grid)
        for i in range(3):
            np.testing.assert_allclose(
                ws[i], make(float(grid[i]))(key, shape), rtol=1e-6, atol=1e-7
            )
        np.testing.assert_allclose(ws[2], ratio * ws[0], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.float16])
def test_every_registered_initialiser_gives_shape_and_dtype(key, dtype):
    shape = CONV
    for name in I.names():
        w = I.get(name)(key, shape, dtype)
        assert w.shape == shape and w.dtype == dtype, name
        assert jnp.all(jnp.isfinite(w)), name


def test_default_dtype_is_float32_and_factory_dtype_is_the_default(key):
    assert I.he_normal()(key, DENSE).dtype == jnp.float32
    assert I.he_normal(dtype=jnp.bfloat16)(key, CONV).dtype == jnp.bfloat16
    assert I.normal(0.1, jnp.float16)(key, CONV).dtype == jnp.float16
    assert I.normal()(key, DENSE, None).dtype == jnp.float32


def test_legacy_uint32_key_and_int_shape():
    k = jax.random.PRNGKey(0)
    np.testing.assert_array_equal(I.normal(1.0)(k, 5), jax.random.normal(k, (5,)))


# ----------------------------------------------------------------------------- registry

SPEC_NAMES = {
    "zeros", "ones", "normal", "small_normal", "standard_normal", "truncated_normal", "uniform",
    "glorot_normal", "glorot_uniform", "xavier_normal", "xavier_uniform", "he_normal",
    "he_uniform", "kaiming_normal", "kaiming_uniform", "lecun_normal", "lecun_uniform",
    "orthogonal",
}  # fmt: skip


def test_names_sorted_and_complete():
    names = I.names()
    assert names == sorted(names)
    assert set(names) == SPEC_NAMES


def test_registry_entries_are_the_named_schemes(key):
    shape = DENSE
    z = jax.random.normal(key, shape)
    np.testing.assert_array_equal(I.get("standard_normal")(key, shape), z)
    np.testing.assert_allclose(I.get("small_normal")(key, shape), 0.01 * z, rtol=1e-6)
    np.testing.assert_allclose(I.get("normal")(key, shape), 0.01 * z, rtol=1e-6)
    for alias, name in [("xavier_normal", "glorot_normal"), ("kaiming_uniform", "he_uniform")]:
        np.testing.assert_array_equal(I.get(alias)(key, shape), I.get(name)(key, shape))
    np.testing.assert_allclose(
        I.get("he_normal")(key, shape), J.he_normal()(key, shape), rtol=1e-6
    )
    assert I.xavier_normal is I.glorot_normal and I.kaiming_normal is I.he_normal


def test_get_returns_callables_unchanged():
    fn = J.glorot_normal()
    assert I.get(fn) is fn
    assert I.get(I.zeros) is I.zeros


def test_unknown_name_lists_known_names_and_suggests():
    with pytest.raises(KeyError) as info:
        I.get("glorot_norml")
    message = str(info.value)
    assert "Did you mean 'glorot_normal'?" in message
    for name in SPEC_NAMES:
        assert name in message
    with pytest.raises(ValueError, match="unknown initialiser 'nope'"):
        I.get("nope")
    with pytest.raises(TypeError, match="name or function"):
        I.get(3)


def test_register(monkeypatch, key):
    monkeypatch.setattr(I, "_REGISTRY", dict(I._REGISTRY))
    mine = I.constant(0.5)
    assert I.register("half", mine) is mine
    assert I.get("half") is mine and "half" in I.names()
    with pytest.raises(ValueError, match="already registered"):
        I.register("half", I.zeros)
    with pytest.raises(ValueError, match="already registered"):
        I.register("he_normal", I.zeros)
    I.register("half", I.zeros, overwrite=True)
    assert I.get("half") is I.zeros
    with pytest.raises(TypeError, match="non-empty string"):
        I.register("", I.zeros)
    with pytest.raises(TypeError, match="must be an initialiser"):
        I.register("thing", 3)


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "make,shape,error,match",
    [
        (I.glorot_normal, (5,), ValueError, "rank >= 2.*rank 1"),
        (I.he_uniform, (), ValueError, "rank >= 2.*rank 0"),
        (lambda: I.variance_scaling(1.0, "fan_in", "normal"), (3,), ValueError, "rank >= 2"),
        (I.orthogonal, (4,), ValueError, "orthogonal: needs a weight shape of rank >= 2"),
        (I.normal, (3, 0), ValueError, "positive"),
        (I.uniform, (-2, 3), ValueError, "positive"),
        (I.normal, (2.5, 3), TypeError, "shape must be an int or a tuple of ints"),
        (lambda: I.he_normal(in_axis=5), (3, 4), ValueError, "in_axis=\\(5,\\) is out of range"),
        (lambda: I.he_normal(in_axis=-1), (3, 4), ValueError, "distinct axes"),
        (lambda: I.lecun_normal(batch_axis=0), (3, 4), ValueError, "distinct axes"),
        (lambda: I.orthogonal(column_axis=2), (3, 4), ValueError, "column_axis"),
    ],
)
def test_bad_shapes(key, make, shape, error, match):
    with pytest.raises(error, match=match):
        make()(key, shape)


@pytest.mark.parametrize(
    "make,error,match",
    [
        (lambda: I.variance_scaling(1.0, "fan_median", "normal"), ValueError,
         "mode must be one of fan_in, fan_out, fan_avg, fan_geo_avg; got 'fan_median'"),
        (lambda: I.variance_scaling(1.0, "fan_in", "gaussian"), ValueError,
         "distribution must be one of normal, truncated_normal, uniform; got 'gaussian'"),
        (lambda: I.variance_scaling(-1.0, "fan_in", "normal"), ValueError, "scale must be"),
        (lambda: I.normal(-0.1), ValueError, "normal: stddev must be finite and >= 0"),
        (lambda: I.normal(float("nan")), ValueError, "stddev must be finite"),
        (lambda: I.truncated_normal(-1.0), ValueError, "truncated_normal: stddev"),
        (lambda: I.truncated_normal(1.0, lower=2.0, upper=-2.0), ValueError, "lower < upper"),
        (lambda: I.uniform(-0.5), ValueError, "uniform: scale must be finite and >= 0"),
        (lambda: I.orthogonal(-1.0), ValueError, "orthogonal: scale"),
        (lambda: I.normal("big"), TypeError, "stddev must be a real number"),
        (lambda: I.glorot_uniform(in_axis="a"), TypeError, "in_axis must be an int"),
        (lambda: I.normal(dtype=jnp.int32), ValueError, "real floating dtype, got int32"),
    ],
)  # fmt: skip
def test_bad_hyperparameters_fail_at_construction(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bad_dtype_or_key_at_call(key):
    with pytest.raises(ValueError, match="he_normal: dtype must be a real floating dtype"):
        I.he_normal()(key, (3, 4), jnp.int32)
    with pytest.raises(TypeError, match="key must be one PRNG key"):
        I.normal()(jnp.zeros(3), (3, 4))
    with pytest.raises(TypeError, match="jax.vmap the initialiser"):
        I.glorot_uniform()(jax.random.split(key, 4), (3, 4))
