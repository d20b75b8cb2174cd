"""Parity harness shared by the optimizer tests: jaxdl against optax, step by step."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdl.optim as jo


def params_tree(dtype=jnp.float32):
    """A params tree with leaves of several shapes, a scalar among them."""
    k = jax.random.split(jax.random.key(42), 4)
    return {
        "dense": {"w": jax.random.normal(k[0], (5, 3), dtype), "b": jnp.zeros((3,), dtype)},
        "conv": {"kernel": jax.random.normal(k[1], (2, 2, 1, 4), dtype)},
        "scale": jnp.asarray(0.5, dtype),
        "vec": jax.random.normal(k[2], (7,), dtype),
    }


def gradient_stream(params, steps, seed=1):
    """``steps`` fresh gradients shaped like ``params`` (a new draw every step), cached by the
    tree's structure, shapes and dtypes so each distinct stream is drawn once per session."""
    signature = (jax.tree.structure(params),
                 tuple((x.shape, str(x.dtype)) for x in jax.tree.leaves(params)), steps, seed)
    if signature not in _STREAMS:
        _STREAMS[signature] = _draw_stream(params, steps, seed)
    return _STREAMS[signature]


_STREAMS: dict = {}


def _draw_stream(params, steps, seed):
    keys = jax.random.split(jax.random.key(seed), steps)
    leaves, treedef = jax.tree.flatten(params)

    def one(k):
        ks = jax.random.split(k, len(leaves))
        draws = [jax.random.normal(kk, x.shape, jnp.float32) for kk, x in zip(ks, leaves)]
        return treedef.unflatten([d.astype(x.dtype) for d, x in zip(draws, leaves)])

    stacked = jax.device_get(jax.jit(jax.vmap(one))(keys))  # one compile, then host slicing
    return [jax.tree.map(lambda x, i=i: jnp.asarray(x[i]), stacked) for i in range(steps)]


def assert_trees_close(a, b, rtol, atol, what=""):
    la, ta = jax.tree.flatten(a)
    lb, tb = jax.tree.flatten(b)
    assert ta == tb, f"{what}: tree structures differ: {ta} vs {tb}"
    for x, y in zip(la, lb):
        assert x.dtype == y.dtype, f"{what}: dtype {x.dtype} vs {y.dtype}"
        np.testing.assert_allclose(
            np.asarray(x, np.float32), np.asarray(y, np.float32), rtol=rtol, atol=atol, err_msg=what
        )


def check_parity(ours, theirs, *, steps=100, dtype=jnp.float32, rtol=1e-5, atol=1e-6,
                 params=None):
    """Runs both transformations on the same gradient stream, jitted; compares every update
    and the final params. Returns the largest relative difference seen in the final params."""
    import optax

    p_ours = p_theirs = params_tree(dtype) if params is None else params
    grads = gradient_stream(p_ours, steps)
    s_ours = ours.init(p_ours)
    with jax.numpy_dtype_promotion("standard"):
        s_theirs = theirs.init(p_theirs)
    step_ours = jax.jit(ours.update)
    step_theirs = jax.jit(theirs.update)
    for i, g in enumerate(grads):
        u_ours, s_ours = step_ours(g, s_ours, p_ours)
        with jax.numpy_dtype_promotion("standard"):
            u_theirs, s_theirs = step_theirs(g, s_theirs, p_theirs)
            p_theirs = optax.apply_updates(p_theirs, u_theirs)
        assert_trees_close(u_ours, u_theirs, rtol, atol, what=f"updates at step {i}")
        p_ours = jo.apply_updates(p_ours, u_ours)
    assert_trees_close(p_ours, p_theirs, rtol, atol, what="params after the last step")
    return max(
        float(np.max(np.abs(np.asarray(x, np.float32) - np.asarray(y, np.float32))
                     / (np.abs(np.asarray(y, np.float32)) + atol)))
        for x, y in zip(jax.tree.leaves(p_ours), jax.tree.leaves(p_theirs))
    )


@pytest.fixture
def parity():
    """``parity(ours, theirs, steps=100, dtype=float32, rtol=1e-5, atol=1e-6)``."""
    return check_parity
