"""Tests for jaxdl.diagnostics: hand-computed statistics on tiny models, vmap over stacked
params against a Python loop, gradient norms against jax.grad, PNG files, errors."""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import diagnostics, init, nn

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def close(a, b, rtol=1e-6, atol=1e-7):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def dense_params(w, b):
    return {"w": jnp.asarray(w, jnp.float32), "b": jnp.asarray(b, jnp.float32)}


def small_mlp():
    """Dense(4) -> relu -> Dense(3) -> tanh -> Dense(2), for 3 input features."""
    model = nn.serial(nn.Dense(4), nn.relu, nn.Dense(3), nn.tanh, nn.Dense(2))
    _, params, state = model.init(jax.random.key(0), (3,))
    x = jax.random.normal(jax.random.key(1), (16, 3))
    y = jax.random.randint(jax.random.key(2), (16,), 0, 2)
    return model, params, state, x, y


def stack(trees):
    return jax.tree.map(lambda *a: jnp.stack(a), *trees)


# ----------------------------------------------------------------------------- activations


def test_dead_fraction_mean_and_std_by_hand():
    model = nn.serial(nn.Dense(4), nn.relu)
    # unit 0 is always negative (dead), unit 1 always positive, unit 2 mixed, unit 3 exactly 0
    params = {"dense_0": dense_params([[-1, 1, 1, 0], [-1, 1, -1, 0]], [0, 0, 0, 0])}
    x = jnp.asarray([[1.0, 2.0], [2.0, 1.0], [3.0, 0.5]])
    stats = diagnostics.activation_stats(model, params, {}, x)
    assert list(stats) == ["dense_0", "relu_0"]
    relu = stats["relu_0"]
    y = np.maximum(np.asarray(x) @ np.asarray(params["dense_0"]["w"]), 0)  # unit 2: 0, 1, 2.5
    assert float(relu.dead) == 0.5  # units 0 and 3 of 4
    close(relu.mean, y.mean())
    close(relu.std, y.std(), rtol=1e-5)
    assert np.isnan(float(relu.saturated))  # saturation is for sigmoid and tanh kinds only
    assert np.isnan(float(stats["dense_0"].dead)) and np.isnan(float(stats["dense_0"].saturated))


def test_a_unit_alive_for_one_example_is_not_dead():
    model = nn.serial(nn.Dense(2), nn.relu)
    params = {"dense_0": dense_params([[1, 0]], [0, -1])}  # unit 1 is -1 for every input
    x = jnp.asarray([[-1.0], [-2.0], [0.5]])  # unit 0 fires only for the last example
    assert float(diagnostics.activation_stats(model, params, {}, x)["relu_0"].dead) == 0.5


def test_sigmoid_and_tanh_with_huge_weights_saturate_completely():
    for act in (nn.sigmoid, nn.tanh):
        model = nn.serial(nn.Dense(8, w_init=init.constant(1000.0)), act)
        _, params, state = model.init(jax.random.key(0), (3,))
        x = jnp.asarray([[0.1, 0.2, 0.3], [-0.1, -0.2, -0.3], [1.0, -0.5, 0.2]])
        stats = diagnostics.activation_stats(model, params, state, x)
        assert float(stats[f"{act.__name__}_0"].saturated) == 1.0


def test_saturation_thresholds_by_hand():
    p = jnp.asarray([[0.001, 0.005, 0.3, 0.5, 0.98, 0.995]])  # saturated: < 0.01 or > 0.99
    stats = diagnostics.activation_stats(nn.serial(nn.sigmoid), {}, {}, jnp.log(p / (1 - p)))
    close(stats["sigmoid_0"].saturated, 3 / 6)
    t = jnp.asarray([[-0.999, -0.5, 0.0, 0.95, 0.995]])  # saturated: |y| > 0.99
    stats = diagnostics.activation_stats(nn.serial(nn.tanh), {}, {}, jnp.arctanh(t))
    close(stats["tanh_0"].saturated, 2 / 5)


