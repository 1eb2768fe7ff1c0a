"""Forecasting of metric series."""

from autoopt.prediction._predictor import PerformancePredictor

__all__ = ["PerformancePredictor"]
