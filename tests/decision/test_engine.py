"""DecisionEngine: priority, cooldown, isolation of rule failures, confidence, feedback."""

from __future__ import annotations

import logging
import math
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from autoopt import (
    AutomationConfig,
    DecisionConfidence,
    DecisionEngine,
    DecisionRule,
    DecisionType,
    create_decision_rule,
)
from autoopt._clock import ManualClock
from autoopt.decision import confidence_from_feedback


def _rule(name, cond, dtype=DecisionType.ALERT, priority=0, params=None):
    return create_decision_rule(name, cond, dtype, params or (lambda c: {"rule": name}), priority=priority)


@pytest.fixture
def clock():
    return ManualClock(1_000.0)


def test_priority_order_higher_first_ties_by_insertion(clock):
    engine = DecisionEngine(AutomationConfig(decision_cooldown_seconds=0), clock=clock)
    low = _rule("low", lambda c: True, priority=1)
    high = _rule("high", lambda c: True, priority=5)
    tie_a = _rule("tie_a", lambda c: True, priority=3)
    tie_b = _rule("tie_b", lambda c: True, priority=3)
    for r in (low, tie_a, high, tie_b):
        engine.add_rule(r)
    assert [r.name for r in engine.list_rules()] == ["high", "tie_a", "tie_b", "low"]
    assert engine.evaluate({}).parameters == {"rule": "high"}
    engine.set_rule_enabled(high.rule_id, False)
    assert engine.evaluate({}).parameters == {"rule": "tie_a"}
    assert engine.remove_rule(tie_a.rule_id)
    assert not engine.remove_rule(tie_a.rule_id)
    assert engine.evaluate({}).parameters == {"rule": "tie_b"}


def test_per_rule_cooldown(clock):
    engine = DecisionEngine(AutomationConfig(decision_cooldown_seconds=60), clock=clock)
    engine.add_rule(_rule("a", lambda c: True, priority=2))
    engine.add_rule(_rule("b", lambda c: True, priority=1))
    assert engine.evaluate({}).parameters == {"rule": "a"}
    # a is cooling down, so the next rule fires.
    assert engine.evaluate({}).parameters == {"rule": "b"}
    assert engine.evaluate({}) is None
    clock.advance(59.9)
    assert engine.evaluate({}) is None
    clock.advance(0.1)
    assert engine.evaluate({}).parameters == {"rule": "a"}
    stats_ = engine.get_decision_stats()
    assert stats_["cooldown_skips"] >= 4
    assert stats_["total_decisions"] == 3


def test_rule_cooldown_overrides_config(clock):
    engine = DecisionEngine(AutomationConfig(decision_cooldown_seconds=60), clock=clock)
    engine.add_rule(
        create_decision_rule(
            "slow", lambda c: True, DecisionType.REMEDIATE, lambda c: {}, priority=2, cooldown_seconds=600
        )
    )
    engine.add_rule(_rule("fast", lambda c: True, priority=1))
    kinds = []
    for _ in range(12):  # one evaluation per minute for 12 minutes
        d = engine.evaluate({})
        kinds.append(None if d is None else d.decision_type)
        clock.advance(60)
    assert kinds.count(DecisionType.REMEDIATE) == 2  # t = 0 and t = 600
    assert kinds.count(DecisionType.ALERT) == 10
    with pytest.raises(ValueError, match="cooldown_seconds"):
        create_decision_rule("bad", lambda c: True, DecisionType.ALERT, lambda c: {}, cooldown_seconds=-1)


def test_slow_condition_cannot_fire_twice_in_a_cooldown(clock):
    """The cooldown is checked at commit time, not at the time the condition started."""
    engine = DecisionEngine(AutomationConfig(decision_cooldown_seconds=60), clock=clock)
    started, release = threading.Event(), threading.Event()

    def slow(ctx):
        if ctx.get("slow"):
            started.set()
            release.wait(5)
        return True

    engine.add_rule(_rule("r", slow))
    results = []
    t = threading.Thread(target=lambda: results.append(engine.evaluate({"slow": True})))
    t.start()
    started.wait(5)
    clock.advance(100)  # the slow evaluation finishes 100 s after it started
    release.set()
    t.join()
    assert results[0].timestamp.timestamp() == clock()  # stamped when it was committed
    assert engine.evaluate({}) is None  # so the rule is cooling down now


