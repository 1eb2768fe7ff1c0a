"""IntelligentAutomationHub: the pipeline, its switches, feedback loop and factories."""

from __future__ import annotations

import itertools
import json
import math
import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from autoopt import (
    AutomationConfig,
    DecisionType,
    IntelligentAutomationHub,
    LoadMetrics,
    PredictionType,
    RemediationAction,
    UnknownIdError,
    create_decision_rule,
    create_intelligent_automation_hub,
    create_load_metrics,
)
from autoopt._clock import ManualClock

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def metrics_at(minute: int, cpu: float, **kw) -> LoadMetrics:
    return create_load_metrics(
        cpu_usage=cpu, memory_usage=30.0, timestamp=T0 + timedelta(minutes=minute), **kw
    )


@pytest.fixture
def clock():
    return ManualClock(T0.timestamp())


def test_process_metrics_is_json_and_runs_every_stage(clock):
    hub = create_intelligent_automation_hub(clock=clock, seed=0)
    seen = {}

    def cond(ctx):
        seen.update(ctx)
        return ctx["utilization"] >= 0.8

    hub.decision_engine.add_rule(
        create_decision_rule("hot", cond, DecisionType.SCALE_UP, lambda c: {"instances": 1})
    )
    out = None
    for i in range(30):
        clock.set((T0 + timedelta(minutes=i)).timestamp())
        out = hub.process_metrics(metrics_at(i, 40.0 + i, request_rate=100.0 + i, latency_p99=50.0))
    json.dumps(out)  # serialisable
    assert out["load_level"] == "moderate"
    assert out["utilization"] == pytest.approx(0.69)
    assert set(out["predictions"]) == {"load", "throughput"}
    # Load rises 1 % per minute: the 30-minute forecast is 69 + 30.
    assert out["predictions"]["load"]["predicted_value"] == pytest.approx(99.0)
    assert seen["predicted_load"] == pytest.approx(99.0)
    assert seen["predicted_request_rate"] == pytest.approx(159.0)
    assert seen["load_level"] == "moderate"
    assert seen["cpu_usage"] == 69.0
    assert hub.load_manager.get_load_stats()["total_samples"] == 30
    assert hub.predictor.observation_count(PredictionType.LATENCY) == 30
    assert hub.predictor.observation_count(PredictionType.THROUGHPUT) == 30
    summary = hub.get_automation_summary()
    json.dumps(summary)
    assert summary["hub"]["metrics_processed"] == 30
    assert summary["current_load"] == "moderate"


def test_extra_context_reaches_rules(clock):
    hub = create_intelligent_automation_hub(clock=clock)
    hub.decision_engine.add_rule(
        create_decision_rule("flag", lambda c: c.get("deploying", False), DecisionType.DEFER, lambda c: {})
    )
    assert hub.process_metrics(metrics_at(0, 10.0))["decision"] is None
    out = hub.process_metrics(metrics_at(1, 10.0), context={"deploying": True})
    assert out["decision"]["decision_type"] == "defer"


def test_predictions_scored_when_due(clock):
    hub = create_intelligent_automation_hub(clock=clock, prediction_horizon_minutes=5)
    rng = np.random.default_rng(0)
    cpu = 50 + rng.normal(0, 2, 200)
    for i, c in enumerate(cpu):
        hub.process_metrics(metrics_at(i, float(c)))
    acc = hub.predictor.get_prediction_accuracy(PredictionType.LOAD)
    # Predictions are made from minute 9 on (min_observations=10) and scored 5 minutes later.
    assert acc["count"] == 200 - 9 - 5
    summary = hub.get_automation_summary()["hub"]
    assert summary["predictions_validated"] == 2 * acc["count"]  # load and throughput
    # Independent recomputation of the MAE from the stored predictions.
    preds = [
        p
        for p in hub.predictor.get_predictions(1000)
        if p.prediction_type == "load" and p.actual_value is not None
    ]
    mae = np.mean([abs(p.actual_value - p.predicted_value) for p in preds])
    assert acc["mae"] == pytest.approx(mae)


def test_gap_expires_predictions(clock):
    hub = create_intelligent_automation_hub(clock=clock, prediction_horizon_minutes=5)
    for i in range(20):
        hub.process_metrics(metrics_at(i, 50.0 + (i % 3)))
    before = hub.get_automation_summary()["hub"]
    for i in range(200, 205):  # a three-hour gap: everything due in it expires unscored
        hub.process_metrics(metrics_at(i, 50.0))
    after = hub.get_automation_summary()["hub"]
    assert after["predictions_expired"] > before["predictions_expired"]
    assert after["predictions_validated"] == before["predictions_validated"]


