"""The enumerations of the automation data model.

Every enum is a :class:`enum.StrEnum`, so members compare equal to their
string values and serialise to JSON as plain strings::

    >>> from autoopt import LoadLevel
    >>> LoadLevel.HIGH == "high"
    True
    >>> LoadLevel("critical")
    <LoadLevel.CRITICAL: 'critical'>
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "DecisionConfidence",
    "DecisionType",
    "LearningMode",
    "LoadLevel",
    "PredictionType",
    "RemediationAction",
    "SchedulerPriority",
    "TaskState",
    "TuningStatus",
    "TuningStrategy",
]


class DecisionType(StrEnum):
    """Kinds of automated decision a :class:`~autoopt.DecisionEngine` emits."""

    SCALE_UP = "scale_up"
    SCALE_DOWN = "scale_down"
    ROUTE_TRAFFIC = "route_traffic"
    FAILOVER = "failover"
    OPTIMIZE = "optimize"
    ALERT = "alert"
    REMEDIATE = "remediate"
    DEFER = "defer"


class DecisionConfidence(StrEnum):
    """Confidence band of a decision, derived from its rule's feedback record."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    UNCERTAIN = "uncertain"


class TuningStrategy(StrEnum):
    """Search strategies of the :class:`~autoopt.SelfTuner`."""

    GRADIENT_DESCENT = "gradient_descent"
    BAYESIAN = "bayesian"
    GENETIC = "genetic"
    GRID_SEARCH = "grid_search"
    RANDOM_SEARCH = "random_search"
    ADAPTIVE = "adaptive"


class TuningStatus(StrEnum):
    """Life cycle of a tuning session."""

    IDLE = "idle"
    EXPLORING = "exploring"
    EXPLOITING = "exploiting"
    CONVERGED = "converged"
    FAILED = "failed"


class SchedulerPriority(StrEnum):
    """Task priorities, most urgent first.

    :attr:`rank` gives the sort key (0 = most urgent).
    """

    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"
    BACKGROUND = "background"

    @property
    def rank(self) -> int:
        """Sort key of the priority: 0 for CRITICAL up to 4 for BACKGROUND."""
        return _PRIORITY_RANK[self]


_PRIORITY_RANK: dict[SchedulerPriority, int] = {p: i for i, p in enumerate(SchedulerPriority)}


class TaskState(StrEnum):
    """States of a :class:`~autoopt.ScheduledTask`."""

    PENDING = "pending"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DEFERRED = "deferred"


class LoadLevel(StrEnum):
    """System load bands, most loaded first.

    :attr:`severity` orders them (4 = CRITICAL, 0 = IDLE).
    """

    CRITICAL = "critical"
    HIGH = "high"
    MODERATE = "moderate"
    LOW = "low"
    IDLE = "idle"

    @property
    def severity(self) -> int:
        """4 for CRITICAL down to 0 for IDLE."""
        return _LOAD_SEVERITY[self]


_LOAD_SEVERITY: dict[LoadLevel, int] = {lvl: 4 - i for i, lvl in enumerate(LoadLevel)}


class RemediationAction(StrEnum):
    """Remediation actions an :class:`~autoopt.AutoRemediation` can dispatch."""

    RESTART = "restart"
    SCALE = "scale"
    FAILOVER = "failover"
    THROTTLE = "throttle"
    CLEAR_CACHE = "clear_cache"
    ROLLBACK = "rollback"
    NOTIFY = "notify"
    CUSTOM = "custom"


class PredictionType(StrEnum):
    """Metric series the :class:`~autoopt.PerformancePredictor` forecasts."""

    LOAD = "load"
    LATENCY = "latency"
    ERROR_RATE = "error_rate"
    RESOURCE_USAGE = "resource_usage"
    THROUGHPUT = "throughput"
    COST = "cost"


class LearningMode(StrEnum):
    """Learning modes of the system."""

    ONLINE = "online"
    BATCH = "batch"
    REINFORCEMENT = "reinforcement"
    SUPERVISED = "supervised"
