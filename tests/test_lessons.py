"""The lessons of the lecture notes on initialisation and activations, each measured.

Lesson 1: constant (zero) init never breaks the hidden units' symmetry.
Lesson 2: sigmoid activations saturate with N(0, 1) weights, collapse to 0.5 with
          N(0, 0.01), spread out with Xavier.
Lesson 3: ReLU activations shrink with depth under Xavier, keep their scale under He.
Lesson 4: gradients vanish toward the input of a deep sigmoid network, not with ReLU,
          leaky ReLU or ELU.

Every number quoted in a comment was measured with the fixed keys below (jax 0.10.2, CPU).
The thresholds leave a clear margin but fail if the lesson were false, e.g. with the schemes
swapped. Same-architecture variants run as one ``jax.vmap`` over stacked params, as a sweep
does.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import data, diagnostics, init, nn, optim, train


def stack(trees):
    return jax.tree.map(lambda *a: jnp.stack(a), *trees)


def reinit(params, initializer, key):
    """``params`` with every weight (leaf of rank >= 2) redrawn by ``initializer``."""
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    return jax.tree.unflatten(treedef, [
        initializer(k, leaf.shape) if leaf.ndim >= 2 else leaf for k, leaf in zip(keys, leaves)])


def deep(activation, depth, width=100):
    layers = []
    for _ in range(depth):
        layers += [nn.Dense(width), activation]
    return nn.serial(*layers)


def train_full_batch(model, params_list, x, y, steps=500, learning_rate=0.05):
    """Full-batch Adam from each of ``params_list`` (vmapped: one compile); train accuracy."""
    opt = optim.adam(learning_rate)
    step = train.make_train_step(model, "cross_entropy", opt)
    evaluate = train.make_eval_step(model, "cross_entropy")
    template = train.init_state(model, opt, jax.random.key(0), x.shape[1:])

    def run(params):
        ts = template._replace(params=params, opt_state=opt.init(params))
        ts, _ = jax.lax.scan(lambda t, _: step(t, (x, y)), ts, None, length=steps)
        return ts.params, evaluate(ts, (x, y))["accuracy"]

    return jax.jit(jax.vmap(run))(stack(params_list))


def test_lesson_1_constant_init_never_breaks_symmetry():
    # Measured: a 16-unit sigmoid MLP from all-zero weights stays at 0.5 train accuracy (on
    # balanced moons the output gradient sum_i (p_i - y_i) h is exactly 0: a saddle it never
    # leaves); from constant 0.5 weights it moves (max |w - 0.5| = 2.51) but every hidden unit
    # keeps the same incoming weights (max column difference 0.0), so it is a one-unit network
    # with a linear decision boundary: 0.865, exactly logistic regression's 0.865. Xavier
    # breaks the symmetry (column difference 12.8): 0.990.
    x, y = data.moons(jax.random.key(0), 400, noise=0.15)
    mlp = nn.serial(nn.Dense(16), nn.sigmoid, nn.Dense(2))
    _, params, _ = mlp.init(jax.random.key(1), (2,))
    schemes = [init.zeros, init.constant(0.5), init.glorot_normal()]
    trained, acc = train_full_batch(mlp, [reinit(params, s, jax.random.key(2)) for s in schemes],
                                    x, y)
    linear = nn.serial(nn.Dense(2))
    _, linear_params, _ = linear.init(jax.random.key(1), (2,))
    _, linear_acc = train_full_batch(linear, [linear_params], x, y)
    linear_acc = float(linear_acc[0])
    zero_acc, const_acc, xavier_acc = (float(a) for a in acc)
    print(f"lesson 1: zeros {zero_acc}, constant {const_acc}, xavier {xavier_acc}, "
          f"linear {linear_acc}")

    w = trained["dense_0"]["w"]  # (scheme, in, hidden): column j holds unit j's weights
    column_spread = jnp.max(jnp.abs(w - w[:, :, :1]), axis=(1, 2))
    print("lesson 1: column spread", column_spread, "moved", jnp.max(jnp.abs(w[1] - 0.5)))
    assert float(column_spread[0]) < 1e-6 and float(column_spread[1]) < 1e-6
    assert float(jnp.max(jnp.abs(w[1] - 0.5))) > 0.5  # trained, yet still symmetric
    assert float(column_spread[2]) > 0.1  # Xavier's units differ
    assert zero_acc <= linear_acc + 0.02 and const_acc <= linear_acc + 0.02
    assert xavier_acc >= linear_acc + 0.08


def test_lesson_2_sigmoid_saturates_collapses_or_spreads_with_the_init_scale():
    # Measured (5 x 100 sigmoid, 1000 N(0, 1) inputs, 10 bins), per layer:
    #   N(0, 1):    saturated 0.644 0.463 0.459 0.459 0.435; std 0.459 0.434 0.433 0.432 0.427;
    #               mass in the two end bins 0.826 0.727 0.720 0.718 0.694
    #   N(0, 0.01): std 0.0249 0.0106 0.0121 0.0134 0.0121 (last/first 0.49), means 0.499-0.501,
    #               all mass (1.000) in the 2 middle bins, saturated 0.0
    #   Xavier:     std 0.208 0.112 0.118 0.125 0.120, saturated 0.0, end bins 0.028 then 0.0
    x = jax.random.normal(jax.random.key(1), (1000, 100))
    model = deep(nn.sigmoid, 5)
    _, params, _ = model.init(jax.random.key(0), (100,))
    schemes = [init.normal(1.0), init.normal(0.01), init.glorot_normal()]
    stacked = stack([reinit(params, s, jax.random.key(0)) for s in schemes])
    stats = jax.vmap(lambda p: diagnostics.activation_stats(model, p, {}, x, bins=10))(stacked)
    sig = [stats[f"sigmoid_{i}"] for i in range(5)]
    saturated = np.stack([s.saturated for s in sig], 1)  # (scheme, layer)
    std = np.stack([s.std for s in sig], 1)
    hist = np.stack([s.histogram for s in sig], 1) / 100_000  # fractions
    ends, middle = hist[..., 0] + hist[..., -1], hist[..., 4] + hist[..., 5]
    print("lesson 2: saturated", saturated.round(3), "std", std.round(4), "ends", ends.round(3),
          "middle", middle.round(3), sep="\n")
    # N(0, 1): saturated in every layer, the histogram's mass at 0 and 1
    assert saturated[0].min() > 0.35 and ends[0].min() > 0.6 and std[0].min() > 0.38
    # N(0, 0.01): collapsed around 0.5, tiny and shrinking spread, nothing saturated
    assert std[1].max() < 0.03 and std[1, -1] < 0.7 * std[1, 0] and middle[1].min() > 0.99
    assert np.all(np.abs(np.stack([s.mean for s in sig], 1)[1] - 0.5) < 0.01)
    assert saturated[1].max() == 0.0
    # Xavier: in between, no saturation and no collapse in any layer
    assert saturated[2].max() < 0.02
    assert std[2].min() > 0.05 and std[2].max() < 0.3


def test_lesson_3_relu_needs_he_init_to_keep_its_scale():
    # Measured (5 x 100 ReLU, 1000 N(0, 1) inputs): activation std per layer
    #   Xavier: 0.583 0.386 0.265 0.189 0.141, last/first 0.242 (theory 2^-2 = 0.25), 0.702
    #           per layer (theory 1/sqrt(2) = 0.707)
    #   He:     0.824 0.772 0.751 0.754 0.799, last/first 0.969, 0.992 per layer
    x = jax.random.normal(jax.random.key(1), (1000, 100))
    model = deep(nn.relu, 5)
    _, params, _ = model.init(jax.random.key(0), (100,))
    schemes = [init.glorot_normal(), init.he_normal()]
    stacked = stack([reinit(params, s, jax.random.key(0)) for s in schemes])
    stats = jax.vmap(lambda p: diagnostics.activation_stats(model, p, {}, x))(stacked)
    std = np.stack([stats[f"relu_{i}"].std for i in range(5)], 1)
    ratio = std[:, -1] / std[:, 0]
    per_layer = ratio ** (1 / 4)
    print("lesson 3: std", std.round(3), "last/first", ratio, "per layer", per_layer)
    assert 0.15 < ratio[0] < 0.4  # Xavier: about 1/sqrt(2) per layer ...
    assert 0.62 < per_layer[0] < 0.8
    assert 0.7 < ratio[1] < 1.4  # ... He keeps the scale


def test_lesson_4_gradients_vanish_through_sigmoids_not_relus():
    # Measured (5 x 100 hidden layers + Dense(10), cross-entropy on 256 random N(0, 1)
    # inputs with random labels), ||dL/dW|| first / last layer:
    #   sigmoid (Xavier) 0.00058; norms 0.00052 0.0041 0.017 0.075 0.31 0.91, each layer's
    #     0.13-0.34 times the next (sigmoid' <= 1/4)
    #   ReLU (He) 0.232, leaky ReLU (He) 0.231, ELU (He) 0.557
    x = jax.random.normal(jax.random.key(1), (256, 100))
    y = jax.random.randint(jax.random.key(2), (256,), 0, 10)
    ratios, norms = {}, {}
    for name, act, w_init in [("sigmoid", nn.sigmoid, init.glorot_normal()),
                              ("relu", nn.relu, init.he_normal()),
                              ("leaky_relu", nn.leaky_relu, init.he_normal()),
                              ("elu", nn.elu, init.he_normal())]:
        model = nn.serial(deep(act, 5), nn.Dense(10))
        _, params, _ = model.init(jax.random.key(0), (100,))
        params = reinit(params, w_init, jax.random.key(0))
        stats = diagnostics.gradient_stats(model, params, {}, (x, y))
        ratios[name] = float(stats.first_to_last)
        norms[name] = np.asarray(list(stats.norms.values()))
    print("lesson 4: first/last", ratios, "norms", norms)
    assert ratios["sigmoid"] < 0.01
    assert np.all(norms["sigmoid"][:-1] / norms["sigmoid"][1:] < 0.5)  # shrinks every layer
    for name in ("relu", "leaky_relu", "elu"):
        assert 0.1 < ratios[name] < 10, name
