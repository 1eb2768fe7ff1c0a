"""Behaviour of the IntelligentScheduler: ordering, dependencies, retries, resources, history and
bad input (the seed example: test_seed_examples.py)."""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from autoopt._clock import ManualClock, to_datetime
from autoopt.config import AutomationConfig
from autoopt.enums import SchedulerPriority, TaskState
from autoopt.models import ResourcePool, ScheduledTask
from autoopt.scheduling import IntelligentScheduler

T0 = 1_700_000_000.0


def make(clock: ManualClock | None = None, **kwargs: Any) -> tuple[IntelligentScheduler, ManualClock]:
    clock = clock if clock is not None else ManualClock(T0)
    return IntelligentScheduler(clock=clock, **kwargs), clock


def noop() -> None:
    return None


def at(seconds: float) -> datetime:
    return to_datetime(T0 + seconds)


def drain(sched: IntelligentScheduler) -> list[str]:
    """Drive the seed's manual loop; return the names in start order."""
    names: list[str] = []
    while True:
        task = sched.get_next_task()
        if task is None:
            return names
        assert sched.start_task(task.task_id)
        names.append(task.name)
        assert sched.complete_task(task.task_id, result=task.name)


def recount(sched: IntelligentScheduler) -> dict[str, int]:
    counts = dict.fromkeys((s.value for s in TaskState), 0)
    for task in sched.list_tasks(limit=10**9):
        counts[task.state.value] += 1
    return counts


# --------------------------------------------------------------------------- records


def test_schedule_returns_the_live_record() -> None:
    sched, _ = make()
    task = sched.schedule_task("a", noop, priority="low")
    assert isinstance(task, ScheduledTask)
    assert sched.get_task(task.task_id) is task
    assert task.priority is SchedulerPriority.LOW
    assert task.state is TaskState.PENDING
    assert task.scheduled_time == at(0)
    assert task.created_at == at(0)
    assert task.scheduled_time.tzinfo is not None
    assert task.max_retries == 3
    assert task.retries == 0
    assert sched.start_task(task.task_id)
    assert task.state is TaskState.RUNNING
    assert task.started_at == at(0)


def test_naive_datetimes_are_utc_and_records_are_aware() -> None:
    sched, clock = make()
    naive = datetime.fromtimestamp(T0 + 60, tz=UTC).replace(tzinfo=None)
    task = sched.schedule_task("later", noop, scheduled_time=naive)
    assert task.scheduled_time == at(60)
    assert task.scheduled_time.tzinfo is not None
    assert sched.get_next_task() is None
    clock.advance(60)
    assert sched.get_next_task() is task


def test_unknown_ids_give_none_or_false() -> None:
    sched, _ = make()
    assert sched.get_task("nope") is None
    assert sched.cancel_task("nope") is False
    assert sched.start_task("nope") is False
    assert sched.complete_task("nope") is False
    with pytest.raises(TypeError, match="get_task\\(\\) argument 'task_id'"):
        sched.get_task(42)  # type: ignore[arg-type]


def test_max_retries_keyword_extra() -> None:
    sched, _ = make(default_max_retries=5)
    assert sched.schedule_task("a", noop).max_retries == 5
    assert sched.schedule_task("b", noop, max_retries=0).max_retries == 0


# --------------------------------------------------------------------------- ordering


def test_priority_then_deadline_then_time_then_insertion() -> None:
    sched, _ = make()
    sched.schedule_task("bg", noop, priority=SchedulerPriority.BACKGROUND)
    sched.schedule_task("normal-late-deadline", noop, deadline=at(100))
    sched.schedule_task("normal-no-deadline-old", noop, scheduled_time=at(-10))
    sched.schedule_task("normal-no-deadline-new", noop)
    sched.schedule_task("normal-no-deadline-new-2", noop)
    sched.schedule_task("normal-early-deadline", noop, deadline=at(50))
    sched.schedule_task("critical", noop, priority=SchedulerPriority.CRITICAL)
    assert drain(sched) == [
        "critical",
        "normal-early-deadline",
        "normal-late-deadline",
        "normal-no-deadline-old",
        "normal-no-deadline-new",
        "normal-no-deadline-new-2",
        "bg",
    ]


