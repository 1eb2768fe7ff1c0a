"""Tests for autoopt.load.LoadManager and the throttle control law."""

from __future__ import annotations

import itertools
import logging
import math
import threading
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoopt._clock import ManualClock
from autoopt.config import AutomationConfig
from autoopt.enums import LoadLevel
from autoopt.load import LoadManager, throttle_percentage
from autoopt.models import LoadMetrics

FIELDS = (
    "cpu_usage",
    "memory_usage",
    "request_rate",
    "error_rate",
    "latency_p50",
    "latency_p99",
    "queue_depth",
)


def at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def sample(cpu: float, t: float = 0.0, **kw: float) -> LoadMetrics:
    return LoadMetrics(cpu_usage=cpu, memory_usage=kw.pop("memory_usage", 0.0), timestamp=at(t), **kw)  # type: ignore[arg-type]


def smoothstep_reference(u: float, h: float) -> float:
    """Independent closed form: 100 * (3x^2 - 2x^3), x = clip((u - h) / (1 - h), 0, 1)."""
    x = min(max((u - h) / (1 - h), 0.0), 1.0)
    return 100.0 * (3 * x**2 - 2 * x**3)


# ----------------------------------------------------------------- thresholds


@pytest.mark.parametrize(
    ("cpu", "expected"),
    [
        (5.0, LoadLevel.IDLE),
        (10.0, LoadLevel.LOW),
        (19.9, LoadLevel.LOW),
        (20.0, LoadLevel.MODERATE),
        (30.0, LoadLevel.HIGH),
        (39.0, LoadLevel.HIGH),
        (40.0, LoadLevel.CRITICAL),
        (100.0, LoadLevel.CRITICAL),
    ],
)
def test_levels_follow_custom_config(cpu: float, expected: LoadLevel) -> None:
    cfg = AutomationConfig(
        load_threshold_low=0.1,
        load_threshold_moderate=0.2,
        load_threshold_high=0.3,
        load_threshold_critical=0.4,
    )
    lm = LoadManager(cfg)
    assert lm.record_metrics(sample(cpu)) is expected
    assert lm.get_current_load() is expected
    # memory drives the level too (utilisation = max(cpu, memory) / 100)
    assert LoadManager(cfg).record_metrics(sample(0.0, memory_usage=cpu)) is expected


def test_default_thresholds_differ_from_custom() -> None:
    assert LoadManager().record_metrics(sample(35.0)) is LoadLevel.LOW
    cfg = AutomationConfig(load_threshold_high=0.3, load_threshold_moderate=0.2, load_threshold_low=0.1)
    assert LoadManager(cfg).record_metrics(sample(35.0)) is LoadLevel.HIGH


def test_throttle_uses_config_high_threshold() -> None:
    cfg = AutomationConfig(load_threshold_low=0.1, load_threshold_moderate=0.2, load_threshold_high=0.3)
    lm = LoadManager(cfg)
    lm.record_metrics(sample(65.0))  # x = (0.65 - 0.3) / 0.7 = 0.5
    assert lm.get_throttle_percentage() == pytest.approx(50.0)
    assert lm.should_shed_load()
    lm.record_metrics(sample(30.0))
    assert lm.get_throttle_percentage() == 0.0
    assert not lm.should_shed_load()


# ------------------------------------------------------------------- throttle


def test_throttle_endpoints_and_recovery() -> None:
    lm = LoadManager()
    assert lm.get_throttle_percentage() == 0.0
    assert not lm.should_shed_load()
    lm.record_metrics(sample(75.0))  # exactly at h
    assert lm.get_throttle_percentage() == 0.0
    assert not lm.should_shed_load()
    lm.record_metrics(sample(100.0))
    assert lm.get_throttle_percentage() == 100.0
    lm.record_metrics(sample(87.5))
    assert lm.get_throttle_percentage() == pytest.approx(50.0)
    lm.record_metrics(sample(20.0))
    assert lm.get_throttle_percentage() == 0.0
    assert not lm.should_shed_load()