def test_histogram_matches_numpy_and_counts_every_output():
    model, params, state, x, _ = small_mlp()
    stats = diagnostics.activation_stats(model, params, state, x, bins=7)
    _, outputs = nn.intermediates(model, params, state, x)
    ranges = {"dense_0": (-3, 3), "relu_0": (0, 3), "dense_1": (-3, 3), "tanh_0": (-1, 1),
              "dense_2": (-3, 3)}
    for path, y in outputs.items():
        s = stats[path]
        lo, hi = ranges[path]
        assert int(s.histogram.sum()) == y.size  # batch * units: outside values are clipped in
        expected, edges = np.histogram(np.clip(np.asarray(y), lo, hi), bins=7, range=(lo, hi))
        np.testing.assert_array_equal(s.histogram, expected)
        close(s.edges, edges, rtol=1e-6, atol=1e-6)
        assert s.histogram.dtype == jnp.int32


def test_histogram_puts_values_on_and_beside_the_edges_where_numpy_does():
    model = nn.serial(nn.Dense(1))
    params = {"dense_0": dense_params([[1.0]], [0.0])}
    for bins, lo, hi in [(7, -3.0, 3.0), (20, -3.0, 3.0), (9, -0.3, 1.7)]:
        e = np.linspace(lo, hi, bins + 1).astype(np.float32)
        v = np.concatenate([e, np.nextafter(e, np.float32(-9)), np.nextafter(e, np.float32(9))])
        v = v[np.abs(v) > 1e-30]  # XLA on CPU flushes subnormals such as nextafter(0) to 0
        stats = diagnostics.activation_stats(model, params, {}, jnp.asarray(v)[:, None],
                                             bins=bins, range=(lo, hi))
        expected, _ = np.histogram(np.clip(v, lo, hi), bins=bins, range=(lo, hi))
        np.testing.assert_array_equal(stats["dense_0"].histogram, expected)


def test_histogram_ranges_from_arguments_and_nans_left_out():
    model = nn.serial(nn.Dense(2), nn.sigmoid)
    params = {"dense_0": dense_params([[1, 1]], [0, 0])}
    x = jnp.asarray([[-10.0], [0.5], [jnp.nan], [9.0]])
    stats = diagnostics.activation_stats(model, params, {}, x, bins=4, range=(-10, 10))
    np.testing.assert_array_equal(stats["dense_0"].histogram, [2, 0, 2, 2])  # NaN row dropped
    close(stats["sigmoid_0"].edges, [0, 0.25, 0.5, 0.75, 1])  # sigmoid keeps its bounds
    stats = diagnostics.activation_stats(model, params, {}, x, bins=2,
                                         range={"sigmoid": (0.4, 0.6)})
    close(stats["sigmoid_0"].edges, [0.4, 0.5, 0.6])
    close(stats["dense_0"].edges, [-3, 0, 3])


def test_nested_serial_paths_and_kinds():
    model = nn.serial(nn.Dense(3), nn.serial(nn.Dense(3), nn.relu), nn.sigmoid)
    _, params, state = model.init(jax.random.key(0), (2,))
    stats = diagnostics.activation_stats(model, params, state, jnp.ones((4, 2)))
    assert list(stats) == ["dense_0", "serial_0/dense_0", "serial_0/relu_0", "serial_0",
                           "sigmoid_0"]
    assert not np.isnan(float(stats["serial_0/relu_0"].dead))
    assert diagnostics.kind_of("serial_0/leaky_relu_12") == "leaky_relu"