def test_get_next_task_is_a_peek() -> None:
    sched, _ = make()
    task = sched.schedule_task("a", noop)
    before = sched.get_queue_stats()
    assert sched.get_next_task() is task
    assert sched.get_next_task() is task
    assert task.state is TaskState.PENDING
    assert sched.get_queue_stats() == before


def test_future_tasks_wait_for_the_clock() -> None:
    sched, clock = make()
    later = sched.schedule_task("later", noop, priority="critical", scheduled_time=at(30))
    now = sched.schedule_task("now", noop, priority="background")
    assert sched.get_next_task() is now
    assert sched.start_task(later.task_id) is False
    stats = sched.get_queue_stats()
    assert (stats["ready"], stats["delayed"]) == (1, 1)
    clock.advance(29.5)
    assert sched.get_next_task() is now
    clock.advance(0.5)
    assert sched.get_next_task() is later
    assert sched.get_queue_stats()["delayed"] == 0
    assert sched.start_task(later.task_id)


def test_start_task_can_pick_any_ready_task() -> None:
    sched, _ = make()
    sched.schedule_task("high", noop, priority="high")
    low = sched.schedule_task("low", noop, priority="low")
    assert sched.start_task(low.task_id)
    assert sched.start_task(low.task_id) is False  # already running


# --------------------------------------------------------------------------- dependencies


def test_dependencies_block_until_completed() -> None:
    sched, _ = make()
    a = sched.schedule_task("a", noop, priority="low")
    b = sched.schedule_task("b", noop, priority="critical", dependencies=[a.task_id])
    c = sched.schedule_task("c", noop, priority="critical", dependencies=[a.task_id, b.task_id])
    assert sched.get_queue_stats()["blocked"] == 2
    assert sched.start_task(b.task_id) is False
    assert drain(sched) == ["a", "b", "c"]
    assert c.dependencies == [a.task_id, b.task_id]


def test_dependency_on_completed_task_is_met_immediately() -> None:
    sched, _ = make()
    a = sched.schedule_task("a", noop)
    drain(sched)
    b = sched.schedule_task("b", noop, dependencies=[a.task_id])
    assert sched.get_next_task() is b


def test_blocked_task_with_future_time_waits_for_both() -> None:
    sched, clock = make()
    a = sched.schedule_task("a", noop)
    b = sched.schedule_task("b", noop, scheduled_time=at(10), dependencies=[a.task_id])
    assert drain(sched) == ["a"]
    assert sched.get_queue_stats()["delayed"] == 1
    clock.advance(10)
    assert sched.get_next_task() is b


def test_unknown_dependency_is_a_value_error_naming_it() -> None:
    sched, _ = make()
    sched.schedule_task("a", noop)
    with pytest.raises(ValueError, match="unknown task id 'ghost'"):
        sched.schedule_task("b", noop, dependencies=["ghost"])
    assert sched.get_queue_stats()["total_tasks"] == 1


def test_dependency_on_failed_or_cancelled_task_is_refused() -> None:
    sched, _ = make(default_max_retries=0)
    bad = sched.schedule_task("bad", noop)
    gone = sched.schedule_task("gone", noop, scheduled_time=at(5))
    sched.start_task(bad.task_id)
    sched.complete_task(bad.task_id, error="boom")
    sched.cancel_task(gone.task_id)
    for dep in (bad, gone):
        with pytest.raises(ValueError, match="could never run"):
            sched.schedule_task("child", noop, dependencies=[dep.task_id])
    assert sched.get_queue_stats()["total_tasks"] == 2


