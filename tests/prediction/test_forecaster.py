"""Forecaster: the regression, the robust steps, the AR part and the intervals against independent
references (statsmodels, brute-force recursions, a re-derivation of the conformal ranks), batch ==
per-series, pandas handling, period detection, parameters and bad input."""

from __future__ import annotations

import inspect
import itertools
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from statsmodels.tsa.ar_model import AutoReg
from statsmodels.tsa.arima_process import arma2ma

from autoopt.prediction import Forecaster, detect_periods
from autoopt.prediction._conformal import conformal_bounds
from autoopt.prediction._linear import RIDGE, ar_forecast_matrix, design, fit_ar, psi_weights, robust_scale

# --------------------------------------------------------------------------- independent references


def ref_design(t: np.ndarray, n: int, periods: list[int], harmonics: list[int]) -> np.ndarray:
    """Intercept, t/(n-1), then per period the sines sin(2 pi j t/p), j = 1..H, and the cosines."""
    cols = [np.ones(t.size), t / (n - 1)]
    for p, h in zip(periods, harmonics, strict=True):
        cols += [np.sin(2 * np.pi * j * t / p) for j in range(1, h + 1)]
        cols += [np.cos(2 * np.pi * j * t / p) for j in range(1, h + 1)]
    return np.column_stack(cols)


def ridge_wls(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The documented penalised WLS, as statsmodels WLS on pseudo-rows ``sqrt(lambda_i) e_i``: RIDGE times
    the total weight on every coefficient but the intercept (which gets 1e-12 of it)."""
    total = float(np.sum(w))
    p = X.shape[1]
    lam = np.r_[1e-12 * total, np.full(p - 1, RIDGE * total)] + 1e-300
    Xa = np.vstack([X, np.diag(np.sqrt(lam))])
    ya = np.concatenate([y, np.zeros(p)])
    wa = np.concatenate([w, np.ones(p)])
    return np.asarray(sm.WLS(ya, Xa, weights=wa).fit().params)


def mad_scale(r: np.ndarray) -> float:
    return 1.4826 * float(np.median(np.abs(r - np.median(r))))


def seasonal_series(n: int, seed: int, phi: float = 0.6, period: int = 24, sd: float = 1.0) -> np.ndarray:
    """Level + trend + a period-``period`` shape + Gaussian AR(1) noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    u = np.zeros(n)
    e = rng.normal(0.0, sd, n)
    for i in range(1, n):
        u[i] = phi * u[i - 1] + e[i]
    return 50 + 0.004 * t + 6 * np.sin(2 * np.pi * t / period) + 2 * np.cos(4 * np.pi * t / period) + u


def hourly(values: np.ndarray, start: str = "2024-01-01") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="h"))


# --------------------------------------------------------------------------- regression part


@pytest.mark.parametrize("halflife", [None, 60.0])
def test_regression_equals_statsmodels_wls_on_an_independent_design(halflife: float | None) -> None:
    n = 480
    y = seasonal_series(n, seed=1)
    f = Forecaster(seasonal_periods=[24], ar_lags=0, robust=False, halflife=halflife).fit(y)
    t = np.arange(n, dtype=float)
    X = ref_design(t, n, [24], [10])
    w = np.ones(n) if halflife is None else 2.0 ** (-(n - 1 - t) / halflife)
    # the documented ridge reproduced exactly; plain WLS differs only by its small shrinkage
    ref = ridge_wls(X, y, w)
    np.testing.assert_allclose(f.coef_[0], ref, rtol=0, atol=1e-8)
    plain = np.asarray(sm.WLS(y, X, weights=w).fit().params)
    # the shrinkage moves the fitted values by a small fraction of the noise (sd ~1.25)
    assert np.abs(X @ (f.coef_[0] - plain)).max() < 0.15
    # with ar_lags=0 the forecast mean is the regression at the future time steps
    tf = np.arange(n, n + 30, dtype=float)
    mean, _, _ = f.predict_arrays(30)
    np.testing.assert_allclose(mean[:, 0], ref_design(tf, n, [24], [10]) @ ref, rtol=0, atol=1e-8)
    # the AR(0) innovation variance is the weighted mean square of the residuals
    r = y - X @ f.coef_[0]
    assert f.sigma_[0] ** 2 == pytest.approx(np.sum(w * r * r) / np.sum(w), rel=1e-12)


def test_missing_values_give_the_fit_of_the_observed_rows() -> None:
    n = 400
    y = seasonal_series(n, seed=2)
    gaps = np.r_[30:55, 200, 201, 333]
    y_nan = y.copy()
    y_nan[gaps] = np.nan
    f = Forecaster(seasonal_periods=[24], ar_lags=0, robust=False, halflife=100.0, n_harmonics=4).fit(y_nan)
    t = np.arange(n, dtype=float)
    keep = ~np.isnan(y_nan)
    X = ref_design(t, n, [24], [4])[keep]
    w = (2.0 ** (-(n - 1 - t) / 100.0))[keep]
    np.testing.assert_allclose(f.coef_[0], ridge_wls(X, y[keep], w), rtol=0, atol=1e-8)
    plain = np.asarray(sm.WLS(y[keep], X, weights=w).fit().params)
    assert np.abs(X @ (f.coef_[0] - plain)).max() < 0.15


def test_no_trend_and_several_periods() -> None:
    n = 700
    y = seasonal_series(n, seed=3) + 3 * np.sin(2 * np.pi * np.arange(n) / 168)
    f = Forecaster(seasonal_periods=[24, 168], ar_lags=0, robust=False, trend=False, n_harmonics=5).fit(y)
    t = np.arange(n, dtype=float)
    X = np.delete(ref_design(t, n, [24, 168], [5, 5]), 1, axis=1)  # no trend column
    np.testing.assert_allclose(f.coef_[0], ridge_wls(X, y, np.ones(n)), atol=1e-8)
    assert f.periods_ == [24, 168]


