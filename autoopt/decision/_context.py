"""The decision context: one schema, one function that builds it, and the time it is decided at.

The hub, declarative and lambda rules, :meth:`DecisionEngine.backtest` and policies all read the
same context. :data:`DEFAULT_CONTEXT_KEYS` documents every key with its unit; a
:class:`ContextSchema` is those keys plus the ones a user registers (the hub's ``context=`` keys,
a simulator's replica counts...). Declarative rules are checked against the engine's schema when
they are added.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from autoopt._clock import check_sample_time, is_default_stamp
from autoopt._validation import check_str
from autoopt.enums import LoadLevel, PredictionType
from autoopt.models import LoadMetrics, Prediction

__all__ = [
    "DEFAULT_CONTEXT_KEYS",
    "ANOMALY_SIGNALS",
    "ContextKey",
    "ContextSchema",
    "build_context",
    "decision_time",
]

ANOMALY_SIGNALS: tuple[str, ...] = ("utilization", "request_rate", "error_rate", "latency_p99")
"""The load-sample signals the hub can score for anomalies."""

_KINDS = ("number", "string", "bool", "time", "mapping")


@dataclass(frozen=True)
class ContextKey:
    """One key of the decision context.

    ``kind`` is ``"number"``, ``"string"`` or ``"bool"`` (usable in declarative rules),
    ``"time"`` or ``"mapping"`` (lambda rules only). ``alias_of`` names the key this one repeats
    (in the unit given here).
    """

    name: str
    kind: str
    unit: str
    description: str
    alias_of: str | None = None

    def __post_init__(self) -> None:
        check_str(self.name, "ContextKey.name")
        if not self.name.isidentifier() or self.name.startswith("__"):
            raise ValueError(
                f"ContextKey.name must be an identifier without leading '__'; got {self.name!r}."
            )
        if self.kind not in _KINDS:
            raise ValueError(f"ContextKey.kind must be one of {list(_KINDS)}; got {self.kind!r}.")
        for field in ("unit", "description"):
            if not isinstance(getattr(self, field), str):
                raise TypeError(f"ContextKey.{field} must be a str; got {getattr(self, field)!r}.")


def _k(name: str, kind: str, unit: str, description: str, alias_of: str | None = None) -> ContextKey:
    return ContextKey(name, kind, unit, description, alias_of)


DEFAULT_CONTEXT_KEYS: tuple[ContextKey, ...] = (
    _k("cpu_usage", "number", "%", "CPU utilisation, 0-100"),
    _k("memory_usage", "number", "%", "memory utilisation, 0-100"),
    _k("request_rate", "number", "requests/s", "requests offered"),
    _k("error_rate", "number", "fraction", "share of requests that failed, 0-1"),
    _k("latency_p50", "number", "ms", "median latency"),
    _k("latency_p99", "number", "ms", "99th-percentile latency"),
    _k("queue_depth", "number", "requests", "requests waiting"),
    _k("timestamp", "time", "datetime or POSIX s", "when the sample was taken; cooldowns are timed on it"),
    _k("utilization", "number", "fraction", "max(cpu_usage, memory_usage) / 100, 0-1"),
    _k("load_level", "string", "", "'critical', 'high', 'moderate', 'low' or 'idle'"),
    _k("throttle_percentage", "number", "%", "share of work the load manager sheds, 0-100"),
    _k("should_shed", "bool", "", "whether the throttle is above 0"),
    _k("anomaly_score", "number", "score", "the largest anomaly score of the sample's signals, 0-1"),
    *(_k(f"anomaly_score_{s}", "number", "score", f"the anomaly score of {s}, 0-1") for s in ANOMALY_SIGNALS),
    _k("anomaly_scores", "mapping", "score", "signal -> anomaly score"),
    *(
        _k(f"predicted_load{b}", "number", "%", f"forecast utilisation x 100{d}")
        for b, d in (("", ""), ("_lower", ", interval's lower end"), ("_upper", ", interval's upper end"))
    ),
    *(
        _k(
            f"predicted_utilization{b}",
            "number",
            "fraction",
            f"forecast utilisation, 0-1{d}",
            f"predicted_load{b}",
        )
        for b, d in (("", ""), ("_lower", ", lower end"), ("_upper", ", upper end"))
    ),
    *(
        _k(f"predicted_request_rate{b}", "number", "requests/s", f"forecast request rate{d}")
        for b, d in (("", ""), ("_lower", ", interval's lower end"), ("_upper", ", interval's upper end"))
    ),
    *(
        _k(
            f"predicted_throughput{b}",
            "number",
            "requests/s",
            f"forecast request rate{d}",
            f"predicted_request_rate{b}",
        )
        for b, d in (("", ""), ("_lower", ", lower end"), ("_upper", ", upper end"))
    ),
)
"""Every key :func:`build_context` writes, with its kind and unit."""


class ContextSchema:
    """The keys of a decision context: :data:`DEFAULT_CONTEXT_KEYS` plus registered ones.

    Thread-safe: registration replaces an immutable snapshot, so readers never lock.

    Examples
    --------
    >>> schema = ContextSchema()
    >>> schema.register("replicas", "number", "replicas", "replicas serving")
    ContextKey(name='replicas', kind='number', unit='replicas', description='replicas serving', alias_of=None)
    >>> schema.kinds()["replicas"], schema.kinds()["load_level"]
    ('number', 'string')
    """

    def __init__(self, extra: Iterable[ContextKey] = ()) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, ContextKey] = {k.name: k for k in DEFAULT_CONTEXT_KEYS}
        self._registered: dict[str, ContextKey] = {}
        self._kinds: dict[str, str] = {}
        for key in extra:
            self._add(key)
        self._refresh()

    def _refresh(self) -> None:
        self._kinds = {k.name: k.kind for k in self._keys.values() if k.kind in ("number", "string", "bool")}

    def _add(self, key: ContextKey) -> ContextKey:
        if not isinstance(key, ContextKey):
            raise TypeError(f"ContextSchema keys must be ContextKey; got {key!r}.")
        known = self._keys.get(key.name)
        if known is not None and known != key:
            raise ValueError(f"context key {key.name!r} is already defined as {known}.")
        self._keys = {**self._keys, key.name: key}
        if key not in DEFAULT_CONTEXT_KEYS:
            self._registered = {**self._registered, key.name: key}
        return key

    def register(self, name: str, kind: str = "number", unit: str = "", description: str = "") -> ContextKey:
        """Add a key (registering the same key again is a no-op; a different definition raises)."""
        key = ContextKey(name, kind, unit, description)
        with self._lock:
            out = self._add(key)
            self._refresh()
        return out

    def kinds(self) -> dict[str, str]:
        """Key -> kind, for the keys declarative rules can read (numbers, strings and bools)."""
        return self._kinds

    def keys(self) -> list[ContextKey]:
        """Every key, defaults first."""
        return list(self._keys.values())

    def registered(self) -> list[ContextKey]:
        """The keys registered beyond the defaults."""
        return list(self._registered.values())

    def __contains__(self, name: object) -> bool:
        return name in self._keys


def build_context(
    metrics: LoadMetrics,
    *,
    level: LoadLevel,
    throttle: float,
    predictions: Mapping[PredictionType, Prediction] | None = None,
    anomalies: Mapping[str, float] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The decision context of one sample (see :data:`DEFAULT_CONTEXT_KEYS` for the keys and units).

    The forecast keys are None until the predictor has enough history. ``extra`` entries (the hub's
    ``context=``) override the computed ones.

    Examples
    --------
    >>> from autoopt import create_load_metrics
    >>> from autoopt.enums import LoadLevel
    >>> ctx = build_context(create_load_metrics(80.0, 40.0, request_rate=120.0), level=LoadLevel.HIGH, throttle=0.0)
    >>> ctx["utilization"], ctx["load_level"], ctx["predicted_load"], ctx["anomaly_score"]
    (0.8, 'high', None, 0.0)
    """
    scores = dict(anomalies or {})
    ctx: dict[str, Any] = {
        "cpu_usage": metrics.cpu_usage,
        "memory_usage": metrics.memory_usage,
        "request_rate": metrics.request_rate,
        "error_rate": metrics.error_rate,
        "latency_p50": metrics.latency_p50,
        "latency_p99": metrics.latency_p99,
        "queue_depth": metrics.queue_depth,
        "timestamp": metrics.timestamp,
        "utilization": metrics.utilization,
        "load_level": level.value,
        "throttle_percentage": throttle,
        "should_shed": throttle > 0.0,
        "anomaly_scores": scores,
        "anomaly_score": max(scores.values(), default=0.0),
    }
    for signal in ANOMALY_SIGNALS:
        ctx[f"anomaly_score_{signal}"] = scores.get(signal)
    preds = predictions or {}
    load = preds.get(PredictionType.LOAD)
    rate = preds.get(PredictionType.THROUGHPUT)
    for suffix, pick in (("", 0), ("_lower", 1), ("_upper", 2)):
        lv = None if load is None else (load.predicted_value, *load.confidence_interval)[pick]
        rv = None if rate is None else (rate.predicted_value, *rate.confidence_interval)[pick]
        ctx[f"predicted_load{suffix}"] = lv
        ctx[f"predicted_utilization{suffix}"] = None if lv is None else lv / 100.0
        ctx[f"predicted_request_rate{suffix}"] = rv
        ctx[f"predicted_throughput{suffix}"] = rv
    if extra:
        ctx.update(extra)
    return ctx


def decision_time(context: Mapping[str, Any], clock_now: Any) -> float:
    """The time a decision on ``context`` is made at: its ``timestamp`` when the caller chose one.

    A ``timestamp`` key holding a datetime or POSIX seconds is used, so replaying history times
    cooldowns exactly as live use did; a default wall-clock stamp (a sample built without
    ``timestamp=``) never overrides the engine's clock, which may be simulated. ``clock_now`` is
    called only when the context has no usable time.

    Raises
    ------
    TypeError, ValueError
        If ``context["timestamp"]`` is present but not a time, or outside pandas' nanosecond
        range (as a sample's time must be).
    """
    ts = context.get("timestamp")
    if ts is None or is_default_stamp(ts):
        return float(clock_now())
    return check_sample_time(ts, "evaluate() argument 'context'['timestamp']")
