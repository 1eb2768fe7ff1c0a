"""The PerformancePredictor's seasonal path: irregular observations put on a regular grid for a Forecaster.

:func:`fit_on_grid` fits a :class:`~autoopt.prediction.Forecaster` on the last cycles of a metric's
observations, each grid cell holding its latest observation (an empty cell is a gap);
:func:`forecast_after` forecasts from such a model after the observations recorded since the fit, which
update its AR state without a refit.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from autoopt.prediction._forecaster import Forecaster
from autoopt.prediction._results import PredictionResults

__all__ = ["fit_on_grid", "forecast_after", "latest_per_cell"]

logger = logging.getLogger(__name__)


def fit_on_grid(
    rows: np.ndarray,
    seasonal_period: float,
    resolution: int,
    cycles: int,
    template: Forecaster | None,
    alpha: float,
) -> tuple[Forecaster, float, float]:
    """A Forecaster fitted on ``rows`` (time, value) put on a regular grid; with the grid's end and step.

    The grid step is the median spacing of the observations, but at least
    ``seasonal_period / resolution``; a grid cell holds the
    latest observation in it (a point value, so the intervals stay those
    of single observations), and an empty cell is a gap.
    """
    t, y = rows[:, 0], rows[:, 1]
    gaps = np.diff(t)
    gaps = gaps[gaps > 0]
    if gaps.size == 0:
        raise ValueError("the observations share one timestamp")
    step = max(float(np.median(gaps)), seasonal_period / resolution)
    period = round(seasonal_period / step)
    if period < 2:
        raise ValueError(f"a seasonal period of {seasonal_period} s is under two {step} s steps")
    size = min(math.floor((t[-1] - t[0]) / step + 1e-9) + 1, cycles * period)
    if size < 2 * period:
        raise ValueError(f"{size} grid steps hold fewer than two seasonal periods of {period} steps")
    # cell j (of size) ends at t[-1] - (size - 1 - j) * step
    slot = size - 1 - np.floor((t[-1] - t) / step + 1e-9).astype(np.int64)
    keep = slot >= 0
    grid = np.full(size, np.nan)
    grid[slot[keep]] = latest_per_cell(slot[keep], y[keep], size)[slot[keep]]
    params = {} if template is None else template.get_params()
    params.update(seasonal_periods=[period], alpha=alpha)
    model = Forecaster(**params).fit(grid)
    return model, float(t[-1]), step


def latest_per_cell(slot: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """``out[j]`` = the last of ``values`` (in order) whose ``slot`` is ``j``; NaN for an empty cell."""
    out = np.full(size, np.nan)
    backwards = slot[::-1]
    last = np.unique(backwards, return_index=True)[1]  # in reverse order, the first hit is the latest
    out[backwards[last]] = values[::-1][last]
    return out


def forecast_after(
    model: Forecaster, grid_end: float, step: float, tail: np.ndarray, horizons_s: np.ndarray
) -> tuple[PredictionResults, np.ndarray] | None:
    """The model's forecast ``horizons_s`` seconds after the last of ``tail``'s rows (or the grid's end).

    The rows observed since the fit (``tail``: time, value) go into the
    model's grid cells after ``grid_end`` (the latest in each cell) and
    update its AR state without a refit. Returns the forecast up to the
    longest horizon and, for each horizon, the row that answers it (the
    grid step it falls in); None when the model cannot forecast that far.
    """
    after = None
    origin = last = grid_end
    if tail.shape[0]:
        last = max(grid_end, float(tail[-1, 0]))
        slots = np.ceil((tail[:, 0] - grid_end) / step - 1e-9).astype(
            np.int64
        )  # cell j ends at grid_end + j step
        ok = slots >= 1
        if ok.any():
            m = int(slots[ok].max())
            after = latest_per_cell(slots[ok] - 1, tail[ok, 1], m)
            origin = grid_end + m * step
    steps = np.maximum(1, np.ceil((last + horizons_s - origin) / step - 1e-9)).astype(np.int64)
    try:
        res = model.get_forecast(int(steps.max()), after=after)
    except ValueError as exc:  # intervals cannot be calibrated for so long a horizon on this window
        logger.info("seasonal forecast unavailable (%s); using the linear trend", exc)
        return None
    except Exception as exc:
        logger.warning("seasonal forecast raised %s: %s; using the linear trend", type(exc).__name__, exc)
        return None
    return res, steps - 1
