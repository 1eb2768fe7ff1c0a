"""PerformancePredictor against statsmodels and closed forms."""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

from autoopt import AutomationConfig, PerformancePredictor, PredictionType
from autoopt._clock import ManualClock
from autoopt.prediction import Forecaster, PredictionResults


def _statsmodels_frame(x: np.ndarray, y: np.ndarray, x0: np.ndarray, alpha: float):
    """statsmodels' summary_frame for OLS of y on [1, x], predicting at x0."""
    res = sm.OLS(y, sm.add_constant(x)).fit()
    exog = sm.add_constant(np.asarray(x0, dtype=float), has_constant="add")
    return res.get_prediction(exog).summary_frame(alpha=alpha)


def test_seed_example_gives_114_5():
    predictor = PerformancePredictor()
    for i in range(100):
        predictor.record_observation(PredictionType.LOAD, 50.0 + i * 0.5)
    p = predictor.predict(PredictionType.LOAD, horizon_minutes=30)
    assert p is not None
    assert p.predicted_value == pytest.approx(114.5, rel=1e-12)
    lo, hi = p.confidence_interval
    # Exactly linear data: zero residual variance, a degenerate interval around the truth.
    assert lo <= 114.5 + 1e-9
    assert hi >= 114.5 - 1e-9
    assert hi - lo < 1e-6
    assert p.confidence == pytest.approx(0.95)
    assert p.target_time - predictor.predict(PredictionType.LOAD, 1).target_time == timedelta(minutes=29)


def test_none_until_min_observations():
    predictor = PerformancePredictor(min_observations=10)
    for i in range(9):
        predictor.record_observation(PredictionType.LATENCY, 10.0 + i)
        assert predictor.predict(PredictionType.LATENCY) is None
    predictor.record_observation(PredictionType.LATENCY, 20.0)
    assert predictor.predict(PredictionType.LATENCY) is not None
    assert predictor.predict(PredictionType.THROUGHPUT) is None


@pytest.mark.parametrize("n_obs", [12, 100, 1000, 5000])
@pytest.mark.parametrize("alpha", [0.05, 0.2])
def test_interval_equals_statsmodels_obs_ci(n_obs, alpha):
    """The interval is statsmodels' obs_ci for the same data and window, to 1e-9 relative."""
    rng = np.random.default_rng(n_obs)
    window = 100
    predictor = PerformancePredictor(window=window, alpha=alpha, min_observations=10, seasonal_period=None)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    # Irregular real timestamps: 30-90 s apart.
    gaps = rng.uniform(30, 90, n_obs)
    t = np.cumsum(gaps)
    y = 200.0 + 0.02 * t / 60 + 5 * np.sin(t / 3000) + rng.normal(0, 3, n_obs)
    for ti, yi in zip(t, y, strict=False):
        predictor.record_observation(
            PredictionType.THROUGHPUT, yi, timestamp=t0 + timedelta(seconds=float(ti))
        )
    horizon = 30
    p = predictor.predict(PredictionType.THROUGHPUT, horizon_minutes=horizon)
    xs = t[-window:] / 60.0
    frame = _statsmodels_frame(xs, y[-window:], np.array([xs[-1] + horizon]), alpha)
    assert p.predicted_value == pytest.approx(frame["mean"].iloc[0], rel=1e-9)
    assert p.confidence_interval[0] == pytest.approx(frame["obs_ci_lower"].iloc[0], rel=1e-9)
    assert p.confidence_interval[1] == pytest.approx(frame["obs_ci_upper"].iloc[0], rel=1e-9)
    assert p.confidence == pytest.approx(1 - alpha)
    assert p.target_time == t0 + timedelta(seconds=float(t[-1])) + timedelta(minutes=horizon)