thresholds = st.floats(0.05, 0.95)
utilisations = st.floats(0.0, 1.0)


@settings(max_examples=300, deadline=None)
@given(h=thresholds, u=utilisations)
def test_throttle_matches_closed_form(h: float, u: float) -> None:
    t = throttle_percentage(u, h)
    assert 0.0 <= t <= 100.0
    assert t == pytest.approx(smoothstep_reference(u, h), abs=1e-9)
    if u <= h:
        assert t == 0.0


@settings(max_examples=300, deadline=None)
@given(h=thresholds, u1=utilisations, u2=utilisations)
def test_throttle_monotone_and_lipschitz(h: float, u1: float, u2: float) -> None:
    lo, hi = min(u1, u2), max(u1, u2)
    t_lo, t_hi = throttle_percentage(lo, h), throttle_percentage(hi, h)
    assert t_lo <= t_hi  # exact, no tolerance
    # continuity: the smoothstep's slope is at most 1.5, so |dt/du| <= 150 / (1 - h)
    assert t_hi - t_lo <= 150.0 / (1.0 - h) * (hi - lo) + 1e-9


def test_throttle_monotone_over_adjacent_floats() -> None:
    # Plain float evaluation of 3x^2 - 2x^3 wobbles by an ulp near x = 1; ours must not.
    for h in (0.75, 0.7, 0.5):
        for start in (h, (h + 1) / 2, 1.0 - 1e-9):
            u = start
            prev = throttle_percentage(u, h)
            for _ in range(500):
                u = float(np.nextafter(u, 2.0))
                if u > 1.0:
                    break
                cur = throttle_percentage(u, h)
                assert cur >= prev
                prev = cur


@settings(max_examples=50, deadline=None)
@given(cpus=st.lists(st.floats(0.0, 100.0), min_size=1, max_size=20))
def test_manager_throttle_tracks_latest_sample(cpus: list[float]) -> None:
    lm = LoadManager()
    for cpu in cpus:
        lm.record_metrics(sample(cpu))
        expected = throttle_percentage(cpu / 100.0, 0.75)
        assert lm.get_throttle_percentage() == expected
        assert lm.should_shed_load() is (expected > 0)
        assert lm.get_load_stats()["throttle_percentage"] == expected


def test_throttle_percentage_bad_threshold() -> None:
    with pytest.raises(ValueError, match="high_threshold"):
        throttle_percentage(0.5, 1.0)
    with pytest.raises(TypeError, match="utilization"):
        throttle_percentage("0.5", 0.7)  # type: ignore[arg-type]


# ------------------------------------------------------------------- averages

values_row = st.tuples(
    st.floats(0.0, 100.0),
    st.floats(0.0, 100.0),
    st.floats(0.0, 1e4),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1e3),
    st.floats(0.0, 5e3),
    st.integers(0, 1000),
)


@settings(max_examples=80, deadline=None)
@given(
    steps=st.lists(st.tuples(st.integers(0, 40), values_row), min_size=1, max_size=60),
    lag=st.integers(0, 100),
    window=st.integers(1, 1500),
    history_size=st.sampled_from([5, 17, 10_000]),
)
def test_average_equals_bruteforce_mean(
    steps: list[tuple[int, tuple[float, float, float, float, float, float, int]]],
    lag: int,
    window: int,
    history_size: int,
) -> None:
    t0 = 1_700_000_000.0
    clock = ManualClock(t0)
    lm = LoadManager(clock=clock, history_size=history_size)
    t = t0
    times, rows = [], []
    for dt, row in steps:
        t += dt / 4.0  # quarter seconds: exact in datetime microseconds
        cpu, mem, rate, err, p50, p99, queue = row
        m = LoadMetrics(cpu, mem, rate, err, p50, p99, queue, at(t))
        lm.record_metrics(m)
        times.append(m.timestamp.timestamp())
        rows.append(row)
    clock.set(t + lag)

    avg = lm.get_average_metrics(window_seconds=window)

    ts = np.array(times)[-history_size:]
    vals = np.array(rows, dtype=float)[-history_size:]
    mask = ts >= clock() - window
    if not mask.any():
        assert avg is None
        return
    assert avg is not None
    ref = vals[mask].mean(axis=0)
    for i, name in enumerate(FIELDS[:6]):
        assert getattr(avg, name) == pytest.approx(ref[i], rel=1e-9, abs=1e-9), name
    assert avg.queue_depth == round(ref[6])
    assert avg.timestamp == at(clock())


