"""Optimizers with optax's conventions, written from scratch: ``(init, update)`` pairs."""

from jaxdl.optim.adaptive import *  # noqa: F403
from jaxdl.optim.aliases import *  # noqa: F403
from jaxdl.optim.aliases_adam import *  # noqa: F403
from jaxdl.optim.aliases_layerwise import *  # noqa: F403
from jaxdl.optim.base import *  # noqa: F403
from jaxdl.optim.constraints import *  # noqa: F403
from jaxdl.optim.low_memory import *  # noqa: F403
from jaxdl.optim.rms import *  # noqa: F403
from jaxdl.optim.schedules import *  # noqa: F403
from jaxdl.optim.transforms import *  # noqa: F403
from jaxdl.optim.tree import *  # noqa: F403
from jaxdl.optim.wrappers import *  # noqa: F403
