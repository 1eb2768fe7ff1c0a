"""Pure NumPy numerics: bounded buffers, running regression, streaming statistics, safe expressions.

Nothing here imports the rest of autoopt.
"""

from autoopt.core._expr import Expression, ParameterMap, compile_first_match, parse_expression
from autoopt.core.ewstats import EWMean, EWVar
from autoopt.core.ols import OLSPrediction, SlidingOLS, t_quantile
from autoopt.core.ring import RingBuffer, TimeWindowSums

__all__ = [
    "EWMean",
    "EWVar",
    "Expression",
    "OLSPrediction",
    "ParameterMap",
    "RingBuffer",
    "SlidingOLS",
    "TimeWindowSums",
    "compile_first_match",
    "parse_expression",
    "t_quantile",
]
