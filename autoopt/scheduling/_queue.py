"""The scheduler's queues of PENDING tasks: blocked, delayed, and ready by requirement shape.

A task lives in exactly one of five places:

- *blocked*: some dependency has not completed yet. The task sits in a map
  with a counter of its unmet dependencies; every dependency keeps a list of
  its dependents (the reverse edges), so completing a task unblocks its
  dependents in O(out-degree).
- *delayed*: all dependencies completed but ``scheduled_time`` (or a retry
  backoff) lies in the future. A min-heap on time holds these; due tasks move
  to the ready heaps lazily whenever the scheduler is asked for work.
- *ready*: grouped by *requirement shape*, the sorted tuple of a task's
  ``(resource, amount)`` requirements (tasks without requirements share the
  empty shape). Each shape has a min-heap keyed on ``(priority rank,
  deadline or +inf, scheduled time, insertion sequence)`` and a count of its
  live tasks; a shape's heap is dropped, garbage and all, when its last
  ready task leaves. Whether a task fits the free resources depends only on
  its shape, so selection checks one task per shape: the best task of each
  shape, in key order, until one fits.
- *running*: resources allocated, counted against ``max_concurrent_tasks``.
- *done*: COMPLETED, FAILED or CANCELLED, retained in a bounded history.

Heap entries are deleted lazily: every push stamps the task with a fresh
token, and an entry whose token or place no longer matches its task is stale
and dropped when it reaches the top. A heap is rebuilt without its stale
entries when they outnumber the live ones (each shape's heap on its own),
which keeps the garbage (and the rebuild cost, amortised) linear in the live
work.
"""

from __future__ import annotations

from enum import Enum
from heapq import heapify, heappop, heappush
from typing import Any

from autoopt.models import ResourcePool, ScheduledTask

__all__ = ["DelayedItem", "Entry", "ReadyItem", "Shape", "ShapeKey", "TaskQueue", "Where"]

# Heaps are rebuilt when they hold more than 2 * live + _COMPACT_SLACK entries.
_COMPACT_SLACK = 64


class Where(Enum):
    """Which structure holds a task."""

    BLOCKED = "blocked"
    READY = "ready"
    DELAYED = "delayed"
    RUNNING = "running"
    DONE = "done"


class Entry:
    """The scheduler's private bookkeeping for one task.

    The heap keys and the allocated requirements are copies taken at
    scheduling time, so edits of the public record (other than
    ``max_retries``) cannot corrupt the heaps or the resource accounting.
    """

    __slots__ = (
        "args",
        "deadline_ts",
        "dependents",
        "kwargs",
        "rank",
        "refs",
        "requirements",
        "scheduled_ts",
        "seq",
        "shape",
        "task",
        "token",
        "unmet",
        "where",
    )

    def __init__(
        self,
        task: ScheduledTask,
        seq: int,
        rank: int,
        deadline_ts: float,
        scheduled_ts: float,
        requirements: dict[str, float],
    ) -> None:
        self.task = task
        self.seq = seq
        self.rank = rank
        self.deadline_ts = deadline_ts
        self.scheduled_ts = scheduled_ts
        self.requirements = requirements
        self.shape: ShapeKey = tuple(sorted(requirements.items()))
        self.unmet = 0
        self.dependents: list[Entry] = []
        self.where = Where.BLOCKED
        self.token = 0
        self.args: tuple[Any, ...] = ()  # the call's arguments, TaskResult references unresolved
        self.kwargs: dict[str, Any] = {}
        self.refs: dict[str, Entry] | None = None  # the referenced tasks, kept until this one finishes


# (rank, deadline, scheduled time, insertion sequence, token, entry); the token
# is unique per push, so tuples never compare their entries.
ReadyItem = tuple[int, float, float, int, int, Entry]
# (scheduled time, insertion sequence, token, entry)
DelayedItem = tuple[float, int, int, Entry]
# The sorted (resource, amount) items of a task's requirements.
ShapeKey = tuple[tuple[str, float], ...]


class Shape:
    """The ready tasks of one requirement shape: a lazy-deletion heap and its live count.

    Invariant: a shape is in the scheduler's map only while ``live > 0``, and
    every live (READY) task of the shape has exactly one heap item whose token
    matches its own, so the heap's top live item always exists.
    """

    __slots__ = ("heap", "live")

    def __init__(self) -> None:
        self.heap: list[ReadyItem] = []
        self.live = 0


