"""AutomatedProvider and AutomatedVisionProvider: shedding, measurement, propagation, remediation."""

from __future__ import annotations

import asyncio
import threading

import pytest
from scipy import stats

from autoopt import (
    AutomatedProvider,
    AutomatedVisionProvider,
    LoadShedError,
    PredictionType,
    RemediationAction,
    VisionDescription,
    VisionProvider,
    create_automated_provider,
    create_intelligent_automation_hub,
    create_load_metrics,
)
from autoopt._clock import ManualClock


class FakeTimer:
    """A perf_counter stand-in that advances by a fixed step per read."""

    def __init__(self, step: float) -> None:
        self.t = 0.0
        self.step = step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


class Model:
    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    async def __call__(self, x: int) -> int:
        self.calls += 1
        if self.fail:
            raise KeyError(f"bad input {x}")
        return x + 1


def critical_hub(cpu: float = 95.0):
    hub = create_intelligent_automation_hub(clock=ManualClock(1_000.0))
    hub.load_manager.record_metrics(create_load_metrics(cpu_usage=cpu, memory_usage=10.0))
    return hub


def test_measures_latency_and_outcome():
    hub = create_intelligent_automation_hub(clock=ManualClock(1_000.0))
    model = Model()
    provider = AutomatedProvider(model, hub, name="m", timer=FakeTimer(0.025), seed=0)
    assert asyncio.run(provider(1)) == 2
    times, values = hub.predictor.get_series(PredictionType.LATENCY, series="m")
    assert values.tolist() == [pytest.approx(25.0)]  # one timer step between start and end: 25 ms
    assert times.tolist() == [1_000.0]  # stamped by the hub's clock
    assert hub.predictor.get_series(PredictionType.ERROR_RATE, series="m")[1].tolist() == [0.0]
    stats_ = provider.get_stats()
    assert stats_["calls"] == 1
    assert stats_["errors"] == 0
    assert stats_["mean_latency_ms"] == pytest.approx(25.0)
    # It measured a call; it did not invent machine metrics.
    assert hub.load_manager.get_load_stats()["total_samples"] == 0


def test_model_errors_propagate_unchanged():
    hub = create_intelligent_automation_hub()
    provider = AutomatedProvider(Model(fail=True), hub, name="m")
    with pytest.raises(KeyError, match="bad input 3") as info:
        asyncio.run(provider(3))
    assert type(info.value) is KeyError
    assert hub.predictor.get_series(PredictionType.ERROR_RATE, series="m")[1].tolist() == [1.0]
    assert provider.get_stats()["errors"] == 1


def test_no_shedding_below_high_threshold():
    hub = critical_hub(cpu=75.0)  # exactly at the high threshold: throttle 0
    model = Model()
    provider = AutomatedProvider(model, hub, seed=0)

    async def many():
        return await asyncio.gather(*(provider(i) for i in range(200)))

    assert len(asyncio.run(many())) == 200
    assert model.calls == 200


def test_sheds_the_throttled_share_before_calling_the_model():
    hub = critical_hub(cpu=95.0)
    throttle = hub.load_manager.get_throttle_percentage()
    assert throttle == pytest.approx(89.6)
    model = Model()
    provider = AutomatedProvider(model, hub, seed=42)
    n = 4000
    refused: list[LoadShedError] = []

    async def one(i):
        try:
            await provider(i)
        except LoadShedError as exc:
            refused.append(exc)

    async def many():
        await asyncio.gather(*(one(i) for i in range(n)))

    asyncio.run(many())
    shed = len(refused)
    assert all(exc.throttle_percentage == pytest.approx(89.6) for exc in refused)
    assert model.calls == n - shed
    assert provider.get_stats()["shed"] == shed
    # Binomial(4000, 0.896): a two-sided 99.9 % acceptance region.
    lo, hi = stats.binom.ppf([0.0005, 0.9995], n, throttle / 100)
    assert lo <= shed <= hi
    assert issubclass(LoadShedError, RuntimeError)


def test_shedding_stops_when_load_falls():
    hub = critical_hub(cpu=99.0)
    hub.load_manager.record_metrics(create_load_metrics(cpu_usage=20.0, memory_usage=10.0))
    model = Model()
    provider = AutomatedProvider(model, hub, seed=0)
    for i in range(50):
        asyncio.run(provider(i))
    assert model.calls == 50


