"""The dataclasses of the automation data model.

These are plain records: components create and update them, users read
them. Each has a ``to_dict()`` returning JSON-serialisable data (enums as
their values, datetimes as ISO-8601 strings, callables by name).

Records validate what they are given at construction, so a
:class:`LoadMetrics` with NaN CPU or a :class:`ResourcePool` with negative
memory cannot be built. They are mutable dataclasses, so the components
re-validate a record when it is handed to them (``LoadMetrics.validate``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from autoopt._clock import utcnow
from autoopt._model_records import jsonable, new_id, record_dict
from autoopt._model_resources import ResourcePool
from autoopt._model_tuning import TuningParameter, TuningSession
from autoopt._validation import (
    check_enum,
    check_int,
    check_real,
    check_str,
    check_sync_callable,
    safe_repr,
)
from autoopt.config import AutomationConfig
from autoopt.core import Expression, ParameterMap, parse_expression
from autoopt.enums import (
    DecisionConfidence,
    DecisionType,
    LoadLevel,
    PredictionType,
    RemediationAction,
    SchedulerPriority,
    TaskState,
)

__all__ = [
    "Decision",
    "DecisionRule",
    "LearningPattern",
    "LoadMetrics",
    "Prediction",
    "Remediation",
    "ResourcePool",
    "ScheduledTask",
    "TuningParameter",
    "TuningSession",
    "classify_load",
    "create_load_metrics",
    "jsonable",
    "new_id",
]


# --------------------------------------------------------------------- decisions


@dataclass
class Decision:
    """One decision emitted by a :class:`~autoopt.DecisionEngine`.

    ``confidence`` reflects the feedback record of the rule that fired (see
    :meth:`~autoopt.DecisionEngine.evaluate`), or the policy's confidence;
    ``confidence_score`` is the number behind that band. ``source`` names the
    rule or the policy that made it; ``rule_id`` is None for a policy's
    decision; ``expression`` is a declarative rule's condition. ``outcome`` and
    ``feedback_score`` are filled in by
    :meth:`~autoopt.DecisionEngine.record_feedback`. A scaling decision carries
    a signed ``delta`` (replicas to add; negative removes), from its parameters'
    ``delta`` or their unsigned ``instances`` (the demo rules' name for it).

    Examples
    --------
    >>> from autoopt import Decision, DecisionType, DecisionConfidence
    >>> d = Decision("d1", DecisionType.SCALE_UP, DecisionConfidence.LOW, "cpu > 80", {"instances": 2})
    >>> d.to_dict()["decision_type"]
    'scale_up'
    """

    decision_id: str
    decision_type: DecisionType
    confidence: DecisionConfidence
    rationale: str
    parameters: dict[str, Any]
    timestamp: datetime = field(default_factory=utcnow)
    executed: bool = False
    outcome: str | None = None
    feedback_score: float | None = None
    rule_id: str | None = None
    source: str | None = None
    confidence_score: float | None = None
    expression: str | None = None
    delta: int | float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The decision as JSON-serialisable data."""
        return record_dict(self)


@dataclass
class DecisionRule:
    """A prioritised condition → decision rule.

    ``condition(context)`` decides whether the rule fires and
    ``parameters_fn(context)`` builds the decision's parameters. Higher
    ``priority`` rules are tried first. ``cooldown_seconds`` overrides the
    engine's ``decision_cooldown_seconds`` for this rule.

    A rule is **declarative** when ``condition`` is a safe expression
    (``"cpu_usage > 80 and error_rate < 0.05"``) and ``parameters_fn`` a dict
    whose str values are expressions (``{"instances": "ceil(request_rate / 400)"}``)
    and other values constants; see :mod:`autoopt.core` for the syntax. The
    text is compiled at construction (``condition`` becomes a callable
    :class:`~autoopt.core.Expression`), checked against the engine's context
    schema when the rule is added, and kept for ``to_dict()``, YAML and JSON.
    Declarative rules can be backtested over a DataFrame in NumPy.

    ``role`` is ``"fallback"`` (the default: tried after any policy) or
    ``"guard"`` (tried first). A guard with a ``veto`` never fires a decision of
    its own: while its condition holds it forbids those decision types, whatever
    the cooldowns.

    Examples
    --------
    >>> from autoopt import DecisionRule, DecisionType
    >>> rule = DecisionRule("r1", "hot", lambda c: c["cpu"] > 80, DecisionType.SCALE_UP, lambda c: {})
    >>> rule.condition({"cpu": 90})
    True
    >>> rule = DecisionRule("r2", "hot", "cpu_usage > 80", "scale_up", {"instances": "ceil(request_rate / 400)"})
    >>> rule.declarative, rule.condition({"cpu_usage": 90}), rule.parameters_fn({"request_rate": 900.0})
    (True, True, {'instances': 3})
    """

    rule_id: str
    name: str
    condition: Callable[[dict[str, Any]], bool]
    decision_type: DecisionType
    parameters_fn: Callable[[dict[str, Any]], dict[str, Any]]
    priority: int = 0
    enabled: bool = True
    description: str = ""
    cooldown_seconds: float | None = None
    role: str = "fallback"
    veto: tuple[DecisionType, ...] = ()

    @property
    def declarative(self) -> bool:
        """Whether the condition and parameters are expressions (and so the rule can be saved and backtested)."""
        return isinstance(self.condition, Expression) and isinstance(self.parameters_fn, ParameterMap)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field; raise :class:`ValueError`/:class:`TypeError` naming the first bad one.

        Rules are mutable dataclasses: :meth:`~autoopt.DecisionEngine.add_rule`
        calls this again before registering anything.
        """
        cooldown = (
            None
            if self.cooldown_seconds is None
            else check_real(self.cooldown_seconds, "DecisionRule.cooldown_seconds", low=0.0)
        )
        check_str(self.rule_id, "DecisionRule.rule_id")
        for name in ("name", "description"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(
                    f"DecisionRule.{name} must be a str; got {safe_repr(value)} of type {type(value).__name__}."
                )
        condition = self.condition
        if isinstance(condition, str):
            condition = parse_expression(
                condition, what=f"DecisionRule.condition of {self.name!r}", expect="bool"
            )
        else:
            check_sync_callable(condition, "DecisionRule.condition")
        params = self.parameters_fn
        if isinstance(params, Mapping) and not isinstance(params, ParameterMap):
            params = ParameterMap(params, what=f"DecisionRule.parameters_fn of {self.name!r}")
        else:
            check_sync_callable(params, "DecisionRule.parameters_fn")
        decision_type = check_enum(self.decision_type, DecisionType, "DecisionRule.decision_type")
        priority = check_int(self.priority, "DecisionRule.priority")
        if not isinstance(self.enabled, bool):
            raise TypeError(f"DecisionRule.enabled must be a bool; got {safe_repr(self.enabled)}.")
        if self.role not in ("fallback", "guard"):
            raise ValueError(f"DecisionRule.role must be 'fallback' or 'guard'; got {safe_repr(self.role)}.")
        if isinstance(self.veto, (str, DecisionType)) or not isinstance(
            self.veto, (tuple, list, frozenset, set)
        ):
            raise TypeError(
                f"DecisionRule.veto must be a sequence of decision types; got {safe_repr(self.veto)}."
            )
        veto = tuple(check_enum(v, DecisionType, f"DecisionRule.veto[{i}]") for i, v in enumerate(self.veto))
        if veto and self.role != "guard":
            raise ValueError("DecisionRule.veto needs role='guard': only guards veto decision types.")
        self.condition, self.parameters_fn = condition, params
        self.cooldown_seconds, self.decision_type, self.priority, self.veto = (
            cooldown,
            decision_type,
            priority,
            veto,
        )

    def to_dict(self) -> dict[str, Any]:
        """The rule as JSON-serialisable data (expressions as their text, other callables by qualified name)."""
        return record_dict(self)


# -------------------------------------------------------------------- scheduling


@dataclass
class ScheduledTask:
    """A task of the :class:`~autoopt.IntelligentScheduler`.

    The scheduler returns the live record: its ``state``, ``result`` and
    ``error`` change as the task moves on, and changing ``max_retries`` takes
    effect. ``args`` and ``kwargs`` are the call's arguments as scheduled
    (with their ``result_of`` references unresolved).
    """

    task_id: str
    name: str
    priority: SchedulerPriority
    state: TaskState
    execute_fn: Callable[[], Any]
    scheduled_time: datetime
    deadline: datetime | None = None
    resource_requirements: dict[str, float] = field(default_factory=dict)
    dependencies: list[str] = field(default_factory=list)
    retries: int = 0
    max_retries: int = 3
    result: Any | None = None
    error: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The task as JSON-serialisable data (``execute_fn`` by name, ``result`` as is or by repr)."""
        return record_dict(self)


# ------------------------------------------------------------------------- load


def classify_load(utilization: float, config: AutomationConfig | None = None) -> LoadLevel:
    """The :class:`LoadLevel` of a utilisation in [0, 1] under ``config``'s thresholds.

    A level applies at or above its threshold.

    Examples
    --------
    >>> from autoopt import AutomationConfig
    >>> from autoopt.models import classify_load
    >>> classify_load(0.8), classify_load(0.8, AutomationConfig(load_threshold_high=0.85))
    (<LoadLevel.HIGH: 'high'>, <LoadLevel.MODERATE: 'moderate'>)
    """
    cfg = config if config is not None else _DEFAULT_CONFIG
    if utilization >= cfg.load_threshold_critical:
        return LoadLevel.CRITICAL
    if utilization >= cfg.load_threshold_high:
        return LoadLevel.HIGH
    if utilization >= cfg.load_threshold_moderate:
        return LoadLevel.MODERATE
    if utilization >= cfg.load_threshold_low:
        return LoadLevel.LOW
    return LoadLevel.IDLE


_DEFAULT_CONFIG = AutomationConfig()


@dataclass
class LoadMetrics:
    """One sample of system load.

    ``cpu_usage`` and ``memory_usage`` are percentages in [0, 100],
    ``error_rate`` a fraction in [0, 1]; rates, latencies (ms) and
    ``queue_depth`` are non-negative. ``queue_delay_ms``, optional, is how
    long requests waited in the serving queue (a :class:`~autoopt.load.DelayThrottle`
    given to the :class:`~autoopt.LoadManager` sheds on it). Anything else (NaN
    and infinities included) raises :class:`ValueError` naming the field.

    Examples
    --------
    >>> from autoopt import LoadMetrics
    >>> m = LoadMetrics(cpu_usage=80.0, memory_usage=40.0)
    >>> m.utilization, m.get_load_level()
    (0.8, <LoadLevel.HIGH: 'high'>)
    >>> LoadMetrics(cpu_usage=-1.0, memory_usage=40.0)
    Traceback (most recent call last):
    ...
    ValueError: LoadMetrics.cpu_usage must be a finite number in [0, 100]; got -1.0.
    """

    cpu_usage: float
    memory_usage: float
    request_rate: float = 0.0
    error_rate: float = 0.0
    latency_p50: float = 0.0
    latency_p99: float = 0.0
    queue_depth: int = 0
    timestamp: datetime = field(default_factory=utcnow)
    queue_delay_ms: float | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field; raise :class:`ValueError`/:class:`TypeError` naming the first bad one."""
        self.cpu_usage = check_real(self.cpu_usage, "LoadMetrics.cpu_usage", low=0.0, high=100.0)
        self.memory_usage = check_real(self.memory_usage, "LoadMetrics.memory_usage", low=0.0, high=100.0)
        self.request_rate = check_real(self.request_rate, "LoadMetrics.request_rate", low=0.0)
        self.error_rate = check_real(self.error_rate, "LoadMetrics.error_rate", low=0.0, high=1.0)
        self.latency_p50 = check_real(self.latency_p50, "LoadMetrics.latency_p50", low=0.0)
        self.latency_p99 = check_real(self.latency_p99, "LoadMetrics.latency_p99", low=0.0)
        self.queue_depth = check_int(self.queue_depth, "LoadMetrics.queue_depth", low=0)
        if self.queue_delay_ms is not None:
            self.queue_delay_ms = check_real(self.queue_delay_ms, "LoadMetrics.queue_delay_ms", low=0.0)
        if not isinstance(self.timestamp, datetime):
            raise TypeError(f"LoadMetrics.timestamp must be a datetime; got {self.timestamp!r}.")

    @property
    def utilization(self) -> float:
        """``max(cpu_usage, memory_usage) / 100``, the quantity load levels are judged on."""
        return max(self.cpu_usage, self.memory_usage) / 100.0

    def get_load_level(self, config: AutomationConfig | None = None) -> LoadLevel:
        """The load level of this sample under ``config``'s thresholds (defaults if None)."""
        return classify_load(self.utilization, config)

    def to_dict(self) -> dict[str, Any]:
        """The sample as JSON-serialisable data."""
        return record_dict(self)


def create_load_metrics(
    cpu_usage: float,
    memory_usage: float,
    request_rate: float = 0.0,
    error_rate: float = 0.0,
    latency_p50: float = 0.0,
    latency_p99: float = 0.0,
    queue_depth: int = 0,
    *,
    timestamp: datetime | None = None,
    queue_delay_ms: float | None = None,
) -> LoadMetrics:
    """Build a validated :class:`LoadMetrics` stamped now (or at ``timestamp``).

    Examples
    --------
    >>> from autoopt import create_load_metrics
    >>> m = create_load_metrics(cpu_usage=95.0, memory_usage=90.0, request_rate=1000.0, error_rate=0.05)
    >>> m.get_load_level()
    <LoadLevel.CRITICAL: 'critical'>
    """
    return LoadMetrics(
        cpu_usage=cpu_usage,
        memory_usage=memory_usage,
        request_rate=request_rate,
        error_rate=error_rate,
        latency_p50=latency_p50,
        latency_p99=latency_p99,
        queue_depth=queue_depth,
        timestamp=utcnow() if timestamp is None else timestamp,
        queue_delay_ms=queue_delay_ms,
    )


# ------------------------------------------------------------------ remediation


@dataclass
class Remediation:
    """The record of one remediation attempt by :class:`~autoopt.AutoRemediation`.

    ``success`` is False when the handler returned a falsy value, raised (its
    message is in ``result``) or was not registered; ``duration_ms`` is the
    handler's measured run time.

    An action bound to a runbook (:meth:`AutoRemediation.register_runbook`)
    runs it in the background: its record comes back at once with
    ``pending=True`` and the workflow's ``run_id``, and is filled in
    (``success``, ``result``, ``duration_ms``, then ``pending=False``) when
    the run ends.
    """

    remediation_id: str
    action: RemediationAction
    target: str
    reason: str
    parameters: dict[str, Any]
    timestamp: datetime
    success: bool
    result: str | None = None
    duration_ms: float = 0.0
    run_id: str | None = None
    pending: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-serialisable data."""
        return record_dict(self)


# ------------------------------------------------------------------- prediction


@dataclass
class Prediction:
    """A point forecast with its prediction interval.

    ``confidence_interval`` is the ``(lower, upper)`` prediction interval for
    the observation at ``target_time`` and ``confidence`` its nominal
    coverage probability (0.95 for ``alpha=0.05``). ``series`` names the
    series of the metric it forecasts (None: the metric's main series).
    """

    prediction_id: str
    prediction_type: PredictionType
    target_time: datetime
    predicted_value: float
    confidence_interval: tuple[float, float]
    confidence: float
    model_version: str
    timestamp: datetime
    actual_value: float | None = None
    series: str | None = None

    @property
    def covered(self) -> bool | None:
        """Whether the actual value fell inside the interval (None until validated)."""
        if self.actual_value is None:
            return None
        lo, hi = self.confidence_interval
        return lo <= self.actual_value <= hi

    def to_dict(self) -> dict[str, Any]:
        """The prediction as JSON-serialisable data."""
        return record_dict(self)


# --------------------------------------------------------------------- learning


@dataclass
class LearningPattern:
    """What the :class:`~autoopt.PatternLearner` knows about one set of conditions.

    ``optimal_action`` is the best-scoring action for ``conditions``,
    ``success_rate`` its exponentially weighted success rate and
    ``sample_count`` the number of observations of that action.
    """

    pattern_id: str
    name: str
    conditions: dict[str, Any]
    optimal_action: str
    success_rate: float
    sample_count: int
    last_updated: datetime

    def to_dict(self) -> dict[str, Any]:
        """The pattern as JSON-serialisable data."""
        return record_dict(self)