def test_predict_frame_matches_statsmodels_summary_frame():
    rng = np.random.default_rng(7)
    predictor = PerformancePredictor(window=60)
    y = 40 + 0.3 * np.arange(500) + rng.normal(0, 2, 500)
    for v in y:
        predictor.record_observation(PredictionType.LOAD, v)
    horizons = np.array([1.0, 5.0, 30.0, 120.0])
    frame = predictor.predict_frame(PredictionType.LOAD, horizons)
    x = np.arange(500, dtype=float)[-60:]  # 60 s apart = 1 minute per step
    ref = _statsmodels_frame(x, y[-60:], x[-1] + horizons, 0.05)
    assert list(frame.columns) == list(ref.columns)
    np.testing.assert_allclose(frame.to_numpy(), ref.to_numpy(), rtol=1e-9)


def test_no_drift_over_long_history():
    """After 50,000 sliding updates the running moments still match a fresh fit."""
    rng = np.random.default_rng(3)
    predictor = PerformancePredictor(window=100, seasonal_period=None)
    y = 1e4 + np.cumsum(rng.normal(0, 1, 50_000))
    for v in y:
        predictor.record_observation(PredictionType.COST, v)
    p = predictor.predict(PredictionType.COST, horizon_minutes=10)
    x = np.arange(50_000, dtype=float)[-100:]
    ref = _statsmodels_frame(x, y[-100:], np.array([x[-1] + 10]), 0.05)
    assert p.predicted_value == pytest.approx(ref["mean"].iloc[0], rel=1e-9)
    assert p.confidence_interval[1] == pytest.approx(ref["obs_ci_upper"].iloc[0], rel=1e-9)


def test_default_horizon_and_sample_interval_from_config():
    clock = ManualClock(1_000_000.0)
    predictor = PerformancePredictor(
        AutomationConfig(prediction_horizon_minutes=15), sample_interval=300.0, clock=clock
    )
    for i in range(20):
        predictor.record_observation(PredictionType.LOAD, 10.0 + i)  # +1 per 5 minutes
    p = predictor.predict(PredictionType.LOAD)
    assert p.predicted_value == pytest.approx(29.0 + 3.0)  # 15 minutes = 3 steps
    assert p.target_time == datetime.fromtimestamp(1_000_000.0 + 19 * 300 + 900, tz=UTC)


def test_out_of_order_timestamps_are_moved_up():
    predictor = PerformancePredictor(min_observations=3)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    predictor.record_observation(PredictionType.LOAD, 1.0, timestamp=base)
    predictor.record_observation(PredictionType.LOAD, 2.0, timestamp=base + timedelta(minutes=2))
    predictor.record_observation(PredictionType.LOAD, 3.0, timestamp=base + timedelta(seconds=117))
    times, values = predictor.get_series(PredictionType.LOAD)
    assert np.all(np.diff(times) >= 0)
    assert times[-1] == times[-2]  # 3 s late: moved up to the latest time, and counted
    assert values.tolist() == [1.0, 2.0, 3.0]
    assert predictor.get_stats()["clamped_timestamps"] == 1
    with pytest.raises(ValueError, match="60 s before the latest"):  # beyond max_backward_step_s
        predictor.record_observation(PredictionType.LOAD, 4.0, timestamp=base + timedelta(minutes=1))
    assert predictor.observation_count(PredictionType.LOAD) == 3


def test_forecasts_truncated_to_feasible_range():
    predictor = PerformancePredictor()
    for i in range(30):
        predictor.record_observation(PredictionType.ERROR_RATE, max(0.0, 0.3 - 0.01 * i))
    p = predictor.predict(PredictionType.ERROR_RATE, horizon_minutes=120)
    assert p.predicted_value == 0.0
    lo, hi = p.confidence_interval
    assert 0.0 <= lo <= hi <= 1.0


@settings(max_examples=60, deadline=None)
@given(
    value=st.one_of(
        st.just(math.nan),
        st.just(math.inf),
        st.just(-math.inf),
        st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False),
    ),
    ptype=st.sampled_from(list(PredictionType)),
)
def test_bad_values_rejected_and_nothing_recorded(value, ptype):
    predictor = PerformancePredictor()
    predictor.record_observation(ptype, 0.5)
    with pytest.raises(ValueError, match="value"):
        predictor.record_observation(ptype, value)
    assert predictor.observation_count(ptype) == 1