def test_average_none_when_empty_or_outside_window() -> None:
    clock = ManualClock(1000.0)
    lm = LoadManager(clock=clock)
    assert lm.get_average_metrics() is None
    lm.record_metrics(sample(50.0, t=1000.0))
    clock.advance(301)
    assert lm.get_average_metrics() is None
    assert lm.get_average_metrics(window_seconds=301).cpu_usage == 50.0  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", [0, -5, math.nan, math.inf])
def test_average_rejects_bad_window(bad: float) -> None:
    lm = LoadManager()
    with pytest.raises(ValueError, match="window_seconds"):
        lm.get_average_metrics(window_seconds=bad)  # type: ignore[arg-type]


def test_average_p99_is_mean_of_recorded_p99s() -> None:
    clock = ManualClock(100.0)
    lm = LoadManager(clock=clock)
    lm.record_metrics(sample(10.0, t=99.0, latency_p99=100.0))
    lm.record_metrics(sample(10.0, t=100.0, latency_p99=500.0))
    assert lm.get_average_metrics().latency_p99 == 300.0  # type: ignore[union-attr]


def test_wraparound_keeps_windows_right() -> None:
    clock = ManualClock(0.0)
    size = 16
    lm = LoadManager(clock=clock, history_size=size)
    n = 1000  # many compactions of the 2 * size backing array
    rng = np.random.default_rng(7)
    cpu = rng.uniform(0, 100, n)
    for i in range(n):
        lm.record_metrics(sample(float(cpu[i]), t=float(i)))
    clock.set(n - 1)
    assert len(lm.get_metrics_history(limit=10_000)) == size
    assert [m.cpu_usage for m in lm.get_metrics_history(limit=3)] == pytest.approx(cpu[-3:].tolist())
    for window in (1, 5, 10, 15, 16, 100, 10_000):
        avg = lm.get_average_metrics(window_seconds=window)
        assert avg is not None
        k = min(window + 1, size)  # samples at t >= n - 1 - window, among the newest `size`
        assert avg.cpu_usage == pytest.approx(cpu[-k:].mean(), rel=1e-12, abs=1e-9)
    stats = lm.get_load_stats()
    assert stats["total_samples"] == n
    assert stats["samples_held"] == size
    assert sum(stats["level_counts"].values()) == n


def test_out_of_order_timestamps_are_clamped_for_index_only() -> None:
    clock = ManualClock(200.0)
    lm = LoadManager(clock=clock)
    lm.record_metrics(sample(10.0, t=100.0))
    late = sample(30.0, t=97.0)  # arrives 3 s late, after the t=100 sample
    lm.record_metrics(late)
    with pytest.raises(ValueError, match="50 s before the latest"):  # beyond max_backward_step_s (5 s)
        lm.record_metrics(sample(30.0, t=50.0))
    lm.record_metrics(sample(50.0, t=150.0))
    # window [100, 200]: the late sample is indexed at t=100 and counts
    avg = lm.get_average_metrics(window_seconds=100)
    assert avg is not None
    assert avg.cpu_usage == pytest.approx(30.0)
    # window [101, 200]: only the t=150 sample
    assert lm.get_average_metrics(window_seconds=99).cpu_usage == pytest.approx(50.0)  # type: ignore[union-attr]
    hist = lm.get_metrics_history()
    assert hist[1] is late
    assert late.timestamp == at(97.0)  # the sample itself is unchanged
    assert lm.get_load_stats()["clamped_timestamps"] == 1


