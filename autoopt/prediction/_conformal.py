"""Weighted split-conformal quantiles, row by row: the calibration of the forecaster's intervals.

:func:`standardised_errors` gives the rolling-origin forecast errors the
quantiles are taken of.

:func:`conformal_bounds` is vectorised over rows (series x horizon steps) and
sorts only each row's tails (see its docstring for how).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["conformal_bounds", "standardised_errors"]


def conformal_bounds(
    zt: np.ndarray, weights: np.ndarray, level: float, count: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted split-conformal lower and upper quantiles of each row of the scores ``zt`` (``(r, m)``, NaN =
    none), whose column ``j`` weighs ``weights[j]``; ``count`` is each row's number of scores, when known.

    Per row: the upper one is the smallest score ``z_(i)`` whose
    weighted rank reaches ``level`` of the total weight plus the test
    point's (weight 1, the newest), ``sum_{j <= i} w_(j) >= level (W + 1)``
    (the largest score when none does); the lower one mirrors it,
    ``sum_{j >= i} w_(j) >= level (W + 1)``. With equal weights they are
    the ``ceil(level (m + 1))``-th smallest and largest scores, the
    standard split-conformal ranks (Barber et al. 2023 for the weighted
    form).

    Only the tails need their weights. The scores beyond the upper quantile
    weigh at most ``W - level (W + 1)``; even the lightest scores fill that
    with fewer than ``K - 1`` of them, so the quantile is among the ``K``
    largest scores (and the lower one among the ``K`` smallest). One sort
    of the values (no indices: NumPy's vectorised sort is several times
    faster than an argsort or argpartition) gives each row's ``K``-th
    largest and smallest scores; the scores at or beyond them are gathered
    with their weights and ordered. The sort is of the scores rounded to
    float32, twice as fast; rounding never reverses an order, so when
    exactly ``K`` rounded scores reach the rounded ``K``-th one they are the
    ``K`` largest scores, whose exact values are then read. Rows where a tie
    (after rounding) makes that more than ``K`` scores, or with too few
    scores, are done exactly by a full argsort.
    """
    r, m = zt.shape
    missing = np.isnan(zt)
    if count is None:
        count = m - missing.sum(axis=1)
    total = float(weights.sum()) - np.einsum("rm,m->r", missing, weights)  # each row's observed weight
    slack = total - level * (total + 1.0)  # the weight allowed beyond either quantile
    # the fewest scores whose weights can exceed the slack are the lightest ones: at most K - 2 fit in it
    lightest = np.cumsum(np.sort(weights))
    K = int(np.searchsorted(lightest, max(float(slack.max(initial=0.0)), 0.0), side="right")) + 2
    if weights.size == 0 or float(weights.min()) <= 0.0 or m <= 3 * K:
        return _conformal_bounds_sorted(zt, missing, np.where(missing, 0.0, weights), total, level)
    with np.errstate(over="ignore"):  # beyond float32's range: +-inf, a tie, so done exactly
        z32 = zt.astype(np.float32)
    srt = np.sort(z32, axis=1)  # NaN sorts last: the scores are each row's first `count`
    kth_hi = srt[np.arange(r), np.maximum(count - K, 0)]
    kth_lo = srt[:, K - 1]
    del srt
    with np.errstate(invalid="ignore"):  # NaN compares False: a missing score is in neither tail
        in_hi = z32 >= kth_hi[:, None]
        in_lo = z32 <= kth_lo[:, None]
    # each tail holds exactly K scores: no tie at either K-th score, and at least K scores in the row
    fast = (np.count_nonzero(in_hi, axis=1) == K) & (np.count_nonzero(in_lo, axis=1) == K)
    lo = np.empty(r)
    hi = np.empty(r)
    redo = ~fast
    n_fast = int(fast.sum())
    if n_fast:
        flat = zt.ravel()
        for tail, out, upper in ((in_hi, hi, True), (in_lo, lo, False)):
            if n_fast < r:
                tail &= fast[:, None]
            where = np.flatnonzero(tail)  # row by row, K per fast row
            out[fast], ok = _tail_quantile(
                flat[where], weights[where % m], slack[fast], n_fast, K, upper=upper
            )
            redo[fast] |= ~ok
    if redo.any():
        gaps = missing[redo]
        lo[redo], hi[redo] = _conformal_bounds_sorted(
            zt[redo], gaps, np.where(gaps, 0.0, weights), total[redo], level
        )
    return lo, hi


