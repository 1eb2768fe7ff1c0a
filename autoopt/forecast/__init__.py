"""Forecasting: accuracy metrics (M4 definitions), vectorised over series and horizons.

The forecaster, rolling-origin backtests and the anomaly detector of the
forecasting issue build on these.
"""

from __future__ import annotations

from autoopt.forecast._metrics import coverage, mae, mase, msis, seasonal_naive_scale, smape

__all__ = ["coverage", "mae", "mase", "msis", "seasonal_naive_scale", "smape"]
