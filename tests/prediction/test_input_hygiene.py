"""Issue 14's input hygiene and pandas-native outputs: each defect found by probing, as a regression test.

The references are independent: the same data given in order, a by-hand clip of the unclipped
forecast, pandas' own index arithmetic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoopt import (
    Forecaster,
    backtest,
)
from autoopt.prediction._input import MAX_GRID_EXTRA, MAX_GRID_FACTOR, _check_grid

KW = {"ar_lags": 2, "n_harmonics": 3, "seasonal_periods": [24]}


def series(n: int = 24 * 12, seed: int = 0, level: float = 50.0) -> pd.Series:
    rng = np.random.default_rng(seed)
    t = pd.date_range("2024-03-01", periods=n, freq="h", name="time")
    y = level + 10 * np.sin(2 * np.pi * t.hour / 24) + rng.normal(0, 1, n)
    return pd.Series(y, index=t, name="requests")


def forecast(y: object, h: int = 6, **kw: object) -> pd.DataFrame:
    return Forecaster(**{**KW, **kw}).fit(y).predict(h)


# ------------------------------------------------------------------------- order


@pytest.mark.parametrize("disorder", ["reversed", "shuffled"])
def test_reversed_or_shuffled_index_is_fitted_in_time_order(disorder: str) -> None:
    y = series()
    scrambled = y.iloc[::-1] if disorder == "reversed" else y.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(forecast(scrambled), forecast(y))
    assert forecast(scrambled).index[0] == y.index[-1] + pd.Timedelta(hours=1)  # after the data, not before


def test_decreasing_timestamps_argument_is_sorted() -> None:
    y = series()
    out = Forecaster(**KW).fit(y.to_numpy()[::-1], timestamps=y.index[::-1]).predict(6)
    expected = Forecaster(**KW).fit(y.to_numpy(), timestamps=y.index).predict(6)
    pd.testing.assert_frame_equal(out, expected)
    assert out.index[0] > y.index[-1]


def test_backtest_sorts_like_fit() -> None:
    y = series()
    a = backtest(Forecaster(**KW), y.iloc[::-1], horizon=6, origins=3)
    b = backtest(Forecaster(**KW), y, horizon=6, origins=3)
    pd.testing.assert_frame_equal(a.forecasts, b.forecasts)


# ---------------------------------------------------------------- refused input


def test_duplicate_timestamps_are_refused_naming_the_first() -> None:
    y = series()
    dup = pd.concat([y, y.iloc[[5]]])
    with pytest.raises(ValueError, match=r"duplicate timestamps: 2024-03-01 05:00:00 appears more than once"):
        Forecaster(**KW).fit(dup)
    with pytest.raises(ValueError, match="duplicate timestamps"):
        backtest(Forecaster(**KW), dup, horizon=6, origins=2)


def test_mixed_time_zones_are_refused_naming_the_label() -> None:
    y = series(48)
    labels = [
        t.tz_localize("UTC") if i != 7 else t.tz_localize("Europe/Paris") for i, t in enumerate(y.index)
    ]
    mixed = pd.Series(y.to_numpy(), index=pd.Index(labels, dtype=object))
    with pytest.raises(
        ValueError, match=r"mixing time zones: label 7 \(2024-03-01 07:00:00\+01:00\) is in Europe/Paris"
    ):
        Forecaster(**KW).fit(mixed)
    with pytest.raises(ValueError, match="'timestamps' must be times in one time zone"):
        Forecaster(**KW).fit(y.to_numpy(), timestamps=[t.to_pydatetime() for t in labels])


def test_one_time_zone_in_an_object_index_is_used() -> None:
    y = series()
    labels = pd.Index([t.tz_localize("UTC") for t in y.index], dtype=object)
    out = forecast(pd.Series(y.to_numpy(), index=labels, name="requests"))
    expected = forecast(y.tz_localize("UTC"))
    pd.testing.assert_frame_equal(out, expected.rename_axis(index=None))


def test_string_index_is_a_type_error_with_the_fix() -> None:
    y = series()
    y.index = y.index.astype(str)
    with pytest.raises(TypeError, match=r"index of strings .* pandas.to_datetime"):
        Forecaster(**KW).fit(y)


def test_backtest_refuses_inf_as_fit_does() -> None:
    y = series()
    y.iloc[-2] = np.inf  # in a target, which no fit sees
    with pytest.raises(
        ValueError, match=r"backtest\(\) argument 'y' must not contain infinite values.*row 286"
    ):
        backtest(Forecaster(**KW), y, horizon=6, origins=2)
    with pytest.raises(ValueError, match="infinite"):
        backtest(Forecaster(**KW), y.to_numpy(), horizon=6, origins=2)


def test_a_stray_timestamp_a_year_late_is_refused_not_expanded() -> None:
    n = 3000
    idx = pd.date_range("2024-01-01", periods=n, freq="min")
    idx = idx[:-1].append(pd.DatetimeIndex([idx[-1] + pd.Timedelta(days=365)]))
    y = pd.Series(np.random.default_rng(0).normal(10, 1, n), index=idx)
    with pytest.raises(
        ValueError, match=r"at most 103000 .* largest gap is from 2024-01-03 01:58:00 to 2025-01-02"
    ):
        Forecaster().fit(y)


def test_grid_cap_is_max_of_ten_times_and_plus_100k() -> None:
    for n in (10, 50_000):
        limit = max(MAX_GRID_FACTOR * n, n + MAX_GRID_EXTRA)
        labels = pd.RangeIndex(n)
        _check_grid(limit, np.arange(n), labels, "min", "y")  # at the cap: accepted
        with pytest.raises(ValueError, match=f"at most {limit}"):
            _check_grid(limit + 1, np.arange(n), labels, "min", "y")


# ------------------------------------------------------------------- pandas out


def test_forecast_keeps_index_name_and_series_name() -> None:
    out = forecast(series())
    assert out.index.name == "time"
    assert out.columns.name == "requests"
    assert list(out.columns) == ["mean", "obs_ci_lower", "obs_ci_upper"]


def test_period_index_gives_period_forecasts() -> None:
    y = series()
    periods = y.copy()
    periods.index = y.index.to_period("h")
    out = forecast(periods)
    assert isinstance(out.index, pd.PeriodIndex)
    assert out.index[0] == periods.index[-1] + 1
    assert out.index.name == "time"
    np.testing.assert_array_equal(out.to_numpy(), forecast(y).to_numpy())


def test_period_index_with_a_gap_and_disorder() -> None:
    y = series()
    periods = y.copy()
    periods.index = y.index.to_period("h")
    holey = periods.drop(periods.index[100:110]).iloc[::-1]
    expected = y.copy()
    expected.iloc[100:110] = np.nan
    np.testing.assert_array_equal(forecast(holey).to_numpy(), forecast(expected).to_numpy())


def test_range_index_forecast_continues_it() -> None:
    y = series().reset_index(drop=True)
    y.index = pd.RangeIndex(1000, 1000 + 2 * len(y), 2, name="step")
    out = forecast(y, h=3)
    assert list(out.index) == [1000 + 2 * len(y), 1002 + 2 * len(y), 1004 + 2 * len(y)]
    assert out.index.name == "step"


# -------------------------------------------------------------- non-negative


def counts(n: int = 24 * 21, seed: int = 0) -> pd.Series:
    """Requests per hour: zero at night, Poisson by day (the NASA trace's shape)."""
    rng = np.random.default_rng(seed)
    t = pd.date_range("2024-03-01", periods=n, freq="h")
    rate = np.maximum(0.0, 8 * np.sin(2 * np.pi * (t.hour - 6) / 24))
    return pd.Series(rng.poisson(rate).astype(float), index=t)


def test_nonnegative_data_get_bounds_clipped_at_zero() -> None:
    y = counts()
    raw = forecast(y, h=24, nonnegative=False)
    assert (raw["obs_ci_lower"] < 0).any()  # the additive model reaches below zero at night
    clipped = forecast(y, h=24)
    np.testing.assert_array_equal(clipped.to_numpy(), np.maximum(raw.to_numpy(), 0.0))
    model = Forecaster(**KW).fit(y)
    assert model.nonnegative_.tolist() == [True]


def test_clipping_never_lowers_coverage_on_nonnegative_data() -> None:
    y = counts(24 * 35, seed=2)
    raw = backtest(Forecaster(**KW, nonnegative=False), y, horizon=24, origins=7)
    clipped = backtest(Forecaster(**KW), y, horizon=24, origins=7)
    assert clipped.overall["coverage"] >= raw.overall["coverage"]
    assert clipped.overall["msis"] <= raw.overall["msis"]
    assert clipped.overall["mae"] <= raw.overall["mae"]


def test_data_with_a_negative_value_is_not_clipped_under_auto() -> None:
    y = counts() - 0.5
    model = Forecaster(**KW).fit(y)
    assert model.nonnegative_.tolist() == [False]
    pd.testing.assert_frame_equal(model.predict(24), forecast(y, h=24, nonnegative=False))
    always = Forecaster(**KW, nonnegative=True).fit(y).predict(24)
    assert float(always.to_numpy().min()) >= 0.0


def test_nonnegative_is_validated() -> None:
    with pytest.raises(ValueError, match="'nonnegative' must be 'auto', True or False; got 'yes'"):
        Forecaster(nonnegative="yes").fit(counts())  # type: ignore[arg-type]