def test_remediation_runs_only_with_handler_and_when_enabled(clock):
    calls = []
    for enabled in (True, False):
        hub = create_intelligent_automation_hub(clock=clock, auto_remediation_enabled=enabled)
        hub.decision_engine.add_rule(
            create_decision_rule(
                "errors",
                lambda c: c["error_rate"] > 0.5,
                DecisionType.REMEDIATE,
                lambda c: {"action": "clear_cache", "target": "cache-1", "scope": "all"},
            )
        )
        out = hub.process_metrics(metrics_at(0, 10.0, error_rate=0.9))
        assert out["decision"]["decision_type"] == "remediate"
        assert out["remediation"] is None  # no handler registered yet
        hub.remediation.register_handler(
            RemediationAction.CLEAR_CACHE, lambda target, params: calls.append((target, params)) or True
        )
        clock.advance(3600)
        out = hub.process_metrics(metrics_at(60, 10.0, error_rate=0.9))
        if enabled:
            assert out["remediation"]["success"] is True
            assert out["remediation"]["target"] == "cache-1"
            assert out["decision"]["executed"] is True
            assert hub.learner.get_learning_stats()["total_observations"] == 1
        else:
            assert out["remediation"] is None
    assert calls == [("cache-1", {"scope": "all"})]


def test_switches_disable_stages(clock):
    hub = create_intelligent_automation_hub(clock=clock, prediction_enabled=False, learning_enabled=False)
    for i in range(20):
        out = hub.process_metrics(metrics_at(i, 50.0))
    assert out["predictions"] == {}
    assert out["recommendation"] is None
    assert hub.predictor.observation_count(PredictionType.LOAD) == 0


def test_record_decision_outcome_teaches_learner(clock):
    hub = create_intelligent_automation_hub(clock=clock, decision_cooldown_seconds=0)
    hub.decision_engine.add_rule(
        create_decision_rule("hot", lambda c: c["utilization"] > 0.8, DecisionType.SCALE_UP, lambda c: {})
    )
    for i in range(6):
        d = hub.process_metrics(metrics_at(i, 95.0))["decision"]
        hub.record_decision_outcome(d["decision_id"], "recovered", 1.0)
    out = hub.process_metrics(metrics_at(7, 95.0))
    assert out["recommendation"] == {"action": "scale_up", "confidence": pytest.approx(1.0)}
    with pytest.raises(UnknownIdError, match="unknown decision id 'unknown'"):
        hub.record_decision_outcome("unknown", "x", 1.0)


def test_bad_input_records_nothing(clock):
    hub = create_intelligent_automation_hub(clock=clock)
    m = metrics_at(0, 50.0)
    m.cpu_usage = math.nan  # mutated after validation
    with pytest.raises(ValueError, match="cpu_usage"):
        hub.process_metrics(m)
    with pytest.raises(TypeError, match="LoadMetrics"):
        hub.process_metrics({"cpu_usage": 50})
    with pytest.raises(TypeError, match="context"):
        hub.process_metrics(metrics_at(0, 50.0), context=[1])
    assert hub.load_manager.get_current_load() is None
    assert hub.get_automation_summary()["hub"]["metrics_processed"] == 0


def test_factory_routes_kwargs():
    clock = ManualClock(0.0)
    hub = create_intelligent_automation_hub(
        decision_cooldown_seconds=7, max_concurrent_tasks=3, load_threshold_high=0.7, clock=clock, seed=1
    )
    assert hub.config.decision_cooldown_seconds == 7
    assert hub.scheduler.max_concurrent_tasks == 3
    assert hub.config.load_threshold_high == 0.7
    cfg = AutomationConfig(load_threshold_high=0.6)
    assert create_intelligent_automation_hub(config=cfg).config is cfg
    with pytest.raises(TypeError, match="unknown keyword"):
        create_intelligent_automation_hub(colour="blue")
    with pytest.raises(TypeError, match="either config"):
        create_intelligent_automation_hub(config=cfg, load_threshold_high=0.7)
    with pytest.raises(ValueError, match="load_threshold_high"):
        create_intelligent_automation_hub(load_threshold_high=0.95)


