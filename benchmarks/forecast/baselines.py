"""The forecast benchmark's baselines, behind one interface.

Every method is ``method(history, horizon, alpha, season) -> (mean, lower, upper)``:
``history`` is a pandas Series (NaN marks a gap), and the three returned
arrays of length ``horizon`` are the point forecast and the bounds of the
central ``1 - alpha`` prediction interval for steps 1..horizon after the
last row of ``history``. ``season`` is the seasonal period in steps.

- :func:`naive` -- the last observed value. Interval
  ``mean ± z σ sqrt(h)``, with σ the root mean square of the in-sample
  one-step naive residuals ``y_t - y_{t-1}`` (the textbook random-walk
  interval, Hyndman & Athanasopoulos, *FPP*, 5.5).
- :func:`seasonal_naive` -- the last observed value of the same seasonal
  phase. Interval ``mean ± z σ sqrt(k)``, with σ the root mean square of
  the in-sample residuals ``y_t - y_{t-m}`` and ``k = floor((h-1)/m) + 1``
  the number of seasons the forecast reaches back (the textbook interval).
  :func:`seasonal_naive_weekly` is the same with ``m = 7 * season``.
- :func:`holt_winters` -- additive Holt-Winters, statsmodels'
  ``ETSModel(error="add", trend="add", seasonal="add",
  initialization_method="heuristic")`` (ETS(A,A,A): the state-space form of
  ``ExponentialSmoothing(trend="add", seasonal="add",
  initialization_method="heuristic")``, which fits the same smoothing
  parameters, some 9x faster). The intervals are ETSModel's exact ones,
  ``get_prediction(...).summary_frame(alpha)``'s ``pi_lower``/``pi_upper``.
- :func:`sarima` -- statsmodels ``SARIMAX``. For ``season <=``
  :data:`SEASONAL_SARIMA_MAX_PERIOD` it is SARIMA(1,0,1)(0,1,1)\\ :sub:`m`.
  For longer periods (288 for a daily cycle at 5 minutes) a seasonal SARIMA
  is far too slow, and it is instead a regression on :data:`FOURIER_ORDER`
  Fourier pairs of the period plus a constant, with ARIMA(1,0,1) errors
  (``SARIMAX(y, exog=fourier, order=(1, 0, 1), trend="c")``). The intervals
  are ``get_forecast(h).summary_frame(alpha)``'s ``mean_ci_lower``/``mean_ci_upper``,
  which for SARIMAX are intervals for the observations.

Gaps (NaN) in ``history``: the naive methods skip them (the last observed
value; residual pairs with a NaN are left out). SARIMAX handles them
exactly, as missing observations of its Kalman filter. ETSModel cannot,
so for its fit only, each NaN is filled by :func:`fill_gaps` (the value one
season earlier; leading NaN by the value one season later). statsmodels'
convergence warnings are silenced; the fits are used as they come.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy.stats import norm
from statsmodels.tsa.exponential_smoothing.ets import ETSModel
from statsmodels.tsa.statespace.sarimax import SARIMAX

__all__ = [
    "BASELINES",
    "FOURIER_ORDER",
    "SEASONAL_SARIMA_MAX_PERIOD",
    "BatchMethod",
    "FitPredictModel",
    "Forecast",
    "Method",
    "autoopt_methods",
    "fill_gaps",
    "fit_predict_method",
    "fourier_terms",
    "holt_winters",
    "naive",
    "sarima",
    "seasonal_naive",
    "seasonal_naive_weekly",
]

Forecast = tuple[np.ndarray, np.ndarray, np.ndarray]
"""(mean, lower, upper), each of shape (horizon,)."""

Method = Callable[[pd.Series, int, float, int], Forecast]
"""``method(history, horizon, alpha, season) -> (mean, lower, upper)``."""

SEASONAL_SARIMA_MAX_PERIOD = 48
"""Longest period fitted as a seasonal SARIMA; longer ones get Fourier terms with ARIMA errors."""

FOURIER_ORDER = 4
"""Fourier pairs (sin, cos of harmonics 1..K) of the period in the long-period SARIMA alternative."""


def _values(history: pd.Series | np.ndarray, name: str) -> np.ndarray:
    y = np.asarray(history, dtype=float)
    if y.ndim != 1:
        raise ValueError(f"{name}() argument 'history' must be one-dimensional; got shape {y.shape}.")
    if np.isinf(y).any():
        raise ValueError(f"{name}() argument 'history' must be finite or NaN.")
    if not np.isfinite(y).any():
        raise ValueError(f"{name}() argument 'history' has no observed value.")
    return y


def _check(horizon: int, alpha: float, season: int, name: str) -> None:
    for arg, value in (("horizon", horizon), ("season", season)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{name}() argument '{arg}' must be an integer; got {value!r}.")
        if value < 1:
            raise ValueError(f"{name}() argument '{arg}' must be >= 1; got {value!r}.")
    if isinstance(alpha, bool) or not isinstance(alpha, int | float | np.floating):
        raise TypeError(f"{name}() argument 'alpha' must be a real number; got {alpha!r}.")
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"{name}() argument 'alpha' must be in (0, 1); got {alpha!r}.")


def _rms_lag_residual(y: np.ndarray, lag: int, name: str) -> float:
    """Root mean square of ``y_t - y_{t-lag}`` over the pairs without a NaN."""
    if len(y) <= lag:
        raise ValueError(f"{name}() needs more than {lag} history values; got {len(y)}.")
    d = y[lag:] - y[:-lag]
    d = d[np.isfinite(d)]
    if d.size == 0:
        raise ValueError(f"{name}() found no pair of observed values {lag} steps apart in the history.")
    return float(np.sqrt(np.mean(d * d)))


def naive(history: pd.Series, horizon: int, alpha: float, season: int) -> Forecast:
    """The last observed value, with the random-walk interval ``± z σ sqrt(h)`` (``season`` is unused)."""
    _check(horizon, alpha, season, "naive")
    y = _values(history, "naive")
    last = float(y[np.flatnonzero(np.isfinite(y))[-1]])
    sigma = _rms_lag_residual(y, 1, "naive")
    mean = np.full(horizon, last)
    half = norm.ppf(1.0 - alpha / 2.0) * sigma * np.sqrt(np.arange(1, horizon + 1))
    return mean, mean - half, mean + half


def seasonal_naive(history: pd.Series, horizon: int, alpha: float, season: int) -> Forecast:
    """The last observed value of the same phase, with the interval ``± z σ sqrt(k)``.

    ``k`` is the number of seasons the forecast reaches back:
    ``floor((h-1)/m) + 1`` (the textbook's), one more for each further season
    it has to go back past a NaN.
    """
    _check(horizon, alpha, season, "seasonal_naive")
    y = _values(history, "seasonal_naive")
    m, n = int(season), len(y)
    if n < m:
        raise ValueError(f"seasonal_naive() needs at least season={m} history values; got {n}.")
    sigma = _rms_lag_residual(y, m, "seasonal_naive")
    steps = np.arange(1, horizon + 1)
    k = (steps - 1) // m + 1
    idx = n - 1 + steps - m * k
    for _ in range(n // m + 1):
        gap = np.isnan(y[idx])
        if not gap.any():
            break
        back = gap & (idx - m >= 0)
        if not back.any():
            break
        idx = np.where(back, idx - m, idx)
        k = np.where(back, k + 1, k)
    if np.isnan(y[idx]).any():
        raise ValueError("seasonal_naive() found a seasonal phase with no observed value in the history.")
    mean = y[idx].astype(float)
    half = norm.ppf(1.0 - alpha / 2.0) * sigma * np.sqrt(k)
    return mean, mean - half, mean + half


def seasonal_naive_weekly(history: pd.Series, horizon: int, alpha: float, season: int) -> Forecast:
    """:func:`seasonal_naive` with the period ``7 * season`` (a week when ``season`` is a day)."""
    return seasonal_naive(history, horizon, alpha, 7 * int(season))


def fill_gaps(values: np.ndarray, season: int) -> np.ndarray:
    """A copy with every NaN filled by the value one season earlier (repeatedly, for long gaps).

    NaN with no observed value in an earlier season (the leading ones) take
    the value one season later; any left (a history shorter than a season)
    are linearly interpolated, the ends held constant.
    """
    x = np.asarray(values, dtype=float).copy()
    m = int(season)
    if not np.isfinite(x).any():
        raise ValueError("fill_gaps() argument 'values' has no observed value.")
    if 0 < m < len(x):
        while True:
            fill = np.isnan(x[m:]) & ~np.isnan(x[:-m])
            if not fill.any():
                break
            x[m:][fill] = x[:-m][fill]
        while True:
            fill = np.isnan(x[:-m]) & ~np.isnan(x[m:])
            if not fill.any():
                break
            x[:-m][fill] = x[m:][fill]
    gap = np.isnan(x)
    if gap.any():
        pos = np.arange(len(x))
        x[gap] = np.interp(pos[gap], pos[~gap], x[~gap])
    return x


def holt_winters(history: pd.Series, horizon: int, alpha: float, season: int) -> Forecast:
    """Additive Holt-Winters, ETS(A,A,A) with heuristic initialisation, and its exact intervals."""
    _check(horizon, alpha, season, "holt_winters")
    y = fill_gaps(_values(history, "holt_winters"), season)
    n = len(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ETSModel(
            pd.Series(y),
            error="add",
            trend="add",
            seasonal="add",
            seasonal_periods=int(season),
            initialization_method="heuristic",
        )
        result = model.fit(disp=False)
        frame = result.get_prediction(start=n, end=n + horizon - 1).summary_frame(alpha=alpha)
    return _columns(frame, "mean", "pi_lower", "pi_upper")


def fourier_terms(n: int, period: int, order: int) -> np.ndarray:
    """``(n, 2 * order)`` columns ``sin(2πkt/period), cos(2πkt/period)`` for k = 1..order, t = 0..n-1."""
    t = np.arange(n, dtype=float)[:, None] * (2.0 * math.pi / period) * np.arange(1, order + 1)[None, :]
    return np.column_stack([np.sin(t), np.cos(t)])


def sarima(history: pd.Series, horizon: int, alpha: float, season: int) -> Forecast:
    """SARIMA(1,0,1)(0,1,1)_m, or for ``m > 48`` Fourier terms with ARIMA(1,0,1) errors (module notes)."""
    _check(horizon, alpha, season, "sarima")
    y = _values(history, "sarima")
    n, m = len(y), int(season)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if m <= SEASONAL_SARIMA_MAX_PERIOD:
            result = SARIMAX(y, order=(1, 0, 1), seasonal_order=(0, 1, 1, m)).fit(disp=False)
            forecast = result.get_forecast(horizon)
        else:
            order = min(FOURIER_ORDER, m // 2)
            exog = fourier_terms(n + horizon, m, order)
            result = SARIMAX(y, exog=exog[:n], order=(1, 0, 1), trend="c").fit(disp=False)
            forecast = result.get_forecast(horizon, exog=exog[n:])
        frame = forecast.summary_frame(alpha=alpha)
    return _columns(frame, "mean", "mean_ci_lower", "mean_ci_upper")


def _columns(frame: pd.DataFrame, mean: str, lower: str, upper: str) -> Forecast:
    return (
        frame[mean].to_numpy(dtype=float),
        frame[lower].to_numpy(dtype=float),
        frame[upper].to_numpy(dtype=float),
    )


BASELINES: dict[str, Method] = {
    "naive": naive,
    "seasonal_naive": seasonal_naive,
    "seasonal_naive_weekly": seasonal_naive_weekly,
    "holt_winters": holt_winters,
    "sarima": sarima,
}
"""The baselines, by name, in the benchmark's order."""


# ------------------------------------------------------------ model classes


class FitPredictModel(Protocol):
    """A model with autoopt.Forecaster's interface: ``fit(y)`` returns the model, ``predict(h)`` a frame."""

    def fit(self, y: pd.Series) -> Any: ...

    def predict(self, horizon: int) -> pd.DataFrame: ...


def fit_predict_method(factory: Callable[[int, float], FitPredictModel]) -> Method:
    """A :data:`Method` from a model class: ``factory(season, alpha).fit(history).predict(horizon)``.

    The prediction frame must have the columns ``mean``, ``obs_ci_lower`` and
    ``obs_ci_upper`` (statsmodels' names), one row per step. A new model is
    built for every call, so nothing carries over between origins.
    """

    def method(history: pd.Series, horizon: int, alpha: float, season: int) -> Forecast:
        frame = factory(int(season), float(alpha)).fit(history).predict(horizon)
        mean, lower, upper = _columns(frame, "mean", "obs_ci_lower", "obs_ci_upper")
        if mean.shape != (horizon,):
            raise ValueError(f"the model predicted {mean.shape[0]} rows for a horizon of {horizon}")
        return mean, lower, upper

    return method


class BatchMethod:
    """A method that forecasts every origin's history in one call: ``fn(histories, horizon, alpha, season)``.

    It returns one :data:`Forecast` per history. The benchmark times the one
    call and charges each origin an equal share, so its per-origin compute is
    comparable with the per-call methods'. Called with a single history it
    behaves like a :data:`Method`.
    """

    batch = True

    def __init__(self, fn: Callable[[list[pd.Series], int, float, int], list[Forecast]]) -> None:
        self.fn = fn

    def forecast_all(
        self, histories: list[pd.Series], horizon: int, alpha: float, season: int
    ) -> list[Forecast]:
        return self.fn(histories, horizon, alpha, season)

    def __call__(self, history: pd.Series, horizon: int, alpha: float, season: int) -> Forecast:
        return self.fn([history], horizon, alpha, season)[0]


def autoopt_methods(options: Mapping[str, Any] | None = None) -> dict[str, Method]:
    """The autoopt.Forecaster methods when ``autoopt.Forecaster`` exists, else ``{}``.

    - ``"autoopt.Forecaster"``: ``Forecaster(alpha=alpha, **options).fit(history).predict(horizon)``
      per origin; the seasonal periods are detected from the history's
      DatetimeIndex (a day and a week).
    - ``"autoopt.Forecaster[batch]"``: the same model in its batch form: every
      origin's window is a column of one 2-D array, fitted and forecast in one
      vectorised call, with the periods the per-call form detects passed
      explicitly. Its forecasts equal the per-call ones (up to rounding).
    """
    import autoopt

    cls = getattr(autoopt, "Forecaster", None)
    if cls is None:
        return {}
    from autoopt.prediction import detect_periods

    extra = dict(options or {})

    def factory(season: int, alpha: float) -> FitPredictModel:
        model: FitPredictModel = cls(alpha=alpha, **extra)
        return model

    def batch(histories: list[pd.Series], horizon: int, alpha: float, season: int) -> list[Forecast]:
        lengths = {len(h) for h in histories}
        if len(lengths) != 1:
            raise ValueError(f"the batch form needs equal-length histories; got lengths {sorted(lengths)}")
        n = lengths.pop()
        freq: Any = getattr(histories[0].index, "freq", None)
        step = pd.Timedelta(freq).total_seconds()
        periods = detect_periods(np.zeros(n), step_seconds=step, max_period=n // 2)
        values = np.column_stack([h.to_numpy(dtype=float) for h in histories])
        model = cls(seasonal_periods=periods, alpha=alpha, **extra).fit(values)
        mean, lower, upper = model.predict_arrays(horizon)
        return [(mean[:, j], lower[:, j], upper[:, j]) for j in range(values.shape[1])]

    return {
        "autoopt.Forecaster": fit_predict_method(factory),
        "autoopt.Forecaster[batch]": BatchMethod(batch),
    }
