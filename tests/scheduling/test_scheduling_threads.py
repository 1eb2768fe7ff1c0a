"""Thread hammers on the IntelligentScheduler: exact invariants after heavy concurrent use."""

from __future__ import annotations

import random
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from autoopt.config import AutomationConfig
from autoopt.enums import SchedulerPriority, TaskState
from autoopt.models import ResourcePool
from autoopt.scheduling import IntelligentScheduler

N_THREADS = 8
MAX_CONCURRENT = 4
FINAL = (TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED)


class Tracker:
    """Counts executions and the resources and slots in use while tasks execute."""

    def __init__(self, pool: ResourcePool) -> None:
        self.lock = threading.Lock()
        self.executions: Counter[str] = Counter()
        self.order: dict[str, int] = {}  # name -> index of its last execution's end
        self.ends = 0
        self.active = 0
        self.max_active = 0
        self.in_use: Counter[str] = Counter()
        self.capacity = pool.capacity()
        self.over_capacity: list[dict[str, float]] = []

    def wrap(self, name: str, req: dict[str, float], fail_times: int = 0) -> Callable[[], Any]:
        def execute() -> str:
            with self.lock:
                self.executions[name] += 1
                attempt = self.executions[name]
                self.active += 1
                self.max_active = max(self.max_active, self.active)
                self.in_use.update(req)
                if any(self.in_use[k] > self.capacity[k] for k in self.in_use):
                    self.over_capacity.append(dict(self.in_use))
            try:
                sum(range(2_000))  # a little work, so executions overlap across threads
                if attempt <= fail_times:
                    raise RuntimeError(f"{name} attempt {attempt}")
                return name
            finally:
                with self.lock:
                    self.active -= 1
                    self.in_use.subtract(req)
                    self.order[name] = self.ends
                    self.ends += 1

        return execute


