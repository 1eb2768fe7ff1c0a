"""Admission control for calls into a backend: who starts now, who waits, who is refused.

:class:`AdmissionController` combines an adaptive concurrency limit
(:class:`Gradient2Limit`, learned from latency), a bounded wait queue that
serves the higher classes first, turns LIFO and drops stale waiters when it
stands (CoDel), never starts a call past its deadline, and the load
manager's throttles, which shed the sheddable class first.
:func:`request_context` gives calls their class and deadline.
"""

from __future__ import annotations

from autoopt.admission._context import Criticality, RequestContext, current_request, request_context
from autoopt.admission._controller import AdmissionController, Slot, Verdict
from autoopt.admission._limit import Gradient2Limit

__all__ = [
    "AdmissionController",
    "Criticality",
    "Gradient2Limit",
    "RequestContext",
    "Slot",
    "Verdict",
    "current_request",
    "request_context",
]
