"""Pure NumPy numerics: bounded buffers, streaming statistics, safe expressions.

Nothing here imports the rest of autoopt. The sliding regression and its
result type moved to :mod:`autoopt.prediction`, the home of forecasting:
``autoopt.core.SlidingOLS``, ``OLSPrediction`` and ``t_quantile`` still
resolve, on first access and with a ``DeprecationWarning``, to the objects
there (so ``import autoopt.core`` never imports upward).
"""

from typing import Any

from autoopt.core._expr import Expression, ParameterMap, compile_first_match, parse_expression
from autoopt.core._moved import moved_attribute
from autoopt.core.ewstats import EWMean, EWVar
from autoopt.core.ring import RingBuffer, TimeWindowSums

__all__ = [
    "EWMean",
    "EWVar",
    "Expression",
    "ParameterMap",
    "RingBuffer",
    "TimeWindowSums",
    "compile_first_match",
    "parse_expression",
]


def __getattr__(name: str) -> Any:
    return moved_attribute(__name__, name)
