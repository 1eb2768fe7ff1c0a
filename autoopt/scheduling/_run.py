"""The scheduler's drivers: one decision loop (claim, submit, collect, wait) with thin sync and async drivers.

:class:`RunLoop` decides and records; it never blocks. :func:`run_sync` waits
on the executor's futures with :func:`concurrent.futures.wait` and sleeps with
the injected ``sleep``; :func:`run_async` awaits them in the running event
loop. So :meth:`IntelligentScheduler.run` and :meth:`~IntelligentScheduler.arun`
make the same decisions in the same order.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import itertools
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal, cast

from autoopt._validation import check_int, check_sync_callable, describe_exception
from autoopt.execution import ChainingExecutor, Executor, InlineExecutor
from autoopt.scheduling._calls import Claim, resolve

if TYPE_CHECKING:
    from autoopt.scheduling._scheduler import IntelligentScheduler

__all__ = ["Drivers", "RunLoop", "run_async", "run_sync"]

logger = logging.getLogger(__name__)

Until = Literal["idle", "all"]

WAIT_FOR_CALLS = -1.0
"""What :meth:`RunLoop.decide` returns to wait for the calls in flight (a sleep is never negative)."""


class RunLoop:
    """What :meth:`IntelligentScheduler.run` does, without the waiting.

    - :meth:`fill` claims ready tasks and submits them while fewer than the
      executor's ``max_workers`` calls are in flight (the scheduler's own
      ``max_concurrent_tasks`` and resource pool also bound each claim);
    - :meth:`collect` reports finished calls with ``complete_task``;
    - :meth:`decide` says what the driver does next: wait for the calls in
      flight, sleep until the next delayed task (a future ``scheduled_time``
      or a retry backoff) is due (``until="all"``), or stop.
    """

    def __init__(
        self,
        scheduler: IntelligentScheduler,
        executor: Executor,
        until: Until,
        max_tasks: int | None,
        progress: Any = None,
    ) -> None:
        self.scheduler = scheduler
        self.executor = executor
        self.until = until
        self.max_tasks = max_tasks
        self.progress = progress
        self.in_flight: dict[cf.Future[Any], Claim] = {}
        self.running: dict[str, cf.Future[Any]] = {}  # task id -> its call, while in flight
        # Chaining (executors whose handles pass results between calls, dask): the calls started on
        # running dependencies, the tasks to try chaining, and calls reported before their dependencies.
        self.chaining = executor if isinstance(executor, ChainingExecutor) else None
        self.waiting_on: dict[cf.Future[Any], list[cf.Future[Any]]] = {}  # call -> its dependencies' calls
        self.candidates: dict[str, None] = {}
        self.deferred: list[cf.Future[Any]] = []
        self.finished: queue.SimpleQueue[cf.Future[Any]] = queue.SimpleQueue()  # filled by done-callbacks
        self.notify: Callable[[], Any] | None = None  # called after each put (the async driver's wake-up)
        self.executed = 0
        self.calls = itertools.count()
        self.interrupt: BaseException | None = None  # a KeyboardInterrupt (or the like) a call raised

    @property
    def exhausted(self) -> bool:
        return self.max_tasks is not None and self.executed >= self.max_tasks

    def fill(self) -> None:
        """Claim and submit ready tasks while there is room (then, on a chaining executor, the blocked
        tasks whose unfinished dependencies it is running)."""
        while self._room():
            claim = self.scheduler.claim()
            if claim is None:
                break
            self._submit(claim, [])
        chaining = self.chaining  # None unless the executor chains (then candidates exist)
        while chaining is not None and self.candidates and self._room():
            task_id = next(iter(self.candidates))
            del self.candidates[task_id]
            got = self.scheduler.claim_chained(task_id, self.running)
            if got is None:
                continue
            claim, waiting = got
            parents = [self.running[p] for p in waiting]
            handles = {p: chaining.handle(f) for p, f in zip(waiting, parents, strict=True)}
            claim = replace(claim, args=resolve(claim.args, handles), kwargs=resolve(claim.kwargs, handles))
            self._submit(claim, parents)

    def _room(self) -> bool:
        return len(self.in_flight) < self.executor.max_workers and not self.exhausted

    def _submit(self, claim: Claim, waiting: list[cf.Future[Any]]) -> None:
        task = claim.task
        try:
            future = self.executor.submit_task(
                claim.fn,
                claim.args,
                claim.kwargs,
                priority=claim.priority,
                resources=claim.resources,
                key=f"{task.name}-{task.task_id}-{next(self.calls)}",  # unique per call: a released task reruns
            )
        except BaseException as exc:  # refused at submission (an impossible resource request, say)
            self.scheduler.complete_task(task.task_id, error=f"submission failed: {describe_exception(exc)}")
            raise
        self.executed += 1
        self.in_flight[future] = claim
        if self.chaining is not None:  # only chaining looks a running task's call up by its id
            self.running[task.task_id] = future
            if waiting:
                self.waiting_on[future] = waiting
            self.candidates.update(dict.fromkeys(self.scheduler.dependents_of(task.task_id)))
        future.add_done_callback(self._on_done)  # O(1) per completion, whatever is in flight

    def _on_done(self, future: cf.Future[Any]) -> None:
        self.finished.put(future)
        if self.notify is not None:
            self.notify()

    def take_finished(self, block: bool) -> list[cf.Future[Any]]:
        """The calls finished so far (waiting for one first if ``block``)."""
        done = [self.finished.get()] if block else []
        while True:
            try:
                done.append(self.finished.get_nowait())
            except queue.Empty:
                return done

    def collect(self, done: Iterable[cf.Future[Any]]) -> None:
        """Report each finished call's result or error (a chained call after the calls it was started on)."""
        if not self.waiting_on and not self.deferred:  # nothing chained: report in the order they finished
            for future in done:
                self._collect_one(future)
            return
        pending = [*self.deferred, *done]
        self.deferred = []
        while pending:
            ready: list[cf.Future[Any]] = []
            later: list[cf.Future[Any]] = []
            for f in pending:
                waits = any(p in self.in_flight for p in self.waiting_on.get(f, ()))
                (later if waits else ready).append(f)
            if not ready:
                self.deferred = later  # their dependencies' calls have not been reported yet
                return
            for future in ready:
                self._collect_one(future)
            pending = later

    def _collect_one(self, future: cf.Future[Any]) -> None:
        claim = self.in_flight.pop(future)
        task = claim.task
        self.running.pop(task.task_id, None)
        waiting = self.waiting_on.pop(future, None)
        try:
            result = future.result()
        except BaseException as exc:
            if waiting and any(p.cancelled() or p.exception() is not None for p in waiting):
                # The cluster failed it because a dependency it was chained on failed: not its own failure.
                self.scheduler.release(task.task_id)
                self.executed -= 1
                return
            message = describe_exception(exc)
            logger.warning("task %s (%s) raised %s", task.task_id, task.name, message)
            self.scheduler.complete_task(task.task_id, error=message)
            if not isinstance(exc, Exception) and self.interrupt is None:
                self.interrupt = exc
        else:
            if (
                self.chaining is not None
            ):  # blocked dependents may now chain on their other, running dependencies
                self.candidates.update(dict.fromkeys(self.scheduler.dependents_of(task.task_id)))
            self.scheduler.complete_task(task.task_id, result=result)
        if self.progress is not None:
            self.progress.update(1)

    def decide(self, clock: Callable[[], float]) -> float | None:
        """The next move, after re-raising an interrupt a call raised and submitting what can start.

        Returns :data:`WAIT_FOR_CALLS` to wait for the calls in flight, the
        seconds (>= 0) to sleep until a delayed task is due (``until="all"``),
        or None to stop.
        """
        if self.interrupt is not None:
            raise self.interrupt
        self.fill()
        if self.in_flight:
            return WAIT_FOR_CALLS
        if self.until == "idle" or self.exhausted:
            return None
        due = self.scheduler.next_due()
        return None if due is None else max(0.0, due - clock())

    def abandon(self, exc: BaseException) -> None:
        """The driver is leaving early: record an error for every call still in flight (a late result is
        then refused by ``complete_task``), so no task stays RUNNING."""
        for future, claim in list(self.in_flight.items()):
            future.cancel()
            self.scheduler.complete_task(
                claim.task.task_id, error=f"run() interrupted by {type(exc).__name__} while the task ran"
            )
        self.in_flight.clear()
        self.running.clear()
        self.waiting_on.clear()
        self.deferred.clear()


