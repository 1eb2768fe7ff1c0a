"""Forecasting and anomaly detection have one home, autoopt.prediction; autoopt.forecast re-exports it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import autoopt
import autoopt.forecast
import autoopt.prediction


def test_forecast_module_re_exports_the_same_objects() -> None:
    assert autoopt.forecast.__all__, "the shim exports nothing"
    for name in autoopt.forecast.__all__:
        assert getattr(autoopt.forecast, name) is getattr(autoopt.prediction, name), name
    assert set(autoopt.forecast.__all__) <= set(autoopt.prediction.__all__)


def test_top_level_names_come_from_the_one_home() -> None:
    for name in ("Forecaster", "AnomalyDetector", "BacktestResult", "backtest", "PerformancePredictor"):
        obj = getattr(autoopt, name)
        assert obj is getattr(autoopt.prediction, name)
        assert obj.__module__.startswith("autoopt.prediction."), (name, obj.__module__)


def test_no_module_of_the_package_lives_under_forecast_any_more() -> None:
    spec = importlib.util.find_spec("autoopt.forecast")
    assert spec is not None
    assert spec.submodule_search_locations
    files = sorted(p.name for p in Path(next(iter(spec.submodule_search_locations))).glob("*.py"))
    assert files == ["__init__.py"]
