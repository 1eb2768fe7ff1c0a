"""The statistics behind :class:`~autoopt.prediction.AnomalyDetector`: tail p-values of residual streams.

A residual stream turns each new absolute residual into two p-values against
that stream's own recent past, so nothing depends on the series' units or on a
corpus:

- the **point test**, :meth:`TailStream.point_p`: the share of the last
  ``history`` absolute residuals at least as large (a conformal p-value), and
  beyond the ``k``-th largest a generalised Pareto tail fitted to the ``k``
  largest by the method of moments (peaks over threshold, as in SPOT, Siffer
  et al., KDD 2017; the moment estimators of Hosking and Wallis, 1987), with
  its shape clamped at ``>= 0``. So the p-value keeps falling past the largest
  value seen, and a series with recurring large spikes gets a heavy tail that
  does not flag each spike;
- the **sustained test**: the mean of the last ``window`` mid-rank
  percentiles, which is 1/2 with variance ``1 / (12 window)`` when the
  residuals are exchangeable, against the slowly learnt mean and variance of
  those means (the variance floored at that value) through the normal tail:
  the idea of Numenta's anomaly likelihood (Ahmad et al., Neurocomputing
  2017), with a prior in place of corpus-tuned floors.

:class:`PatternMemory` is the nearest-neighbour stream's memory: the distance
of the last ``length`` values to the nearest stored window that does not
overlap them (the idea of KNN-CAD).

Every structure is bounded; an update costs O(history) in a C ``memmove``
(the sorted window) plus O(k) for a tail refit, which happens only when a
value at or above the tail threshold enters or leaves. Nothing is locked
here: the detector serialises access.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections import deque

import numpy as np

__all__ = ["AVERAGE_ALPHA", "TAIL_FRACTION", "TAIL_MIN", "PatternMemory", "TailStream", "gpd_moments"]

TAIL_FRACTION = 0.02
TAIL_MIN = 10
"""The tail is the ``max(TAIL_MIN, TAIL_FRACTION n)`` largest of ``n`` residuals (usual peaks-over-threshold
choices)."""

AVERAGE_ALPHA = 1e-3
"""Learning rate of the sustained test's mean and variance of averages (a memory of ~1000 averages)."""

_SQRT2 = math.sqrt(2.0)


def gpd_moments(top: list[float], threshold: float) -> tuple[float, float]:
    """Generalised Pareto ``(shape, scale)`` of the excesses of ``top`` over ``threshold``, by the method of
    moments, the shape clamped at 0.

    With mean ``m`` and variance ``v`` of the excesses and ``r = m^2 / v``, ``shape = (1 - r) / 2`` and
    ``scale = m (r + 1) / 2`` (Hosking and Wallis, 1987). A light or bounded tail (``r >= 1``, shape <= 0)
    is taken as exponential with the mean excess as its scale, which over-states such a tail, never
    under-states it (conservative), and stays finite when the excesses tie.

    >>> gpd_moments([3.0, 3.0, 3.0, 3.0], 2.0)  # no spread: an exponential tail of mean excess 1
    (0.0, 1.0)
    >>> shape, scale = gpd_moments([0.5, 1.0, 1.5, 13.0], 0.0)  # more spread than an exponential: heavy
    >>> round(shape, 3), round(scale, 3)
    (0.205, 3.18)
    """
    k = len(top)
    m1 = math.fsum(top) / k - threshold
    if not m1 > 0.0:
        return 0.0, m1
    m2 = math.fsum([(y - threshold) * (y - threshold) for y in top]) / k
    r = m1 * m1 / max(m2 - m1 * m1, 1e-300)
    if r >= 1.0:
        return 0.0, m1
    return 0.5 * (1.0 - r), 0.5 * m1 * (r + 1.0)


