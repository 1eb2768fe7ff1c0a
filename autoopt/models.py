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

import math
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, is_dataclass
from datetime import datetime
from enum import Enum
from typing import Any

import numpy as np

from autoopt._clock import utcnow
from autoopt._validation import (
    check_enum,
    check_int,
    check_random_state,
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
    TuningStatus,
    TuningStrategy,
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


def new_id() -> str:
    """A fresh random identifier (a UUID4 hex string)."""
    return uuid.uuid4().hex


def jsonable(obj: Any) -> Any:
    """Convert ``obj`` to JSON-serialisable data.

    Enums become their values, datetimes ISO-8601 strings, NumPy scalars and
    arrays Python numbers and lists, objects with ``to_dict`` their dict,
    callables their qualified name, and anything else its ``repr``.
    Non-finite floats become ``None`` (JSON has no NaN). An object whose own
    ``to_dict`` or ``repr`` raises becomes a string naming the type and the
    error, so serialising user data never raises.
    """
    if isinstance(obj, Enum):  # before str: StrEnum members are strs
        return jsonable(obj.value)
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, np.ndarray):
        return [jsonable(x) for x in obj.tolist()]
    if isinstance(obj, Mapping):
        return {str(jsonable(k)): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(x) for x in obj]
    try:
        to_dict = getattr(obj, "to_dict", None)
        if callable(to_dict) and not isinstance(obj, type):
            return jsonable(to_dict())
        if callable(obj):
            return getattr(obj, "__qualname__", None) or repr(obj)
        if is_dataclass(obj) and not isinstance(obj, type):
            return {f: jsonable(getattr(obj, f)) for f in obj.__dataclass_fields__}
        return repr(obj)
    except Exception as exc:  # user objects: a broken to_dict/repr must not break serialisation
        return f"<unserialisable {type(obj).__name__}: {type(exc).__name__}: {exc}>"