def test_failing_dependency_cancels_transitive_dependents() -> None:
    sched, _ = make(default_max_retries=0)
    root = sched.schedule_task("extract", noop)
    child = sched.schedule_task("transform", noop, dependencies=[root.task_id])
    grandchild = sched.schedule_task("load", noop, dependencies=[child.task_id])
    other = sched.schedule_task("other", noop)
    sched.start_task(root.task_id)
    assert sched.complete_task(root.task_id, error="disk full")
    assert root.state is TaskState.FAILED
    assert root.error == "disk full"
    assert root.completed_at is not None
    expected = f"dependency {root.task_id} (extract) failed: disk full"
    for task in (child, grandchild):
        assert task.state is TaskState.CANCELLED
        assert task.error == expected
    assert other.state is TaskState.PENDING
    stats = sched.get_queue_stats()
    assert stats["blocked"] == 0
    assert stats["total_cancelled"] == 2
    assert stats["total_failed"] == 1
    assert drain(sched) == ["other"]


def test_cancel_cascades_to_transitive_dependents() -> None:
    sched, _ = make()
    a = sched.schedule_task("a", noop, scheduled_time=at(100))
    b = sched.schedule_task("b", noop, dependencies=[a.task_id])
    c = sched.schedule_task("c", noop, dependencies=[b.task_id])
    d = sched.schedule_task("d", noop)
    e = sched.schedule_task("e", noop, dependencies=[d.task_id, c.task_id])
    assert sched.cancel_task(a.task_id)
    assert a.state is TaskState.CANCELLED
    assert a.completed_at is not None
    for task in (b, c, e):
        assert task.state is TaskState.CANCELLED
        assert task.error == f"dependency {a.task_id} (a) was cancelled"
    assert sched.cancel_task(a.task_id) is False
    assert drain(sched) == ["d"]
    assert recount(sched) == sched.get_queue_stats()["states"]


def test_cancel_refuses_running_and_finished_tasks() -> None:
    sched, _ = make()
    a = sched.schedule_task("a", noop)
    b = sched.schedule_task("b", noop)
    sched.start_task(a.task_id)
    assert sched.cancel_task(a.task_id) is False
    sched.complete_task(a.task_id)
    assert sched.cancel_task(a.task_id) is False
    assert sched.cancel_task(b.task_id) is True
    assert sched.get_next_task() is None


# --------------------------------------------------------------------------- retries


def fail(sched: IntelligentScheduler, task: ScheduledTask, error: str = "boom") -> None:
    assert sched.start_task(task.task_id), task
    assert sched.complete_task(task.task_id, error=error)


def test_retries_back_off_exponentially_up_to_the_cap() -> None:
    sched, clock = make(retry_backoff_seconds=2.0, max_backoff_seconds=5.0, default_max_retries=4)
    task = sched.schedule_task("flaky", noop)
    waits = []
    for attempt in range(1, 5):
        start = clock()
        fail(sched, task, error=f"attempt {attempt}")
        assert task.state is TaskState.PENDING
        assert task.retries == attempt
        assert task.error == f"attempt {attempt}"
        wait = task.scheduled_time.timestamp() - start
        waits.append(wait)
        clock.advance(wait - 0.25)
        assert sched.get_next_task() is None
        assert sched.start_task(task.task_id) is False
        clock.advance(0.25)
        assert sched.get_next_task() is task
    assert waits == [2.0, 4.0, 5.0, 5.0]
    fail(sched, task, error="last")
    assert task.state is TaskState.FAILED
    assert task.retries == 4
    assert task.error == "last"
    assert sched.get_queue_stats()["total_retried"] == 4


def test_zero_backoff_retries_immediately() -> None:
    sched, _ = make(retry_backoff_seconds=0.0, default_max_retries=2)
    task = sched.schedule_task("flaky", noop)
    fail(sched, task)
    assert sched.get_next_task() is task
    fail(sched, task)
    assert sched.get_next_task() is task
    assert sched.start_task(task.task_id)
    assert sched.complete_task(task.task_id, result=7)
    assert task.state is TaskState.COMPLETED
    assert task.result == 7
    assert task.error is None
    assert task.retries == 2


def test_max_retries_changed_on_the_live_record_takes_effect() -> None:
    sched, _clock = make(retry_backoff_seconds=0.0, default_max_retries=0)
    task = sched.schedule_task("flaky", noop)
    task.max_retries = 2
    fail(sched, task)
    fail(sched, task)
    assert task.state is TaskState.PENDING
    assert task.retries == 2
    task.max_retries = 1  # lowered below the retries already spent
    fail(sched, task)
    assert task.state is TaskState.FAILED


