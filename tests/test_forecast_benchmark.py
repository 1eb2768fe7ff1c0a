"""The forecast benchmark: its loaders (real data), baselines (closed forms), protocol (no look-ahead) and CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autoopt
from benchmarks.forecast import run as bench
from benchmarks.forecast.baselines import (
    BASELINES,
    autoopt_methods,
    fill_gaps,
    fit_predict_method,
    fourier_terms,
    holt_winters,
    naive,
    sarima,
    seasonal_naive,
    seasonal_naive_weekly,
)
from benchmarks.forecast.data import (
    AZURE_CPU_FILE,
    DATASETS,
    NASA_FILE,
    DatasetSpec,
    load_azure_cpu,
    load_dataset,
    load_nasa,
)

Z90 = 1.2815515655446004  # the standard normal's 0.9 quantile (an 80 % interval)
Z975 = 1.959963984540054


def _regular(index: pd.DatetimeIndex, step: str) -> bool:
    return bool(len(index) > 1 and (np.diff(index.asi8) == np.diff(index.asi8)[0]).all()) and (
        index[1] - index[0] == pd.Timedelta(step)
    )


def _seasonal(n: int, m: int, *, trend: float = 0.0, noise: float = 0.0, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 50.0 + trend * t + 5.0 * np.sin(2 * np.pi * t / m) + 2.0 * np.cos(4 * np.pi * t / m)
    return pd.Series(
        y + noise * rng.standard_normal(n), index=pd.date_range("2024-01-01", periods=n, freq="h")
    )


# ------------------------------------------------------------------ loaders


def test_nasa_hourly_is_regular_with_its_gaps_kept_as_nan(shared_data):
    y = load_nasa("1h", shared_data)
    assert len(y) == 1488
    assert y.index.freq == "h"
    assert _regular(y.index, "1h")
    assert str(y.index[0]) == "1995-07-01 00:00:00-04:00"
    assert int(y.isna().sum()) == 122
    assert y["1995-07-29":"1995-07-31"].isna().all()  # not logged: a gap, never zero
    assert y["1995-08-02"].isna().all()  # the outage: demand not observed
    assert not (y.dropna() == 0).any()
    assert np.isfinite(y["1995-07-28 12:00":"1995-07-28 12:59"]).all()
    assert y["1995-07-28 13:00":"1995-07-28 13:59"].isna().all()  # its minutes from 13:33 were not logged


def test_nasa_hourly_sums_the_raw_minutes(shared_data):
    raw = pd.read_csv(shared_data / NASA_FILE)
    y = load_nasa("1h", shared_data)
    first_hour = raw["requests"].iloc[:60].sum()
    assert y.iloc[0] == first_hour
    day = raw[raw["timestamp"].str.startswith("1995-07-13T15:")]
    assert len(day) == 60
    assert y["1995-07-13 15:00":"1995-07-13 15:59"].iloc[0] == day["requests"].sum()


def test_nasa_outage_can_be_kept_as_served_zeros(shared_data):
    y = load_nasa("1h", shared_data, outage_as_gap=False)
    assert int(y.isna().sum()) == 83
    assert (y["1995-08-02"] == 0).all()


def test_nasa_5min_is_regular_with_its_gaps(shared_data):
    y = load_nasa("5min", shared_data)
    assert len(y) == 17856
    assert _regular(y.index, "5min")
    assert int(y.isna().sum()) == 1444
    assert int(load_nasa("5min", shared_data, outage_as_gap=False).isna().sum()) == 990
    hourly = load_nasa("1h", shared_data)
    assert y.iloc[:12].sum() == hourly.iloc[0]


def test_azure_cpu_is_regular_and_complete(shared_data):
    y = load_azure_cpu(shared_data)
    raw = pd.read_csv(shared_data / AZURE_CPU_FILE)
    assert len(y) == 8640
    assert _regular(y.index, "5min")
    assert y.index.freq == "5min"
    assert int(y.isna().sum()) == 0
    np.testing.assert_array_equal(y.to_numpy(), raw["cpu_usage"].to_numpy())


def test_every_dataset_fits_the_full_tier(shared_data):
    for name, spec in DATASETS.items():
        y = load_dataset(name, shared_data)
        origins = bench.select_origins(y, spec.horizon, spec.window, spec.step, bench.TIERS["full"].n_origins)
        assert len(origins) == bench.TIERS["full"].n_origins
        assert spec.window > 2 * spec.season


def test_loaders_reject_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="freq"):
        load_nasa("1d")
    with pytest.raises(ValueError, match="name"):
        load_dataset("nope")
    with pytest.raises(FileNotFoundError):
        load_azure_cpu(tmp_path)


# ---------------------------------------------------------------- baselines


def test_naive_interval_is_the_random_walk_formula():
    y = pd.Series([1.0, 3.0, 2.0, 5.0, 4.0])
    mean, lo, hi = naive(y, 3, 0.2, 1)
    sigma = math.sqrt((4 + 1 + 9 + 1) / 4)
    np.testing.assert_allclose(mean, [4.0, 4.0, 4.0])
    np.testing.assert_allclose(hi - mean, [Z90 * sigma * math.sqrt(h) for h in (1, 2, 3)])
    np.testing.assert_allclose(mean - lo, hi - mean)


def test_naive_skips_gaps():
    y = pd.Series([1.0, 3.0, np.nan, 5.0, 4.0, np.nan])
    mean, _lo, hi = naive(y, 2, 0.05, 1)
    np.testing.assert_allclose(mean, [4.0, 4.0])  # the last observed value
    sigma = math.sqrt((2.0**2 + 1.0**2) / 2)  # pairs (1, 3) and (5, 4) only
    np.testing.assert_allclose(hi - mean, [Z975 * sigma, Z975 * sigma * math.sqrt(2)])


def test_seasonal_naive_is_exact_on_a_periodic_series():
    pattern = np.array([3.0, 7.0, 1.0, 9.0, 4.0])
    y = pd.Series(np.tile(pattern, 6))
    mean, lo, hi = seasonal_naive(y, 13, 0.05, 5)
    np.testing.assert_array_equal(mean, np.tile(pattern, 3)[:13])
    np.testing.assert_array_equal(lo, mean)  # no in-sample seasonal error, so no width
    np.testing.assert_array_equal(hi, mean)


def test_seasonal_naive_interval_uses_whole_seasons_back():
    m = 4
    y = pd.Series([1.0, 2.0, 3.0, 4.0, 2.0, 2.0, 5.0, 4.0, 1.0, 3.0, 5.0, 6.0])
    mean, _lo, hi = seasonal_naive(y, 9, 0.2, m)
    res = y.to_numpy()[m:] - y.to_numpy()[:-m]
    sigma = math.sqrt(np.mean(res**2))
    k = np.array([(h - 1) // m + 1 for h in range(1, 10)])
    np.testing.assert_array_equal(k, [1, 1, 1, 1, 2, 2, 2, 2, 3])
    np.testing.assert_allclose(mean, [1.0, 3.0, 5.0, 6.0, 1.0, 3.0, 5.0, 6.0, 1.0])
    np.testing.assert_allclose(hi - mean, Z90 * sigma * np.sqrt(k))


def test_seasonal_naive_goes_a_season_further_back_past_a_gap():
    y = pd.Series([1.0, 2.0, 3.0, 10.0, 20.0, np.nan])
    mean, _lo, hi = seasonal_naive(y, 3, 0.05, 3)
    np.testing.assert_allclose(mean, [10.0, 20.0, 3.0])
    sigma = math.sqrt((81 + 324) / 2)
    np.testing.assert_allclose(hi - mean, Z975 * sigma * np.sqrt([1, 1, 2]))


def test_weekly_seasonal_naive_uses_seven_seasons():
    y = pd.Series(np.arange(40.0))
    np.testing.assert_array_equal(seasonal_naive_weekly(y, 2, 0.05, 2)[0], seasonal_naive(y, 2, 0.05, 14)[0])


def test_fill_gaps_takes_the_previous_season_then_the_next():
    x = np.array([np.nan, 2.0, 3.0, 4.0, np.nan, 6.0, np.nan, np.nan, 9.0])
    np.testing.assert_array_equal(fill_gaps(x, 3), [4.0, 2.0, 3.0, 4.0, 2.0, 6.0, 4.0, 2.0, 9.0])
    np.testing.assert_array_equal(fill_gaps(np.array([np.nan, 1.0, np.nan, 3.0]), 10), [1.0, 1.0, 2.0, 3.0])


def _mase(y_true: np.ndarray, mean: np.ndarray, history: np.ndarray, m: int) -> float:
    scale = np.nanmean(np.abs(history[m:] - history[:-m]))
    return float(np.mean(np.abs(y_true - mean)) / scale)


def test_holt_winters_recovers_a_clean_additive_seasonal_series():
    m, n, h = 24, 24 * 20, 24
    full = _seasonal(n + h, m, trend=0.05, noise=0.1)
    history, future = full.iloc[:n], full.to_numpy()[n:]
    mean, lo, hi = holt_winters(history, h, 0.05, m)
    assert _mase(future, mean, history.to_numpy(), m) < 0.2
    assert np.mean((future >= lo) & (future <= hi)) >= 0.8
    assert (lo < mean).all()
    assert (mean < hi).all()


def test_holt_winters_fits_through_gaps():
    m, n, h = 24, 24 * 20, 24
    full = _seasonal(n + h, m, noise=0.1, seed=1)
    history = full.iloc[:n].copy()
    history.iloc[200:260] = np.nan
    history.iloc[:5] = np.nan
    mean, _lo, _hi = holt_winters(history, h, 0.05, m)
    clean, _lo, _hi = holt_winters(full.iloc[:n], h, 0.05, m)
    future = full.to_numpy()[n:]
    assert np.mean(np.abs(future - mean)) < 0.3  # noise sd 0.1, seasonal amplitude about 7
    assert np.mean(np.abs(mean - clean)) < 0.1


def test_sarima_seasonal_and_fourier_forms_forecast_a_seasonal_series():
    m, n, h = 24, 24 * 10, 24
    full = _seasonal(n + h, m, noise=0.3, seed=2)
    history = full.iloc[:n].copy()
    history.iloc[100:130] = np.nan  # the Kalman filter skips missing observations
    mean, lo, hi = sarima(history, h, 0.05, m)
    assert _mase(full.to_numpy()[n:], mean, history.to_numpy(), m) < 1.0
    assert (lo < mean).all()
    assert (mean < hi).all()
    m_long = 96  # beyond SEASONAL_SARIMA_MAX_PERIOD: Fourier terms with ARIMA(1,0,1) errors
    full = _seasonal(3 * m_long + 12, m_long, noise=0.3, seed=3)
    mean, lo, hi = sarima(full.iloc[: 3 * m_long], 12, 0.05, m_long)
    assert _mase(full.to_numpy()[-12:], mean, full.to_numpy()[: 3 * m_long], m_long) < 1.0


def test_fourier_terms_are_the_harmonics():
    x = fourier_terms(10, 5, 2)
    t = np.arange(10)
    np.testing.assert_allclose(x[:, 0], np.sin(2 * np.pi * t / 5))
    np.testing.assert_allclose(x[:, 3], np.cos(4 * np.pi * t / 5), atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(horizon=st.integers(max_value=0), season=st.integers(min_value=1, max_value=8))
def test_baselines_reject_a_horizon_below_one(horizon, season):
    y = pd.Series(np.arange(30.0))
    for method in (naive, seasonal_naive):
        with pytest.raises(ValueError, match="horizon"):
            method(y, horizon, 0.05, season)


@settings(max_examples=25, deadline=None)
@given(horizon=st.one_of(st.booleans(), st.floats(allow_nan=True), st.text(max_size=3)))
def test_baselines_reject_a_horizon_of_the_wrong_type(horizon):
    with pytest.raises(TypeError, match="horizon"):
        naive(pd.Series(np.arange(30.0)), horizon, 0.05, 4)


@settings(max_examples=25, deadline=None)
@given(alpha=st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0)))
def test_baselines_reject_a_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha"):
        naive(pd.Series(np.arange(30.0)), 3, alpha, 4)


def test_baselines_reject_a_history_without_values():
    for method in BASELINES.values():
        with pytest.raises(ValueError, match="history"):
            method(pd.Series([np.nan] * 60), 3, 0.05, 4)


# ------------------------------------------------------------ model classes


class _MeanModel:
    """A fit/predict model: the history's mean, ± 2 standard deviations."""

    def __init__(self, seasonal_periods: int | None = None, alpha: float = 0.05) -> None:
        self.seasonal_periods, self.alpha = seasonal_periods, alpha

    def fit(self, y: pd.Series) -> _MeanModel:
        self.mu, self.sd = float(np.nanmean(y)), float(np.nanstd(y))
        return self

    def predict(self, horizon: int) -> pd.DataFrame:
        mean = np.full(horizon, self.mu)
        return pd.DataFrame(
            {"mean": mean, "obs_ci_lower": mean - 2 * self.sd, "obs_ci_upper": mean + 2 * self.sd}
        )


