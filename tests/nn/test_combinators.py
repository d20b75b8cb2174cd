"""Combinators: child naming, threading of keys and state, branches, residuals, capture."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import nn


def test_serial_names_children_by_kind_and_skips_empty(key):
    model = nn.serial(nn.Dense(8), nn.relu, nn.BatchNorm(), nn.Dense(4), nn.relu, nn.Dense(2))
    out_shape, params, state = model.init(key, (3,))
    assert out_shape == (2,)
    assert list(params) == ["dense_0", "batch_norm_0", "dense_1", "dense_2"]
    assert list(state) == ["batch_norm_0"]
    assert params["dense_1"]["w"].shape == (8, 4)
    assert [name for name, _ in model.children] == [
        "dense_0", "relu_0", "batch_norm_0", "dense_1", "relu_1", "dense_2"]


def test_serial_equals_manual_composition(key):
    model = nn.serial(nn.Dense(5), nn.tanh, nn.Dense(2))
    _, params, state = model.init(key, (3,))
    x = jax.random.normal(jax.random.key(1), (4, 3))
    y, _ = model.apply(params, state, x)
    h = jnp.tanh(x @ params["dense_0"]["w"] + params["dense_0"]["b"][None])
    expected = h @ params["dense_1"]["w"] + params["dense_1"]["b"][None]
    np.testing.assert_allclose(y, expected, rtol=1e-6)


def test_serial_threads_batch_norm_state(key):
    model = nn.serial(nn.Dense(3), nn.BatchNorm(momentum=0.5))
    _, params, state = model.init(key, (2,))
    x = jax.random.normal(jax.random.key(1), (6, 2))
    _, new_state = model.apply(params, state, x, train=True)
    h = x @ params["dense_0"]["w"] + params["dense_0"]["b"][None]
    np.testing.assert_allclose(new_state["batch_norm_0"]["mean"], 0.5 * jnp.mean(h, 0), rtol=1e-5)


def test_serial_gives_each_dropout_its_own_key(key):
    model = nn.serial(nn.Dropout(0.5), nn.Dropout(0.5))
    _, params, state = model.init(key, (1000,))
    y, _ = model.apply(params, state, jnp.ones((1, 1000)), key=key, train=True)
    # two independent masks keep 1/4 of the units (scaled by 4); one shared mask would keep 1/2
    assert abs(float(jnp.mean(y > 0)) - 0.25) < 0.05
    assert float(jnp.max(y)) == pytest.approx(4.0)


def test_parallel_with_fan_out_and_fan_in(key):
    a, b = nn.Dense(2), nn.Dense(2)
    model = nn.serial(nn.fan_out(2), nn.parallel(a, b), nn.fan_in_sum())
    out_shape, params, state = model.init(key, (3,))
    assert out_shape == (2,)
    branch = params["parallel_0"]
    assert list(branch) == ["dense_0", "dense_1"]
    x = jax.random.normal(jax.random.key(1), (4, 3))
    y, _ = model.apply(params, state, x)
    ya, _ = a.apply(branch["dense_0"], {}, x)
    yb, _ = b.apply(branch["dense_1"], {}, x)
    np.testing.assert_allclose(y, ya + yb, rtol=1e-6)


def test_fan_in_concat_shapes(key):
    model = nn.serial(nn.fan_out(2), nn.parallel(nn.Dense(2), nn.Dense(5)), nn.fan_in_concat())
    out_shape, params, state = model.init(key, (3,))
    y, _ = model.apply(params, state, jnp.ones((7, 3)))
    assert out_shape == (7,) and y.shape == (7, 7)


def test_residual_adds_input(key):
    block = nn.residual(nn.Dense(3), nn.relu, nn.Dense(3))
    _, params, state = block.init(key, (3,))
    x = jax.random.normal(jax.random.key(1), (2, 3))
    y, _ = block.apply(params, state, x)
    body, _ = nn.serial(nn.Dense(3), nn.relu, nn.Dense(3)).apply(params, state, x)
    np.testing.assert_allclose(y, x + body, rtol=1e-6)


def test_residual_shape_mismatch(key):
    with pytest.raises(nn.LayerError, match=r"maps shape \(3,\) to \(4,\)"):
        nn.residual(nn.Dense(4)).init(key, (3,))


def test_fan_in_sum_shape_mismatch(key):
    model = nn.serial(nn.fan_out(2), nn.parallel(nn.Dense(2), nn.Dense(3)), nn.fan_in_sum())
    with pytest.raises(nn.LayerError, match="fan_in_sum_0: fan_in_sum: all inputs must have one"):
        model.init(key, (3,))


def test_nested_error_path(key):
    model = nn.serial(nn.Dense(4), nn.serial(nn.Dense(3), nn.Conv(2, 3)))
    with pytest.raises(nn.LayerError, match=r"serial_0/conv_0: Conv: expected one example"):
        model.init(key, (5,))


def test_intermediates_capture_every_output_by_path(key):
    inner = nn.serial(nn.Dense(4), nn.sigmoid)
    model = nn.serial(nn.Dense(6), nn.tanh, inner, nn.Dense(2))
    _, params, state = model.init(key, (3,))
    x = jax.random.normal(jax.random.key(1), (5, 3))
    y, outputs = nn.intermediates(model, params, state, x)
    assert list(outputs) == [
        "dense_0", "tanh_0", "serial_0/dense_0", "serial_0/sigmoid_0", "serial_0", "dense_1"]
    np.testing.assert_allclose(y, model.apply(params, state, x)[0], rtol=1e-6)
    np.testing.assert_allclose(outputs["tanh_0"], jnp.tanh(outputs["dense_0"]), rtol=1e-6)
    assert float(jnp.min(outputs["serial_0/sigmoid_0"])) > 0.0
    np.testing.assert_array_equal(outputs["dense_1"], y)


def test_intermediates_under_jit_and_vmap(key):
    model = nn.serial(nn.Dense(4), nn.relu, nn.Dense(2))
    keys = jax.random.split(key, 3)
    params = jax.vmap(lambda k: model.init(k, (3,))[1])(keys)
    x = jnp.ones((2, 3))
    _, outputs = jax.jit(jax.vmap(lambda p: nn.intermediates(model, p, {}, x)))(params)
    assert outputs["relu_0"].shape == (3, 2, 4)


def test_intermediates_needs_serial(key):
    with pytest.raises(nn.LayerError, match="expected a serial model"):
        nn.intermediates(nn.Dense(2), {}, {}, jnp.ones((1, 2)))