def _tail_quantile(
    vals: np.ndarray, w: np.ndarray, slack: np.ndarray, rows: int, K: int, *, upper: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The quantile from each row's ``K`` tail scores ``vals`` (weights ``w``, both flat, row by row), and
    whether ``K`` sufficed for the row.

    From the extreme inwards, the quantile is the last score before the
    weight of the scores strictly beyond it exceeds ``slack``.
    """
    vals = vals.reshape(rows, K)
    order = np.argsort(-vals if upper else vals, axis=1)  # from the extreme inwards
    vals = np.take_along_axis(vals, order, axis=1)
    w = np.take_along_axis(w.reshape(rows, K), order, axis=1)
    beyond = np.cumsum(w, axis=1) - w  # weight of the scores strictly beyond each one
    inside = beyond <= slack[:, None] + 1e-12 * (1.0 + np.abs(slack[:, None]))
    j = inside.sum(axis=1) - 1  # a prefix: the last score still within the slack
    out = vals[np.arange(rows), np.maximum(j, 0)]
    ok = (j >= 0) & (j < K - 1)  # the block ended past it
    return out, ok


def _conformal_bounds_sorted(
    zt: np.ndarray, missing: np.ndarray, wts: np.ndarray, total: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`conformal_bounds` by a full argsort of every row of ``zt`` (``(rows, m)``; ``wts`` the
    weights, 0 where ``missing``; ``total`` their row sums)."""
    m = zt.shape[1]
    zs = np.where(missing, np.inf, zt)  # sorts last, as NaN would, but NumPy sorts +inf several times faster
    order = np.argsort(zs, axis=1)
    srt = np.take_along_axis(zs, order, axis=1)
    count = m - missing.sum(axis=1)  # the valid scores are each row's first `count` sorted entries
    w = np.take_along_axis(wts, order, axis=1)
    cum = np.cumsum(w, axis=1)  # weight of the scores <= z_(i)
    need = level * (total[:, None] + 1.0)
    top = np.maximum(count - 1, 0)
    hi_idx = np.minimum(np.sum(cum < need, axis=1), top)  # cum is non-decreasing: the first reaching it
    above = (
        total[:, None] - cum + w
    )  # weight of the scores >= z_(i): non-increasing, 0 past the valid entries
    lo_idx = np.clip(np.sum(above >= need, axis=1) - 1, 0, None)
    rows = np.arange(zt.shape[0])
    return srt[rows, lo_idx], srt[rows, hi_idx]


def standardised_errors(
    resid: np.ndarray, A: np.ndarray, start: int, scale: np.ndarray, out: np.ndarray
) -> np.ndarray:
    """``(residual - AR forecast) / scale`` from the origins ``start, start + 1, ...`` for steps 1 .. H,
    written to ``out`` (``(k, H, m)``, one column per origin): NaN where the target is missing or beyond
    the residuals' end.

    ``A`` is the :func:`ar_forecast_matrix` (``(k, H, p)``) and ``scale`` the
    standard errors ``s_h`` (``(H, k)``). Both the targets and the lags of
    consecutive origins are sliding windows of the residual series, so
    nothing is gathered.
    """
    k = resid.shape[1]
    horizon, m = out.shape[1], out.shape[2]
    p = A.shape[2]
    # the residuals from the first origin's oldest lag on, padded with NaN past the end
    first = start - max(p - 1, 0)
    rT = np.concatenate([resid[first:].T, np.full((k, horizon), np.nan)], axis=1)
    s = start - first  # the first origin's position in rT
    # out[:, h - 1, j] = r_{start + j + h}: the window of length m starting at start + h
    out[...] = sliding_window_view(rT, m, axis=1)[:, s + 1 : s + 1 + horizon]
    if p:
        filled = np.nan_to_num(rT[:, : s + m], nan=0.0)
        # lags[:, i, j] = r_{start + j - i}, lag 1 (the origin's own value) first
        lags = np.ascontiguousarray(sliding_window_view(filled, m, axis=1)[:, ::-1])
        out -= A @ lags  # (k, H, p) @ (k, p, m)
    out /= scale.T[:, :, None]
    return out