class TaskQueue:
    """Where the PENDING tasks wait: blocked on dependencies, delayed to a time, or ready.

    No lock of its own: the scheduler calls it with its lock held. The ready
    tasks are grouped by requirement shape (see the module docstring), so
    :meth:`select` checks one task per shape against the free resources.
    """

    def __init__(self, pool: ResourcePool) -> None:
        self._pool = pool
        self.blocked: dict[str, Entry] = {}
        # Ready tasks by requirement shape; only shapes with a live task.
        self.shapes: dict[ShapeKey, Shape] = {}
        self.delayed: list[DelayedItem] = []
        self.n_ready = 0
        self.n_delayed = 0
        self._token = 0

    def select(self, *, allocate: bool) -> Entry | None:
        """The best ready task that fits the free resources (allocated if ``allocate``).

        Tasks of one shape fit or not together, so only the top live task of
        each shape is a candidate: the candidates are taken in key order and
        the first that fits wins. One resource check per shape at most; the
        non-fitting tasks under a shape's top are never touched.
        """
        shapes = self.shapes
        if not shapes:
            return None
        check = self._pool.try_allocate if allocate else self._pool.can_allocate
        if len(shapes) == 1:
            entry = self._top(next(iter(shapes.values())))[5]
            return entry if check(entry.requirements) else None
        candidates = [self._top(shape) for shape in shapes.values()]
        heapify(candidates)
        while candidates:
            entry = heappop(candidates)[5]
            if check(entry.requirements):
                return entry
        return None

    @staticmethod
    def _top(shape: Shape) -> ReadyItem:
        """The best live item of ``shape``, dropping stale items above it."""
        heap = shape.heap
        while True:
            item = heap[0]
            entry = item[5]
            if entry.where is Where.READY and entry.token == item[4]:
                return item
            heappop(heap)

    def promote_due(self, now: float) -> None:
        """Move delayed tasks whose time has come to the ready heaps."""
        heap = self.delayed
        while heap and heap[0][0] <= now:
            _, _, token, entry = heappop(heap)
            if entry.where is Where.DELAYED and entry.token == token:
                self.n_delayed -= 1
                self._push_ready(entry)

    def next_due(self) -> float | None:
        """The time the earliest delayed task becomes due (stale items above it dropped); None if none."""
        heap = self.delayed
        while heap:
            _, _, token, entry = heap[0]
            if entry.where is Where.DELAYED and entry.token == token:
                return heap[0][0]
            heappop(heap)
        return None

    def enqueue(self, entry: Entry, now: float) -> None:
        """Put a PENDING task where it belongs: blocked, ready or delayed."""
        if entry.unmet > 0:
            entry.where = Where.BLOCKED
            self.blocked[entry.task.task_id] = entry
        elif entry.scheduled_ts <= now:
            self._push_ready(entry)
        else:
            self._token += 1
            entry.token = self._token
            entry.where = Where.DELAYED
            heappush(self.delayed, (entry.scheduled_ts, entry.seq, self._token, entry))
            self.n_delayed += 1

    def _push_ready(self, entry: Entry) -> None:
        self._token += 1
        entry.token = self._token
        entry.where = Where.READY
        shape = self.shapes.get(entry.shape)
        if shape is None:
            shape = self.shapes[entry.shape] = Shape()
        heappush(
            shape.heap,
            (entry.rank, entry.deadline_ts, entry.scheduled_ts, entry.seq, self._token, entry),
        )
        shape.live += 1
        self.n_ready += 1

    def leave(self, entry: Entry) -> None:
        """Take a PENDING task out of its queue (its heap items become stale at once).

        The caller moves the task on (sets ``where``) right after.
        """
        if entry.where is Where.READY:
            entry.token = 0  # tokens handed out start at 1: no item matches now
            self.n_ready -= 1
            shape = self.shapes[entry.shape]
            shape.live -= 1
            if shape.live == 0:
                del self.shapes[entry.shape]
            elif len(shape.heap) > 2 * shape.live + _COMPACT_SLACK:
                shape.heap = [it for it in shape.heap if it[5].where is Where.READY and it[5].token == it[4]]
                heapify(shape.heap)
        elif entry.where is Where.DELAYED:
            entry.token = 0
            self.n_delayed -= 1
            if len(self.delayed) > 2 * self.n_delayed + _COMPACT_SLACK:
                self.delayed = [
                    it for it in self.delayed if it[3].where is Where.DELAYED and it[3].token == it[2]
                ]
                heapify(self.delayed)
        elif entry.where is Where.BLOCKED:
            del self.blocked[entry.task.task_id]