def _record_dict(obj: Any, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    return {f: jsonable(getattr(obj, f)) for f in obj.__dataclass_fields__ if f not in exclude}


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
        return _record_dict(self)


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
        return _record_dict(self)


# ------------------------------------------------------------------------ tuning


@dataclass
class TuningParameter:
    """One tuned parameter: its bounds, its current and best values and its history.

    A parameter whose bounds and initial value are all ints is an integer
    parameter (``is_integer``); its values are then ints. Scores follow the
    rule *higher is better*. ``log`` marks a parameter searched on a log
    scale (``step_size`` is then a step of ``log(value)``). A categorical
    parameter has ``choices``; its values are the choices themselves and
    ``min_value``/``max_value`` index them (0 and ``len(choices) - 1``).

    Examples
    --------
    >>> from autoopt import TuningParameter, TuningStrategy
    >>> p = TuningParameter.from_bounds("batch_size", (16, 128, 32))
    >>> p.is_integer, p.step_size
    (True, 11)
    >>> p.record(32, 0.5); p.record(64, 0.7)
    >>> p.best_value, p.best_score
    (64, 0.7)
    >>> p.get_next_value(TuningStrategy.GRID_SEARCH)   # the grid point after 64: 16 + 5 * 11
    71
    """

    name: str
    current_value: float
    min_value: float
    max_value: float
    step_size: float
    best_value: float | None = None
    best_score: float | None = None
    history: list[tuple[float, float]] = field(default_factory=list)
    is_integer: bool = False
    log: bool = False
    choices: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        where = f"TuningParameter({self.name!r})"
        lo = check_real(self.min_value, f"{where}.min_value")
        hi = check_real(self.max_value, f"{where}.max_value")
        if lo > hi:
            raise ValueError(f"{where}.min_value ({lo!r}) must be <= max_value ({hi!r}).")
        if self.choices is not None:
            self.choices = tuple(self.choices)
            if self.current_value not in self.choices:
                raise ValueError(
                    f"{where}.current_value {self.current_value!r} is not one of {self.choices!r}."
                )
            return
        check_real(self.current_value, f"{where}.current_value", low=lo, high=hi)
        check_real(self.step_size, f"{where}.step_size", low=0.0, low_open=hi > lo)

    @classmethod
    def from_bounds(cls, name: str, bounds: tuple[float, float, float]) -> TuningParameter:
        """Build a parameter from the seed's ``(min, max, initial)`` tuple.

        The step size is a tenth of the range (at least 1 for integers).

        Raises
        ------
        ValueError
            If ``min > max`` or the initial value lies outside ``[min, max]``.
        TypeError
            If ``bounds`` is not a 3-tuple of real numbers.
        """
        if not isinstance(bounds, (tuple, list)) or len(bounds) != 3:
            raise TypeError(f"parameters[{name!r}] must be a (min, max, initial) tuple; got {bounds!r}.")
        lo, hi, init = bounds
        for label, v in (("min", lo), ("max", hi), ("initial", init)):
            check_real(v, f"parameters[{name!r}] {label}")
        if lo > hi:
            raise ValueError(f"parameters[{name!r}]: min ({lo!r}) must be <= max ({hi!r}).")
        if not lo <= init <= hi:
            raise ValueError(f"parameters[{name!r}]: initial value {init!r} is outside [{lo!r}, {hi!r}].")
        is_int = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in bounds)
        if is_int:
            step: float = max(1, (int(hi) - int(lo)) // 10)
            return cls(name, int(init), int(lo), int(hi), step, is_integer=True)
        return cls(name, float(init), float(lo), float(hi), (float(hi) - float(lo)) / 10.0)

    def _clip(self, value: float) -> float:
        value = min(max(value, self.min_value), self.max_value)
        return round(value) if self.is_integer else float(value)

    def record(self, value: float, score: float, *, maximize: bool = True) -> None:
        """Append ``(value, score)`` to the history and update current and best.

        The best is the highest score, or the lowest with ``maximize=False``
        (a session created with ``direction="minimize"``).
        """
        self.history.append((value, score))
        self.current_value = value
        if self.best_score is None or (score > self.best_score if maximize else score < self.best_score):
            self.best_score = score
            self.best_value = value

    def get_next_value(self, strategy: TuningStrategy, rng: Any = None) -> float:
        """Propose this parameter's next value on its own, one-dimensionally.

        This is the per-parameter heuristic of the data model; the
        :class:`~autoopt.SelfTuner` searches all parameters jointly with
        Optuna instead. The rules are:

        - ``RANDOM_SEARCH``: uniform in the bounds;
        - ``GRID_SEARCH``: the next point of the grid ``min + k * step_size``,
          wrapping to ``min``;
        - ``GRADIENT_DESCENT``: one step of ``step_size`` in the direction of
          the finite-difference slope of the last two distinct recorded values
          (upwards when there is no slope yet);
        - ``BAYESIAN``, ``GENETIC``, ``ADAPTIVE``: a Gaussian mutation of the
          best value so far (or the current one) with standard deviation
          ``step_size``.

        Parameters
        ----------
        strategy : TuningStrategy
        rng : int, numpy.random.Generator or None
            Randomness for the stochastic rules.
        """
        strategy = check_enum(strategy, TuningStrategy, "strategy")
        if self.choices is not None:
            if strategy is TuningStrategy.GRID_SEARCH:
                return self.choices[(self.choices.index(self.current_value) + 1) % len(self.choices)]
            return self.choices[int(check_random_state(rng, "rng").integers(len(self.choices)))]
        if self.max_value == self.min_value:
            return self._clip(self.min_value)
        # Log parameters follow the same rules on log(value), where step_size lives.
        fwd: Callable[[float], float] = math.log if self.log else float
        lo, hi, cur = fwd(self.min_value), fwd(self.max_value), fwd(self.current_value)
        if strategy is TuningStrategy.GRID_SEARCH:
            k = math.floor((cur - lo) / self.step_size + 1e-9) + 1
            nxt = lo + k * self.step_size
            return self._clip_unit(nxt if nxt <= hi + 1e-12 else lo)
        if strategy is TuningStrategy.GRADIENT_DESCENT:
            direction = 1.0
            for (v1, s1), (v0, s0) in zip(
                reversed(self.history), list(reversed(self.history))[1:], strict=False
            ):
                if v1 != v0:
                    slope = (s1 - s0) / (fwd(v1) - fwd(v0))
                    direction = 1.0 if slope >= 0 else -1.0
                    break
            return self._clip_unit(cur + direction * self.step_size)
        gen = check_random_state(rng, "rng")
        if strategy is TuningStrategy.RANDOM_SEARCH:
            if self.is_integer and not self.log:
                return int(gen.integers(int(self.min_value), int(self.max_value) + 1))
            return self._clip_unit(float(gen.uniform(lo, hi)))
        centre = fwd(self.best_value if self.best_value is not None else self.current_value)
        return self._clip_unit(float(gen.normal(centre, self.step_size)))

    def _clip_unit(self, v: float) -> float:
        # ``v`` is on the search scale (log(value) for log parameters).
        return self._clip(math.exp(v) if self.log else v)

    def to_dict(self) -> dict[str, Any]:
        """The parameter as JSON-serialisable data."""
        return _record_dict(self)


@dataclass
class TuningSession:
    """A tuning session of the :class:`~autoopt.SelfTuner`.

    ``iterations`` counts the results recorded so far; the session stops
    proposing values once it reaches ``max_iterations`` or converges.
    ``direction`` says whether a higher (``"maximize"``, the default) or a
    lower score is better. ``strategy`` is ``None`` for a session searching
    with a user's own Optuna sampler, which ``sampler_name`` names (its
    class name).
    """

    session_id: str
    parameters: dict[str, TuningParameter]
    strategy: TuningStrategy | None
    status: TuningStatus = TuningStatus.IDLE
    objective_fn: Callable[..., float] | None = None
    iterations: int = 0
    max_iterations: int = 100
    convergence_threshold: float = 1e-4
    started_at: datetime = field(default_factory=utcnow)
    completed_at: datetime | None = None
    best_score: float | None = None
    best_parameters: dict[str, float] | None = None
    direction: str = "maximize"
    sampler_name: str | None = None
    _trials_source: Callable[[], Any] | None = field(default=None, repr=False, compare=False, kw_only=True)

    def trials_dataframe(self) -> Any:
        """One row per trial of the session, as a pandas DataFrame.

        Columns: ``number``, ``state``, ``score``, ``datetime_start``,
        ``datetime_complete``, ``duration_s``, ``params_<name>`` per
        parameter, ``message`` (why a trial failed), ``last_intermediate``
        (the last value reported by a pruned trial) and ``best_score`` (the
        running best). See :func:`autoopt.tuning.trials_frame`.

        Raises
        ------
        RuntimeError
            If the session was not created by a :class:`~autoopt.SelfTuner`.
        """
        if self._trials_source is None:
            raise RuntimeError(
                f"TuningSession {self.session_id!r} was not created by a SelfTuner; it has no trials to show."
            )
        return self._trials_source()

    def to_dict(self) -> dict[str, Any]:
        """The session as JSON-serialisable data."""
        return _record_dict(self, exclude=("_trials_source",))


# -------------------------------------------------------------------- scheduling


@dataclass
class ScheduledTask:
    """A task of the :class:`~autoopt.IntelligentScheduler`.

    The scheduler returns the live record: its ``state``, ``result`` and
    ``error`` change as the task moves on, and changing ``max_retries`` takes
    effect.
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

    def to_dict(self) -> dict[str, Any]:
        """The task as JSON-serialisable data (``execute_fn`` by name, ``result`` as is or by repr)."""
        return _record_dict(self)


_STANDARD_RESOURCES = ("cpu", "memory", "io_bandwidth", "network")
_EPS = 1e-9


@dataclass
class ResourcePool:
    """Capacities of the resources tasks compete for.

    The pool remembers its starting capacity: :meth:`release` never raises a
    resource above it. Every method is atomic under an internal lock;
    :meth:`try_allocate` checks and allocates in one step.

    Requirements are dicts over ``cpu``, ``memory``, ``io_bandwidth``,
    ``network`` and the keys of ``custom``; an unknown key or a negative
    amount raises :class:`ValueError`.

    Examples
    --------
    >>> from autoopt import ResourcePool
    >>> pool = ResourcePool(custom={"gpu": 2})
    >>> pool.can_allocate({"cpu": 30, "gpu": 1})
    True
    >>> pool.allocate({"cpu": 30, "gpu": 1}); pool.cpu, pool.custom["gpu"]
    (70.0, 1.0)
    >>> pool.release({"cpu": 50}); pool.cpu
    100.0
    """

    cpu: float = 100.0
    memory: float = 100.0
    io_bandwidth: float = 100.0
    network: float = 100.0
    custom: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in _STANDARD_RESOURCES:
            setattr(self, name, check_real(getattr(self, name), f"ResourcePool.{name}", low=0.0))
        if not isinstance(self.custom, Mapping):
            raise TypeError(f"ResourcePool.custom must be a dict; got {self.custom!r}.")
        custom: dict[str, float] = {}
        for key, value in self.custom.items():
            if not isinstance(key, str) or key in _STANDARD_RESOURCES:
                raise ValueError(f"ResourcePool.custom has an invalid resource name {key!r}.")
            custom[key] = check_real(value, f"ResourcePool.custom[{key!r}]", low=0.0)
        self.custom = custom
        # Not dataclass fields, so asdict() never sees the lock (copy and pickle: __getstate__).
        object.__setattr__(self, "_lock", threading.RLock())
        object.__setattr__(self, "_capacity", self.available())

    def __getstate__(self) -> dict[str, Any]:
        with self._lock:  # type: ignore[attr-defined]
            state = dict(self.__dict__)
            state["custom"] = dict(self.custom)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        object.__setattr__(self, "_lock", threading.RLock())

    def available(self) -> dict[str, float]:
        """What is free now, per resource."""
        out = {name: float(getattr(self, name)) for name in _STANDARD_RESOURCES}
        out.update(self.custom)
        return out

    def capacity(self) -> dict[str, float]:
        """The starting capacity, per resource."""
        return dict(self._capacity)  # type: ignore[attr-defined]

    def check_requirements(
        self, requirements: Mapping[str, float] | None, name: str = "resource_requirements"
    ) -> dict[str, float]:
        """Validate ``requirements`` against the known resources and return them as floats."""
        if requirements is None:
            return {}
        if not isinstance(requirements, Mapping):
            raise TypeError(f"{name} must be a dict of resource -> amount; got {requirements!r}.")
        cap: dict[str, float] = self._capacity  # type: ignore[attr-defined]
        out: dict[str, float] = {}
        for key, amount in requirements.items():
            if key not in cap:
                raise ValueError(
                    f"{name} names an unknown resource {key!r}; known resources are {sorted(cap)}."
                )
            out[key] = check_real(amount, f"{name}[{key!r}]", low=0.0)
        return out

    def _get(self, key: str) -> float:
        return float(getattr(self, key)) if key in _STANDARD_RESOURCES else self.custom[key]

    def _set(self, key: str, value: float) -> None:
        if key in _STANDARD_RESOURCES:
            setattr(self, key, value)
        else:
            self.custom[key] = value

    def can_allocate(self, requirements: Mapping[str, float]) -> bool:
        """Whether every required amount is available now."""
        req = self.check_requirements(requirements, "can_allocate() argument 'requirements'")
        with self._lock:  # type: ignore[attr-defined]
            return all(self._get(k) + _EPS >= v for k, v in req.items())

    def try_allocate(self, requirements: Mapping[str, float]) -> bool:
        """Allocate ``requirements`` if all of it is available; return whether it was."""
        req = self.check_requirements(requirements, "try_allocate() argument 'requirements'")
        with self._lock:  # type: ignore[attr-defined]
            if not all(self._get(k) + _EPS >= v for k, v in req.items()):
                return False
            for k, v in req.items():
                self._set(k, max(0.0, self._get(k) - v))
            return True

    def allocate(self, requirements: Mapping[str, float]) -> None:
        """Allocate ``requirements``.

        Raises
        ------
        ValueError
            If some resource is short; nothing is allocated then.
        """
        req = self.check_requirements(requirements, "allocate() argument 'requirements'")
        with self._lock:  # type: ignore[attr-defined]
            short = {k: (v, self._get(k)) for k, v in req.items() if self._get(k) + _EPS < v}
            if short:
                detail = ", ".join(f"{k}: requested {v:g}, available {a:g}" for k, (v, a) in short.items())
                raise ValueError(f"allocate() argument 'requirements': cannot allocate resources ({detail}).")
            for k, v in req.items():
                self._set(k, max(0.0, self._get(k) - v))

    def release(self, requirements: Mapping[str, float]) -> None:
        """Give ``requirements`` back, never above the starting capacity."""
        req = self.check_requirements(requirements, "release() argument 'requirements'")
        cap: dict[str, float] = self._capacity  # type: ignore[attr-defined]
        with self._lock:  # type: ignore[attr-defined]
            for k, v in req.items():
                self._set(k, min(cap[k], self._get(k) + v))

    def to_dict(self) -> dict[str, Any]:
        """Available amounts and capacities as JSON-serialisable data."""
        return {"available": self.available(), "capacity": self.capacity()}


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
    ``queue_depth`` are non-negative. Anything else (NaN and infinities
    included) raises :class:`ValueError` naming the field.

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
        return _record_dict(self)


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
    )


# ------------------------------------------------------------------ remediation


@dataclass
class Remediation:
    """The record of one remediation attempt by :class:`~autoopt.AutoRemediation`.

    ``success`` is False when the handler returned a falsy value, raised (its
    message is in ``result``) or was not registered; ``duration_ms`` is the
    handler's measured run time.
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

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-serialisable data."""
        return _record_dict(self)


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
        return _record_dict(self)


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
        return _record_dict(self)