def test_harmonics_are_capped_at_half_the_period() -> None:
    n = 200
    y = seasonal_series(n, seed=4, period=6)
    f = Forecaster(seasonal_periods=6, ar_lags=0, robust=False, n_harmonics=10).fit(y)
    X = ref_design(np.arange(n, dtype=float), n, [6], [3])
    assert f.coef_.shape == (1, X.shape[1])
    np.testing.assert_allclose(f.coef_[0], ridge_wls(X, y, np.ones(n)), atol=1e-8)


# --------------------------------------------------------------------------- robust part


def huber_pseudo_observation_steps(X: np.ndarray, y: np.ndarray, passes: int, c: float = 2.0) -> np.ndarray:
    """WLS, then ``passes`` times: clip the residuals to +-c s, refit on the pseudo-observations.

    The scale s is the robust SD (1.4826 MAD) of the WLS residuals, fixed for every pass.
    """
    w = np.ones(y.size)
    beta = ridge_wls(X, y, w)
    s = mad_scale(y - X @ beta)
    for _ in range(passes):
        r = y - X @ beta
        pseudo = X @ beta + np.clip(r, -c * s, c * s)
        beta = ridge_wls(X, pseudo, w)
    return beta


def huber_m_estimate(X: np.ndarray, y: np.ndarray, c: float = 2.0) -> np.ndarray:
    """The (penalised) Huber M-estimate with the scale fixed at the WLS residuals' robust SD."""
    w = np.ones(y.size)
    beta = ridge_wls(X, y, w)
    s = mad_scale(y - X @ beta)
    for _ in range(500):
        r = y - X @ beta
        new = ridge_wls(X, X @ beta + np.clip(r, -c * s, c * s), w)
        if np.abs(new - beta).max() < 1e-13 * (1 + np.abs(beta).max()):
            return new
        beta = new
    raise AssertionError("the reference Huber iteration did not converge")


def contaminated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    y = seasonal_series(n, seed=seed, phi=0.0)
    y_out = y.copy()
    rng = np.random.default_rng(seed + 100)
    y_out[rng.choice(n, 8, replace=False)] += 80.0
    return y, y_out


def test_one_huber_step_equals_a_pseudo_observation_refit() -> None:
    n = 360
    _, y = contaminated(n, seed=5)
    d = design(n, (24,), (10,), True, None)
    got = d.fit(y[:, None], np.ones((n, 1)), huber=2.0, passes=1)[0][0]
    X = ref_design(np.arange(n, dtype=float), n, [24], [10])
    np.testing.assert_allclose(got, huber_pseudo_observation_steps(X, y, passes=1), atol=1e-8)


def test_two_huber_steps_equal_two_pseudo_observation_refits() -> None:
    n = 360
    _, y = contaminated(n, seed=5)
    d = design(n, (24,), (10,), True, None)
    got = d.fit(y[:, None], np.ones((n, 1)), huber=2.0, passes=2)[0][0]
    X = ref_design(np.arange(n, dtype=float), n, [24], [10])
    np.testing.assert_allclose(got, huber_pseudo_observation_steps(X, y, passes=2), atol=1e-8)


def test_many_huber_passes_converge_to_the_huber_estimate() -> None:
    n = 360
    _, y = contaminated(n, seed=6)
    d = design(n, (24,), (10,), True, None)
    got = d.fit(y[:, None], np.ones((n, 1)), huber=2.0, passes=40)[0][0]
    X = ref_design(np.arange(n, dtype=float), n, [24], [10])
    np.testing.assert_allclose(got, huber_m_estimate(X, y), atol=1e-5)


def test_robust_forecaster_fit_is_the_huber_estimate() -> None:
    """robust=True runs the pseudo-observation refits to the Huber M-estimate (within its stopping rule)."""
    n = 500
    y = seasonal_series(n, seed=7, phi=0.0)
    y[[100, 333]] += [200.0, -150.0]
    f = Forecaster(seasonal_periods=[24], ar_lags=0, robust=True).fit(y)
    X = ref_design(np.arange(n, dtype=float), n, [24], [10])
    full = huber_m_estimate(X, y)
    start = ridge_wls(X, y, np.ones(n))
    assert np.abs(f.coef_[0] - full).max() < 0.01 * np.abs(start - full).max()


def test_a_gross_outlier_moves_the_robust_fit_far_less_than_the_plain_fit() -> None:
    n = 500
    y = seasonal_series(n, seed=7, phi=0.0)
    y_out = y.copy()
    y_out[100] += 200.0
    shift = {}
    for robust in (False, True):
        kw: dict[str, Any] = {"seasonal_periods": [24], "ar_lags": 0, "robust": robust}
        a = Forecaster(**kw).fit(y).predict_arrays(24)[0]
        b = Forecaster(**kw).fit(y_out).predict_arrays(24)[0]
        shift[robust] = float(np.abs(a - b).max())
    assert shift[True] < 0.2 * shift[False]


