"""Vectorised numerics of the Forecaster: the seasonal design, weighted least squares, AR(p) on residuals.

Every function works on ``(n, k)`` arrays -- ``n`` time steps of ``k``
series -- and never loops in Python over series. Missing values are NaN and
get zero weight.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "Design",
    "ar_forecast_matrix",
    "design",
    "fit_ar",
    "fourier_orders",
    "psi_weights",
    "robust_scale",
]


HUBER_PASSES = 8
"""Most Huber pseudo-observation refits after the weighted least-squares start (each series stops earlier
once its coefficients move by less than ``tol``)."""


class Design:
    """The seasonal design of an ``n``-point window and its weighted Gram matrices, cached by size.

    Columns: an intercept, a linear trend ``t / (n - 1)`` when ``trend``, and
    the Fourier pairs ``sin(2 pi j t / p), cos(2 pi j t / p)``, ``j = 1 ..
    harmonics``, of each period ``p``, less the pairs whose frequency ``j /
    p`` an earlier period already has (a week's 7th harmonic is a day's
    first: the same column twice). Fourier pairs represent a seasonal
    shape of that smoothness whatever its phase, so the design depends only
    on the sizes, and rolling-origin refits of same-length windows (and
    every series of a batch) share it. Row ``t`` weighs
    ``2 ** (-(n - 1 - t) / halflife)`` (1 without a half-life); weighted
    least squares is invariant to scaling the weights, so a fit on the
    first ``end`` rows uses the same weights. The Gram matrix of every prefix
    ``[0, end)`` used is computed once (two threads racing compute it twice,
    identically; the dict assignment is atomic).
    """

    def __init__(
        self,
        n: int,
        periods: tuple[int, ...],
        harmonics: tuple[int, ...],
        trend: bool,
        halflife: float | None,
    ) -> None:
        self.n = n
        self.periods = periods
        self.harmonics = harmonics
        self.trend = trend
        self.orders = fourier_orders(periods, harmonics)
        self.X = self.rows(np.arange(n, dtype=float))
        self.X.setflags(write=False)
        self.Xt = np.ascontiguousarray(self.X.T)
        self.Xt.setflags(write=False)
        self.w = np.ones(n) if halflife is None else 2.0 ** (-(n - 1 - np.arange(n)) / halflife)
        self.w.setflags(write=False)
        self._grams: dict[int, np.ndarray] = {}

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    def rows(self, t: np.ndarray) -> np.ndarray:
        """Design rows at the (possibly future) time steps ``t``."""
        cols = [np.ones(t.size)]
        if self.trend:
            cols.append(t / max(self.n - 1, 1))
        for p, orders in zip(self.periods, self.orders, strict=True):
            arg = 2.0 * np.pi * np.outer(t, orders) / p  # (t, harmonics)
            cols.extend([np.sin(arg), np.cos(arg)])
        return np.column_stack(cols)

    def gram(self, end: int) -> np.ndarray:
        """``X[:end]^T diag(w[:end]) X[:end]``, computed once per ``end``."""
        g = self._grams.get(end)
        if g is None:
            X = self.X[:end]
            g = (X * self.w[:end, None]).T @ X
            g.setflags(write=False)
            self._grams[end] = g
        return g

    def solve(self, Y: np.ndarray, W: np.ndarray, gram: np.ndarray | None = None) -> np.ndarray:
        """Weighted (ridge) least squares of each column of ``Y`` on rows ``[0, end)``: ``(k, n_features)``.

        ``gram`` is ``grams(W)`` when already computed.
        """
        end = W.shape[0]
        W = np.where(W > 0, W, 0.0)
        rhs = (self.X[:end].T @ (W * np.where(W > 0, Y, 0.0))).T
        coef: np.ndarray = np.linalg.solve(self.grams(W) if gram is None else gram, rhs[..., None])[..., 0]
        return coef

    def grams(self, W: np.ndarray) -> np.ndarray:
        """The per-series Gram matrices ``X^T diag(W[:, j]) X + ridge`` over rows ``[0, end)``: ``(k, p, p)``.

        ``W`` (``(end, k)``) holds each observation's weight, at most the
        row's design weight ``w``: 0 for a missing value. See
        :meth:`prefix_grams`.
        """
        return self.prefix_grams(W, [W.shape[0]])[0]

    def prefix_grams(self, W: np.ndarray, ends: Sequence[int]) -> list[np.ndarray]:
        """:meth:`grams` of ``W[:end]`` for each of the ascending ``ends``, computed together.

        Each series' Gram matrix is the cached prefix one minus the update of
        its own lowered rows (``W < w``), so it costs ``O(r p^2)`` for ``r``
        such rows rather than ``O(n p^2)``. The updates are summed segment by
        segment between consecutive ends, so every lowered row is used once
        however many prefixes there are. In a segment, each series' lowered
        rows are gathered and padded to one common count, the one that
        minimises the total work; a series with more than that gets the
        update of all the segment's rows directly. A ridge of :data:`RIDGE` times
        the total weight on every coefficient but the intercept keeps terms a
        gap leaves unidentified from extrapolating wildly.
        """
        k = W.shape[1]
        q = self.n_features
        D = self.w[: W.shape[0], None] - W  # how far each observation's weight is lowered
        lowered = 1e-12 * self.w[: W.shape[0], None] < D
        below = np.zeros((k, q, q))  # the update of the lowered rows before the current end
        out = []
        start = 0
        for end in ends:
            seg = lowered[start:end]
            count = seg.sum(axis=0)  # lowered rows per series in this segment
            # A series' update costs ~ its padded row count: gathered and padded to `pad` rows, or all
            # `end - start` rows directly. One padding for all: the one that minimises the total.
            levels = np.unique(count)
            above = count[None, :] > levels[:, None]
            cost = ((count > 0)[None, :] & ~above).sum(axis=1) * levels + above.sum(axis=1) * (end - start)
            pad = int(levels[np.argmin(cost)]) if levels.size else 0
            heavy = np.flatnonzero(count > pad)
            if heavy.size:  # the segment's weighted rows directly
                X = self.X[start:end]
                d = np.where(seg[:, heavy], D[start:end, heavy], 0.0)
                below[heavy] += (X.T[None, :, :] * d.T[:, None, :]) @ X
            light = np.flatnonzero((count > 0) & (count <= pad))
            if light.size:  # each series' lowered rows, gathered and padded to `pad`
                sub = seg[:, light]
                rows = np.argsort(~sub, axis=0, kind="stable")[:pad]  # (pad, s): lowered rows first
                d = np.where(np.take_along_axis(sub, rows, axis=0), D[start:end][rows, light[None, :]], 0.0)
                Xm = self.X[start:end][rows.T]  # (s, pad, q)
                below[light] += (Xm * d.T[..., None]).transpose(0, 2, 1) @ Xm
            gram = self.gram(end) - below
            # Ridge on every coefficient but the intercept, RIDGE times the total weight: it shrinks a
            # well-determined seasonal term by ~RIDGE relative (its Gram eigenvalue is ~ total weight / 2)
            # but bounds a term a gap leaves unidentified instead of letting it extrapolate wildly.
            idx = np.arange(q)
            gram[:, idx, idx] += self.ridge(np.sum(W[:end], axis=0))
            out.append(gram)
            start = end
        return out

    def ridge(self, total: np.ndarray) -> np.ndarray:
        """The diagonal :meth:`grams` adds for series of total weights ``total``: ``(k, n_features)``.

        :data:`RIDGE` times the total weight on every coefficient but the
        intercept, which gets only ``1e-12`` times it (to keep an all-missing
        series' Gram matrix invertible).
        """
        out = np.empty((total.size, self.n_features))
        out[:, 0] = 1e-12 * total + 1e-300
        out[:, 1:] = RIDGE * total[:, None] + 1e-300
        return out

    def coef_cov(self, gram: np.ndarray, W: np.ndarray, resid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The covariance of the coefficients of a fit by :meth:`solve` or :meth:`fit`, and its residual
        degrees of freedom.

        Under the weighted least-squares model (independent errors of
        variance ``sigma^2 / W``), the ridge estimate ``G^-1 X^T W y`` with
        ``G = X^T W X + ridge`` has covariance ``sigma^2 G^-1 (X^T W X)
        G^-1`` -- statsmodels' ``WLS(...).fit().cov_params()`` when the ridge
        is 0 -- and ``sigma^2`` is estimated by ``sum(W r^2) / (n_obs -
        n_features)``.

        Parameters
        ----------
        gram : ndarray, shape (k, p, p)
            :meth:`grams` of ``W``.
        W : ndarray, shape (n, k)
            The observation weights (0 where missing).
        resid : ndarray, shape (n, k)
            The fit's residuals (NaN where missing).

        Returns
        -------
        cov : ndarray, shape (k, p, p)
            NaN for a series with no residual degrees of freedom.
        dof : ndarray of int, shape (k,)
            ``n_obs - n_features``.
        """
        seen = W > 0
        dof = seen.sum(axis=0) - self.n_features
        ssr = np.sum(np.where(seen, W * np.where(seen, resid, 0.0) ** 2, 0.0), axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            s2 = np.where(dof >= 1, ssr / np.maximum(dof, 1), np.nan)
        inv = np.linalg.inv(gram)
        plain = gram.copy()
        idx = np.arange(self.n_features)
        plain[:, idx, idx] -= self.ridge(np.sum(np.where(seen, W, 0.0), axis=0))
        cov = s2[:, None, None] * (inv @ plain @ inv)
        return cov, dof

    def fit(
        self,
        Y: np.ndarray,
        W: np.ndarray,
        huber: float | None = None,
        passes: int = HUBER_PASSES,
        tol: float = 1e-6,
        scale: np.ndarray | None = None,
        gram: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Weighted least squares of each column of ``Y`` on rows ``[0, end)``: coefficients ``(k, n_features)``.

        With ``huber = c``, Huber M-estimation steps follow, at most
        ``passes``, until a series' coefficients move by less than ``tol``
        (relative): the residuals are clipped to ``+-c s`` and the fit is
        redone on those pseudo-observations ``X beta + psi(r)``. The scale
        ``s`` is fixed: ``scale`` when given, else the robust standard
        deviation (1.4826 MAD) of the starting fit's residuals. The weights
        do not change, so the Gram inverses are computed once and each step
        costs ``O(end p k)``. ``gram`` is ``grams(W)`` when already computed.
        Returns the coefficients and the scale used (None without ``huber``).
        """
        end = W.shape[0]
        X = self.X[:end]
        Xt = self.Xt[:, :end]
        seen = W > 0
        W = np.where(seen, W, 0.0)
        Yz = np.where(seen, Y, 0.0)
        inv = np.linalg.inv(self.grams(W) if gram is None else gram)
        coef: np.ndarray = (inv @ (Xt @ (W * Yz)).T[..., None])[..., 0]
        if huber is None:
            return coef, None
        fitted = X @ coef.T
        r = Yz - fitted
        if scale is None:
            scale = robust_scale(np.where(seen, r, np.nan))
        bound = huber * scale
        active = np.ones(coef.shape[0], dtype=bool)  # per series, so a batch == its series one by one
        for step in range(passes):
            if step:
                fitted = X @ coef.T
                r = np.subtract(Yz, fitted, out=r)
            # W * pseudo-observations, fitted + psi(r); psi(r) is 0 where W is 0 (r is not: Yz is 0 there)
            wp = np.clip(r, -bound, bound, out=r)
            wp += fitted
            wp *= W
            new = (inv @ (Xt @ wp).T[..., None])[..., 0]
            moved = np.abs(new - coef).max(axis=1) > tol * (1.0 + np.abs(coef).max(axis=1))
            coef = np.where(active[:, None], new, coef)
            active &= moved
            if not active.any():
                break
        return coef, scale


def robust_scale(r: np.ndarray) -> np.ndarray:
    """1.4826 times the median absolute deviation of each column of ``r``, ignoring NaN; 1 where that is 0."""
    x = np.array(r.T, order="C")  # (k, n), a copy: one sort per series, along contiguous memory
    med = _nanmedian_rows(x)
    np.subtract(x, med[:, None], out=x)
    scale = 1.4826 * _nanmedian_rows(np.abs(x, out=x))
    return np.where(scale > 0, scale, 1.0)


def _nanmedian_rows(x: np.ndarray) -> np.ndarray:
    """Median of each row of ``x`` ignoring NaN (NaN for an all-NaN row), by one sort: NaN sorts last, so a
    row's ``c`` values are its first ``c`` sorted entries."""
    n = x.shape[1]
    c = n - np.isnan(x).sum(axis=1)
    srt = np.sort(x, axis=1)
    rows = np.arange(x.shape[0])
    lo = srt[rows, np.maximum((c - 1) // 2, 0)]
    hi = srt[rows, np.minimum(c // 2, n - 1)]
    with np.errstate(invalid="ignore"):  # an all-NaN row: its median is NaN
        return np.where(c > 0, 0.5 * (lo + hi), np.nan)


RIDGE = 1e-3
"""Ridge penalty of the regression coefficients (all but the intercept), relative to the total weight."""


def fourier_orders(periods: Sequence[int], harmonics: Sequence[int]) -> tuple[np.ndarray, ...]:
    """The harmonics ``j`` of each period ``p`` that the design holds: ``1 .. harmonics``, less those whose
    frequency ``j / p`` an earlier period already has.

    >>> [j.astype(int).tolist() for j in fourier_orders((24, 168), (10, 10))]
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [1, 2, 3, 4, 5, 6, 8, 9, 10]]
    """
    seen: set[tuple[int, int]] = set()  # frequencies j / p in lowest terms
    out = []
    for p, h in zip(periods, harmonics, strict=True):
        keep = []
        for j in range(1, h + 1):
            g = math.gcd(j, p)
            if (j // g, p // g) not in seen:
                seen.add((j // g, p // g))
                keep.append(j)
        out.append(np.array(keep, dtype=float))
    return tuple(out)


@lru_cache(maxsize=32)
def design(
    n: int, periods: tuple[int, ...], harmonics: tuple[int, ...], trend: bool, halflife: float | None
) -> Design:
    """The shared, cached :class:`Design` for these sizes."""
    return Design(n, periods, harmonics, trend, halflife)


def fit_ar(resid: np.ndarray, p: int, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """AR(p) coefficients (``(k, p)``, lag 1 first) and innovation variances (``(k,)``) per column.

    Least squares on the rows whose target and ``p`` lags are all observed,
    weighted by ``weights`` (of the targets; ``(n,)`` or ``(n, k)``) when
    given. A small ridge
    keeps a short or constant residual series stable.
    """
    k = resid.shape[1]
    if weights is not None and weights.ndim == 1:
        weights = weights[:, None]
    if p == 0:
        ok = ~np.isnan(resid)
        w = ok.astype(float) if weights is None else np.where(ok, weights, 0.0)
        r = np.where(ok, resid, 0.0)
        var = (w * r * r).sum(axis=0) / np.maximum(w.sum(axis=0), 1e-300)
        return np.empty((k, 0)), var
    n = resid.shape[0]
    rT = np.ascontiguousarray(resid.T)  # (k, n)
    bad = np.isnan(rT)
    # a row (target t, lags t-1 .. t-p) counts when none of its p + 1 values is missing
    run = np.concatenate([np.zeros((k, 1)), np.cumsum(bad, axis=1)], axis=1)
    ok = (run[:, p + 1 :] - run[:, : n - p]) == 0  # (k, m), m = n - p
    filled = np.where(bad, 0.0, rT)
    if weights is None or bool((weights == 1.0).all()):
        gram, rhs, tt, count = _ar_normal_equations(filled, ok, p)
    else:
        L = np.ascontiguousarray(
            sliding_window_view(filled, p, axis=1)[:, : n - p, ::-1]
        )  # (k, m, p), lag 1 first
        T = filled[:, p:]
        w = np.where(ok, np.broadcast_to(weights[p:], (n - p, k)).T, 0.0)  # (k, m)
        LwT = np.ascontiguousarray((L * w[..., None]).transpose(0, 2, 1))  # (k, p, m)
        gram = LwT @ L  # (k, p, p)
        rhs = (LwT @ T[..., None])[..., 0]
        tt = np.sum(w * T * T, axis=1)
        count = w.sum(axis=1)
    idx = np.arange(p)
    ridged = gram.copy()
    ridged[:, idx, idx] += 1e-6 * np.trace(gram, axis1=1, axis2=2)[:, None] / p + 1e-300
    phi = np.linalg.solve(ridged, rhs[..., None])[..., 0]
    # residual sum of squares from the normal equations: T'T - 2 phi'rhs + phi'G phi
    ssr = tt - 2.0 * np.sum(phi * rhs, axis=1) + np.einsum("kp,kpq,kq->k", phi, gram, phi)
    var = np.maximum(ssr, 0.0) / np.maximum(count - p, 1.0)
    return phi, var


def _ar_normal_equations(
    filled: np.ndarray, ok: np.ndarray, p: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The unweighted AR(p) normal equations per series in O(n p), not O(n p^2).

    ``filled`` (``(k, n)``) is the residual series with gaps as 0, ``ok``
    (``(k, n - p)``) whether each row (target ``t = p + row`` and its ``p``
    lags) is fully observed. Over all rows, the lag Gram entry ``(i, j)`` is
    a sum of lagged products ``r_s r_{s+d}`` (``d = |i - j|``) over a
    contiguous range of ``s``, read off prefix sums of the ``p + 1`` lagged
    product series; the rows that are not fully observed are then taken
    out exactly (their zero-filled contributions, gathered per series).
    Returns the Gram matrices ``(k, p, p)``, right-hand sides ``(k, p)``,
    target sums of squares and row counts ``(k,)``.
    """
    k, n = filled.shape
    # lagged products r_s r_{s+d} (zero past the end): their sums over all s, and over the first and
    # last p values of s, which is all the prefix sums `span` reads
    padded = np.concatenate([filled, np.zeros((k, p))], axis=1)
    total = np.einsum("kds,ks->kd", sliding_window_view(padded, n, axis=1), filled)  # (k, p + 1)
    first = (
        filled[:, :p, None] * sliding_window_view(padded[:, : 2 * p], p + 1, axis=1)[:, :p]
    )  # (k, p, p + 1)
    last = filled[:, n - p :, None] * sliding_window_view(padded[:, n - p :], p + 1, axis=1)
    head = np.zeros((k, p + 1, p + 1))  # head[:, c, d] = sum_{s < c} r_s r_{s+d}
    np.cumsum(first, axis=1, out=head[:, 1:])
    tail = np.zeros((k, p + 1, p + 1))  # tail[:, c, d] = sum_{s >= n - p + c} r_s r_{s+d}
    tail[:, :p] = np.cumsum(last[:, ::-1], axis=1)[:, ::-1]

    def span(d: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """sum_{s = lo}^{hi} r_s r_{s+d}, with lo < p and hi >= n - p - 1."""
        return np.asarray(total[:, d] - head[:, lo, d] - tail[:, hi + 1 - (n - p), d])

    i = np.arange(p)
    lag_d = np.abs(i[:, None] - i[None, :])
    lag_j = np.maximum(i[:, None], i[None, :])
    gram = span(lag_d, p - 1 - lag_j, n - 2 - lag_j)  # (k, p, p): rows t = p .. n - 1, lags i and j
    rhs = span(i + 1, p - 1 - i, n - 2 - i)  # (k, p)
    tt = total[:, 0] - head[:, p, 0]  # sum of r_t^2 over t = p .. n - 1
    excluded = ~ok
    e = int(excluded.sum(axis=1).max()) if excluded.size else 0
    if e:
        rows = np.argsort(ok, axis=1, kind="stable")[:, :e]  # (k, e): each series' excluded rows first
        live = np.take_along_axis(excluded, rows, axis=1).astype(float)  # padding rows count 0
        series = np.arange(k)[:, None]
        # the row of target t = row + p has the lags r_{t-p} .. r_{t-1}: window `row`, oldest first
        lagged = sliding_window_view(filled, p, axis=1)[series, rows] * live[..., None]  # (k, e, p)
        target = filled[series, rows + p] * live
        lagged_t = np.ascontiguousarray(lagged.transpose(0, 2, 1))  # (k, p, e)
        gram = gram - (lagged_t @ lagged)[:, ::-1, ::-1]  # back to lag 1 first
        rhs = rhs - (lagged_t @ target[..., None])[:, ::-1, 0]
        tt = tt - np.sum(target * target, axis=1)
    count = ok.sum(axis=1).astype(float)
    return gram, rhs, tt, count


def ar_forecast_matrix(phi: np.ndarray, horizon: int) -> np.ndarray:
    """``A`` of shape ``(k, horizon, p)`` with the ``h``-step AR forecast ``= A[:, h - 1] @ last_p_values``.

    ``last_p_values`` is ordered most recent first. Row ``h`` is the first
    row of the ``h``-th power of the companion matrix ``M``; multiplying a
    row vector by ``M`` is ``O(p)`` (``r M = r_0 phi + (r_1, ..., r_{p-1}, 0)``).
    """
    k, p = phi.shape
    A = np.zeros((k, horizon, p))
    if p == 0 or horizon == 0:
        return A
    row = phi.copy()
    A[:, 0] = row
    for h in range(1, horizon):
        nxt = row[:, :1] * phi
        nxt[:, :-1] += row[:, 1:]
        A[:, h] = row = nxt
    return A


def psi_weights(phi: np.ndarray, horizon: int, A: np.ndarray | None = None) -> np.ndarray:
    """MA(infinity) weights ``psi_0 .. psi_{horizon-1}`` of the AR(p) model, shape ``(k, horizon)``.

    The ``h``-step forecast error variance is ``sigma^2 * sum_{j < h} psi_j^2``;
    ``psi_j`` is the first entry of the ``j``-th companion power, so it is
    read off :func:`ar_forecast_matrix` (``A``, computed when not given).
    """
    k, p = phi.shape
    psi = np.zeros((k, horizon))
    psi[:, 0] = 1.0
    if p and horizon > 1:
        if A is None or A.shape[1] < horizon - 1:
            A = ar_forecast_matrix(phi, horizon - 1)
        psi[:, 1:] = A[:, : horizon - 1, 0]
    return psi
