"""Forecasting and anomaly detection have one home, autoopt.prediction; autoopt.forecast re-exports it."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

import autoopt
import autoopt.forecast
import autoopt.prediction


def test_forecast_module_re_exports_the_same_objects() -> None:
    assert autoopt.forecast.__all__, "the shim exports nothing"
    for name in autoopt.forecast.__all__:
        assert getattr(autoopt.forecast, name) is getattr(autoopt.prediction, name), name
    assert set(autoopt.forecast.__all__) <= set(autoopt.prediction.__all__)


def test_top_level_names_come_from_the_one_home() -> None:
    for name in (
        "Forecaster",
        "AnomalyDetector",
        "BacktestResult",
        "backtest",
        "PerformancePredictor",
        "PredictionResults",
    ):
        obj = getattr(autoopt, name)
        assert obj is getattr(autoopt.prediction, name)
        assert obj.__module__.startswith("autoopt.prediction."), (name, obj.__module__)


def test_no_module_of_the_package_lives_under_forecast_any_more() -> None:
    spec = importlib.util.find_spec("autoopt.forecast")
    assert spec is not None
    assert spec.submodule_search_locations
    files = sorted(p.name for p in Path(next(iter(spec.submodule_search_locations))).glob("*.py"))
    assert files == ["__init__.py"]


@pytest.mark.parametrize("module", ["autoopt.core", "autoopt.core.ols"])
@pytest.mark.parametrize(
    ("old", "new"),
    [("SlidingOLS", "SlidingOLS"), ("OLSPrediction", "PredictionResults"), ("t_quantile", "t_quantile")],
)
def test_core_names_that_moved_still_resolve_with_a_warning(module: str, old: str, new: str) -> None:
    mod = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=f"{module}.{old} moved to autoopt.prediction.{new}"):
        obj = getattr(mod, old)
    assert obj is getattr(autoopt.prediction, new)
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        mod.Nope  # noqa: B018


def test_core_imports_nothing_above_it() -> None:
    """core/ is the bottom layer: its modules import numpy and scipy, and autoopt.core only."""
    root = Path(autoopt.__file__).parent / "core"
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("autoopt"):
                assert node.module.startswith("autoopt.core"), (path.name, node.module)
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("autoopt") or alias.name.startswith("autoopt.core")
