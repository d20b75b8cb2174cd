"""Vmapped experiments: many trainings of one model (seeds x init schemes x hyperparameters,
k-fold folds, bootstrap replicas) as one compiled program, with results on named axes."""

from jaxdl.sweep.engine import *  # noqa: F401,F403
from jaxdl.sweep.engine import __all__ as _engine
from jaxdl.sweep.resampling import *  # noqa: F401,F403
from jaxdl.sweep.resampling import __all__ as _resampling
from jaxdl.sweep.result import *  # noqa: F401,F403
from jaxdl.sweep.result import __all__ as _result
from jaxdl.sweep.schemes import *  # noqa: F401,F403
from jaxdl.sweep.schemes import __all__ as _schemes

__all__ = [*_engine, *_resampling, *_result, *_schemes]