def test_remediation_after_consecutive_failures():
    hub = create_intelligent_automation_hub()
    restarted = []
    hub.remediation.register_handler(
        RemediationAction.RESTART, lambda target, params: restarted.append(target) or True
    )
    provider = AutomatedProvider(Model(fail=True), hub, name="ocr", failure_threshold=3)
    for i in range(7):
        with pytest.raises(KeyError):
            asyncio.run(provider(i))
    assert restarted == ["ocr", "ocr"]  # after failures 3 and 6
    hist = hub.remediation.get_remediation_history()
    assert [r.success for r in hist] == [True, True]
    assert "3 consecutive failures" in hist[0].reason


def test_no_remediation_when_disabled():
    hub = create_intelligent_automation_hub(auto_remediation_enabled=False)
    hub.remediation.register_handler(RemediationAction.RESTART, lambda target, params: True)
    provider = AutomatedProvider(Model(fail=True), hub, failure_threshold=1)
    with pytest.raises(KeyError):
        asyncio.run(provider(0))
    assert hub.remediation.get_remediation_history() == []


class Stub(VisionProvider):
    provider_name = "stub"

    def __init__(self) -> None:
        self.seen = []

    async def analyze_image(self, image_data, include_description=True):
        self.seen.append((bytes(image_data), include_description))
        return VisionDescription("ok", provider="stub")


def test_vision_provider_wrapper():
    base = Stub()
    provider = create_automated_provider(base)
    assert isinstance(provider, AutomatedVisionProvider)
    assert provider.provider_name == "automated_stub"
    res = asyncio.run(provider.analyze_image(b"img", include_description=False))
    assert res.summary == "ok"
    assert base.seen == [(b"img", False)]
    with pytest.raises(TypeError, match="image_data"):
        asyncio.run(provider.analyze_image("not bytes"))
    with pytest.raises(TypeError, match="VisionProvider"):
        AutomatedVisionProvider(object(), provider.hub)
    assert provider.get_stats()["calls"] == 1


def test_vision_provider_sheds():
    hub = critical_hub(cpu=100.0)  # throttle 100 %: every call is shed
    base = Stub()
    provider = AutomatedVisionProvider(base, hub, seed=0)
    for _ in range(20):
        with pytest.raises(LoadShedError):
            asyncio.run(provider.analyze_image(b"x"))
    assert base.seen == []


def test_thread_hammer_counts_exact():
    hub = create_intelligent_automation_hub()
    model = Model()
    provider = AutomatedProvider(model, hub, seed=0)

    def work():
        async def batch():
            await asyncio.gather(*(provider(i) for i in range(100)))

        asyncio.run(batch())

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert provider.get_stats()["calls"] == 800
    assert hub.predictor.observation_count(PredictionType.LATENCY, series=provider.name) == 800
    assert hub.learner.get_learning_stats()["total_observations"] == 800


def test_provider_does_not_mix_with_the_monitors_series():
    """Per-call latencies stay out of the series the hub fills from the monitor's p99 (and share its clock)."""
    from datetime import UTC, datetime, timedelta

    t0 = datetime(1995, 7, 1, tzinfo=UTC)
    clock = ManualClock(t0.timestamp())
    hub = create_intelligent_automation_hub(clock=clock)
    provider = AutomatedProvider(Model(), hub, name="m", timer=FakeTimer(0.001))
    for i in range(20):
        clock.set((t0 + timedelta(minutes=i)).timestamp())
        hub.process_metrics(
            create_load_metrics(50.0, 30.0, latency_p99=500.0, timestamp=t0 + timedelta(minutes=i))
        )
        asyncio.run(provider(i))
    times, p99 = hub.predictor.get_series(PredictionType.LATENCY)
    assert p99.tolist() == [500.0] * 20
    assert times[-1] == (t0 + timedelta(minutes=19)).timestamp()  # replay time, not the wall clock
    assert (
        hub.predictor.get_series(PredictionType.LATENCY, series="m")[1].tolist() == [pytest.approx(1.0)] * 20
    )
    pred = hub.predictor.predict(PredictionType.LATENCY, 30)
    assert pred.predicted_value == pytest.approx(500.0)
    assert pred.target_time == t0 + timedelta(minutes=49)
