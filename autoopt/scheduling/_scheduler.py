"""The :class:`IntelligentScheduler`: a priority heap over a dependency graph.

Its PENDING tasks wait in a :class:`~autoopt.scheduling._queue.TaskQueue`
(blocked, delayed, or ready by requirement shape; see that module); this
module holds the public API, the state transitions, the history and the
synchronous driver.
"""

from __future__ import annotations

import logging
import math
import numbers
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from autoopt._clock import Clock, system_clock, to_datetime
from autoopt._validation import (
    check_callable,
    check_enum,
    check_int,
    check_limit,
    check_real,
    check_size,
    check_str,
    check_sync_callable,
    describe_exception,
)
from autoopt.config import AutomationConfig, check_config
from autoopt.core.backoff import backoff_delay
from autoopt.enums import SchedulerPriority, TaskState
from autoopt.execution import run_call
from autoopt.models import ResourcePool, ScheduledTask, new_id
from autoopt.scheduling._calls import Claim, TaskResult, resolve
from autoopt.scheduling._chain import Chaining
from autoopt.scheduling._checks import check_call, check_dependency_ids, check_task_id, check_time
from autoopt.scheduling._queue import Entry, TaskQueue, Where
from autoopt.scheduling._run import Drivers
from autoopt.scheduling._table import TaskTable

__all__ = ["IntelligentScheduler"]

logger = logging.getLogger(__name__)