# -------------------------------------------------------------------- history


def test_history_newest_limit_in_order() -> None:
    lm = LoadManager(history_size=50)
    ms = [sample(float(i), t=float(i)) for i in range(80)]
    for m in ms:
        lm.record_metrics(m)
    assert lm.get_metrics_history(limit=5) == ms[-5:]
    assert lm.get_metrics_history() == ms[-50:]
    assert lm.get_metrics_history(limit=0) == []
    with pytest.raises(ValueError, match="limit"):
        lm.get_metrics_history(limit=-1)


# ------------------------------------------------------------------ bad input

BAD_FIELD_VALUES = st.one_of(
    st.tuples(
        st.just("cpu_usage"),
        st.one_of(st.just(math.nan), st.floats(max_value=-1e-6), st.floats(min_value=100.001)),
    ),
    st.tuples(
        st.just("memory_usage"),
        st.one_of(st.just(math.inf), st.floats(max_value=-1e-6), st.floats(min_value=100.001)),
    ),
    st.tuples(
        st.just("error_rate"),
        st.one_of(st.just(math.nan), st.floats(max_value=-1e-9), st.floats(min_value=1.0001)),
    ),
    st.tuples(st.just("request_rate"), st.one_of(st.just(-math.inf), st.floats(max_value=-1e-9))),
    st.tuples(st.just("latency_p50"), st.one_of(st.just(math.nan), st.floats(max_value=-1e-9))),
    st.tuples(st.just("latency_p99"), st.floats(max_value=-1e-9)),
    st.tuples(st.just("queue_depth"), st.integers(max_value=-1)),
)


@settings(max_examples=100, deadline=None)
@given(bad=BAD_FIELD_VALUES)
def test_bad_metrics_raise_naming_field_and_record_nothing(bad: tuple[str, float]) -> None:
    name, value = bad
    lm = LoadManager()
    calls: list[LoadMetrics] = []
    for lvl in LoadLevel:
        lm.register_handler(lvl, calls.append)
    m = sample(50.0)
    setattr(m, name, value)  # the dataclass is mutable; record_metrics re-validates
    with pytest.raises(ValueError, match=f"LoadMetrics.{name}"):
        lm.record_metrics(m)
    assert calls == []
    assert lm.get_metrics_history() == []
    assert lm.get_current_load() is None
    stats = lm.get_load_stats()
    assert stats["total_samples"] == 0
    assert sum(stats["level_counts"].values()) == 0
    assert lm.get_average_metrics(window_seconds=10**10) is None


@pytest.mark.parametrize("bad", [None, {"cpu_usage": 50.0}, 95.0, "high"])
def test_record_rejects_non_metrics(bad: object) -> None:
    lm = LoadManager()
    with pytest.raises(TypeError, match="record_metrics\\(\\) argument 'metrics'"):
        lm.record_metrics(bad)  # type: ignore[arg-type]
    assert lm.get_load_stats()["total_samples"] == 0


def test_wrong_type_field_raises_type_error() -> None:
    lm = LoadManager()
    m = sample(50.0)
    m.queue_depth = 2.5  # type: ignore[assignment]
    with pytest.raises(TypeError, match="queue_depth"):
        lm.record_metrics(m)
    m = sample(50.0)
    m.timestamp = "now"  # type: ignore[assignment]
    with pytest.raises(TypeError, match="timestamp"):
        lm.record_metrics(m)
    assert lm.get_load_stats()["total_samples"] == 0


