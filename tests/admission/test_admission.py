"""AdmissionController: the decision's rules one by one, both drivers, cancellation and the provider."""

from __future__ import annotations

import asyncio
import threading

import pytest

from autoopt import AutomatedProvider, LoadShedError, create_intelligent_automation_hub
from autoopt._clock import ManualClock
from autoopt.admission import AdmissionController, Criticality, Gradient2Limit, request_context

C, D, S = Criticality.CRITICAL, Criticality.DEFAULT, Criticality.SHEDDABLE


def fixed(n: float) -> Gradient2Limit:
    """A limit that stays at ``n`` (no head-room, no smoothing away from it)."""
    return Gradient2Limit(initial_limit=n, min_limit=n, max_limit=n)


def test_below_the_limit_everything_is_admitted_and_nothing_rejected() -> None:
    ac = AdmissionController(limit=fixed(3), clock=ManualClock(0.0))
    verdicts = [ac.offer(D, None, 0.0)[0].action for _ in range(3)]
    assert verdicts == ["admit"] * 3
    assert ac.offer(D, None, 0.0)[0].action == "queue"
    assert ac.get_stats()["rejected"] == {}


def test_a_call_past_its_deadline_is_never_started() -> None:
    ac = AdmissionController(limit=fixed(1))
    assert ac.offer(D, 5.0, 5.0)[0].reason == "deadline"
    ac.offer(D, None, 0.0)  # takes the slot
    _, waiter = ac.offer(D, 1.0, 0.5)  # queued, due at t = 1
    decided = ac.release(0.1, now=2.0)  # the slot frees after its deadline
    assert decided == [(waiter, False, "deadline")]
    assert ac.get_stats()["inflight"] == 0


def test_higher_classes_start_first_and_evict_the_newest_lowest_waiter_when_full() -> None:
    ac = AdmissionController(limit=fixed(1), max_queue=2)
    ac.offer(D, None, 0.0)
    _, s1 = ac.offer(S, None, 0.0)
    _, s2 = ac.offer(S, None, 0.0)
    woken: list[tuple[bool, str]] = []
    s2.wake = lambda granted, reason: woken.append((granted, reason))
    assert ac.offer(S, None, 0.0)[0].reason == "queue full"  # no lower class to evict
    verdict, c1 = ac.offer(C, None, 0.0)
    assert verdict.action == "queue"
    assert woken == [(False, "evicted by a higher class")]  # the newest sheddable waiter made room
    assert ac.release(0.01, now=0.1) == [(c1, True, "")]  # the critical one starts first
    assert ac.release(0.01, now=0.2) == [(s1, True, "")]
    stats = ac.get_stats()
    assert stats["rejected_by_class"] == {"sheddable": 2}


def test_a_standing_queue_drops_stale_waiters_but_spares_critical() -> None:
    ac = AdmissionController(limit=fixed(1), queue_interval=0.1, overload_timeout=0.005)
    ac.offer(D, None, 0.0)
    _, c1 = ac.offer(C, None, 0.0)
    _, c2 = ac.offer(C, None, 0.0)
    _, old = ac.offer(D, None, 0.0)
    _, new = ac.offer(D, None, 0.2)
    # t = 0.1: the oldest waiter is past the 5 ms target, but not yet for queue_interval: FIFO, no drop
    assert ac.release(0.1, now=0.1) == [(c1, True, "")]
    # t = 0.25: past the target at every dispatch for 150 ms, the queue stands. Critical starts first,
    # whatever its age; the default waiters are past the target, which in a standing queue is only delay.
    assert ac.release(0.15, now=0.25) == [
        (c2, True, ""),
        (old, False, "queue timeout"),
        (new, False, "queue timeout"),
    ]
    assert ac.get_stats()["rejected"] == {"queue timeout": 2}


def test_a_queue_below_the_target_never_stands_or_drops() -> None:
    ac = AdmissionController(limit=fixed(1), queue_interval=0.1, overload_timeout=0.05)
    ac.offer(D, None, 0.0)
    waiters = [ac.offer(D, None, 0.01 * k)[1] for k in range(1, 40)]
    decided = [ac.release(0.01, now=0.01 * k + 0.04)[0] for k in range(1, 40)]  # each waits 40 ms < 50
    assert decided == [(w, True, "") for w in waiters]  # FIFO throughout, nobody dropped


