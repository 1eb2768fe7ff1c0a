"""Forecaster.get_forecast: the one PredictionResults that predict and predict_arrays read from.

The reference for ``mean_se`` and ``mean_ci_*`` is statsmodels' WLS on the same
design and weights, with the forecaster's ridge set to 0 (with it, the two
agree to about 0.5 %).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import autoopt.prediction._linear as linear
from autoopt.prediction import Forecaster

KW = {"seasonal_periods": 24, "n_harmonics": 3, "ar_lags": 0, "robust": False, "nonnegative": False}


def series(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 20 + 0.01 * t + 5 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 1, n)


def wls_reference(f: Forecaster, y: np.ndarray, horizon: int, alpha: float = 0.05) -> pd.DataFrame:
    d = f._design_
    seen = ~np.isnan(y)
    fit = sm.WLS(y[seen], d.X[seen], weights=d.w[seen]).fit()
    rows = d.rows(np.arange(d.n, d.n + horizon, dtype=float))
    return fit.get_prediction(rows).summary_frame(alpha=alpha)


@pytest.mark.parametrize("halflife", [None, 60.0])
@pytest.mark.parametrize("alpha", [0.05, 0.2])
def test_mean_and_its_interval_are_the_wls_ones(monkeypatch, halflife, alpha) -> None:
    monkeypatch.setattr(linear, "RIDGE", 0.0)
    y = series(300, 1)
    y[50:60] = np.nan  # gaps weigh nothing and cost degrees of freedom
    f = Forecaster(**KW, halflife=halflife, alpha=alpha).fit(y)
    res = f.get_forecast(10)
    ref = wls_reference(f, y, 10, alpha)
    got = res.summary_frame()
    for col in ("mean", "mean_se", "mean_ci_lower", "mean_ci_upper"):
        np.testing.assert_allclose(got[col].to_numpy(), ref[col].to_numpy(), rtol=1e-9, err_msg=col)
    assert res.dof == 290 - f._design_.n_features
    assert res.calibrated
    assert res.alpha == alpha


def test_the_default_ridge_moves_the_standard_error_by_under_one_percent() -> None:
    y = series(300, 2)
    f = Forecaster(**KW).fit(y)
    ref = wls_reference(f, y, 24)
    np.testing.assert_allclose(f.get_forecast(24).mean_se, ref["mean_se"].to_numpy(), rtol=1e-2)


def test_each_series_of_a_batch_gets_its_own_covariance(monkeypatch) -> None:
    monkeypatch.setattr(linear, "RIDGE", 0.0)
    a, b = series(300, 3), 3.0 * series(300, 4)
    b[100:160] = np.nan
    frame = pd.DataFrame({"a": a, "b": b})
    frame.columns.name = "host"
    res = Forecaster(**KW).fit(frame).get_forecast(5)
    out = res.summary_frame()
    assert out.columns.names == ["host", None]
    assert list(out.columns.get_level_values(0).unique()) == ["a", "b"]
    assert res.mean.shape == (5, 2)
    assert list(res.dof) == [300 - 8, 240 - 8]
    for name, y in (("a", a), ("b", b)):
        alone = Forecaster(**KW).fit(y)
        ref = wls_reference(alone, y, 5)
        np.testing.assert_allclose(out[name]["mean_se"].to_numpy(), ref["mean_se"].to_numpy(), rtol=1e-9)
        np.testing.assert_allclose(out[name]["mean_ci_upper"].to_numpy(), ref["mean_ci_upper"], rtol=1e-9)


def test_the_calibrated_level_is_the_only_one() -> None:
    res = Forecaster(seasonal_periods=24, alpha=0.1).fit(series(400, 5)).get_forecast(6)
    assert res.summary_frame(alpha=0.1).equals(res.summary_frame())
    for call in (lambda: res.summary_frame(alpha=0.05), lambda: res.conf_int(obs=True, alpha=0.2)):
        with pytest.raises(
            ValueError, match=r"calibrated for, 0.1; got 0.(05|2) \(refit the model with alpha"
        ):
            call()
    np.testing.assert_array_equal(
        res.conf_int(obs=True), np.column_stack([res.obs_ci_lower, res.obs_ci_upper])
    )
    assert res.t_value is None
    assert res.se_obs is None


def test_predict_and_predict_arrays_read_the_same_result() -> None:
    y = pd.Series(series(24 * 20, 6), index=pd.date_range("2024-03-01", periods=480, freq="h", name="ts"))
    y.name = "cpu"
    f = Forecaster().fit(y)
    full = f.get_forecast(12).summary_frame()
    frame = f.predict(12)
    assert list(frame.columns) == ["mean", "obs_ci_lower", "obs_ci_upper"]
    assert frame.equals(full[["mean", "obs_ci_lower", "obs_ci_upper"]])
    assert frame.columns.name == "cpu"
    assert frame.index.name == "ts"
    mean, _lower, upper = f.predict_arrays(12)
    np.testing.assert_array_equal(mean[:, 0], full["mean"].to_numpy())
    np.testing.assert_array_equal(upper[:, 0], full["obs_ci_upper"].to_numpy())
    # values observed since the fit move the labels on as well as the AR state
    later = f.get_forecast(3, after=y.to_numpy()[:4])
    assert later.index[0] == y.index[-1] + 5 * pd.Timedelta("1h")
    assert later.summary_frame().index.equals(later.index)


def test_undefined_standard_errors_are_nan() -> None:
    y = np.exp(series(400, 7) / 10)  # positive, swings scaling with the level
    log = Forecaster(seasonal_periods=24, transform="log").fit(y).get_forecast(6)
    assert np.isnan(log.mean_se).all()
    # the interval of the mean is the log-scale one mapped back: it holds the forecast (the median)
    assert (log.mean_ci_lower < log.mean).all()
    assert (log.mean < log.mean_ci_upper).all()
    frame = pd.DataFrame({"long": series(400, 8), "short": np.r_[np.full(380, np.nan), series(20, 9)]})
    res = Forecaster(seasonal_periods=24).fit(frame).get_forecast(4)
    short = res.summary_frame()["short"]
    assert short.isna().all().all()
    assert res.summary_frame()["long"].notna().all().all()


def test_nonnegative_series_get_a_nonnegative_mean_interval() -> None:
    rng = np.random.default_rng(10)
    y = np.maximum(0.0, 0.3 + rng.normal(0, 1, 400)).round()  # counts, mostly 0 and 1
    res = Forecaster(seasonal_periods=24).fit(y).get_forecast(8)
    for col in ("mean", "mean_ci_lower", "obs_ci_lower"):
        assert (res.summary_frame()[col] >= 0).all(), col
