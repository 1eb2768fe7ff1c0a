"""NAB's Windowed Gaussian detector (``nab/detectors/gaussian/windowedGaussian_detector.py``), vectorised.

NAB's detector keeps the last ``window_size`` values. While the window is filling it appends every
value and recomputes the mean and (population) standard deviation; once full, it buffers values
and slides the window by ``step_size`` values at a time, recomputing then. A standard deviation of
exactly 0 is replaced by ``1e-6``. The score of a row is computed *before* the row enters the
window, from the current mean and deviation:

    score = 1 - Q(|x - mean| / std),   Q(z) = erfc(z / sqrt(2)) / 2

(NAB's ``normalProbability`` reflects values below the mean onto the upper tail), and 0 on the
first row. So the score at row ``i`` depends on rows ``< i`` only, as NAB requires.

The window state before row ``i`` is rows ``[0, i)`` while ``i <= window_size``, and afterwards
rows ``[m, m + window_size)`` with ``m = step_size * floor((i - window_size) / step_size)``. The
growing part is computed for all rows at once: running means from a cumulative sum and running sums
of squared deviations from Welford's increments ``(x_n - mean_{n-1}) (x_n - mean_n)``, which are
non-negative, so no ``E[x^2] - E[x]^2`` cancellation. The sliding part recomputes each of the
``(L - window_size) / step_size`` windows directly, as NAB does.
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
from scipy.special import erfc

__all__ = ["windowed_gaussian"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

MIN_STD = 1e-6
"""NAB's replacement for a zero standard deviation."""


def windowed_gaussian(
    values: npt.ArrayLike,
    *,
    window_size: int = 6400,
    step_size: int = 100,
    significant_digits: int | None = None,
) -> FloatArray:
    """Per-row anomaly scores of NAB's Windowed Gaussian detector (causal; see the module docstring).

    Parameters
    ----------
    values
        The series, 1-D, finite.
    window_size, step_size
        NAB's tuned ``windowSize`` and ``stepSize``.
    significant_digits
        When given, round the scores to this many significant digits, as NAB's published result
        files hold them (``str()`` of Python 2 floats: 12 digits).

    Examples
    --------
    >>> windowed_gaussian([1.0, 2.0, 3.0, 1.0, 9.0]).round(4).tolist()
    [0.0, 1.0, 0.9987, 0.8897, 1.0]
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"windowed_gaussian() argument 'values' must be 1-D, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("windowed_gaussian() argument 'values' contains NaN or infinity")
    for name, v in (("window_size", window_size), ("step_size", step_size)):
        if not isinstance(v, int | np.integer) or isinstance(v, bool):
            raise TypeError(f"windowed_gaussian() argument {name!r} must be an int, got {v!r}")
        if v < 1:
            raise ValueError(f"windowed_gaussian() argument {name!r} must be >= 1, got {v!r}")
    if significant_digits is not None and (
        not isinstance(significant_digits, int)
        or isinstance(significant_digits, bool)
        or significant_digits < 1
    ):
        raise ValueError(
            f"windowed_gaussian() argument 'significant_digits' must be a positive int, got {significant_digits!r}"
        )
    n = len(x)
    mean = np.zeros(n, dtype=np.float64)
    std = np.ones(n, dtype=np.float64)
    # growing window: the state before row i (1 <= i <= window_size) is rows [0, i)
    g = min(n - 1, window_size)
    if g >= 1:
        k = np.arange(1, g + 1, dtype=np.float64)
        run_mean = np.cumsum(x[:g]) / k
        prev_mean = np.concatenate(([x[0]], run_mean[:-1]))
        m2 = np.cumsum((x[:g] - prev_mean) * (x[:g] - run_mean))
        mean[1 : g + 1] = run_mean
        std[1 : g + 1] = np.sqrt(np.maximum(m2, 0.0) / k)
    # sliding window: rows [m, m + window_size) for rows i > window_size, m a multiple of step_size
    if n > window_size + 1:
        rows = np.arange(window_size + 1, n)
        starts = step_size * ((rows - window_size) // step_size)
        for m in np.unique(starts):
            window = x[m : m + window_size]
            sel = starts == m
            mean[rows[sel]] = window.mean()
            std[rows[sel]] = window.std()
    std[std == 0.0] = MIN_STD
    # NAB reflects a value below the mean onto the upper tail before standardising
    z = (np.where(x < mean, 2.0 * mean - x, x) - mean) / std
    scores = 1.0 - 0.5 * erfc(z / np.sqrt(2.0))
    if n:
        scores[0] = 0.0
    if significant_digits is not None:
        scores = _round_significant(scores, significant_digits)
    return scores


def _round_significant(x: FloatArray, digits: int) -> FloatArray:
    """Round to ``digits`` significant digits, like ``float('%.{digits}g' % v)``."""
    return np.array([float(f"{v:.{digits}g}") for v in x.tolist()], dtype=np.float64)
