"""AnomalyDetector: causality, score == update, bounds, detection on synthetic events, bad input,
thread hammer, bounded state, and the NAB harness on the shared data."""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoopt.prediction._anomaly import AnomalyDetector, _Likelihood
from benchmarks.nab.autoopt_detector import autoopt_anomaly
from benchmarks.nab.detectors import windowed_gaussian
from benchmarks.nab.scoring import NabFile, load_corpus, score_detector


def noisy_sine(n: int, seed: int = 0, period: int = 50, noise: float = 0.2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 10.0 + np.sin(np.arange(n) * 2 * np.pi / period) + rng.normal(0.0, noise, n)


def five_minute_series(values: np.ndarray) -> pd.Series:
    index = pd.date_range("2024-01-01", periods=len(values), freq="5min")
    return pd.Series(values, index=index)


# --------------------------------------------------------------------------- causality, equivalence


def test_prefix_scores_equal_full_scores() -> None:
    x = noisy_sine(1500, seed=1)
    x[900] += 4.0
    full = AnomalyDetector().score(five_minute_series(x))
    for k in (1, 2, 151, 700, 901, 1499):
        part = AnomalyDetector().score(five_minute_series(x[:k]))
        np.testing.assert_array_equal(part, full[:k])


@settings(max_examples=15, deadline=None)
@given(j=st.integers(0, 599), delta=st.floats(-50, 50).filter(lambda d: abs(d) > 1e-6))
def test_perturbing_a_row_changes_nothing_before_it(j: int, delta: float) -> None:
    x = noisy_sine(600, seed=2)
    detector = AnomalyDetector(warmup=20, season_lag=24)
    before = detector.score(x)
    y = x.copy()
    y[j] += delta
    after = detector.score(y)
    np.testing.assert_array_equal(after[:j], before[:j])


def test_score_equals_update_row_by_row_with_timestamps_and_gaps() -> None:
    x = noisy_sine(1200, seed=3)
    x[[100, 500, 501, 1000]] = np.nan
    x[700] += 6.0
    series = five_minute_series(x)
    scores = AnomalyDetector().score(series)
    detector = AnomalyDetector()
    streamed = [detector.update(v, t) for t, v in series.items()]
    np.testing.assert_allclose(streamed, scores, rtol=0, atol=1e-12)
    assert detector.count == 1196
    assert detector.gaps == 4
    assert detector.season_lag_ == 288  # one day of 5-minute rows


@pytest.mark.parametrize(
    "stamp",
    [
        lambda t: t,  # pandas Timestamp
        lambda t: t.to_pydatetime(),  # naive datetime (UTC)
        lambda t: t.tz_localize("UTC").to_pydatetime(),  # aware datetime
        lambda t: t.to_datetime64(),
        lambda t: t.timestamp(),  # POSIX seconds
    ],
)
def test_update_accepts_every_kind_of_timestamp(stamp: object) -> None:
    series = five_minute_series(noisy_sine(400, seed=4))
    expected = AnomalyDetector().score(series)
    detector = AnomalyDetector()
    got = [detector.update(v, stamp(t)) for t, v in series.items()]  # type: ignore[operator]
    np.testing.assert_array_equal(got, expected)


def test_array_input_and_explicit_season_lag() -> None:
    x = noisy_sine(800, seed=5)
    plain = AnomalyDetector().score(x)
    assert AnomalyDetector().score(list(x)).tolist() == plain.tolist()
    assert AnomalyDetector().score(pd.Series(x)).tolist() == plain.tolist()  # RangeIndex: no timestamps
    with_lag = AnomalyDetector(season_lag=288).score(x)
    with_stamps = AnomalyDetector().score(five_minute_series(x))
    np.testing.assert_array_equal(with_lag, with_stamps)
    detector = AnomalyDetector()
    detector.score(five_minute_series(x))
    assert detector.season_lag_ is None  # score() never touches the detector's own state
    assert AnomalyDetector(season=None).score(five_minute_series(x)).tolist() != with_stamps.tolist()


def test_irregular_or_missing_timestamps_disable_the_seasonal_lag() -> None:
    detector = AnomalyDetector()
    detector.update(1.0, 100.0)
    detector.update(1.0, 100.0)  # no time passed: no lag derivable
    assert detector.season_lag_ is None
    detector = AnomalyDetector()
    detector.update(1.0)
    detector.update(1.0, datetime(2024, 1, 1, tzinfo=UTC))
    assert detector.season_lag_ is None
    detector = AnomalyDetector()
    detector.update(1.0, 0.0)
    detector.update(1.0, 1.0)  # one-second rows: a day is longer than MAX_SEASON_LAG
    assert detector.season_lag_ is None


def test_score_is_pure_and_reset_forgets() -> None:
    x = noisy_sine(600, seed=6)
    detector = AnomalyDetector()
    first = [detector.update(v) for v in x[:300]]
    detector.score(x[::-1])
    rest = [detector.update(v) for v in x[300:]]
    np.testing.assert_array_equal(first + rest, AnomalyDetector().score(x))
    detector.reset()
    assert (detector.count, detector.gaps, detector.season_lag_) == (0, 0, None)
    np.testing.assert_array_equal([detector.update(v) for v in x], AnomalyDetector().score(x))


# --------------------------------------------------------------------------- what it detects


@settings(max_examples=20, deadline=None)
@given(
    x=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=400),
    window=st.integers(1, 12),
    suppression=st.integers(0, 40),
)
def test_scores_are_in_the_unit_interval(x: list[float], window: int, suppression: int) -> None:
    s = AnomalyDetector(window=window, warmup=10, suppression=suppression, season_lag=7).score(x)
    assert s.shape == (len(x),)
    assert np.all((s >= 0.0) & (s <= 1.0))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spike_scores_high_and_clean_seasonal_series_stays_low(seed: int) -> None:
    x = noisy_sine(2000, seed=seed)
    clean = AnomalyDetector().score(x)
    assert np.quantile(clean[200:], 0.99) < 0.3
    assert np.count_nonzero(clean[200:] > 0.5) <= 2  # only new extremes of the noise (range check)
    no_range = AnomalyDetector(spatial_tolerance=None)
    assert no_range.score(x)[200:].max() < 0.5
    spiked = x.copy()
    spiked[1500] += 3.0  # 15 noise standard deviations
    s = AnomalyDetector().score(spiked)
    assert s[1500] > 0.9
    np.testing.assert_array_equal(s[:1500], clean[:1500])
    # the likelihoods alone see it too, but diluted by the window average (see the Notes)
    assert no_range.score(spiked)[1498:1506].max() > np.quantile(no_range.score(x)[200:], 0.9)


