"""Vectorised numerics of the Forecaster: the seasonal design, weighted least squares, AR(p) on residuals.

Every function works on ``(n, k)`` arrays -- ``n`` time steps of ``k``
series -- and never loops in Python over series. Missing values are NaN and
get zero weight.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["Design", "ar_forecast_matrix", "design", "fit_ar", "lag_stack", "psi_weights", "robust_scale"]


class Design:
    """The seasonal design of an ``n``-point window and its weighted Gram matrices, cached by size.

    Columns: an intercept, a linear trend ``t / (n - 1)`` when ``trend``, and
    the Fourier pairs ``sin(2 pi j t / p), cos(2 pi j t / p)``, ``j = 1 ..
    harmonics``, of each period ``p``. Fourier pairs represent a seasonal
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
        for p, k in zip(self.periods, self.harmonics, strict=True):
            arg = 2.0 * np.pi * np.outer(t, np.arange(1, k + 1)) / p  # (t, k)
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
        """Inverses of the per-series Gram matrices ``X^T diag(W[:, j]) X`` over rows ``[0, end)``: ``(k, p, p)``.

        ``W`` (``(end, k)``) holds each observation's weight, at most the
        row's design weight ``w``: 0 for a missing value. Each series' Gram
        matrix is the cached prefix one minus the update of its own
        lowered rows (gathered per series, padded to the longest list), so
        it costs ``O(r p^2)`` for ``r`` such rows rather than ``O(n p^2)``. A
        tiny ridge (1e-9 of the trace) keeps rank-deficient fits (a seasonal
        term a gap leaves unidentified) finite.
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
        idx = np.arange(base.shape[0])
        gram[:, idx, idx] += 1e-9 * np.trace(gram, axis1=1, axis2=2)[:, None] + 1e-300
        inv: np.ndarray = np.linalg.inv(gram)
        return inv

    def fit(self, Y: np.ndarray, W: np.ndarray, huber: float | None = None, passes: int = 2) -> np.ndarray:
        """Weighted least squares of each column of ``Y`` on rows ``[0, end)``: coefficients ``(k, n_features)``.

        With ``huber = c``, ``passes`` Huber M-estimation steps follow: the
        residuals are clipped to ``+-c`` robust standard deviations (1.4826
        times their MAD) and the fit is redone on those pseudo-observations
        (``beta += G^-1 X^T W psi(r)``). The weights do not change, so the
        Gram inverses are computed once.
        """
        end = W.shape[0]
        X = self.X[:end]
        W = np.where(W > 0, W, 0.0)
        Yz = np.where(W > 0, Y, 0.0)
        inv = self.inverse_grams(W)
        coef: np.ndarray = (inv @ (X.T @ (W * Yz)).T[..., None])[..., 0]
        if huber is not None:
            for _ in range(passes):
                r = np.where(W > 0, Yz - X @ coef.T, np.nan)
                bound = huber * robust_scale(r)
                excess = r - np.clip(r, -bound, bound)  # psi(r) - r, zero for the inliers
                coef = coef - (inv @ (X.T @ (W * np.nan_to_num(excess))).T[..., None])[..., 0]
        return coef


def robust_scale(r: np.ndarray) -> np.ndarray:
    """1.4826 times the median absolute deviation of each column of ``r``, ignoring NaN; 1 where that is 0."""
    if r.shape[1] == 1:
        x = r[~np.isnan(r[:, 0]), 0]
        scale = np.array([1.4826 * np.median(np.abs(x - np.median(x)))]) if x.size else np.ones(1)
    else:
        scale = 1.4826 * np.nanmedian(np.abs(r - np.nanmedian(r, axis=0)), axis=0)
    return np.where(scale > 0, scale, 1.0)


@lru_cache(maxsize=32)
def design(
    n: int, periods: tuple[int, ...], harmonics: tuple[int, ...], trend: bool, halflife: float | None
) -> Design:
    """The shared, cached :class:`Design` for these sizes."""
    return Design(n, periods, harmonics, trend, halflife)


def lag_stack(r: np.ndarray, p: int) -> np.ndarray:
    """``(n - p, k, p)`` lags of ``r`` for the targets ``r[p:]``: ``[..., i]`` is lag ``i + 1``."""
    n = r.shape[0]
    return np.stack([r[p - i - 1 : n - i - 1] for i in range(p)], axis=-1)


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
    target = resid[p:]
    lags = lag_stack(resid, p)  # (m, k, p)
    ok = ~np.isnan(target) & ~np.isnan(lags).any(axis=-1)
    w = ok.astype(float) if weights is None else np.where(ok, weights[p:], 0.0)
    L = np.where(ok[..., None], lags, 0.0).transpose(1, 0, 2)  # (k, m, p)
    T = np.where(ok, target, 0.0).T  # (k, m)
    Lw = L * w.T[..., None]
    gram = Lw.transpose(0, 2, 1) @ L  # (k, p, p)
    rhs = (Lw.transpose(0, 2, 1) @ T[..., None])[..., 0]
    idx = np.arange(p)
    gram[:, idx, idx] += 1e-6 * np.trace(gram, axis1=1, axis2=2)[:, None] / p + 1e-300
    phi = np.linalg.solve(gram, rhs[..., None])[..., 0]
    e = T - (L @ phi[..., None])[..., 0]
    var = (w.T * e * e).sum(axis=1) / np.maximum(w.sum(axis=0) - p, 1.0)
    return phi, var


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
