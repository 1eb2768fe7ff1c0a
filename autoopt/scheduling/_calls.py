"""Task descriptions that travel: a callable, its arguments, and references to dependencies' results."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autoopt.models import ScheduledTask

__all__ = ["Claim", "TaskResult", "find_refs", "resolve"]


@dataclass(frozen=True)
class TaskResult:
    """A reference to the result of task ``task_id``, for another task's arguments.

    Made by :meth:`IntelligentScheduler.result_of`. The driver replaces it
    by the task's ``result`` before the call is submitted, so the call can
    run in another process or on another machine: nothing reads the
    driver's memory. A task whose arguments reference a task depends on it.
    """

    task_id: str


@dataclass(frozen=True)
class Claim:
    """A task claimed to run (RUNNING, its resources allocated), with its call resolved.

    ``args`` and ``kwargs`` hold the dependencies' results in place of the
    :class:`TaskResult` references. A chained claim (``claim_chained``)
    leaves the references of dependencies still running in place, for the
    driver to replace with the executor's handles on their calls.
    ``priority`` is higher for more urgent
    tasks (dask's convention) and ``resources`` are the task's requirements.
    Report the outcome with :meth:`IntelligentScheduler.complete_task`.
    """

    task: ScheduledTask
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    priority: int = 0
    resources: Mapping[str, float] = field(default_factory=dict)


def find_refs(value: Any, out: list[TaskResult]) -> None:
    """Append every :class:`TaskResult` in ``value`` (through lists, tuples, sets and dict values)."""
    if isinstance(value, TaskResult):
        out.append(value)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            find_refs(item, out)
    elif isinstance(value, dict):
        for item in value.values():
            find_refs(item, out)


def resolve(value: Any, results: Mapping[str, Any]) -> Any:
    """``value`` with each :class:`TaskResult` replaced by ``results[task_id]`` (containers rebuilt only
    where they hold one)."""
    if isinstance(value, TaskResult):
        return results[value.task_id]
    if isinstance(value, (list, tuple)):
        items = [resolve(item, results) for item in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return type(value)(items) if not hasattr(value, "_fields") else type(value)(*items)
    if isinstance(value, (set, frozenset)):
        return type(value)(resolve(item, results) for item in value)
    if isinstance(value, dict):
        resolved = {k: resolve(v, results) for k, v in value.items()}
        if all(resolved[k] is value[k] for k in value):
            return value
        return resolved
    return value
