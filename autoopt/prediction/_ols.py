"""Simple linear regression over a sliding window, with exact OLS intervals.

:class:`SlidingOLS` fits ``y = a + b x`` by ordinary least squares to the
last ``window`` points and keeps the fit up to date in O(1) per point with
centred running moments (a Welford-style add and remove). Predictions carry
the textbook OLS intervals, the same numbers statsmodels'
``OLS(y, add_constant(x)).fit().get_prediction(x0).summary_frame(alpha)``
gives:

- ``mean_se = s * sqrt(1/n + (x0 - xbar)^2 / Sxx)``, the standard error of
  the fitted mean;
- ``obs_se = sqrt(s^2 + mean_se^2)``, the standard error for a new
  observation (statsmodels' ``se_obs``);
- intervals ``mean +- t_{1-alpha/2, n-2} * se``,

where ``s^2 = SSR / (n - 2)``. Rounding drift of the running moments is
removed by recomputing them exactly from the window every ``window``
removals, which costs O(1) amortised. The moments are of ``x - shift`` with
the shift moved to the window's start at each recompute, so precision does
not decay as ``x`` (say, minutes of uptime) grows.

When every ``x`` in the window is equal the slope is not identified; the
model then falls back to the mean (``b = 0``, ``n - 1`` degrees of freedom).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
from numpy.typing import ArrayLike

from autoopt.prediction._results import PredictionResults, t_quantile

__all__ = ["SlidingOLS"]

_EPS = float(np.finfo(np.float64).eps)
_IDENT_ULPS = 1e3  # margin, in units of rounding error, before a spread of x counts as real


class SlidingOLS:
    """Incremental simple linear regression over the last ``window`` points.

    Parameters
    ----------
    window : int
        Number of most recent points the fit uses (>= 3).

    Examples
    --------
    >>> ols = SlidingOLS(window=50)
    >>> for i in range(100):
    ...     _ = ols.update(float(i), 50.0 + 0.5 * i + (-1) ** i)
    >>> round(ols.slope, 2), ols.n
    (0.5, 50)
    >>> pred = ols.predict(129.0, alpha=0.05)
    >>> round(float(pred.mean), 2), pred.dof
    (114.37, 48)
    """

    def __init__(self, window: int) -> None:
        if isinstance(window, bool) or not isinstance(window, int) or window < 3:
            raise ValueError(f"window must be an int >= 3; got {window!r}.")
        self.window = window
        self._buf: deque[tuple[float, float]] = deque()  # the window, oldest first
        self._n = 0
        self._shift: float | None = None  # moments are of x - shift, for precision at large |x|
        self._mx = 0.0
        self._my = 0.0
        self._sxx = 0.0
        self._sxy = 0.0
        self._syy = 0.0
        self._removals = 0

    # ------------------------------------------------------------------ update

    @property
    def n(self) -> int:
        """Points in the current window."""
        return self._n

    def update(self, x: float, y: float) -> SlidingOLS:
        """Add the point ``(x, y)``, dropping the oldest if the window is full; return self."""
        if self._n == self.window:
            ox, oy = self._buf.popleft()
            self._remove(ox, oy)
        self._buf.append((x, y))
        if self._shift is None:
            self._shift = x
        x = x - self._shift
        n = self._n + 1
        dx = x - self._mx
        dy = y - self._my
        self._mx += dx / n
        self._my += dy / n
        self._sxx += dx * (x - self._mx)
        self._sxy += dx * (y - self._my)
        self._syy += dy * (y - self._my)
        self._n = n
        return self

    def _remove(self, x: float, y: float) -> None:
        n = self._n
        if n == 1:
            self._n = 0
            self._mx = self._my = self._sxx = self._sxy = self._syy = 0.0
            self._shift = None
            return
        assert self._shift is not None
        x = x - self._shift
        mx_new = (n * self._mx - x) / (n - 1)
        my_new = (n * self._my - y) / (n - 1)
        self._sxx -= (x - mx_new) * (x - self._mx)
        self._sxy -= (x - mx_new) * (y - self._my)
        self._syy -= (y - my_new) * (y - self._my)
        self._mx, self._my, self._n = mx_new, my_new, n - 1
        self._removals += 1
        if self._removals >= self.window:
            self._recompute()

    def _recompute(self) -> None:
        """Recompute the moments exactly from the buffer (O(window), every ``window`` removals)."""
        data = np.array(self._buf, dtype=np.float64)  # O(window), once every `window` removals
        self._shift = float(data[0, 0])
        x, y = data[:, 0] - self._shift, data[:, 1]
        self._n = len(x)
        self._mx = float(x.mean())
        self._my = float(y.mean())
        dx, dy = x - self._mx, y - self._my
        self._sxx = float(dx @ dx)
        self._sxy = float(dx @ dy)
        self._syy = float(dy @ dy)
        self._removals = 0

    def reset(self) -> None:
        """Forget every point."""
        self.__init__(self.window)  # type: ignore[misc]

    # ----------------------------------------------------------------- results

    @property
    def _identified(self) -> bool:
        # The slope is identified when x spreads beyond its own rounding noise: each x carries an
        # error of about eps * |x|, so Sxx below n * (k * eps * |x|)^2 is indistinguishable from 0.
        noise = _IDENT_ULPS * _EPS * max(1.0, abs(self._mx + (self._shift or 0.0)))
        return self._sxx > self._n * noise * noise

    @property
    def slope(self) -> float:
        """The OLS slope ``b`` (0 when x has no spread; NaN when empty)."""
        if self._n == 0:
            return math.nan
        return self._sxy / self._sxx if self._identified else 0.0

    @property
    def intercept(self) -> float:
        """The OLS intercept ``a`` at ``x = 0`` (NaN when empty)."""
        return self._my - self.slope * (self._mx + (self._shift or 0.0)) if self._n else math.nan

    @property
    def dof(self) -> int:
        """Residual degrees of freedom: ``n - 2`` (``n - 1`` when the slope is not identified)."""
        return self._n - (2 if self._identified else 1)

    @property
    def ssr(self) -> float:
        """Sum of squared residuals of the current fit (clipped at 0)."""
        if self._n == 0:
            return math.nan
        if self._identified:
            return max(self._syy - self._sxy * self._sxy / self._sxx, 0.0)
        return max(self._syy, 0.0)

    @property
    def rsquared(self) -> float:
        """Coefficient of determination of the current fit (NaN when y is constant)."""
        if self._n == 0 or self._syy <= 0.0:
            return math.nan
        return 1.0 - self.ssr / self._syy

    def predict(self, x: ArrayLike, alpha: float = 0.05) -> PredictionResults:
        """Predict at ``x`` (scalar or array) with ``1 - alpha`` intervals.

        Raises
        ------
        ValueError
            If fewer points than needed for a residual variance are held, or
            ``alpha`` is not in (0, 1).
        """
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1); got {alpha!r}.")
        dof = self.dof
        if dof < 1:
            raise ValueError(f"need at least 3 points to predict with intervals; have {self._n}.")
        x0 = np.asarray(x, dtype=np.float64)
        s2 = self.ssr / dof
        d = (x0 - (self._shift or 0.0)) - self._mx
        if self._identified:
            mean = self._my + (self._sxy / self._sxx) * d
            var_mean = s2 * (1.0 / self._n + d * d / self._sxx)
        else:
            mean = self._my + 0.0 * d
            var_mean = s2 / self._n + 0.0 * d
        mean_se = np.sqrt(var_mean)
        obs_se = np.sqrt(var_mean + s2)
        return PredictionResults(
            mean=mean,
            mean_se=mean_se,
            obs_se=obs_se,
            t_value=t_quantile(dof, 1.0 - alpha / 2.0),
            alpha=alpha,
            dof=dof,
        )
