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
from autoopt.models import ResourcePool
from autoopt.scheduling import IntelligentScheduler, _scheduler

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
        monkeypatch.setattr(_scheduler, name, counting(name))
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
    assert sched.get_next_task() is ready  # drops the stale entry of the started root
    assert heap_ops == Counter({"heappop": 1})
    heap_ops.clear()
    CountingPool.checks = 0
    for _ in range(100):
        assert sched.get_next_task() is ready
    # A peek reads the top of the ready heap: no pushes, no pops, one fit check per call.
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


def test_non_fitting_tasks_cost_one_pop_and_push_each(heap_ops: Counter[str]) -> None:
    pool = CountingPool(cpu=100.0)
    sched = IntelligentScheduler(resource_pool=pool, clock=ManualClock(T0))
    hog = sched.schedule_task("hog", lambda: None, priority="critical", resource_requirements={"cpu": 60.0})
    assert sched.start_task(hog.task_id)
    for i in range(5):
        sched.schedule_task(f"big{i}", lambda: None, priority="high", resource_requirements={"cpu": 50.0})
    small = sched.schedule_task("small", lambda: None, priority="low", resource_requirements={"cpu": 10.0})
    for i in range(1_000):
        sched.schedule_task(
            f"tail{i}", lambda: None, priority="background", resource_requirements={"cpu": 10.0}
        )
    assert sched.get_next_task() is small  # also drops the stale entry of the started hog
    heap_ops.clear()
    CountingPool.checks = 0
    assert sched.get_next_task() is small
    # k = 5 higher-ranked tasks did not fit: each was popped and pushed back once;
    # the 1,000 lower-ranked tasks were never looked at.
    assert heap_ops == Counter({"heappop": 5, "heappush": 5})
    assert CountingPool.checks == 6


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
