"""Rolling-origin evaluation of a forecaster with the M4 metrics, per horizon step and overall."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from autoopt._validation import check_int
from autoopt.prediction._input import regularise
from autoopt.prediction._metrics import seasonal_naive_scale

__all__ = ["BacktestResult", "backtest"]

logger = logging.getLogger(__name__)

METRICS = ("mae", "smape", "mase", "coverage", "msis")


@dataclass(frozen=True)
class BacktestResult:
    """What :func:`backtest` measured.

    Attributes
    ----------
    by_step : pandas.DataFrame
        One row per horizon step (index ``step``, 1-based) with the columns
        ``mae, smape, mase, coverage, msis``: each the mean over origins.
    overall : pandas.Series
        The same metrics over all steps: the mean over origins of each
        origin's value (the M4 convention), coverage pooled over every
        observed (origin, step).
    forecasts : pandas.DataFrame
        One row per (origin, step): ``origin`` (the position of the first
        forecast point), ``step``, ``time`` (when ``y`` had a time index),
        ``actual``, ``mean``, ``obs_ci_lower``, ``obs_ci_upper``.
    season : int
        The period of the seasonal-naive scale of MASE and MSIS.
    alpha : float
        The intervals' nominal miscoverage.
    """

    by_step: Any
    overall: Any
    forecasts: Any
    season: int
    alpha: float


def backtest(
    forecaster: Any,
    y: Any,
    horizon: int,
    origins: int | Sequence[int] = 10,
    *,
    step: int | None = None,
    season: int | None = None,
) -> BacktestResult:
    """Rolling-origin evaluation: refit ``forecaster`` at each origin and score its ``horizon``-step forecasts.

    At origin ``o`` (the position in ``y`` of the first forecast point) a
    fresh copy of the forecaster (same parameters, see ``get_params``) is
    fitted on ``y[:o]`` -- its own ``window`` then keeps only the most
    recent points -- and forecasts ``y[o : o + horizon]``. The metrics are
    the M4 competition's: MAE, sMAPE, MASE and MSIS, the last two scaled by
    the in-sample MAE of the seasonal naive forecast over the points the
    model saw (its window), and the coverage of the ``1 - alpha``
    interval. Missing actuals are left out.

    Parameters
    ----------
    forecaster : Forecaster
        Any object with ``get_params()``, ``fit(y)``, ``predict(horizon)``
        returning the columns ``mean, obs_ci_lower, obs_ci_upper``, and an
        ``alpha``.
    y : pandas.Series or array-like
        One series.
    horizon : int
        Steps ahead.
    origins : int or sequence of int
        The origins' positions, or how many: the latest ones, ``step`` apart,
        the last forecasting the final ``horizon`` points.
    step : int, optional
        Spacing of generated origins (default ``horizon``, so consecutive
        forecasts tile the end of the series).
    season : int, optional
        Period of the MASE/MSIS scale; default the forecaster's shortest
        fitted seasonal period (1 without one).

    Returns
    -------
    BacktestResult

    Examples
    --------
    >>> import pandas as pd
    >>> from autoopt import Forecaster, backtest
    >>> t = pd.date_range("2024-01-01", periods=24 * 35, freq="h")
    >>> rng = np.random.default_rng(1)
    >>> y = pd.Series(50 + 10 * np.sin(2 * np.pi * t.hour / 24) + rng.normal(0, 1, t.size), index=t)
    >>> result = backtest(Forecaster(window=24 * 21), y, horizon=24, origins=5)
    >>> list(result.by_step.columns)
    ['mae', 'smape', 'mase', 'coverage', 'msis']
    >>> bool(result.overall["mase"] < 0.9), result.season
    (True, 24)
    """
    import pandas as pd

    horizon = check_int(horizon, "backtest() argument 'horizon'", low=1)
    if step is not None:
        step = check_int(step, "backtest() argument 'step'", low=1)
    if season is not None:
        season = check_int(season, "backtest() argument 'season'", low=1)
    for attr in ("get_params", "fit", "predict"):
        if not callable(getattr(forecaster, attr, None)):
            raise TypeError(f"backtest() argument 'forecaster' has no {attr}() method; got {forecaster!r}.")
    if isinstance(y, pd.Series):
        # in time order, missing timestamps as NaN rows, as Forecaster.fit does: positions are time steps
        series, _ = regularise(y, "backtest() argument 'y'")
    else:
        try:
            array = np.asarray(y, dtype=float)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"backtest() argument 'y' must hold numbers; {exc}") from None
        if array.ndim != 1:
            raise ValueError(f"backtest() argument 'y' must be one series; got shape {array.shape}.")
        series = pd.Series(array)
    values = series.to_numpy(dtype=float)
    if values.size < 2:
        raise ValueError(f"backtest() argument 'y' must hold at least 2 points; got {values.size}.")
    if horizon >= values.size:
        raise ValueError(
            f"backtest() argument 'horizon' must be less than len(y) = {values.size}; got {horizon}."
        )
    if np.isinf(values).any():  # as fit() refuses them: an infinite actual would score every metric inf
        raise ValueError(
            f"backtest() argument 'y' must not contain infinite values (NaN marks a gap); row "
            f"{int(np.argmax(np.isinf(values)))} is {values[np.isinf(values)][0]}."
        )
    n = values.size
    if isinstance(origins, (int, np.integer)) and not isinstance(origins, bool):
        count = check_int(origins, "backtest() argument 'origins'", low=1, high=n)
        spacing = horizon if step is None else step
        positions = [n - horizon - i * spacing for i in range(count)][::-1]
    elif isinstance(origins, (Sequence, np.ndarray)):
        positions = [check_int(o, "backtest() argument 'origins'", low=1) for o in origins]
        if not positions:
            raise ValueError("backtest() argument 'origins' must not be empty.")
    else:
        raise TypeError(
            f"backtest() argument 'origins' must be an int or a sequence of ints; got {origins!r}."
        )
    bad = [o for o in positions if o < 1 or o + horizon > n]
    if bad:
        raise ValueError(
            f"backtest() argument 'origins' holds {bad[:5]}: each origin o needs 1 <= o and "
            f"o + horizon <= len(y) = {n} (horizon {horizon})."
        )
    params = forecaster.get_params()
    cls = type(forecaster)
    alpha = float(getattr(forecaster, "alpha", 0.05))
    window = params.get("window")
    k = len(positions)
    mean, lower, upper = (np.full((k, horizon), np.nan) for _ in range(3))
    scale = np.full(k, np.nan)
    periods: list[int] = []
    for i, o in enumerate(positions):
        try:
            model = cls(**params).fit(series.iloc[:o])
        except ValueError as exc:  # too little history before this origin, say
            raise ValueError(
                f"backtest() argument 'origins': the fit before origin {o} failed: {exc}"
            ) from exc
        frame = model.predict(horizon)
        mean[i] = frame["mean"].to_numpy(dtype=float)
        lower[i] = frame["obs_ci_lower"].to_numpy(dtype=float)
        upper[i] = frame["obs_ci_upper"].to_numpy(dtype=float)
        periods = list(getattr(model, "periods_", periods))
        m = season if season is not None else (min(periods) if periods else 1)
        seen = values[max(0, o - window) if window else 0 : o]
        scale[i] = float(seasonal_naive_scale(seen, m)) if seen.size > m else np.nan
    m = season if season is not None else (min(periods) if periods else 1)
    actual = np.stack([values[o : o + horizon] for o in positions])
    s = np.where(scale > 0, scale, np.nan)[:, None]
    err = np.abs(actual - mean)
    denom = np.abs(actual) + np.abs(mean)
    sm = np.where(denom > 0, 200.0 * err / np.where(denom > 0, denom, 1.0), 0.0)
    inside = ((actual >= lower) & (actual <= upper)).astype(float)
    penalty = (
        (upper - lower)
        + 2.0 / alpha * np.maximum(lower - actual, 0.0)
        + 2.0 / alpha * np.maximum(actual - upper, 0.0)
    )
    missing = np.isnan(actual)
    per = {
        "mae": err,
        "smape": sm,
        "mase": err / s,
        "coverage": inside,
        "msis": penalty / s,
    }
    per = {key: np.where(missing, np.nan, v) for key, v in per.items()}
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing step is NaN by design
        by_step = pd.DataFrame(
            {key: np.nanmean(v, axis=0) for key, v in per.items()},
            index=pd.RangeIndex(1, horizon + 1, name="step"),
        )
        per_origin = {key: np.nanmean(v, axis=1) for key, v in per.items()}
        overall = pd.Series({key: float(np.nanmean(v)) for key, v in per_origin.items()})
        overall["coverage"] = float(np.nanmean(per["coverage"]))
    steps = np.tile(np.arange(1, horizon + 1), k)
    forecasts = pd.DataFrame(
        {
            "origin": np.repeat(positions, horizon),
            "step": steps,
            "actual": actual.ravel(),
            "mean": mean.ravel(),
            "obs_ci_lower": lower.ravel(),
            "obs_ci_upper": upper.ravel(),
        }
    )
    if isinstance(series.index, pd.DatetimeIndex):
        forecasts.insert(2, "time", series.index[np.repeat(positions, horizon) + steps - 1])
    return BacktestResult(by_step=by_step, overall=overall, forecasts=forecasts, season=m, alpha=alpha)