class IntelligentScheduler(Chaining, Drivers):
    """Priority-, deadline-, dependency- and resource-aware task scheduler.

    Tasks are scheduled with :meth:`schedule_task` and then driven either by
    hand (:meth:`get_next_task` → :meth:`start_task` → run ``execute_fn`` →
    :meth:`complete_task`, as in the seed example) or by the thin synchronous
    driver :meth:`run_pending`, which runs that very loop.

    Parameters
    ----------
    config : AutomationConfig, optional
        Supplies ``max_concurrent_tasks`` (10 by default), read live: a
        change to the config applies to the next task started (tasks already
        running are not stopped).
    resource_pool : ResourcePool, optional
        The resources tasks compete for; a fresh default pool (100 of each
        standard resource) if omitted. The pool may be shared with other
        code, but a task is only accepted if its requirements fit the pool's
        starting capacity.
    clock : Clock
        Zero-argument callable returning POSIX seconds; it decides when a task
        is due, its backoff and every timestamp on the record.
    default_max_retries : int
        ``max_retries`` of new tasks unless :meth:`schedule_task` is given one.
    retry_backoff_seconds : float
        Base of the exponential retry backoff; 0 retries immediately.
    max_backoff_seconds : float
        Cap of the backoff.
    history_limit : int
        Most finished (COMPLETED, FAILED, CANCELLED) tasks retained; the
        oldest finished are forgotten first. Unfinished tasks are always kept.

    Notes
    -----
    **Order.** Among the *ready* tasks (every dependency COMPLETED and
    ``scheduled_time`` reached) the next task is the one with the smallest
    ``(priority rank, deadline or +inf, scheduled_time, insertion order)``
    that fits the currently free resources: a task too big for what is free
    now does not block a smaller one behind it. There is no reservation, so a
    steady stream of small tasks can postpone a big one. Deadlines order the
    queue (earliest deadline first within a priority); they are not enforced.

    **States.** ``PENDING`` means waiting, for dependencies, for its time
    (including a retry backoff) or for a slot; ``RUNNING``, ``COMPLETED``,
    ``FAILED`` and ``CANCELLED`` are what they say. ``TaskState.SCHEDULED``
    and ``TaskState.DEFERRED`` exist in the enum for API compatibility and
    are never used: a DEFERRED state for tasks in backoff would have to turn
    PENDING the moment the clock passes their time, which cannot be kept
    exact without scanning, so a waiting task is always PENDING and
    :meth:`get_queue_stats` tells the *ready*, *blocked* and *delayed* queues
    apart.

    **Retries.** ``complete_task(task_id, error=...)`` retries a task while
    ``task.retries < task.max_retries`` (read from the live record, so
    changing it takes effect): ``retries`` grows by one and the task becomes
    due ``min(max_backoff_seconds, retry_backoff_seconds * 2 ** (retries - 1))``
    seconds later. Otherwise the task FAILS and every task that depends on it,
    directly or transitively, is CANCELLED with the error
    ``"dependency <id> (<name>) failed: <error>"``; :meth:`cancel_task`
    cascades the same way. No task waits forever on a task that cannot
    complete. A task that COMPLETES after failed attempts has its ``error``
    reset to None; ``completed_at`` is set on reaching any final state.

    **History.** A new task may only depend on retained tasks: once a
    finished task is evicted from the history its id is unknown. Depending
    on a FAILED or CANCELLED task is refused, since such a task could never
    run.

    **Complexity.** With *n* queued tasks, scheduling costs O(log n + number
    of dependencies); starting, completing and cancelling cost O(log n)
    amortised plus O(out-degree) for unblocking or cascading.
    :meth:`get_next_task` and each round of :meth:`run_pending` cost
    O(S + k log S) plus amortised O(log n) for dropping stale heap items,
    with at most S resource checks, where *S* is the number of distinct
    requirement shapes among the ready tasks and *k* the number of shapes
    whose best task ranks higher than the chosen one but does not fit: ready
    tasks that do not fit are never popped, however many there are. S is
    small in practice (tasks come in a few sizes); the worst case is S = n,
    when every ready task asks for different amounts. Blocked and delayed
    tasks are never looked at, and nothing scans or sorts all tasks.
    :meth:`list_tasks` is O(limit) and :meth:`get_queue_stats` reads running
    counters.

    Thread safety
    -------------
    All scheduler state is guarded by one lock, taken by every public method
    for a short, bounded critical section. The resource pool has its own lock
    and is only entered while the scheduler lock is held (never the other way
    round), so the two cannot deadlock. The clock is read under the lock, so
    operations see it in the order they happen; it must be cheap and must not
    call into the scheduler. User code, ``execute_fn``, is never called under
    the lock: :meth:`run_pending` claims a task atomically
    (select and start in one critical section), releases the lock, runs the
    task, and reports back through :meth:`complete_task`. Under concurrency
    the task returned by :meth:`get_next_task` may be taken by another
    thread before :meth:`start_task` is called; ``start_task`` then returns
    False and the caller asks again.

    Examples
    --------
    >>> from autoopt._clock import ManualClock
    >>> from autoopt.enums import SchedulerPriority
    >>> from autoopt.scheduling import IntelligentScheduler
    >>> clock = ManualClock(1_000.0)
    >>> sched = IntelligentScheduler(clock=clock)
    >>> prep = sched.schedule_task("preprocess", lambda: 21, priority=SchedulerPriority.HIGH,
    ...                            resource_requirements={"cpu": 30.0, "memory": 20.0})
    >>> train = sched.schedule_task("train", lambda: 2 * prep.result, dependencies=[prep.task_id])
    >>> sched.get_next_task().name
    'preprocess'
    >>> sched.run_pending()
    2
    >>> train.state, train.result
    (<TaskState.COMPLETED: 'completed'>, 42)

    Failures are retried with exponential backoff, read from the clock:

    >>> flaky = sched.schedule_task("flaky", lambda: 1 / 0)
    >>> flaky.max_retries = 1
    >>> sched.run_pending()
    1
    >>> flaky.state, flaky.retries, flaky.error
    (<TaskState.PENDING: 'pending'>, 1, 'ZeroDivisionError: division by zero')
    >>> sched.run_pending()  # due in 1 s; nothing sleeps
    0
    >>> _ = clock.advance(1.0)
    >>> sched.run_pending(), flaky.state
    (1, <TaskState.FAILED: 'failed'>)
    """

    def __init__(
        self,
        config: AutomationConfig | None = None,
        *,
        resource_pool: ResourcePool | None = None,
        clock: Clock = system_clock,
        default_max_retries: int = 3,
        retry_backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 300.0,
        history_limit: int = 10_000,
    ) -> None:
        arg = "IntelligentScheduler() argument"
        config = check_config(config, "IntelligentScheduler()")
        if resource_pool is None:
            resource_pool = ResourcePool()
        elif not isinstance(resource_pool, ResourcePool):
            raise TypeError(
                f"{arg} 'resource_pool' must be a ResourcePool or None; "
                f"got {resource_pool!r} of type {type(resource_pool).__name__}."
            )
        check_sync_callable(clock, f"{arg} 'clock'")
        self._default_max_retries = check_int(default_max_retries, f"{arg} 'default_max_retries'", low=0)
        self._retry_backoff = check_real(retry_backoff_seconds, f"{arg} 'retry_backoff_seconds'", low=0.0)
        self._max_backoff = check_real(max_backoff_seconds, f"{arg} 'max_backoff_seconds'", low=0.0)
        self._history_limit = check_size(history_limit, f"{arg} 'history_limit'", low=0)
        self._config = config
        self._pool = resource_pool
        self._clock = clock
        self._capacity = resource_pool.capacity()

        self._lock = threading.Lock()
        self._table = TaskTable(self._history_limit)
        self._queue = TaskQueue(resource_pool)
        self._n_running = 0
        self._seq = 0

    # ------------------------------------------------------------------ properties

    @property
    def config(self) -> AutomationConfig:
        """The configuration given at construction."""
        return self._config

    @property
    def resource_pool(self) -> ResourcePool:
        """The resource pool tasks allocate from."""
        return self._pool

    @property
    def max_concurrent_tasks(self) -> int:
        """Most tasks RUNNING at once (the config's live value)."""
        return self._config.max_concurrent_tasks

    # ------------------------------------------------------------------ public API

    def schedule_task(
        self,
        name: str,
        execute_fn: Callable[[], Any],
        priority: SchedulerPriority | str = SchedulerPriority.NORMAL,
        scheduled_time: datetime | None = None,
        deadline: datetime | None = None,
        resource_requirements: dict[str, float] | None = None,
        dependencies: list[str] | None = None,
        *,
        max_retries: int | None = None,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> ScheduledTask:
        """Add a task and return its live record.

        Parameters
        ----------
        name : str
            Non-empty display name.
        execute_fn : callable
            Does the work, called as ``execute_fn(*args, **kwargs)``. An
            ``async def`` function (or one returning an awaitable) is awaited
            where it runs.
        priority : SchedulerPriority or str
            Most urgent first; ``"high"`` is accepted for ``SchedulerPriority.HIGH``.
        scheduled_time : datetime, optional
            Earliest start (naive = UTC); now if omitted.
        deadline : datetime, optional
            Orders tasks of equal priority, earliest first; must not precede
            ``scheduled_time``.
        resource_requirements : dict of str to float, optional
            Amounts of pool resources held while the task runs; each must be
            known to the pool and at most its capacity.
        dependencies : list of str, optional
            Ids of retained, not FAILED or CANCELLED tasks that must COMPLETE
            first; no duplicates.
        max_retries : int, optional
            Keyword-only; defaults to the scheduler's ``default_max_retries``.
        args, kwargs : optional
            Keyword-only: the call's arguments. Any of them (also inside
            lists, tuples, sets and dict values) may be a reference
            :meth:`result_of` made; the driver replaces it by that task's
            result before the call is submitted, so a call can run in
            another process or on another machine. A referenced task becomes
            a dependency, and its result is kept, even past
            ``history_limit``, until this task finishes.

        Returns
        -------
        ScheduledTask
            The live record, the object :meth:`get_task` returns.

        Raises
        ------
        TypeError, ValueError
            On bad input, naming the argument; nothing is recorded then.
        """
        arg = "schedule_task() argument"
        check_str(name, f"{arg} 'name'")
        check_callable(execute_fn, f"{arg} 'execute_fn'")
        call_args, call_kwargs, refs = check_call(args, kwargs, arg)
        prio = check_enum(priority, SchedulerPriority, f"{arg} 'priority'")
        sched_ts = check_time(scheduled_time, f"{arg} 'scheduled_time'")
        deadline_ts = check_time(deadline, f"{arg} 'deadline'")
        req = self._pool.check_requirements(resource_requirements, f"{arg} 'resource_requirements'")
        for key, amount in req.items():
            if amount > self._capacity[key]:
                raise ValueError(
                    f"{arg} 'resource_requirements' asks for {amount:g} of {key!r} but the pool's "
                    f"capacity is {self._capacity[key]:g}; the task could never run."
                )
        deps = check_dependency_ids(dependencies, f"{arg} 'dependencies'")
        deps = deps + tuple(
            dict.fromkeys(r for r in refs if r not in deps)
        )  # a referenced task is a dependency
        retries_cap = (
            self._default_max_retries
            if max_retries is None
            else check_int(max_retries, f"{arg} 'max_retries'", low=0)
        )
        with self._lock:
            now = self._clock()
            start_ts = now if sched_ts is None else sched_ts
            if deadline_ts is not None and deadline_ts < start_ts:
                raise ValueError(
                    f"{arg} 'deadline' ({to_datetime(deadline_ts).isoformat()}) must not precede the "
                    f"scheduled time ({to_datetime(start_ts).isoformat()})."
                )
            parents: list[Entry] = []
            for dep_id in deps:
                parent = self._table.entries.get(dep_id)
                if parent is None:
                    raise ValueError(
                        f"{arg} 'dependencies' names an unknown task id {dep_id!r}; a task can only "
                        "depend on tasks already scheduled and still retained."
                    )
                if parent.task.state in (TaskState.FAILED, TaskState.CANCELLED):
                    raise ValueError(
                        f"{arg} 'dependencies' names task {dep_id!r} ({parent.task.name}), which is "
                        f"{parent.task.state.value}; the task could never run."
                    )
                parents.append(parent)

            # Everything is valid: record.
            self._seq += 1
            task = ScheduledTask(
                task_id=new_id(),
                name=name,
                priority=prio,
                state=TaskState.PENDING,
                execute_fn=execute_fn,
                scheduled_time=to_datetime(start_ts),
                deadline=None if deadline_ts is None else to_datetime(deadline_ts),
                resource_requirements=dict(req),
                dependencies=list(deps),
                max_retries=retries_cap,
                created_at=to_datetime(now),
                args=call_args,
                kwargs=dict(call_kwargs),
            )
            entry = Entry(
                task,
                self._seq,
                prio.rank,
                math.inf if deadline_ts is None else deadline_ts,
                start_ts,
                req,
            )
            entry.args, entry.kwargs = call_args, call_kwargs
            if refs:
                entry.refs = {p.task.task_id: p for p in parents if p.task.task_id in refs}
            for parent in parents:
                if parent.task.state is not TaskState.COMPLETED:
                    entry.unmet += 1
                    parent.dependents.append(entry)
            self._table.add(entry)
            self._queue.enqueue(entry, now)
            where = entry.where
        logger.debug("scheduled task %s (%s), priority %s, %s", task.task_id, name, prio.value, where.value)
        return task

    def get_task(self, task_id: str) -> ScheduledTask | None:
        """The live record of ``task_id``, or None if unknown (or evicted from the history)."""
        check_task_id(task_id, "get_task")
        with self._lock:
            entry = self._table.entries.get(task_id)
        if entry is None:
            logger.debug("get_task(): unknown task id %r", task_id)
            return None
        return entry.task

    def result_of(self, task_id: str) -> TaskResult:
        """A reference to the result of task ``task_id``, for the ``args``/``kwargs`` of later tasks.

        Raises
        ------
        ValueError
            For an unknown (or evicted) task id.
        """
        check_task_id(task_id, "result_of")
        with self._lock:
            known = task_id in self._table.entries
        if not known:
            raise ValueError(f"result_of() argument 'task_id' names an unknown task id {task_id!r}.")
        return TaskResult(task_id)

    def claim(self) -> Claim | None:
        """Atomically take the next task to run: select it, allocate its resources, mark it RUNNING.

        What :meth:`get_next_task` followed by :meth:`start_task` does, in
        one critical section, so two executors never take the same task.
        The returned :class:`Claim` carries the call with its
        :meth:`result_of` references resolved; report the outcome with
        :meth:`complete_task`. None when nothing can start now.
        """
        with self._lock:
            now = self._clock()
            self._queue.promote_due(now)
            if self._n_running >= self._config.max_concurrent_tasks:
                return None
            entry = self._queue.select(allocate=True)
            if entry is None:
                return None
            self._queue.leave(entry)
            self._mark_running(entry, now)
            args, kwargs = entry.args, entry.kwargs
            if entry.refs:
                results = {tid: parent.task.result for tid, parent in entry.refs.items()}
                args, kwargs = resolve(args, results), resolve(kwargs, results)
        return Claim(entry.task, entry.task.execute_fn, args, kwargs, -entry.rank, dict(entry.requirements))

    def next_due(self) -> float | None:
        """POSIX time at which the earliest delayed task (a future ``scheduled_time`` or a retry backoff)
        becomes due; None when no task is delayed."""
        with self._lock:
            return self._queue.next_due()

    def cancel_task(self, task_id: str) -> bool:
        """Cancel a PENDING task and, transitively, every task waiting on it.

        Dependents are CANCELLED with the error
        ``"dependency <task_id> (<name>) was cancelled"``.

        Returns
        -------
        bool
            True if the task was PENDING and is now CANCELLED; False for an
            unknown, RUNNING or finished task.
        """
        check_task_id(task_id, "cancel_task")
        with self._lock:
            entry = self._table.entries.get(task_id)
            if entry is None:
                logger.debug("cancel_task(): unknown task id %r", task_id)
                return False
            task = entry.task
            if task.state is not TaskState.PENDING:
                logger.debug(
                    "cancel_task(): task %s (%s) is %s, not pending", task_id, task.name, task.state.value
                )
                return False
            now = self._clock()
            self._queue.leave(entry)
            n_cascaded = self._table.cascade_cancel(
                self._queue, entry, f"dependency {task_id} ({task.name}) was cancelled", now
            )
            self._table.finish(entry, TaskState.CANCELLED, now)
            self._table.totals["cancelled"] += 1
        logger.info("cancelled task %s (%s) and %d dependent task(s)", task_id, task.name, n_cascaded)
        return True

    def get_next_task(self) -> ScheduledTask | None:
        """Peek at the task that should start next; changes no task's state.

        Returns the highest-ranked ready task that fits the currently free
        resources, or None when ``max_concurrent_tasks`` tasks are running or
        no ready task fits. Due delayed tasks are moved to the ready heaps on
        the way (an internal step that changes no state).
        """
        with self._lock:
            self._queue.promote_due(self._clock())
            if self._n_running >= self._config.max_concurrent_tasks:
                return None
            entry = self._queue.select(allocate=False)
        return None if entry is None else entry.task

    def start_task(self, task_id: str) -> bool:
        """Start a ready task: allocate its resources and mark it RUNNING.

        Returns
        -------
        bool
            True if the task was PENDING with every dependency COMPLETED, due,
            within ``max_concurrent_tasks`` and its resources were free (they
            are now allocated); False otherwise (the reason is logged at DEBUG).
        """
        check_task_id(task_id, "start_task")
        with self._lock:
            entry = self._table.entries.get(task_id)
            if entry is None:
                reason = "unknown task id"
            elif entry.task.state is not TaskState.PENDING:
                reason = f"task is {entry.task.state.value}, not pending"
            else:
                now = self._clock()
                self._queue.promote_due(now)
                if entry.where is Where.BLOCKED:
                    reason = f"waiting for {entry.unmet} unfinished dependencies"
                elif entry.where is Where.DELAYED:
                    reason = f"not due before {to_datetime(entry.scheduled_ts).isoformat()}"
                elif self._n_running >= self._config.max_concurrent_tasks:
                    reason = f"{self._n_running} tasks running, the maximum"
                elif not self._pool.try_allocate(entry.requirements):
                    reason = f"resources {entry.requirements} not available"
                else:
                    self._queue.leave(entry)
                    self._mark_running(entry, now)
                    return True
        logger.debug("start_task(%r) refused: %s", task_id, reason)
        return False

    def complete_task(self, task_id: str, result: Any = None, error: str | None = None) -> bool:
        """Report the outcome of a RUNNING task and release its resources.

        Parameters
        ----------
        task_id : str
        result : object, optional
            Stored on success (ignored when ``error`` is given).
        error : str, optional
            None for success: the task COMPLETES and unblocks its dependents.
            Otherwise the task is retried (see the class notes) or FAILS,
            cancelling its transitive dependents.

        Returns
        -------
        bool
            False for an unknown task or one that is not RUNNING.
        """
        check_task_id(task_id, "complete_task")
        if error is not None and not isinstance(error, str):
            raise TypeError(
                "complete_task() argument 'error' must be a str or None; "
                f"got {error!r} of type {type(error).__name__}."
            )
        with self._lock:
            entry = self._table.entries.get(task_id)
            if entry is None or entry.task.state is not TaskState.RUNNING:
                state = "unknown" if entry is None else entry.task.state.value
                logger.debug("complete_task(%r) refused: task is %s, not running", task_id, state)
                return False
            now = self._clock()
            task = entry.task
            self._pool.release(entry.requirements)
            self._n_running -= 1
            if error is None:
                task.result = result
                task.error = None
                self._table.finish(entry, TaskState.COMPLETED, now)
                self._table.totals["completed"] += 1
                for child in entry.dependents:
                    if child.where is Where.BLOCKED:
                        child.unmet -= 1
                        if child.unmet == 0:
                            del self._queue.blocked[child.task.task_id]
                            self._queue.enqueue(child, now)
                    elif child.where is Where.RUNNING:  # chained: it could not start before this
                        child.task.started_at = to_datetime(now)
                entry.dependents = []
                outcome = "completed"
            else:
                task.error = error
                if task.retries < self._live_max_retries(task):
                    task.retries += 1
                    entry.scheduled_ts = now + self._backoff(task.retries)
                    task.scheduled_time = to_datetime(entry.scheduled_ts)
                    task.result = None
                    self._table.set_state(entry, TaskState.PENDING)
                    self._table.totals["retried"] += 1
                    self._queue.enqueue(entry, now)
                    outcome = f"failed; retry {task.retries}/{task.max_retries} due {task.scheduled_time.isoformat()}"
                else:
                    n_cascaded = self._table.cascade_cancel(
                        self._queue, entry, f"dependency {task_id} ({task.name}) failed: {error}", now
                    )
                    self._table.finish(entry, TaskState.FAILED, now)
                    self._table.totals["failed"] += 1
                    outcome = f"failed for good after {task.retries} retries; cancelled {n_cascaded} dependent task(s)"
        if error is None:
            logger.debug("task %s (%s) %s", task_id, task.name, outcome)
        else:
            logger.info("task %s (%s) %s: %s", task_id, task.name, outcome, error)
        return True

    def get_queue_stats(self) -> dict[str, Any]:
        """Counters of the scheduler, from running counts (no scan).

        Returns
        -------
        dict
            ``states`` (tasks retained per :class:`TaskState` value),
            ``total_tasks`` (retained), the queue sizes ``ready``, ``blocked``,
            ``delayed`` (these three add up to ``states["pending"]``) and
            ``running``, ``max_concurrent_tasks``, ``available_resources``,
            ``resource_capacity``, ``history_limit`` and the lifetime totals
            ``total_scheduled``, ``total_completed``, ``total_failed``,
            ``total_cancelled``, ``total_retried`` and ``total_evicted``.
        """
        with self._lock:
            self._queue.promote_due(self._clock())
            return {
                "total_tasks": len(self._table.entries),
                "states": {state.value: len(tasks) for state, tasks in self._table.by_state.items()},
                "ready": self._queue.n_ready,
                "blocked": len(self._queue.blocked),
                "delayed": self._queue.n_delayed,
                "running": self._n_running,
                "max_concurrent_tasks": self._config.max_concurrent_tasks,
                "available_resources": self._pool.available(),
                "resource_capacity": dict(self._capacity),
                "history_limit": self._history_limit,
                **{f"total_{key}": value for key, value in self._table.totals.items()},
            }

    def list_tasks(self, state: TaskState | str | None = None, limit: int = 100) -> list[ScheduledTask]:
        """The newest ``limit`` retained tasks, newest first.

        Without ``state``, newest means most recently scheduled; with
        ``state``, most recently entered that state (for a finished state:
        most recently finished). O(limit).
        """
        wanted = None if state is None else check_enum(state, TaskState, "list_tasks() argument 'state'")
        n = check_limit(limit, "list_tasks() argument 'limit'")
        with self._lock:
            source = self._table.entries if wanted is None else self._table.by_state[wanted]
            return [entry.task for entry in islice(reversed(source.values()), n)]

    def run_pending(self, max_tasks: int | None = None) -> int:
        """Run ready tasks synchronously until none can start; never sleeps.

        Each round claims the next task atomically (as :meth:`get_next_task`
        followed by :meth:`start_task`), calls its ``execute_fn`` outside the
        lock and reports the outcome with :meth:`complete_task`: the return
        value on success, ``"<ExceptionType>: <message>"`` (logged as a
        warning) when it raises. Tasks waiting for their time are left for a
        later call. Safe to call from several threads at once.

        Parameters
        ----------
        max_tasks : int, optional
            Stop after this many executions (retries count); no limit if None.

        Returns
        -------
        int
            The number of executions.
        """
        limit = (
            None if max_tasks is None else check_int(max_tasks, "run_pending() argument 'max_tasks'", low=0)
        )
        executed = 0
        while limit is None or executed < limit:
            claim = self.claim()
            if claim is None:
                break
            task = claim.task
            executed += 1
            try:
                result = run_call(claim.fn, claim.args, claim.kwargs)
            except BaseException as exc:
                message = describe_exception(exc)
                logger.warning("task %s (%s) raised %s", task.task_id, task.name, message)
                self.complete_task(task.task_id, error=message)
                if not isinstance(exc, Exception):
                    raise
            else:
                self.complete_task(task.task_id, result=result)
        return executed

    # ------------------------------------------------------------------ internals (lock held)

    def _mark_running(self, entry: Entry, now: float) -> None:
        entry.where = Where.RUNNING
        self._n_running += 1
        self._table.set_state(entry, TaskState.RUNNING)
        entry.task.started_at = to_datetime(now)

    def _backoff(self, retries: int) -> float:
        """``min(max_backoff, base * 2 ** (retries - 1))`` without float overflow."""
        return backoff_delay(retries, self._retry_backoff, 2.0, self._max_backoff)

    @staticmethod
    def _live_max_retries(task: ScheduledTask) -> int:
        value = task.max_retries
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
        logger.warning(
            "task %s (%s) has an invalid max_retries %r (not an int); not retrying it",
            task.task_id,
            task.name,
            value,
        )
        return 0
