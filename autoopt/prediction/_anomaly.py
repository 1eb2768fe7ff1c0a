"""Streaming, causal anomaly scores from forecast residuals and an anomaly likelihood.

The detector follows the recipe of Numenta's anomaly likelihood (Ahmad, Lavin, Purdy and Agha,
"Unsupervised real-time anomaly detection for streaming data", Neurocomputing 2017): a *raw*
surprise per row, averaged over a few rows and compared with the long-run distribution of those
averages, so that each series is judged against its own normal level of surprise. Here the raw
surprises come from three cheap forecasters instead of an HTM network. See
:class:`AnomalyDetector` for the method and its parameters.
"""

from __future__ import annotations

import logging
import math
import numbers
import threading
from collections import deque
from typing import Any

import numpy as np
import numpy.typing as npt

from autoopt._clock import check_sample_time
from autoopt._validation import check_int, check_real, safe_repr

__all__ = ["AnomalyDetector"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

SQUASH = 3.0
"""Raw surprise of a residual ``e`` with scale ``s``: ``1 - exp(-|e| / (SQUASH s))``."""

MIN_MEAN = 0.03
"""Floor of the long-run mean of the averaged surprises (Numenta's anomaly likelihood uses 0.03)."""

MIN_VARIANCE = 3e-4
"""Floor of their long-run variance (Numenta's value), so a very regular series is not hair-triggered."""

TAIL_FLOOR = 1e-10
"""The score is ``-log10(tail + TAIL_FLOOR) / 10``: a tail probability of 1e-5 scores 0.5."""

MAX_SEASON_LAG = 10_080
"""Longest season (in rows) derived from ``season`` and the timestamps: one week of minutes."""

_LOG_TAIL_FLOOR = -math.log(TAIL_FLOOR)
_SQRT2 = math.sqrt(2.0)


class _Likelihood:
    """One residual stream: raw surprise, its short mean, and the tail of that mean (not locked)."""

    __slots__ = ("_history", "_long", "_m2", "_mean", "_scale", "_short", "_since_exact")

    def __init__(self, window: int, history: int) -> None:
        self._scale: float | None = None  # EW mean of |residual|
        self._short: deque[float] = deque(maxlen=window)
        self._long: deque[float] = deque()
        self._history = history
        self._mean = 0.0  # sliding-window Welford state of self._long
        self._m2 = 0.0
        self._since_exact = 0

    def __len__(self) -> int:
        return len(self._short) + len(self._long)

    def step(self, residual: float, floor: float, scale_alpha: float, warmup: int) -> float:
        """Score one residual against the past, then learn from it."""
        a = abs(residual)
        if self._scale is None:
            self._scale = a
            raw = 0.0
        else:
            s = max(self._scale, floor)
            # a constant series so far (s == 0): any change is a full surprise
            raw = 1.0 - math.exp(-a / (SQUASH * s)) if s > 0.0 else float(a > 0.0)
            self._scale += scale_alpha * (a - self._scale)
        self._short.append(raw)
        avg = math.fsum(self._short) / len(self._short)
        n = len(self._long)
        score = 0.0
        if n >= warmup:
            mean = max(self._mean, MIN_MEAN)
            var = max(self._m2 / n, MIN_VARIANCE)
            tail = 0.5 * math.erfc((avg - mean) / math.sqrt(var) / _SQRT2)
            score = min(1.0, max(0.0, -math.log(tail + TAIL_FLOOR) / _LOG_TAIL_FLOOR))
        self._push(avg)
        return score

    def _push(self, x: float) -> None:
        """Add ``x`` to the long window (dropping the oldest when full) in O(1) amortised."""
        if len(self._long) == self._history:
            y = self._long.popleft()
            n = len(self._long)
            if n == 0:
                self._mean = self._m2 = 0.0
            else:
                d = y - self._mean
                self._mean -= d / n
                self._m2 = max(0.0, self._m2 - d * (y - self._mean))
        self._long.append(x)
        d = x - self._mean
        self._mean += d / len(self._long)
        self._m2 += d * (x - self._mean)
        self._since_exact += 1
        if self._since_exact >= self._history:
            # once per `history` rows: recompute exactly, so rounding cannot drift over long runs
            self._since_exact = 0
            self._mean = math.fsum(self._long) / len(self._long)
            self._m2 = math.fsum((v - self._mean) ** 2 for v in self._long)


class AnomalyDetector:
    """Streaming, causal anomaly scores in [0, 1] from forecast residuals and an anomaly likelihood.

    Parameters
    ----------
    window : int, default 5
        Rows over which each raw surprise is averaged before it is judged (Numenta uses 10).
    history : int, default 8640
        Rows of averaged surprises that make the long-run distribution (a month of 5-minute rows;
        Numenta's value).
    warmup : int, default 150
        Rows learnt before anything is scored: the likelihoods need ``warmup`` past averages and
        the range check ``warmup`` past values. Scores are 0 until then.
    spatial_tolerance : float or None, default 0.05
        A value more than this fraction of the observed range beyond the observed minimum or
        maximum scores 1 (Numenta's "spatial anomaly", same tolerance). ``0`` flags every new
        extreme, ``None`` turns the check off. In pure noise the range keeps growing slowly, so an
        occasional new extreme scores 1 too.
    suppression : int, default 30
        A score is reported only when it beats every (unsuppressed) score of the previous
        ``suppression`` rows, and is 0 otherwise: one event gives one alert, not a burst.
        ``0`` turns this off.
    season : float or None, default 86400.0
        Seasonal period in seconds. With timestamps, the lag in rows is ``round(season / dt)`` with
        ``dt`` the interval between the first two timestamped rows, used when it is in
        ``[2, MAX_SEASON_LAG]``. ``None`` disables the seasonal forecaster (unless ``season_lag``).
    season_lag : int or None, default None
        Seasonal lag in rows; overrides ``season`` and works without timestamps.
    scale_alpha : float, default 0.01
        Smoothing factor of the exponentially weighted mean absolute residual (the residual scale).
    level_alpha : float, default 0.02
        Smoothing factor of the slow exponentially weighted level (the level forecaster).
    noise_floor : float, default 0.03
        Residual scales are at least this fraction of the observed range, so a series that has
        been nearly constant does not make every small wiggle a full surprise.

    Attributes
    ----------
    count : int
        Finite rows learnt since construction or :meth:`reset`.
    gaps : int
        NaN rows seen (skipped).
    season_lag_ : int or None
        The seasonal lag in use, once known.
    state_size : int
        Numbers held in the bounded buffers; at most ``3 (window + history) + season lag +
        max(suppression, 1)``, whatever the length of the stream.

    Notes
    -----
    **Method.** For each row ``x_t`` three forecasts are made from the past only: the previous
    value (naive), a slow exponentially weighted level (``level_alpha``), and the value one season
    ago (when a season lag is known). For each residual ``e``, with ``s`` the exponentially weighted
    mean of that residual's past absolute values (at least ``noise_floor`` times the observed
    range), the raw surprise is ``1 - exp(-|e| / (3 s))`` in [0, 1]. As in Numenta's anomaly
    likelihood, the mean of the last ``window`` raw surprises is compared with the mean ``m`` and
    variance ``v`` of the previous ``history`` such means (floored at 0.03 and 3e-4): the tail
    probability ``q = Q((avg - m) / sqrt(v))`` of the standard normal becomes the score
    ``-log10(q + 1e-10) / 10``, so ``q = 1e-5`` scores 0.5 and ``q <= 1e-10`` scores 1. The row's
    score is the largest of the three, or 1 when the value leaves the observed range by more than
    ``spatial_tolerance`` of it (the spatial check of Numenta's NAB detector). Finally, scores
    that do not beat the last ``suppression`` rows are reported as 0.

    What it sees: sustained changes (level shifts, bursts, a broken daily pattern) through the
    likelihoods, and new extremes through the range check. A single-row spike that stays inside
    the observed range is diluted by the ``window`` average and scores only a little above the
    noise; likewise, in pure noise an occasional new extreme scores 1. Both are the trade-offs
    that score best on NAB (a per-row residual test fired on its heavy-tailed series).

    Every quantity is updated incrementally in bounded buffers (``deque(maxlen=...)``): the long
    window keeps a sliding Welford mean and variance, recomputed exactly once per ``history``
    rows, so :meth:`update` is O(1) amortised in the length of the stream (and
    O(window + suppression) in its parameters).

    **Causality.** The score of row ``t`` uses rows ``<= t`` only: :meth:`score` on a prefix of a
    series gives the first scores of the whole series, as the Numenta Anomaly Benchmark requires.

    **Missing and bad values.** NaN is a gap: it scores 0 and changes nothing (not even the
    seasonal buffer, so a lag counts finite rows). An infinite value, or a value that is not a real
    number, raises and records nothing. Timestamps are optional; they are only used to derive the
    seasonal lag from ``season``.

    **Benchmark.** On the 41-file NAB v1.1 subset shipped with the project, the defaults score
    71.37 / 68.88 / 74.14 (standard / low-FP / low-FN, corpus-optimised threshold; run
    ``python -m benchmarks.nab.run --detectors numenta,wg,benchmarks.nab.autoopt_detector:autoopt_anomaly``).
    Several defaults (``window``, ``warmup``, ``suppression``, ``noise_floor``) were chosen on that
    corpus; the detector never sees its labels.

    Thread safety
    -------------
    One lock per detector serialises :meth:`update` and :meth:`reset`, so concurrent updates are
    applied one at a time (in lock order) and the counters stay exact. :meth:`score` works on a
    fresh private copy of the initial state and takes no lock: it is pure and does not touch the
    streaming state.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = 10.0 + np.sin(np.arange(1000) * 2 * np.pi / 50) + rng.normal(0, 0.2, 1000)
    >>> x[800] += 5.0
    >>> detector = AnomalyDetector()
    >>> s = detector.score(x)
    >>> bool(s[800] > 0.9), float((s[200:] > 0.5).mean())  # the spike, and a noise extreme at 238
    (True, 0.0025)

    The streaming form gives the same numbers, one row at a time:

    >>> stream = [detector.update(v) for v in x]
    >>> bool(np.array_equal(stream, s)), detector.count
    (True, 1000)
    """

    def __init__(
        self,
        *,
        window: int = 5,
        history: int = 8640,
        warmup: int = 150,
        spatial_tolerance: float | None = 0.05,
        suppression: int = 30,
        season: float | None = 86400.0,
        season_lag: int | None = None,
        scale_alpha: float = 0.01,
        level_alpha: float = 0.02,
        noise_floor: float = 0.03,
    ) -> None:
        name = "AnomalyDetector() argument"
        self.window = check_int(window, f"{name} 'window'", low=1, high=100_000)
        self.history = check_int(history, f"{name} 'history'", low=1, high=10_000_000)
        self.warmup = check_int(warmup, f"{name} 'warmup'", low=0, high=10_000_000)
        if self.warmup > self.history:
            raise ValueError(f"{name} 'warmup' must be <= 'history' ({self.history}); got {self.warmup!r}.")
        self.spatial_tolerance = (
            None
            if spatial_tolerance is None
            else check_real(spatial_tolerance, f"{name} 'spatial_tolerance'", low=0.0)
        )
        self.suppression = check_int(suppression, f"{name} 'suppression'", low=0, high=100_000)
        self.season = (
            None if season is None else check_real(season, f"{name} 'season'", low=0.0, low_open=True)
        )
        self.season_lag = (
            None
            if season_lag is None
            else check_int(season_lag, f"{name} 'season_lag'", low=1, high=10_000_000)
        )
        self.scale_alpha = check_real(scale_alpha, f"{name} 'scale_alpha'", low=0.0, high=1.0, low_open=True)
        self.level_alpha = check_real(level_alpha, f"{name} 'level_alpha'", low=0.0, high=1.0, low_open=True)
        self.noise_floor = check_real(noise_floor, f"{name} 'noise_floor'", low=0.0)
        self._lock = threading.Lock()
        self._init_state()

    # ------------------------------------------------------------------ state

    def _init_state(self) -> None:
        self.count = 0
        self.gaps = 0
        self._first_time: float | None = None
        self._prev = 0.0
        self._level = 0.0
        self._min = math.inf
        self._max = -math.inf
        self._naive = _Likelihood(self.window, self.history)
        self._slow = _Likelihood(self.window, self.history)
        self._seasonal = _Likelihood(self.window, self.history)
        self._season_buf: deque[float] | None = None
        self.season_lag_: int | None = None
        if self.season_lag is not None:
            self._start_season(self.season_lag)
        self._recent: deque[float] = deque(maxlen=max(self.suppression, 1))

    def _start_season(self, lag: int) -> deque[float]:
        self.season_lag_ = lag
        buf: deque[float] = deque(maxlen=lag)
        self._season_buf = buf
        logger.debug("AnomalyDetector: seasonal forecaster with a lag of %d rows", lag)
        return buf

    def _fresh(self) -> AnomalyDetector:
        return AnomalyDetector(
            window=self.window,
            history=self.history,
            warmup=self.warmup,
            spatial_tolerance=self.spatial_tolerance,
            suppression=self.suppression,
            season=self.season,
            season_lag=self.season_lag,
            scale_alpha=self.scale_alpha,
            level_alpha=self.level_alpha,
            noise_floor=self.noise_floor,
        )

    @property
    def state_size(self) -> int:
        """Numbers held in the bounded buffers (see the class docstring for the bound)."""
        with self._lock:
            season = 0 if self._season_buf is None else len(self._season_buf)
            return len(self._naive) + len(self._slow) + len(self._seasonal) + season + len(self._recent)

    def reset(self) -> None:
        """Forget everything learnt (counters included); the parameters are kept."""
        with self._lock:
            self._init_state()

    # ------------------------------------------------------------------ scoring

    def update(self, value: float | np.floating[Any] | np.integer[Any], timestamp: Any = None) -> float:
        """Learn one row and return its anomaly score in [0, 1].

        Parameters
        ----------
        value : float
            The observation; NaN is a gap (scores 0, changes nothing).
        timestamp : datetime, pandas Timestamp, numpy datetime64 or POSIX seconds, optional
            When the row was observed (naive datetimes are UTC). Only used to derive the seasonal
            lag from ``season``.

        Raises
        ------
        TypeError
            If ``value`` is not a real number or ``timestamp`` is not a time.
        ValueError
            If ``value`` is infinite or ``timestamp`` is NaT or not finite.
        """
        x = _check_value(value, "update() argument 'value'")
        t = None if timestamp is None else check_sample_time(timestamp, "update() argument 'timestamp'")
        with self._lock:
            return self._step(x, t)

    def score(self, series: Any) -> FloatArray:
        """Anomaly scores of a whole series, scored from scratch (this detector's state is untouched).

        Parameters
        ----------
        series : pandas.Series or array-like of float
            The values in time order; NaN rows are gaps. A :class:`pandas.Series` with a
            :class:`~pandas.DatetimeIndex` supplies the timestamps.

        Returns
        -------
        numpy.ndarray
            One score in [0, 1] per row; equal to calling :meth:`update` row by row on a new
            detector with the same parameters.

        Raises
        ------
        TypeError
            If the values are not real numbers.
        ValueError
            If the series is not 1-D, holds an infinite value, or its index holds NaT.
        """
        values, times = _as_series(series, "score() argument 'series'")
        fresh = self._fresh()
        out = np.empty(len(values), dtype=np.float64)
        step = fresh._step
        if times is None:
            for i, v in enumerate(values):
                out[i] = step(v, None)
        else:
            for i, (v, t) in enumerate(zip(values, times, strict=True)):
                out[i] = step(v, t)
        return out

    def _step(self, x: float, t: float | None) -> float:
        """One row, under the lock (or on a private detector): score, then learn."""
        if math.isnan(x):
            self.gaps += 1
            return 0.0
        self.count += 1
        if self._first_time is None and t is not None and self.count == 1:
            self._first_time = t
        if self.count == 1:
            self._prev = self._level = self._min = self._max = x
            if self._season_buf is not None:
                self._season_buf.append(x)
            self._recent.append(0.0)
            return 0.0
        if (
            self._season_buf is None
            and self.count == 2
            and self.season is not None
            and t is not None
            and self._first_time is not None
            and t > self._first_time
        ):
            lag = round(self.season / (t - self._first_time))
            if 2 <= lag <= MAX_SEASON_LAG:
                self._start_season(lag).append(self._prev)
        spread = self._max - self._min
        floor = self.noise_floor * spread
        warmup, alpha = self.warmup, self.scale_alpha
        score = self._naive.step(x - self._prev, floor, alpha, warmup)
        score = max(score, self._slow.step(x - self._level, floor, alpha, warmup))
        buf = self._season_buf
        if buf is not None:
            if len(buf) == buf.maxlen:
                score = max(score, self._seasonal.step(x - buf[0], floor, alpha, warmup))
            buf.append(x)
        if self.spatial_tolerance is not None and self.count > warmup and spread > 0.0:
            tol = self.spatial_tolerance * spread
            if x > self._max + tol or x < self._min - tol:
                score = 1.0
        self._min = min(self._min, x)
        self._max = max(self._max, x)
        self._prev = x
        self._level += self.level_alpha * (x - self._level)
        if self.suppression:
            before = max(self._recent)
            self._recent.append(score)
            if score <= before:
                return 0.0
        return score


def _check_value(value: Any, name: str) -> float:
    """A real number as float; NaN passes (a gap), infinity raises."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number (NaN for a gap); got {safe_repr(value)} of type {type(value).__name__}."
        )
    try:
        x = float(value)
    except OverflowError:
        raise ValueError(
            f"{name} must be finite or NaN (a gap); got {safe_repr(value)}, too large for a float."
        ) from None
    if math.isinf(x):
        raise ValueError(f"{name} must be finite or NaN (a gap); got {value!r}.")
    return x


def _as_series(series: Any, name: str) -> tuple[list[float], list[float] | None]:
    """Values (floats, NaN allowed) and POSIX timestamps (or None) of a series, validated."""
    import pandas as pd  # lazily: `import autoopt` does not import pandas

    times: list[float] | None = None
    if isinstance(series, pd.Series):
        index = series.index
        if isinstance(index, pd.DatetimeIndex):
            if index.hasnans:
                raise ValueError(f"{name} has a missing timestamp (NaT) in its index.")
            naive = index.tz_convert("UTC").tz_localize(None) if index.tz is not None else index
            times = ((naive - pd.Timestamp(0)) / pd.Timedelta(seconds=1)).to_numpy(dtype=np.float64).tolist()
        raw = series.to_numpy()
    else:
        raw = np.asarray(series)
    if raw.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {raw.shape}.")
    if raw.dtype == np.bool_ or not (
        np.issubdtype(raw.dtype, np.number) or (raw.dtype == object and _all_real(raw))
    ):
        raise TypeError(f"{name} must hold real numbers (NaN for gaps); got dtype {raw.dtype}.")
    if np.issubdtype(raw.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers (NaN for gaps); got dtype {raw.dtype}.")
    values = raw.astype(np.float64)
    bad = np.isinf(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{name} must be finite or NaN (a gap); got {float(values[i])!r} at row {i}.")
    return values.tolist(), times


def _all_real(raw: np.ndarray) -> bool:
    return all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in raw.tolist())