def test_level_shift_scores_high_near_the_shift() -> None:
    x = noisy_sine(2000, seed=7)
    x[1400:] += 0.8  # within the observed range: only the level forecaster sees it for long
    s = AnomalyDetector().score(x)
    assert s[1400:1440].max() > 0.9
    assert s[200:1400].max() < 0.5


def test_seasonal_pattern_break_needs_the_season() -> None:
    # a daily square wave whose 8th day stays low: no new extreme, but one day ago disagrees
    day = np.r_[np.full(144, 20.0), np.full(144, 80.0)]
    x = np.tile(day, 12) + np.random.default_rng(8).normal(0.0, 1.0, 12 * 288)
    x[7 * 288 + 144 : 8 * 288] = 20.0 + np.random.default_rng(9).normal(0.0, 1.0, 144)
    series = five_minute_series(x)
    with_season = AnomalyDetector().score(series)
    without = AnomalyDetector(season=None).score(series)
    lo, hi = 7 * 288 + 144, 7 * 288 + 200
    assert with_season[lo:hi].max() > 0.9
    assert with_season[lo:hi].max() > without[lo:hi].max()


@pytest.mark.parametrize("suppression", [1, 7, 30])
def test_suppression_keeps_only_running_maxima(suppression: int) -> None:
    x = noisy_sine(1000, seed=10)
    x[700:705] += 5.0
    burst = AnomalyDetector(suppression=0).score(x)
    kept = AnomalyDetector(suppression=suppression).score(x)
    expected = [
        b if i > 0 and b > burst[max(0, i - suppression) : i].max() else 0.0 for i, b in enumerate(burst)
    ]
    np.testing.assert_array_equal(kept, expected)
    assert kept[700] == burst[700] == 1.0
    assert np.count_nonzero(burst[700:720] > 0.1) > np.count_nonzero(kept[700:720] > 0.1) >= 1