def test_robust_fit_resists_many_outliers_better_than_plain_fit() -> None:
    n = 500
    y, y_out = contaminated(n, seed=8)
    kw: dict[str, Any] = {"seasonal_periods": [24], "ar_lags": 0}
    clean = Forecaster(**kw, robust=False).fit(y).predict_arrays(24)[0]
    plain = Forecaster(**kw, robust=False).fit(y_out).predict_arrays(24)[0]
    robust = Forecaster(**kw, robust=True).fit(y_out).predict_arrays(24)[0]
    assert np.abs(robust - clean).max() < 0.8 * np.abs(plain - clean).max()


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 60),
    k=st.integers(1, 4),
    nan_rate=st.floats(0.0, 0.9),
    seed=st.integers(0, 2**16),
)
def test_robust_scale_is_the_nan_ignoring_mad(n: int, k: int, nan_rate: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    r = rng.standard_cauchy((n, k))
    r[rng.random((n, k)) < nan_rate] = np.nan
    r[: max(n // 4, 1), 0] = 3.0 if k > 1 else r[: max(n // 4, 1), 0]  # ties
    with np.errstate(invalid="ignore"):  # an all-missing column has no median (NaN, then scale 1)
        got = robust_scale(r)
    for j in range(k):
        x = r[~np.isnan(r[:, j]), j]
        ref = 1.4826 * float(np.median(np.abs(x - np.median(x)))) if x.size else math.nan
        if x.size == 0:
            assert np.isnan(got[j]) or got[j] == 1.0
        elif ref == 0.0:
            assert got[j] == 1.0
        else:
            assert got[j] == pytest.approx(ref, rel=1e-12)


# --------------------------------------------------------------------------- AR part


def simulate_ar(phi: list[float], n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.normal(size=n + 200)
    x = np.zeros(n + 200)
    for i in range(len(phi), n + 200):
        x[i] = sum(c * x[i - j - 1] for j, c in enumerate(phi)) + e[i]
    return x[200:]


def test_fit_ar_equals_statsmodels_autoreg() -> None:
    x = simulate_ar([0.6, -0.3], 3000, seed=9)
    phi, var = fit_ar(x[:, None], 2)
    res = AutoReg(x, lags=2, trend="n").fit()
    # the ridge is 1e-6 of the mean diagonal of the lag Gram: reproduce it exactly, and bound its effect
    L = np.column_stack([x[1:-1], x[:-2]])
    lam = 1e-6 * float(np.sum(L * L)) / 2
    ridge = np.linalg.solve(L.T @ L + lam * np.eye(2), L.T @ x[2:])
    np.testing.assert_allclose(phi[0], ridge, rtol=0, atol=1e-12)
    np.testing.assert_allclose(phi[0], res.params, rtol=0, atol=1e-5)
    # variance with the degrees-of-freedom correction: SSR / (nobs - p)
    e = x[2:] - L @ phi[0]
    assert var[0] == pytest.approx(float(e @ e) / (res.nobs - 2), rel=1e-12)
    assert var[0] == pytest.approx(res.sigma2 * res.nobs / (res.nobs - 2), rel=1e-5)


def test_fit_ar_with_weights_and_gaps_equals_wls_on_the_complete_rows() -> None:
    x = simulate_ar([0.5, 0.2, -0.2], 1200, seed=10)
    x[[40, 41, 500, 900]] = np.nan
    w = 2.0 ** (-(1199 - np.arange(1200)) / 300.0)
    phi, _ = fit_ar(x[:, None], 3, w)
    target = x[3:]
    L = np.column_stack([x[2:-1], x[1:-2], x[:-3]])
    ok = ~np.isnan(target) & ~np.isnan(L).any(axis=1)
    assert ok.sum() < target.size - 10  # each gap removes the rows it touches
    ref = sm.WLS(target[ok], L[ok], weights=w[3:][ok]).fit().params
    np.testing.assert_allclose(phi[0], ref, rtol=0, atol=1e-5)


def test_fit_ar_batches_columns_independently() -> None:
    cols = [simulate_ar(p, 800, seed=s) for s, p in enumerate([[0.7], [0.2, 0.3], [-0.5, 0.1]])]
    R = np.column_stack(cols)
    R[100:130, 1] = np.nan
    phi, var = fit_ar(R, 2)
    for j in range(3):
        p1, v1 = fit_ar(R[:, [j]], 2)
        np.testing.assert_allclose(phi[j], p1[0], rtol=0, atol=1e-13)
        assert var[j] == pytest.approx(v1[0], rel=1e-13)


def test_psi_weights_equal_statsmodels_arma2ma() -> None:
    rng = np.random.default_rng(11)
    phi = rng.uniform(-0.4, 0.4, (5, 4))
    psi = psi_weights(phi, 30)
    for j in range(5):
        ref = arma2ma(np.r_[1.0, -phi[j]], np.array([1.0]), lags=30)
        np.testing.assert_allclose(psi[j], ref, rtol=0, atol=1e-12)


def test_ar_forecast_matrix_reproduces_the_recursive_forecast() -> None:
    rng = np.random.default_rng(12)
    phi = rng.uniform(-0.5, 0.5, (3, 5))
    last = rng.normal(size=(3, 5))  # most recent first
    A = ar_forecast_matrix(phi, 20)
    for j in range(3):
        hist = list(last[j][::-1])  # oldest first
        for h in range(20):
            nxt = sum(phi[j, i] * hist[-1 - i] for i in range(5))
            hist.append(nxt)
            assert A[j, h] @ last[j] == pytest.approx(nxt, abs=1e-12)


def test_forecaster_ar_part_equals_autoreg_on_the_regression_residuals() -> None:
    n = 900
    y = seasonal_series(n, seed=13, phi=0.7)
    f = Forecaster(seasonal_periods=[24], ar_lags=2, robust=False, n_harmonics=3).fit(y)
    X = ref_design(np.arange(n, dtype=float), n, [24], [3])
    r = y - X @ f.coef_[0]
    res = AutoReg(r, lags=2, trend="n").fit()
    np.testing.assert_allclose(f.ar_coef_[0], res.params, atol=1e-5)
    assert f.sigma_[0] ** 2 == pytest.approx(res.sigma2 * res.nobs / (res.nobs - 2), rel=1e-4)
    # mean = regression at the future steps + the recursive AR forecast of the residuals
    H = 12
    hist = list(r)
    for _ in range(H):
        hist.append(f.ar_coef_[0, 0] * hist[-1] + f.ar_coef_[0, 1] * hist[-2])
    Xf = ref_design(np.arange(n, n + H, dtype=float), n, [24], [3])
    mean, _, _ = f.predict_arrays(H)
    np.testing.assert_allclose(mean[:, 0], Xf @ f.coef_[0] + np.array(hist[n:]), atol=1e-9)


# --------------------------------------------------------------------------- intervals


def future_paths(seed: int, n: int, horizon: int, paths: int, phi: float) -> tuple[np.ndarray, np.ndarray]:
    """A history of the AR(1)+seasonal process and ``paths`` futures of it, simulated from the truth."""
    rng = np.random.default_rng(seed)
    t = np.arange(n + horizon)
    base = 20 + 5 * np.sin(2 * np.pi * t / 24) + 2 * np.cos(2 * np.pi * t / 12)
    u = np.zeros(n)
    e = rng.normal(size=n)
    for i in range(1, n):
        u[i] = phi * u[i - 1] + e[i]
    fut = np.zeros((paths, horizon))
    prev = np.full(paths, u[-1])
    for h in range(horizon):
        prev = phi * prev + rng.normal(size=paths)
        fut[:, h] = prev
    return base[:n] + u, base[n:][None, :] + fut


def test_interval_coverage_over_simulated_futures_is_close_to_nominal() -> None:
    horizon, phi = 24, 0.7
    inside = []
    widths = []
    for seed in range(4):
        y, fut = future_paths(seed, 1500, horizon, 3000, phi)
        f = Forecaster(seasonal_periods=[24], ar_lags=2, n_harmonics=3).fit(y)
        _, lo, hi = f.predict_arrays(horizon)
        inside.append(((fut >= lo[:, 0]) & (fut <= hi[:, 0])).mean(axis=0))
        widths.append(hi[:, 0] - lo[:, 0])
    per_step = np.mean(inside, axis=0)
    assert abs(per_step.mean() - 0.95) < 0.03
    assert np.all(np.abs(per_step - 0.95) < 0.06)
    # the intervals widen with the horizon, as the AR(1) forecast error does: sqrt(1 / (1 - phi^2))
    width = np.mean(widths, axis=0)
    assert width[-1] / width[0] == pytest.approx(1 / math.sqrt(1 - phi**2), rel=0.2)
    assert np.all(width[4:] > width[0])


def test_gaussian_ar_scale_is_monotone_and_matches_the_closed_form() -> None:
    y, _ = future_paths(20, 1200, 1, 1, 0.5)
    f = Forecaster(seasonal_periods=[24], ar_lags=1, robust=False, n_harmonics=3).fit(y)
    H = 15
    phi = f.ar_coef_[0, 0]
    s = f._step_scale(H)[:, 0]
    closed = f.sigma_[0] * np.sqrt([(1 - phi ** (2 * h)) / (1 - phi**2) for h in range(1, H + 1)])
    np.testing.assert_allclose(s, closed, rtol=1e-12)


def weighted_conformal(z: list[float], w: list[float], level: float) -> tuple[float, float]:
    """Plain-Python weighted split-conformal bounds: the smallest score whose weight from below reaches
    level * (total + 1), and the largest whose weight from above does (the extreme score if none does)."""
    pairs = sorted(zip(z, w, strict=True))
    need = level * (sum(w) + 1.0)
    hi, acc = pairs[-1][0], 0.0
    for v, wt in pairs:
        acc += wt
        if acc >= need:
            hi = v
            break
    lo, acc = pairs[0][0], 0.0
    for v, wt in reversed(pairs):
        acc += wt
        if acc >= need:
            lo = v
            break
    return lo, hi


@pytest.mark.parametrize("halflife", [None, 40.0])
def test_conformal_quantiles_follow_the_documented_rank_rule(halflife: float | None) -> None:
    """Recompute error_quantiles_ from scratch: prefix refits, AR(1) forecasts, standardised errors, and
    the (recency-weighted) conformal ranks."""
    n, H, cal, folds, alpha = 400, 6, 120, 2, 0.1
    y = seasonal_series(n, seed=21, phi=0.5)
    y[[350, 351, 390]] = np.nan  # missing targets are left out of the ranks
    f = Forecaster(
        seasonal_periods=[24],
        ar_lags=1,
        robust=False,
        n_harmonics=3,
        calibration=cal,
        calibration_folds=folds,
        calibration_halflife=halflife,
        alpha=alpha,
    ).fit(y)
    f.predict(H)
    got = f.error_quantiles_[:, :, 0]

    obs = ~np.isnan(y)
    X = ref_design(np.arange(n, dtype=float), n, [24], [3])
    final = ridge_wls(X[obs], y[obs], np.ones(obs.sum()))
    r = y - X @ final
    ok = ~np.isnan(r[1:]) & ~np.isnan(r[:-1])
    a, b = r[:-1][ok], r[1:][ok]
    phi = float(a @ b) / (float(a @ a) * (1 + 1e-6))  # the documented relative ridge, p = 1
    sigma = math.sqrt(float(np.sum((b - phi * a) ** 2)) / (ok.sum() - 1))
    scale = [sigma * math.sqrt(sum(phi ** (2 * j) for j in range(h))) for h in range(1, H + 1)]
    z: list[list[float]] = [[] for _ in range(H)]
    wts: list[list[float]] = [[] for _ in range(H)]
    bounds = [n - cal, n - cal // 2, n]
    for start, end in itertools.pairwise(bounds):
        keep = obs[:start]
        coef = ridge_wls(X[:start][keep], y[:start][keep], np.ones(keep.sum()))
        res = y - X @ coef
        for o in range(start - 1, end - 1):
            last = 0.0 if np.isnan(res[o]) else res[o]
            for h in range(1, H + 1):
                if o + h < n and not np.isnan(res[o + h]):
                    z[h - 1].append((res[o + h] - phi**h * last) / scale[h - 1])
                    wts[h - 1].append(1.0 if halflife is None else 2.0 ** (-(n - 1 - o) / halflife))
    for h in range(H):
        e = np.sort(z[h])
        m = e.size
        lo, hi = weighted_conformal(z[h], wts[h], 1 - alpha / 2)
        if halflife is None:  # equal weights: the ceil((1 - a/2)(m + 1))-th smallest and largest
            assert hi == e[min(math.ceil((1 - alpha / 2) * (m + 1)), m) - 1]
            assert lo == e[m - min(math.ceil((1 - alpha / 2) * (m + 1)), m)]
        assert got[1, h] == pytest.approx(max(hi, 0.0), abs=1e-7)
        assert got[0, h] == pytest.approx(min(lo, 0.0), abs=1e-7)
        # the conformal ranks are conservative: outside the plain empirical quantiles
        if halflife is None:
            assert got[1, h] >= np.quantile(e, 1 - alpha / 2, method="inverted_cdf") - 1e-7
            assert got[0, h] <= np.quantile(e, alpha / 2, method="inverted_cdf") + 1e-7


def test_predict_caches_the_calibration_per_horizon() -> None:
    y = seasonal_series(500, seed=22)
    f = Forecaster(seasonal_periods=[24], ar_lags=2, n_harmonics=3).fit(y)
    first = f.predict_arrays(12)
    q12 = f.error_quantiles_.copy()
    f.predict_arrays(5)
    assert f.error_quantiles_.shape == (2, 5, 1)
    again = f.predict_arrays(12)
    np.testing.assert_array_equal(q12, f.error_quantiles_)
    for x, y2 in zip(first, again, strict=True):
        np.testing.assert_array_equal(x, y2)
    # a horizon calibrated after another (its refits reused) equals a fresh model's first calibration
    fresh = Forecaster(seasonal_periods=[24], ar_lags=2, n_harmonics=3).fit(y).predict_arrays(5)
    for x, y2 in zip(f.predict_arrays(5), fresh, strict=True):
        np.testing.assert_allclose(x, y2, rtol=1e-12, atol=1e-12)


def test_log_transform_maps_the_log_model_back() -> None:
    y = np.exp(seasonal_series(500, seed=23) / 20)
    kw: dict[str, Any] = {"seasonal_periods": [24], "ar_lags": 2, "n_harmonics": 3}
    logged = Forecaster(**kw, transform="log").fit(y).predict_arrays(10)
    plain = Forecaster(**kw).fit(np.log1p(y)).predict_arrays(10)
    for a, b in zip(logged, plain, strict=True):
        np.testing.assert_allclose(a, np.expm1(b), rtol=1e-12)


# --------------------------------------------------------------------------- batch == per series


def assert_batch_equals_single(Y: np.ndarray, **kw: Any) -> None:
    H = 18
    batch = Forecaster(**kw).fit(Y)
    mean, lo, hi = batch.predict_arrays(H)
    for j in range(Y.shape[1]):
        one = Forecaster(**kw).fit(Y[:, j])
        np.testing.assert_allclose(batch.coef_[j], one.coef_[0], rtol=0, atol=1e-9)
        np.testing.assert_allclose(batch.ar_coef_[j], one.ar_coef_[0], rtol=0, atol=1e-9)
        assert batch.sigma_[j] == pytest.approx(one.sigma_[0], abs=1e-9)
        m1, l1, h1 = one.predict_arrays(H)
        np.testing.assert_allclose(mean[:, j], m1[:, 0], rtol=0, atol=1e-9)
        np.testing.assert_allclose(lo[:, j], l1[:, 0], rtol=0, atol=1e-9)
        np.testing.assert_allclose(hi[:, j], h1[:, 0], rtol=0, atol=1e-9)


def test_batch_with_different_gaps_equals_per_series_fits_gram_downdate_path() -> None:
    n = 600
    Y = np.column_stack([seasonal_series(n, seed=30 + j) * (j + 1) for j in range(4)])
    Y[50:90, 0] = np.nan
    Y[[5, 300, 301, 580], 1] = np.nan
    Y[400:520, 3] = np.nan  # column 2 complete
    missing = np.isnan(Y).sum(axis=0)
    assert 0 < 2 * missing.max() <= n  # few missing rows: the gathered downdate of the shared Gram matrix
    assert_batch_equals_single(Y, seasonal_periods=[24], ar_lags=3, n_harmonics=4, halflife=150.0)


def test_batch_with_a_mostly_missing_series_equals_per_series_fits_direct_path() -> None:
    n = 600
    Y = np.column_stack([seasonal_series(n, seed=40 + j) for j in range(3)])
    rng = np.random.default_rng(41)
    Y[rng.choice(n, 380, replace=False), 1] = np.nan  # mostly missing: its update is computed directly
    Y[100:140, 2] = np.nan
    assert 2 * np.isnan(Y).sum(axis=0).max() > n
    assert_batch_equals_single(Y, seasonal_periods=[24], ar_lags=2, n_harmonics=3, calibration=150)


@pytest.mark.parametrize("seed", range(6))
def test_prefix_grams_equal_the_weighted_gram_of_each_prefix(seed: int) -> None:
    """Every prefix's ridged Gram matrix, whatever mix of gathered and direct updates the segments take,
    equals X[:end]^T diag(W) X[:end] plus the documented ridge, computed plainly per series."""
    rng = np.random.default_rng(seed)
    n, k = 300, 7
    d = design(n, (24,), (3,), True, None if seed % 2 else 80.0)
    W = np.broadcast_to(d.w[:, None], (n, k)).copy()
    W[rng.random((n, k)) < rng.uniform(0.0, 0.2, k)] = 0.0  # scattered gaps, a different rate per series
    W[40:200, 1] = 0.0  # one series mostly missing in the first segment: its update is done directly
    W[210:260, 2] *= 0.5  # lowered, not removed
    W[:, 3] = d.w  # one complete series
    ends = [*sorted(rng.choice(np.arange(60, n), 2, replace=False).tolist()), n]
    got = d.prefix_grams(W, ends)
    X = ref_design(np.arange(n, dtype=float), n, [24], [3])
    for end, gram in zip(ends, got, strict=True):
        for j in range(k):
            w = W[:end, j]
            ref = (X[:end] * w[:, None]).T @ X[:end]
            ref[np.diag_indices_from(ref)] += np.r_[1e-12, np.full(X.shape[1] - 1, RIDGE)] * w.sum() + 1e-300
            np.testing.assert_allclose(gram[j], ref, rtol=1e-10, atol=1e-9 * float(np.abs(ref).max()))


def test_a_frequency_two_periods_share_is_fitted_once() -> None:
    """A week's 7th harmonic is a day's first: the design holds that column once, and the fit is the
    documented ridge WLS on the independent design without the duplicate."""
    n = 700
    y = seasonal_series(n, seed=3) + 3 * np.sin(2 * np.pi * np.arange(n) / 168)
    f = Forecaster(seasonal_periods=[24, 168], ar_lags=0, robust=False, n_harmonics=10).fit(y)
    X = ref_design(np.arange(n, dtype=float), n, [24, 168], [10, 10])
    weekly_7th = [2 + 20 + 6, 2 + 20 + 10 + 6]  # the weekly sine and cosine of harmonic 7
    np.testing.assert_allclose(X[:, weekly_7th], X[:, [2, 12]], atol=1e-9)  # the daily first pair
    X = np.delete(X, weekly_7th, axis=1)
    assert f.coef_.shape == (1, 40)
    np.testing.assert_allclose(f.coef_[0], ridge_wls(X, y, np.ones(n)), rtol=0, atol=1e-8)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 12),
    m=st.integers(1, 300),
    halflife=st.sampled_from([None, 5.0, 40.0, 200.0]),
    level=st.sampled_from([0.9, 0.95, 0.975, 0.995]),
    nan_rate=st.sampled_from([0.0, 0.05, 0.6]),
    ties=st.sampled_from(["none", "exact", "float32"]),
    seed=st.integers(0, 2**16),
)
def test_conformal_bounds_equal_the_plain_weighted_ranks(
    rows: int, m: int, halflife: float | None, level: float, nan_rate: float, ties: str, seed: int
) -> None:
    """The tail-only computation (float32 sort, K-th scores, gathered tails, fallbacks for ties and short
    rows) gives exactly the plain-Python weighted conformal bounds of every row."""
    rng = np.random.default_rng(seed)
    z = rng.standard_t(3, (rows, m))
    if ties == "exact":
        z = np.round(z, 1)  # many exact ties, also at the K-th scores
    elif ties == "float32":  # distinct scores that float32 rounds to the same value, in both tails
        z = np.sign(z) * (2.0 + rng.integers(0, 4, z.shape) * 1e-12)
        assert np.unique(z.astype(np.float32)).size <= 2
    z[rng.random((rows, m)) < nan_rate] = np.nan
    z[0, : m // 2] = np.nan  # a row with fewer scores
    age = np.arange(m)[::-1].astype(float)
    weights = np.ones(m) if halflife is None else 2.0 ** (-age / halflife)
    lo, hi = conformal_bounds(z, weights, level)
    for i in range(rows):
        ok = ~np.isnan(z[i])
        if not ok.any():
            continue
        ref_lo, ref_hi = weighted_conformal(z[i, ok].tolist(), weights[ok].tolist(), level)
        assert (lo[i], hi[i]) == (ref_lo, ref_hi)


def test_dataframe_batch_has_multiindex_columns_equal_to_per_series_frames() -> None:
    n = 24 * 20
    idx = pd.date_range("2024-03-01", periods=n, freq="h")
    frame = pd.DataFrame(
        {name: seasonal_series(n, seed=s) for s, name in enumerate(["web", "db"])}, index=idx
    )
    frame.iloc[40:60, 1] = np.nan
    kw: dict[str, Any] = {"ar_lags": 2, "n_harmonics": 3}
    out = Forecaster(**kw).fit(frame).predict(10)
    assert isinstance(out.columns, pd.MultiIndex)
    assert list(out.columns) == [
        (s, c) for s in ("web", "db") for c in ("mean", "obs_ci_lower", "obs_ci_upper")
    ]
    assert out.index[0] == idx[-1] + pd.Timedelta(hours=1)
    for name in ("web", "db"):
        single = Forecaster(**kw).fit(frame[name]).predict(10)
        assert single.columns.name == name  # a Series' name labels its forecast's columns
        pd.testing.assert_frame_equal(
            out[name], single.rename_axis(columns=None), check_exact=False, rtol=0, atol=1e-9
        )


def test_array_batch_without_names_uses_column_positions() -> None:
    Y = np.column_stack([seasonal_series(300, seed=s) for s in range(2)])
    out = Forecaster(seasonal_periods=[24], ar_lags=1, n_harmonics=2).fit(Y).predict(4)
    assert list(out.columns.get_level_values(0).unique()) == [0, 1]
    assert list(out.index) == [300, 301, 302, 303]


# --------------------------------------------------------------------------- pandas handling


def test_hourly_series_periods_depend_on_the_length() -> None:
    long = hourly(seasonal_series(24 * 15, seed=50))
    short = hourly(seasonal_series(300, seed=51))
    assert Forecaster(ar_lags=2).fit(long).periods_ == [24, 168]
    assert Forecaster(ar_lags=2).fit(short).periods_ == [24]  # 168 > 300 // 2


def test_forecast_index_continues_the_timestamps() -> None:
    y = hourly(seasonal_series(400, seed=52), start="2024-05-01 03:00")
    out = Forecaster(ar_lags=2, n_harmonics=3).fit(y).predict(30)
    expected = pd.date_range(y.index[-1] + pd.Timedelta(hours=1), periods=30, freq="h")
    assert list(out.index) == list(expected)
    assert list(out.columns) == ["mean", "obs_ci_lower", "obs_ci_upper"]


def test_series_with_missing_timestamps_is_regularised_with_nan_rows() -> None:
    y = hourly(seasonal_series(24 * 16, seed=53))
    dropped = y.index[[10, 11, 12, 200, 370]]
    irregular = y.drop(dropped)
    filled = y.copy()
    filled[dropped] = np.nan
    kw: dict[str, Any] = {"ar_lags": 3, "n_harmonics": 4}
    a = Forecaster(**kw).fit(irregular)
    b = Forecaster(**kw).fit(filled)
    assert a.periods_ == b.periods_ == [24, 168]
    pd.testing.assert_frame_equal(a.predict(24), b.predict(24), check_exact=False, rtol=0, atol=1e-9)
    # never treated as zero: a fit on zero-filled gaps differs
    zeros = Forecaster(**kw).fit(y.where(~y.index.isin(dropped), 0.0)).predict_arrays(24)[0]
    assert np.abs(zeros - a.predict_arrays(24)[0]).max() > 0.01


def test_timestamps_for_arrays_equal_the_series_fit() -> None:
    y = hourly(seasonal_series(24 * 15, seed=54))
    kw: dict[str, Any] = {"ar_lags": 2, "n_harmonics": 3}
    a = Forecaster(**kw).fit(y.to_numpy(), timestamps=y.index)
    b = Forecaster(**kw).fit(y)
    assert a.periods_ == [24, 168]
    pd.testing.assert_frame_equal(a.predict(5), b.predict(5))
    with pytest.raises(ValueError, match="'timestamps'"):
        Forecaster(**kw).fit(y.to_numpy(), timestamps=y.index[:-1])


def test_window_keeps_the_most_recent_points() -> None:
    y = hourly(seasonal_series(900, seed=55))
    kw: dict[str, Any] = {"ar_lags": 2, "n_harmonics": 3, "seasonal_periods": [24]}
    a = Forecaster(**kw, window=400).fit(y).predict(6)
    b = Forecaster(**kw).fit(y.iloc[-400:]).predict(6)
    pd.testing.assert_frame_equal(a, b)


# --------------------------------------------------------------------------- detect_periods


def test_detect_periods_docstring_cases() -> None:
    assert detect_periods(np.zeros(5000), step_seconds=3600.0) == [24, 168]
    assert detect_periods(np.zeros(5000), step_seconds=3600.0, max_period=100) == [24]
    assert detect_periods(np.zeros(10), step_seconds=300.0) == [288, 2016]
    assert detect_periods(np.zeros(10), step_seconds=5 * 3600.0) == []  # neither a whole number of steps
    t = np.arange(600)
    assert detect_periods(np.sin(2 * np.pi * t / 12) + 0.01 * t) == [12]


def test_detect_periods_finds_a_noisy_period_and_nothing_in_noise() -> None:
    rng = np.random.default_rng(60)
    t = np.arange(1200)
    x = 3 * np.sin(2 * np.pi * t / 12) + np.cos(4 * np.pi * t / 12) + rng.normal(0, 0.5, t.size)
    x[rng.choice(t.size, 50, replace=False)] = np.nan
    assert detect_periods(x) == [12]
    assert detect_periods(rng.normal(size=1200)) == []
    assert detect_periods(np.ones(100)) == []
    assert detect_periods(np.arange(8.0)) == []
    f = Forecaster(ar_lags=2, n_harmonics=3).fit(np.nan_to_num(x, nan=0.0) + 10)
    assert f.periods_ == [12]


# --------------------------------------------------------------------------- parameters


def test_get_params_set_params_repr_and_clone() -> None:
    f = Forecaster(window=100, alpha=0.1, ar_lags=3)
    params = f.get_params()
    assert list(params) == [p for p in inspect.signature(Forecaster.__init__).parameters if p != "self"]
    assert {"seasonal_periods", "window", "alpha", "robust", "halflife", "transform"} <= set(params)
    assert params["window"] == 100
    assert params["alpha"] == 0.1
    assert params["ar_lags"] == 3
    assert repr(f) == "Forecaster(window=100, alpha=0.1, ar_lags=3)"
    assert repr(Forecaster()) == "Forecaster()"
    assert f.set_params(robust=False, n_harmonics=4) is f
    assert f.robust is False
    assert f.n_harmonics == 4
    with pytest.raises(ValueError, match="unknown parameter"):
        f.set_params(alpha=0.2, bogus=1)
    assert f.alpha == 0.1  # nothing changed
    c = clone(Forecaster(window=100))
    assert isinstance(c, Forecaster)
    assert c.get_params() == Forecaster(window=100).get_params()
    fitted = Forecaster(seasonal_periods=[24], ar_lags=1, n_harmonics=2).fit(seasonal_series(200, seed=1))
    fresh = clone(fitted)
    assert not hasattr(fresh, "coef_")


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("params", "exc", "name"),
    [
        ({"alpha": 0.0}, ValueError, "alpha"),
        ({"alpha": 1.0}, ValueError, "alpha"),
        ({"alpha": float("nan")}, ValueError, "alpha"),
        ({"alpha": "0.05"}, TypeError, "alpha"),
        ({"n_harmonics": 0}, ValueError, "n_harmonics"),
        ({"ar_lags": -1}, ValueError, "ar_lags"),
        ({"ar_lags": 2.0}, TypeError, "ar_lags"),
        ({"window": 5}, ValueError, "window"),
        ({"calibration": 3}, ValueError, "calibration"),
        ({"calibration_folds": 0}, ValueError, "calibration_folds"),
        ({"halflife": 0.0}, ValueError, "halflife"),
        ({"halflife": float("inf")}, ValueError, "halflife"),
        ({"trend": 1}, TypeError, "trend"),
        ({"robust": None}, TypeError, "robust"),
        ({"transform": "sqrt"}, ValueError, "transform"),
        ({"seasonal_periods": [1]}, ValueError, "seasonal_periods"),
        ({"seasonal_periods": [24, 0]}, ValueError, "seasonal_periods"),
        ({"seasonal_periods": True}, TypeError, "seasonal_periods"),
        ({"seasonal_periods": "24"}, TypeError, "seasonal_periods"),
        ({"seasonal_periods": 24.0}, TypeError, "seasonal_periods"),
        ({"seasonal_periods": [24.5]}, TypeError, "seasonal_periods"),
    ],
)
def test_bad_parameters_raise_naming_the_parameter(params: dict[str, Any], exc: type, name: str) -> None:
    with pytest.raises(exc, match=f"Forecaster\\(\\) argument '{name}'"):
        Forecaster(**params).fit(seasonal_series(300, seed=1))


@settings(max_examples=40, deadline=None)
@given(
    alpha=st.one_of(
        st.floats(max_value=0.0, allow_nan=False),
        st.floats(min_value=1.0, allow_nan=False),
        st.just(float("nan")),
    )
)
def test_alpha_outside_the_open_unit_interval_is_rejected(alpha: float) -> None:
    with pytest.raises(ValueError, match="'alpha'"):
        Forecaster(alpha=alpha).fit(np.arange(300.0))


@pytest.mark.parametrize(
    ("y", "exc", "match"),
    [
        (np.r_[np.arange(200.0), np.inf], ValueError, "'y' must not contain infinite"),
        ("abc", TypeError, "'y' must be"),
        ({"a": 1}, TypeError, "'y' must be"),
        (["a", "b"] * 100, TypeError, "'y' must hold numbers"),
        (np.zeros((50, 2, 2)), ValueError, "'y' must be 1-D or 2-D"),
        (np.arange(14.0), ValueError, "'y' has 14 observations"),
        (np.r_[np.arange(300.0), [np.nan] * 10], None, None),
    ],
)
def test_bad_data_raises_naming_y(y: Any, exc: type | None, match: str | None) -> None:
    f = Forecaster(seasonal_periods=[12], ar_lags=2, n_harmonics=2)
    if exc is None:
        f.fit(y)  # trailing gaps are fine
        return
    with pytest.raises(exc, match=match):
        f.fit(y)


def test_negative_values_with_log_transform_raise() -> None:
    y = seasonal_series(300, seed=1) - 60
    with pytest.raises(ValueError, match="'y' must be >= 0 for transform='log'"):
        Forecaster(transform="log").fit(y)


def test_a_batch_skips_a_series_with_too_few_observations(caplog: pytest.LogCaptureFixture) -> None:
    """One short series does not sink a batch: it is logged, listed in skipped_ and forecast as NaN."""
    kw: dict[str, Any] = {"seasonal_periods": [24], "ar_lags": 2, "n_harmonics": 3}
    Y = np.column_stack(
        [seasonal_series(300, seed=1), seasonal_series(300, seed=2), seasonal_series(300, seed=3)]
    )
    Y[:-20, 1] = np.nan
    with caplog.at_level("WARNING", logger="autoopt.prediction._forecaster"):
        f = Forecaster(**kw).fit(Y)
    assert f.skipped_ == [1]
    assert "1 of 3 series" in caplog.text
    mean, lower, upper = f.predict_arrays(12)
    assert np.isnan(np.stack([mean[:, 1], lower[:, 1], upper[:, 1]])).all()
    for j in (0, 2):
        alone = Forecaster(**kw).fit(Y[:, j]).predict_arrays(12)
        np.testing.assert_allclose(mean[:, j], alone[0][:, 0], rtol=1e-9)
        np.testing.assert_allclose(upper[:, j], alone[2][:, 0], rtol=1e-9)
    with pytest.raises(ValueError, match="'y' has 20 observations in its fullest series"):
        Forecaster(**kw).fit(Y[:, 1])


def test_predict_before_fit_and_bad_horizon() -> None:
    with pytest.raises(RuntimeError, match="fit"):
        Forecaster().predict(3)
    f = Forecaster(seasonal_periods=[24], ar_lags=1, n_harmonics=2).fit(seasonal_series(300, seed=1))
    with pytest.raises(ValueError, match="predict\\(\\) argument 'horizon'"):
        f.predict(0)
    with pytest.raises(TypeError, match="predict\\(\\) argument 'horizon'"):
        f.predict(2.0)  # type: ignore[arg-type]


def test_a_failed_refit_leaves_the_previous_fit_intact() -> None:
    kw: dict[str, Any] = {"seasonal_periods": [24], "ar_lags": 2, "n_harmonics": 3}
    f = Forecaster(**kw).fit(seasonal_series(400, seed=1))
    before = f.predict(12)
    coef = f.coef_.copy()
    for bad in (np.r_[np.arange(300.0), np.inf], np.arange(12.0), "y"):
        with pytest.raises((ValueError, TypeError)):
            f.fit(bad)
    with pytest.raises(ValueError, match="'window'"):
        f.set_params(window=3).fit(seasonal_series(400, seed=2))
    f.set_params(window=None)
    np.testing.assert_array_equal(f.coef_, coef)
    pd.testing.assert_frame_equal(f.predict(12), before)
    pd.testing.assert_frame_equal(f.predict(7), Forecaster(**kw).fit(seasonal_series(400, seed=1)).predict(7))


def test_intervals_use_the_alpha_of_the_fit() -> None:
    kw: dict[str, Any] = {"seasonal_periods": [24], "ar_lags": 2, "n_harmonics": 3}
    y = seasonal_series(400, seed=1)
    f = Forecaster(**kw).fit(y)
    f.predict(24)
    f.set_params(alpha=0.5)
    expected = Forecaster(**kw).fit(y).predict(12)  # fitted with alpha=0.05
    pd.testing.assert_frame_equal(f.predict(12), expected)


# --------------------------------------------------------------------------- property test


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(150, 400),
    k=st.integers(1, 3),
    nan_rate=st.floats(0.0, 0.3),
    ar_lags=st.integers(0, 3),
    robust=st.booleans(),
    log=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_fit_predict_gives_finite_ordered_bounds(
    n: int, k: int, nan_rate: float, ar_lags: int, robust: bool, log: bool, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    Y = np.column_stack([seasonal_series(n, seed=seed + j) * rng.uniform(0.1, 10) for j in range(k)])
    Y[rng.random(Y.shape) < nan_rate] = np.nan
    f = Forecaster(
        seasonal_periods=[12],
        n_harmonics=2,
        ar_lags=ar_lags,
        robust=robust,
        transform="log" if log else None,
    ).fit(np.abs(Y))
    mean, lo, hi = f.predict_arrays(int(rng.integers(1, 30)))
    assert np.isfinite(mean).all()
    assert np.isfinite(lo).all()
    assert np.isfinite(hi).all()
    assert (lo <= mean).all()
    assert (mean <= hi).all()
