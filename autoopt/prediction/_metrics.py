"""Forecast accuracy metrics with the M4 competition's definitions, vectorised over series and horizons.

All functions take the actuals ``y`` and the forecasts (or interval bounds)
as arrays of the same shape, reduce over ``axis`` (the horizon by
default) and broadcast over every other axis, so one call scores many
series or many rolling origins at once. Missing actuals (NaN) are left
out of the means; a mean over nothing is NaN.

The scaled metrics divide by the in-sample mean absolute error of the
seasonal naive forecast, ``mean(|x_t - x_{t-m}|)`` over the history ``x``
(M4 Competitor's Guide, 2018):

- ``sMAPE = 200/h * sum |y - f| / (|y| + |f|)`` (a pair with ``y = f = 0``
  counts as 0);
- ``MASE = mean |y - f| / scale``;
- ``MSIS = mean[(u - l) + 2/a (l - y) 1{y < l} + 2/a (y - u) 1{y > u}] / scale``
  for a ``1 - a`` interval ``[l, u]``.

A history whose seasonal differences are all zero has no scale: the
scaled metrics are NaN for it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from autoopt._validation import check_int, check_real

__all__ = ["coverage", "mae", "mase", "msis", "seasonal_naive_scale", "smape"]


def _pair(y: ArrayLike, f: ArrayLike, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(y, dtype=float)
    b = np.asarray(f, dtype=float)
    if a.shape != b.shape:
        raise ValueError(
            f"'{names[0]}' and '{names[1]}' must have the same shape; got {a.shape} and {b.shape}."
        )
    if np.isinf(a).any() or np.isinf(b).any() or np.isnan(b).any():
        raise ValueError(f"'{names[1]}' must be finite and '{names[0]}' finite or NaN (missing).")
    return a, b


def _nanmean(x: np.ndarray, axis: int) -> np.ndarray:
    n = np.sum(~np.isnan(x), axis=axis)
    total = np.nansum(x, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def seasonal_naive_scale(insample: ArrayLike, m: int = 1, axis: int = -1) -> np.ndarray:
    """In-sample MAE of the seasonal naive forecast: ``mean |x_t - x_{t-m}|`` along ``axis``.

    Pairs with a missing value (NaN) are left out.

    Examples
    --------
    >>> float(seasonal_naive_scale([1.0, 2.0, 4.0, 7.0], m=1))
    2.0
    >>> float(seasonal_naive_scale([1.0, 5.0, 2.0, 6.0, 3.0], m=2))
    1.0
    """
    m = check_int(m, "seasonal_naive_scale() argument 'm'", low=1)
    x = np.moveaxis(np.asarray(insample, dtype=float), axis, -1)
    if x.shape[-1] <= m:
        raise ValueError(
            f"seasonal_naive_scale() argument 'insample' needs more than m={m} values along the axis; "
            f"got {x.shape[-1]}."
        )
    return _nanmean(np.abs(x[..., m:] - x[..., :-m]), axis=-1)


def mae(y: ArrayLike, forecast: ArrayLike, axis: int = -1) -> np.ndarray:
    """Mean absolute error along ``axis``.

    >>> float(mae([1.0, 2.0, 3.0], [1.5, 2.0, 2.0]))
    0.5
    """
    a, b = _pair(y, forecast, ("y", "forecast"))
    return _nanmean(np.abs(a - b), axis)


def smape(y: ArrayLike, forecast: ArrayLike, axis: int = -1) -> np.ndarray:
    """Symmetric MAPE in percent (0 to 200), as in M4.

    >>> round(float(smape([100.0, 200.0], [110.0, 180.0])), 4)
    10.0251
    """
    a, b = _pair(y, forecast, ("y", "forecast"))
    den = np.abs(a) + np.abs(b)
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(den > 0, 2.0 * np.abs(a - b) / np.where(den > 0, den, 1.0), 0.0)
    terms = np.where(np.isnan(a), np.nan, terms)
    return 100.0 * _nanmean(terms, axis)


def mase(y: ArrayLike, forecast: ArrayLike, insample: ArrayLike, m: int = 1, axis: int = -1) -> np.ndarray:
    """Mean absolute scaled error: MAE over the in-sample seasonal naive MAE (period ``m``).

    ``insample`` is the history before the forecast origin, with the same
    leading shape as ``y`` (its ``axis`` may have any length > ``m``).

    >>> float(mase([5.0, 6.0], [5.0, 4.0], insample=[1.0, 2.0, 3.0, 4.0]))
    1.0
    """
    return mae(y, forecast, axis) / _scale(insample, m, axis)


def coverage(y: ArrayLike, lower: ArrayLike, upper: ArrayLike, axis: int = -1) -> np.ndarray:
    """Share of actuals inside their interval ``[lower, upper]`` (bounds included).

    >>> float(coverage([1.0, 5.0, 3.0, 9.0], [0.0, 0.0, 3.0, 0.0], [2.0, 4.0, 3.0, 10.0]))
    0.75
    """
    a, lo = _pair(y, lower, ("y", "lower"))
    _, hi = _pair(y, upper, ("y", "upper"))
    _check_bounds(lo, hi)
    inside = ((a >= lo) & (a <= hi)).astype(float)
    return _nanmean(np.where(np.isnan(a), np.nan, inside), axis)


def msis(
    y: ArrayLike,
    lower: ArrayLike,
    upper: ArrayLike,
    insample: ArrayLike,
    m: int = 1,
    alpha: float = 0.05,
    axis: int = -1,
) -> np.ndarray:
    """Mean scaled interval score of ``1 - alpha`` intervals, as in M4.

    The interval score rewards narrow intervals and charges ``2 / alpha``
    per unit an actual falls outside; it is scaled like :func:`mase`.

    >>> float(msis([5.0, 10.0], [4.0, 4.0], [6.0, 6.0], insample=[1.0, 2.0, 3.0], alpha=0.5))
    10.0
    """
    alpha = check_real(alpha, "msis() argument 'alpha'", low=0.0, high=1.0, low_open=True, high_open=True)
    a, lo = _pair(y, lower, ("y", "lower"))
    _, hi = _pair(y, upper, ("y", "upper"))
    _check_bounds(lo, hi)
    penalty = (2.0 / alpha) * (np.clip(lo - a, 0.0, None) + np.clip(a - hi, 0.0, None))
    score = np.where(np.isnan(a), np.nan, (hi - lo) + penalty)
    return _nanmean(score, axis) / _scale(insample, m, axis)


def _check_bounds(lo: np.ndarray, hi: np.ndarray) -> None:
    if (lo > hi).any():
        raise ValueError("'lower' must be <= 'upper' everywhere.")


def _scale(insample: ArrayLike, m: int, axis: int) -> np.ndarray:
    scale = seasonal_naive_scale(insample, m, axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scale > 0, scale, np.nan)