@pytest.fixture(autouse=True)
def _frequent_thread_switches() -> Iterator[None]:
    """Switch threads every 10 µs instead of 5 ms so the critical sections really interleave."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def check_counters(sched: IntelligentScheduler) -> None:
    counts = dict.fromkeys((s.value for s in TaskState), 0)
    for task in sched.list_tasks(limit=10**9):
        counts[task.state.value] += 1
    stats = sched.get_queue_stats()
    assert stats["states"] == counts
    assert stats["ready"] + stats["blocked"] + stats["delayed"] == counts["pending"]
    assert stats["running"] == counts["running"]
    # One ready heap per requirement shape with a ready task; drained shapes are dropped.
    lives = [shape.live for shape in sched._queue.shapes.values()]
    assert all(live > 0 for live in lives)
    assert sum(lives) == stats["ready"]


def test_hammer_manual_protocol_every_task_completes_exactly_once() -> None:
    per_thread = 60
    pool = ResourcePool(cpu=10.0, memory=10.0, io_bandwidth=10.0, network=10.0, custom={"gpu": 3.0})
    sched = IntelligentScheduler(
        AutomationConfig(max_concurrent_tasks=MAX_CONCURRENT),
        resource_pool=pool,
        retry_backoff_seconds=0.0,
        default_max_retries=3,
    )
    tracker = Tracker(pool)
    ids_lock = threading.Lock()
    all_ids: list[str] = []
    flaky: set[str] = set()
    successes: Counter[str] = Counter()
    total = N_THREADS * per_thread
    barrier = threading.Barrier(N_THREADS)
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        rng = random.Random(k)
        try:
            for i in range(per_thread):
                name = f"w{k}-t{i}"
                req = {"cpu": float(rng.choice([0, 1, 2, 5])), "gpu": float(rng.choice([0, 0, 1, 2]))}
                fail_times = 1 if rng.random() < 0.15 else 0
                with ids_lock:
                    deps = [rng.choice(all_ids)] if all_ids and rng.random() < 0.4 else None
                task = sched.schedule_task(
                    name,
                    tracker.wrap(name, req, fail_times),
                    priority=rng.choice(list(SchedulerPriority)),
                    resource_requirements=req,
                    dependencies=deps,
                )
                with ids_lock:
                    all_ids.append(task.task_id)
                    if fail_times:
                        flaky.add(name)
            barrier.wait()
            while sched.get_queue_stats()["total_completed"] < total:
                nxt = sched.get_next_task()
                if nxt is None or not sched.start_task(nxt.task_id):
                    continue  # nothing startable now, or another thread took it: ask again
                result: Any = None
                error: str | None = None
                try:
                    result = nxt.execute_fn()
                except RuntimeError as exc:
                    error = str(exc)
                assert sched.complete_task(nxt.task_id, result=result, error=error)
                if error is None:
                    with ids_lock:
                        successes[nxt.task_id] += 1
        except BaseException as exc:  # surfaced below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(N_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []

    assert len(all_ids) == len(set(all_ids)) == total
    assert successes == Counter(dict.fromkeys(all_ids, 1))  # completed exactly once
    for task_id in all_ids:
        task = sched.get_task(task_id)
        assert task is not None
        assert task.state is TaskState.COMPLETED
        assert task.result == task.name
        assert tracker.executions[task.name] == (2 if task.name in flaky else 1)
        assert task.retries == (1 if task.name in flaky else 0)
        for dep in task.dependencies:
            dep_task = sched.get_task(dep)
            assert dep_task is not None
            assert tracker.order[dep_task.name] < tracker.order[task.name]
    assert tracker.max_active <= MAX_CONCURRENT  # overlap itself is up to the OS scheduler
    assert tracker.over_capacity == []
    assert pool.available() == pool.capacity()
    stats = sched.get_queue_stats()
    assert stats["total_retried"] == len(flaky)
    assert stats["total_completed"] == total
    assert stats["running"] == 0
    check_counters(sched)


def test_hammer_run_pending_with_failures_and_cancellations() -> None:
    per_thread = 50
    pool = ResourcePool(cpu=6.0, custom={"gpu": 2.0})
    sched = IntelligentScheduler(
        AutomationConfig(max_concurrent_tasks=MAX_CONCURRENT),
        resource_pool=pool,
        retry_backoff_seconds=0.0,
        default_max_retries=1,
        history_limit=100_000,
    )
    tracker = Tracker(pool)
    ids_lock = threading.Lock()
    all_ids: list[str] = []
    cancelled_by_user: set[str] = set()
    barrier = threading.Barrier(N_THREADS)
    errors: list[BaseException] = []
    executed = [0] * N_THREADS

    def worker(k: int) -> None:
        rng = random.Random(100 + k)
        try:
            barrier.wait()
            for i in range(per_thread):
                name = f"w{k}-t{i}"
                req = {"cpu": float(rng.choice([0, 1, 3])), "gpu": float(rng.choice([0, 1]))}
                fail_times = rng.choice([0, 0, 0, 1, 5])  # 5: fails for good
                with ids_lock:
                    deps = rng.sample(all_ids, k=min(len(all_ids), rng.choice([0, 1, 2])))
                refusal = ""
                try:
                    task = sched.schedule_task(
                        name,
                        tracker.wrap(name, req, fail_times),
                        resource_requirements=req,
                        dependencies=deps,
                    )
                except ValueError as exc:  # a dependency failed or was cancelled meanwhile
                    refusal = str(exc)
                if refusal:
                    assert "could never run" in refusal
                    continue
                with ids_lock:
                    all_ids.append(task.task_id)
                if rng.random() < 0.1 and sched.cancel_task(task.task_id):
                    with ids_lock:
                        cancelled_by_user.add(task.task_id)
                if i % 5 == 0:
                    executed[k] += sched.run_pending(max_tasks=3)
            while True:
                executed[k] += sched.run_pending()
                stats = sched.get_queue_stats()
                if stats["states"]["pending"] == 0 and stats["running"] == 0:
                    break
        except BaseException as exc:  # surfaced below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(N_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []

    assert sum(executed) == sum(tracker.executions.values())
    assert tracker.max_active <= MAX_CONCURRENT
    assert tracker.over_capacity == []
    assert pool.available() == pool.capacity()
    dead = (TaskState.FAILED, TaskState.CANCELLED)
    states: Counter[TaskState] = Counter()
    for task_id in all_ids:
        task = sched.get_task(task_id)
        assert task is not None
        assert task.state in FINAL
        states[task.state] += 1
        deps = [sched.get_task(d) for d in task.dependencies]
        assert all(d is not None for d in deps)
        if task.state is TaskState.COMPLETED:
            assert all(d.state is TaskState.COMPLETED for d in deps if d is not None)
            assert tracker.executions[task.name] in (1, 2)
        elif task.state is TaskState.FAILED:
            assert tracker.executions[task.name] == 2
            assert task.retries == 1
        elif task_id not in cancelled_by_user:
            assert task.error is not None
            assert task.error.startswith("dependency ")
            assert any(d.state in dead for d in deps if d is not None)
        if any(d.state in dead for d in deps if d is not None):
            assert task.state is TaskState.CANCELLED
            assert tracker.executions[task.name] == 0
    stats = sched.get_queue_stats()
    assert stats["total_completed"] == states[TaskState.COMPLETED]
    assert stats["total_failed"] == states[TaskState.FAILED]
    assert stats["total_cancelled"] == states[TaskState.CANCELLED]
    assert states[TaskState.FAILED] > 0
    assert states[TaskState.CANCELLED] > 0
    check_counters(sched)