@settings(max_examples=30, deadline=None)
@given(value=st.floats(min_value=1.0000001, max_value=1e6))
def test_error_rate_above_one_rejected(value):
    predictor = PerformancePredictor()
    with pytest.raises(ValueError, match="error_rate"):
        predictor.record_observation(PredictionType.ERROR_RATE, value)
    assert predictor.observation_count(PredictionType.ERROR_RATE) == 0


@pytest.mark.parametrize(
    ("call", "exc"),
    [
        (lambda p: p.record_observation("nope", 1.0), ValueError),
        (lambda p: p.record_observation(PredictionType.LOAD, "1.0"), TypeError),
        (lambda p: p.record_observation(PredictionType.LOAD, True), TypeError),
        (lambda p: p.record_observation(PredictionType.LOAD, 1.0, timestamp="yesterday"), TypeError),
        (lambda p: p.predict(PredictionType.LOAD, horizon_minutes=0), ValueError),
        (lambda p: p.predict(PredictionType.LOAD, horizon_minutes=math.nan), ValueError),
        (lambda p: p.validate_prediction("x", math.nan), ValueError),
        (lambda p: p.validate_prediction("x", -1.0), ValueError),
        (lambda p: PerformancePredictor(window=2), ValueError),
        (lambda p: PerformancePredictor(alpha=1.0), ValueError),
        (lambda p: PerformancePredictor(min_observations=2), ValueError),
    ],
)
def test_bad_arguments(call, exc):
    with pytest.raises(exc):
        call(PerformancePredictor())


def test_accuracy_against_recomputation():
    rng = np.random.default_rng(11)
    predictor = PerformancePredictor(window=50)
    preds, actuals = [], []
    y = 100 + rng.normal(0, 5, 400)
    for i, v in enumerate(y):
        predictor.record_observation(PredictionType.LATENCY, v)
        if i >= 20 and i + 5 < len(y):
            p = predictor.predict(PredictionType.LATENCY, horizon_minutes=5)
            preds.append(p)
            actuals.append(y[i + 5])
    for p, a in zip(preds, actuals, strict=False):
        predictor.validate_prediction(p.prediction_id, a)
    acc = predictor.get_prediction_accuracy(PredictionType.LATENCY)
    pv = np.array([p.predicted_value for p in preds])
    a = np.array(actuals)
    lo = np.array([p.confidence_interval[0] for p in preds])
    hi = np.array([p.confidence_interval[1] for p in preds])
    assert acc["count"] == len(preds)
    assert acc["mae"] == pytest.approx(np.mean(np.abs(a - pv)), rel=1e-12)
    assert acc["rmse"] == pytest.approx(np.sqrt(np.mean((a - pv) ** 2)), rel=1e-12)
    assert acc["mape"] == pytest.approx(100 * np.mean(np.abs(a - pv) / np.abs(a)), rel=1e-12)
    assert acc["coverage"] == pytest.approx(np.mean((a >= lo) & (a <= hi)), rel=1e-12)
    assert acc["mean_interval_width"] == pytest.approx(np.mean(hi - lo), rel=1e-12)
    # iid noise around a flat level: the OLS prediction interval is calibrated.
    assert 0.90 <= acc["coverage"] <= 0.99
    overall = predictor.get_prediction_accuracy()
    assert overall["count"] == acc["count"]


