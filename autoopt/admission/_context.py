"""What a call carries to admission control: its criticality class and deadline, in a context variable."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum

from autoopt._validation import check_enum, check_real

__all__ = ["Criticality", "RequestContext", "current_request", "request_context"]


class Criticality(StrEnum):
    """Priority classes (Google SRE's criticality): the lower ones absorb shedding first."""

    CRITICAL = "critical"
    DEFAULT = "default"
    SHEDDABLE = "sheddable"

    @property
    def rank(self) -> int:
        """0 for CRITICAL, 1 for DEFAULT, 2 for SHEDDABLE."""
        return _RANK[self]


_RANK = {Criticality.CRITICAL: 0, Criticality.DEFAULT: 1, Criticality.SHEDDABLE: 2}


@dataclass(frozen=True)
class RequestContext:
    """A call's class, and the time (on the admission controller's clock) after which nobody waits for it."""

    criticality: Criticality = Criticality.DEFAULT
    deadline: float | None = None


_DEFAULT = RequestContext()
_CURRENT: ContextVar[RequestContext | None] = ContextVar("autoopt_request_context", default=None)


def current_request() -> RequestContext:
    """The context of the current call (``DEFAULT``, no deadline, outside any :func:`request_context`)."""
    return _CURRENT.get() or _DEFAULT


@contextlib.contextmanager
def request_context(
    criticality: Criticality | str = Criticality.DEFAULT,
    deadline: float | None = None,
    *,
    timeout: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[RequestContext]:
    """Give the calls made inside the block a class and a deadline (a context variable: per task and thread).

    ``deadline`` is a time on ``clock`` (``time.monotonic`` by default, the
    admission controller's default clock); ``timeout`` is the same relative
    to now. Give one or neither.

    Examples
    --------
    >>> with request_context("sheddable", timeout=0.5) as ctx:
    ...     current_request().criticality
    <Criticality.SHEDDABLE: 'sheddable'>
    >>> current_request().criticality
    <Criticality.DEFAULT: 'default'>
    """
    cls = check_enum(criticality, Criticality, "request_context() argument 'criticality'")
    if deadline is not None and timeout is not None:
        raise ValueError("request_context(): give 'deadline' or 'timeout', not both")
    at = None
    if deadline is not None:
        at = check_real(deadline, "request_context() argument 'deadline'")
    elif timeout is not None:
        at = clock() + check_real(timeout, "request_context() argument 'timeout'", low=0.0)
    ctx = RequestContext(cls, at)
    token = _CURRENT.set(ctx)
    try:
        yield ctx
    finally:
        _CURRENT.reset(token)
