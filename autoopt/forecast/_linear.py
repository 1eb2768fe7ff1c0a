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

    def inverse_grams(self, W: np.ndarray) -> np.ndarray:
        """Inverses of the (ridged) per-series Gram matrices of :meth:`grams`: ``(k, p, p)``."""
        inv: np.ndarray = np.linalg.inv(self.grams(W))
        return inv

    def solve(self, Y: np.ndarray, W: np.ndarray) -> np.ndarray:
        """Weighted (ridge) least squares of each column of ``Y`` on rows ``[0, end)``: ``(k, n_features)``."""
        end = W.shape[0]
        W = np.where(W > 0, W, 0.0)
        rhs = (self.X[:end].T @ (W * np.where(W > 0, Y, 0.0))).T
        coef: np.ndarray = np.linalg.solve(self.grams(W), rhs[..., None])[..., 0]
        return coef

    def grams(self, W: np.ndarray) -> np.ndarray:
        """The per-series Gram matrices ``X^T diag(W[:, j]) X + ridge`` over rows ``[0, end)``: ``(k, p, p)``.

        ``W`` (``(end, k)``) holds each observation's weight, at most the
        row's design weight ``w``: 0 for a missing value. Each series' Gram
        matrix is the cached prefix one minus the update of its own
        lowered rows (gathered per series, padded to the longest list), so
        it costs ``O(r p^2)`` for ``r`` such rows rather than ``O(n p^2)``. A
        ridge of :data:`RIDGE` times the total weight on every coefficient
        but the intercept keeps terms a gap leaves unidentified from
        extrapolating wildly.
        """
        end, k = W.shape
        X = self.X[:end]
        base = self.gram(end)
        D = self.w[:end, None] - W
        lowered = 1e-12 * self.w[:end, None] < D
        m = int(lowered.sum(axis=0).max()) if lowered.size else 0
        if m == 0:
            gram = np.broadcast_to(base, (k, *base.shape)).copy()
        elif 2 * m > end:  # mostly re-weighted: the Gram matrices directly
            gram = (X.T[None, :, :] * W.T[:, None, :]) @ X
        else:
            rows = np.argsort(~lowered, axis=0, kind="stable")[:m]  # (m, k): each series' lowered rows first
            d = np.where(np.take_along_axis(lowered, rows, axis=0), np.take_along_axis(D, rows, axis=0), 0.0)
            Xm = X[rows.T]  # (k, m, p)
            gram = base[None] - (Xm * d.T[..., None]).transpose(0, 2, 1) @ Xm
        # Ridge on every coefficient but the intercept, RIDGE times the total weight: it shrinks a
        # well-determined seasonal term by ~RIDGE relative (its Gram eigenvalue is ~ total weight / 2)
        # but bounds a term a gap leaves unidentified instead of letting it extrapolate wildly.
        idx = np.arange(1, base.shape[0])
        gram[:, idx, idx] += RIDGE * np.sum(W, axis=0)[:, None] + 1e-300
        gram[:, 0, 0] += 1e-12 * np.sum(W, axis=0) + 1e-300
        return gram

    def fit(
        self,
        Y: np.ndarray,
        W: np.ndarray,
        huber: float | None = None,
        passes: int = HUBER_PASSES,
        tol: float = 1e-6,
        scale: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Weighted least squares of each column of ``Y`` on rows ``[0, end)``: coefficients ``(k, n_features)``.

        With ``huber = c``, Huber M-estimation steps follow, at most
        ``passes``, until a series' coefficients move by less than ``tol``
        (relative): the residuals are clipped to ``+-c s`` and the fit is
        redone on those pseudo-observations ``X beta + psi(r)``. The scale
        ``s`` is fixed: ``scale`` when given, else the robust standard
        deviation (1.4826 MAD) of the starting fit's residuals. The weights
        do not change, so the Gram inverses are computed once and each step
        costs ``O(end p k)``. Returns the coefficients and the scale used
        (None without ``huber``).
        """
        end = W.shape[0]
        X = self.X[:end]
        W = np.where(W > 0, W, 0.0)
        Yz = np.where(W > 0, Y, 0.0)
        inv = self.inverse_grams(W)
        coef: np.ndarray = (inv @ (X.T @ (W * Yz)).T[..., None])[..., 0]
        if huber is None:
            return coef, None
        fitted = X @ coef.T
        if scale is None:
            scale = robust_scale(np.where(W > 0, Yz - fitted, np.nan))
        bound = huber * scale
        active = np.ones(coef.shape[0], dtype=bool)  # per series, so a batch == its series one by one
        for step in range(passes):
            if step:
                fitted = X @ coef.T
            r = np.where(W > 0, Yz - fitted, 0.0)
            pseudo = fitted + np.clip(r, -bound, bound)  # the pseudo-observations
            new = (inv @ (X.T @ (W * pseudo)).T[..., None])[..., 0]
            moved = np.abs(new - coef).max(axis=1) > tol * (1.0 + np.abs(coef).max(axis=1))
            coef = np.where(active[:, None], new, coef)
            active &= moved
            if not active.any():
                break
        return coef, scale


def robust_scale(r: np.ndarray) -> np.ndarray:
    """1.4826 times the median absolute deviation of each column of ``r``, ignoring NaN; 1 where that is 0."""
    med = _nanmedian(r)
    scale = 1.4826 * _nanmedian(np.abs(r - med))
    return np.where(scale > 0, scale, 1.0)


def _nanmedian(x: np.ndarray) -> np.ndarray:
    """Median of each column ignoring NaN (NaN for an all-NaN column), by partitioning: O(n) per column.

    The ``d`` missing entries of a column become ``floor(d / 2)`` times
    ``-inf`` and ``ceil(d / 2)`` times ``+inf``; its ``c = n - d`` valid values
    then hold ranks ``floor(d/2) .. floor(d/2) + c - 1``, and their middle
    ranks ``floor(d/2) + (c-1)//2`` and ``floor(d/2) + c//2`` are among
    ``(n - 1) // 2 - 1, (n - 1) // 2, n // 2`` whatever ``d``: one partition
    at those ranks serves every column.
    """
    n = x.shape[0]
    bad = np.isnan(x)
    d = bad.sum(axis=0)
    c = n - d
    rank = np.cumsum(bad, axis=0)  # 1-based position of each missing entry in its column
    filled = np.where(bad, np.where(rank <= d // 2, -np.inf, np.inf), x)
    part = np.partition(filled, sorted({max((n - 1) // 2 - 1, 0), (n - 1) // 2, n // 2}), axis=0)
    lo = np.take_along_axis(part, np.clip(d // 2 + (c - 1) // 2, 0, n - 1)[None], axis=0)[0]
    hi = np.take_along_axis(part, np.clip(d // 2 + c // 2, 0, n - 1)[None], axis=0)[0]
    with np.errstate(invalid="ignore"):  # an all-NaN column holds -inf and +inf: its median is NaN
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
    prod = np.zeros((k, p + 1, n))  # prod[:, d, s] = r_s r_{s+d}, zero past the end
    for d in range(p + 1):
        prod[:, d, : n - d] = filled[:, : n - d] * filled[:, d:]
    total = prod.sum(axis=2)  # (k, p + 1)
    head = np.zeros((k, p + 1, p + 1))  # head[:, d, c] = sum_{s < c} prod[:, d, s]
    np.cumsum(prod[:, :, :p], axis=2, out=head[:, :, 1:])
    tail = np.zeros((k, p + 1, p + 1))  # tail[:, d, c] = sum_{s >= n - p + c} prod[:, d, s]
    tail[:, :, :p] = np.cumsum(prod[:, :, n - p :][:, :, ::-1], axis=2)[:, :, ::-1]

    def span(d: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """sum_{s = lo}^{hi} prod[:, d, s], with lo < p and hi >= n - p - 1."""
        return np.asarray(total[:, d] - head[:, d, lo] - tail[:, d, hi + 1 - (n - p)])

    i = np.arange(p)
    lag_d = np.abs(i[:, None] - i[None, :])
    lag_j = np.maximum(i[:, None], i[None, :])
    gram = span(lag_d, p - 1 - lag_j, n - 2 - lag_j)  # (k, p, p): rows t = p .. n - 1, lags i and j
    rhs = span(i + 1, p - 1 - i, n - 2 - i)  # (k, p)
    tt = total[:, 0] - head[:, 0, p]  # sum of r_t^2 over t = p .. n - 1
    excluded = ~ok
    e = int(excluded.sum(axis=1).max()) if excluded.size else 0
    if e:
        rows = np.argsort(ok, axis=1, kind="stable")[:, :e]  # (k, e): each series' excluded rows first
        live = np.take_along_axis(excluded, rows, axis=1).astype(float)  # padding rows count 0
        t = rows + p
        positions = (t[:, :, None] - 1 - i[None, None, :]).reshape(k, -1)  # each row's lags
        lagged = np.take_along_axis(filled, positions, axis=1).reshape(k, e, p) * live[..., None]
        target = np.take_along_axis(filled, t, axis=1) * live
        lagged_t = np.ascontiguousarray(lagged.transpose(0, 2, 1))  # (k, p, e)
        gram = gram - lagged_t @ lagged
        rhs = rhs - (lagged_t @ target[..., None])[..., 0]
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
