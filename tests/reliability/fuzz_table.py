"""The table the reliability fuzz suite runs on: every public entry point and its arguments.

Each :class:`EntryPoint` names a call, builds a fresh component holding some state (``make``), calls
the entry point with keyword arguments (``call``), and describes each argument with an :class:`Arg`:
a valid value and the *kind* of value it takes. The kind decides which bad-input classes apply
(see :data:`BAD_CLASSES`) and which values are drawn for each.

Later issues add their entry points to :data:`ENTRY_POINTS`: a row, not a test.

Not in the table, on purpose:

- enums: their constructor is Python's own ``Enum`` lookup;
- records the library creates and users only read (``Decision``, ``Remediation``, ``Prediction``,
  ``LearningPattern``, ``TuningSession``, ``ScheduledTask``, ``BacktestResult``,
  ``VisionDescription``): they are validated where they come back in (``score_prediction`` takes a
  ``Prediction`` and is in the table);
- pass-through calls (``AutomatedProvider.__call__`` hands its arguments to the user's model);
- getters without arguments.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from autoopt import (
    AnomalyDetector,
    AutomatedProvider,
    AutomatedVisionProvider,
    AutomationConfig,
    AutoRemediation,
    CategoricalParam,
    DecisionEngine,
    DecisionRule,
    DecisionType,
    FloatParam,
    Forecaster,
    IntelligentAutomationHub,
    IntelligentScheduler,
    IntParam,
    LoadLevel,
    LoadManager,
    LoadMetrics,
    PatternLearner,
    PerformancePredictor,
    PredictionType,
    RemediationAction,
    ResourcePool,
    SchedulerPriority,
    SelfTuner,
    TaskState,
    TuningParameter,
    TuningStrategy,
    VisionDescription,
    VisionProvider,
    Workflow,
    backtest,
    create_automated_provider,
    create_automation_config,
    create_decision_rule,
    create_intelligent_automation_hub,
    create_load_metrics,
)
from autoopt._clock import ManualClock
from autoopt._validation import MAX_SIZE
from autoopt.decision import Policy, Proposal
from autoopt.policy import DQNPolicy, HPAPolicy, StaticPolicy, evaluate_policy, threshold_rules
from autoopt.prediction import SlidingOLS
from autoopt.sim import AutoscalingEnv
from autoopt.workflows import Actions

T0 = datetime(2026, 3, 1, tzinfo=UTC)
NOW = T0 + timedelta(minutes=10)  # the components' clock: samples run from T0 to T0 + 4 min


async def _async_fn(*args: Any, **kwargs: Any) -> Any:
    return True


class _Vision(VisionProvider):
    provider_name = "vision"

    async def analyze_image(self, image_data: bytes, include_description: bool = True) -> VisionDescription:
        return VisionDescription("ok", provider="vision")


def _rule(**kw: Any) -> DecisionRule:
    args: dict[str, Any] = {
        "name": "r",
        "condition": lambda c: c.get("cpu_usage", 0) > 80,
        "decision_type": DecisionType.SCALE_UP,
        "parameters_fn": lambda c: {"instances": 1},
    }
    args.update(kw)
    return create_decision_rule(**args)


# ------------------------------------------------------------------------------------ arguments

# The bad-input classes the issue names. Each Arg kind maps to the classes that apply to it.
BAD_CLASSES = (
    "nan",
    "inf",
    "negative",
    "out_of_range",
    "wrong_type",
    "huge_int",
    "empty",
    "malformed_id",
    "time_order",
    "unsafe_expression",
)
HUGE = 10**400
_NAN, _INF = float("nan"), float("inf")


@dataclass(frozen=True)
class From:
    """A valid value that depends on the state ``make`` built: ``From(lambda s: s.rule.rule_id)``."""

    factory: Callable[[SimpleNamespace], Any]


@dataclass(frozen=True)
class Arg:
    """One argument: its name, a valid value and the values of each bad class that apply.

    ``valid`` may be a :class:`From`, for values that must refer to the state the entry point's
    ``make`` built (an id, say). ``message`` is what the error must contain; by default the
    argument's quoted name (``'limit'``) or, for a record's field, ``Record.field``.
    """

    name: str
    valid: Any
    bad: dict[str, tuple[Any, ...]]
    message: str | None = None
    draws: dict[str, st.SearchStrategy[Any]] = field(default_factory=dict, compare=False)

    def expected(self) -> str:
        return self.message if self.message is not None else f"'{self.name}'"


def real(
    name: str,
    valid: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    optional: bool = False,
    message: str | None = None,
) -> Arg:
    bad: dict[str, tuple[Any, ...]] = {
        "nan": (_NAN, np.float64(_NAN)),
        "inf": (_INF, -_INF),
        "huge_int": (HUGE, -HUGE),
        "wrong_type": ("1.0", [1.0], True, b"1", object(), *(() if optional else (None,))),
    }
    if low is not None and low >= 0:
        bad["negative"] = tuple(v for v in (-1.0, -1e-9, -5) if v < low)
    out: list[Any] = []
    if high is not None:
        out += [high + 1.0, math.nextafter(high, _INF), 2.0 * high + 10.0]
    if low is not None:
        out += [low] if low_open else []
        out += [low - 1.0] if low < 0 else []
    if out:
        bad["out_of_range"] = tuple(out)
    draws: dict[str, st.SearchStrategy[Any]] = {
        "huge_int": st.integers(2**1030, 2**4000) | st.integers(-(2**4000), -(2**1030))
    }
    if "negative" in bad:
        draws["negative"] = st.floats(-1e12, -1e-6)
    if high is not None:
        draws["out_of_range"] = st.floats(high, 4.0 * abs(high) + 1e6, exclude_min=True)
    return Arg(name, valid, bad, message, draws)


def integer(
    name: str,
    valid: Any,
    *,
    low: int | None = None,
    high: int | None = None,
    optional: bool = False,
    message: str | None = None,
) -> Arg:
    bad: dict[str, tuple[Any, ...]] = {
        "wrong_type": (1.5, "3", [3], True, _NAN, *(() if optional else (None,))),
        "nan": (_NAN,),
        "inf": (_INF,),
    }
    if low is not None and low >= 0:
        bad["negative"] = tuple(v for v in (-1, -10) if v < low)
    out = ([high + 1] if high is not None else []) + ([low - 1] if low is not None and low > 0 else [])
    if out:
        bad["out_of_range"] = tuple(out)
    draws: dict[str, st.SearchStrategy[Any]] = {"wrong_type": st.floats()}
    if "negative" in bad:
        draws["negative"] = st.integers(-(10**6), min(-1, (low or 0) - 1))
    if high is not None:
        bad["huge_int"] = (HUGE,)
        draws["out_of_range"] = st.integers(high + 1, high + 10**6)
        draws["huge_int"] = st.integers(2**64, 2**4000)
    return Arg(name, valid, bad, message, draws)


def size(
    name: str,
    valid: Any,
    *,
    low: int = 1,
    high: int = MAX_SIZE,
    optional: bool = False,
    message: str | None = None,
) -> Arg:
    """A size (a history length, a window, a cap): bounded above, so a huge int is refused."""
    return integer(name, valid, low=low, high=high, optional=optional, message=message)


def text(
    name: str, valid: Any, *, nonempty: bool = True, optional: bool = False, message: str | None = None
) -> Arg:
    bad: dict[str, tuple[Any, ...]] = {"wrong_type": (5, b"x", ["x"], *(() if optional else (None,)))}
    if nonempty:
        bad["empty"] = ("", "   ")
    return Arg(name, valid, bad, message)


def ident(name: str, valid: Any, message: str | None = None) -> Arg:
    return Arg(name, valid, {"malformed_id": (None, 5, ["x"], b"id", 1.5, ("a",))}, message)


def flag(name: str, valid: bool, message: str | None = None) -> Arg:
    return Arg(name, valid, {"wrong_type": (1, 0, "yes", None)}, message)


def enum_arg(name: str, valid: Any, *, optional: bool = False, message: str | None = None) -> Arg:
    return Arg(
        name,
        valid,
        {"wrong_type": (5, 1.5, *(() if optional else (None,))), "out_of_range": ("not-a-member",)},
        message,
    )


def func(
    name: str, valid: Any, *, optional: bool = False, sync: bool = True, message: str | None = None
) -> Arg:
    wrong: tuple[Any, ...] = (5, "f", *(() if optional else (None,)))
    if sync:
        wrong += (_async_fn,)  # a coroutine function where a synchronous callable is called
    return Arg(name, valid, {"wrong_type": wrong}, message)


UNSAFE = (
    "cpu_usage >",
    "os.system('ls')",
    "__import__('os')",
    "[x for x in y]",
    "cpu_usage.real",
    "'a' * 10",
)


def rule_part(name: str, valid: Any, message: str) -> Arg:
    """A rule's condition or parameters: a sync callable, or a safe expression (a dict of them)."""
    wrong: tuple[Any, ...] = (5, None, b"x", _async_fn, [1])
    bad: dict[str, tuple[Any, ...]] = {"wrong_type": wrong}
    if name == "condition":
        bad["unsafe_expression"] = UNSAFE
    else:
        bad["unsafe_expression"] = tuple({"x": u} for u in UNSAFE)
        bad["wrong_type"] = (*wrong, {"x": object()}, {1: "x"})
    return Arg(name, valid, bad, message)