def test_failed_after_max_retries_with_default_zero() -> None:
    sched, _clock = make(default_max_retries=0)
    task = sched.schedule_task("once", noop)
    fail(sched, task)
    assert task.state is TaskState.FAILED
    assert task.completed_at == at(0)
    assert sched.complete_task(task.task_id, error="again") is False


def test_huge_retry_counts_do_not_overflow_the_backoff() -> None:
    sched, clock = make(retry_backoff_seconds=1.0, max_backoff_seconds=3.0, default_max_retries=1100)
    task = sched.schedule_task("stubborn", noop)
    for _ in range(1100):
        fail(sched, task)
        clock.advance(3.0)
    assert task.retries == 1100
    assert task.state is TaskState.PENDING
    fail(sched, task)
    assert task.state is TaskState.FAILED


def test_invalid_live_max_retries_is_not_retried(caplog: pytest.LogCaptureFixture) -> None:
    sched, _ = make()
    task = sched.schedule_task("a", noop)
    task.max_retries = "lots"  # type: ignore[assignment]
    with caplog.at_level(logging.WARNING, logger="autoopt.scheduling._scheduler"):
        fail(sched, task)
    assert task.state is TaskState.FAILED
    assert "invalid max_retries" in caplog.text


# --------------------------------------------------------------------------- resources


def test_big_task_does_not_block_a_small_one_that_fits() -> None:
    pool = ResourcePool(cpu=100.0, custom={"gpu": 2.0})
    sched, _ = make(resource_pool=pool)
    hog = sched.schedule_task("hog", noop, priority="critical", resource_requirements={"gpu": 2.0})
    assert sched.start_task(hog.task_id)
    big = sched.schedule_task("big", noop, priority="critical", resource_requirements={"gpu": 1.0})
    small = sched.schedule_task("small", noop, priority="low", resource_requirements={"cpu": 50.0})
    assert sched.get_next_task() is small
    assert sched.start_task(big.task_id) is False
    assert big.state is TaskState.PENDING
    assert sched.start_task(small.task_id)
    assert pool.available()["cpu"] == 50.0
    assert pool.available()["gpu"] == 0.0
    sched.complete_task(hog.task_id)
    assert sched.get_next_task() is big
    assert sched.start_task(big.task_id)
    sched.complete_task(big.task_id)
    sched.complete_task(small.task_id)
    assert pool.available() == pool.capacity()


def test_resource_release_never_exceeds_capacity() -> None:
    pool = ResourcePool(cpu=10.0)
    sched, _ = make(resource_pool=pool)
    task = sched.schedule_task("a", noop, resource_requirements={"cpu": 4.0})
    sched.start_task(task.task_id)
    task.resource_requirements["cpu"] = 1_000.0  # the record is not what gets released
    assert sched.complete_task(task.task_id)
    assert pool.available() == pool.capacity()
    assert sched.complete_task(task.task_id) is False
    assert pool.available() == pool.capacity()


def test_requirements_beyond_capacity_or_unknown_are_refused() -> None:
    pool = ResourcePool(cpu=10.0, custom={"gpu": 1.0})
    sched, _ = make(resource_pool=pool)
    with pytest.raises(ValueError, match="could never run"):
        sched.schedule_task("a", noop, resource_requirements={"gpu": 2.0})
    with pytest.raises(ValueError, match="unknown resource 'tpu'"):
        sched.schedule_task("a", noop, resource_requirements={"tpu": 1.0})
    assert sched.get_queue_stats()["total_tasks"] == 0
    exact = sched.schedule_task("exact", noop, resource_requirements={"cpu": 10.0, "gpu": 1.0})
    assert sched.start_task(exact.task_id)


def test_max_concurrent_tasks_is_respected() -> None:
    sched, _ = make(config=AutomationConfig(max_concurrent_tasks=2))
    tasks = [sched.schedule_task(f"t{i}", noop) for i in range(4)]
    assert sched.start_task(tasks[0].task_id)
    assert sched.get_next_task() is tasks[1]
    assert sched.start_task(tasks[1].task_id)
    assert sched.get_next_task() is None
    assert sched.start_task(tasks[2].task_id) is False
    assert sched.run_pending() == 0
    sched.complete_task(tasks[0].task_id)
    assert sched.get_next_task() is tasks[2]
    assert sched.max_concurrent_tasks == 2


