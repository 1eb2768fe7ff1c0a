"""Former home of the forecaster, the backtest, the M4 metrics and the anomaly detector.

They live in :mod:`autoopt.prediction` now, the one home of forecasting and
anomaly detection; this module re-exports the same objects, so code written
as ``from autoopt.forecast import Forecaster`` keeps working unchanged.

>>> import autoopt.forecast, autoopt.prediction
>>> autoopt.forecast.Forecaster is autoopt.prediction.Forecaster
True
"""

from __future__ import annotations

from autoopt.prediction import (
    AnomalyDetector,
    BacktestResult,
    Forecaster,
    backtest,
    coverage,
    detect_periods,
    mae,
    mase,
    msis,
    seasonal_naive_scale,
    smape,
)

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
