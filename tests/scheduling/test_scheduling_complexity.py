"""Work done by the scheduler's hot paths, counted (never timed).

The heap primitives of the scheduler module are replaced by counting
wrappers and the resource pool by one that counts its checks, so the tests
see exactly how many heap entries and tasks each call touches.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest

from autoopt._clock import ManualClock, to_datetime
from autoopt.enums import SchedulerPriority, TaskState
from autoopt.models import ResourcePool, ScheduledTask
from autoopt.scheduling import IntelligentScheduler, _queue

T0 = 1_700_000_000.0


class CountingPool(ResourcePool):
    """A ResourcePool that counts how many requirement checks it is asked for."""

    checks = 0

    def can_allocate(self, requirements: Mapping[str, float]) -> bool:
        type(self).checks += 1
        return super().can_allocate(requirements)

    def try_allocate(self, requirements: Mapping[str, float]) -> bool:
        type(self).checks += 1
        return super().try_allocate(requirements)


@pytest.fixture
def heap_ops(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    ops: Counter[str] = Counter()

    def counting(name: str) -> Any:
        real = getattr(heapq, name)

        def wrapper(*args: Any) -> Any:
            ops[name] += 1
            return real(*args)

        return wrapper

    for name in ("heappush", "heappop", "heapify"):
        monkeypatch.setattr(_queue, name, counting(name))
    CountingPool.checks = 0
    return ops


def test_get_next_task_never_touches_blocked_or_delayed_tasks(heap_ops: Counter[str]) -> None:
    clock = ManualClock(T0)
    pool = CountingPool()
    sched = IntelligentScheduler(resource_pool=pool, clock=clock)
    root = sched.schedule_task("root", lambda: None, priority=SchedulerPriority.CRITICAL)
    assert sched.start_task(root.task_id)
    for i in range(10_000):
        sched.schedule_task(f"blocked{i}", lambda: None, priority="critical", dependencies=[root.task_id])
    later = to_datetime(T0 + 3_600)
    for i in range(10_000):
        sched.schedule_task(f"delayed{i}", lambda: None, priority="critical", scheduled_time=later)
    ready = sched.schedule_task("ready", lambda: None, priority=SchedulerPriority.BACKGROUND)
    stats = sched.get_queue_stats()
    assert (stats["ready"], stats["blocked"], stats["delayed"]) == (1, 10_000, 10_000)

    heap_ops.clear()
    CountingPool.checks = 0
    for _ in range(100):
        assert sched.get_next_task() is ready
    # The started root's heap went with its shape, so nothing stale is left to pop.
    # A peek reads the top of the one ready heap: no pushes, no pops, one fit check per call.
    assert heap_ops == Counter()
    assert CountingPool.checks == 100

    # Starting and completing the ready task costs O(1) heap operations, too.
    assert sched.start_task(ready.task_id)
    assert sched.complete_task(ready.task_id)
    assert sum(heap_ops.values()) <= 2
    assert sched.get_next_task() is None


def test_completion_unblocks_in_out_degree(heap_ops: Counter[str]) -> None:
    sched = IntelligentScheduler(clock=ManualClock(T0))
    hubs = [sched.schedule_task(f"hub{i}", lambda: None) for i in range(2)]
    for i in range(5_000):
        sched.schedule_task(f"other{i}", lambda: None, dependencies=[hubs[0].task_id])
    children = [
        sched.schedule_task(f"child{i}", lambda: None, dependencies=[hubs[1].task_id]) for i in range(3)
    ]
    assert sched.start_task(hubs[1].task_id)
    heap_ops.clear()
    assert sched.complete_task(hubs[1].task_id)
    # Exactly the three dependents were pushed onto the ready heap; the 5,000 others untouched.
    assert heap_ops == Counter({"heappush": 3})
    assert all(c.state is TaskState.PENDING for c in children)
    assert sched.get_queue_stats()["ready"] == 4  # hub0 and the three children


def _hogged_scheduler(n_big: int) -> tuple[IntelligentScheduler, ScheduledTask]:
    """A hog RUNNING with 80 of 100 CPU and ``n_big`` higher-ranked ready tasks needing 30 CPU each."""
    pool = CountingPool(cpu=100.0)
    sched = IntelligentScheduler(resource_pool=pool, clock=ManualClock(T0))
    hog = sched.schedule_task("hog", lambda: None, priority="critical", resource_requirements={"cpu": 80.0})
    assert sched.start_task(hog.task_id)
    for i in range(n_big):
        sched.schedule_task(f"big{i}", lambda: None, priority="high", resource_requirements={"cpu": 30.0})
    return sched, hog


def test_selection_cost_is_independent_of_the_number_of_non_fitting_tasks(heap_ops: Counter[str]) -> None:
    sched, _ = _hogged_scheduler(10_000)
    small = sched.schedule_task("small", lambda: None, priority="low", resource_requirements={"cpu": 10.0})
    assert sched.get_queue_stats()["ready"] == 10_001
    heap_ops.clear()
    CountingPool.checks = 0
    for _ in range(100):
        assert sched.get_next_task() is small
    # S = 2 shapes: per call, the two shape tops are heapified and popped in key order and
    # checked (the 30-CPU top does not fit, the 10-CPU one does); no task heap is touched.
    assert heap_ops == Counter({"heapify": 100, "heappop": 200})
    assert CountingPool.checks == 2 * 100

    # run_pending claims the same task at the same cost, then finds nothing else fits.
    heap_ops.clear()
    CountingPool.checks = 0
    assert sched.run_pending() == 1
    assert small.state is TaskState.COMPLETED
    # Round 1: heapify + 2 pops on the candidates, 2 checks; the small shape empties and is
    # dropped (its heap with it). Round 2: one shape, one check, no heap operation.
    assert heap_ops == Counter({"heapify": 1, "heappop": 2})
    assert CountingPool.checks == 2 + 1
    assert sched.get_queue_stats()["ready"] == 10_000

    heap_ops.clear()
    CountingPool.checks = 0
    for _ in range(100):
        assert sched.get_next_task() is None
    assert heap_ops == Counter()
    assert CountingPool.checks == 100


def test_at_most_one_fit_check_per_shape(heap_ops: Counter[str]) -> None:
    sched, _ = _hogged_scheduler(0)
    sizes = (30.0, 40.0, 50.0, 60.0, 70.0)
    for i in range(5_000):
        cpu = sizes[i % len(sizes)]
        sched.schedule_task(f"big{i}", lambda: None, priority="high", resource_requirements={"cpu": cpu})
    # Same amount, different resources: a shape of its own.
    small = sched.schedule_task(
        "small", lambda: None, priority="low", resource_requirements={"cpu": 10.0, "memory": 1.0}
    )
    tail = [
        sched.schedule_task(
            f"tail{i}", lambda: None, priority="background", resource_requirements={"cpu": 10.0}
        )
        for i in range(1_000)
    ]
    heap_ops.clear()
    CountingPool.checks = 0
    assert sched.get_next_task() is small
    # S = 7 shapes: the five big ones are checked (and fail) before the small one fits; the
    # 10-CPU tail shape ranks below it and is never checked.
    assert CountingPool.checks == 6
    assert heap_ops == Counter({"heapify": 1, "heappop": 6})

    assert sched.cancel_task(small.task_id)
    heap_ops.clear()
    CountingPool.checks = 0
    assert sched.get_next_task() is tail[0]
    assert CountingPool.checks == 6  # the five big shapes, then the tail's shape
    assert heap_ops == Counter({"heapify": 1, "heappop": 6})


def test_best_of_the_fitting_shapes_wins_in_key_order() -> None:
    sched, hog = _hogged_scheduler(3)
    soon = to_datetime(T0 + 5)
    late = sched.schedule_task("late", lambda: None, priority="low", deadline=to_datetime(T0 + 50))
    a = sched.schedule_task("a", lambda: None, priority="low", resource_requirements={"memory": 5.0})
    b = sched.schedule_task(
        "b", lambda: None, priority="low", resource_requirements={"cpu": 20.0}, deadline=soon
    )
    # Equal priority: the earliest deadline first, then no deadline in insertion order.
    assert sched.get_next_task() is b
    assert sched.start_task(b.task_id)  # now 0 CPU is free
    assert sched.get_next_task() is late
    assert sched.start_task(late.task_id)
    assert sched.get_next_task() is a
    assert sched.start_task(a.task_id)
    assert sched.get_next_task() is None
    for task in (b, late, a):
        assert sched.complete_task(task.task_id)
    assert sched.get_next_task() is None  # the hog still holds 80 CPU
    assert sched.complete_task(hog.task_id)
    # The big tasks, higher-ranked, fit now: in insertion order, as long as CPU is free.
    started = []
    while (nxt := sched.get_next_task()) is not None:
        assert sched.start_task(nxt.task_id)
        started.append(nxt.name)
    assert started == ["big0", "big1", "big2"]


def test_stale_items_are_compacted_per_shape_and_empty_shapes_dropped() -> None:
    sched, _ = _hogged_scheduler(2_000)
    smalls = [
        sched.schedule_task(f"small{i}", lambda: None, priority="low", resource_requirements={"cpu": 10.0})
        for i in range(2_000)
    ]
    shapes = sched._queue.shapes
    assert {key: shape.live for key, shape in shapes.items()} == {
        (("cpu", 30.0),): 2_000,
        (("cpu", 10.0),): 2_000,
    }
    for task in smalls[::2] + smalls[1:1_900:2]:
        assert sched.cancel_task(task.task_id)
    for shape in shapes.values():
        assert len(shape.heap) <= 2 * shape.live + _queue._COMPACT_SLACK
    assert shapes[(("cpu", 10.0),)].live == 50
    assert sched.get_next_task() is smalls[1_901]
    for task in smalls[1_901::2]:
        assert sched.cancel_task(task.task_id)
    # The shape's last ready task left: the shape and its garbage are gone.
    assert list(shapes) == [(("cpu", 30.0),)]
    assert sched.get_queue_stats()["ready"] == 2_000
    assert sched.get_next_task() is None


def test_draining_n_tasks_costs_constant_heap_operations_per_task(heap_ops: Counter[str]) -> None:
    clock = ManualClock(T0)
    sched = IntelligentScheduler(clock=clock, retry_backoff_seconds=5.0)
    n = 3_000
    priorities = list(SchedulerPriority)
    for i in range(n):
        when = to_datetime(T0 + (i % 7))
        sched.schedule_task(f"t{i}", lambda: None, priority=priorities[i % 5], scheduled_time=when)
    victims = sched.list_tasks(limit=n // 3)
    for task in victims[::2]:
        assert sched.cancel_task(task.task_id)
    clock.advance(10)
    executed = sched.run_pending()
    assert executed == n - len(victims[::2])
    pushes, pops = heap_ops["heappush"], heap_ops["heappop"]
    # Every task is pushed at most twice (delayed, then ready) and popped at most twice;
    # stale entries are popped once or compacted away.
    assert pushes <= 2 * n
    assert pops <= 2 * n
    assert heap_ops["heapify"] <= 2 * (n // 64 + 1)
    assert sched.get_queue_stats()["states"]["completed"] == executed