def test_fit_predict_models_plug_in():
    method = fit_predict_method(lambda season, alpha: _MeanModel(season, alpha))
    mean, lo, hi = method(pd.Series([1.0, 3.0, np.nan, 5.0]), 2, 0.05, 4)
    np.testing.assert_allclose(mean, [3.0, 3.0])
    np.testing.assert_allclose(hi - lo, 4 * np.std([1.0, 3.0, 5.0]))


def test_autoopt_forecaster_is_registered_only_when_it_exists(monkeypatch):
    if not hasattr(autoopt, "Forecaster"):
        assert autoopt_methods() == {}
        assert "autoopt.Forecaster" not in bench.available_methods()
    monkeypatch.setattr(autoopt, "Forecaster", _MeanModel, raising=False)
    methods = autoopt_methods()
    assert list(methods) == ["autoopt.Forecaster", "autoopt.Forecaster[batch]"]
    assert "autoopt.Forecaster" in bench.available_methods()
    mean, _lo, _hi = methods["autoopt.Forecaster"](pd.Series([2.0, 4.0]), 3, 0.05, 24)
    np.testing.assert_allclose(mean, [3.0, 3.0, 3.0])


def test_the_batch_form_forecasts_as_the_per_call_form():
    """All origins in one vectorised call give the per-call forecasts, gaps and all; its time is shared."""
    rng = np.random.default_rng(5)
    t = pd.date_range("2024-01-01", periods=24 * 40, freq="h")
    y = pd.Series(100 + 30 * np.sin(2 * np.pi * t.hour / 24) + rng.normal(0, 3, t.size), index=t)
    y.iloc[300:330] = np.nan  # a gap some windows hold and others do not
    y.iloc[700] = np.nan
    methods = autoopt_methods()
    origins = bench.select_origins(y, horizon=24, window=24 * 21, step=24, n_origins=6)
    one = bench.run_method(methods["autoopt.Forecaster"], y, origins, horizon=24, season=24, window=24 * 21)
    many = bench.run_method(
        methods["autoopt.Forecaster[batch]"], y, origins, horizon=24, season=24, window=24 * 21
    )
    assert one.ok.all()
    assert many.ok.all()
    for a, b in ((one.mean, many.mean), (one.lower, many.lower), (one.upper, many.upper)):
        np.testing.assert_allclose(b, a, rtol=1e-7, atol=1e-6)  # rounding: Gram updates vs direct
    assert np.ptp(many.seconds) == 0.0  # one call, charged equally