def test_constructor_and_registration_validation() -> None:
    with pytest.raises(TypeError, match="LoadManager\\(\\) argument 'config'"):
        LoadManager({"load_threshold_high": 0.5})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="LoadManager\\(\\) argument 'history_size'"):
        LoadManager(history_size=0)
    with pytest.raises(TypeError, match="LoadManager\\(\\) argument 'clock'"):
        LoadManager(clock=5.0)  # type: ignore[arg-type]
    lm = LoadManager()
    with pytest.raises(ValueError, match="register_handler\\(\\) argument 'level'"):
        lm.register_handler("extreme", print)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="register_handler\\(\\) argument 'handler'"):
        lm.register_handler(LoadLevel.HIGH, "not callable")  # type: ignore[arg-type]


# ------------------------------------------------------------------- handlers


def test_handlers_called_every_time_in_order_and_by_level() -> None:
    lm = LoadManager()
    calls: list[tuple[str, float]] = []
    lm.register_handler(LoadLevel.HIGH, lambda m: calls.append(("a", m.cpu_usage)))
    lm.register_handler("high", lambda m: calls.append(("b", m.cpu_usage)))  # type: ignore[arg-type]
    lm.register_handler(LoadLevel.IDLE, lambda m: calls.append(("idle", m.cpu_usage)))
    lm.record_metrics(sample(80.0))
    lm.record_metrics(sample(85.0))
    lm.record_metrics(sample(60.0))  # MODERATE: nobody registered
    lm.record_metrics(sample(1.0))
    assert calls == [("a", 80.0), ("b", 80.0), ("a", 85.0), ("b", 85.0), ("idle", 1.0)]


def test_unregister_handler() -> None:
    lm = LoadManager()
    calls: list[LoadMetrics] = []
    lm.register_handler(LoadLevel.CRITICAL, calls.append)
    assert lm.unregister_handler(LoadLevel.CRITICAL, calls.append) is True
    assert lm.unregister_handler(LoadLevel.CRITICAL, calls.append) is False
    assert lm.unregister_handler(LoadLevel.HIGH, print) is False
    lm.record_metrics(sample(99.0))
    assert calls == []


def test_handler_exception_isolated_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    lm = LoadManager()
    good: list[LoadMetrics] = []

    def exploding_handler(metrics: LoadMetrics) -> None:
        raise RuntimeError(f"boom at {metrics.cpu_usage}")

    lm.register_handler(LoadLevel.CRITICAL, exploding_handler)
    lm.register_handler(LoadLevel.CRITICAL, good.append)
    with caplog.at_level(logging.ERROR, logger="autoopt.load._manager"):
        assert lm.record_metrics(sample(95.0)) is LoadLevel.CRITICAL
        assert lm.record_metrics(sample(97.0)) is LoadLevel.CRITICAL
    assert [m.cpu_usage for m in good] == [95.0, 97.0]
    stats = lm.get_load_stats()
    assert stats["handler_errors"]["critical"] == 2
    assert stats["handler_errors"]["high"] == 0
    last = stats["handler_last_errors"]["critical"]
    assert "exploding_handler" in last
    assert "RuntimeError: boom at 97.0" in last
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert errors[0].exc_info is not None
    assert "boom at 95.0" in errors[0].getMessage()
    assert "exploding_handler" in errors[0].getMessage()


def test_handler_may_call_back_into_manager() -> None:
    lm = LoadManager()
    seen: list[dict[str, object]] = []
    lm.register_handler(LoadLevel.HIGH, lambda m: seen.append(lm.get_load_stats()))
    lm.record_metrics(sample(80.0))  # would deadlock if handlers ran under the lock
    assert seen[0]["total_samples"] == 1


