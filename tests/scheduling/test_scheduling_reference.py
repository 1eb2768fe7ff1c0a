"""The IntelligentScheduler against a brute-force reference.

The reference keeps a plain list of tasks and, whenever asked for the next
task, filters the ready ones by a full scan and sorts them by
``(priority rank, deadline or +inf, scheduled time, insertion order)``, then
takes the first that fits the free resources. Hypothesis generates random
interleavings of scheduling, starting, completing (with failures and
retries), cancelling and clock advances; after every step the scheduler's
choices, task states, retries, resources and counters must agree with the
reference. A second test keeps many tasks per requirement shape and lets
outside code allocate from and release to the shared pool, and checks every
choice of ``get_next_task`` and ``run_pending`` against a full scan.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import hypothesis.strategies as st
from hypothesis import given, settings

from autoopt._clock import ManualClock, to_datetime
from autoopt.config import AutomationConfig
from autoopt.enums import SchedulerPriority, TaskState
from autoopt.models import ResourcePool, ScheduledTask
from autoopt.scheduling import IntelligentScheduler

T0 = 1_700_000_000.0
MAX_CONCURRENT = 3
MAX_RETRIES = 2
BACKOFF = 1.0
MAX_BACKOFF = 3.0
CAPACITY = {"cpu": 100.0, "memory": 100.0, "io_bandwidth": 100.0, "network": 100.0}
RANK = {p: i for i, p in enumerate(SchedulerPriority)}


@dataclass
class RefTask:
    task_id: str
    seq: int
    rank: int
    deadline: float
    ts: float
    req: dict[str, float]
    deps: list[str]
    state: TaskState = TaskState.PENDING
    retries: int = 0
    error: str | None = None
    result: Any = None


@dataclass
class Reference:
    now: float = T0
    tasks: dict[str, RefTask] = field(default_factory=dict)
    avail: dict[str, float] = field(default_factory=lambda: dict(CAPACITY))
    retried: int = 0

    def running(self) -> list[RefTask]:
        return [t for t in self.tasks.values() if t.state is TaskState.RUNNING]

    def is_ready(self, t: RefTask) -> bool:
        return (
            t.state is TaskState.PENDING
            and t.ts <= self.now
            and all(self.tasks[d].state is TaskState.COMPLETED for d in t.deps)
        )

    def fits(self, t: RefTask) -> bool:
        return all(self.avail[k] >= v for k, v in t.req.items())

    def next(self) -> RefTask | None:
        if len(self.running()) >= MAX_CONCURRENT:
            return None
        ready = sorted(
            (t for t in self.tasks.values() if self.is_ready(t)),
            key=lambda t: (t.rank, t.deadline, t.ts, t.seq),
        )
        return next((t for t in ready if self.fits(t)), None)

    def start(self, t: RefTask) -> None:
        for k, v in t.req.items():
            self.avail[k] -= v
        t.state = TaskState.RUNNING

    def complete(self, t: RefTask, error: str | None, result: Any) -> None:
        for k, v in t.req.items():
            self.avail[k] += v
        if error is None:
            t.state, t.result, t.error = TaskState.COMPLETED, result, None
            return
        t.error = error
        if t.retries < MAX_RETRIES:
            t.retries += 1
            self.retried += 1
            t.ts = self.now + min(MAX_BACKOFF, BACKOFF * 2 ** (t.retries - 1))
            t.state = TaskState.PENDING
        else:
            t.state = TaskState.FAILED
            self.propagate(f"dependency {t.task_id} (task{t.seq}) failed: {error}")

    def cancel(self, t: RefTask) -> bool:
        if t.state is not TaskState.PENDING:
            return False
        t.state = TaskState.CANCELLED
        self.propagate(f"dependency {t.task_id} (task{t.seq}) was cancelled")
        return True

    def propagate(self, message: str) -> None:
        """Cancel every pending task with a failed or cancelled dependency, to a fixed point."""
        dead = (TaskState.FAILED, TaskState.CANCELLED)
        changed = True
        while changed:
            changed = False
            for t in self.tasks.values():
                if t.state is TaskState.PENDING and any(self.tasks[d].state in dead for d in t.deps):
                    t.state, t.error = TaskState.CANCELLED, message
                    changed = True


schedule_op = st.tuples(
    st.just("schedule"),
    st.sampled_from(list(SchedulerPriority)),
    st.one_of(st.none(), st.integers(0, 4)),  # delay
    st.one_of(st.none(), st.integers(0, 6)),  # deadline after the scheduled time
    st.integers(0, 10).map(lambda x: 10.0 * x),  # cpu
    st.integers(0, 4).map(lambda x: 25.0 * x),  # memory
    st.lists(st.integers(0, 10_000), max_size=2),  # dependency picks
)
OPS = st.one_of(
    schedule_op,
    schedule_op,
    st.tuples(st.just("start")),
    st.tuples(st.just("start")),
    st.tuples(st.just("complete"), st.integers(0, 10_000), st.booleans()),
    st.tuples(st.just("cancel"), st.integers(0, 10_000)),
    st.tuples(st.just("advance"), st.sampled_from([0.5, 1.0, 2.0, 3.0])),
)


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(OPS, max_size=80))
def test_scheduler_matches_brute_force_reference(ops: list[tuple[Any, ...]]) -> None:
    clock = ManualClock(T0)
    pool = ResourcePool()
    sched = IntelligentScheduler(
        AutomationConfig(max_concurrent_tasks=MAX_CONCURRENT),
        resource_pool=pool,
        clock=clock,
        default_max_retries=MAX_RETRIES,
        retry_backoff_seconds=BACKOFF,
        max_backoff_seconds=MAX_BACKOFF,
    )
    ref = Reference()
    order: list[str] = []

    for op in ops:
        kind = op[0]
        if kind == "schedule":
            _, prio, delay, dl_offset, cpu, mem, picks = op
            ts = ref.now if delay is None else ref.now + delay
            alive = [
                tid for tid in order if ref.tasks[tid].state not in (TaskState.FAILED, TaskState.CANCELLED)
            ]
            deps = sorted({alive[p % len(alive)] for p in picks}) if alive else []
            req = {k: v for k, v in (("cpu", cpu), ("memory", mem)) if v}
            task = sched.schedule_task(
                f"task{len(order)}",
                lambda: None,
                priority=prio,
                scheduled_time=None if delay is None else to_datetime(ts),
                deadline=None if dl_offset is None else to_datetime(ts + dl_offset),
                resource_requirements=req,
                dependencies=deps,
            )
            ref.tasks[task.task_id] = RefTask(
                task.task_id,
                len(order),
                RANK[prio],
                math.inf if dl_offset is None else ts + dl_offset,
                ts,
                req,
                deps,
            )
            order.append(task.task_id)
        elif kind == "start":
            expected = ref.next()
            got = sched.get_next_task()
            assert (got and got.task_id) == (expected and expected.task_id)
            if expected is not None:
                assert sched.start_task(expected.task_id)
                ref.start(expected)
        elif kind == "complete":
            running = sorted(ref.running(), key=lambda t: t.seq)
            if running:
                t = running[op[1] % len(running)]
                error = "boom" if op[2] else None
                assert sched.complete_task(t.task_id, result=t.seq, error=error)
                ref.complete(t, error, t.seq)
        elif kind == "cancel":
            if order:
                t = ref.tasks[order[op[1] % len(order)]]
                assert sched.cancel_task(t.task_id) == ref.cancel(t)
        else:
            clock.advance(op[1])
            ref.now = clock()

        # Full agreement after every step.
        for tid, rt in ref.tasks.items():
            record = sched.get_task(tid)
            assert record is not None
            assert record.state is rt.state, (record.name, record.state, rt.state)
            assert record.retries == rt.retries
            assert record.scheduled_time == to_datetime(rt.ts)
            assert record.error == rt.error
            if rt.state is TaskState.COMPLETED:
                assert record.result == rt.result
        assert pool.available() == ref.avail
        stats = sched.get_queue_stats()
        counts = {s.value: 0 for s in TaskState}
        for rt in ref.tasks.values():
            counts[rt.state.value] += 1
        assert stats["states"] == counts
        assert stats["running"] == counts["running"] <= MAX_CONCURRENT
        assert stats["ready"] + stats["blocked"] + stats["delayed"] == counts["pending"]
        assert stats["ready"] == sum(
            1
            for t in ref.tasks.values()
            if t.state is TaskState.PENDING
            and t.ts <= ref.now
            and all(ref.tasks[d].state is TaskState.COMPLETED for d in t.deps)
        )
        assert stats["total_retried"] == ref.retried
        assert stats["total_scheduled"] == len(order)

    # Drain what is left with run_pending and compare with the reference's order.
    expected_order = []
    while (nxt := ref.next()) is not None:
        expected_order.append(nxt.task_id)
        ref.start(nxt)
        ref.complete(nxt, None, None)
    executed: list[str] = []
    for tid in order:
        record = sched.get_task(tid)
        assert record is not None
        record.execute_fn = functools.partial(executed.append, tid)
    # Running tasks occupy slots in both models; run_pending only runs what can start.
    assert sched.run_pending() == len(expected_order)
    assert executed == expected_order


# Requirement shapes: two spellings of one shape, an explicit zero, a custom resource.
REQ_CHOICES: list[dict[str, float]] = [
    {},
    {"cpu": 0.0},
    {"cpu": 10.0},
    {"cpu": 30.0},
    {"cpu": 30.0, "memory": 10.0},
    {"memory": 10.0, "cpu": 30.0},
    {"memory": 60.0},
    {"gpu": 1.0},
    {"cpu": 70.0, "gpu": 2.0},
]
req_index = st.integers(0, len(REQ_CHOICES) - 1)
SHAPE_OPS = st.one_of(
    st.tuples(st.just("peek")),
    st.tuples(st.just("start")),
    st.tuples(st.just("run_one")),
    st.tuples(st.just("complete"), st.integers(0, 1_000)),
    st.tuples(st.just("cancel"), st.integers(0, 1_000)),
    st.tuples(st.just("external_allocate"), req_index),
    st.tuples(st.just("external_release")),
)


@settings(max_examples=150, deadline=None)
@given(
    tasks=st.lists(
        st.tuples(
            st.sampled_from(list(SchedulerPriority)), st.one_of(st.none(), st.integers(0, 5)), req_index
        ),
        max_size=40,
    ),
    ops=st.lists(SHAPE_OPS, max_size=60),
)
def test_selection_by_shape_matches_a_full_scan_with_a_shared_pool(
    tasks: list[tuple[SchedulerPriority, int | None, int]], ops: list[tuple[Any, ...]]
) -> None:
    """Many tasks per shape, a pool also used by outside code: the choice is the full scan's."""
    pool = ResourcePool(custom={"gpu": 2.0})
    sched = IntelligentScheduler(
        AutomationConfig(max_concurrent_tasks=50), resource_pool=pool, clock=ManualClock(T0)
    )
    executed: list[str] = []
    keyed: list[tuple[tuple[int, float, int], ScheduledTask]] = []
    for i, (prio, dl, r) in enumerate(tasks):
        task = sched.schedule_task(
            f"t{i}",
            functools.partial(executed.append, f"t{i}"),
            priority=prio,
            deadline=None if dl is None else to_datetime(T0 + dl),
            resource_requirements=REQ_CHOICES[r],
        )
        keyed.append(((RANK[prio], math.inf if dl is None else T0 + dl, i), task))
    keyed.sort(key=lambda kt: kt[0])
    held: list[dict[str, float]] = []

    def expected() -> ScheduledTask | None:
        return next(
            (
                t
                for _, t in keyed
                if t.state is TaskState.PENDING and pool.can_allocate(t.resource_requirements)
            ),
            None,
        )

    for op in ops:
        kind = op[0]
        want = expected()
        assert sched.get_next_task() is want
        if kind == "start" and want is not None:
            assert sched.start_task(want.task_id)
        elif kind == "run_one":
            assert sched.run_pending(max_tasks=1) == (want is not None)
            if want is not None:
                assert executed[-1] == want.name
                assert want.state is TaskState.COMPLETED
        elif kind == "complete":
            running = sched.list_tasks(TaskState.RUNNING)
            if running:
                assert sched.complete_task(running[op[1] % len(running)].task_id)
        elif kind == "cancel" and keyed:
            task = keyed[op[1] % len(keyed)][1]
            was_pending = task.state is TaskState.PENDING
            assert sched.cancel_task(task.task_id) == was_pending
            if was_pending:
                assert task.state is TaskState.CANCELLED
        elif kind == "external_allocate":
            if pool.try_allocate(REQ_CHOICES[op[1]]):
                held.append(REQ_CHOICES[op[1]])
        elif kind == "external_release" and held:
            pool.release(held.pop())
        # One heap per distinct shape among the ready tasks, with exact live counts.
        pending = [t for _, t in keyed if t.state is TaskState.PENDING]
        shapes = Counter(tuple(sorted(t.resource_requirements.items())) for t in pending)
        assert {key: shape.live for key, shape in sched._queue.shapes.items()} == dict(shapes)
        assert sched.get_queue_stats()["ready"] == len(pending)
    assert sched.get_next_task() is expected()