def mapping(name: str, valid: Any, *, optional: bool = False, message: str | None = None) -> Arg:
    return Arg(name, valid, {"wrong_type": (5, "x", [1, 2], *(() if optional else (None,)))}, message)


def when(
    name: str, valid: Any, *, numeric: bool = True, optional: bool = True, message: str | None = None
) -> Arg:
    """A time: a datetime (or POSIX seconds when ``numeric``)."""
    wrong: tuple[Any, ...] = ("2026-03-01", [1.0], *(() if optional else (None,)))
    bad: dict[str, tuple[Any, ...]] = {"wrong_type": wrong if numeric else (*wrong, 1.0e9)}
    if numeric:
        bad.update(nan=(_NAN,), inf=(_INF, -_INF), huge_int=(HUGE,), out_of_range=(1e300, -1e300))
    return Arg(name, valid, bad, message)


def stream_time(
    name: str, valid: Any, *, numeric: bool = True, optional: bool = True, message: str | None = None
) -> Arg:
    """A sample time in a stream whose latest sample is at T0 + 4 min and whose clock reads T0 + 10 min."""
    arg = when(name, valid, numeric=numeric, optional=optional, message=message)
    bad = dict(arg.bad)
    bad["out_of_range"] = (
        *bad.get("out_of_range", ()),
        datetime(2100, 1, 1, tzinfo=UTC),
        NOW + timedelta(days=2),
    )
    bad["time_order"] = (T0 - timedelta(hours=1), T0 + timedelta(minutes=4) - timedelta(seconds=6))
    return Arg(arg.name, valid, bad, arg.message)


def limit_arg(name: str = "limit") -> Arg:
    return integer(name, 10, low=0)


def series_values(
    name: str,
    valid: Any,
    *,
    times: bool = False,
    empty_ok: bool = False,
    repeats_ok: bool = False,
    message: str | None = None,
) -> Arg:
    """Batch input: a 1-D array or Series (NaN is a gap; infinities and non-numbers are refused).

    With ``times``, a Series whose index mixes time zones is refused too, and one that repeats a time unless
    ``repeats_ok`` (an index out of order is legal: it is sorted).
    """
    n = len(valid)
    bad: dict[str, tuple[Any, ...]] = {
        "inf": (np.r_[np.ones(n - 1), np.inf],),
        "wrong_type": ("abc", 5, None, np.array(["a"] * n)),
    }
    if not empty_ok:
        bad["empty"] = (np.array([]),)
    if times:
        idx = pd.date_range(T0, periods=n, freq="h")
        zones = [t.tz_convert("Europe/Paris") if i == 3 else t for i, t in enumerate(idx)]
        mixed = pd.Series(np.ones(n), index=pd.Index(zones, dtype=object))  # one label in another zone
        repeated = pd.Series(np.ones(n), index=idx[:1].append(idx[:-1]))  # the first time twice
        bad["time_order"] = (mixed,) if repeats_ok else (repeated, mixed)
    return Arg(name, valid, bad, message)


class _FixedPolicy(Policy):
    def propose(self, context: Any) -> Proposal | None:
        return None


def _engine_declarative() -> SimpleNamespace:
    engine = DecisionEngine(clock=ManualClock(NOW.timestamp()))
    engine.add_rule(
        create_decision_rule("hot", "cpu_usage > 80", "scale_up", {"instances": 1}, cooldown_seconds=60)
    )
    return SimpleNamespace(subject=engine)


def _history() -> pd.DataFrame:
    return pd.DataFrame(
        {"timestamp": T0.timestamp() + 60.0 * np.arange(20), "cpu_usage": np.linspace(0, 100, 20)}
    )


def _trace() -> pd.Series:
    return pd.Series(
        100.0 + 50.0 * np.sin(np.arange(60) / 9.0), index=pd.date_range(T0, periods=60, freq="min")
    )


def _env() -> SimpleNamespace:
    env = AutoscalingEnv(_trace(), capacity_rps=100.0, max_replicas=20)
    env.reset(seed=0)
    env.step(1)
    return SimpleNamespace(subject=env)


def _mutated(rule: DecisionRule, changes: dict[str, Any]) -> DecisionRule:
    for k, v in changes.items():
        setattr(rule, k, v)
    return rule


