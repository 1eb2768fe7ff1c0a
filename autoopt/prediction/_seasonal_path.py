"""The PerformancePredictor's seasonal path: when a series gets (or refits) its Forecaster, and forecasting
from it after the observations recorded since the fit."""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np

from autoopt.prediction._forecaster import Forecaster
from autoopt.prediction._results import PredictionResults
from autoopt.prediction._seasonal_grid import fit_on_grid, forecast_after
from autoopt.prediction._series_state import SeriesState

__all__ = ["SeasonalPath"]

logger = logging.getLogger(__name__)


class SeasonalPath:
    """The predictor's seasonal refits and forecasts.

    ``settings`` is the :class:`PerformancePredictor`, whose
    ``seasonal_period``, ``seasonal_cycles``, ``seasonal_resolution``,
    ``refit_every``, ``forecaster`` and ``alpha`` are read live, so changing
    one applies to the next refit.

    :meth:`job` runs under the predictor's lock and copies what the
    forecast needs; :meth:`forecast` runs outside it (a refit is the slow
    part) and takes the lock only to record the refit's outcome, so one
    thread at a time refits a series while the others use its previous model.
    ``fit_errors`` and ``last_fit_error`` count refits that raised something
    other than a too-short or too-irregular history (guarded by that lock).
    """

    def __init__(self, settings: Any) -> None:
        self.settings = settings  # the predictor: its seasonal settings are read live
        self.fit_errors = 0
        self.last_fit_error: str | None = None

    def job(self, state: SeriesState) -> tuple[str, Any] | None:
        """Under the lock: what the seasonal path needs, copied (O(refit interval) or O(window) rows).

        ``("refit", rows)`` when the series has ``>= 2`` seasonal cycles of
        history and its model is missing or stale (and no other thread is
        refitting it); ``("use", (model, rows since the fit))`` when a model
        is fresh enough; None for the linear path.
        """
        cfg = self.settings
        if cfg.seasonal_period is None:
            return None
        history = state.history
        model = state.model
        if model is None and state.failed_at >= 0:  # the last refit failed: wait as long as between refits
            if cfg.refit_every is not None:
                wait = state.n_total - state.failed_at < cfg.refit_every
            else:
                wait = state.last_ts - state.failed_end < cfg.seasonal_period / 24.0
            if wait:
                return None
        if model is not None:
            step = state.grid_step
            since = state.n_total - state.fitted_at
            if cfg.refit_every is not None:
                stale = since >= cfg.refit_every
            else:  # a 24th of a cycle since the fitted data ended
                stale = state.last_ts - state.grid_end >= cfg.seasonal_period / 24.0
            if not stale or state.fitting or since > len(history):
                rows = history.last(min(since, len(history))).copy() if since else np.empty((0, 2))
                return ("use", (model, state.grid_end, step, rows))
        if state.fitting or len(history) < 4:
            return None
        first, last = history[0][0], history[-1][0]
        if last - first < 2.0 * cfg.seasonal_period:
            return None
        step = (last - first) / (len(history) - 1)  # the mean spacing; refined from the window below
        keep = min(len(history), int(cfg.seasonal_cycles * cfg.seasonal_period / step) + 1)
        state.fitting = True
        return ("refit", (history.last(keep).copy(), state.n_total))

    def forecast(
        self, state: SeriesState, job: tuple[str, Any], horizons_s: np.ndarray, lock: threading.Lock
    ) -> tuple[PredictionResults, np.ndarray] | None:
        """Outside ``lock`` (the predictor's): refit if asked, recording the outcome under it, then the
        forecast ``horizons_s`` seconds after the last row (:func:`forecast_after`)."""
        kind, payload = job
        if kind == "refit":
            rows, n_total = payload
            fitted = None
            error: str | None = None
            try:
                fitted = self._fit(rows)
            except (ValueError, np.linalg.LinAlgError) as exc:  # too irregular or too short: stay linear
                logger.info("seasonal model not fitted (%s); using the linear trend", exc)
            except Exception as exc:  # anything else (a bad ``forecaster`` template, say): stay linear too
                error = f"{type(exc).__name__}: {exc}"
                logger.warning("seasonal refit raised %s; using the linear trend", error, exc_info=True)
            with lock:
                state.fitting = False
                if error is not None:
                    self.fit_errors += 1
                    self.last_fit_error = error
                if fitted is None:
                    state.model = None  # a failed refit is retried a refit interval later
                    state.failed_at, state.failed_end = n_total, float(rows[-1, 0])
                else:
                    state.model, state.grid_end, state.grid_step = fitted
                    state.fitted_at = n_total
                    state.failed_at = -1
                    # observations recorded while fitting are the rows after the fitted window
                    since = state.n_total - n_total
                    tail = (
                        state.history.last(min(since, len(state.history))).copy()
                        if since
                        else np.empty((0, 2))
                    )
                if fitted is None:
                    return None
            model, grid_end, step = fitted
        else:
            model, grid_end, step, tail = payload
        return forecast_after(model, grid_end, step, tail, horizons_s)

    def _fit(self, rows: np.ndarray) -> tuple[Forecaster, float, float]:
        """A Forecaster fitted on ``rows`` (time, value) on a regular grid (:func:`fit_on_grid`)."""
        cfg = self.settings
        return fit_on_grid(
            rows,
            cfg.seasonal_period,
            cfg.seasonal_resolution,
            cfg.seasonal_cycles,
            cfg.forecaster,
            cfg.alpha,
        )
