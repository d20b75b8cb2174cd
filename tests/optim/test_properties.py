"""Property tests: optimizers keep a params tree's structure, shapes and dtypes.

Random nested trees of dicts, lists and tuples, with random shapes (scalars included) and
dtypes (float32, bfloat16), go through ``init``, two ``update``s and ``apply_updates``.
Everything runs eagerly (no ``jit``), so new shapes cost no compile.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxdl.optim as jo

OPTIMIZERS = {
    "sgd": lambda: jo.sgd(0.1, momentum=0.9),
    "adam": lambda: jo.adam(1e-2),
    "adamw": lambda: jo.adamw(1e-2, weight_decay=0.1),
    "lion": lambda: jo.lion(1e-3),
    "rmsprop": lambda: jo.rmsprop(1e-2, centered=True, momentum=0.9),
    "adafactor": lambda: jo.adafactor(1e-2, min_dim_size_to_factor=2, weight_decay_rate=1e-3),
    "adafactor-momentum": lambda: jo.adafactor(1e-2, min_dim_size_to_factor=2, momentum=0.9),
}
# Updates come out in the params' dtype, except where the user asked for a wider accumulator
# that the update is read from: adafactor's momentum buffer is float32 by default
# (``dtype_momentum``), and its update is that buffer, as in optax. apply_updates then rounds
# to the params' dtype once.
UPDATE_DTYPE = {"adafactor-momentum": jnp.float32}

shapes = st.lists(st.sampled_from([1, 3]), min_size=0, max_size=3).map(tuple)
dtypes = st.sampled_from([jnp.float32, jnp.bfloat16])


@st.composite
def leaves(draw):
    shape, dtype, seed = draw(shapes), draw(dtypes), draw(st.integers(0, 2**16))
    values = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    return jnp.asarray(values, dtype)


names = st.text("abcdefgh", min_size=1, max_size=3)
trees = st.recursive(
    leaves(),
    lambda children: st.one_of(
        st.dictionaries(names, children, min_size=1, max_size=3),
        st.lists(children, min_size=1, max_size=3),
        st.lists(children, min_size=1, max_size=3).map(tuple),
    ),
    max_leaves=6,
)


def signature(tree):
    """Tree structure plus each leaf's shape and dtype."""
    return jax.tree.structure(tree), [(x.shape, x.dtype) for x in jax.tree.leaves(tree)]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@settings(max_examples=25, deadline=None)
@given(params=trees, grad_seed=st.integers(0, 2**16))
def test_structure_shapes_and_dtypes_survive_a_step(name, params, grad_seed):
    opt = OPTIMIZERS[name]()
    rng = np.random.default_rng(grad_seed)
    state = opt.init(params)
    for _ in range(2):
        grads = jax.tree.map(
            lambda p: jnp.asarray(rng.normal(size=p.shape).astype(np.float32), p.dtype), params)
        updates, state = opt.update(grads, state, params)
        expected = params
        if name in UPDATE_DTYPE:
            expected = jax.tree.map(lambda p: p.astype(UPDATE_DTYPE[name]), params)
        assert signature(updates) == signature(expected)
        new_params = jo.apply_updates(params, updates)
        assert signature(new_params) == signature(params)
        assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(new_params))
        params = new_params
    # The state keeps its own structure from step to step (so it can be a scan carry).
    _, state2 = opt.update(grads, state, params)
    assert signature(state2) == signature(state)
