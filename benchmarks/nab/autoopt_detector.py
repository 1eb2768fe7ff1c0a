"""The NAB hook of :class:`autoopt.prediction._anomaly.AnomalyDetector`.

Usage::

    python -m benchmarks.nab.run --detectors numenta,wg,benchmarks.nab.autoopt_detector:autoopt_anomaly

The detector runs with its defaults on every file from scratch; it sees the values and the
timestamps only (never the labels or the file names), and the harness optimises one threshold per
profile over the whole corpus, as NAB does.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from autoopt import AnomalyDetector

__all__ = ["autoopt_anomaly"]


def autoopt_anomaly(
    values: npt.ArrayLike, timestamps: pd.DatetimeIndex | None = None
) -> npt.NDArray[np.float64]:
    """Per-row anomaly scores in [0, 1] of a default :class:`AnomalyDetector` (causal).

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(10.0, 1.0, 400)
    >>> x[300] = 30.0
    >>> scores = autoopt_anomaly(x)
    >>> float(scores[300])
    1.0
    """
    x = np.asarray(values, dtype=np.float64)
    series = pd.Series(x) if timestamps is None else pd.Series(x, index=pd.DatetimeIndex(timestamps))
    return np.asarray(AnomalyDetector().score(series), dtype=np.float64)
