"""DelayThrottle: PIE's PI law on queueing delay (RFC 8033), against a transcription of the RFC's
pseudo-code, a fluid queue whose steady state is known in closed form, and LoadManager's seed behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from autoopt import LoadManager, create_load_metrics
from autoopt.load import DelayThrottle, throttle_percentage


def rfc8033(
    delays: list[float], target: float = 0.015, alpha: float = 0.125, beta: float = 1.25
) -> list[float]:
    """RFC 8033 section 5.2 (drop probability update every T_UPDATE), literally; percent after each update."""
    drop_prob, qdelay_old, out = 0.0, 0.0, []
    for qdelay in delays:
        p = alpha * (qdelay - target) + beta * (qdelay - qdelay_old)
        if drop_prob < 0.000001:
            p /= 2048
        elif drop_prob < 0.00001:
            p /= 512
        elif drop_prob < 0.0001:
            p /= 128
        elif drop_prob < 0.001:
            p /= 32
        elif drop_prob < 0.01:
            p /= 8
        elif drop_prob < 0.1:
            p /= 2
        if drop_prob >= 0.1 and p > 0.02:
            p = 0.02
        drop_prob += p
        if qdelay == 0 and qdelay_old == 0:
            drop_prob *= 0.98
        drop_prob = min(max(drop_prob, 0.0), 1.0)
        qdelay_old = qdelay
        out.append(100.0 * drop_prob)
    return out


def test_it_follows_rfc_8033_at_the_nominal_interval() -> None:
    rng = np.random.default_rng(0)
    # bursts of overload and idle spells, including exact zeros (the decay rule)
    delays = np.concatenate([rng.gamma(2.0, 0.05, 400), np.zeros(50), rng.gamma(1.0, 0.01, 300),
                             rng.gamma(3.0, 0.1, 200), np.full(300, 0.3), np.zeros(400)]).tolist()  # fmt: skip
    pi = DelayThrottle(max_decrease=1.0)  # the RFC has no limit on the fall
    got = [pi.update(d, now=0.015 * k) for k, d in enumerate(delays)]
    want = rfc8033(delays)
    # equal but for the snap to exactly 0 below 1e-6 (1e-4 %) on a falling step
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-4)
    assert max(want) > 90.0  # the sequence did drive it high
    assert got[-1] == 0.0


def fluid_queue(load: list[float], pi: DelayThrottle, dt: float = 0.015) -> tuple[np.ndarray, np.ndarray]:
    """A queue served at 1,000 requests/s fed ``load[k]`` x capacity, shedding the throttle's share:
    the throttle and the queueing delay after each update."""
    capacity, queue, throttle = 1000.0, 0.0, 0.0
    ts, ds = [], []
    for k, m in enumerate(load):
        admitted = m * capacity * (1.0 - throttle / 100.0)
        queue = max(0.0, queue + (admitted - capacity) * dt)
        delay = queue / capacity
        throttle = pi.update(delay, now=k * dt)
        ts.append(throttle)
        ds.append(delay)
    return np.asarray(ts), np.asarray(ds)


@pytest.mark.parametrize("m", [1.2, 2.0, 3.0, 5.0])
def test_steady_overload_sheds_one_minus_one_over_m_and_holds_the_target_delay(m: float) -> None:
    steps = 4000  # 60 s
    throttle, delay = fluid_queue([m] * steps, DelayThrottle())
    steady = throttle[steps // 2 :]
    # the closed-form steady state of the fluid queue: admitted rate == capacity
    assert abs(steady.mean() - 100.0 * (1.0 - 1.0 / m)) < 1.0
    assert steady.std() < 2.0  # no flapping
    assert abs(np.median(delay[steps // 2 :]) - 0.015) < 0.01


def test_after_load_drops_the_throttle_returns_to_exactly_zero_and_stays_there() -> None:
    throttle, _delay = fluid_queue([3.0] * 2000 + [0.5] * 2000, DelayThrottle())
    assert throttle[1999] > 60.0
    back = int(np.argmax(throttle[2000:] == 0.0))
    assert throttle[2000 + back] == 0.0
    assert back * 0.015 < 10.0  # seconds to settle
    assert (throttle[2000 + back :] == 0.0).all()  # not stuck, and no flapping back up


def test_no_windup_the_fall_does_not_depend_on_how_long_it_was_saturated() -> None:
    def fall(overload_updates: int) -> int:
        pi = DelayThrottle()
        k = 0
        for k in range(overload_updates):
            pi.update(1.0, now=0.015 * k)  # a second of queue: saturates
        assert pi.throttle_percentage == 100.0
        for j in range(1, 10_000):
            if pi.update(0.0, now=0.015 * (k + j)) < 50.0:
                return j
        raise AssertionError("never fell")

    assert fall(50) == fall(5000)


def test_slew_limit_and_irregular_samples() -> None:
    pi = DelayThrottle()
    last = 0.0
    for k in range(400):
        now = pi.update(0.5, now=0.015 * k)
        if last >= 10.0:
            assert now - last <= 2.0 + 1e-9  # at most 2 points per update above 10 %
        last = now
    slow = DelayThrottle(max_decrease=0.01)
    for k in range(200):
        slow.update(0.5, now=0.015 * k)
    high = slow.throttle_percentage
    assert high - slow.update(0.0, now=3.0 + 0.015) <= 1.0 + 1e-9
    # a sample 10 intervals late counts at most max_step_intervals (4) of integral
    a, b = DelayThrottle(), DelayThrottle()
    a.update(0.05, now=0.0)
    b.update(0.05, now=0.0)
    assert a.update(0.05, now=0.15) == b.update(0.05, now=0.06)


def test_bad_input_raises_naming_the_argument_and_changes_nothing() -> None:
    pi = DelayThrottle()
    pi.update(0.1, now=1.0)
    before = pi.get_stats()
    for delay, now, match in [(float("nan"), 2.0, "'delay'"), (-0.1, 2.0, "'delay'"),
                              (0.1, float("inf"), "'now'"), (0.1, 0.5, "earlier than the previous")]:  # fmt: skip
        with pytest.raises(ValueError, match=match):
            pi.update(delay, now=now)
    assert pi.get_stats() == before
    with pytest.raises(ValueError, match="'target_delay'"):
        DelayThrottle(target_delay=0.0)
    with pytest.raises(TypeError, match="'delay_throttle'"):
        LoadManager(delay_throttle=0.5)  # type: ignore[arg-type]


def test_load_manager_keeps_the_seed_behaviour_and_combines_the_throttles() -> None:
    for manager in (LoadManager(), LoadManager(delay_throttle=DelayThrottle())):
        manager.record_metrics(create_load_metrics(cpu_usage=95.0, memory_usage=40.0))
        assert manager.get_current_load().value == "critical"
        assert round(manager.get_throttle_percentage(), 1) == 89.6
        for _ in range(30):
            manager.record_metrics(create_load_metrics(cpu_usage=20.0, memory_usage=20.0))
        assert manager.get_throttle_percentage() == 0.0
    pi = DelayThrottle()
    manager = LoadManager(delay_throttle=pi)
    t0 = 1_700_000_000.0
    from datetime import UTC, datetime

    for k in range(300):
        manager.record_metrics(create_load_metrics(
            cpu_usage=80.0, memory_usage=20.0, queue_delay_ms=200.0,
            timestamp=datetime.fromtimestamp(t0 + 0.015 * k, UTC)))  # fmt: skip
    stats = manager.get_load_stats()
    a = throttle_percentage(0.8, manager.config.load_threshold_high)
    b = pi.throttle_percentage
    assert stats["utilization_throttle"] == a
    assert stats["delay_throttle"] == b
    assert b > 50.0
    assert stats["throttle_percentage"] == pytest.approx(
        100.0 * (1 - (1 - a / 100) * (1 - b / 100)), rel=1e-12
    )
    assert LoadManager().get_load_stats()["delay_throttle"] is None


def test_level_hysteresis_only_delays_leaving_a_level() -> None:
    from datetime import UTC, datetime

    from autoopt import AutomationConfig, LoadLevel, LoadMetrics
    from autoopt._clock import ManualClock
    from autoopt.load import LoadManager
    from autoopt.models import classify_load

    cfg = AutomationConfig()
    crit, high = cfg.load_threshold_critical, cfg.load_threshold_high
    clock = ManualClock(1_000.0)

    def feed(lm: LoadManager, us: list[float]) -> list[LoadLevel]:
        out = []
        for u in us:
            clock.advance(1.0)
            out.append(
                lm.record_metrics(LoadMetrics(100.0 * u, 0.0, timestamp=datetime.fromtimestamp(clock(), UTC)))
            )
        return out

    flapping = [crit + 0.01, crit - 0.01] * 5  # noise around the critical threshold
    plain, held = LoadManager(cfg, clock=clock), LoadManager(cfg, clock=clock, level_hysteresis=0.05)
    assert feed(plain, flapping) == [classify_load(u, cfg) for u in flapping]  # the seed: flaps
    assert set(feed(held, flapping)) == {LoadLevel.CRITICAL}  # held within the margin
    # leaving: more than the margin below the threshold drops to the level u + margin has
    assert feed(held, [crit - 0.06]) == [classify_load(crit - 0.01, cfg)]
    assert feed(held, [crit]) == [LoadLevel.CRITICAL]  # entering a higher level is never delayed
    levels = feed(held, [0.05] * 3)
    assert levels[-1] is classify_load(0.05, cfg)
    # the throttle follows the latest sample, whatever the level: exactly 0 once load drops below HIGH
    feed(held, [high - 0.01])
    assert held.get_throttle_percentage() == 0.0
    assert not held.should_shed_load()
    with pytest.raises(ValueError, match="'level_hysteresis'"):
        LoadManager(cfg, level_hysteresis=-0.1)