def run_sync(loop: RunLoop, sleep: Callable[[float], Any], clock: Callable[[], float]) -> int:
    """Drive ``loop`` in this thread until it stops; return the number of calls made.

    It blocks on the queue the futures' done-callbacks fill, then takes every call finished by then.
    """
    try:
        while (move := loop.decide(clock)) is not None:
            if move == WAIT_FOR_CALLS:
                loop.collect(loop.take_finished(block=True))
            else:
                sleep(move)
        return loop.executed
    except BaseException as exc:
        loop.abandon(exc)
        raise


async def run_async(
    loop: RunLoop, sleep: Callable[[float], Awaitable[Any]], clock: Callable[[], float]
) -> int:
    """Drive ``loop`` in the running event loop until it stops; return the number of calls made.

    The done-callbacks wake it through an :class:`asyncio.Event` set thread-safely.
    """
    aloop = asyncio.get_running_loop()
    woken = asyncio.Event()
    loop.notify = lambda: aloop.call_soon_threadsafe(woken.set)
    try:
        while (move := loop.decide(clock)) is not None:
            if move != WAIT_FOR_CALLS:
                await sleep(move)
                continue
            woken.clear()  # cleared before looking, so a call finishing meanwhile still wakes us
            done = loop.take_finished(block=False)
            if not done:
                await woken.wait()
                done = loop.take_finished(block=False)
            loop.collect(done)
        return loop.executed
    except BaseException as exc:
        loop.abandon(exc)
        raise


