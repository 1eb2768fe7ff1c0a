"""Forecasting and anomaly detection: autoopt's one home for both.

- :class:`PerformancePredictor`: the hub's online forecasts of its metrics,
  O(1) trend forecasts that switch to the seasonal :class:`Forecaster` once
  two daily cycles are recorded;
- :class:`Forecaster`: seasonal regression with AR errors and conformally
  calibrated intervals, one series or many in one vectorised pass;
- :func:`backtest`: rolling-origin evaluation with the M4 metrics;
- :class:`AnomalyDetector`: streaming, causal anomaly scores in [0, 1];
- the M4 metrics (:func:`mae`, :func:`smape`, :func:`mase`,
  :func:`coverage`, :func:`msis`), vectorised over series and horizons.

``autoopt.forecast``, where the forecaster, the backtest, the metrics and the
detector used to live, still imports the same names from here.
"""

from __future__ import annotations

from autoopt.prediction._anomaly import AnomalyDetector
from autoopt.prediction._backtest import BacktestResult, backtest
from autoopt.prediction._forecaster import Forecaster, detect_periods
from autoopt.prediction._metrics import coverage, mae, mase, msis, seasonal_naive_scale, smape
from autoopt.prediction._predictor import PerformancePredictor

__all__ = [
    "AnomalyDetector",
    "BacktestResult",
    "Forecaster",
    "PerformancePredictor",
    "backtest",
    "coverage",
    "detect_periods",
    "mae",
    "mase",
    "msis",
    "seasonal_naive_scale",
    "smape",
]
