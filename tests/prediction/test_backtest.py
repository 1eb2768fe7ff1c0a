"""backtest: every metric against a plain loop with the M4 formulas, origins, the forecasts frame, bad
arguments, a foreign forecaster, and the real-data check on NASA hourly requests."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from autoopt.prediction import BacktestResult, Forecaster, backtest
from benchmarks.forecast.data import load_dataset


def hourly_series(n: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    u = np.zeros(n)
    for i in range(1, n):
        u[i] = 0.5 * u[i - 1] + rng.normal()
    values = 40 + 8 * np.sin(2 * np.pi * t / 24) + 3 * np.sin(2 * np.pi * t / 168) + u
    return pd.Series(values, index=pd.date_range("2024-02-01", periods=n, freq="h"))


def naive_scale(x: list[float], m: int) -> float:
    pairs = [abs(x[t] - x[t - m]) for t in range(m, len(x)) if not (math.isnan(x[t]) or math.isnan(x[t - m]))]
    return sum(pairs) / len(pairs)


def reference(
    forecaster: Any, y: pd.Series, horizon: int, origins: list[int], season: int | None = None
) -> dict[str, Any]:
    """Refit at each origin in a plain loop; score with the M4 formulas written out term by term."""
    params = forecaster.get_params()
    alpha = forecaster.alpha
    window = params.get("window")
    values = [float(v) for v in y.to_numpy()]
    rows = []
    per_origin: dict[str, list[float]] = {k: [] for k in ("mae", "smape", "mase", "msis")}
    hits, total = 0, 0
    by_step: dict[str, list[list[float]]] = {k: [[] for _ in range(horizon)] for k in per_origin}
    by_step["coverage"] = [[] for _ in range(horizon)]
    for o in origins:
        model = type(forecaster)(**params).fit(y.iloc[:o])
        frame = model.predict(horizon)
        m = season if season is not None else min(getattr(model, "periods_", []) or [1])
        seen = values[max(0, o - window) if window else 0 : o]
        scale = naive_scale(seen, m)
        terms: dict[str, list[float]] = {k: [] for k in per_origin}
        for h in range(horizon):
            a = values[o + h]
            f = float(frame["mean"].iloc[h])
            lo = float(frame["obs_ci_lower"].iloc[h])
            hi = float(frame["obs_ci_upper"].iloc[h])
            rows.append((o, h + 1, a, f, lo, hi))
            if math.isnan(a):
                continue
            err = abs(a - f)
            den = abs(a) + abs(f)
            score = (
                (hi - lo)
                + (2 / alpha * (lo - a) if a < lo else 0.0)
                + (2 / alpha * (a - hi) if a > hi else 0.0)
            )
            vals = {
                "mae": err,
                "smape": 0.0 if den == 0 else 200 * err / den,
                "mase": err / scale,
                "msis": score / scale,
            }
            for key, v in vals.items():
                terms[key].append(v)
                by_step[key][h].append(v)
            inside = lo <= a <= hi
            by_step["coverage"][h].append(float(inside))
            hits += inside
            total += 1
        for key in per_origin:
            per_origin[key].append(sum(terms[key]) / len(terms[key]))
    overall = {key: sum(v) / len(v) for key, v in per_origin.items()}
    overall["coverage"] = hits / total
    steps = {key: [sum(c) / len(c) if c else math.nan for c in cols] for key, cols in by_step.items()}
    return {"overall": overall, "by_step": steps, "rows": rows, "season": m}


def assert_matches(result: BacktestResult, ref: dict[str, Any]) -> None:
    for key in ("mae", "smape", "mase", "coverage", "msis"):
        assert result.overall[key] == pytest.approx(ref["overall"][key], rel=1e-10), key
        np.testing.assert_allclose(result.by_step[key].to_numpy(), ref["by_step"][key], rtol=1e-10)
    got = result.forecasts[["origin", "step", "actual", "mean", "obs_ci_lower", "obs_ci_upper"]]
    expected = pd.DataFrame(ref["rows"], columns=list(got.columns))
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-12)
    assert result.season == ref["season"]


def test_metrics_equal_an_independent_loop_with_a_window_and_missing_actuals() -> None:
    y = hourly_series(24 * 24, seed=1)
    y.iloc[-30:-25] = np.nan  # missing actuals are left out
    y.iloc[100:110] = np.nan  # and gaps in the history are gaps for the model and for the scale
    f = Forecaster(window=24 * 14, ar_lags=3, n_harmonics=4)
    result = backtest(f, y, horizon=24, origins=4)
    positions = [len(y) - 24 * (4 - i) for i in range(4)]
    assert sorted(set(result.forecasts["origin"])) == positions
    assert_matches(result, reference(f, y, 24, positions))
    assert result.alpha == 0.05
    assert result.season == 24
    assert list(result.by_step.index) == list(range(1, 25))
    assert result.by_step.index.name == "step"


def test_origins_as_a_list_with_an_explicit_season_and_no_window() -> None:
    y = hourly_series(24 * 16, seed=2)
    f = Forecaster(seasonal_periods=[24], ar_lags=2, n_harmonics=3, alpha=0.2)
    origins = [200, 250, 333]
    result = backtest(f, y, horizon=12, origins=origins, season=168)
    assert_matches(result, reference(f, y, 12, origins, season=168))
    assert result.alpha == 0.2
    assert result.season == 168


def test_generated_origins_follow_step_and_end_at_the_last_point() -> None:
    y = hourly_series(24 * 16, seed=3)
    f = Forecaster(seasonal_periods=[24], ar_lags=1, n_harmonics=2)
    result = backtest(f, y, horizon=6, origins=3, step=5)
    n = len(y)
    assert sorted(set(result.forecasts["origin"])) == [n - 16, n - 11, n - 6]
    frame = result.forecasts
    assert len(frame) == 3 * 6
    assert list(frame.columns) == ["origin", "step", "time", "actual", "mean", "obs_ci_lower", "obs_ci_upper"]
    assert list(frame["step"]) == list(range(1, 7)) * 3
    np.testing.assert_array_equal(frame["actual"], y.to_numpy()[frame["origin"] + frame["step"] - 1])
    assert list(frame["time"]) == list(y.index[frame["origin"] + frame["step"] - 1])
    last = Forecaster(**f.get_params()).fit(y.iloc[: n - 6]).predict(6)
    np.testing.assert_allclose(frame["mean"].to_numpy()[-6:], last["mean"].to_numpy(), rtol=0, atol=0)
    assert_matches(result, reference(f, y, 6, [n - 16, n - 11, n - 6]))


def test_arrays_are_backtested_without_a_time_column() -> None:
    y = hourly_series(24 * 14, seed=4).to_numpy()
    f = Forecaster(seasonal_periods=[24], ar_lags=1, n_harmonics=2)
    result = backtest(f, y, horizon=5, origins=[250, 300])
    assert "time" not in result.forecasts.columns
    assert_matches(result, reference(f, pd.Series(y), 5, [250, 300]))


class SeasonalNaive:
    """Not autoopt's: the value one season ago, +- a fixed half-width."""

    def __init__(self, season: int = 24, half_width: float = 3.0, alpha: float = 0.1) -> None:
        self.season = season
        self.half_width = half_width
        self.alpha = alpha

    def get_params(self) -> dict[str, Any]:
        return {"season": self.season, "half_width": self.half_width, "alpha": self.alpha}

    def fit(self, y: pd.Series) -> SeasonalNaive:
        self.history_ = y.to_numpy(dtype=float)
        return self

    def predict(self, horizon: int) -> pd.DataFrame:
        last = self.history_[-self.season :]
        mean = np.array([last[h % self.season] for h in range(horizon)])
        return pd.DataFrame(
            {"mean": mean, "obs_ci_lower": mean - self.half_width, "obs_ci_upper": mean + self.half_width}
        )