def test_components_share_config_thresholds(clock):
    hub = create_intelligent_automation_hub(clock=clock, load_threshold_high=0.6, load_threshold_critical=0.7)
    assert hub.process_metrics(metrics_at(0, 65.0))["load_level"] == "high"
    assert hub.process_metrics(metrics_at(1, 72.0))["load_level"] == "critical"
    assert hub.load_manager.should_shed_load()


def test_injected_components_are_used():
    from autoopt import DecisionEngine

    engine = DecisionEngine()
    hub = IntelligentAutomationHub(decision_engine=engine)
    assert hub.decision_engine is engine


def test_thread_hammer(clock):
    hub = create_intelligent_automation_hub(clock=clock, decision_cooldown_seconds=0)
    hub.decision_engine.add_rule(
        create_decision_rule("hot", lambda c: c["utilization"] > 0.5, DecisionType.SCALE_UP, lambda c: {})
    )
    errors = []

    ticks = itertools.count()  # one shared sequence of times: the threads race by milliseconds at most

    def work(k):
        try:
            for i in range(200):
                at = T0 + timedelta(milliseconds=next(ticks))
                hub.process_metrics(create_load_metrics(40.0 + (i + k) % 30, 30.0, timestamp=at))
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    s = hub.get_automation_summary()
    assert s["hub"]["metrics_processed"] == 1600
    assert hub.predictor.observation_count(PredictionType.LOAD) == 1600
    expected = sum(1 for k in range(8) for i in range(200) if (40.0 + (i + k) % 30) / 100 > 0.5)
    assert s["decision_stats"]["total_decisions"] == expected


def test_scoring_survives_many_outstanding_predictions():
    """At 1 Hz with a 30-minute horizon, 3,600 forecasts are outstanding: all are still scored."""
    t0 = T0.timestamp()
    clock = ManualClock(t0)
    hub = create_intelligent_automation_hub(clock=clock)
    n = 3600 + 600
    for i in range(n):
        clock.set(t0 + i)
        hub.process_metrics(
            create_load_metrics(50.0 + (i % 7), 30.0, timestamp=datetime.fromtimestamp(t0 + i, tz=UTC))
        )
    acc = hub.predictor.get_prediction_accuracy(PredictionType.LOAD)
    # Forecasts from second 9 on; those made before second n - 1800 have come due.
    assert acc["count"] == n - 1800 - 9
    assert hub.predictor.max_predictions < acc["count"]  # more than the predictor itself retains
    assert hub.get_automation_summary()["hub"]["predictions_expired"] == 0


def test_bad_remediation_parameters_do_not_break_the_pipeline(clock):
    hub = create_intelligent_automation_hub(clock=clock)
    hub.remediation.register_handler(RemediationAction.RESTART, lambda target, params: True)
    hub.decision_engine.add_rule(
        create_decision_rule("r", lambda c: True, DecisionType.REMEDIATE, lambda c: {"target": ""})
    )
    out = hub.process_metrics(metrics_at(0, 10.0))
    assert out["decision"]["decision_type"] == "remediate"
    assert out["remediation"] is None
    s = hub.get_automation_summary()["hub"]
    assert s["metrics_processed"] == 1
    assert s["remediation_errors"] == 1
    assert "target" in s["last_remediation_error"]


def test_unserialisable_parameters_still_give_json(clock):
    class Weird:
        def __repr__(self):
            raise RuntimeError("no repr")

    hub = create_intelligent_automation_hub(clock=clock)
    hub.decision_engine.add_rule(
        create_decision_rule("r", lambda c: True, DecisionType.ALERT, lambda c: {"x": Weird()})
    )
    out = hub.process_metrics(metrics_at(0, 10.0))
    assert "unserialisable" in json.dumps(out)


def test_remediation_outcome_is_learned_once(clock):
    hub = create_intelligent_automation_hub(clock=clock, decision_cooldown_seconds=0)
    hub.remediation.register_handler(RemediationAction.RESTART, lambda target, params: True)
    hub.decision_engine.add_rule(
        create_decision_rule("r", lambda c: True, DecisionType.REMEDIATE, lambda c: {})
    )
    d = hub.process_metrics(metrics_at(0, 10.0))["decision"]
    hub.record_decision_outcome(d["decision_id"], "restarted", 1.0)
    stats = hub.learner.get_learning_stats()
    assert stats["total_observations"] == 1  # learned as "restart", not again as "remediate"
    assert hub.decision_engine.get_decision_stats()["feedback_count"] == 1