# ------------------------------------------------------------------ protocol


def test_origins_are_the_latest_step_apart_and_fit_their_window():
    y = np.arange(100.0)
    o = bench.select_origins(y, horizon=5, window=20, step=7, n_origins=4)
    np.testing.assert_array_equal(o, [74, 81, 88, 95])
    with pytest.raises(ValueError, match="holds only"):
        bench.select_origins(y, horizon=5, window=20, step=7, n_origins=12)
    y[88:93] = np.nan  # a target with nothing observed is skipped
    np.testing.assert_array_equal(bench.select_origins(y, 5, 20, 7, 4), [67, 74, 81, 95])


class _Recorder:
    def __init__(self) -> None:
        self.seen: list[pd.Series] = []

    def __call__(self, history: pd.Series, horizon: int, alpha: float, season: int):
        self.seen.append(history.copy())
        last = float(history.iloc[-1])
        return np.full(horizon, last), np.full(horizon, last - 1), np.full(horizon, last + 1)


def test_methods_see_only_the_window_before_each_origin():
    y = _seasonal(300, 24, noise=1.0)
    origins = bench.select_origins(y, 24, 100, 24, 5)
    rec = _Recorder()
    bench.run_method(rec, y, origins, horizon=24, season=24, window=100, warmup=False)
    assert len(rec.seen) == 5
    for o, hist in zip(origins, rec.seen, strict=True):
        assert len(hist) == 100
        assert hist.index[-1] < y.index[o]  # strictly before the origin
        assert hist.index[-1] == y.index[o - 1]
        pd.testing.assert_series_equal(hist, y.iloc[o - 100 : o])
    rec2 = _Recorder()
    bench.run_method(
        rec2, y, origins, horizon=24, season=24, window=100
    )  # warm-up: one more look, also causal
    assert len(rec2.seen) == 6
    assert all(h.index[-1] < y.index[origins[0]] for h in rec2.seen[:2])


