"""Argument checks of the scheduler's methods: times, dependency ids, task ids, and a task's call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from autoopt._clock import to_timestamp
from autoopt._validation import check_id
from autoopt.scheduling._calls import TaskResult, find_refs

__all__ = ["check_call", "check_dependency_ids", "check_task_id", "check_time"]


def check_time(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime or None; got {value!r} of type {type(value).__name__}.")
    return to_timestamp(value, name)


def check_dependency_ids(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise TypeError(
            f"{name} must be a list of task ids or None; got {value!r} of type {type(value).__name__}."
        )
    ids = tuple(value)
    seen: set[str] = set()
    for i, dep in enumerate(ids):
        if not isinstance(dep, str):
            raise TypeError(f"{name}[{i}] must be a task id (str); got {dep!r} of type {type(dep).__name__}.")
        if dep in seen:
            raise ValueError(f"{name} lists task id {dep!r} more than once.")
        seen.add(dep)
    return ids


def check_task_id(value: Any, method: str) -> None:
    check_id(value, f"{method}() argument 'task_id'")


def check_call(args: Any, kwargs: Any, arg: str) -> tuple[tuple[Any, ...], dict[str, Any], tuple[str, ...]]:
    """The call's arguments as a tuple and a dict, and the ids of the tasks they reference."""
    if isinstance(args, (str, bytes, Mapping)) or not isinstance(args, Sequence):
        raise TypeError(
            f"{arg} 'args' must be a tuple or list; got {args!r:.80} of type {type(args).__name__}."
        )
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, Mapping):
        raise TypeError(f"{arg} 'kwargs' must be a mapping or None; got {kwargs!r:.80}.")
    for key in kwargs:
        if not isinstance(key, str):
            raise TypeError(f"{arg} 'kwargs' keys must be str; got {key!r}.")
    refs: list[TaskResult] = []
    find_refs(tuple(args), refs)
    find_refs(dict(kwargs), refs)
    return tuple(args), dict(kwargs), tuple(dict.fromkeys(r.task_id for r in refs))
