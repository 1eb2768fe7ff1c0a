"""Chained claims: a task started on its running dependencies, and put back when one of them fails."""

from __future__ import annotations

import pytest

from autoopt import AutomationConfig, TaskState
from autoopt._clock import ManualClock
from autoopt.scheduling import IntelligentScheduler, TaskResult


def two(max_retries: int = 0) -> tuple[IntelligentScheduler, str, str, str]:
    sched = IntelligentScheduler(
        AutomationConfig(max_concurrent_tasks=10), clock=ManualClock(1000.0), retry_backoff_seconds=0.0
    )
    a = sched.schedule_task("a", int, args=(1,), max_retries=max_retries).task_id
    b = sched.schedule_task("b", pow, args=(sched.result_of(a), 2)).task_id
    c = sched.schedule_task("c", abs, args=(sched.result_of(b),)).task_id
    return sched, a, b, c


def test_a_task_chains_only_on_referenced_dependencies_the_caller_runs() -> None:
    sched, a, b, c = two()
    assert sched.claim_chained(b, {a}) is None  # a is not running yet
    claim_a = sched.claim()
    assert claim_a is not None
    assert claim_a.task.task_id == a
    assert sched.claim_chained(b, set()) is None  # running, but not on the caller's executor
    got = sched.claim_chained(b, {a})
    assert got is not None
    claim_b, waiting = got
    assert waiting == [a]
    assert claim_b.args == (TaskResult(a), 2)  # left for the driver to replace with a handle
    assert sched.get_task(b).state is TaskState.RUNNING
    assert sched.claim_chained(b, {a}) is None  # not blocked any more
    # a plain dependency (no reference) never chains: the cluster would not wait for it
    d = sched.schedule_task("d", int, dependencies=[a]).task_id
    assert sched.claim_chained(d, {a}) is None
    sched.complete_task(a, result=1)
    sched.complete_task(b, result=1)
    assert sched.get_task(a).completed_at <= sched.get_task(b).started_at
    assert sched.claim_chained(c, {b}) is None  # b is done: c is simply ready now
    assert sched.claim().args == (1,)


def test_release_after_a_retried_dependency_requeues_without_counting_an_attempt() -> None:
    sched, a, b, _ = two(max_retries=1)
    sched.claim()
    sched.claim_chained(b, {a})
    assert sched.complete_task(a, error="flaky")  # a goes back to pending for its retry
    assert sched.release(b)
    task_b = sched.get_task(b)
    assert task_b.state is TaskState.PENDING
    assert task_b.retries == 0
    assert sched.get_queue_stats()["blocked"] == 2  # b waits for a again (and c for b)
    assert sched.get_queue_stats()["running"] == 0
    assert sched.claim().task.task_id == a
    sched.complete_task(a, result=3)
    claim_b = sched.claim()
    assert claim_b.task.task_id == b
    assert claim_b.args == (3, 2)
    assert not sched.release("unknown")


def test_release_after_a_failed_dependency_cancels_the_task_and_its_dependents() -> None:
    sched, a, b, c = two()
    sched.claim()
    sched.claim_chained(b, {a})
    sched.complete_task(a, error="disk full")  # no retries: a FAILED; b was running, so not cascaded yet
    assert sched.get_task(b).state is TaskState.RUNNING
    assert sched.release(b)
    assert sched.get_task(b).state is TaskState.CANCELLED
    assert sched.get_task(b).error == f"dependency {a} (a) failed: disk full"
    assert sched.get_task(c).state is TaskState.CANCELLED
    assert sched.get_task(c).error == f"dependency {a} (a) failed: disk full"
    stats = sched.get_queue_stats()
    assert stats["running"] == 0
    assert stats["total_cancelled"] == 2


def test_chained_claims_respect_capacity_and_resources() -> None:
    sched = IntelligentScheduler(AutomationConfig(max_concurrent_tasks=1), clock=ManualClock(1000.0))
    a = sched.schedule_task("a", int).task_id
    b = sched.schedule_task("b", abs, args=(sched.result_of(a),)).task_id
    sched.claim()
    assert sched.claim_chained(b, {a}) is None  # one task may run at once


@pytest.mark.parametrize("state", ["ready", "done"])
def test_only_blocked_tasks_chain(state: str) -> None:
    sched, a, b, _ = two()
    sched.claim()
    sched.complete_task(a, result=2)
    if state == "done":
        sched.claim()
        sched.complete_task(b, result=4)
    assert sched.claim_chained(b, {a}) is None