def test_targets_are_the_horizon_after_each_origin_and_scored_m4_style():
    y = _seasonal(400, 24, noise=1.0, seed=5)
    spec = DatasetSpec("toy", lambda _d: y, "1h", 24, 24, 96, 24, "toy")
    values = y.to_numpy()

    def oracle(history: pd.Series, horizon: int, alpha: float, season: int):
        o = y.index.get_loc(history.index[-1]) + 1
        truth = values[o : o + horizon]
        return truth, truth - 1.0, truth + 1.0

    def last_value(history: pd.Series, horizon: int, alpha: float, season: int):
        v = float(history.iloc[-1])
        return np.full(horizon, v), np.full(horizon, v - 1.0), np.full(horizon, v + 1.0)

    out = bench.evaluate_dataset(spec, y, {"oracle": oracle, "last": last_value}, 4)
    assert out["methods"]["oracle"]["mase"] == 0.0
    assert out["methods"]["oracle"]["coverage"] == 1.0
    origins = bench.select_origins(y, 24, 96, 24, 4)
    expected = []
    for o in origins:
        hist = values[o - 96 : o]
        expected.append(
            np.mean(np.abs(values[o : o + 24] - values[o - 1])) / np.mean(np.abs(hist[24:] - hist[:-24]))
        )
    assert out["methods"]["last"]["mase"] == pytest.approx(np.mean(expected))
    assert out["origins"] == [str(y.index[o]) for o in origins]