def test_a_foreign_forecaster_with_the_protocol_works() -> None:
    y = hourly_series(24 * 10, seed=5)
    naive = SeasonalNaive()
    result = backtest(naive, y, horizon=24, origins=3)
    assert result.season == 1  # no periods_: the non-seasonal scale
    assert result.alpha == 0.1
    positions = [len(y) - 72, len(y) - 48, len(y) - 24]
    assert_matches(result, reference(naive, y, 24, positions))
    # closed form: the forecast is y[t - 24], so the error at each point is |y_t - y_{t-24}|
    v = y.to_numpy()
    errs = [abs(v[o + h] - v[o + h - 24]) for o in positions for h in range(24)]
    assert result.overall["mae"] == pytest.approx(np.mean(errs), rel=1e-12)
    assert result.overall["coverage"] == pytest.approx(np.mean(np.array(errs) <= 3.0), rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"horizon": 0}, ValueError, "backtest\\(\\) argument 'horizon'"),
        ({"horizon": 2.5}, TypeError, "backtest\\(\\) argument 'horizon'"),
        ({"origins": [300, 10_000]}, ValueError, "backtest\\(\\) argument 'origins'"),
        ({"origins": [320]}, ValueError, "backtest\\(\\) argument 'origins'"),  # 320 + 24 > 336
        ({"origins": [0]}, ValueError, "backtest\\(\\) argument 'origins'"),
        ({"origins": []}, ValueError, "backtest\\(\\) argument 'origins'"),
        ({"origins": 0}, ValueError, "backtest\\(\\) argument 'origins'"),
        ({"origins": 100}, ValueError, "backtest\\(\\) argument 'origins'"),  # runs off the start
        ({"origins": [10.0]}, TypeError, "backtest\\(\\) argument 'origins'"),
        ({"step": 0}, ValueError, "backtest\\(\\) argument 'step'"),
        ({"season": 0}, ValueError, "backtest\\(\\) argument 'season'"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(kwargs: dict[str, Any], exc: type, match: str) -> None:
    args: dict[str, Any] = {"horizon": 24, "origins": 2} | kwargs
    with pytest.raises(exc, match=match):
        backtest(Forecaster(ar_lags=1), hourly_series(24 * 14, seed=6), **args)


def test_an_object_without_fit_is_rejected() -> None:
    class NoFit:
        alpha = 0.05

        def get_params(self) -> dict[str, Any]:
            return {}

        def predict(self, horizon: int) -> None:
            return None

    with pytest.raises(TypeError, match="backtest\\(\\) argument 'forecaster' has no fit\\(\\)"):
        backtest(NoFit(), hourly_series(100, seed=7), horizon=5)
    with pytest.raises(TypeError, match="'forecaster'"):
        backtest(object(), hourly_series(100, seed=7), horizon=5)


@pytest.mark.parametrize("y", [np.zeros((100, 2)), pd.DataFrame(np.zeros((100, 2)))])
def test_two_series_are_rejected_naming_y(y: Any) -> None:
    with pytest.raises(ValueError, match="backtest\\(\\) argument 'y' must be one series"):
        backtest(Forecaster(), y, horizon=5)


def test_missing_timestamps_are_scored_against_the_forecast_times() -> None:
    y = hourly_series(24 * 16, seed=8)
    irregular = y.drop(y.index[[-20, -15, -10]])
    result = backtest(Forecaster(ar_lags=1, n_harmonics=2), irregular, horizon=24, origins=1)
    times = pd.DatetimeIndex(result.forecasts["time"])
    assert list(times) == list(pd.date_range(times[0], periods=24, freq="h"))


def test_real_data_beats_the_weekly_seasonal_naive_with_calibrated_intervals(shared_data: Path) -> None:
    """NASA-HTTP requests per hour: 24 h ahead from 20 origins a day apart (Aug 12-31 1995)."""
    y = load_dataset("nasa_hourly", shared_data)
    window, horizon = 4 * 168, 24
    result = backtest(Forecaster(window=window), y, horizon=horizon, origins=20)
    assert result.season == 24
    # the weekly seasonal naive y[t - 168], scored the same way (MASE with the daily in-sample scale)
    v = y.to_numpy()
    naive_mase = []
    for o in sorted(set(result.forecasts["origin"])):
        scale = naive_scale(list(v[o - window : o]), 24)
        errs = [abs(v[o + h] - v[o + h - 168]) for h in range(horizon) if not np.isnan(v[o + h])]
        naive_mase.append(sum(errs) / len(errs) / scale)
    naive = float(np.mean(naive_mase))
    assert result.overall["mase"] < 0.9 * naive
    assert 0.85 <= result.overall["coverage"] <= 1.0