def test_clock_stepping_back_does_not_freeze_rules(clock):
    engine = DecisionEngine(AutomationConfig(decision_cooldown_seconds=60), clock=clock)
    engine.add_rule(_rule("r", lambda c: True))
    assert engine.evaluate({}) is not None
    clock._now -= 3600  # a wall clock stepped back an hour
    assert engine.evaluate({}) is not None


def test_failing_condition_and_parameters_are_isolated(clock, caplog):
    engine = DecisionEngine(AutomationConfig(decision_cooldown_seconds=0), clock=clock)

    def boom(ctx):
        raise KeyError("cpu_usage")

    bad_cond = _rule("bad_cond", boom, priority=9)
    bad_params = create_decision_rule("bad_params", lambda c: True, DecisionType.ALERT, boom, priority=8)
    not_dict = create_decision_rule("not_dict", lambda c: True, DecisionType.ALERT, lambda c: 3, priority=7)
    good = _rule("good", lambda c: True, priority=1)
    for r in (bad_cond, bad_params, not_dict, good):
        engine.add_rule(r)
    with caplog.at_level(logging.WARNING, logger="autoopt.decision._engine"):
        decision = engine.evaluate({})
    assert decision.parameters == {"rule": "good"}
    stats_ = engine.get_decision_stats()
    assert stats_["rule_errors"] == 3
    assert stats_["rules"][bad_cond.rule_id]["errors"] == 1
    assert "KeyError" in stats_["rules"][bad_cond.rule_id]["last_error"]
    assert stats_["rules"][bad_params.rule_id]["last_error"].startswith("parameters_fn")
    assert "expected dict" in stats_["rules"][not_dict.rule_id]["last_error"]
    assert sum("failed" in r.message for r in caplog.records) == 3


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 20])
@pytest.mark.parametrize("mean_score", [0.0, 0.3, 0.6, 0.9, 1.0])
def test_confidence_band_matches_beta_quantile(n, mean_score):
    band, q = confidence_from_feedback(n, n * mean_score)
    ref = stats.beta.ppf(0.10, 1 + n * mean_score, 1 + n - n * mean_score)
    assert q == pytest.approx(ref, rel=1e-9)
    expected = (
        DecisionConfidence.HIGH
        if ref >= 0.7
        else DecisionConfidence.MEDIUM
        if ref >= 0.4
        else DecisionConfidence.LOW
    )
    assert band is expected


def test_confidence_grows_with_good_feedback_and_drops_with_bad(clock):
    engine = DecisionEngine(AutomationConfig(decision_cooldown_seconds=0), clock=clock)
    engine.add_rule(_rule("r", lambda c: True))
    seen = []
    for _ in range(8):
        d = engine.evaluate({})
        seen.append(d.confidence)
        engine.record_feedback(d.decision_id, "worked", 1.0)
    assert seen[0] is DecisionConfidence.UNCERTAIN
    assert seen[1] is DecisionConfidence.LOW
    assert seen[-1] is DecisionConfidence.HIGH
    for _ in range(20):
        d = engine.evaluate({})
        engine.record_feedback(d.decision_id, "made it worse", 0.0)
    assert engine.evaluate({}).confidence is DecisionConfidence.LOW


def test_record_feedback_unknown_invalid_and_replace(clock):
    engine = DecisionEngine(clock=clock)
    engine.add_rule(_rule("r", lambda c: True))
    d = engine.evaluate({})
    assert engine.record_feedback("nope", "x", 0.5) is None
    for bad in (math.nan, math.inf, -0.1, 1.5):
        with pytest.raises(ValueError, match="score"):
            engine.record_feedback(d.decision_id, "x", bad)
    with pytest.raises(TypeError, match="outcome"):
        engine.record_feedback(d.decision_id, 3, 0.5)
    assert d.feedback_score is None
    assert engine.get_decision_stats()["feedback_count"] == 0
    engine.record_feedback(d.decision_id, "first", 0.2)
    engine.record_feedback(d.decision_id, "second", 0.8)
    s = engine.get_decision_stats()
    assert s["feedback_count"] == 1
    assert s["average_feedback_score"] == pytest.approx(0.8)
    assert d.outcome == "second"


