"""Admission control: a pure decision (admit, queue or reject) and thin async and sync drivers around it.

The decision combines, in this order:

1. **the deadline**: a call whose deadline has passed is never started;
2. **the throttles** (``throttle()``, e.g. :meth:`LoadManager.get_throttle_percentage`, which combines
   the utilisation and the delay throttles): a throttle of ``t`` % sheds that share of the calls,
   taken from the sheddable class first, then from the default one, then from the critical one, by
   their shares of the recent arrivals;
3. **the concurrency limit** (a :class:`ConcurrencyLimit`, by default :class:`GradientLimit`, learned
   from latency): a call starts at once while fewer than ``limit`` run and nobody of its class or above
   waits;
4. **the wait queue**, bounded by ``max_queue``: a full queue takes a call only by evicting the newest
   waiter of a lower class.

Waiters are started highest class first. Within a class the queue is FIFO, until it stands: when its
oldest waiter has been older than the target (``overload_timeout``) at every dispatch for
``queue_interval``, it serves the newest first (adaptive LIFO, as Facebook's RPC queues do) and drops
waiters older than the target (CoDel's idea that a standing queue is only delay), until it has been empty
for ``queue_interval``. A waiter whose deadline passes, or whose caller is cancelled, leaves the queue and
frees its place.

Lock discipline: one lock guards the counts and queues; it is never held while a caller's code or an
await runs. Waking a waiter is a callback set by its driver (``loop.call_soon_threadsafe`` for the
async one, an ``Event`` for the sync one): ours, O(1) and never blocking, so an eviction may wake its
waiter under the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autoopt._validation import SeedLike, check_enum, check_random_state, check_real, check_size
from autoopt.admission._context import Criticality, current_request
from autoopt.admission._limit import ConcurrencyLimit, GradientLimit
from autoopt.core import EWMean
from autoopt.exceptions import LoadShedError

__all__ = ["AdmissionController", "Slot", "Verdict"]

_CLASSES = (Criticality.CRITICAL, Criticality.DEFAULT, Criticality.SHEDDABLE)


@dataclass(eq=False)
class _Waiter:
    criticality: Criticality
    deadline: float | None
    enqueued: float
    wake: Callable[[bool, str], None] | None = None
    done: bool = False  # granted or rejected: out of the queue
    granted: bool = False
    reason: str = ""  # why it was rejected, once done


@dataclass(frozen=True)
class Verdict:
    """The decision for one call: ``"admit"``, ``"queue"`` or ``"reject"`` (with the reason and
    ``retry_after`` seconds)."""

    action: str
    reason: str = ""
    retry_after: float = 0.0
    throttle: float = 0.0


_ADMIT = Verdict("admit")


@dataclass
class _Counts:
    admitted: int = 0
    queued: int = 0
    started_from_queue: int = 0
    rejected_by_class_reason: dict[str, dict[str, int]] = field(default_factory=dict)


class AdmissionController:
    """Adaptive concurrency limit, a deadline-aware priority queue and throttles, for calls into a backend.

    Parameters
    ----------
    limit : ConcurrencyLimit, optional
        The concurrency limit (a fresh :class:`GradientLimit` by default).
    max_queue : int
        Most calls waiting at once.
    queue_interval : float
        Seconds the queue's oldest waiter must stay older than the target
        before the queue counts as standing, and seconds it must stay empty
        before it no longer does. Facebook's CoDel for RPC queues uses
        0.1; the default, 0.3, is what held the event model
        (``benchmarks/overload``) at no refusal at 0.8x capacity over six
        seeds (0.1: up to 0.15 % refused), for the same p99 under overload.
    overload_timeout : float, optional
        The target: the longest wait a standing queue keeps, in seconds.
        By default CoDel's 5 ms or the mean call duration, whichever is
        longer (5 ms is less than one call of a backend whose calls take
        8 ms, and then every burst would look like overload).
    throttle : callable, optional
        Returns the share of calls to shed, in percent (e.g. a hub's
        ``load_manager.get_throttle_percentage``).
    clock : callable
        Seconds (``time.monotonic``); deadlines are times on this clock.
    seed : int, optional
        Seeds the throttle's draws.

    Examples
    --------
    >>> import asyncio
    >>> from autoopt.admission import AdmissionController, request_context
    >>> ac = AdmissionController()
    >>> async def call():
    ...     with request_context("critical", timeout=1.0):
    ...         async with ac.slot():
    ...             return "served"
    >>> asyncio.run(call())
    'served'
    >>> ac.get_stats()["admitted"]
    1
    """

    def __init__(
        self,
        *,
        limit: ConcurrencyLimit | None = None,
        max_queue: int = 1000,
        queue_interval: float = 0.3,
        overload_timeout: float | None = None,
        throttle: Callable[[], float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        seed: SeedLike = None,
    ) -> None:
        arg = "AdmissionController() argument"
        if limit is not None and not isinstance(limit, ConcurrencyLimit):
            raise TypeError(f"{arg} 'limit' must be a ConcurrencyLimit; got {limit!r:.80}")
        self._rng = check_random_state(seed, f"{arg} 'seed'")
        # the default limit's jitter gets a stream of its own, drawn from this one
        self.limit = GradientLimit(seed=int(self._rng.integers(2**63))) if limit is None else limit
        self.max_queue = check_size(max_queue, f"{arg} 'max_queue'", low=0)
        self.queue_interval = check_real(queue_interval, f"{arg} 'queue_interval'", low=0.0, low_open=True)
        self.overload_timeout = (
            None
            if overload_timeout is None
            else check_real(overload_timeout, f"{arg} 'overload_timeout'", low=0.0, low_open=True)
        )
        if throttle is not None and not callable(throttle):
            raise TypeError(f"{arg} 'throttle' must be callable; got {throttle!r:.80}")
        self.throttle = throttle
        self.clock = clock
        self._lock = threading.Lock()
        self._inflight = 0
        self._queues: dict[Criticality, deque[_Waiter]] = {c: deque() for c in _CLASSES}
        self._waiting = 0
        self._since: float | None = None  # since when the queue has looked other than _standing says
        self._standing = False
        self._probe_seen = -math.inf  # when the limit was last seen measuring latency
        self._shares = {Criticality.CRITICAL: 0.1, Criticality.DEFAULT: 0.6, Criticality.SHEDDABLE: 0.3}
        self._arrivals = 0
        self._rtt = EWMean(0.05)  # mean call duration, for retry_after and the queue's target
        self._counts = _Counts()

    # ------------------------------------------------------------------ the pure decision

    def offer(
        self, criticality: Criticality, deadline: float | None, now: float
    ) -> tuple[Verdict, _Waiter | None]:
        """Decide for one arriving call; a ``"queue"`` verdict comes with the waiter to wake later."""
        throttle = 0.0 if self.throttle is None else float(self.throttle())
        with self._lock:
            self._learn_share(criticality)
            if deadline is not None and deadline <= now:
                return self._reject("deadline", criticality, throttle), None
            if throttle > 0.0 and self._rng.random() < self._shed_probability(criticality, throttle / 100.0):
                return self._reject("throttle", criticality, throttle, retry_after=1.0), None
            rank = criticality.rank
            ahead = any(self._queues[c] for c in _CLASSES[: rank + 1])
            if not ahead and self._inflight < self.limit.limit:
                self._inflight += 1
                self._counts.admitted += 1
                return (_ADMIT if throttle == 0.0 else Verdict("admit", throttle=throttle)), None
            if self._waiting >= self.max_queue and not self._evict_below(rank):
                return self._reject("queue full", criticality, throttle), None
            waiter = _Waiter(criticality, deadline, now)
            self._queues[criticality].append(waiter)
            self._waiting += 1
            self._counts.queued += 1
            return Verdict("queue", throttle=throttle), waiter

    def release(self, duration: float | None, now: float) -> list[tuple[_Waiter, bool, str]]:
        """A call ended after ``duration`` seconds (None: it never ran, e.g. its waiter gave up after a
        grant): free its slot, learn from its latency, and pick the waiters to start or drop.

        Returns ``(waiter, granted, reason)`` for each waiter whose fate was decided; the caller wakes them
        (outside the lock, as the drivers do).
        """
        with self._lock:
            self._inflight -= 1
            if duration is not None and duration > 0.0:
                self.limit.update(duration, self._inflight + 1, now)
                self._rtt.update(duration)
            return self._dispatch(now)

    def abandon(self, waiter: _Waiter, now: float) -> bool:
        """The waiter's caller gave up (deadline, cancellation): leave the queue. Returns True when it had
        already been granted a slot, which the caller must then :meth:`release` with ``duration=None``."""
        with self._lock:
            if waiter.done:
                return waiter.granted
            with contextlib.suppress(ValueError):
                self._queues[waiter.criticality].remove(waiter)
                self._waiting -= 1
            self._decide(waiter, False, "gave up")
            return False

    # ------------------------------------------------------------------ under the lock

    def _dispatch(self, now: float) -> list[tuple[_Waiter, bool, str]]:
        out: list[tuple[_Waiter, bool, str]] = []
        target = self._target()
        standing = self._update_standing(now, target)
        limit = self.limit.limit  # fixed while the lock is held: the limit changes only in release()
        for cls in _CLASSES:
            queue = self._queues[cls]
            while queue and self._inflight < limit:
                waiter = queue.pop() if standing else queue.popleft()
                self._waiting -= 1
                if waiter.deadline is not None and waiter.deadline <= now:
                    out.append(self._decide(waiter, False, "deadline"))
                    continue
                self._inflight += 1
                self._counts.started_from_queue += 1
                out.append(self._decide(waiter, True, ""))
            if standing and cls is not Criticality.CRITICAL:
                # CoDel: in a standing queue, waiting longer than overload_timeout is only delay (the
                # critical class is spared: it leaves the queue only by starting or by its deadline)
                while queue and now - queue[0].enqueued > target:
                    waiter = queue.popleft()
                    self._waiting -= 1
                    out.append(self._decide(waiter, False, "queue timeout"))
        return out

    def _target(self) -> float:
        """The longest wait a standing queue keeps: ``overload_timeout``, or by default CoDel's 5 ms or
        the mean call duration, whichever is longer."""
        if self.overload_timeout is not None:
            return self.overload_timeout
        return max(0.005, self._mean_rtt())

    def _update_standing(self, now: float, target: float) -> bool:
        """Whether the queue stands. It starts to once its oldest waiter has been older than
        ``overload_timeout`` at every dispatch for ``queue_interval``, and stops once it has been empty at
        every dispatch for ``queue_interval`` (a standing queue's waiters are dropped at that age, so only
        emptiness says the overload is over; and one that empties now and then stays standing)."""
        if self._waiting == 0 and not self._standing:  # the common case below capacity: nothing to judge
            self._since = None
            return False
        if self.limit.probing:  # the limit is held low to measure latency: its queue is not overload
            self._probe_seen = now
            return self._standing
        if self._standing:
            above = self._waiting > 0
        else:
            oldest = min((q[0].enqueued for q in self._queues.values() if q), default=now)
            # a waiter from before a measurement's end is the backlog it built, not evidence of overload
            above = now - oldest >= target and oldest > self._probe_seen
        if above == self._standing:
            self._since = None
        elif self._since is None:
            self._since = now
        elif now - self._since >= self.queue_interval:
            self._standing, self._since = above, None
        return self._standing

    def _evict_below(self, rank: int) -> bool:
        for cls in reversed(_CLASSES[rank + 1 :]):
            queue = self._queues[cls]
            if queue:
                waiter = queue.pop()  # the newest of the lowest class waiting
                self._waiting -= 1
                self._wake([self._decide(waiter, False, "evicted by a higher class", count="evicted")])
                return True
        return False

    def _learn_share(self, cls: Criticality) -> None:
        self._arrivals += 1
        w = max(1.0 / (self._arrivals + 100), 1e-3)  # the prior mix counts as 100 arrivals
        for c in _CLASSES:
            self._shares[c] += w * ((1.0 if c is cls else 0.0) - self._shares[c])

    def _shed_probability(self, cls: Criticality, share: float) -> float:
        """Shed ``share`` of all calls, taking it from the lowest classes first."""
        left = share
        for c in reversed(_CLASSES):
            s = self._shares[c]
            p = 1.0 if s <= 0.0 else min(1.0, left / s)
            if c is cls:
                return max(0.0, p)
            left = max(0.0, left - s)
        return 0.0  # pragma: no cover

    def _mean_rtt(self) -> float:
        return self._rtt.get() if self._rtt.n else 0.0

    def _decide(
        self, waiter: _Waiter, granted: bool, reason: str, count: str | None = None
    ) -> tuple[_Waiter, bool, str]:
        """Settle a waiter that has left the queue; a refusal is counted (as ``count``, or ``reason``).
        Its driver reads the outcome from the waiter if it had not yet set its ``wake``."""
        waiter.done, waiter.granted, waiter.reason = True, granted, reason
        if not granted:
            self._count_reject(count or reason, waiter.criticality)
        return waiter, granted, reason

    def _count_reject(self, reason: str, cls: Criticality) -> None:
        reasons = self._counts.rejected_by_class_reason.setdefault(cls.value, {})
        reasons[reason] = reasons.get(reason, 0) + 1

    def _reject(
        self, reason: str, cls: Criticality, throttle: float, retry_after: float | None = None
    ) -> Verdict:
        self._count_reject(reason, cls)
        if retry_after is None:  # about the time for the queue ahead to drain
            retry_after = (self._waiting + 1) * self._mean_rtt() / max(self.limit.limit, 1.0)
        return Verdict("reject", reason, retry_after, throttle)

    # ------------------------------------------------------------------ drivers

    def _error(self, reason: str, verdict: Verdict | None = None) -> LoadShedError:
        retry = verdict.retry_after if verdict is not None else self._mean_rtt()
        return LoadShedError(f"admission: rejected ({reason})", verdict.throttle if verdict else 0.0,
                             retry_after=retry)  # fmt: skip

    def slot(self, criticality: Criticality | str | None = None, deadline: float | None = None) -> Slot:
        """Hold a slot for a block: ``async with`` in a coroutine (waits on a future), ``with`` in a thread
        (waits on an ``Event``). Entering raises :class:`LoadShedError` when the call is refused.

        Class and deadline default to the :func:`request_context` in force.
        """
        return Slot(self, criticality, deadline)

    slot_sync = slot  # the same Slot; the name reads better at ``with`` sites in threads

    # the drivers' shared steps: arrive (admitted, queued or refused), wait, give up, end

    def _arrive(
        self, criticality: Criticality | str | None, deadline: float | None
    ) -> tuple[_Waiter | None, float, float | None]:
        """Offer the call; return its waiter (None when admitted), the time, and how long it may wait.
        Raises when refused."""
        cls, at = self._resolve(criticality, deadline)
        now = self.clock()
        verdict, waiter = self.offer(cls, at, now)
        if verdict.action == "reject":
            raise self._error(verdict.reason, verdict)
        return waiter, now, None if at is None else max(0.0, at - now)

    def _attach(self, waiter: _Waiter, wake: Callable[[bool, str], None]) -> tuple[bool, str] | None:
        """Give a queued waiter its wake-up; if its fate was decided before it had one, return it."""
        with self._lock:
            if waiter.done:
                return waiter.granted, waiter.reason
            waiter.wake = wake
            return None

    async def _wait_async(self, waiter: _Waiter, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[bool, str]] = loop.create_future()

        def settle(granted: bool, reason: str) -> None:
            if not future.done():
                future.set_result((granted, reason))

        def wake(granted: bool, reason: str) -> None:
            loop.call_soon_threadsafe(settle, granted, reason)

        outcome = self._attach(waiter, wake)
        if outcome is None:
            try:
                outcome = await asyncio.wait_for(future, timeout)
            except (TimeoutError, asyncio.CancelledError) as exc:
                self._gave_up(waiter)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                raise self._error("deadline passed in the queue") from None
        self._started_or_raise(*outcome)

    def _wait_sync(self, waiter: _Waiter, timeout: float | None) -> None:
        event = threading.Event()
        box: list[tuple[bool, str]] = []

        def wake(granted: bool, reason: str) -> None:
            box.append((granted, reason))
            event.set()

        outcome = self._attach(waiter, wake)
        if outcome is None:
            if not event.wait(timeout):
                # a grant that lands now is handed on by _gave_up: this caller has left either way
                self._gave_up(waiter)
                raise self._error("deadline passed in the queue")
            outcome = box[0]
        self._started_or_raise(*outcome)

    def _gave_up(self, waiter: _Waiter) -> None:
        now = self.clock()
        if self.abandon(waiter, now):  # granted meanwhile: hand the slot on
            self._wake(self.release(None, now))

    def _started_or_raise(self, granted: bool, reason: str) -> None:
        if not granted:
            raise self._error(reason)

    def _end(self, start: float) -> None:
        now = self.clock()
        self._wake(self.release(now - start, now))

    def _resolve(
        self, criticality: Criticality | str | None, deadline: float | None
    ) -> tuple[Criticality, float | None]:
        ctx = current_request()
        cls = (
            ctx.criticality
            if criticality is None
            else check_enum(criticality, Criticality, "AdmissionController.slot() argument 'criticality'")
        )
        if deadline is None:
            return cls, ctx.deadline
        return cls, check_real(deadline, "AdmissionController.slot() argument 'deadline'")

    @staticmethod
    def _wake(decided: list[tuple[_Waiter, bool, str]]) -> None:
        for waiter, granted, reason in decided:
            if waiter.wake is not None:
                waiter.wake(granted, reason)

    def queue_delay(self, now: float) -> float:
        """How long the oldest waiter has waited, in seconds (0 with nobody waiting): the queueing delay to
        feed a :class:`~autoopt.load.DelayThrottle`, e.g. as a sample's ``queue_delay_ms``."""
        with self._lock:
            oldest = min((q[0].enqueued for q in self._queues.values() if q), default=now)
        return max(0.0, now - oldest)

    def get_stats(self) -> dict[str, Any]:
        """``inflight``, ``limit``, ``waiting`` (by class), ``admitted``, ``queued``, ``started_from_queue``,
        ``rejected`` (by reason), ``rejected_by_class``, ``rejected_by_class_reason`` (class -> reason ->
        count), ``class_shares`` and ``mean_duration``."""
        with self._lock:
            c = self._counts
            by_reason: dict[str, int] = {}
            for reasons in c.rejected_by_class_reason.values():
                for reason, n in reasons.items():
                    by_reason[reason] = by_reason.get(reason, 0) + n
            return {
                "inflight": self._inflight, "limit": self.limit.limit,
                "waiting": {cls.value: len(q) for cls, q in self._queues.items()},
                "admitted": c.admitted, "queued": c.queued, "started_from_queue": c.started_from_queue,
                "rejected": by_reason,
                "rejected_by_class": {k: sum(v.values()) for k, v in c.rejected_by_class_reason.items()},
                "rejected_by_class_reason": {k: dict(v) for k, v in c.rejected_by_class_reason.items()},
                "class_shares": {cls.value: s for cls, s in self._shares.items()}, "mean_duration": self._mean_rtt(),
            }  # fmt: skip