def test_load_stats_keys() -> None:
    lm = LoadManager()
    stats = lm.get_load_stats()
    assert stats["current_load"] is None
    assert stats["total_samples"] == 0
    assert set(stats["level_counts"]) == {lvl.value for lvl in LoadLevel}
    lm.register_handler(LoadLevel.LOW, print)
    lm.record_metrics(sample(90.0))
    stats = lm.get_load_stats()
    assert stats["current_load"] == "critical"
    assert stats["level_counts"]["critical"] == 1
    assert stats["handlers"]["low"] == 1
    assert stats["should_shed_load"] is True


# --------------------------------------------------------------------- threads


def test_thread_hammer() -> None:
    threads_n, per_thread = 8, 1000
    lm = LoadManager(history_size=2000)
    calls = {lvl: 0 for lvl in LoadLevel}
    calls_lock = threading.Lock()

    def make_handler(lvl: LoadLevel):  # type: ignore[no-untyped-def]
        def handler(_: LoadMetrics) -> None:
            with calls_lock:
                calls[lvl] += 1

        return handler

    for lvl in LoadLevel:
        lm.register_handler(lvl, make_handler(lvl))
    cpus = [float(c) for c in np.linspace(0, 100, 50)]
    expected = {lvl: 0 for lvl in LoadLevel}
    for i in range(per_thread):
        expected[sample(cpus[i % len(cpus)]).get_load_level()] += threads_n
    start = threading.Barrier(threads_n)
    errors: list[BaseException] = []
    ticks = itertools.count()  # one shared, thread-safe sequence: samples race by milliseconds at most

    def worker(k: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                lm.record_metrics(sample(cpus[i % len(cpus)], t=1000.0 + next(ticks) * 1e-3))
                if i % 100 == 0:
                    lm.get_average_metrics(window_seconds=10**10)
                    lm.get_metrics_history(limit=10)
        except BaseException as e:  # pragma: no cover - surfaced by the assert below
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads_n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    stats = lm.get_load_stats()
    total = threads_n * per_thread
    assert stats["total_samples"] == total
    assert stats["samples_held"] == 2000
    assert sum(stats["level_counts"].values()) == total
    assert {LoadLevel(k): v for k, v in stats["level_counts"].items()} == expected
    assert calls == expected
    assert len(lm.get_metrics_history(limit=10_000)) == 2000


def test_throttle_goes_stale_when_the_monitor_stops():
    from autoopt._clock import ManualClock
    from autoopt.load import LoadManager
    from autoopt.models import LoadMetrics

    clock = ManualClock(0.0)
    lm = LoadManager(clock=clock, stale_after_seconds=120)
    lm.record_metrics(LoadMetrics(cpu_usage=95.0, memory_usage=10.0))
    assert lm.should_shed_load()
    clock.advance(120)
    assert lm.get_throttle_percentage() > 0  # exactly at the limit: still fresh
    clock.advance(1)
    assert lm.get_throttle_percentage() == 0.0
    assert not lm.should_shed_load()
    assert lm.get_load_stats()["throttle_stale"] is True
    lm.record_metrics(LoadMetrics(cpu_usage=95.0, memory_usage=10.0))
    assert lm.should_shed_load()
    never = LoadManager(clock=clock, stale_after_seconds=None)
    never.record_metrics(LoadMetrics(cpu_usage=95.0, memory_usage=10.0))
    clock.advance(10**6)
    assert never.should_shed_load()


def test_history_size_one_keeps_working():
    from datetime import UTC, datetime, timedelta

    from autoopt._clock import ManualClock
    from autoopt.load import LoadManager
    from autoopt.models import LoadMetrics

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    clock = ManualClock(t0.timestamp())
    lm = LoadManager(clock=clock, history_size=1)
    for i in range(10):
        lm.record_metrics(
            LoadMetrics(cpu_usage=float(i), memory_usage=1.0, timestamp=t0 + timedelta(seconds=i))
        )
    clock.set((t0 + timedelta(seconds=9)).timestamp())
    assert lm.get_average_metrics(60).cpu_usage == 9.0
    assert [m.cpu_usage for m in lm.get_metrics_history()] == [9.0]
