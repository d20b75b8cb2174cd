"""jaxdl: a functional deep-learning training toolkit on JAX."""

from jaxdl import init, losses, nn, optim

__version__ = "0.1.0"
__all__ = ["init", "losses", "nn", "optim"]
