"""Pure NumPy numerics: bounded buffers, running regression, streaming statistics.

Nothing here imports the rest of autoopt.
"""

from autoopt.core.ewstats import EWMean, EWVar
from autoopt.core.ols import OLSPrediction, SlidingOLS, t_quantile
from autoopt.core.ring import RingBuffer, TimeWindowSums

__all__ = ["EWMean", "EWVar", "OLSPrediction", "RingBuffer", "SlidingOLS", "TimeWindowSums", "t_quantile"]
