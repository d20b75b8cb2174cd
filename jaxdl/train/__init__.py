"""Training: the train state, pure train/eval steps, and the ``fit`` loop."""

from jaxdl.train.loop import *  # noqa: F403
from jaxdl.train.regularization import *  # noqa: F403
from jaxdl.train.state import *  # noqa: F403