# --------------------------------------------------------------------------- run_pending


def test_run_pending_records_results_and_errors(caplog: pytest.LogCaptureFixture) -> None:
    sched, clock = make(default_max_retries=1, retry_backoff_seconds=10.0)
    ok = sched.schedule_task("ok", lambda: 5)

    def explode() -> None:
        raise RuntimeError("kaput")

    bad = sched.schedule_task("bad", explode)
    later = sched.schedule_task("later", lambda: "late", scheduled_time=at(100))
    with caplog.at_level(logging.WARNING, logger="autoopt.scheduling._scheduler"):
        assert sched.run_pending() == 2
    assert ok.result == 5
    assert ok.state is TaskState.COMPLETED
    assert bad.state is TaskState.PENDING
    assert bad.error == "RuntimeError: kaput"
    assert "kaput" in caplog.text
    assert later.state is TaskState.PENDING
    clock.advance(10)
    assert sched.run_pending() == 1
    assert bad.state is TaskState.FAILED
    clock.advance(90)
    assert sched.run_pending() == 1
    assert later.result == "late"


def test_run_pending_max_tasks() -> None:
    sched, _ = make()
    tasks = [sched.schedule_task(f"t{i}", functools.partial(int, i)) for i in range(5)]
    assert sched.run_pending(max_tasks=0) == 0
    assert sched.run_pending(max_tasks=2) == 2
    assert [t.state for t in tasks].count(TaskState.COMPLETED) == 2
    assert sched.run_pending() == 3
    with pytest.raises(ValueError, match="'max_tasks'"):
        sched.run_pending(max_tasks=-1)


def test_run_pending_marks_task_failed_on_base_exception_and_reraises() -> None:
    sched, _ = make(default_max_retries=0)

    def interrupt() -> None:
        raise KeyboardInterrupt

    task = sched.schedule_task("interrupted", interrupt)
    with pytest.raises(KeyboardInterrupt):
        sched.run_pending()
    assert task.state is TaskState.FAILED
    assert task.error == "KeyboardInterrupt: "
    assert sched.get_queue_stats()["running"] == 0


def test_task_scheduling_more_work_from_inside_execute() -> None:
    sched, _ = make()
    seen: list[str] = []

    def parent() -> None:
        seen.append("parent")
        sched.schedule_task("child", lambda: seen.append("child"))

    sched.schedule_task("parent", parent)
    assert sched.run_pending() == 2
    assert seen == ["parent", "child"]


# --------------------------------------------------------------------------- stats, listing, history


def test_stats_counters_and_unused_states() -> None:
    sched, _clock = make(default_max_retries=0)
    a = sched.schedule_task("a", noop)
    sched.schedule_task("b", noop, dependencies=[a.task_id])
    sched.schedule_task("c", noop, scheduled_time=at(5))
    d = sched.schedule_task("d", noop)
    sched.start_task(d.task_id)
    stats = sched.get_queue_stats()
    assert stats["states"] == recount(sched)
    assert stats["states"]["pending"] == 3
    assert stats["states"]["running"] == 1
    assert (stats["ready"], stats["blocked"], stats["delayed"], stats["running"]) == (1, 1, 1, 1)
    assert stats["states"]["scheduled"] == 0
    assert stats["states"]["deferred"] == 0
    assert stats["max_concurrent_tasks"] == 10
    assert stats["available_resources"] == stats["resource_capacity"]
    sched.complete_task(d.task_id, error="x")
    stats = sched.get_queue_stats()
    assert stats["total_failed"] == 1
    assert stats["total_scheduled"] == 4
    assert stats["states"] == recount(sched)


