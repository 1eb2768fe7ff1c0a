"""Task scheduling: the :class:`IntelligentScheduler`.

Priority-, deadline-, dependency- and resource-aware scheduling over a heap
and a dependency graph, driven by hand (``get_next_task`` / ``start_task`` /
``complete_task``) or by the synchronous driver ``run_pending``.
"""

from __future__ import annotations

from autoopt.scheduling._scheduler import IntelligentScheduler

__all__ = ["IntelligentScheduler"]