def test_coverage_is_nominal_on_iid_trend_data():
    """On data that satisfies the OLS assumptions, 95 % intervals cover about 95 %."""
    rng = np.random.default_rng(2024)
    predictor = PerformancePredictor(window=100, max_predictions=10_000)
    n = 6000
    y = 20 + 0.05 * np.arange(n) + rng.normal(0, 2, n)
    pending: list[tuple[int, str]] = []
    for i in range(n):
        predictor.record_observation(PredictionType.LOAD, y[i])
        if i >= 100 and i % 2 == 0 and i + 10 < n:
            pending.append((i + 10, predictor.predict(PredictionType.LOAD, horizon_minutes=10).prediction_id))
    for j, pid in pending:
        predictor.validate_prediction(pid, y[j])
    cov = predictor.get_prediction_accuracy(PredictionType.LOAD)["coverage"]
    # Binomial sd at n=2945 is 0.004; the window overlap makes draws dependent, so allow 3.5 %.
    assert 0.915 <= cov <= 0.985


def test_validate_unknown_and_replace():
    predictor = PerformancePredictor(max_predictions=2)
    for i in range(20):
        predictor.record_observation(PredictionType.LOAD, float(i))
    assert predictor.validate_prediction("missing", 1.0) is None
    p1 = predictor.predict(PredictionType.LOAD, 1)
    predictor.validate_prediction(p1.prediction_id, 100.0)
    predictor.validate_prediction(p1.prediction_id, p1.predicted_value)
    acc = predictor.get_prediction_accuracy(PredictionType.LOAD)
    assert acc["count"] == 1
    assert acc["mae"] == pytest.approx(0.0, abs=1e-12)
    predictor.predict(PredictionType.LOAD, 1)
    predictor.predict(PredictionType.LOAD, 1)  # evicts p1
    assert predictor.validate_prediction(p1.prediction_id, 1.0) is None
    assert len(predictor.get_predictions()) == 2


def test_accuracy_empty_is_nan_not_zero():
    acc = PerformancePredictor().get_prediction_accuracy()
    assert acc["count"] == 0
    assert math.isnan(acc["mae"])
    assert math.isnan(acc["coverage"])


def test_history_bounded():
    predictor = PerformancePredictor(history_size=50, window=20)
    for i in range(500):
        predictor.record_observation(PredictionType.LOAD, float(i))
    _times, values = predictor.get_series(PredictionType.LOAD)
    assert len(values) == 50
    assert values[-1] == 499.0
    assert predictor.observation_count(PredictionType.LOAD) == 500


def test_thread_hammer():
    predictor = PerformancePredictor(window=50, max_predictions=100_000)
    errors: list[BaseException] = []
    n_threads, per_thread = 8, 500
    made = []

    def work(k: int) -> None:
        try:
            ptype = list(PredictionType)[k % 3]
            for i in range(per_thread):
                predictor.record_observation(ptype, (i % 17) / 17)
                p = predictor.predict(ptype, horizon_minutes=5)
                if p is not None:
                    made.append(p.prediction_id)
                    predictor.validate_prediction(p.prediction_id, 0.5)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    total = sum(predictor.observation_count(t) for t in PredictionType)
    assert total == n_threads * per_thread
    assert len(set(made)) == len(made)
    assert predictor.get_prediction_accuracy()["count"] == len(made)
    for t in list(PredictionType)[:3]:
        times, _ = predictor.get_series(t)
        assert np.all(np.diff(times) >= 0)


# ------------------------------------------------------- one model for predict and predict_frame


def seasonal_predictor() -> PerformancePredictor:
    rng = np.random.default_rng(11)
    p = PerformancePredictor(clock=lambda: 1.7e9)
    start = 1.7e9 - 3 * 86_400
    for i in range(3 * 288):
        value = 50 + 10 * np.sin(2 * np.pi * i / 288) + rng.normal()
        p.record_observation(PredictionType.LOAD, value, timestamp=start + 300 * i)
    return p


