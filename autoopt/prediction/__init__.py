"""Forecasting and anomaly detection: autoopt's one home for both.

- :class:`PerformancePredictor`: the hub's online forecasts of its metrics,
  O(1) trend forecasts that switch to the seasonal :class:`Forecaster` once
  two daily cycles are recorded;
- :class:`Forecaster`: seasonal regression with AR errors and conformally
  calibrated intervals, one series or many in one vectorised pass;
- :class:`PredictionResults`: what every forecast here is read from, with
  statsmodels' ``summary_frame`` columns (``Forecaster.get_forecast``,
  ``SlidingOLS.predict``);
- :class:`SlidingOLS`: simple linear regression over a sliding window, O(1)
  per point, with exact OLS intervals;
- :func:`backtest`: rolling-origin evaluation with the M4 metrics;
- :class:`AnomalyDetector`: streaming, causal anomaly scores in [0, 1];
- the M4 metrics (:func:`mae`, :func:`smape`, :func:`mase`,
  :func:`coverage`, :func:`msis`), vectorised over series and horizons.

``autoopt.forecast``, where the forecaster, the backtest, the metrics and the
detector used to live, still imports the same names from here; so do
``autoopt.core.SlidingOLS`` and ``autoopt.core.OLSPrediction`` (now
:class:`PredictionResults`), with a ``DeprecationWarning``.
"""

from __future__ import annotations

from autoopt.prediction._anomaly import AnomalyDetector
from autoopt.prediction._backtest import BacktestResult, backtest
from autoopt.prediction._forecaster import Forecaster
from autoopt.prediction._metrics import coverage, mae, mase, msis, seasonal_naive_scale, smape
from autoopt.prediction._ols import SlidingOLS
from autoopt.prediction._periods import detect_periods
from autoopt.prediction._predictor import PerformancePredictor
from autoopt.prediction._results import PredictionResults, t_quantile

__all__ = [
    "AnomalyDetector",
    "BacktestResult",
    "Forecaster",
    "PerformancePredictor",
    "PredictionResults",
    "SlidingOLS",
    "backtest",
    "coverage",
    "detect_periods",
    "mae",
    "mase",
    "msis",
    "seasonal_naive_scale",
    "smape",
    "t_quantile",
]