def _deep(depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        out = {"k": out}
    return out


# --------------------------------------------------------------------------------- entry points


@dataclass(frozen=True)
class EntryPoint:
    """A public call: ``call(state, **kwargs)`` on the state that ``make()`` built.

    ``state`` is a namespace; ``state.subject`` is what the digest covers (the component, or a
    tuple of them). A constructor or factory has no subject: nothing could have been recorded.
    ``pending`` maps a bad class to the issue that fixes it; those cases run as strict xfails.
    """

    name: str
    make: Callable[[], SimpleNamespace]
    call: Callable[..., Any]
    args: tuple[Arg, ...]
    pending: dict[str, str] = field(default_factory=dict)


def _none() -> SimpleNamespace:
    return SimpleNamespace(subject=None)


def _metrics(seconds: float = 0.0, **kw: Any) -> LoadMetrics:
    return create_load_metrics(
        cpu_usage=kw.pop("cpu_usage", 50.0),
        memory_usage=30.0,
        request_rate=100.0,
        timestamp=T0 + timedelta(seconds=seconds),
        **kw,
    )


def _engine() -> SimpleNamespace:
    engine = DecisionEngine(clock=ManualClock(NOW.timestamp()))
    rule = _rule(priority=5)
    engine.add_rule(rule)
    decision = engine.evaluate({"cpu_usage": 95})
    assert decision is not None
    return SimpleNamespace(subject=engine, rule=rule, decision=decision)


def _load_manager() -> SimpleNamespace:
    lm = LoadManager(clock=ManualClock(NOW.timestamp()))
    lm.register_handler(LoadLevel.HIGH, lambda m: None)
    for i in range(5):
        lm.record_metrics(_metrics(60.0 * i, cpu_usage=40.0 + 10 * i))
    return SimpleNamespace(subject=lm)


def _predictor() -> SimpleNamespace:
    p = PerformancePredictor(clock=ManualClock(NOW.timestamp()), min_observations=3)
    for i in range(5):
        p.record_observation(PredictionType.LOAD, 40.0 + i, timestamp=T0 + timedelta(minutes=i))
        p.record_observation(
            PredictionType.LATENCY, 10.0 + i, timestamp=T0 + timedelta(minutes=i), series="m"
        )
    pred = p.predict(PredictionType.LOAD)
    assert pred is not None
    return SimpleNamespace(subject=p, prediction=pred)


def _scheduler() -> SimpleNamespace:
    sched = IntelligentScheduler(clock=ManualClock(NOW.timestamp()))
    done = sched.schedule_task("done", lambda: 1)
    sched.run_pending()
    pending = sched.schedule_task("pending", lambda: 2, dependencies=[done.task_id])
    running = sched.schedule_task("running", lambda: 3, priority=SchedulerPriority.CRITICAL)
    assert sched.start_task(running.task_id)
    return SimpleNamespace(subject=sched, done=done, pending=pending, running=running)


def _learner() -> SimpleNamespace:
    learner = PatternLearner(clock=ManualClock(NOW.timestamp()), min_samples=1)
    learner.record_observation({"load": "high"}, "scale_up", True)
    return SimpleNamespace(subject=learner)


_RUNBOOK = Workflow.from_dict(
    {"metadata": {"id": "fuzz"}, "steps": [{"id": "a", "action_type": "python", "action": "noop"}]}
)
_RUNBOOK_ACTIONS = Actions()
_RUNBOOK_ACTIONS.register("noop", lambda: None)


def _remediation() -> SimpleNamespace:
    rem = AutoRemediation(clock=ManualClock(NOW.timestamp()), sleep=lambda s: None)
    rem.register_handler(RemediationAction.RESTART, lambda target, params: True)
    rem.execute_remediation(RemediationAction.RESTART, "api", "test")
    return SimpleNamespace(subject=rem)


def _pool() -> SimpleNamespace:
    pool = ResourcePool(custom={"gpu": 2.0})
    pool.allocate({"cpu": 10.0})
    return SimpleNamespace(subject=pool)


def _tuner() -> SimpleNamespace:
    tuner = SelfTuner(seed=0, clock=ManualClock(NOW.timestamp()))
    session = tuner.create_session(
        {"x": (0.0, 1.0, 0.5), "n": (1, 10, 5)}, "random_search", max_iterations=20
    )
    tuner.start_session(session.session_id)
    values = tuner.step(session.session_id)
    assert values is not None
    tuner.record_result(session.session_id, values, 1.0)
    return SimpleNamespace(subject=tuner, sid=session.session_id, values=dict(values))


def _hub() -> SimpleNamespace:
    clock = ManualClock(NOW.timestamp())
    hub = create_intelligent_automation_hub(clock=clock, seed=0)
    hub.decision_engine.add_rule(_rule(condition=lambda c: True, decision_type=DecisionType.ALERT))
    out = None
    for i in range(5):
        out = hub.process_metrics(_metrics(60.0 * i))
    assert out is not None
    decision_id = hub.decision_engine.get_decision_history(limit=1)[0].decision_id
    return SimpleNamespace(subject=hub, decision_id=decision_id)


def _provider() -> SimpleNamespace:
    hub = create_intelligent_automation_hub(clock=ManualClock(NOW.timestamp()), seed=0)
    return SimpleNamespace(subject=None, hub=hub)


def _vision() -> SimpleNamespace:
    hub = create_intelligent_automation_hub(clock=ManualClock(NOW.timestamp()), seed=0)
    provider = AutomatedVisionProvider(_Vision(), hub, seed=0)
    return SimpleNamespace(subject=(provider, hub), provider=provider, hub=hub)


def _detector() -> SimpleNamespace:
    det = AnomalyDetector(warmup=5)
    for i in range(20):
        det.update(float(i % 5), T0.timestamp() + 60.0 * i)
    return SimpleNamespace(subject=det)


_Y = np.sin(np.arange(24 * 10) * 2 * np.pi / 24) * 10 + 50


def _forecaster() -> SimpleNamespace:
    model = Forecaster(seasonal_periods=24, ar_lags=2, n_harmonics=2).fit(_Y)
    return SimpleNamespace(subject=model, model=model)


def _ols_results() -> SimpleNamespace:
    ols = SlidingOLS(20)
    for i in range(20):
        ols.update(float(i), float(i % 3))
    return SimpleNamespace(subject=ols.predict(np.array([20.0, 25.0])))


def _with_field(name: str, value: Any) -> LoadMetrics:
    """A valid sample whose field ``name`` was then set to ``value`` (dataclasses are mutable)."""
    m = _metrics(300.0)
    setattr(m, name, value)
    return m


_METRIC_FIELDS: tuple[Arg, ...] = (
    real("cpu_usage", 50.0, low=0.0, high=100.0, message="LoadMetrics.cpu_usage"),
    real("memory_usage", 30.0, low=0.0, high=100.0, message="LoadMetrics.memory_usage"),
    real("request_rate", 100.0, low=0.0, message="LoadMetrics.request_rate"),
    real("error_rate", 0.0, low=0.0, high=1.0, message="LoadMetrics.error_rate"),
    real("latency_p50", 0.0, low=0.0, message="LoadMetrics.latency_p50"),
    real("latency_p99", 0.0, low=0.0, message="LoadMetrics.latency_p99"),
    integer("queue_depth", 0, low=0, message="LoadMetrics.queue_depth"),
    real("queue_delay_ms", None, low=0.0, optional=True, message="LoadMetrics.queue_delay_ms"),
    stream_time(
        "timestamp", T0 + timedelta(minutes=5), numeric=False, optional=False, message="LoadMetrics.timestamp"
    ),
)


def _record_metrics_call(target: Callable[[LoadMetrics], Any]) -> Callable[..., Any]:
    def call(**fields: Any) -> Any:
        m = _metrics(300.0)
        for k, v in fields.items():
            setattr(m, k, v)
        return target(m)

    return call


def _config_args() -> tuple[Arg, ...]:
    return (
        size("decision_cooldown_seconds", 60, low=0, message="AutomationConfig.decision_cooldown_seconds"),
        size("max_concurrent_tasks", 10, message="AutomationConfig.max_concurrent_tasks"),
        size("prediction_horizon_minutes", 30, message="AutomationConfig.prediction_horizon_minutes"),
        flag("tuning_enabled", True, message="AutomationConfig.tuning_enabled"),
        flag("learning_enabled", True, message="AutomationConfig.learning_enabled"),
        real("load_threshold_critical", 0.9, low=0.0, high=1.0, low_open=True, message="AutomationConfig.load_threshold_critical"),
        real("load_threshold_high", 0.75, low=0.0, high=1.0, low_open=True, message="AutomationConfig.load_threshold_high"),
        real("load_threshold_moderate", 0.5, low=0.0, high=1.0, low_open=True, optional=True, message="AutomationConfig.load_threshold_moderate"),
        real("max_clock_skew_s", 86_400.0, low=0.0, optional=True, message="AutomationConfig.max_clock_skew_s"),
        real("max_backward_step_s", 5.0, low=0.0, optional=True, message="AutomationConfig.max_backward_step_s"),
    )  # fmt: skip


def _ep(
    name: str, make: Callable[[], SimpleNamespace], call: Callable[..., Any], *args: Arg, **kw: Any
) -> EntryPoint:
    return EntryPoint(name, make, call, tuple(args), **kw)


ENTRY_POINTS: tuple[EntryPoint, ...] = (
    # ----------------------------------------------------------------- records and factories
    _ep("LoadMetrics", _none, lambda s, **kw: LoadMetrics(**kw), *_METRIC_FIELDS[:-1],
        when("timestamp", T0, numeric=False, optional=False, message="LoadMetrics.timestamp")),
    _ep("create_load_metrics", _none, lambda s, **kw: create_load_metrics(**kw), *_METRIC_FIELDS[:-1]),
    _ep("AutomationConfig", _none, lambda s, **kw: AutomationConfig(**kw), *_config_args()),
    _ep("create_automation_config", _none, lambda s, **kw: create_automation_config(**kw), *_config_args()),
    _ep("DecisionRule", _none, lambda s, **kw: DecisionRule(**kw),
        text("rule_id", "r1", message="DecisionRule.rule_id"),
        text("name", "r", nonempty=False, message="DecisionRule.name"),
        rule_part("condition", lambda c: True, message="DecisionRule.condition"),
        enum_arg("decision_type", DecisionType.ALERT, message="DecisionRule.decision_type"),
        rule_part("parameters_fn", lambda c: {}, message="DecisionRule.parameters_fn"),
        integer("priority", 0, message="DecisionRule.priority"),
        flag("enabled", True, message="DecisionRule.enabled"),
        text("description", "", nonempty=False, message="DecisionRule.description"),
        real("cooldown_seconds", None, low=0.0, optional=True, message="DecisionRule.cooldown_seconds")),
    _ep("create_decision_rule", _none, lambda s, **kw: create_decision_rule(**kw),
        text("name", "r", nonempty=False, message="DecisionRule.name"),
        rule_part("condition", lambda c: True, message="DecisionRule.condition"),
        enum_arg("decision_type", "alert", message="DecisionRule.decision_type"),
        rule_part("parameters_fn", lambda c: {}, message="DecisionRule.parameters_fn"),
        integer("priority", 0, message="DecisionRule.priority"),
        text("description", "", nonempty=False, message="DecisionRule.description"),
        real("cooldown_seconds", None, low=0.0, optional=True, message="DecisionRule.cooldown_seconds")),
    _ep("ResourcePool", _none, lambda s, **kw: ResourcePool(**kw),
        real("cpu", 100.0, low=0.0, message="ResourcePool.cpu"),
        real("network", 100.0, low=0.0, message="ResourcePool.network"),
        mapping("custom", {}, message="ResourcePool.custom")),
    _ep("TuningParameter.from_bounds", _none, lambda s, bounds: TuningParameter.from_bounds("p", bounds),
        Arg("bounds", (0.0, 1.0, 0.5), {
            "nan": ((0.0, _NAN, 0.5),), "inf": ((-_INF, 1.0, 0.5),), "huge_int": ((0, HUGE, 1),),
            "out_of_range": ((0.0, 1.0, 2.0), (1.0, 0.0, 0.5)), "wrong_type": ((0.0, 1.0), "abc", None, (0, "1", 0)),
        }, message="'p'")),
    _ep("FloatParam", _none, lambda s, **kw: FloatParam(**kw),
        real("low", 0.0, message="'low'"), real("high", 1.0, message="'high'"),
        real("step", None, low=0.0, low_open=True, optional=True, message="'step'")),
    _ep("IntParam", _none, lambda s, **kw: IntParam(**kw),
        integer("low", 1, message="'low'"), integer("high", 10, message="'high'"),
        integer("step", 1, low=1, message="'step'")),
    _ep("CategoricalParam", _none, lambda s, **kw: CategoricalParam(**kw),
        Arg("choices", ["a", "b"], {"empty": ([],), "wrong_type": ("ab", 5, None)}, message="'choices'")),
    # ------------------------------------------------------------------------ DecisionEngine
    _ep("DecisionEngine", _none, lambda s, **kw: DecisionEngine(**kw),
        mapping("config", None, optional=True), func("clock", ManualClock(0.0)), size("history_size", 10)),
    _ep("DecisionEngine.add_rule", _engine, lambda s, rule: s.subject.add_rule(rule),
        Arg("rule", From(lambda s: _rule()), {"wrong_type": (5, None, "rule", {"name": "r"})})),
    _ep("DecisionEngine.add_rule (mutated rule)", _engine,
        lambda s, **kw: s.subject.add_rule(_mutated(_rule(), kw)),
        integer("priority", 1, message="DecisionRule.priority"),
        flag("enabled", True, message="DecisionRule.enabled"),
        real("cooldown_seconds", 10.0, low=0.0, optional=True, message="DecisionRule.cooldown_seconds"),
        enum_arg("decision_type", DecisionType.ALERT, message="DecisionRule.decision_type"),
        func("condition", lambda c: True, message="DecisionRule.condition")),
    _ep("DecisionEngine.remove_rule", _engine, lambda s, rule_id: s.subject.remove_rule(rule_id),
        ident("rule_id", From(lambda s: s.rule.rule_id))),
    _ep("DecisionEngine.get_rule", _engine, lambda s, rule_id: s.subject.get_rule(rule_id),
        ident("rule_id", From(lambda s: s.rule.rule_id))),
    _ep("DecisionEngine.set_rule_enabled", _engine, lambda s, **kw: s.subject.set_rule_enabled(**kw),
        ident("rule_id", From(lambda s: s.rule.rule_id)), flag("enabled", False)),
    _ep("DecisionEngine.evaluate", _engine, lambda s, context: s.subject.evaluate(context),
        mapping("context", {"cpu_usage": 10})),
    _ep("DecisionEngine.evaluate[timestamp]", _engine,
        lambda s, timestamp: s.subject.evaluate({"cpu_usage": 10, "timestamp": timestamp}),
        when("timestamp", T0.timestamp(), message="'timestamp'")),
    _ep("DecisionEngine.record_feedback", _engine, lambda s, **kw: s.subject.record_feedback(**kw),
        ident("decision_id", From(lambda s: s.decision.decision_id)),
        text("outcome", "ok", nonempty=False),
        real("score", 1.0, low=0.0, high=1.0)),
    _ep("DecisionEngine.mark_executed", _engine, lambda s, **kw: s.subject.mark_executed(**kw),
        ident("decision_id", From(lambda s: s.decision.decision_id)), flag("executed", True)),
    _ep("DecisionEngine.get_decision_history", _engine, lambda s, limit: s.subject.get_decision_history(limit),
        limit_arg()),
    # --------------------------------------------------------------------------- LoadManager
    _ep("LoadManager", _none, lambda s, **kw: LoadManager(**kw),
        func("clock", ManualClock(0.0)), size("history_size", 10),
        real("stale_after_seconds", 300.0, low=0.0, low_open=True, optional=True)),
    _ep("LoadManager.record_metrics", _load_manager, lambda s, **kw: _record_metrics_call(s.subject.record_metrics)(**kw),
        *_METRIC_FIELDS),
    _ep("LoadManager.record_metrics (not a sample)", _load_manager, lambda s, metrics: s.subject.record_metrics(metrics),
        Arg("metrics", From(lambda s: _metrics(300.0)), {"wrong_type": (None, 5, {"cpu_usage": 50.0})})),
    _ep("LoadManager.register_handler", _load_manager, lambda s, **kw: s.subject.register_handler(**kw),
        enum_arg("level", LoadLevel.HIGH), func("handler", lambda m: None)),
    _ep("LoadManager.get_average_metrics", _load_manager, lambda s, **kw: s.subject.get_average_metrics(**kw),
        real("window_seconds", 300, low=0.0, low_open=True)),
    _ep("LoadManager.get_metrics_history", _load_manager, lambda s, limit: s.subject.get_metrics_history(limit),
        limit_arg()),
    # ------------------------------------------------------------------ PerformancePredictor
    _ep("PerformancePredictor", _none, lambda s, **kw: PerformancePredictor(**kw),
        size("window", 100, low=3), integer("min_observations", 10, low=3),
        real("sample_interval", 60.0, low=0.0, low_open=True),
        real("alpha", 0.05, low=0.0, high=1.0, low_open=True),
        size("history_size", 100), size("max_predictions", 100), size("max_series", 10),
        real("seasonal_period", 86_400.0, low=0.0, low_open=True, optional=True),
        size("seasonal_cycles", 4, low=2), integer("refit_every", None, low=1, optional=True),
        func("clock", ManualClock(0.0))),
    _ep("PerformancePredictor.record_observation", _predictor,
        lambda s, **kw: s.subject.record_observation(**kw),
        enum_arg("prediction_type", PredictionType.LOAD),
        real("value", 50.0, low=0.0),
        stream_time("timestamp", T0 + timedelta(minutes=5)),
        text("series", None, optional=True)),
    _ep("PerformancePredictor.record_observation (error rate)", _predictor,
        lambda s, value: s.subject.record_observation(PredictionType.ERROR_RATE, value),
        real("value", 0.1, low=0.0, high=1.0)),
    _ep("PerformancePredictor.predict", _predictor, lambda s, **kw: s.subject.predict(**kw),
        enum_arg("prediction_type", PredictionType.LOAD),
        real("horizon_minutes", 30, low=0.0, low_open=True, optional=True),
        text("series", None, optional=True)),
    _ep("PerformancePredictor.predict_frame", _predictor, lambda s, **kw: s.subject.predict_frame(**kw),
        enum_arg("prediction_type", PredictionType.LOAD),
        Arg("horizons_minutes", [10, 30], {
            "nan": ([10, _NAN],), "inf": ([_INF],), "negative": ([-5, 10],), "empty": ([],),
            "wrong_type": ("ab", [[1, 2]], None), "huge_int": ([HUGE],), "out_of_range": ([1e300],),
        })),
    _ep("PerformancePredictor.validate_prediction", _predictor, lambda s, **kw: s.subject.validate_prediction(**kw),
        ident("prediction_id", From(lambda s: s.prediction.prediction_id)),
        real("actual_value", 50.0, low=0.0)),
    _ep("PerformancePredictor.score_prediction", _predictor, lambda s, **kw: s.subject.score_prediction(**kw),
        Arg("prediction", From(lambda s: s.prediction), {"wrong_type": (None, 5, "p")}),
        real("actual_value", 50.0, low=0.0)),
    _ep("PerformancePredictor.get_prediction_accuracy", _predictor,
        lambda s, **kw: s.subject.get_prediction_accuracy(**kw),
        enum_arg("prediction_type", None, optional=True)),
    _ep("PerformancePredictor.get_predictions", _predictor, lambda s, limit: s.subject.get_predictions(limit),
        limit_arg()),
    _ep("PerformancePredictor.get_series", _predictor, lambda s, **kw: s.subject.get_series(**kw),
        enum_arg("prediction_type", "load"), text("series", "m", optional=True)),
    # -------------------------------------------------------------------- IntelligentScheduler
    _ep("IntelligentScheduler", _none, lambda s, **kw: IntelligentScheduler(**kw),
        func("clock", ManualClock(0.0)), integer("default_max_retries", 3, low=0),
        real("retry_backoff_seconds", 1.0, low=0.0), real("max_backoff_seconds", 300.0, low=0.0),
        integer("history_limit", 100, low=0)),
    _ep("IntelligentScheduler.schedule_task", _scheduler, lambda s, **kw: s.subject.schedule_task(**kw),
        text("name", "t"), func("execute_fn", lambda: 1, sync=False),
        enum_arg("priority", SchedulerPriority.NORMAL),
        when("scheduled_time", None, numeric=False),
        when("deadline", None, numeric=False),
        Arg("resource_requirements", None, {
            "nan": ({"cpu": _NAN},), "inf": ({"cpu": _INF},), "negative": ({"cpu": -1.0},),
            "out_of_range": ({"cpu": 101.0}, {"disk": 1.0}), "huge_int": ({"cpu": HUGE},),
            "wrong_type": ([("cpu", 1.0)], "cpu", {"cpu": "1"}),
        }),
        Arg("dependencies", None, {
            "malformed_id": ([None], [5], [["x"]]), "wrong_type": ("abc", 5, {"a": 1}),
            "out_of_range": (["unknown-task"],),
        }),
        integer("max_retries", None, low=0, optional=True),
        Arg("args", (), {"wrong_type": ("abc", 5, {"a": 1}, None)}),
        Arg("kwargs", None, {"wrong_type": ("abc", 5, [1], {1: 2})})),
    _ep("IntelligentScheduler.result_of", _scheduler, lambda s, task_id: s.subject.result_of(task_id),
        ident("task_id", From(lambda s: s.done.task_id))),
    _ep("IntelligentScheduler.run", _scheduler, lambda s, **kw: s.subject.run(**kw),
        Arg("executor", None, {"wrong_type": ("inline", 5, object())}),
        Arg("until", "idle", {"out_of_range": ("everything", "")}),
        integer("max_tasks", 0, low=0, optional=True), flag("show_progress_bar", False)),
    _ep("IntelligentScheduler.get_task", _scheduler, lambda s, task_id: s.subject.get_task(task_id),
        ident("task_id", From(lambda s: s.pending.task_id))),
    _ep("IntelligentScheduler.cancel_task", _scheduler, lambda s, task_id: s.subject.cancel_task(task_id),
        ident("task_id", From(lambda s: s.pending.task_id))),
    _ep("IntelligentScheduler.start_task", _scheduler, lambda s, task_id: s.subject.start_task(task_id),
        ident("task_id", From(lambda s: s.pending.task_id))),
    _ep("IntelligentScheduler.complete_task", _scheduler, lambda s, **kw: s.subject.complete_task(**kw),
        ident("task_id", From(lambda s: s.running.task_id)),
        text("error", None, nonempty=False, optional=True)),
    _ep("IntelligentScheduler.list_tasks", _scheduler, lambda s, **kw: s.subject.list_tasks(**kw),
        enum_arg("state", TaskState.PENDING, optional=True), limit_arg()),
    _ep("IntelligentScheduler.run_pending", _scheduler, lambda s, **kw: s.subject.run_pending(**kw),
        integer("max_tasks", 0, low=0, optional=True)),
    # ---------------------------------------------------------------------------- ResourcePool
    _ep("ResourcePool.allocate", _pool, lambda s, requirements: s.subject.allocate(requirements),
        Arg("requirements", {"cpu": 1.0}, {
            "nan": ({"cpu": _NAN},), "inf": ({"gpu": _INF},), "negative": ({"cpu": -1.0},),
            "out_of_range": ({"cpu": 1000.0}, {"disk": 1.0}), "huge_int": ({"cpu": HUGE},),
            "wrong_type": ("cpu", 5, {"cpu": "1"}),
        }, message="requirements")),
    _ep("ResourcePool.release", _pool, lambda s, requirements: s.subject.release(requirements),
        Arg("requirements", {"cpu": 1.0}, {
            "nan": ({"cpu": _NAN},), "negative": ({"cpu": -1.0},), "out_of_range": ({"disk": 1.0},),
            "wrong_type": ("cpu", 5),
        }, message="requirements")),
    # ---------------------------------------------------------------------------- AutoRemediation
    _ep("AutoRemediation", _none, lambda s, **kw: AutoRemediation(**kw),
        func("clock", ManualClock(0.0)), func("timer", ManualClock(0.0)), func("sleep", lambda x: None),
        size("history_size", 10), real("max_backoff_seconds", 300.0, low=0.0)),
    _ep("AutoRemediation.register_handler", _remediation, lambda s, **kw: s.subject.register_handler(**kw),
        enum_arg("action", RemediationAction.ROLLBACK), func("handler", lambda t, p: True)),
    _ep("AutoRemediation.execute_remediation", _remediation, lambda s, **kw: s.subject.execute_remediation(**kw),
        enum_arg("action", RemediationAction.RESTART), text("target", "api"),
        text("reason", "why", nonempty=False), mapping("parameters", None, optional=True),
        integer("max_attempts", 1, low=1), real("backoff_seconds", 0.0, low=0.0)),
    _ep("AutoRemediation.register_runbook", _remediation,
        lambda s, **kw: s.subject.register_runbook(**kw, actions=_RUNBOOK_ACTIONS, store="sqlite://"),
        enum_arg("action", RemediationAction.ROLLBACK),
        Arg("workflow", _RUNBOOK, {"wrong_type": (5, None, "x", _RUNBOOK.to_dict())})),
    _ep("AutoRemediation.get_remediation_history", _remediation,
        lambda s, **kw: s.subject.get_remediation_history(**kw), limit_arg(), flag("success_only", False)),
    # ------------------------------------------------------------------------------------ Workflow
    _ep("Workflow.from_dict", _none, lambda s, **kw: Workflow.from_dict(**kw),
        Arg("data", _RUNBOOK.to_dict(), {"wrong_type": (5, "x", None, [_RUNBOOK.to_dict()])},
            message="a runbook is a mapping with 'metadata' and 'steps'")),
    _ep("Workflow.from_yaml", _none, lambda s, **kw: Workflow.from_yaml(**kw),
        Arg("source", "metadata: {id: y}\nsteps: [{id: a, action_type: python, action: noop}]\n",
            {"wrong_type": (5, None, b"x")}, message="Workflow.from_yaml() takes a path or YAML text")),
    # ------------------------------------------------------------------------------ PatternLearner
    _ep("PatternLearner", _none, lambda s, **kw: PatternLearner(**kw),
        real("alpha", 0.1, low=0.0, high=1.0, low_open=True), integer("min_samples", 5, low=1),
        size("history_size", 10), size("max_patterns", 10), size("max_actions_per_pattern", 10),
        func("clock", ManualClock(0.0))),
    _ep("PatternLearner.record_observation", _learner, lambda s, **kw: s.subject.record_observation(**kw),
        Arg("conditions", {"load": "high"}, {
            "nan": ({"x": _NAN},), "inf": ({"x": [1.0, _INF]},), "wrong_type": ([1], "x", None, {1: "a"}, {"x": object()}),
            "out_of_range": (_deep(40),),
        }),
        text("action", "scale_up"), flag("success", True)),
    _ep("PatternLearner.get_recommended_action", _learner, lambda s, conditions: s.subject.get_recommended_action(conditions),
        Arg("conditions", {"load": "high"}, {"nan": ({"x": _NAN},), "wrong_type": ([1], None, {2: 1})})),
    _ep("PatternLearner.get_patterns", _learner, lambda s, min_samples: s.subject.get_patterns(min_samples),
        integer("min_samples", 1, low=1)),
    _ep("PatternLearner.get_recent_observations", _learner, lambda s, limit: s.subject.get_recent_observations(limit),
        limit_arg()),
    # ---------------------------------------------------------------------------------- SelfTuner
    _ep("SelfTuner", _none, lambda s, **kw: SelfTuner(**kw),
        integer("seed", 0, low=0, optional=True), func("clock", ManualClock(0.0)), size("max_sessions", 10)),
    _ep("SelfTuner.create_session", _tuner, lambda s, **kw: s.subject.create_session(**kw),
        Arg("parameters", {"x": (0.0, 1.0, 0.5)}, {
            "nan": ({"x": (0.0, _NAN, 0.5)},), "inf": ({"x": (0.0, _INF, 0.5)},), "empty": ({},),
            "out_of_range": ({"x": (0.0, 1.0, 2.0)},), "wrong_type": ({"x": "abc"}, 5, None, {"x": (0.0, 1.0)}),
        }),
        enum_arg("strategy", TuningStrategy.RANDOM_SEARCH),
        func("objective_fn", None, optional=True, sync=False),
        size("max_iterations", 10), flag("load_if_exists", False), size("patience", None, optional=True),
        Arg("direction", "maximize", {"out_of_range": ("max", "MINIMIZE", ""), "wrong_type": (None, 1, True)})),
    _ep("SelfTuner.step", _tuner, lambda s, session_id: s.subject.step(session_id), ident("session_id", From(lambda s: s.sid))),
    _ep("SelfTuner.start_session", _tuner, lambda s, session_id: s.subject.start_session(session_id),
        ident("session_id", From(lambda s: s.sid))),
    _ep("SelfTuner.get_best_parameters", _tuner, lambda s, session_id: s.subject.get_best_parameters(session_id),
        ident("session_id", From(lambda s: s.sid))),
    _ep("SelfTuner.record_result", _tuner, lambda s, **kw: s.subject.record_result(**kw),
        ident("session_id", From(lambda s: s.sid)),
        Arg("values", From(lambda s: s.values), {
            "nan": ({"x": _NAN, "n": 5},), "out_of_range": ({"x": 2.0, "n": 5}, {"x": 0.5}),
            "wrong_type": (None, 5, {"x": "a", "n": 5}),
        }),
        real("score", 1.0)),
    _ep("SelfTuner.optimize", _tuner, lambda s, **kw: s.subject.optimize(**kw),
        ident("session_id", From(lambda s: s.sid)),
        func("objective", lambda **v: 1.0, optional=True, sync=False),
        size("n_trials", 1, low=0, optional=True),
        real("timeout", None, low=0.0, optional=True), flag("show_progress_bar", False)),
    # ------------------------------------------------------------------------------------- hub
    _ep("IntelligentAutomationHub", _none, lambda s, **kw: IntelligentAutomationHub(**kw),
        func("clock", ManualClock(0.0)), integer("seed", 0, low=0, optional=True),
        text("remediation_target", "service"),
        real("validation_tolerance_seconds", 300.0, low=0.0),
        real("validation_resolution_seconds", 1.0, low=0.0),
        Arg("load_manager", None, {"wrong_type": (5, "lm", LoadManager)}),
        Arg("anomaly_signals", ("utilization",), {"wrong_type": ("utilization", 5), "out_of_range": (("cpu",),)})),
    _ep("create_intelligent_automation_hub", _none, lambda s, **kw: create_intelligent_automation_hub(**kw),
        size("decision_cooldown_seconds", 60, low=0, message="decision_cooldown_seconds"),
        size("max_concurrent_tasks", 10, message="max_concurrent_tasks"),
        real("load_threshold_high", 0.75, low=0.0, high=1.0, low_open=True, message="load_threshold_high")),
    _ep("IntelligentAutomationHub.process_metrics", _hub,
        lambda s, **kw: _record_metrics_call(s.subject.process_metrics)(**kw), *_METRIC_FIELDS),
    _ep("IntelligentAutomationHub.process_metrics (arguments)", _hub,
        lambda s, **kw: s.subject.process_metrics(**kw),
        Arg("metrics", From(lambda s: _metrics(300.0)), {"wrong_type": (None, 5, {"cpu_usage": 1.0})}),
        mapping("context", None, optional=True)),
    _ep("IntelligentAutomationHub.record_decision_outcome", _hub,
        lambda s, **kw: s.subject.record_decision_outcome(**kw),
        ident("decision_id", From(lambda s: s.decision_id)), text("outcome", "ok", nonempty=False),
        real("score", 1.0, low=0.0, high=1.0)),
    # --------------------------------------------------------------------------------- serving
    _ep("AutomatedProvider", _provider, lambda s, **kw: AutomatedProvider(hub=s.hub, **kw),
        func("fn", _async_fn, sync=False), text("name", "model", optional=True),
        integer("seed", 0, low=0, optional=True), func("timer", ManualClock(0.0)),
        integer("failure_threshold", 5, low=1), enum_arg("remediation_action", RemediationAction.RESTART)),
    _ep("AutomatedVisionProvider", _provider, lambda s, **kw: AutomatedVisionProvider(hub=s.hub, **kw),
        Arg("base_provider", _Vision(), {"wrong_type": (None, 5, _async_fn)}),
        integer("seed", 0, low=0, optional=True)),
    _ep("create_automated_provider", _provider, lambda s, **kw: create_automated_provider(**kw),
        Arg("base_provider", _Vision(), {"wrong_type": (None, 5)}),
        Arg("hub", From(lambda s: s.hub), {"wrong_type": (5, "hub")})),
    _ep("AutomatedVisionProvider.analyze_image", _vision,
        lambda s, **kw: asyncio.run(s.provider.analyze_image(**kw)),
        Arg("image_data", b"\x89PNG", {"wrong_type": ("png", 5, None, [1, 2])}),
        flag("include_description", True)),
    # -------------------------------------------------------------------------------- forecast
    _ep("Forecaster.fit (parameters)", _none, lambda s, **kw: Forecaster(**kw).fit(_Y),
        Arg("seasonal_periods", 24, {"wrong_type": ("24", 2.5), "negative": (-24,), "out_of_range": (1, [24, 0])}),
        integer("window", None, low=10, optional=True), real("alpha", 0.05, low=0.0, high=1.0, low_open=True),
        integer("n_harmonics", 2, low=1), integer("ar_lags", 2, low=0), flag("trend", True), flag("robust", True),
        real("halflife", None, low=0.0, low_open=True, optional=True),
        Arg("transform", None, {"wrong_type": (5, True), "out_of_range": ("sqrt",)})),
    _ep("Forecaster.fit", _forecaster, lambda s, **kw: s.model.fit(**kw),
        series_values("y", _Y, times=True)),
    _ep("Forecaster.predict", _forecaster, lambda s, horizon: s.model.predict(horizon), size("horizon", 6)),
    _ep("Forecaster.get_forecast", _forecaster, lambda s, **kw: s.model.get_forecast(**kw), size("horizon", 6),
        Arg("after", None, {"inf": ([1.0, _INF],), "wrong_type": ("1.0",), "out_of_range": (np.ones((2, 3)),)})),
    _ep("PredictionResults.summary_frame", _ols_results, lambda s, **kw: s.subject.summary_frame(**kw),
        real("alpha", None, low=0.0, high=1.0, low_open=True, optional=True)),
    _ep("PredictionResults.conf_int", _ols_results, lambda s, **kw: s.subject.conf_int(**kw), flag("obs", True),
        real("alpha", None, low=0.0, high=1.0, low_open=True, optional=True)),
    _ep("backtest", _none, lambda s, **kw: backtest(Forecaster(seasonal_periods=24, ar_lags=2, n_harmonics=2), **kw),
        series_values("y", _Y, times=True), size("horizon", 6), size("origins", 2)),
    _ep("AnomalyDetector", _none, lambda s, **kw: AnomalyDetector(**kw),
        size("window", 5, high=100_000), size("history", 100, low=2, high=10_000_000),
        size("warmup", 10, low=1, high=10_000_000),
        real("spatial_tolerance", 0.05, low=0.0, optional=True), size("suppression", 30, low=0, high=100_000),
        real("season", 86_400.0, low=0.0, low_open=True, optional=True),
        integer("season_lag", None, low=2, high=10_080, optional=True),
        real("interval", None, low=0.0, low_open=True, optional=True),
        size("n_seasons", 3, high=100), size("season_tolerance", 1, low=0, high=1000),
        size("pattern_memory", 1000, high=1_000_000),
        real("level_alpha", 0.02, low=0.0, high=1.0, low_open=True),
        real("noise_floor", 0.01, low=0.0)),
    _ep("AnomalyDetector.update", _detector, lambda s, **kw: s.subject.update(**kw),
        Arg("value", 1.0, {"inf": (_INF, -_INF), "huge_int": (HUGE,), "wrong_type": ("1", None, [1.0])}),
        when("timestamp", None)),
    _ep("AnomalyDetector.score", _detector, lambda s, series: s.subject.score(series),
        series_values("series", np.ones(50), times=True, empty_ok=True, repeats_ok=True)),
    # ------------------------------------------------------- decision layer (issue 11)
    _ep("create_decision_rule (guards)", _none, lambda s, **kw: create_decision_rule(
            "g", "cpu_usage > 1", "defer", {}, **kw),
        Arg("role", "guard", {"wrong_type": (5, None), "out_of_range": ("boss",)}, message="DecisionRule.role"),
        Arg("veto", ("scale_down",), {"wrong_type": ("scale_down", 5, None), "out_of_range": (("explode",),)},
            message="DecisionRule.veto")),
    _ep("DecisionEngine.set_policy", _engine, lambda s, **kw: s.subject.set_policy(**kw),
        Arg("policy", From(lambda s: _FixedPolicy()), {"wrong_type": (5, "p", lambda c: None)}),
        real("min_confidence", 0.75, low=0.0, high=1.0)),
    _ep("DecisionEngine.register_context_key", _engine, lambda s, **kw: s.subject.register_context_key(**kw),
        Arg("name", "replicas", {"wrong_type": (5, None), "empty": ("",), "out_of_range": ("not an id", "__x")},
            message="ContextKey.name"),
        Arg("kind", "number", {"wrong_type": (5,), "out_of_range": ("float",)}, message="ContextKey.kind")),
    _ep("DecisionEngine.backtest", _engine_declarative, lambda s, frame: s.subject.backtest(frame),
        Arg("frame", From(lambda s: _history()), {
            "wrong_type": ([{"cpu_usage": 1}], None, 5),
            "time_order": (_history().iloc[::-1], pd.concat([_history(), _history().iloc[:1]])),
            "nan": (_history().assign(timestamp=lambda d: d["timestamp"].where(d.index != 3)),),
            "inf": (_history().assign(timestamp=lambda d: d["timestamp"].where(d.index != 3, _INF)),),
            "out_of_range": (_history().assign(timestamp=lambda d: d["timestamp"] + 1e12),),
        })),
    _ep("DecisionEngine.from_yaml", _none, lambda s, source: DecisionEngine.from_yaml(source),
        Arg("source", "version: 1\nrules: []\n", {
            "wrong_type": (5, None, b"version: 1"),
            "out_of_range": ("version: 2\nrules: []", "rules: []", "version: 1\nrules: [{name: r}]",
                             "version: 1\nrules: [{name: r, condition: 'x.y', decision_type: alert}]",
                             "!!python/object:os.system {}", "version: [1"),
        }, message="from_")),
    _ep("Proposal", _none, lambda s, **kw: Proposal(**kw),
        enum_arg("decision_type", "scale_up", message="Proposal.decision_type"),
        real("confidence", 0.9, low=0.0, high=1.0, message="Proposal.confidence"),
        mapping("parameters", {"delta": 1}, message="Proposal.parameters")),
    # ------------------------------------------------------------ simulator and policies
    _ep("AutoscalingEnv", _none, lambda s, **kw: AutoscalingEnv(**kw),
        Arg("trace", _trace(), {"wrong_type": ([1.0, 2.0], None, pd.Series([1.0, 2.0])),
                                "empty": (_trace().iloc[:1],), "negative": (_trace() - 1000.0,),
                                "inf": (_trace().replace(100.0, np.inf),)}),
        real("peak_rps", None, low=0.0, low_open=True, optional=True),
        real("capacity_rps", 100.0, low=0.0, low_open=True), real("slo_ms", 250.0, low=0.0, low_open=True),
        real("readiness_delay_s", 120.0, low=0.0), size("max_replicas", 50),
        Arg("action_deltas", (-1, 0, 1), {"wrong_type": ((0.5,), "abc"), "empty": ((),), "out_of_range": ((1, 1),)})),
    _ep("AutoscalingEnv.step", _env, lambda s, action: s.subject.step(action),
        Arg("action", 1, {"wrong_type": (1.5, "1", None, True), "out_of_range": (-1, 99), "huge_int": (HUGE,)})),
    _ep("AutoscalingEnv.reset", _env, lambda s, **kw: s.subject.reset(**kw),
        Arg("options", {"start": 0}, {"out_of_range": ({"start": 10**6}, {"steps": 0}, {"warp": 1}),
                                      "wrong_type": ({"start": 1.5},), "negative": ({"start": -1},)},
            message="options")),
    _ep("HPAPolicy", _none, lambda s, **kw: HPAPolicy(**kw),
        real("target_utilization", 0.5, low=0.0, high=1.0, low_open=True),
        real("tolerance", 0.1, low=0.0), real("downscale_stabilization_s", 300.0, low=0.0)),
    _ep("StaticPolicy", _none, lambda s, **kw: StaticPolicy(**kw),
        size("replicas", None, optional=True), real("target_utilization", 0.5, low=0.0, high=1.0, low_open=True)),
    _ep("threshold_rules", _none, lambda s, **kw: threshold_rules(**kw),
        real("scale_up_above", 0.7, low=0.0, high=1.0, low_open=True),
        real("scale_down_below", 0.3, low=0.0, high=1.0),
        real("target_utilization", 0.5, low=0.0, high=1.0, low_open=True)),
    _ep("evaluate_policy", _env, lambda s, **kw: evaluate_policy(env=s.subject, **kw),
        Arg("policy", HPAPolicy(0.5), {"wrong_type": (5, None, lambda c: None)})),
    _ep("DQNPolicy", _none, lambda s, **kw: DQNPolicy(**kw),
        Arg("hidden_sizes", (8,), {"wrong_type": (8, "8", (1.5,), None), "out_of_range": ((0,), (10**6,))}),
        Arg("action_mode", "residual", {"wrong_type": (5, None), "out_of_range": ("deltas", "")}),
        Arg("targets", (0.3, 0.5), {"wrong_type": (0.5, "ab", None), "empty": ((),),
                                    "out_of_range": ((0.5, 0.5), (0.0,), (1.5,))}),
        real("learning_rate", 1e-3, low=0.0, low_open=True), real("gamma", 0.99, low=0.0, high=1.0),
        size("batch_size", 64), size("learning_starts", 1_000, low=0), size("episode_steps", 1_440),
        real("exploration_fraction", 0.2, low=0.0, high=1.0), real("holdout_days", 7.0, low=0.0, low_open=True),
        Arg("accept_env_mismatch", (), {"out_of_range": (("features",), ("peak",))})),
    _ep("DQNPolicy.load", _none, lambda s, **kw: DQNPolicy.load(**kw),
        Arg("folder", DQNPolicy.pretrained_path(), {"wrong_type": (5, None, b"x", ""), "empty": ("/nonexistent",)},
            message="folder")),
)  # fmt: skip


def _dqn() -> SimpleNamespace:
    env = AutoscalingEnv(_trace(), capacity_rps=100.0, max_replicas=20)
    policy = DQNPolicy(hidden_sizes=(8,), learning_starts=20, eval_freq=40, episode_steps=20,
                       holdout_days=10 / 1440, buffer_size=100)  # fmt: skip
    return SimpleNamespace(subject=policy, env=env)


try:  # training needs torch (the 'rl' extra); the suite passes without it
    import torch  # noqa: F401

    ENTRY_POINTS += (
        _ep("DQNPolicy.train", _dqn, lambda s, **kw: s.subject.train(s.env, progress=False, **kw),
            size("total_steps", 40), integer("seed", 0, low=0, high=2**32 - 1)),
    )  # fmt: skip
except ImportError:  # pragma: no cover
    pass
