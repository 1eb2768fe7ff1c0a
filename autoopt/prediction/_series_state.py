"""The PerformancePredictor's bookkeeping: one metric's state, running accuracy sums, the retained predictions.

None of these lock: the predictor holds its lock around every use.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice

from autoopt.core.ring import RingBuffer
from autoopt.models import Prediction
from autoopt.prediction._forecaster import Forecaster
from autoopt.prediction._ols import SlidingOLS

__all__ = ["Accuracy", "PredictionStore", "SeriesState"]


class SeriesState:
    """One metric's state: the sliding regression, the bounded raw history and the seasonal model."""

    __slots__ = (
        "failed_at",
        "failed_end",
        "fitted_at",
        "fitting",
        "grid_end",
        "grid_step",
        "history",
        "last_ts",
        "model",
        "n_total",
        "ols",
        "origin",
    )

    def __init__(self, window: int, history_size: int, origin: float) -> None:
        self.ols = SlidingOLS(window)
        self.history = RingBuffer(history_size, width=2)
        self.origin = origin  # x = (t - origin) / 60: minutes since the first observation
        self.last_ts: float = origin
        self.n_total = 0
        self.model: Forecaster | None = None  # the seasonal Forecaster, once there is enough history
        self.grid_end = 0.0  # time of the model's last grid row
        self.grid_step = 0.0  # seconds between its rows
        self.fitted_at = 0  # n_total when its data was taken
        self.fitting = False  # a thread is refitting it (outside the lock)
        self.failed_at = -1  # n_total when the latest refit failed (-1: none failed since the last fit)
        self.failed_end = 0.0  # last_ts then


@dataclass
class Accuracy:
    """Running sums of validated prediction errors for one metric."""

    count: int = 0
    abs_err: float = 0.0
    sq_err: float = 0.0
    ape: float = 0.0
    ape_count: int = 0
    covered: int = 0
    width: float = 0.0

    def add(self, pred: Prediction, sign: int) -> None:
        actual = pred.actual_value
        assert actual is not None
        err = actual - pred.predicted_value
        lo, hi = pred.confidence_interval
        self.count += sign
        self.abs_err += sign * abs(err)
        self.sq_err += sign * err * err
        if actual != 0.0:
            self.ape += sign * abs(err) / abs(actual)
            self.ape_count += sign
        self.covered += sign * int(lo <= actual <= hi)
        self.width += sign * (hi - lo)

    def merged(self, other: Accuracy) -> Accuracy:
        return Accuracy(
            self.count + other.count,
            self.abs_err + other.abs_err,
            self.sq_err + other.sq_err,
            self.ape + other.ape,
            self.ape_count + other.ape_count,
            self.covered + other.covered,
            self.width + other.width,
        )

    def report(self) -> dict[str, float]:
        n = self.count
        nan = math.nan
        return {
            "count": float(n),
            "mae": self.abs_err / n if n else nan,
            "rmse": math.sqrt(max(self.sq_err, 0.0) / n) if n else nan,
            "mape": 100.0 * self.ape / self.ape_count if self.ape_count else nan,
            "coverage": self.covered / n if n else nan,
            "mean_interval_width": self.width / n if n else nan,
        }


@dataclass
class PredictionStore:
    """Bounded id -> Prediction map, oldest evicted first."""

    capacity: int
    items: OrderedDict[str, Prediction] = field(default_factory=OrderedDict)

    def add(self, pred: Prediction) -> Prediction | None:
        self.items[pred.prediction_id] = pred
        if len(self.items) > self.capacity:
            return self.items.popitem(last=False)[1]
        return None

    def newest(self, limit: int) -> list[Prediction]:
        it: Iterator[Prediction] = reversed(self.items.values())
        out = list(islice(it, limit))
        out.reverse()
        return out