def test_failed_origins_are_counted_and_left_out():
    y = _seasonal(300, 24, noise=1.0)
    calls = {"n": 0}

    def flaky(history: pd.Series, horizon: int, alpha: float, season: int):
        calls["n"] += 1
        if calls["n"] % 2 == 0:
            raise RuntimeError("boom")
        if calls["n"] == 3:
            return np.full(horizon, np.nan), np.zeros(horizon), np.ones(horizon)
        return naive(history, horizon, alpha, season)

    spec = DatasetSpec("toy", lambda _d: y, "1h", 24, 24, 96, 24, "toy")
    out = bench.evaluate_dataset(spec, y, {"flaky": flaky}, 5)
    row = out["methods"]["flaky"]
    assert calls["n"] == 6  # warm-up + 5 origins
    assert row["failed"] == 4
    assert row["origins"] == 5
    assert row["mase"] is not None
    assert any("boom" in e for e in row["errors"])
    assert any("not finite" in e for e in row["errors"])


def test_checks_compare_the_forecaster_with_the_baselines():
    def row(mase, cov, msis, secs):
        return {"mase": mase, "coverage": cov, "msis": msis, "seconds_total": secs}

    datasets = {
        "d": {
            "methods": {
                "seasonal_naive": row(0.9, 0.9, 10.0, 0.01),
                "seasonal_naive_weekly": row(0.8, 0.9, 10.0, 0.01),
                "holt_winters": row(0.85, 0.9, 9.0, 2.0),
                "sarima": row(1.0, 0.9, 8.0, 20.0),
                "autoopt.Forecaster": row(0.79, 0.95, 8.5, 0.05),
            }
        }
    }
    status = {c["check"].split(": ", 1)[1]: c["status"] for c in bench.run_checks(datasets)}
    assert status == {
        "MASE <= best of seasonal naive and Holt-Winters": "PASS",
        "coverage in [0.93, 0.97]": "PASS",
        "MSIS <= SARIMA's": "FAIL",
        ">= 20x less compute than Holt-Winters": "PASS",
    }
    del datasets["d"]["methods"]["autoopt.Forecaster"]
    assert bench.run_checks(datasets) == []


