"""The hub's anomaly stage: streaming scores per signal, in the decision context, driving remediation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from autoopt import (
    AnomalyDetector,
    DecisionType,
    RemediationAction,
    create_decision_rule,
    create_intelligent_automation_hub,
    create_load_metrics,
)
from autoopt._clock import ManualClock

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _samples(n: int, spike_at: int | None = None) -> list:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        latency = 120.0 + 10.0 * np.sin(i / 20.0) + rng.normal(0, 2.0)
        if spike_at is not None and i == spike_at:
            latency = 900.0
        out.append(
            create_load_metrics(
                cpu_usage=50.0 + rng.normal(0, 1.0),
                memory_usage=30.0,
                request_rate=200.0 + rng.normal(0, 5.0),
                error_rate=0.01,
                latency_p99=latency,
                timestamp=T0 + timedelta(minutes=i),
            )
        )
    return out


def test_scores_equal_an_independent_detector_per_signal():
    clock = ManualClock(T0.timestamp())
    hub = create_intelligent_automation_hub(clock=clock, seed=0)
    samples = _samples(300)
    refs = {name: AnomalyDetector() for name in ("utilization", "request_rate", "error_rate", "latency_p99")}
    for m in samples:
        clock.set(m.timestamp.timestamp())
        out = hub.process_metrics(m)
        expected = {
            "utilization": refs["utilization"].update(m.utilization, m.timestamp),
            "request_rate": refs["request_rate"].update(m.request_rate, m.timestamp),
            "error_rate": refs["error_rate"].update(m.error_rate, m.timestamp),
            "latency_p99": refs["latency_p99"].update(m.latency_p99, m.timestamp),
        }
        assert out["anomaly_scores"] == pytest.approx(expected, abs=1e-12)
    json.dumps(out)
    summary = hub.get_automation_summary()
    assert summary["anomaly"]["latency_p99"]["samples"] == 300


def test_an_anomaly_rule_decides_and_remediates():
    clock = ManualClock(T0.timestamp())
    hub = create_intelligent_automation_hub(clock=clock, seed=0)
    seen = []
    hub.remediation.register_handler(
        RemediationAction.RESTART, lambda target, params: seen.append(target) or True
    )
    hub.decision_engine.add_rule(
        create_decision_rule(
            "latency anomaly",
            lambda ctx: ctx["anomaly_scores"]["latency_p99"] >= 0.99,
            DecisionType.REMEDIATE,
            lambda ctx: {"action": "restart", "target": "api"},
        )
    )
    fired = []
    for i, m in enumerate(_samples(400, spike_at=350)):
        clock.set(m.timestamp.timestamp())
        out = hub.process_metrics(m)
        if out["remediation"] is not None:
            fired.append(i)
    assert fired == [350]
    assert seen == ["api"]


def test_signals_can_be_chosen_or_disabled_and_are_validated():
    hub = create_intelligent_automation_hub(anomaly_signals=())
    out = hub.process_metrics(_samples(1)[0])
    assert out["anomaly_scores"] == {}
    hub = create_intelligent_automation_hub(
        anomaly_signals=["latency_p99"], anomaly_detector_factory=lambda: AnomalyDetector(window=10)
    )
    assert set(hub.process_metrics(_samples(1)[0])["anomaly_scores"]) == {"latency_p99"}
    with pytest.raises(ValueError, match="anomaly_signals"):
        create_intelligent_automation_hub(anomaly_signals=["cpu"])
    with pytest.raises(TypeError, match="anomaly_signals"):
        create_intelligent_automation_hub(anomaly_signals="latency_p99")
    with pytest.raises(TypeError, match="anomaly_detector_factory"):
        create_intelligent_automation_hub(anomaly_detector_factory=lambda: object())