def test_a_standing_queue_serves_the_newest_first_until_it_has_been_empty_for_the_interval() -> None:
    ac = AdmissionController(limit=fixed(1), queue_interval=0.1, overload_timeout=0.005)
    ac.offer(C, None, 0.0)  # critical waiters: a standing queue reorders them but never drops them
    _, a = ac.offer(C, None, 0.0)
    _, b = ac.offer(C, None, 0.01)
    _, x = ac.offer(C, None, 0.02)
    _, y = ac.offer(C, None, 0.2)
    assert ac.release(0.1, now=0.1) == [(a, True, "")]  # not standing yet: FIFO
    assert ac.release(0.01, now=0.25) == [(y, True, "")]  # standing: adaptive LIFO
    assert ac.release(0.01, now=0.26) == [(x, True, "")]
    assert ac.release(0.01, now=0.27) == [(b, True, "")]
    assert ac.release(0.01, now=0.30) == []  # empty since 0.30 ...
    assert ac.offer(C, None, 0.35)[0].action == "admit"
    assert ac.release(0.01, now=0.45) == []  # ... for 150 ms: no longer standing
    ac.offer(C, None, 0.46)
    _, c = ac.offer(C, None, 0.47)
    _, d = ac.offer(C, None, 0.48)
    assert ac.release(0.01, now=0.49) == [(c, True, "")]  # FIFO again
    assert ac.release(0.01, now=0.50) == [(d, True, "")]


def test_the_throttle_sheds_the_sheddable_class_first() -> None:
    ac = AdmissionController(limit=fixed(10_000), throttle=lambda: 30.0, seed=0)
    counts = {c: [0, 0] for c in Criticality}
    mix = [C] * 10 + [D] * 60 + [S] * 30
    for k in range(20_000):
        cls = mix[k % 100]
        counts[cls][0] += 1
        verdict, _ = ac.offer(cls, None, 0.0)
        if verdict.action == "reject":
            counts[cls][1] += 1
            assert verdict.reason == "throttle"
            assert verdict.retry_after == 1.0
        else:
            ac.release(0.001, 0.0)
    shed = {c: r / n for c, (n, r) in counts.items()}
    assert shed[S] > 0.95  # 30 % of the traffic is all the sheddable class
    assert shed[D] < 0.03
    assert shed[C] == 0.0


def test_async_driver_queues_grants_and_frees_the_slot_of_a_cancelled_caller() -> None:
    async def main() -> None:
        ac = AdmissionController(limit=fixed(1))
        release = asyncio.Event()
        order: list[str] = []

        async def call(name: str, cls: str) -> None:
            with request_context(cls):
                async with ac.slot():
                    order.append(name)
                    await release.wait()

        first = asyncio.create_task(call("first", "default"))
        await asyncio.sleep(0.01)
        cancelled = asyncio.create_task(call("cancelled", "default"))
        later = asyncio.create_task(call("later", "default"))
        await asyncio.sleep(0.01)
        assert ac.get_stats()["waiting"]["default"] == 2
        cancelled.cancel()
        await asyncio.sleep(0.01)
        assert ac.get_stats()["waiting"]["default"] == 1  # its place is free
        release.set()
        await asyncio.gather(first, later)
        assert order == ["first", "later"]
        assert ac.get_stats()["inflight"] == 0
        assert cancelled.cancelled()

    asyncio.run(main())


def test_async_driver_refuses_at_the_deadline_with_retry_after() -> None:
    async def main() -> None:
        ac = AdmissionController(limit=fixed(1))
        hold = asyncio.Event()

        async def holder() -> None:
            async with ac.slot():
                await hold.wait()

        task = asyncio.create_task(holder())
        await asyncio.sleep(0.01)
        with request_context("default", timeout=0.05), pytest.raises(LoadShedError) as info:
            async with ac.slot():
                pytest.fail("started past its deadline")
        assert "deadline" in str(info.value)
        assert info.value.retry_after_header == "1"
        hold.set()
        await task
        assert ac.get_stats()["inflight"] == 0

    asyncio.run(main())


def test_sync_driver_from_threads_respects_the_limit() -> None:
    ac = AdmissionController(limit=fixed(2))
    running, peak = 0, 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal running, peak
        with ac.slot_sync(criticality="default"):
            with lock:
                running += 1
                peak = max(peak, running)
            threading.Event().wait(0.01)
            with lock:
                running -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert peak == 2
    assert ac.get_stats()["admitted"] + ac.get_stats()["started_from_queue"] == 8


def test_the_provider_goes_through_admission() -> None:
    hub = create_intelligent_automation_hub(seed=0)

    async def model(x: int) -> int:
        await asyncio.sleep(0.01)
        return x

    provider = AutomatedProvider(model, hub, admission=AdmissionController(limit=fixed(1), max_queue=0))

    async def main() -> list[object]:
        return await asyncio.gather(provider(1), provider(2), return_exceptions=True)

    results = asyncio.run(main())
    assert results[0] == 1
    assert isinstance(results[1], LoadShedError)
    assert provider.get_stats()["shed"] == 1
    with pytest.raises(TypeError, match="'admission'"):
        AutomatedProvider(model, hub, admission=5)  # type: ignore[arg-type]


