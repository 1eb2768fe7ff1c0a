"""Tests for autoopt.remediation.AutoRemediation and retry_delay."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoopt._clock import ManualClock, to_datetime
from autoopt.enums import RemediationAction
from autoopt.models import Remediation
from autoopt.remediation import AutoRemediation, retry_delay


class FakeTimer:
    """A perf_counter stand-in that advances by a fixed step on each read."""

    def __init__(self, step: float = 0.002) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make(**kw: Any) -> tuple[AutoRemediation, FakeSleep]:
    sleep = FakeSleep()
    kw.setdefault("timer", FakeTimer())
    kw.setdefault("clock", ManualClock(1_700_000_000.0))
    return AutoRemediation(sleep=sleep, **kw), sleep


# ---------------------------------------------------------------- outcomes


def test_success_failure_and_truthy_values() -> None:
    rem, _ = make(timer=FakeTimer(0.005))
    rem.register_handler(RemediationAction.SCALE, lambda t, p: {"replicas": 3})
    rem.register_handler(RemediationAction.THROTTLE, lambda t, p: False)
    rem.register_handler(RemediationAction.NOTIFY, lambda t, p: None)
    rem.register_handler(RemediationAction.ROLLBACK, lambda t, p: np.True_)

    r = rem.execute_remediation(RemediationAction.SCALE, "api", "cpu")
    assert (r.success, r.result) == (True, "{'replicas': 3}")
    assert r.duration_ms == pytest.approx(5.0)  # one timer step between the two reads
    r = rem.execute_remediation(RemediationAction.THROTTLE, "api", "cpu")
    assert (r.success, r.result) == (False, "handler returned False")
    r = rem.execute_remediation("notify", "api", "cpu")  # type: ignore[arg-type]
    assert (r.success, r.result) == (False, "handler returned None")
    assert r.action is RemediationAction.NOTIFY
    r = rem.execute_remediation(RemediationAction.ROLLBACK, "api", "deploy")
    assert (r.success, r.result) == (True, "handler returned True")


def test_handler_exception_recorded_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    rem, _ = make()

    def flaky_restart(target: str, params: dict[str, Any]) -> bool:
        raise ConnectionError(f"cannot reach {target}")

    rem.register_handler(RemediationAction.RESTART, flaky_restart)
    with caplog.at_level(logging.ERROR, logger="autoopt.remediation"):
        r = rem.execute_remediation(RemediationAction.RESTART, "db-1", "down")
    assert r.success is False
    assert r.result == "ConnectionError: cannot reach db-1"
    assert r.duration_ms > 0
    [log] = [rec for rec in caplog.records if rec.levelno == logging.ERROR]
    assert log.exc_info is not None
    assert "flaky_restart" in log.getMessage()
    assert "cannot reach db-1" in log.getMessage()
    assert rem.get_remediation_stats()["by_action"]["restart"]["last_result"] == r.result


def test_truthiness_error_is_a_handler_error() -> None:
    rem, _ = make()
    rem.register_handler(RemediationAction.CUSTOM, lambda t, p: np.array([1, 2]))
    r = rem.execute_remediation(RemediationAction.CUSTOM, "x", "y")
    assert r.success is False
    assert r.result is not None
    assert r.result.startswith("ValueError: ")


def test_unregistered_action() -> None:
    rem, sleep = make()
    r = rem.execute_remediation(RemediationAction.RESTART, "api", "why", max_attempts=5)
    assert r.success is False
    assert r.result == "no handler registered for action 'restart'"
    assert r.duration_ms == 0.0
    assert sleep.calls == []  # a missing handler is not retried
    assert rem.get_remediation_history() == [r]
    stats = rem.get_remediation_stats()
    assert stats["total_remediations"] == 1
    assert stats["failed"] == 1


def test_register_replace_unregister_has_handler() -> None:
    rem, _ = make()
    assert not rem.has_handler(RemediationAction.RESTART)
    rem.register_handler(RemediationAction.RESTART, lambda t, p: False)
    rem.register_handler(RemediationAction.RESTART, lambda t, p: True)
    assert rem.has_handler("restart")  # type: ignore[arg-type]
    assert rem.execute_remediation(RemediationAction.RESTART, "a", "b").success is True
    assert rem.get_remediation_stats()["registered_actions"] == ["restart"]
    assert rem.unregister_handler(RemediationAction.RESTART) is True
    assert rem.unregister_handler(RemediationAction.RESTART) is False
    assert not rem.has_handler(RemediationAction.RESTART)


def test_record_fields_use_clock_and_copy_parameters() -> None:
    clock = ManualClock(1_700_000_123.5)
    rem, _ = make(clock=clock)
    received: list[dict[str, Any]] = []

    def handler(target: str, params: dict[str, Any]) -> bool:
        received.append(params)
        params["mutated"] = True
        return True

    rem.register_handler(RemediationAction.FAILOVER, handler)
    params = {"region": "eu"}
    r = rem.execute_remediation(RemediationAction.FAILOVER, "db", "primary down", params)
    assert r.timestamp == to_datetime(1_700_000_123.5)
    assert r.parameters == {"region": "eu"}
    assert params == {"region": "eu"}
    assert received == [{"region": "eu", "mutated": True}]
    r2 = rem.execute_remediation(RemediationAction.FAILOVER, "db", "again")
    assert r2.parameters == {}
    assert r2.remediation_id != r.remediation_id


# ------------------------------------------------------------------- retries


def test_retries_exponential_backoff_until_success() -> None:
    rem, sleep = make()
    outcomes = iter([False, False, False, True])
    rem.register_handler(RemediationAction.RESTART, lambda t, p: next(outcomes))
    r = rem.execute_remediation(RemediationAction.RESTART, "api", "5xx", max_attempts=6, backoff_seconds=0.5)
    assert r.success is True
    assert r.result == "handler returned True (attempt 4/6)"
    assert sleep.calls == [0.5, 1.0, 2.0]
    history = rem.get_remediation_history()
    assert [h.success for h in history] == [False, False, False, True]
    assert history[0].result == "handler returned False (attempt 1/6)"
    stats = rem.get_remediation_stats()
    assert stats["total_remediations"] == 4
    assert stats["retries"] == 3
    assert stats["by_action"]["restart"]["successes"] == 1


def test_retries_exhausted_and_exceptions_retried() -> None:
    rem, sleep = make(max_backoff_seconds=3.0)
    calls = []

    def broken(target: str, params: dict[str, Any]) -> bool:
        calls.append(target)
        raise TimeoutError("still down")

    rem.register_handler(RemediationAction.FAILOVER, broken)
    r = rem.execute_remediation(RemediationAction.FAILOVER, "db", "down", max_attempts=5, backoff_seconds=1.0)
    assert r.success is False
    assert r.result == "TimeoutError: still down (attempt 5/5)"
    assert len(calls) == 5
    assert sleep.calls == [1.0, 2.0, 3.0, 3.0]  # capped at max_backoff_seconds


def test_no_sleep_by_default() -> None:
    rem, sleep = make()
    rem.register_handler(RemediationAction.RESTART, lambda t, p: False)
    r = rem.execute_remediation(RemediationAction.RESTART, "a", "b")
    assert r.result == "handler returned False"
    assert sleep.calls == []


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 12),
    base=st.floats(0.0, 100.0),
    mult=st.floats(1.0, 4.0),
    cap=st.floats(0.0, 1e4),
)
def test_retry_delay_is_capped_exponential(n: int, base: float, mult: float, cap: float) -> None:
    for k in range(1, n + 1):
        assert (
            retry_delay(
                k, True, max_attempts=n, backoff_seconds=base, multiplier=mult, max_backoff_seconds=cap
            )
            is None
        )
        d = retry_delay(
            k, False, max_attempts=n, backoff_seconds=base, multiplier=mult, max_backoff_seconds=cap
        )
        if k == n:
            assert d is None
        else:
            assert d == pytest.approx(min(base * mult ** (k - 1), cap))


def test_retry_delay_validation() -> None:
    with pytest.raises(ValueError, match="attempt"):
        retry_delay(0, False, max_attempts=3, backoff_seconds=1.0)
    with pytest.raises(ValueError, match="max_attempts"):
        retry_delay(1, False, max_attempts=0, backoff_seconds=1.0)
    with pytest.raises(ValueError, match="backoff_seconds"):
        retry_delay(1, False, max_attempts=2, backoff_seconds=-1.0)
    with pytest.raises(ValueError, match="multiplier"):
        retry_delay(1, False, max_attempts=2, backoff_seconds=1.0, multiplier=0.5)


# ------------------------------------------------------------------ bad input

bad_args = st.one_of(
    st.fixed_dictionaries({"action": st.sampled_from(["reboot", "", "RESTART"])}),
    st.fixed_dictionaries({"action": st.sampled_from([None, 3, 1.5])}),
    st.fixed_dictionaries({"target": st.sampled_from(["", None, 7, b"api"])}),
    st.fixed_dictionaries({"reason": st.sampled_from([None, 3, b"x"])}),
    st.fixed_dictionaries({"parameters": st.sampled_from([[("a", 1)], "graceful", 5])}),
    st.fixed_dictionaries({"max_attempts": st.one_of(st.integers(max_value=0), st.just(2.0), st.just(True))}),
    st.fixed_dictionaries({"backoff_seconds": st.one_of(st.floats(max_value=-1e-9), st.just(float("nan")))}),
)


@settings(max_examples=100, deadline=None)
@given(override=bad_args)
def test_bad_input_raises_and_records_nothing(override: dict[str, Any]) -> None:
    rem, sleep = make()
    calls: list[str] = []

    def handler(target: str, params: dict[str, Any]) -> bool:
        calls.append(target)
        return True

    rem.register_handler(RemediationAction.RESTART, handler)
    kwargs: dict[str, Any] = {"action": RemediationAction.RESTART, "target": "api", "reason": "r"}
    kwargs.update(override)
    (name,) = override
    with pytest.raises((TypeError, ValueError), match=f"execute_remediation\\(\\) argument '{name}'"):
        rem.execute_remediation(**kwargs)
    assert calls == []
    assert sleep.calls == []
    assert rem.get_remediation_history() == []
    assert rem.get_remediation_stats()["total_remediations"] == 0


def test_constructor_and_registration_validation() -> None:
    with pytest.raises(ValueError, match="AutoRemediation\\(\\) argument 'history_size'"):
        AutoRemediation(history_size=0)
    with pytest.raises(TypeError, match="AutoRemediation\\(\\) argument 'sleep'"):
        AutoRemediation(sleep=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="AutoRemediation\\(\\) argument 'config'"):
        AutoRemediation(config={})  # type: ignore[arg-type]
    rem = AutoRemediation()
    with pytest.raises(ValueError, match="register_handler\\(\\) argument 'action'"):
        rem.register_handler("explode", lambda t, p: True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="register_handler\\(\\) argument 'handler'"):
        rem.register_handler(RemediationAction.RESTART, True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="success_only"):
        rem.get_remediation_history(success_only="yes")  # type: ignore[arg-type]


# ------------------------------------------------------ history and statistics


def test_history_bounded_and_success_only() -> None:
    rem, _ = make(history_size=10)
    rem.register_handler(RemediationAction.SCALE, lambda t, p: int(t) % 3 == 0)
    records = [rem.execute_remediation(RemediationAction.SCALE, str(i), "load") for i in range(40)]
    assert rem.get_remediation_history(limit=1000) == records[-10:]
    assert rem.get_remediation_history(limit=3) == records[-3:]
    assert rem.get_remediation_history(limit=0) == []
    successes = [r for r in records if r.success]
    assert rem.get_remediation_history(limit=1000, success_only=True) == successes[-10:]
    assert rem.get_remediation_history(limit=4, success_only=True) == successes[-4:]
    stats = rem.get_remediation_stats()
    assert stats["total_remediations"] == 40  # every attempt ever, not just those held
    assert stats["history_size"] == 10
    assert stats["successful"] == len(successes)


@settings(max_examples=40, deadline=None)
@given(
    plan=st.lists(
        st.tuples(st.sampled_from(list(RemediationAction)), st.sampled_from(["ok", "fail", "raise"])),
        max_size=60,
    ),
    step=st.floats(1e-4, 0.1),
)
def test_stats_equal_a_recount(plan: list[tuple[RemediationAction, str]], step: float) -> None:
    rem, _ = make(timer=FakeTimer(step), history_size=1000)

    def handler(target: str, params: dict[str, Any]) -> bool:
        if target == "raise":
            raise RuntimeError("x")
        return target == "ok"

    for act in list(RemediationAction)[:-1]:  # CUSTOM stays unregistered
        rem.register_handler(act, handler)
    for act, target in plan:
        rem.execute_remediation(act, target, "plan")
    history = rem.get_remediation_history(limit=10_000)
    assert len(history) == len(plan)
    stats = rem.get_remediation_stats()
    assert stats["total_remediations"] == len(plan)
    assert stats["successful"] == sum(r.success for r in history)
    assert stats["failed"] == sum(not r.success for r in history)
    if plan:
        assert stats["success_rate"] == pytest.approx(stats["successful"] / len(plan))
    else:
        assert stats["success_rate"] is None
    by_action = stats["by_action"]
    counts = Counter(r.action.value for r in history)
    assert set(by_action) == set(counts)
    for name, s in by_action.items():
        rs = [r for r in history if r.action.value == name]
        assert s["count"] == len(rs)
        assert s["successes"] == sum(r.success for r in rs)
        assert s["failures"] == len(rs) - s["successes"]
        assert s["success_rate"] == pytest.approx(s["successes"] / len(rs))
        assert s["mean_duration_ms"] == pytest.approx(np.mean([r.duration_ms for r in rs]))
        assert s["last_result"] == rs[-1].result


# --------------------------------------------------------------------- threads


def test_thread_hammer() -> None:
    threads_n, per_thread = 8, 500
    rem = AutoRemediation(history_size=10_000, sleep=FakeSleep())
    barrier = threading.Barrier(threads_n)
    in_handler = threading.local()

    def handler(target: str, params: dict[str, Any]) -> bool:
        in_handler.value = True
        # handlers run outside the lock: calling back in must not deadlock
        rem.has_handler(RemediationAction.RESTART)
        return params["i"] % 2 == 0

    rem.register_handler(RemediationAction.RESTART, handler)
    rem.register_handler(RemediationAction.SCALE, handler)
    returned: list[list[Remediation]] = [[] for _ in range(threads_n)]

    def worker(k: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            act = RemediationAction.RESTART if i % 3 else RemediationAction.SCALE
            returned[k].append(rem.execute_remediation(act, f"t{k}", "hammer", {"i": i}))
            if i % 50 == 0:
                rem.get_remediation_stats()
                rem.get_remediation_history(limit=20, success_only=True)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads_n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    total = threads_n * per_thread
    history = rem.get_remediation_history(limit=total)
    assert len(history) == total
    assert len({r.remediation_id for r in history}) == total
    assert {r.remediation_id for r in history} == {r.remediation_id for rs in returned for r in rs}
    stats = rem.get_remediation_stats()
    assert stats["total_remediations"] == total
    expected_ok = threads_n * sum(1 for i in range(per_thread) if i % 2 == 0)
    assert stats["successful"] == expected_ok
    assert len(rem.get_remediation_history(limit=total, success_only=True)) == expected_ok
    by = stats["by_action"]
    assert by["restart"]["count"] + by["scale"]["count"] == total
    assert by["scale"]["count"] == threads_n * sum(1 for i in range(per_thread) if i % 3 == 0)