class Drivers:
    """The scheduler's :meth:`run` and :meth:`arun`, over :class:`RunLoop` (a mixin of
    :class:`~autoopt.scheduling.IntelligentScheduler`, which supplies ``claim``, ``complete_task``,
    ``next_due``, its lock, clock and task maps)."""

    _clock: Callable[[], float]
    _lock: threading.Lock
    _table: Any

    def run(
        self,
        executor: Executor | None = None,
        until: Literal["idle", "all"] = "idle",
        *,
        max_tasks: int | None = None,
        show_progress_bar: bool = False,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> int:
        """Run tasks on ``executor`` (inline by default) through :meth:`claim`; return the calls made.

        Ready tasks are claimed and submitted while fewer than the
        executor's ``max_workers`` calls are in flight (``max_concurrent_tasks``
        and the resource pool bound the claims too); each outcome is
        reported with :meth:`complete_task` as it arrives: the call's return
        value, or ``"<ExceptionType>: <message>"`` when it raised (then
        retried or failed as usual). ``max_tasks`` stops submitting after
        that many calls.

        Parameters
        ----------
        executor : Executor, optional
            :class:`~autoopt.execution.InlineExecutor` when None. The
            executor stays open (the caller owns it).
        until : {"idle", "all"}
            ``"idle"``: return once nothing is running and nothing ready can
            start (tasks waiting for a later time are left). ``"all"``: also
            wait, with ``sleep``, until each delayed task (a future
            ``scheduled_time``, a retry backoff) is due, so that every task
            that can reach a final state does.
        show_progress_bar : bool
            A tqdm bar of the calls made.
        sleep : callable
            Called with the seconds to wait (``until="all"``).

        Raises
        ------
        ValueError
            When the executor refuses a task at submission (dask: a resource
            no worker has); the task is failed first. A ``KeyboardInterrupt``
            in a task propagates once the other finished calls are recorded;
            calls still in flight are then recorded as failed.
        """
        loop = self._run_loop(executor, until, max_tasks, show_progress_bar, "run")
        try:
            return run_sync(loop, check_sync_callable(sleep, "run() argument 'sleep'"), self._clock)
        finally:
            if loop.progress is not None:
                loop.progress.close()

    async def arun(
        self,
        executor: Executor | None = None,
        until: Literal["idle", "all"] = "idle",
        *,
        max_tasks: int | None = None,
        show_progress_bar: bool = False,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> int:
        """:meth:`run` for a running event loop (a notebook's): the same decisions, awaiting the calls.

        ``sleep`` is awaited with the seconds to wait.

        Examples
        --------
        >>> import asyncio
        >>> from autoopt.scheduling import IntelligentScheduler
        >>> sched = IntelligentScheduler()
        >>> async def fetch(x):
        ...     await asyncio.sleep(0)
        ...     return x + 1
        >>> first = sched.schedule_task("fetch", fetch, args=(1,))
        >>> second = sched.schedule_task("again", fetch, args=(sched.result_of(first.task_id),))
        >>> asyncio.run(sched.arun()), second.result
        (2, 3)
        """
        loop = self._run_loop(executor, until, max_tasks, show_progress_bar, "arun")
        try:
            return await run_async(loop, sleep, self._clock)
        finally:
            if loop.progress is not None:
                loop.progress.close()

    def _run_loop(
        self, executor: Any, until: Any, max_tasks: Any, show_progress_bar: Any, method: str
    ) -> RunLoop:
        if executor is None:
            executor = InlineExecutor()
        elif not isinstance(executor, Executor):
            raise TypeError(
                f"{method}() argument 'executor' must be an autoopt.execution.Executor or None; "
                f"got {executor!r:.80} of type {type(executor).__name__}."
            )
        if until not in ("idle", "all"):
            raise ValueError(f"{method}() argument 'until' must be 'idle' or 'all'; got {until!r}.")
        limit = None if max_tasks is None else check_int(max_tasks, f"{method}() argument 'max_tasks'", low=0)
        if not isinstance(show_progress_bar, bool):
            raise TypeError(
                f"{method}() argument 'show_progress_bar' must be a bool; got {show_progress_bar!r}."
            )
        progress = None
        if show_progress_bar:
            from tqdm.auto import tqdm  # lazily: only when asked for

            with self._lock:
                unfinished = len(self._table.entries) - len(self._table.finished)
            progress = tqdm(total=unfinished, desc="tasks", unit="call")
        return RunLoop(cast("IntelligentScheduler", self), executor, until, limit, progress)