def test_vmap_over_stacked_params_equals_a_python_loop():
    model, params, state, x, y = small_mlp()
    runs = [model.init(jax.random.key(seed), (3,))[1] for seed in range(3)]
    stacked = stack(runs)
    got = jax.jit(jax.vmap(lambda p: diagnostics.activation_stats(model, p, state, x)))(stacked)
    loop = stack([diagnostics.activation_stats(model, p, state, x) for p in runs])
    jax.tree.map(lambda a, b: close(a, b, rtol=1e-5, atol=1e-6), got, loop)
    assert got["relu_0"].histogram.shape == (3, 20)
    assert list(got) == ["dense_0", "relu_0", "dense_1", "tanh_0", "dense_2"]  # model order

    grads = jax.vmap(lambda p: diagnostics.gradient_stats(model, p, state, (x, y)))(stacked)
    loop = stack([diagnostics.gradient_stats(model, p, state, (x, y)) for p in runs])
    jax.tree.map(lambda a, b: close(a, b, rtol=1e-5, atol=1e-6), grads, loop)
    assert grads.first_to_last.shape == (3,)

    updates = jax.tree.map(lambda a: 1e-3 * a, stacked)
    ratios = jax.vmap(diagnostics.update_ratio)(stacked, updates)
    close(ratios["dense_1"], np.full(3, 1e-3), rtol=1e-5)


# ----------------------------------------------------------------------------- gradients


def test_gradient_norms_equal_jax_grad_by_hand():
    model, params, state, x, y = small_mlp()
    weight = jnp.asarray([1.0, 0.0] * 8)

    def loss(p):  # the same network and softmax cross-entropy, written out
        h = jax.nn.relu(x @ p["dense_0"]["w"] + p["dense_0"]["b"][None])
        h = jnp.tanh(h @ p["dense_1"]["w"] + p["dense_1"]["b"][None])
        logits = h @ p["dense_2"]["w"] + p["dense_2"]["b"][None]
        nll = -jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1)[:, 0]
        return jnp.sum(nll * weight) / jnp.sum(weight)

    grads = jax.grad(loss)(params)
    stats = diagnostics.gradient_stats(model, params, state, (x, y, weight))
    assert list(stats.norms) == ["dense_0", "dense_1", "dense_2"]  # biases (rank 1) left out
    for name in stats.norms:
        close(stats.norms[name], np.linalg.norm(np.asarray(grads[name]["w"])), rtol=1e-5)
    close(stats.first_to_last, np.linalg.norm(grads["dense_0"]["w"])
          / np.linalg.norm(grads["dense_2"]["w"]), rtol=1e-5)
    close(stats.loss, loss(params), rtol=1e-6)


def test_gradient_layers_follow_the_model_order_past_ten():
    model = nn.serial(*[nn.Dense(2) for _ in range(12)])
    _, params, state = model.init(jax.random.key(0), (2,))
    x = jnp.ones((4, 2))
    stats = diagnostics.gradient_stats(model, params, state, (x, jnp.zeros((4, 2))), loss="mse")
    assert list(stats.norms) == [f"dense_{i}" for i in range(12)]
    ratios = diagnostics.update_ratio(params, params)  # no model: natural order of the paths
    assert list(ratios) == [f"dense_{i}" for i in range(12)]


def test_update_ratio_by_hand():
    params = {"dense_0": dense_params(np.ones((2, 2)), [5, 5]),  # ||W|| = 2
              "block": {"dense_0": {"w": jnp.full((3, 3), 2.0)}}}  # ||W|| = 6
    updates = {"dense_0": dense_params(np.full((2, 2), -1e-3), [1, 1]),  # ||u|| = 2e-3
               "block": {"dense_0": {"w": jnp.full((3, 3), 0.02)}}}  # ||u|| = 0.06
    ratios = diagnostics.update_ratio(params, updates)
    close(ratios["dense_0"], 1e-3, rtol=1e-5)
    close(ratios["block/dense_0"], 0.01, rtol=1e-5)
    model = nn.serial(nn.Dense(2), nn.relu, nn.Dense(2))
    _, p, _ = model.init(jax.random.key(0), (2,))
    by_model = diagnostics.update_ratio(p, jax.tree.map(lambda a: 0.5 * a, p), model=model)
    close(jnp.stack(list(by_model.values())), [0.5, 0.5], rtol=1e-6)


# ----------------------------------------------------------------------------- plots


def is_png(path):
    data = path.read_bytes()
    return len(data) > len(PNG_MAGIC) and data.startswith(PNG_MAGIC)