# ------------------------------------------------------------------ end to end


def test_cli_end_to_end(shared_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AUTOOPT_SHARED_DATA", str(shared_data))
    out = tmp_path / "forecast.json"
    code = bench.main(
        [
            "--datasets",
            "nasa_hourly,azure_cpu",
            "--methods",
            "naive,seasonal_naive,holt_winters",
            "--origins",
            "2",
            "--window",
            "14D",
            "--json",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    result = json.loads(out.read_text())
    assert result["config"]["methods"] == ["naive", "seasonal_naive", "holt_winters"]
    hourly = result["datasets"]["nasa_hourly"]
    assert hourly["window"] == 14 * 24
    assert len(hourly["origins"]) == 2
    assert result["datasets"]["azure_cpu"]["window"] == 14 * 288
    for d in result["datasets"].values():
        for row in d["methods"].values():
            assert row["failed"] == 0
            assert 0 < row["mase"] < 10
            assert 0 <= row["coverage"] <= 1
            assert row["msis"] > 0
            assert len(row["coverage_by_step"]) == d["horizon"]
    report = capsys.readouterr().out
    assert "### nasa_hourly" in report
    assert "| holt_winters |" in report


def test_baseline_comparison_flags_any_worse_metric() -> None:
    from benchmarks.forecast.run import BASELINE, compare_to_baseline

    baseline = json.loads(BASELINE.read_text())
    same = {"config": {"alpha": 0.05}, "datasets": baseline["datasets"]}
    checks = compare_to_baseline(same, baseline)
    assert len(checks) == 3 * 2 * 3  # 3 datasets x 2 autoopt methods x (MASE, MSIS, coverage)
    assert all(c["status"] == "PASS" for c in checks)
    worse = json.loads(BASELINE.read_text())
    row = worse["datasets"]["nasa_5min"]["methods"]["autoopt.Forecaster"]
    row["msis"] *= 1.01
    row["coverage"] = 0.90  # further from 0.95 than the baseline's 0.949
    failed = [c["check"] for c in compare_to_baseline({"config": {"alpha": 0.05}, "datasets": worse["datasets"]}, baseline) if c["status"] == "FAIL"]  # fmt: skip
    assert failed == [
        "nasa_5min: autoopt.Forecaster MSIS <= baseline",
        "nasa_5min: autoopt.Forecaster |coverage - nominal| <= baseline",
    ]