def test_list_tasks_newest_first_by_state_and_limit() -> None:
    sched, _ = make()
    tasks = [sched.schedule_task(f"t{i}", noop) for i in range(5)]
    assert [t.name for t in sched.list_tasks()] == ["t4", "t3", "t2", "t1", "t0"]
    assert [t.name for t in sched.list_tasks(limit=2)] == ["t4", "t3"]
    assert sched.list_tasks(limit=0) == []
    for i in (3, 1):
        sched.start_task(tasks[i].task_id)
        sched.complete_task(tasks[i].task_id)
    assert [t.name for t in sched.list_tasks(TaskState.COMPLETED)] == ["t1", "t3"]
    assert [t.name for t in sched.list_tasks("pending", limit=2)] == ["t4", "t2"]
    assert sched.list_tasks(TaskState.DEFERRED) == []
    with pytest.raises(ValueError, match="list_tasks\\(\\) argument 'state'"):
        sched.list_tasks("bogus")
    with pytest.raises(TypeError, match="list_tasks\\(\\) argument 'limit'"):
        sched.list_tasks(limit=2.5)  # type: ignore[arg-type]


def test_history_evicts_oldest_finished_first() -> None:
    sched, _ = make(history_limit=2)
    waiting = sched.schedule_task("waiting", noop, scheduled_time=at(1_000))
    done = [sched.schedule_task(f"d{i}", noop) for i in range(4)]
    assert sched.run_pending() == 4
    assert [sched.get_task(t.task_id) for t in done] == [None, None, done[2], done[3]]
    assert sched.get_task(waiting.task_id) is waiting
    stats = sched.get_queue_stats()
    assert stats["total_tasks"] == 3
    assert stats["total_evicted"] == 2
    assert stats["states"]["completed"] == 2
    assert stats["total_completed"] == 4
    with pytest.raises(ValueError, match="unknown task id"):
        sched.schedule_task("late-child", noop, dependencies=[done[0].task_id])
    child = sched.schedule_task("child", noop, dependencies=[done[3].task_id])
    assert sched.get_next_task() is child


def test_zero_history_keeps_only_unfinished_tasks_and_still_cascades() -> None:
    sched, _ = make(history_limit=0, default_max_retries=0)
    a = sched.schedule_task("a", noop)
    b = sched.schedule_task("b", noop, dependencies=[a.task_id])
    sched.start_task(a.task_id)
    sched.complete_task(a.task_id, error="e")
    assert b.state is TaskState.CANCELLED
    assert sched.get_task(a.task_id) is None
    assert sched.get_task(b.task_id) is None
    assert sched.get_queue_stats()["total_tasks"] == 0


# --------------------------------------------------------------------------- bad input


def _valid_kwargs(dep_id: str) -> dict[str, Any]:
    return {
        "name": "ok",
        "execute_fn": noop,
        "priority": SchedulerPriority.NORMAL,
        "scheduled_time": at(10),
        "deadline": at(20),
        "resource_requirements": {"cpu": 1.0, "gpu": 1.0},
        "dependencies": [dep_id],
        "max_retries": 2,
    }


BAD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "name": st.one_of(st.none(), st.integers(), st.sampled_from(["", "   ", "\t"]), st.binary()),
    "execute_fn": st.one_of(st.none(), st.integers(), st.text()),
    "priority": st.one_of(
        st.none(),
        st.integers(),
        st.text().filter(lambda s: s not in {p.value for p in SchedulerPriority}),
    ),
    "scheduled_time": st.one_of(st.integers(), st.floats(), st.text(), st.dates()),
    "deadline": st.one_of(
        st.integers(),
        st.text(),
        st.floats(min_value=0.001, max_value=1e6).map(lambda s: at(10 - s)),
    ),
    "resource_requirements": st.one_of(
        st.just({"tpu": 1.0}),
        st.floats(max_value=-1e-6).map(lambda v: {"cpu": v}),
        st.just({"cpu": float("nan")}),
        st.floats(min_value=100.001, max_value=1e9).map(lambda v: {"cpu": v}),
        st.just({"gpu": 2.0}),
        st.just({"cpu": "lots"}),
        st.just([("cpu", 1.0)]),
    ),
    "dependencies": st.one_of(
        st.just("DEP"),
        st.just(["ghost"]),
        st.just([1]),
        st.just(["DEP", "DEP"]),
        st.just(["FAILED"]),
        st.just({"DEP": 1}),
    ),
    "max_retries": st.one_of(st.integers(max_value=-1), st.floats(), st.booleans(), st.text()),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), field=st.sampled_from(sorted(BAD_VALUES)))
