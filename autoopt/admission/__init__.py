"""Admission control for calls into a backend: who starts now, who waits, who is refused.

:class:`AdmissionController` combines an adaptive concurrency limit
(:class:`GradientLimit`, learned from latency), a bounded wait queue that
serves the higher classes first, turns LIFO and drops stale waiters when it
stands (CoDel), never starts a call past its deadline, and the load
manager's throttles, which shed the sheddable class first.
:func:`request_context` gives calls their class and deadline.
"""

from __future__ import annotations

from autoopt.admission._context import Criticality, RequestContext, current_request, request_context
from autoopt.admission._controller import AdmissionController, Slot, Verdict
from autoopt.admission._limit import ConcurrencyLimit, Gradient2Limit, GradientLimit

__all__ = [
    "AdmissionController",
    "Criticality",
    "ConcurrencyLimit",
    "Gradient2Limit",
    "GradientLimit",
    "RequestContext",
    "Slot",
    "Verdict",
    "current_request",
    "request_context",
]