def test_nab_hook_runs_without_timestamps() -> None:
    x = noisy_sine(400, seed=16)
    x[300] = 30.0
    s = autoopt_anomaly(x)
    assert s[300] == 1.0
    np.testing.assert_array_equal(s, autoopt_anomaly(x, pd.date_range("2024-01-01", periods=400, freq="h")))


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"window": 0}, ValueError, r"AnomalyDetector\(\) argument 'window'"),
        ({"window": 2.0}, TypeError, r"AnomalyDetector\(\) argument 'window'"),
        ({"history": 0}, ValueError, r"AnomalyDetector\(\) argument 'history'"),
        ({"warmup": -1}, ValueError, r"AnomalyDetector\(\) argument 'warmup'"),
        ({"warmup": 20, "history": 10}, ValueError, "'warmup' must be <= 'history'"),
        ({"spatial_tolerance": -0.1}, ValueError, "'spatial_tolerance'"),
        ({"spatial_tolerance": math.nan}, ValueError, "'spatial_tolerance'"),
        ({"spatial_tolerance": "5%"}, TypeError, "'spatial_tolerance'"),
        ({"suppression": True}, TypeError, "'suppression'"),
        ({"season": 0.0}, ValueError, "'season'"),
        ({"season": "day"}, TypeError, "'season'"),
        ({"season_lag": 0}, ValueError, "'season_lag'"),
        ({"scale_alpha": 0.0}, ValueError, "'scale_alpha'"),
        ({"level_alpha": 1.5}, ValueError, "'level_alpha'"),
        ({"noise_floor": math.inf}, ValueError, "'noise_floor'"),
    ],
)
def test_constructor_rejects_bad_parameters(
    kwargs: dict[str, object], exc: type[Exception], match: str
) -> None:
    with pytest.raises(exc, match=match):
        AnomalyDetector(**kwargs)  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None)
@given(
    bad=st.one_of(
        st.integers(max_value=0), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3)
    )
)
def test_window_must_be_a_positive_int(bad: object) -> None:
    with pytest.raises((TypeError, ValueError), match=r"AnomalyDetector\(\) argument 'window'"):
        AnomalyDetector(window=bad)  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None)
@given(bad=st.one_of(st.sampled_from([math.inf, -math.inf, "1.0", None, True, [1.0], complex(1, 1)])))
def test_update_rejects_bad_values_and_records_nothing(bad: object) -> None:
    detector = AnomalyDetector(warmup=5)
    x = noisy_sine(50, seed=11)
    for v in x[:30]:
        detector.update(v)
    with pytest.raises((TypeError, ValueError), match=r"update\(\) argument 'value'"):
        detector.update(bad)  # type: ignore[arg-type]
    assert detector.count == 30
    rest = [detector.update(v) for v in x[30:]]
    np.testing.assert_array_equal(rest, AnomalyDetector(warmup=5).score(x)[30:])


def test_update_rejects_bad_timestamps_and_records_nothing() -> None:
    detector = AnomalyDetector()
    with pytest.raises(TypeError, match=r"update\(\) argument 'timestamp'"):
        detector.update(1.0, "2024-01-01")
    with pytest.raises(ValueError, match=r"update\(\) argument 'timestamp'"):
        detector.update(1.0, math.nan)
    with pytest.raises(ValueError, match=r"update\(\) argument 'timestamp'"):
        detector.update(1.0, pd.NaT)
    assert detector.count == 0


def test_nan_is_a_gap_that_changes_nothing() -> None:
    x = noisy_sine(500, seed=12)
    detector = AnomalyDetector()
    for v in x[:250]:
        detector.update(v)
    assert detector.update(math.nan) == 0.0
    assert detector.update(np.float32("nan")) == 0.0
    assert (detector.count, detector.gaps) == (250, 2)
    rest = [detector.update(v) for v in x[250:]]
    np.testing.assert_array_equal(rest, AnomalyDetector().score(x)[250:])


def test_score_rejects_bad_series() -> None:
    detector = AnomalyDetector()
    with pytest.raises(ValueError, match=r"score\(\) argument 'series'.*inf at row 2"):
        detector.score([1.0, 2.0, math.inf])
    with pytest.raises(ValueError, match=r"score\(\) argument 'series' must be 1-D"):
        detector.score(np.ones((3, 2)))
    with pytest.raises(TypeError, match=r"score\(\) argument 'series'"):
        detector.score(["a", "b"])
    with pytest.raises(TypeError, match=r"score\(\) argument 'series'"):
        detector.score([True, False])
    with pytest.raises(TypeError, match=r"score\(\) argument 'series'"):
        detector.score(np.array([1 + 1j]))
    index = pd.DatetimeIndex([datetime(2024, 1, 1), pd.NaT])
    with pytest.raises(ValueError, match="NaT"):
        detector.score(pd.Series([1.0, 2.0], index=index))
    assert detector.score([]).shape == (0,)
    assert detector.score(np.array([1, 2, 3], dtype=object)).tolist() == [0.0, 0.0, 0.0]


