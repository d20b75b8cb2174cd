"""jaxdl: a functional deep-learning training toolkit on JAX."""

from jaxdl import checkpoint, data, init, losses, nn, optim, train

__version__ = "0.1.0"
__all__ = ["checkpoint", "data", "init", "losses", "nn", "optim", "train"]
