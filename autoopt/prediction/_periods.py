"""Seasonal periods of a series: from its time index, or from the autocorrelation of its differences."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["detect_periods"]

_DAY = 86_400.0
_WEEK = 7 * _DAY


def detect_periods(
    y: np.ndarray, step_seconds: float | None = None, *, max_period: int | None = None
) -> list[int]:
    """Seasonal periods (in steps) of a series.

    With ``step_seconds`` (a regular time index), the daily and weekly
    periods that are whole numbers of steps, at least 2, and at most
    ``max_period``. Without it, the lag in ``[2, n // 3]`` where the
    autocorrelation of the first differences peaks, if that peak exceeds 0.3;
    else none.

    Examples
    --------
    >>> detect_periods(np.zeros(5000), step_seconds=3600.0)
    [24, 168]
    >>> detect_periods(np.zeros(5000), step_seconds=3600.0, max_period=100)
    [24]
    >>> t = np.arange(600)
    >>> detect_periods(np.sin(2 * np.pi * t / 12) + 0.01 * t)
    [12]
    """
    limit = max_period if max_period is not None else math.inf
    if step_seconds is not None:
        out = []
        for span in (_DAY, _WEEK):
            p = span / step_seconds
            if abs(p - round(p)) < 1e-9 and 2 <= round(p) <= limit:
                out.append(round(p))
        return out
    x = np.asarray(y, dtype=float)
    x = x[~np.isnan(x)]
    if x.size < 12:
        return []
    d = np.diff(x)
    d = d - d.mean()
    var = float(d @ d)
    if var == 0.0:
        return []
    top = int(min(d.size // 3, limit))
    if top < 2:
        return []
    spectrum = np.fft.rfft(d, n=2 * d.size)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[: top + 1] / var
    lag = int(np.argmax(acf[2:])) + 2
    return [lag] if acf[lag] > 0.3 else []