class TailStream:
    """One residual stream's point and sustained tests (see the module docstring).

    Parameters
    ----------
    history : int
        Absolute residuals kept for the point test.
    window : int
        Percentiles averaged by the sustained test.
    warmup : int
        Residuals before the point test starts, and averages before the sustained test starts.
    """

    __slots__ = (
        "_fit",
        "_mean",
        "_n_avg",
        "_order",
        "_pct",
        "_pct_sum",
        "_sorted",
        "_v0",
        "_var",
        "history",
        "warmup",
        "window",
    )  # fmt: skip

    def __init__(self, history: int, window: int, warmup: int) -> None:
        self.history = history
        self.window = window
        self.warmup = warmup
        self._order: deque[float] = deque()  # the residuals in arrival order
        self._sorted: list[float] = []  # the same, sorted
        self._pct: deque[float] = deque(maxlen=window)
        self._pct_sum = 0.0
        self._v0 = 1.0 / (12.0 * window)  # variance of the mean of `window` uniform percentiles
        self._mean = 0.5
        self._var = self._v0
        self._n_avg = 0
        self._fit: tuple[int, float, float, float] | None = None  # (k, threshold, shape, scale)

    def __len__(self) -> int:
        return len(self._order) + len(self._pct)

    def point_p(self, a: float, scale_floor: float) -> tuple[float, float]:
        """The point test's p-value of the absolute residual ``a``, and its mid-rank percentile."""
        s = self._sorted
        n = len(s)
        lo = bisect_left(s, a)
        hi = bisect_right(s, a)
        pct = (lo + 0.5 * (hi - lo)) / n
        k = min(max(TAIL_MIN, int(TAIL_FRACTION * n)), n - 1)
        u = s[n - k - 1] if k >= 1 else math.inf
        if a <= u:  # conformal: the share of the past (and this one) at least as large
            return (n - lo + 1) / (n + 1), pct
        fit = self._fit
        if fit is None or fit[0] != k or fit[1] != u:
            shape, scale = gpd_moments(s[n - k :], u)
            fit = self._fit = (k, u, shape, scale)
        shape, scale = fit[2], max(fit[3], scale_floor)
        if not scale > 0.0:
            return 0.0, pct
        z = (a - u) / scale
        at_u = (k + 1) / (n + 1)
        if shape > 1e-9:
            return at_u * (1.0 + shape * z) ** (-1.0 / shape), pct
        return (at_u * math.exp(-z) if z < 700.0 else 0.0), pct

    def step(self, residual: float, scale_floor: float) -> tuple[float, float]:
        """Test ``residual`` against the past, then learn it: ``(point p, sustained p)`` (1.0 while warming up).

        The hot path of the detector: the sustained test and the learning are written out here rather
        than called, which saves a fifth of its cost.
        """
        a = abs(residual)
        s = self._sorted
        p_point = p_sustained = 1.0
        if len(s) >= self.warmup:
            p_point, pct = self.point_p(a, scale_floor)
            # the sustained test: the mean of the last `window` percentiles against its learnt law
            window = self._pct
            if len(window) == self.window:
                self._pct_sum -= window[0]
            window.append(pct)
            self._pct_sum += pct
            if len(window) == self.window:
                d = self._pct_sum / self.window - self._mean
                if self._n_avg >= self.warmup:
                    var = self._var if self._var > self._v0 else self._v0
                    p_sustained = 0.5 * math.erfc(d / math.sqrt(var) / _SQRT2)
                self._n_avg += 1
                self._mean += AVERAGE_ALPHA * d
                self._var += AVERAGE_ALPHA * (d * d - self._var)
        # learn |residual|; the tail fit is stale once a value at or above its threshold enters or leaves
        fit = self._fit
        if len(s) == self.history:
            old = self._order.popleft()
            del s[bisect_left(s, old)]
            if fit is not None and old >= fit[1]:
                self._fit = fit = None
        self._order.append(a)
        insort(s, a)
        if fit is not None and a >= fit[1]:
            self._fit = None
        return p_point, p_sustained


class PatternMemory:
    """The last ``memory`` windows of ``length`` values; the distance of a new window to the nearest of them.

    A window is stored only once ``length`` newer rows have arrived, so the
    search never matches the current window against one overlapping it. The
    windows are stored times -2, beside their squared norms, so a search is one
    matrix-vector product and one addition into a preallocated buffer:
    ``|w - v|^2 = |w|^2 + (-2 w) . v + |v|^2`` (scaling by -2 is exact).
    """

    __slots__ = ("_count", "_dots", "_latest", "_length", "_memory", "_pending", "_pos", "_sq", "_windows")

    def __init__(self, length: int, memory: int) -> None:
        self._length = length
        self._memory = memory
        self._latest: deque[float] = deque(maxlen=length)
        self._pending: deque[np.ndarray] = deque()
        self._windows = np.zeros((memory, length))  # each stored window times -2
        self._sq = np.zeros(memory)
        self._dots = np.empty(memory)
        self._count = 0
        self._pos = 0

    def __len__(self) -> int:
        return len(self._latest) + len(self._pending) * self._length + self._count * (self._length + 1)

    def step(self, x: float, min_stored: int) -> float | None:
        """Add ``x``; the distance of the latest window to its nearest stored one (None until ``min_stored``)."""
        latest = self._latest
        latest.append(x)
        if len(latest) < self._length:
            return None
        v = np.fromiter(latest, dtype=np.float64, count=self._length)
        distance = None
        n = self._count
        if n >= min_stored:
            dots = self._dots[:n]
            np.dot(self._windows[:n], v, out=dots)
            np.add(dots, self._sq[:n], out=dots)
            distance = math.sqrt(max(float(dots.min()) + float(v @ v), 0.0))
        self._pending.append(v)
        if len(self._pending) > self._length:
            w = self._pending.popleft()
            self._windows[self._pos] = -2.0 * w
            self._sq[self._pos] = float(w @ w)
            self._pos = (self._pos + 1) % self._memory
            self._count = min(n + 1, self._memory)
        return distance