def test_bad_schedule_input_records_nothing(data: st.DataObject, field: str) -> None:
    pool = ResourcePool(custom={"gpu": 1.0})
    sched, _ = make(resource_pool=pool, default_max_retries=0)
    dep = sched.schedule_task("dep", noop, scheduled_time=at(5))
    failed = sched.schedule_task("failed", noop)
    fail(sched, failed)
    kwargs = _valid_kwargs(dep.task_id)
    bad = data.draw(BAD_VALUES[field], label=field)
    if field == "dependencies":
        bad = {"DEP": dep.task_id} if isinstance(bad, dict) else bad
        if isinstance(bad, list):
            bad = [{"DEP": dep.task_id, "FAILED": failed.task_id}.get(x, x) for x in bad]
    kwargs[field] = bad
    before = sched.get_queue_stats()
    listed = sched.list_tasks()
    with pytest.raises((TypeError, ValueError)) as info:
        sched.schedule_task(**kwargs)
    assert f"'{field}'" in str(info.value)
    assert sched.get_queue_stats() == before
    assert sched.list_tasks() == listed


@pytest.mark.parametrize(
    ("kwargs", "exc", "fragment"),
    [
        ({"config": {"max_concurrent_tasks": 2}}, TypeError, "'config'"),
        ({"resource_pool": {"cpu": 1}}, TypeError, "'resource_pool'"),
        ({"clock": 3.0}, TypeError, "'clock'"),
        ({"default_max_retries": -1}, ValueError, "'default_max_retries'"),
        ({"default_max_retries": 1.0}, TypeError, "'default_max_retries'"),
        ({"retry_backoff_seconds": -0.5}, ValueError, "'retry_backoff_seconds'"),
        ({"retry_backoff_seconds": float("inf")}, ValueError, "'retry_backoff_seconds'"),
        ({"max_backoff_seconds": "1"}, TypeError, "'max_backoff_seconds'"),
        ({"history_limit": -1}, ValueError, "'history_limit'"),
    ],
)
def test_bad_constructor_arguments(kwargs: dict[str, Any], exc: type[Exception], fragment: str) -> None:
    with pytest.raises(exc, match=f"IntelligentScheduler\\(\\) argument {fragment}"):
        IntelligentScheduler(**kwargs)


def test_bad_complete_error_type_changes_nothing() -> None:
    sched, _ = make()
    task = sched.schedule_task("a", noop)
    sched.start_task(task.task_id)
    with pytest.raises(TypeError, match="complete_task\\(\\) argument 'error'"):
        sched.complete_task(task.task_id, error=RuntimeError("x"))  # type: ignore[arg-type]
    assert task.state is TaskState.RUNNING
    assert sched.complete_task(task.task_id, error="RuntimeError: x")


def test_deadline_defaults_against_now() -> None:
    sched, _ = make()
    with pytest.raises(ValueError, match="'deadline'"):
        sched.schedule_task("a", noop, deadline=at(-1))
    task = sched.schedule_task("a", noop, deadline=at(0))
    assert task.deadline == at(0)
    assert sched.schedule_task("b", noop, scheduled_time=at(5), deadline=at(5) + timedelta(0)).deadline == at(
        5
    )


def test_max_concurrent_tasks_is_read_live_from_the_config() -> None:
    from autoopt.config import AutomationConfig

    cfg = AutomationConfig(max_concurrent_tasks=1)
    sched = IntelligentScheduler(cfg)
    a = sched.schedule_task("a", lambda: 1)
    b = sched.schedule_task("b", lambda: 2)
    assert sched.start_task(a.task_id)
    assert sched.get_next_task() is None
    cfg.max_concurrent_tasks = 2
    assert sched.max_concurrent_tasks == 2
    assert sched.start_task(b.task_id)
