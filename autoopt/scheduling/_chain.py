"""Chained claims: start a task whose referenced dependencies are still running on a cluster that passes
results between its workers (dask), and put it back when a dependency fails.

Raw dask submits a whole graph at once, each call taking its parents' futures, so no result makes a round
trip to the client between two calls. :meth:`Chaining.claim_chained` lets the scheduler's driver do the
same: a BLOCKED task may start when every dependency not yet completed is RUNNING *on the driver's
executor* and referenced in its arguments (so the cluster itself waits for it, and dependency order
holds). The references to running dependencies stay :class:`TaskResult` objects in the claim; the driver
replaces them with the executor's handles (dask futures).

When a running dependency then fails, the cluster fails the chained task too, without running it. The
driver reports that with :meth:`Chaining.release`: the task goes back to PENDING without counting an
attempt, and is re-queued the way :meth:`~IntelligentScheduler.schedule_task` would queue it, by its
dependencies' states now (blocked while one is pending or retrying, CANCELLED with its dependents when
one failed for good).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from autoopt.enums import TaskState
from autoopt.scheduling._calls import Claim, TaskResult, resolve
from autoopt.scheduling._queue import Entry, TaskQueue, Where
from autoopt.scheduling._table import TaskTable

if TYPE_CHECKING:
    from autoopt.config import AutomationConfig
    from autoopt.models import ResourcePool

__all__ = ["Chaining"]


class Chaining:
    """The scheduler's chained claims (a mixin of :class:`IntelligentScheduler`; same lock, same queues)."""

    _lock: threading.Lock
    _queue: TaskQueue
    _table: TaskTable
    _pool: ResourcePool
    _config: AutomationConfig
    _n_running: int
    _clock: Callable[[], float]
    _mark_running: Callable[[Entry, float], None]

    def dependents_of(self, task_id: str) -> list[str]:
        """Ids of the tasks still waiting on ``task_id`` (empty for an unknown or finished task)."""
        with self._lock:
            entry = self._table.entries.get(task_id)
            return [] if entry is None else [d.task.task_id for d in entry.dependents]

    def claim_chained(self, task_id: str, running: Collection[str]) -> tuple[Claim, list[str]] | None:
        """Claim BLOCKED task ``task_id`` when every unfinished dependency is in ``running`` (task ids the
        caller's executor is running) and referenced by its arguments; None when it cannot start so.

        Returns the claim, whose references to those dependencies are left
        unresolved, and their ids. Due time, ``max_concurrent_tasks`` and
        resources are checked as for :meth:`claim`.
        """
        with self._lock:
            entry = self._table.entries.get(task_id)
            if entry is None or entry.where is not Where.BLOCKED or entry.refs is None:
                return None
            now = self._clock()
            if entry.scheduled_ts > now or self._n_running >= self._config.max_concurrent_tasks:
                return None
            waiting: list[str] = []
            for dep_id in entry.task.dependencies:
                dep = entry.refs.get(dep_id) or self._table.entries.get(dep_id)
                if dep is None or dep.task.state is TaskState.COMPLETED:
                    continue  # finished (a retained-past-history dependency is in refs)
                if (
                    dep.task.state is not TaskState.RUNNING
                    or dep_id not in running
                    or dep_id not in entry.refs
                ):
                    return None
                waiting.append(dep_id)
            if not self._pool.try_allocate(entry.requirements):
                return None
            del self._queue.blocked[task_id]
            self._mark_running(entry, now)
            results = {
                tid: parent.task.result
                for tid, parent in entry.refs.items()
                if parent.task.state is TaskState.COMPLETED
            }
            args, kwargs = entry.args, entry.kwargs
            if results:
                args, kwargs = _partial(args, results), _partial(kwargs, results)
        claim = Claim(entry.task, entry.task.execute_fn, args, kwargs, -entry.rank, dict(entry.requirements))
        return claim, waiting

    def release(self, task_id: str) -> bool:
        """Put a RUNNING chained task back (a dependency it was started on did not complete); no attempt
        is counted. Returns False for an unknown task or one that is not RUNNING."""
        with self._lock:
            entry = self._table.entries.get(task_id)
            if entry is None or entry.task.state is not TaskState.RUNNING:
                return False
            now = self._clock()
            self._pool.release(entry.requirements)
            self._n_running -= 1
            self._table.set_state(entry, TaskState.PENDING)
            entry.unmet = 0
            failed: Entry | None = None
            for dep_id in entry.task.dependencies:
                dep = (entry.refs or {}).get(dep_id) or self._table.entries.get(dep_id)
                if dep is None or dep.task.state is TaskState.COMPLETED:
                    continue
                if dep.task.state in (TaskState.FAILED, TaskState.CANCELLED):
                    failed = failed or dep
                    continue
                entry.unmet += 1
                if not any(d is entry for d in dep.dependents):
                    dep.dependents.append(entry)
            if failed is not None:
                if failed.task.state is TaskState.FAILED:
                    message = (
                        f"dependency {failed.task.task_id} ({failed.task.name}) failed: {failed.task.error}"
                    )
                else:  # cancelled by a failure further up: the same message as a cascade gives
                    message = (
                        failed.task.error
                        or f"dependency {failed.task.task_id} ({failed.task.name}) was cancelled"
                    )
                self._table.cascade_cancel(self._queue, entry, message, now)
                entry.task.error = message
                self._table.finish(entry, TaskState.CANCELLED, now)
                self._table.totals["cancelled"] += 1
                return True
            self._queue.enqueue(entry, now)
        return True


class _KeepUnresolved(dict[str, Any]):
    """Results by task id; a missing id resolves to its reference itself (left for the driver)."""

    def __missing__(self, key: str) -> TaskResult:
        return TaskResult(key)


def _partial(value: Any, results: dict[str, Any]) -> Any:
    """``resolve`` for the references in ``results``, leaving the others in place."""
    return resolve(value, _KeepUnresolved(results))
