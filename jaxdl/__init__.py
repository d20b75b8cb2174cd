"""jaxdl: a functional deep-learning training toolkit on JAX."""

from jaxdl import checkpoint, data, diagnostics, init, losses, nn, optim, parallel, sweep, train

__version__ = "0.1.0"
__all__ = [
    "checkpoint", "data", "diagnostics", "init", "losses", "nn", "optim", "parallel", "sweep",
    "train",
]
