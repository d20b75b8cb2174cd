"""Tests for jaxdl.losses: optax.losses as oracle, hand-computed values, errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl import losses

RTOL, ATOL = 1e-5, 1e-6
SHAPES = [(5, 4), (2, 3, 7)]  # class axis last


def oracle(fn, *args, **kwargs):
    with jax.numpy_dtype_promotion("standard"):
        return fn(*args, **kwargs)


def close(a, b, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def rand(seed, shape, scale=1.0):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape) * scale, jnp.float32)


def int_labels(seed, shape, num_classes):
    return jnp.asarray(np.random.default_rng(seed).integers(0, num_classes, size=shape[:-1]))


def prob_labels(seed, shape):
    return jax.nn.softmax(rand(seed, shape, 2.0))


def all_finite(tree):
    return all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(tree))


def parity(ours, theirs, *args, argnums=(0,), rtol=RTOL, atol=ATOL, **kwargs):
    """Values and gradients (w.r.t. ``argnums``) of ours vs the optax oracle, one compile."""

    def both(*args):
        mine, ref = (lambda *a: ours(*a, **kwargs)), (lambda *a: oracle(theirs, *a, **kwargs))
        grads = [jax.grad(lambda *a, f=f: f(*a).sum(), argnums)(*args) for f in (mine, ref)]
        return mine(*args), ref(*args), grads

    out, ref, (grads, grads_ref) = jax.jit(both)(*args)
    assert all_finite((out, grads))
    close(out, ref, rtol, atol)
    for g, g_ref in zip(grads, grads_ref, strict=True):
        close(g, g_ref, rtol, atol)


def scaled(seed, shape, scales=(1.0, 30.0, 1e4)):
    """Random logits at several magnitudes, stacked on a new leading axis."""
    return jnp.stack([rand(seed, shape, s) for s in scales])


# ----------------------------------------------------------------------------- regression


@pytest.mark.parametrize("name", ["squared_error", "l2_loss", "huber_loss"])
def test_regression_matches_optax_values_and_grads(name):
    ours, theirs = getattr(losses, name), getattr(optax.losses, name)
    p, t = rand(0, (2, 3, 5), 2.0), rand(1, (2, 3, 5), 2.0)
    parity(ours, theirs, p, t, argnums=(0, 1))
    parity(ours, theirs, p[0])


def test_huber_delta_matches_optax():
    p, t = rand(2, (6, 5), 3.0), rand(3, (6, 5))
    for delta in (0.3, 2.5):
        parity(losses.huber_loss, optax.losses.huber_loss, p, t, delta=delta)
    g = jax.grad(lambda p: losses.huber_loss(p, t, delta=0.3).sum())(p)
    close(g, jnp.clip(p - t, -0.3, 0.3))  # the gradient is the clipped error


def test_regression_hand_values():
    p, t = jnp.array([3.0, -1.0, 0.5]), jnp.array([1.0, 1.0, 0.0])
    close(losses.squared_error(p, t), [4.0, 4.0, 0.25])
    close(losses.l2_loss(p, t), [2.0, 2.0, 0.125])
    # |e| = 2 > 1: 1 * (2 - 0.5) = 1.5; |e| = 0.5 <= 1: 0.5 * 0.25 = 0.125
    close(losses.huber_loss(p, t), [1.5, 1.5, 0.125])
    close(losses.huber_loss(p, t, delta=3.0), [2.0, 2.0, 0.125])
    close(losses.squared_error(p, 1.0), [4.0, 4.0, 0.25])  # scalar target


def test_huber_delta_is_traceable_under_vmap():
    p = jnp.array([0.5, -4.0])
    out = jax.jit(jax.vmap(lambda d: losses.huber_loss(p, delta=d)))(jnp.array([1.0, 2.0]))
    close(out, [[0.125, 3.5], [0.125, 6.0]])


# ----------------------------------------------------------------------------- cross-entropy


@pytest.mark.parametrize("shape", SHAPES)
def test_softmax_cross_entropy_matches_optax(shape):
    x = scaled(4, shape)
    onehot = jax.nn.one_hot(int_labels(6, x.shape, shape[-1]), shape[-1])
    for y in (prob_labels(5, x.shape), onehot):
        parity(losses.softmax_cross_entropy, optax.losses.softmax_cross_entropy, x, y,
               argnums=(0, 1))


@pytest.mark.parametrize("shape", SHAPES)
def test_integer_cross_entropy_matches_optax_and_one_hot(shape):
    x, y = scaled(7, shape), int_labels(8, (3,) + shape, shape[-1])
    parity(losses.softmax_cross_entropy_with_integer_labels,
           optax.losses.softmax_cross_entropy_with_integer_labels, x, y)
    close(losses.softmax_cross_entropy(x, losses.one_hot(y, shape[-1])),
          losses.softmax_cross_entropy_with_integer_labels(x, y))


@pytest.mark.parametrize("axis", [0, (1, 2), (0, 2)])
def test_cross_entropy_axis_matches_optax(axis):
    x = rand(9, (3, 4, 5))
    axes = (axis,) if isinstance(axis, int) else axis
    batch = tuple(d for a, d in enumerate(x.shape) if a not in axes)
    c = math.prod(x.shape[a] for a in axes)
    y = jnp.asarray(np.random.default_rng(10).integers(0, c, size=batch))
    parity(losses.softmax_cross_entropy_with_integer_labels,
           optax.losses.softmax_cross_entropy_with_integer_labels, x, y, axis=axis)
    p = jax.nn.softmax(rand(11, x.shape), axis=axes)
    parity(losses.softmax_cross_entropy, optax.losses.softmax_cross_entropy, x, p, axis=axis)


def test_cross_entropy_where_matches_optax():
    x, y = rand(12, (4, 5)), jnp.array([0, 3, 2, 4])
    p = jax.nn.one_hot(y, 5)
    class_mask = jnp.asarray(np.random.default_rng(13).random((4, 5)) > 0.3)
    class_mask = class_mask.at[:, 0].set(True).at[3].set(False)  # row 3: nothing included
    example_mask = jnp.array([True, False, True, True])
    for where in (class_mask, example_mask):
        parity(lambda x, y: losses.softmax_cross_entropy_with_integer_labels(x, y, where=where),
               lambda x, y: optax.losses.softmax_cross_entropy_with_integer_labels(
                   x, y, where=where), x, y)
        parity(lambda x, p: losses.softmax_cross_entropy(x, p, where=where),
               lambda x, p: optax.losses.softmax_cross_entropy(x, p, where=where), x, p)
    out = losses.softmax_cross_entropy_with_integer_labels(x, y, where=example_mask)
    assert float(out[1]) == 0.0 and float(out[0]) > 0.0


def test_cross_entropy_hand_values():
    x = jnp.array([[0.0, 0.0], [math.log(3.0), 0.0]])
    close(losses.softmax_cross_entropy_with_integer_labels(x, jnp.array([0, 1])),
          [math.log(2.0), math.log(4.0)])
    close(losses.softmax_cross_entropy(x, jnp.array([[0.5, 0.5], [1.0, 0.0]])),
          [math.log(2.0), math.log(4.0 / 3.0)])


def test_extreme_logits_are_finite_with_finite_grads():
    x = jnp.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0], [-1e4, -1e4, -1e4]])
    y = jnp.array([1, 1, 2])
    z, t = jnp.array([1e4, -1e4, 1e4, -1e4]), jnp.array([0.0, 1.0, 1.0, 0.0])
    fns = {"int": lambda x: losses.softmax_cross_entropy_with_integer_labels(x, y),
           "hot": lambda x: losses.softmax_cross_entropy(x, losses.one_hot(y, 3)),
           "bce": lambda z: losses.sigmoid_binary_cross_entropy(z, t)}
    run = jax.jit(lambda x, z: {k: (f(a), jax.grad(lambda a, f=f: f(a).sum())(a))
                                for (k, f), a in zip(fns.items(), (x, x, z), strict=True)})
    out = run(x, z)
    assert all_finite(out)
    ulp = float(np.spacing(np.float32(1e4)))  # float32 resolution of logsumexp near -1e4
    close(out["int"][0], [2e4, 0.0, math.log(3.0)], atol=ulp)
    close(out["hot"][0], [2e4, 0.0, math.log(3.0)], atol=ulp)
    close(out["int"][1], out["hot"][1])
    close(out["int"][1][1], [0.0, 0.0, 0.0])  # softmax(x) - onehot(y) for a confident row
    close(out["bce"][0], [1e4, 1e4, 0.0, 0.0])
    close(out["bce"][1], [1.0, -1.0, 0.0, 0.0])  # d/dz = sigmoid(z) - t


def test_minus_inf_logit_with_zero_label_is_ignored():
    x, p = jnp.array([[0.0, -jnp.inf, 1.0]]), jnp.array([[1.0, 0.0, 0.0]])
    expected = math.log(1.0 + math.e)  # cross-entropy over the two finite classes

    @jax.jit
    def run(x):
        f = lambda x: losses.softmax_cross_entropy(x, p).sum()
        return f(x), losses.softmax_cross_entropy_with_integer_labels(x, jnp.array([0])), \
            jax.grad(f)(x)

    hot, integer, g = run(x)
    close(hot, expected)
    close(integer, [expected])
    close(g, [[1 / (1 + math.e) - 1.0, 0.0, math.e / (1 + math.e)]])


def test_out_of_range_labels():
    x = rand(14, (3, 4))
    for bad in (4, -1):
        with pytest.raises(ValueError, match=rf"\[0, 4\).*got {bad} at index \(1,\)"):
            losses.softmax_cross_entropy_with_integer_labels(x, jnp.array([0, bad, 1]))
    with pytest.raises(ValueError, match=r"\[0, 3\).*got 3"):
        losses.one_hot(jnp.array([0, 3]), 3)
    with pytest.raises(ValueError, match=r"\[0, 4\).*got 9"):
        losses.accuracy(x, jnp.array([0, 9, 1]))
    # Traced labels cannot be checked: the bad example's loss is NaN, the others are exact.
    y = jnp.array([0, 7, -2])
    f = jax.jit(losses.softmax_cross_entropy_with_integer_labels)
    out = f(x, y)
    good = losses.softmax_cross_entropy_with_integer_labels(x[:1], y[:1])
    close(out[0], good[0])
    assert bool(jnp.isnan(out[1])) and bool(jnp.isnan(out[2]))
    assert all_finite(jax.grad(lambda x: f(x, y)[0] + f(x, y)[1])(x))
    masked = jax.jit(lambda x, y, w: losses.softmax_cross_entropy_with_integer_labels(
        x, y, where=w))(x, y, jnp.array([True, False, False]))
    close(masked, [good[0], 0.0, 0.0])
    close(jax.jit(losses.one_hot, static_argnums=1)(jnp.array([1, 5]), 3),
          [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])


# ----------------------------------------------------------------------------- sigmoid


def test_sigmoid_bce_matches_optax():
    x = scaled(15, (4, 3), (1.0, 50.0, 1e4))
    for y in (jnp.asarray(np.random.default_rng(16).random(x.shape), jnp.float32),
              jnp.asarray(np.random.default_rng(17).integers(0, 2, x.shape), jnp.float32)):
        parity(losses.sigmoid_binary_cross_entropy, optax.losses.sigmoid_binary_cross_entropy,
               x, y, argnums=(0, 1), atol=1e-5)


def test_sigmoid_bce_hand_values_and_integer_labels():
    x = jnp.array([0.0, math.log(3.0), math.log(3.0)])
    out = losses.sigmoid_binary_cross_entropy(x, jnp.array([1, 1, 0]))
    close(out, [math.log(2.0), math.log(4.0 / 3.0), math.log(4.0)])


# ----------------------------------------------------------------------------- smoothing, one-hot


def test_smooth_labels_matches_optax_and_sums_to_one():
    y = jax.nn.one_hot(jnp.array([0, 3, 2]), 5)
    for alpha in (0.0, 0.1, 0.7):
        s = losses.smooth_labels(y, alpha)
        close(s, oracle(optax.losses.smooth_labels, y, alpha))
        close(s.sum(-1), jnp.ones(3))
    w = jnp.ones((3, 5), bool).at[0, 4].set(False)
    close(losses.smooth_labels(y, 0.2, where=w), oracle(optax.losses.smooth_labels, y, 0.2,
                                                        where=w))
    close(losses.smooth_labels(jnp.array([1.0, 0.0, 0.0, 0.0]), 0.2), [0.85, 0.05, 0.05, 0.05])
    grid = jax.jit(jax.vmap(lambda a: losses.smooth_labels(y, a)))(jnp.array([0.0, 0.5]))
    close(grid[0], y)
    close(grid[1, 0], [0.6, 0.1, 0.1, 0.1, 0.1])


def test_narrow_integer_labels_with_many_classes():
    x, y = rand(23, (2, 300)), jnp.array([7, 250], jnp.uint8)
    ref = oracle(optax.losses.softmax_cross_entropy_with_integer_labels, x, y.astype(jnp.int32))
    close(losses.softmax_cross_entropy_with_integer_labels(x, y), ref)
    close(losses.one_hot(y, 300), jax.nn.one_hot(y.astype(jnp.int32), 300))


def test_one_hot_matches_jax_nn():
    y = jnp.array([[0, 2], [1, 1]], jnp.int8)
    out = losses.one_hot(y, 3)
    close(out, jax.nn.one_hot(y, 3))
    assert out.shape == (2, 2, 3) and out.dtype == jnp.float32
    assert losses.one_hot(y, 3, dtype=jnp.int32).dtype == jnp.int32


def test_dtype_is_preserved():
    x = rand(18, (3, 4)).astype(jnp.bfloat16)
    y = jnp.array([0, 1, 3])
    assert losses.softmax_cross_entropy_with_integer_labels(x, y).dtype == jnp.bfloat16
    assert losses.squared_error(x, jnp.zeros((3, 4))).dtype == jnp.bfloat16


# ----------------------------------------------------------------------------- metrics


def test_accuracy():
    x = jnp.array([[2.0, 1.0, 0.0], [0.0, 1.0, 3.0], [5.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    y = jnp.array([0, 2, 1, 2])  # 3 of 4 right
    assert float(losses.accuracy(x, y)) == 0.75
    assert float(losses.accuracy(x, jax.nn.one_hot(y, 3))) == 0.75
    assert float(losses.accuracy(jax.nn.softmax(x), y)) == 0.75
    assert float(losses.accuracy(x, y, where=jnp.array([True, True, False, True]))) == 1.0
    assert float(jax.jit(losses.accuracy)(x, y)) == 0.75


def test_binary_accuracy():
    x = jnp.array([2.0, -1.0, 0.5, -3.0])
    assert float(losses.binary_accuracy(x, jnp.array([1, 0, 0, 0]))) == 0.75
    assert float(losses.binary_accuracy(x, jnp.array([True, False, True, False]))) == 1.0
    assert float(losses.binary_accuracy(x, jnp.array([0.9, 0.2, 0.4, 0.1]))) == 0.75
    grid = jax.vmap(lambda t: losses.binary_accuracy(x, jnp.array([1, 0, 0, 0]), t))
    close(grid(jnp.array([0.0, 1.0])), [0.75, 1.0])
    w = jnp.array([True, True, False, True])
    assert float(losses.binary_accuracy(x, jnp.array([1, 0, 0, 0]), where=w)) == 1.0


# ----------------------------------------------------------------------------- l2 penalty


def _params():
    return {"dense": {"w": jnp.array([[1.0, 2.0], [3.0, -1.0]]), "b": jnp.array([5.0, 6.0])},
            "norm": {"scale": jnp.array([7.0, 7.0]), "offset": jnp.array([1.0, 1.0])},
            "conv": {"w": jnp.ones((1, 1, 2, 3)), "b": jnp.zeros(3)}}


def test_l2_penalty_default_mask_excludes_biases_and_norms():
    params = _params()
    close(losses.l2_penalty(params), 0.5 * (1 + 4 + 9 + 1 + 6))
    g = jax.grad(losses.l2_penalty)(params)
    close(g["dense"]["w"], params["dense"]["w"])  # d/dw 0.5 w^2 = w
    close(g["conv"]["w"], params["conv"]["w"])
    for leaf in (g["dense"]["b"], g["norm"]["scale"], g["norm"]["offset"], g["conv"]["b"]):
        close(leaf, jnp.zeros_like(leaf))


def test_l2_penalty_vmaps_over_stacked_params():
    stacked = {"w": jnp.stack([jnp.ones((2, 2)), 2.0 * jnp.ones((2, 2))]), "b": jnp.ones((2, 3))}
    close(jax.jit(jax.vmap(losses.l2_penalty))(stacked), [2.0, 8.0])  # per member, bias excluded


def test_l2_penalty_masks():
    params = _params()
    everything = losses.l2_penalty(params, mask=lambda p: jax.tree.map(lambda _: True, p))
    close(everything, 0.5 * (15 + 6 + 25 + 36 + 98 + 2))
    mask = jax.tree.map(lambda _: False, params)
    mask["dense"]["b"] = True
    close(losses.l2_penalty(params, mask), 0.5 * (25 + 36))
    close(losses.l2_penalty({}), 0.0)


def test_l2_penalty_mask_errors():
    params = _params()
    with pytest.raises(ValueError, match=r"(?s)tree structure.*params: PyTreeDef.*mask: +PyTree"):
        losses.l2_penalty(params, mask={"dense": {"w": True}})
    mask = jax.tree.map(lambda _: True, params)
    mask["dense"]["w"] = jnp.array(True)
    with pytest.raises(TypeError, match=r"Python bools.*\['dense'\]\['w'\]"):
        losses.l2_penalty(params, mask)
    with pytest.raises(TypeError, match=r"params\['step'\].*floating"):
        losses.l2_penalty({"step": jnp.zeros((2, 2), jnp.int32)})


# ----------------------------------------------------------------------------- get


def test_get_returns_per_example_losses():
    x, p = rand(19, (4, 3, 5)), rand(20, (4, 3, 5))
    y = int_labels(21, (4, 3, 5), 5)
    t = (p > 0).astype(jnp.float32)
    cases = {  # name: (targets, unreduced loss)
        "mse": (p, losses.squared_error),
        "squared_error": (p, losses.squared_error),
        "cross_entropy": (y, losses.softmax_cross_entropy_with_integer_labels),
        "binary_cross_entropy": (t, losses.sigmoid_binary_cross_entropy),
        "huber": (p, losses.huber_loss),
        "l2": (p, losses.l2_loss),
    }
    run = jax.jit(lambda x: {name: (losses.get(name)(x, tgt), fn(x, tgt))
                             for name, (tgt, fn) in cases.items()})
    for name, (per_example, unreduced) in run(x).items():
        assert per_example.shape == (4,), name
        close(per_example, np.mean(np.asarray(unreduced).reshape(4, -1), axis=1))
    hot = jax.nn.one_hot(y, 5)
    close(losses.cross_entropy(x, hot), run(x)["cross_entropy"][0])  # one-hot labels too
    close(losses.get("l2")(x[:, 0, 0], p[:, 0, 0]), losses.l2_loss(x[:, 0, 0], p[:, 0, 0]))
    assert losses.get("squared_error") is losses.mean_squared_error
    custom = lambda a, b: a - b
    assert losses.get(custom) is custom


def test_get_errors():
    with pytest.raises(ValueError, match="unknown loss 'mae'.*cross_entropy.*mse"):
        losses.get("mae")
    with pytest.raises(TypeError, match="loss name or a callable"):
        losses.get(3)


# ----------------------------------------------------------------------------- input errors


def test_bad_inputs_raise_clear_errors():
    x = rand(22, (3, 4))
    ce_int = losses.softmax_cross_entropy_with_integer_labels
    with pytest.raises(TypeError, match="integer class indices.*got dtype float32.*"
                                        "softmax_cross_entropy"):
        ce_int(x, jnp.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"`labels` must have shape \(3,\).*got \(3, 1\)"):
        ce_int(x, jnp.array([[0], [1], [2]]))
    with pytest.raises(ValueError, match=r"shape \(3, 4\).*got \(3,\).*integer class indices"):
        losses.softmax_cross_entropy(x, jnp.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"shape \(3, 4\).*got \(3, 5\)"):
        losses.softmax_cross_entropy(x, jnp.zeros((3, 5)))
    with pytest.raises(TypeError, match="`logits` must be a floating-point array"):
        ce_int(jnp.zeros((3, 4), jnp.int32), jnp.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"`where` must have the logits' shape \(3, 4\).*\(3,\)"):
        ce_int(x, jnp.array([0, 1, 2]), where=jnp.ones((4,), bool))
    with pytest.raises(ValueError, match="out of range for an array of rank 2"):
        ce_int(x, jnp.array([0, 1, 2]), axis=2)
    with pytest.raises(ValueError, match=r"`targets` must have shape \(3, 1\).*got \(3,\)"):
        losses.squared_error(jnp.zeros((3, 1)), jnp.zeros(3))
    with pytest.raises(ValueError, match="num_classes` must be positive, got 0"):
        losses.one_hot(jnp.array([0]), 0)
    with pytest.raises(TypeError, match="num_classes` must be a Python int"):
        losses.one_hot(jnp.array([0]), 2.0)
    with pytest.raises(TypeError, match="one_hot: `labels` must be integer"):
        losses.one_hot(jnp.array([0.0]), 2)
    with pytest.raises(ValueError, match=r"alpha` must lie in \[0, 1\], got 1.5"):
        losses.smooth_labels(jnp.eye(3), 1.5)
    with pytest.raises(ValueError, match="delta` must be positive, got 0"):
        losses.huber_loss(x, delta=0.0)
    with pytest.raises(ValueError, match=r"accuracy: `labels` must have shape \(3,\)"):
        losses.accuracy(x, jnp.array([0, 1]))
    # Errors come from the static shapes, also while tracing under jit.
    with pytest.raises(TypeError, match="integer class indices"):
        jax.jit(ce_int)(x, jnp.array([0.0, 1.0, 2.0]))
