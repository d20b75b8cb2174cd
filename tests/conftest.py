"""Shared test set-up: strict dtype and rank promotion, a PRNG key fixture."""

import jax
import pytest

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def key():
    return jax.random.key(0)


def oracle_promotion():
    """optax itself relies on standard promotion (``float ** int32``): run oracles inside this."""
    return jax.numpy_dtype_promotion("standard")
