"""The decision layer's policy slot, guards and vetoes, decision fields, one clock and one context schema."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from autoopt import (
    DecisionEngine,
    DecisionType,
    create_decision_rule,
    create_intelligent_automation_hub,
    create_load_metrics,
)
from autoopt._clock import ManualClock, stamp_now
from autoopt.decision import DEFAULT_CONTEXT_KEYS, ContextSchema, Policy, Proposal, build_context
from autoopt.decision.testing import check_policy
from autoopt.enums import LoadLevel, PredictionType

T0 = datetime(2026, 3, 1, tzinfo=UTC)


class Fixed(Policy):
    """Proposes the same thing every time (or raises)."""

    def __init__(self, proposal: Proposal | None, *, fail: bool = False) -> None:
        self.proposal, self.fail, self.calls, self.feedbacks = proposal, fail, 0, []

    def propose(self, context: Any) -> Proposal | None:
        self.calls += 1
        if self.fail:
            raise RuntimeError("model unavailable")
        return self.proposal

    def feedback(self, decision: Any, score: float) -> None:
        self.feedbacks.append(score)


def _engine(*rules: Any) -> DecisionEngine:
    engine = DecisionEngine(clock=ManualClock(T0.timestamp()))
    for r in rules:
        engine.add_rule(r)
    return engine


def test_order_guards_then_policy_then_fallbacks() -> None:
    fallback = create_decision_rule("fallback", "cpu_usage > 50", "scale_up", {"instances": 1})
    guard = create_decision_rule("guard", "error_rate > 0.5", "remediate", {}, priority=1, role="guard")
    engine = _engine(fallback, guard)
    policy = Fixed(Proposal("scale_down", 0.9, {"delta": -1}))
    engine.set_policy(policy)
    d = engine.evaluate({"cpu_usage": 90, "error_rate": 0.9})
    assert (d.decision_type, d.source) == (DecisionType.REMEDIATE, "guard")  # guards first
    assert policy.calls == 0
    d = engine.evaluate({"cpu_usage": 90, "error_rate": 0.0})
    assert (d.decision_type, d.source, d.rule_id, d.delta) == (DecisionType.SCALE_DOWN, "Fixed", None, -1)
    assert d.confidence_score == 0.9
    assert d.confidence.value == "high"
    engine.set_policy(None)
    d = engine.evaluate({"cpu_usage": 90, "error_rate": 0.0})
    assert (d.source, d.rule_id, d.delta) == ("fallback", fallback.rule_id, 1)


def test_policy_below_min_confidence_defers_to_the_rules() -> None:
    rule = create_decision_rule("r", "cpu_usage > 50", "scale_up", {"instances": 2})
    engine = _engine(rule)
    engine.set_policy(Fixed(Proposal("scale_down", 0.5, {"delta": -1})), min_confidence=0.75)
    d = engine.evaluate({"cpu_usage": 90})
    assert d.rule_id == rule.rule_id
    assert engine.get_decision_stats()["policy"]["deferred"] == 1


def test_vetoes_ignore_cooldowns_and_block_policy_and_rules() -> None:
    veto = create_decision_rule(
        "no scale-down over SLO", "latency_p99 > 500", "defer", {}, role="guard", veto=("scale_down",)
    )
    down = create_decision_rule("down", "cpu_usage < 30", "scale_down", {"instances": 1})
    engine = _engine(veto, down)
    engine.set_policy(Fixed(Proposal("scale_down", 1.0, {"delta": -2})))
    for _ in range(3):  # the guard's own (engine) cooldown never stops the veto
        assert engine.evaluate({"cpu_usage": 10, "latency_p99": 900}) is None
    stats = engine.get_decision_stats()
    assert stats["policy"]["vetoed"] == 3
    assert stats["total_decisions"] == 0
    d = engine.evaluate({"cpu_usage": 10, "latency_p99": 100})
    assert d.decision_type is DecisionType.SCALE_DOWN
    assert d.source == "Fixed"


def test_a_failing_policy_is_isolated_and_counted() -> None:
    rule = create_decision_rule("r", "cpu_usage > 50", "alert", {})
    engine = _engine(rule)
    engine.set_policy(Fixed(None, fail=True))
    d = engine.evaluate({"cpu_usage": 90})
    assert d.rule_id == rule.rule_id
    stats = engine.get_decision_stats()["policy"]
    assert stats["errors"] == 1
    assert "model unavailable" in stats["last_error"]


def test_feedback_on_a_policy_decision_reaches_the_policy() -> None:
    policy = Fixed(Proposal("scale_up", 1.0, {"delta": 1}))
    engine = _engine()
    engine.set_policy(policy)
    d = engine.evaluate({})
    engine.record_feedback(d.decision_id, "ok", 0.75)
    assert policy.feedbacks == [0.75]


def test_decision_fields_are_kept_by_to_dict() -> None:
    engine = _engine(create_decision_rule("r", "cpu_usage > 50", "scale_down", {"instances": 3}))
    out = engine.evaluate({"cpu_usage": 90}).to_dict()
    assert out["source"] == "r"
    assert out["expression"] == "cpu_usage > 50"
    assert out["delta"] == -3
    assert out["parameters"] == {"instances": 3}  # the demo's name stays as given
    assert "confidence_score" in out
    assert "rule_id" in out


@pytest.mark.parametrize(
    ("dtype", "params", "delta"),
    [
        ("scale_up", {"instances": 2}, 2),
        ("scale_down", {"instances": 2}, -2),
        ("scale_up", {"delta": 3}, 3),
        ("scale_down", {"delta": -3, "instances": 3}, -3),
        ("alert", {"instances": 2}, None),
    ],
)
def test_scaling_delta(dtype: str, params: dict[str, int], delta: int | None) -> None:
    engine = _engine(create_decision_rule("r", lambda c: True, dtype, lambda c: dict(params)))
    assert engine.evaluate({}).delta == delta


def test_an_inconsistent_delta_is_a_rule_error() -> None:
    engine = _engine(create_decision_rule("r", lambda c: True, "scale_up", lambda c: {"delta": -1}))
    assert engine.evaluate({}) is None
    assert engine.get_decision_stats()["rule_errors"] == 1


def test_no_policy_and_no_guards_is_the_seed_engine() -> None:
    """Same decisions, cooldowns and statistics as plain fallback rules."""
    clock = ManualClock(0.0)
    a = DecisionEngine(clock=clock)
    b = DecisionEngine(clock=clock)
    for e in (a, b):
        e.add_rule(
            create_decision_rule(
                "hot", lambda c: c["cpu_usage"] > 80, "scale_up", lambda c: {"instances": 1}, priority=2
            )
        )
        e.add_rule(
            create_decision_rule(
                "cold", lambda c: c["cpu_usage"] < 20, "scale_down", lambda c: {"instances": 1}
            )
        )
    b.set_policy(None)
    for i in range(300):
        clock.advance(7.0)
        ctx = {"cpu_usage": (i * 37) % 100}
        da, db = a.evaluate(ctx), b.evaluate(ctx)
        assert (da is None) == (db is None)
        if da is not None:
            assert (da.source, da.parameters) == (db.source, db.parameters)
    sa, sb = a.get_decision_stats(), b.get_decision_stats()
    for key in ("total_decisions", "cooldown_skips", "decisions_by_type"):
        assert sa[key] == sb[key]


# ------------------------------------------------------------------------------------ one clock


def _rules() -> list[Any]:
    return [
        create_decision_rule(
            "hot", "utilization > 0.8", "scale_up", {"instances": 1}, priority=2, cooldown_seconds=300
        ),
        create_decision_rule(
            "spike", "anomaly_score > 0.95", "remediate", {}, priority=5, cooldown_seconds=600
        ),
    ]


def _samples(n: int) -> list[Any]:
    return [
        create_load_metrics(
            50.0 + 45.0 * ((i // 7) % 2), 30.0, request_rate=100.0, timestamp=T0 + timedelta(minutes=i)
        )
        for i in range(n)
    ]


def test_replaying_history_decides_exactly_as_live_use_with_a_manual_clock() -> None:
    """A replay with the clock left behind gives the decisions of live use with the clock at each sample."""
    live_clock = ManualClock(T0.timestamp())
    live = create_intelligent_automation_hub(clock=live_clock)
    replay = create_intelligent_automation_hub(clock=ManualClock(T0.timestamp()), max_clock_skew_s=None)
    for hub in (live, replay):
        for rule in _rules():
            hub.decision_engine.add_rule(rule)
    got_live, got_replay = [], []
    for m in _samples(400):
        live_clock.set(m.timestamp.timestamp())
        a = live.process_metrics(m)["decision"]
        b = replay.process_metrics(m)["decision"]  # its clock never moves: the sample's time is used
        got_live.append(None if a is None else (a["source"], a["timestamp"]))
        got_replay.append(None if b is None else (b["source"], b["timestamp"]))
    assert got_live == got_replay
    assert sum(d is not None for d in got_live) > 10
    assert replay.decision_engine.get_decision_stats()["cooldown_skips"] > 0


def test_a_default_stamp_never_overrides_a_manual_clock() -> None:
    clock = ManualClock(0.0)
    engine = DecisionEngine(clock=clock)
    engine.add_rule(create_decision_rule("r", lambda c: True, "alert", lambda c: {}, cooldown_seconds=60))
    d = engine.evaluate({"timestamp": stamp_now()})  # wall clock, stamped by default
    assert d.timestamp.timestamp() == 0.0
    assert engine.evaluate({"timestamp": stamp_now()}) is None  # still cooling on the manual clock
    clock.advance(60.0)
    assert engine.evaluate({"timestamp": stamp_now()}) is not None
    # an explicit time is used: POSIX seconds or a datetime
    assert engine.evaluate({"timestamp": 10_000.0}).timestamp.timestamp() == 10_000.0
    with pytest.raises(TypeError, match=r"'context'\['timestamp'\]"):
        engine.evaluate({"timestamp": "yesterday"})


# -------------------------------------------------------------------------------- the context


def test_build_context_writes_exactly_the_documented_keys() -> None:
    from autoopt import Prediction

    def pred(ptype: PredictionType, v: float) -> Prediction:
        return Prediction("p", ptype, T0, v, (v - 1, v + 1), 0.95, "m", T0)

    ctx = build_context(
        create_load_metrics(80.0, 40.0, request_rate=120.0, timestamp=T0),
        level=LoadLevel.HIGH,
        throttle=10.0,
        predictions={
            PredictionType.LOAD: pred(PredictionType.LOAD, 70.0),
            PredictionType.THROUGHPUT: pred(PredictionType.THROUGHPUT, 130.0),
        },
        anomalies={"utilization": 0.2, "request_rate": 0.9},
    )
    assert set(ctx) == {k.name for k in DEFAULT_CONTEXT_KEYS}
    assert ctx["predicted_utilization"] == pytest.approx(0.7)  # a fraction, beside the percentage
    assert ctx["predicted_load_upper"] == 71.0
    assert ctx["predicted_utilization_upper"] == pytest.approx(0.71)
    assert ctx["predicted_throughput"] == ctx["predicted_request_rate"] == 130.0
    assert ctx["anomaly_score"] == 0.9
    assert ctx["anomaly_score_error_rate"] is None
    for key in DEFAULT_CONTEXT_KEYS:
        assert key.unit is not None
        assert key.description
        if key.alias_of:
            assert key.alias_of in {k.name for k in DEFAULT_CONTEXT_KEYS}


def test_the_hub_uses_the_one_context_and_lists_its_stages() -> None:
    hub = create_intelligent_automation_hub(clock=ManualClock(T0.timestamp()))
    assert hub.stages == ("prediction", "anomalies", "decision", "remediation", "learning")
    seen: list[dict[str, Any]] = []
    hub.decision_engine.add_rule(
        create_decision_rule("spy", lambda c: seen.append(dict(c)) or False, "alert", lambda c: {})
    )
    hub.process_metrics(create_load_metrics(50.0, 10.0, timestamp=T0), context={"zone": "a"})
    assert set(seen[0]) == {k.name for k in DEFAULT_CONTEXT_KEYS} | {"zone"}


def test_registered_keys_extend_the_schema() -> None:
    schema = ContextSchema()
    engine = DecisionEngine(schema=schema)
    with pytest.raises(ValueError, match="unknown name 'replicas'"):
        engine.add_rule(create_decision_rule("r", "replicas > 3", "scale_down", {}))
    engine.register_context_key("replicas", "number", "replicas", "replicas serving")
    engine.add_rule(create_decision_rule("r", "replicas > 3", "scale_down", {"delta": -1}))
    assert [k.name for k in schema.registered()] == ["replicas"]
    with pytest.raises(ValueError, match="already defined"):
        schema.register("replicas", "string")


# ------------------------------------------------------------------------------ conformance


class Threshold(Policy):
    def propose(self, context: Any) -> Proposal | None:
        u = context.get("utilization")
        if u is None or math.isnan(u):
            return None
        if u > 0.8:
            return Proposal("scale_up", min(1.0, u), {"delta": 1})
        return Proposal("defer", 0.5, {"delta": 0})


def test_the_conformance_suite_accepts_a_valid_policy_and_rejects_broken_ones() -> None:
    contexts = [
        {"utilization": u, "timestamp": float(i)} for i, u in enumerate((0.1, 0.9, float("nan"), 0.95))
    ]
    check_policy(Threshold(), contexts)

    class Mutating(Threshold):
        def propose(self, context: Any) -> Proposal | None:
            context["utilization"] = 0.0
            return None

    with pytest.raises(AssertionError, match="changed the context"):
        check_policy(Mutating(), contexts)

    class Inconsistent(Threshold):
        def propose(self, context: Any) -> Proposal | None:
            return Proposal("scale_up", 1.0, {"delta": -2})

    with pytest.raises(AssertionError, match="inconsistent scaling"):
        check_policy(Inconsistent(), contexts)


def test_the_baselines_pass_the_conformance_suite() -> None:
    from autoopt.policy import HPAPolicy, OraclePolicy, PredictivePolicy, StaticPolicy
    from autoopt.sim import AutoscalingEnv

    index = pd.date_range(T0, periods=600, freq="min")
    trace = pd.Series([100.0 + 80.0 * math.sin(i / 40.0) for i in range(600)], index=index)
    env = AutoscalingEnv(trace, peak_rps=2000.0, max_replicas=60)
    env.reset(seed=0)
    contexts = []
    for i in range(120):
        contexts.append(env.context())
        env.step_target(5 + (i % 7))
    for make in (lambda: HPAPolicy(0.5), lambda: PredictivePolicy(0.5), StaticPolicy, OraclePolicy):

        def fresh(make: Any = make) -> Any:
            p = make()
            if hasattr(p, "bind"):
                p.bind(env)
            return p

        check_policy(fresh(), contexts, make=fresh)