@pytest.mark.parametrize("make", [seasonal_predictor, lambda: PerformancePredictor(seasonal_period=None)])
def test_predict_and_predict_frame_answer_from_one_model(make) -> None:
    p = make()
    if p.observation_count(PredictionType.LOAD) == 0:
        for i in range(200):
            p.record_observation(PredictionType.LOAD, 10.0 + 0.1 * i + (-1) ** i)
    horizons = [5.0, 30.0, 120.0]
    frame = p.predict_frame(PredictionType.LOAD, horizons)
    for h in horizons:
        pred = p.predict(PredictionType.LOAD, h)
        row = frame.loc[h]
        assert pred.model_version == frame.attrs["model_version"]
        assert pred.predicted_value == row["mean"]
        assert pred.confidence_interval == (row["obs_ci_lower"], row["obs_ci_upper"])
    seasonal = frame.attrs["model_version"] == "seasonal-ar-conformal/1"
    assert seasonal == (p.seasonal_period is not None)
    assert (frame["mean_ci_lower"] <= frame["mean"]).all()
    assert (frame["mean"] <= frame["mean_ci_upper"]).all()


def test_results_type_is_the_one_every_path_builds() -> None:
    p = seasonal_predictor()
    assert p.predict(PredictionType.LOAD, 10).model_version == "seasonal-ar-conformal/1"  # fits the model
    state = p._series[(PredictionType.LOAD, None)]
    assert isinstance(state.ols.predict(1.0), PredictionResults)
    assert isinstance(state.model, Forecaster)
    assert isinstance(state.model.get_forecast(2), PredictionResults)


def test_record_observations_equals_one_call_per_metric_and_statsmodels():
    """The batch form records what separate calls record; its forecast is still statsmodels' OLS."""
    rng = np.random.default_rng(3)
    t0 = 1_700_000_000.0
    lat = 20.0 + 0.3 * np.arange(40) + rng.normal(0, 2, 40)
    err = rng.uniform(0, 0.2, 40)
    one, batch = PerformancePredictor(), PerformancePredictor()
    for i in range(40):
        ts = t0 + 60.0 * i
        one.record_observation(PredictionType.LATENCY, lat[i], timestamp=ts, series="m")
        one.record_observation(PredictionType.ERROR_RATE, err[i], timestamp=ts, series="m")
        batch.record_observations({"latency": lat[i], PredictionType.ERROR_RATE: err[i]}, ts, series="m")
    for ptype, y in ((PredictionType.LATENCY, lat), (PredictionType.ERROR_RATE, err)):
        a = one.predict_frame(ptype, 30.0, series="m")
        b = batch.predict_frame(ptype, 30.0, series="m")
        assert a.equals(b)
        window = min(len(y), one.window)
        x = np.arange(40, dtype=float)[-window:]
        ref = _statsmodels_frame(x, y[-window:], np.array([39.0 + 30.0]), alpha=one.alpha)
        assert b["mean"].iloc[0] == pytest.approx(
            float(np.clip(ref["mean"].iloc[0], 0, 1 if ptype is PredictionType.ERROR_RATE else None)),
            rel=1e-9,
        )


def test_record_observations_is_all_or_nothing():
    p = PerformancePredictor(config=AutomationConfig(max_backward_step_s=60.0))
    p.record_observations({"latency": 5.0}, 1_700_000_000.0, series="m")
    with pytest.raises(ValueError, match=r"'values'\['error_rate'\]"):
        p.record_observations({"latency": 5.0, "error_rate": 1.5}, 1_700_000_060.0, series="m")
    with pytest.raises(ValueError, match="'values' key"):
        p.record_observations({"latency": 5.0, "bogus": 1.0}, 1_700_000_060.0, series="m")
    with pytest.raises(TypeError, match="'values' must be a dict"):
        p.record_observations([("latency", 5.0)], 1_700_000_060.0)  # type: ignore[arg-type]
    p.record_observations({"error_rate": 0.0}, 1_700_000_000.0, series="m")
    with pytest.raises(ValueError, match="timestamp"):  # too far back for latency: error_rate not recorded
        p.record_observations({"error_rate": 0.0, "latency": 5.0}, 1_699_999_000.0, series="m")
    assert p.observation_count("latency", series="m") == 1
    assert p.observation_count("error_rate", series="m") == 1