def test_gradient2_follows_its_rule() -> None:
    lim = Gradient2Limit(initial_limit=10, min_limit=1, smoothing=0.2, tolerance=1.5, queue_size=4)
    assert lim.update(0.01, inflight=10) == pytest.approx(0.8 * 10 + 0.2 * (10 * 1.0 + 4))
    # latency doubles: gradient = 1.5 * long / rtt, with long the warm-up mean (0.015)
    expected = 0.8 * 10.8 + 0.2 * (10.8 * max(0.5, min(1.0, 1.5 * 0.015 / 0.02)) + 4)
    assert lim.update(0.02, inflight=10) == pytest.approx(expected)
    assert lim.update(0.5, inflight=1) == pytest.approx(expected)  # app-limited: unchanged
    with pytest.raises(ValueError, match="'rtt'"):
        lim.update(float("nan"), inflight=1)
    with pytest.raises(ValueError, match="'initial_limit'"):
        Gradient2Limit(initial_limit=500)


def test_a_grant_that_lands_before_the_driver_waits_is_not_lost() -> None:
    """A release from another thread may grant a queued waiter before its driver has set its wake-up; the
    driver must then start at once, not wait for a wake-up that already happened."""
    ac = AdmissionController(limit=fixed(1))
    ac.offer(D, None, 0.0)
    _, waiter = ac.offer(D, None, 0.0)
    assert ac.release(0.01, now=0.01) == [(waiter, True, "")]  # granted while nobody listens
    ac._wait_sync(waiter, timeout=0.0)  # returns at once: the grant is read from the waiter
    _, evicted = ac.offer(S, None, 0.02)
    ac.max_queue = 1
    ac.offer(C, None, 0.03)  # a full queue: the sheddable waiter is evicted before it listens
    with pytest.raises(LoadShedError, match="evicted by a higher class"):
        ac._wait_sync(evicted, timeout=0.0)
    assert ac.get_stats()["rejected"] == {"evicted": 1}


def test_a_sync_waiter_that_times_out_never_enters_and_frees_a_late_grant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import autoopt.admission._controller as controller

    ac = AdmissionController(limit=fixed(1))
    ac.offer(D, None, 0.0)
    _, waiter = ac.offer(D, None, 0.0)

    class LateEvent(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            ac._wake(ac.release(0.01, now=0.01))  # the grant lands just as the wait times out
            return False

    monkeypatch.setattr(controller.threading, "Event", LateEvent)
    with pytest.raises(LoadShedError, match="deadline passed in the queue"):
        ac._wait_sync(waiter, timeout=0.0)
    assert ac.get_stats()["inflight"] == 0  # the late grant was handed on, not held twice


def test_slot_checks_its_arguments() -> None:
    ac = AdmissionController()

    async def enter(**kwargs: object) -> None:
        async with ac.slot(**kwargs):  # type: ignore[arg-type]
            pass

    with pytest.raises(ValueError, match="'criticality'"):
        asyncio.run(enter(criticality="urgent"))
    with pytest.raises(ValueError, match="'deadline'"):
        asyncio.run(enter(deadline=float("nan")))
    with pytest.raises(TypeError, match="'deadline'"):
        asyncio.run(enter(deadline=True))
    assert ac.get_stats()["admitted"] == 0  # nothing was offered


def test_a_failing_observer_never_loses_the_model_result() -> None:
    from autoopt.serving import RequestObserver

    class Broken(RequestObserver):
        def observe(self, provider: str, seconds: float, outcome: str) -> None:
            raise RuntimeError("exporter down")

    async def model(x: int) -> int:
        return x

    provider = AutomatedProvider(model, create_intelligent_automation_hub(seed=0))
    provider.observer = Broken()
    assert asyncio.run(provider(7)) == 7
    assert provider.get_stats()["report_errors"] == 1


def test_queue_delay_is_the_age_of_the_oldest_waiter() -> None:
    ac = AdmissionController(limit=fixed(1))
    assert ac.queue_delay(5.0) == 0.0
    ac.offer(D, None, 0.0)  # runs
    ac.offer(S, None, 1.0)
    ac.offer(C, None, 2.0)
    assert ac.queue_delay(3.5) == pytest.approx(2.5)  # the sheddable waiter, whatever the class order
    ac.release(0.1, now=3.6)  # the critical one starts
    assert ac.queue_delay(4.0) == pytest.approx(3.0)
