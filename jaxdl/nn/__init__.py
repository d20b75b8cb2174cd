"""Models: layers as ``Layer(init, apply)`` pairs of pure functions, combinators, activations."""

from jaxdl.nn.activations import *  # noqa: F403
from jaxdl.nn.base import *  # noqa: F403
from jaxdl.nn.combinators import *  # noqa: F403
from jaxdl.nn.layers import *  # noqa: F403