class Slot:
    """One call's hold on an :class:`AdmissionController` slot: ``async with`` (async driver) or ``with``
    (sync driver), from :meth:`AdmissionController.slot`.

    Entering admits the call, or queues it until a slot frees, or raises :class:`LoadShedError`; leaving
    frees the slot and teaches the limit the call's duration. ``entered`` tells a caller whether a
    :class:`LoadShedError` came from admission (False) or from the block (True). Use each once.
    """

    __slots__ = ("_ac", "_criticality", "_deadline", "_start", "entered")

    def __init__(
        self, ac: AdmissionController, criticality: Criticality | str | None, deadline: float | None
    ):
        self._ac = ac
        self._criticality = criticality
        self._deadline = deadline
        self._start = 0.0
        self.entered = False

    async def __aenter__(self) -> None:
        ac = self._ac
        waiter, now, timeout = ac._arrive(self._criticality, self._deadline)
        if waiter is not None:
            await ac._wait_async(waiter, timeout)
            now = ac.clock()
        self.entered = True
        self._start = now

    async def __aexit__(self, *exc: object) -> None:
        self._ac._end(self._start)

    def __enter__(self) -> None:
        ac = self._ac
        waiter, now, timeout = ac._arrive(self._criticality, self._deadline)
        if waiter is not None:
            ac._wait_sync(waiter, timeout)
            now = ac.clock()
        self.entered = True
        self._start = now

    def __exit__(self, *exc: object) -> None:
        self._ac._end(self._start)