def test_plot_activation_histograms_writes_a_png(tmp_path):
    model, params, state, x, _ = small_mlp()
    runs = [model.init(jax.random.key(seed), (3,))[1] for seed in range(2)]
    rows = [diagnostics.activation_stats(model, p, state, x) for p in runs]
    out = tmp_path / "grid.png"
    assert diagnostics.plot_activation_histograms(rows, out, ["seed 0", "seed 1"]) == out
    assert is_png(out)
    stacked = jax.vmap(lambda p: diagnostics.activation_stats(model, p, state, x))(stack(runs))
    out2 = tmp_path / "stacked.png"
    diagnostics.plot_activation_histograms(stacked, out2, ["a", "b"], layers=["relu", "tanh_0"],
                                 title="activations")
    assert is_png(out2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png", "stacked.png"]


def test_plot_gradient_norms_writes_a_png(tmp_path):
    model, params, state, x, y = small_mlp()
    stats = diagnostics.gradient_stats(model, params, state, (x, y))
    seeds = {"dense_0": jnp.asarray([0.1, 0.2, 0.3]), "dense_1": jnp.asarray([1.0, 2.0, 3.0])}
    out = tmp_path / "norms.png"
    assert diagnostics.plot_gradient_norms({"tanh": stats, "seeds": seeds}, out, title="t") == out
    assert is_png(out)


def test_plots_name_the_extra_when_matplotlib_is_missing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(ImportError, match=r"pip install jaxdl\[bench\]"):
        diagnostics.plot_gradient_norms({"a": {"dense_0": 1.0}}, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


# ----------------------------------------------------------------------------- errors


def test_errors_in_the_users_terms():
    model, params, state, x, y = small_mlp()
    with pytest.raises(ValueError, match="activation_stats: model must be a serial model"):
        diagnostics.activation_stats(nn.Dense(2), params, state, x)
    with pytest.raises(TypeError, match="must be a jaxdl.nn Layer"):
        diagnostics.activation_stats(lambda v: v, params, state, x)
    with pytest.raises(ValueError, match=r"leading batch axis.*got shape \(3,\)"):
        diagnostics.activation_stats(model, params, state, x[0])
    with pytest.raises(nn.LayerError, match="dense_0: Dense: expected input with 3 features"):
        diagnostics.activation_stats(model, params, state, jnp.ones((2, 5)))
    with pytest.raises(ValueError, match="bins must be a positive int"):
        diagnostics.activation_stats(model, params, state, x, bins=0)
    with pytest.raises(ValueError, match="low < high"):
        diagnostics.activation_stats(model, params, state, x, range=(1, 0))
    with pytest.raises(TypeError, match="params must be the model's params dict"):
        diagnostics.activation_stats(model, [params], state, x)
    with pytest.raises(ValueError, match="gradient_stats: losses.get: unknown loss 'hinge'.*"
                                         "cross_entropy"):
        diagnostics.gradient_stats(model, params, state, (x, y), loss="hinge")
    with pytest.raises(ValueError, match=r"batch must be \(x, y\) or \(x, y, weight\)"):
        diagnostics.gradient_stats(model, params, state, (x,))
    with pytest.raises(ValueError, match="one row per example"):
        diagnostics.gradient_stats(model, params, state, (x, y[:3]))
    with pytest.raises(ValueError, match="no weights"):
        diagnostics.gradient_stats(nn.serial(nn.relu), {}, {}, (x, y))
    with pytest.raises(ValueError, match="tree structure of params"):
        diagnostics.update_ratio(params, {"dense_0": params["dense_0"]})
    rows = [diagnostics.activation_stats(model, params, state, x)]
    with pytest.raises(ValueError, match="1 rows of stats but 2 row_labels"):
        diagnostics.plot_activation_histograms(rows, "unused.png", ["a", "b"])
    with pytest.raises(ValueError, match="no layer matches"):
        diagnostics.plot_activation_histograms(rows, "unused.png", ["a"], layers=["conv"])
