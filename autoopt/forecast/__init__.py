"""Forecasting and anomaly detection.

- :class:`Forecaster`: seasonal regression with AR errors and conformally
  calibrated intervals, one series or many in one vectorised pass;
- :func:`backtest`: rolling-origin evaluation with the M4 metrics;
- :class:`AnomalyDetector`: streaming, causal anomaly scores in [0, 1];
- the M4 metrics (:func:`mae`, :func:`smape`, :func:`mase`,
  :func:`coverage`, :func:`msis`), vectorised over series and horizons.
"""

from __future__ import annotations

from autoopt.forecast._anomaly import AnomalyDetector
from autoopt.forecast._backtest import BacktestResult, backtest
from autoopt.forecast._forecaster import Forecaster, detect_periods
from autoopt.forecast._metrics import coverage, mae, mase, msis, seasonal_naive_scale, smape

__all__ = [
    "AnomalyDetector",
    "BacktestResult",
    "Forecaster",
    "backtest",
    "coverage",
    "detect_periods",
    "mae",
    "mase",
    "msis",
    "seasonal_naive_scale",
    "smape",
]