def test_aware_index_is_converted_to_utc() -> None:
    x = noisy_sine(400, seed=13)
    naive = five_minute_series(x)
    aware = pd.Series(x, index=pd.DatetimeIndex(naive.index).tz_localize("UTC").tz_convert("Europe/Paris"))
    np.testing.assert_array_equal(AnomalyDetector().score(aware), AnomalyDetector().score(naive))


# --------------------------------------------------------------------------- threads, bounded state


def test_thread_hammer_keeps_exact_counts() -> None:
    detector = AnomalyDetector(window=5, history=200, warmup=20, suppression=10, season_lag=12)
    threads, per_thread = 8, 500
    results: list[list[float]] = [[] for _ in range(threads)]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    barrier = threading.Barrier(threads)

    def work(k: int) -> None:
        rng = np.random.default_rng(k)
        barrier.wait()
        for i in range(per_thread):
            value = math.nan if i % 50 == 0 else float(rng.normal(10.0, 1.0))
            results[k].append(detector.update(value, start + timedelta(minutes=i)))

    workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert detector.count == threads * per_thread * 49 // 50
    assert detector.gaps == threads * per_thread // 50
    assert all(len(r) == per_thread for r in results)
    assert all(0.0 <= s <= 1.0 for r in results for s in r)
    assert detector.state_size == 3 * (5 + 200) + 12 + 10


def test_state_is_bounded_however_long_the_stream() -> None:
    detector = AnomalyDetector(window=4, history=300, warmup=30, suppression=7, season_lag=25)
    bound = 3 * (4 + 300) + 25 + 7
    rng = np.random.default_rng(14)
    sizes = []
    for _ in range(4):
        for v in rng.normal(0.0, 1.0, 2500):
            detector.update(float(v))
        sizes.append(detector.state_size)
    assert sizes == [bound] * 4
    assert detector.count == 10_000


def test_sliding_moments_match_a_direct_computation() -> None:
    lik = _Likelihood(window=3, history=97)
    rng = np.random.default_rng(15)
    for i, e in enumerate(rng.standard_t(3, 5000) * 1e3 + 1e6):
        lik.step(float(e), 0.0, 0.05, 10)
        if i % 37 == 0 or i == 4999:
            held = np.array(lik._long)
            assert len(held) == min(i + 1, 97)
            assert lik._mean == pytest.approx(held.mean(), rel=1e-9, abs=1e-12)
            assert lik._m2 == pytest.approx(((held - held.mean()) ** 2).sum(), rel=1e-6, abs=1e-10)


# --------------------------------------------------------------------------- NAB, on the shared data


@pytest.fixture(scope="module")
def nab_corpus(shared_data: Path) -> list[NabFile]:
    path = shared_data / "nab"
    if not (path / "labels" / "combined_windows.json").is_file():
        pytest.skip(f"no NAB data under {path}")
    return load_corpus(path)


def test_beats_windowed_gaussian_on_nab(nab_corpus: list[NabFile]) -> None:
    ours = [autoopt_anomaly(f.values, f.timestamps) for f in nab_corpus]
    wg = [windowed_gaussian(f.values, significant_digits=12) for f in nab_corpus]
    mine, theirs = score_detector(nab_corpus, ours), score_detector(nab_corpus, wg)
    for profile in mine:
        assert mine[profile].normalized > theirs[profile].normalized + 15.0
    assert mine["standard"].normalized >= 70.0


def test_beats_windowed_gaussian_on_a_few_files(nab_corpus: list[NabFile]) -> None:
    names = {
        "artificialWithAnomaly/art_daily_jumpsdown.csv",
        "realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv",
        "realAWSCloudwatch/rds_cpu_utilization_cc0c53.csv",
        "realAdExchange/exchange-3_cpc_results.csv",
        "realTraffic/speed_7578.csv",
        "artificialNoAnomaly/art_noisy.csv",
    }
    subset = [f for f in nab_corpus if f.name in names]
    assert len(subset) == len(names)
    ours = [autoopt_anomaly(f.values, f.timestamps) for f in subset]
    wg = [windowed_gaussian(f.values, significant_digits=12) for f in subset]
    assert (
        score_detector(subset, ours)["standard"].normalized
        > score_detector(subset, wg)["standard"].normalized
    )