def test_history_bounded_and_ordered(clock):
    engine = DecisionEngine(AutomationConfig(decision_cooldown_seconds=0), clock=clock, history_size=10)
    engine.add_rule(_rule("r", lambda c: True, params=lambda c: {"i": c["i"]}))
    ids = [engine.evaluate({"i": i}).decision_id for i in range(25)]
    hist = engine.get_decision_history(limit=4)
    assert [d.parameters["i"] for d in hist] == [21, 22, 23, 24]
    assert len(engine.get_decision_history(limit=100)) == 10
    assert engine.record_feedback(ids[0], "evicted", 1.0) is None
    assert engine.record_feedback(ids[-1], "kept", 1.0) is not None
    assert engine.get_decision_stats()["total_decisions"] == 25


def test_stats_equal_recount(clock):
    engine = DecisionEngine(AutomationConfig(decision_cooldown_seconds=0), clock=clock)
    engine.add_rule(_rule("up", lambda c: c["x"] > 5, DecisionType.SCALE_UP, priority=2))
    engine.add_rule(_rule("down", lambda c: c["x"] < 2, DecisionType.SCALE_DOWN, priority=1))
    made = [engine.evaluate({"x": x}) for x in range(10)]
    made = [d for d in made if d is not None]
    s = engine.get_decision_stats()
    assert s["total_decisions"] == len(made) == 6
    assert s["decisions_by_type"] == {"scale_down": 2, "scale_up": 4}
    assert s["evaluations"] == 10
    assert s["total_rules"] == 2
    assert s["enabled_rules"] == 2


def test_bad_input(clock):
    engine = DecisionEngine(clock=clock)
    with pytest.raises(TypeError, match="context"):
        engine.evaluate(["cpu"])
    with pytest.raises(TypeError, match="DecisionRule"):
        engine.add_rule({"name": "x"})
    rule = _rule("r", lambda c: True)
    engine.add_rule(rule)
    with pytest.raises(ValueError, match="already exists"):
        engine.add_rule(rule)
    with pytest.raises(TypeError, match="condition"):
        DecisionRule("id", "n", 5, DecisionType.ALERT, lambda c: {})
    # a str is a declarative condition now: checked against the context's keys when added
    with pytest.raises(ValueError, match="unknown name 'callable'"):
        engine.add_rule(DecisionRule("id", "n", "not callable", DecisionType.ALERT, {}))
    with pytest.raises(ValueError, match="decision_type"):
        create_decision_rule("n", lambda c: True, "explode", lambda c: {})
    assert engine.get_decision_stats()["total_decisions"] == 0


@settings(max_examples=50, deadline=None)
@given(st.one_of(st.integers(), st.text(), st.lists(st.integers()), st.none()))
def test_non_mapping_context_rejected(ctx):
    engine = DecisionEngine()
    engine.add_rule(_rule("r", lambda c: True))
    with pytest.raises(TypeError):
        engine.evaluate(ctx)
    assert engine.get_decision_stats()["total_decisions"] == 0


def test_condition_not_called_under_lock(clock):
    """A condition that itself calls into the engine must not deadlock."""
    engine = DecisionEngine(AutomationConfig(decision_cooldown_seconds=0), clock=clock)

    def reentrant(ctx):
        engine.get_decision_stats()
        return bool(engine.list_rules())

    engine.add_rule(_rule("r", reentrant))
    assert engine.evaluate({}) is not None


def test_thread_hammer_cooldown_fires_once(clock):
    engine = DecisionEngine(AutomationConfig(decision_cooldown_seconds=60), clock=clock)
    engine.add_rule(_rule("r", lambda c: True))
    results = []

    def work():
        for _ in range(300):
            results.append(engine.evaluate({}))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(d is not None for d in results) == 1
    assert engine.get_decision_stats()["total_decisions"] == 1


def test_thread_hammer_counts_exact(clock):
    engine = DecisionEngine(AutomationConfig(decision_cooldown_seconds=0), clock=clock, history_size=100_000)
    engine.add_rule(_rule("even", lambda c: c["i"] % 2 == 0, priority=1))
    made: list = []
    lock = threading.Lock()

    def work(k):
        for i in range(500):
            d = engine.evaluate({"i": i})
            if d is not None:
                engine.record_feedback(d.decision_id, "ok", (i % 3) / 2)
                with lock:
                    made.append(d)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = engine.get_decision_stats()
    assert s["total_decisions"] == len(made) == 8 * 250
    assert s["feedback_count"] == len(made)
    assert s["average_feedback_score"] == pytest.approx(
        sum(d.feedback_score for d in made) / len(made), rel=1e-9
    )
    assert len({d.decision_id for d in made}) == len(made)
