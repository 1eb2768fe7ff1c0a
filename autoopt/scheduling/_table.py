"""The scheduler's table of retained tasks: by id, by state, the bounded history of finished ones, the totals."""

from __future__ import annotations

from collections import OrderedDict

from autoopt._clock import to_datetime
from autoopt.enums import TaskState
from autoopt.scheduling._queue import Entry, TaskQueue, Where

__all__ = ["TaskTable"]


class TaskTable:
    """Every retained task, and the moves between states that the indexes must follow.

    ``entries`` holds them oldest first, ``by_state`` per state in the order
    they entered it, ``finished`` the COMPLETED, FAILED and CANCELLED ones in
    the order they finished: the oldest of those is forgotten once more than
    ``history_limit`` are kept. ``totals`` counts over the scheduler's
    lifetime. No lock of its own: the scheduler calls it with its lock held.
    """

    def __init__(self, history_limit: int) -> None:
        self.history_limit = history_limit
        self.entries: OrderedDict[str, Entry] = OrderedDict()
        self.by_state: dict[TaskState, OrderedDict[str, Entry]] = {s: OrderedDict() for s in TaskState}
        self.finished: OrderedDict[str, Entry] = OrderedDict()
        self.totals = dict.fromkeys(
            ("scheduled", "completed", "failed", "cancelled", "retried", "evicted"), 0
        )

    def add(self, entry: Entry) -> None:
        """A new PENDING task."""
        self.entries[entry.task.task_id] = entry
        self.by_state[TaskState.PENDING][entry.task.task_id] = entry
        self.totals["scheduled"] += 1

    def set_state(self, entry: Entry, state: TaskState) -> None:
        """Move a task to ``state`` in the per-state index."""
        task = entry.task
        del self.by_state[task.state][task.task_id]
        task.state = state
        self.by_state[state][task.task_id] = entry

    def finish(self, entry: Entry, state: TaskState, now: float) -> None:
        """Move a task to a final state and into the bounded history."""
        entry.where = Where.DONE
        entry.refs = None  # the referenced results are no longer needed here
        self.set_state(entry, state)
        entry.task.completed_at = to_datetime(now)
        self.finished[entry.task.task_id] = entry
        while len(self.finished) > self.history_limit:
            old_id, old = self.finished.popitem(last=False)
            del self.entries[old_id]
            del self.by_state[old.task.state][old_id]
            self.totals["evicted"] += 1

    def cascade_cancel(self, queue: TaskQueue, root: Entry, message: str, now: float) -> int:
        """Cancel every task still waiting on ``root``, transitively; return how many."""
        stack = list(root.dependents)
        root.dependents = []
        n = 0
        while stack:
            child = stack.pop()
            if child.where is not Where.BLOCKED:
                continue  # already cancelled through another path
            del queue.blocked[child.task.task_id]
            stack.extend(child.dependents)
            child.dependents = []
            child.task.error = message
            self.finish(child, TaskState.CANCELLED, now)
            self.totals["cancelled"] += 1
            n += 1
        return n
