"""Layers: announced shapes, hand-computed values, gradients, randomness, bad input."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxdl import nn


def _init_apply(layer, init_key, input_shape, batch=2, **apply_kwargs):
    out_shape, params, state = layer.init(init_key, input_shape)
    x = jax.random.normal(jax.random.key(1), (batch, *input_shape))
    y, new_state = layer.apply(params, state, x, **apply_kwargs)
    return out_shape, y, params, state, new_state


# ---------------------------------------------------------------- shapes announced == returned

CONV_GRID = list(
    itertools.product(
        [(7, 7, 3), (8, 5, 2)],  # input
        [1, 2, (3, 2)],  # kernel
        [1, 2, (2, 1)],  # strides
        ["SAME", "VALID", [(1, 0), (2, 1)]],  # padding
        [1, 2],  # dilation
    )
)


@pytest.mark.parametrize("input_shape,kernel,strides,padding,dilation", CONV_GRID)
def test_conv_shape_matches_announced(key, input_shape, kernel, strides, padding, dilation):
    layer = nn.Conv(4, kernel, strides, padding, dilation=dilation)
    out_shape, y, *_ = _init_apply(layer, key, input_shape)
    assert y.shape == (2, *out_shape)
    assert out_shape[-1] == 4


@pytest.mark.parametrize(
    "pool,input_shape,window,strides,padding",
    list(itertools.product(
        [nn.MaxPool, nn.AvgPool], [(6, 6, 2), (7, 5, 1)], [2, (3, 2)], [None, 1, 2],
        ["SAME", "VALID"],
    )),
)
def test_pool_shape_matches_announced(key, pool, input_shape, window, strides, padding):
    out_shape, y, *_ = _init_apply(pool(window, strides, padding), key, input_shape)
    assert y.shape == (2, *out_shape)


@pytest.mark.parametrize(
    "layer,input_shape",
    [
        (nn.Dense(5), (3,)),
        (nn.Dense(5), (4, 3)),
        (nn.Flatten(), (2, 3, 4)),
        (nn.Maxout(4, 3), (6,)),
        (nn.BatchNorm(), (5,)),
        (nn.BatchNorm(), (4, 4, 3)),
        (nn.LayerNorm(), (5,)),
        (nn.Dropout(0.5), (5,)),
        (nn.Identity(), (2, 2)),
        (nn.elementwise(jnp.tanh), (3,)),
        (nn.serial(nn.Conv(4, 3), nn.relu, nn.MaxPool(2), nn.Flatten(), nn.Dense(3)), (8, 8, 1)),
        (nn.residual(nn.Dense(3), nn.relu, nn.Dense(3)), (3,)),
        (nn.serial(nn.fan_out(2), nn.parallel(nn.Dense(2), nn.Dense(3)), nn.fan_in_concat()),
         (4,)),
    ],
)
def test_shape_matches_announced(key, layer, input_shape):
    out_shape, y, *_ = _init_apply(layer, key, input_shape, key=jax.random.key(2), train=True)
    assert y.shape == (2, *out_shape)


# ---------------------------------------------------------------- hand-computed values


def test_dense_hand_value(key):
    layer = nn.Dense(3)
    _, params, _ = layer.init(key, (2,))
    params = {"w": jnp.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), "b": jnp.array([0.5, 0, -1])}
    y, _ = layer.apply(params, {}, jnp.array([[1.0, 2.0]]))
    np.testing.assert_allclose(y, [[9.5, 12.0, 14.0]])


def test_dense_without_bias(key):
    _, params, _ = nn.Dense(3, use_bias=False).init(key, (2,))
    assert set(params) == {"w"}


def _conv_reference(x, w, stride):
    """A plain VALID cross-correlation, straight from the formula."""
    n, h, wd, c = x.shape
    kh, kw, _, o = w.shape
    oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    y = np.zeros((n, oh, ow, o))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            y[:, i, j, :] = np.einsum("nhwc,hwco->no", patch, w)
    return y


@pytest.mark.parametrize("stride", [1, 2])
def test_conv_matches_reference(key, stride):
    layer = nn.Conv(3, (2, 3), stride, "VALID")
    _, params, _ = layer.init(key, (5, 6, 2))
    x = jax.random.normal(jax.random.key(3), (2, 5, 6, 2))
    y, _ = layer.apply(params, {}, x)
    expected = _conv_reference(np.asarray(x), np.asarray(params["w"]), stride)
    np.testing.assert_allclose(y, expected + np.asarray(params["b"]), rtol=1e-5, atol=1e-5)


def test_conv_same_padding_hand_value(key):
    layer = nn.Conv(1, 3, padding="SAME", use_bias=False)
    _, params, _ = layer.init(key, (3, 3, 1))
    params = {"w": jnp.ones((3, 3, 1, 1))}
    y, _ = layer.apply(params, {}, jnp.ones((1, 3, 3, 1)))
    # sum of the 3x3 neighbourhood inside the image: corners 4, edges 6, centre 9
    np.testing.assert_allclose(y[0, :, :, 0], [[4, 6, 4], [6, 9, 6], [4, 6, 4]])


def test_pool_hand_values(key):
    x = jnp.arange(16.0).reshape(1, 4, 4, 1)
    y_max, _ = nn.MaxPool(2).apply({}, {}, x)
    y_avg, _ = nn.AvgPool(2).apply({}, {}, x)
    np.testing.assert_allclose(y_max[0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_allclose(y_avg[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])


def test_avg_pool_count_include_pad():
    x = jnp.ones((1, 3, 3, 1))
    with_pad, _ = nn.AvgPool(2, 2, "SAME").apply({}, {}, x)
    without_pad, _ = nn.AvgPool(2, 2, "SAME", count_include_pad=False).apply({}, {}, x)
    np.testing.assert_allclose(with_pad[0, :, :, 0], [[1, 0.5], [0.5, 0.25]])
    np.testing.assert_allclose(without_pad[0, :, :, 0], np.ones((2, 2)))


def test_flatten_hand_value():
    x = jnp.arange(12.0).reshape(2, 3, 2)
    y, _ = nn.Flatten().apply({}, {}, x)
    np.testing.assert_array_equal(y, np.arange(12.0).reshape(2, 6))


def test_maxout_hand_value(key):
    layer = nn.Maxout(2, 3)
    _, params, _ = layer.init(key, (1,))
    assert params["w"].shape == (3, 1, 2) and params["b"].shape == (3, 2)
    params = {"w": jnp.array([[[1.0, -1.0]], [[2.0, 0.0]], [[-3.0, 0.5]]]), "b": jnp.zeros((3, 2))}
    y, _ = layer.apply(params, {}, jnp.array([[1.0], [-1.0]]))
    # x=1: pieces (1,-1), (2,0), (-3,.5) -> (2, .5); x=-1: (-1,1), (-2,0), (3,-.5) -> (3, 1)
    np.testing.assert_allclose(y, [[2.0, 0.5], [3.0, 1.0]])


def test_layer_norm_hand_value(key):
    layer = nn.LayerNorm(eps=1e-6)
    _, params, _ = layer.init(key, (2,))
    y, _ = layer.apply(params, {}, jnp.array([[1.0, 3.0], [0.0, 10.0]]))
    np.testing.assert_allclose(y, [[-1.0, 1.0], [-1.0, 1.0]], rtol=1e-5)


def test_batch_norm_train_vs_eval_and_running_statistics(key):
    layer = nn.BatchNorm(momentum=0.9, eps=1e-6)
    _, params, state = layer.init(key, (2,))
    x = jnp.array([[1.0, 10.0], [3.0, 30.0]])  # means (2, 20), variances (1, 100)
    y, new_state = layer.apply(params, state, x, train=True)
    np.testing.assert_allclose(y, [[-1, -1], [1, 1]], rtol=1e-5)
    np.testing.assert_allclose(new_state["mean"], [0.2, 2.0], rtol=1e-6)
    np.testing.assert_allclose(new_state["var"], [0.9 + 0.1, 0.9 + 10.0], rtol=1e-6)
    # evaluation uses the running averages and leaves them unchanged
    y_eval, eval_state = layer.apply(params, new_state, x, train=False)
    expected = (np.asarray(x) - [0.2, 2.0]) / np.sqrt(np.array([1.0, 10.9]) + 1e-6)
    np.testing.assert_allclose(y_eval, expected, rtol=1e-5)
    assert eval_state is new_state


def test_batch_norm_scale_and_bias_apply(key):
    layer = nn.BatchNorm()
    _, params, state = layer.init(key, (1,))
    params = {"scale": jnp.array([2.0]), "bias": jnp.array([5.0])}
    y, _ = layer.apply(params, state, jnp.array([[-1.0], [1.0]]), train=True)
    np.testing.assert_allclose(y, [[3.0], [7.0]], rtol=1e-4)


def test_batch_norm_over_images_reduces_batch_and_space(key):
    layer = nn.BatchNorm(momentum=0.0)
    _, params, state = layer.init(key, (4, 4, 2))
    x = jax.random.normal(jax.random.key(5), (3, 4, 4, 2)) * 3.0 + 1.0
    y, new_state = layer.apply(params, state, x, train=True)
    np.testing.assert_allclose(jnp.mean(y, (0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(jnp.std(y, (0, 1, 2)), 1.0, rtol=1e-3)
    np.testing.assert_allclose(new_state["mean"], jnp.mean(x, (0, 1, 2)), rtol=1e-5)


# ---------------------------------------------------------------- dropout


def test_dropout_statistics(key):
    rate = 0.3
    x = jnp.ones((200, 500))
    y, _ = nn.Dropout(rate).apply({}, {}, x, key=key, train=True)
    dropped = float(jnp.mean(y == 0))
    assert abs(dropped - rate) < 0.01  # 100k Bernoulli draws: std 0.0014
    np.testing.assert_allclose(jnp.max(y), 1 / (1 - rate), rtol=1e-6)
    assert abs(float(jnp.mean(y)) - 1.0) < 0.02  # inverted dropout preserves the mean


def test_dropout_eval_is_identity_and_train_needs_key(key):
    x = jax.random.normal(key, (4, 3))
    y, _ = nn.Dropout(0.5).apply({}, {}, x)
    np.testing.assert_array_equal(y, x)
    with pytest.raises(nn.LayerError, match="train=True needs a PRNG key"):
        nn.Dropout(0.5).apply({}, {}, x, train=True)


def test_dropout_in_serial_names_the_layer_without_key(key):
    model = nn.serial(nn.Dense(3), nn.Dropout(0.1))
    _, params, state = model.init(key, (2,))
    with pytest.raises(nn.LayerError, match="dropout_0: Dropout: train=True needs a PRNG key"):
        model.apply(params, state, jnp.ones((1, 2)), train=True)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_rate_out_of_range(rate):
    with pytest.raises(nn.LayerError, match=r"drop probability and must be in \[0, 1\)"):
        nn.Dropout(rate)


def test_dropout_traced_rate_matches_python_rate(key):
    x = jnp.ones((4, 1000))
    python_rate, _ = nn.Dropout(0.25).apply({}, {}, x, key=key, train=True)
    traced, _ = jax.jit(lambda r: nn.Dropout(r).apply({}, {}, x, key=key, train=True))(
        jnp.float32(0.25))
    np.testing.assert_allclose(traced, python_rate, rtol=1e-6)


# ---------------------------------------------------------------- gradients, jit, vmap

GRAD_LAYERS = [
    (nn.Dense(3), (4,)),
    (nn.Conv(2, 2, padding="SAME"), (3, 3, 2)),
    (nn.Conv(2, (2, 1), 2, "VALID"), (4, 3, 1)),
    (nn.AvgPool(2), (4, 4, 1)),
    (nn.MaxPool(2), (4, 4, 1)),
    (nn.Maxout(3, 2), (4,)),
    (nn.LayerNorm(), (4,)),
    (nn.BatchNorm(), (4,)),
    (nn.serial(nn.Dense(4), nn.tanh, nn.Dense(2)), (3,)),
]


@pytest.mark.parametrize("layer,input_shape", GRAD_LAYERS)
def test_gradients_match_finite_differences(key, layer, input_shape):
    _, params, state = layer.init(key, input_shape)
    x = jax.random.normal(jax.random.key(7), (3, *input_shape), jnp.float32)

    def f(params, x):
        y, _ = layer.apply(params, state, x, train=True)
        return jnp.sum(jnp.sin(y))

    with jax.enable_x64(True):
        params64 = jax.tree.map(lambda a: a.astype(jnp.float64), params)
        state = jax.tree.map(lambda a: a.astype(jnp.float64), state)
        check_grads(f, (params64, x.astype(jnp.float64)), order=1, modes=["rev"])


@pytest.mark.parametrize("layer,input_shape", GRAD_LAYERS)
def test_jit_equals_eager(key, layer, input_shape):
    _, params, state = layer.init(key, input_shape)
    x = jax.random.normal(jax.random.key(7), (3, *input_shape))
    eager, _ = layer.apply(params, state, x)
    jitted, _ = jax.jit(layer.apply)(params, state, x)
    np.testing.assert_allclose(jitted, eager, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "layer,input_shape", [(lay, shape) for lay, shape in GRAD_LAYERS if "pool" not in lay.name]
)
def test_vmap_init_over_keys_gives_independent_models(layer, input_shape):
    keys = jax.random.split(jax.random.key(0), 4)
    params, state = jax.vmap(lambda k: layer.init(k, input_shape)[1:])(keys)
    x = jax.random.normal(jax.random.key(7), (3, *input_shape))
    ys, _ = jax.vmap(lambda p, s: layer.apply(p, s, x))(params, state)
    for i in range(4):
        p_i = jax.tree.map(lambda a, i=i: a[i], params)
        s_i = jax.tree.map(lambda a, i=i: a[i], state)
        single, _ = layer.apply(p_i, s_i, x)
        np.testing.assert_allclose(ys[i], single, rtol=1e-5, atol=1e-6)
    weights = [leaf for path, leaf in jax.tree_util.tree_leaves_with_path(params)
               if "'w'" in jax.tree_util.keystr(path)]
    for w in weights:  # independently initialised
        assert not np.allclose(w[0], w[1])


def test_dropout_under_scan_draws_new_masks(key):
    x = jnp.ones((1, 50))

    def body(carry, k):
        y, _ = nn.Dropout(0.5).apply({}, {}, x, key=k, train=True)
        return carry, y

    _, ys = jax.lax.scan(body, 0, jax.random.split(key, 3))
    assert not np.array_equal(ys[0], ys[1])


# ---------------------------------------------------------------- bad input


def test_dense_wrong_feature_size_names_shapes(key):
    _, params, _ = nn.Dense(3).init(key, (4,))
    with pytest.raises(nn.LayerError, match=r"expected input with 4 features.*got shape \(2, 5\)"):
        nn.Dense(3).apply(params, {}, jnp.ones((2, 5)))


def test_dense_missing_batch_axis(key):
    _, params, _ = nn.Dense(3).init(key, (4,))
    with pytest.raises(nn.LayerError, match="Add a leading batch axis"):
        nn.Dense(3).apply(params, {}, jnp.ones((4,)))


def test_error_is_raised_before_compiling_under_jit(key):
    model = nn.serial(nn.Dense(8), nn.relu, nn.Dense(2))
    _, params, state = model.init(key, (4,))
    with pytest.raises(nn.LayerError, match=r"dense_0: Dense: expected input with 4 features"):
        jax.jit(model.apply)(params, state, jnp.ones((2, 3)))


def test_conv_wrong_rank_and_channels(key):
    layer = nn.Conv(2, 3)
    with pytest.raises(nn.LayerError, match=r"expected one example of shape \(spatial, spatial"):
        nn.Conv(2, (3, 3)).init(key, (8, 8))
    _, params, _ = layer.init(key, (5, 5, 3))
    with pytest.raises(nn.LayerError, match="expected input with 3 channels"):
        layer.apply(params, {}, jnp.ones((1, 5, 5, 2)))


def test_conv_window_too_large(key):
    with pytest.raises(nn.LayerError, match="does not fit"):
        nn.Conv(2, 5, padding="VALID").init(key, (3, 3, 1))


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: nn.Dense(0), "features must be a positive int, got 0"),
        (lambda: nn.Dense(-3), "features must be a positive int, got -3"),
        (lambda: nn.Conv(4, 0), "kernel_size must be a positive int"),
        (lambda: nn.Conv(4, 3, strides=-1), "strides must be a positive int"),
        (lambda: nn.Conv(4, 3, padding="FULL"), "padding must be 'SAME', 'VALID'"),
        (lambda: nn.Maxout(3, 0), "pieces must be a positive int"),
        (lambda: nn.BatchNorm(momentum=1.5), r"momentum must be in \[0, 1\]"),
        (lambda: nn.serial(nn.Dense(2), 3), "expected a Layer or an activation function"),
    ],
)
def test_bad_constructor_arguments(make, match):
    with pytest.raises(nn.LayerError, match=match):
        make()


def test_unknown_initializer_name_lists_known_ones():
    with pytest.raises((KeyError, ValueError), match="glorot_uniform"):
        nn.Dense(3, w_init="glorot_uniforme")
