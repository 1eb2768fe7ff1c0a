"""Task scheduling: the :class:`IntelligentScheduler`.

Priority-, deadline-, dependency- and resource-aware scheduling over a heap
and a dependency graph, driven by hand (``get_next_task`` / ``start_task`` /
``complete_task``, or the atomic ``claim``), by the synchronous driver
``run_pending``, or on any :mod:`autoopt.execution` executor by ``run`` /
``arun``. A task's arguments may hold :class:`TaskResult` references
(``result_of``) to its dependencies' results, resolved before submission.
"""

from __future__ import annotations

from autoopt.scheduling._calls import Claim, TaskResult
from autoopt.scheduling._scheduler import IntelligentScheduler

__all__ = ["Claim", "IntelligentScheduler", "TaskResult"]
