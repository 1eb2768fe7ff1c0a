"""Every "Usage Examples" snippet of the seed, run verbatim with only its import line changed.

The snippets are copied from the seed specification
(``shared/seeds/000_4245003d657f3ad0.txt``); the names they leave undefined
(``evaluate_model``, ``preprocess_data``, ``my_base_provider``...) are given
real implementations here. Top-level ``await`` is compiled as the seed
writes it.
"""

from __future__ import annotations

import ast
import asyncio
import math
from typing import Any

import pytest

from autoopt import VisionDescription, VisionProvider


def run_snippet(src: str, namespace: dict[str, Any]) -> dict[str, Any]:
    src = src.replace("from src.core.vision import", "from autoopt import")
    code = compile(src, "<seed example>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, namespace)
    if asyncio.iscoroutine(result):
        asyncio.run(result)
    return namespace


DECISION = """
from src.core.vision import (
    create_intelligent_automation_hub,
    create_decision_rule,
    DecisionType,
)

hub = create_intelligent_automation_hub()

# Add decision rule for high CPU
rule = create_decision_rule(
    name="High CPU Scale",
    condition=lambda ctx: ctx.get("cpu_usage", 0) > 80,
    decision_type=DecisionType.SCALE_UP,
    parameters_fn=lambda ctx: {"instances": 2},
    priority=10,
    description="Scale up when CPU > 80%"
)
hub.decision_engine.add_rule(rule)

# Evaluate context
context = {"cpu_usage": 90, "memory_usage": 70}
decision = hub.decision_engine.evaluate(context)
if decision:
    print(f"Decision: {decision.decision_type}, Params: {decision.parameters}")
"""

TUNING = """
from src.core.vision import create_intelligent_automation_hub, TuningStrategy

hub = create_intelligent_automation_hub()

# Create tuning session
session = hub.self_tuner.create_session(
    parameters={
        "learning_rate": (0.001, 0.1, 0.01),
        "batch_size": (16, 128, 32),
    },
    strategy=TuningStrategy.ADAPTIVE,
    max_iterations=100,
)

# Start tuning
hub.self_tuner.start_session(session.session_id)

# Iterate
for _ in range(50):
    values = hub.self_tuner.step(session.session_id)
    if values is None:
        break
    # Evaluate performance with these values
    score = evaluate_model(**values)
    hub.self_tuner.record_result(session.session_id, values, score)

# Get best parameters
best = hub.self_tuner.get_best_parameters(session.session_id)
print(f"Best parameters: {best}")
"""

SCHEDULING = """
from src.core.vision import create_intelligent_automation_hub, SchedulerPriority

hub = create_intelligent_automation_hub()

# Schedule tasks with dependencies
task1 = hub.scheduler.schedule_task(
    name="Data Preprocessing",
    execute_fn=lambda: preprocess_data(),
    priority=SchedulerPriority.HIGH,
    resource_requirements={"cpu": 30.0, "memory": 20.0},
)

task2 = hub.scheduler.schedule_task(
    name="Model Training",
    execute_fn=lambda: train_model(),
    priority=SchedulerPriority.HIGH,
    dependencies=[task1.task_id],
    resource_requirements={"cpu": 80.0, "memory": 50.0},
)

# Execute tasks
while True:
    task = hub.scheduler.get_next_task()
    if task is None:
        break
    hub.scheduler.start_task(task.task_id)
    result = task.execute_fn()
    hub.scheduler.complete_task(task.task_id, result=result)
"""

LOAD = """
from src.core.vision import (
    create_intelligent_automation_hub,
    create_load_metrics,
    LoadLevel,
)

hub = create_intelligent_automation_hub()

# Register load handlers
def handle_critical_load(metrics):
    print(f"CRITICAL: CPU={metrics.cpu_usage}%, taking action...")

hub.load_manager.register_handler(LoadLevel.CRITICAL, handle_critical_load)

# Record metrics
metrics = create_load_metrics(
    cpu_usage=95.0,
    memory_usage=90.0,
    request_rate=1000.0,
    error_rate=0.05,
    latency_p99=500.0,
)
level = hub.load_manager.record_metrics(metrics)

# Check if load shedding needed
if hub.load_manager.should_shed_load():
    throttle = hub.load_manager.get_throttle_percentage()
    print(f"Load shedding active: {throttle}% throttle")
"""

PREDICTION = """
from src.core.vision import create_intelligent_automation_hub, PredictionType

hub = create_intelligent_automation_hub()

# Record historical observations
for i in range(100):
    hub.predictor.record_observation(PredictionType.LOAD, 50.0 + i * 0.5)

# Make prediction
prediction = hub.predictor.predict(PredictionType.LOAD, horizon_minutes=30)
if prediction:
    print(f"Predicted load in 30 min: {prediction.predicted_value:.1f}%")
    print(f"Confidence interval: {prediction.confidence_interval}")
"""

REMEDIATION = """
from src.core.vision import create_intelligent_automation_hub, RemediationAction

hub = create_intelligent_automation_hub()

# Register remediation handlers
def restart_service(target, params):
    print(f"Restarting {target}...")
    return True

hub.remediation.register_handler(RemediationAction.RESTART, restart_service)

# Execute remediation
result = hub.remediation.execute_remediation(
    action=RemediationAction.RESTART,
    target="vision-service",
    reason="High error rate detected",
    parameters={"graceful": True},
)
print(f"Remediation success: {result.success}")
"""

LEARNING = """
from src.core.vision import create_intelligent_automation_hub

hub = create_intelligent_automation_hub()

# Learn from operations
for _ in range(20):
    hub.learner.record_observation(
        conditions={"load": "high", "time": "peak"},
        action="scale_up",
        success=True,
    )

# Get recommendation
recommendation = hub.learner.get_recommended_action(
    {"load": "high", "time": "peak"}
)
if recommendation:
    action, confidence = recommendation
    print(f"Recommended: {action} (confidence: {confidence:.2f})")
"""

PROVIDER = """
from src.core.vision import (
    create_automated_provider,
    create_intelligent_automation_hub,
)

hub = create_intelligent_automation_hub()
provider = create_automated_provider(my_base_provider, hub)

# Analyze with automation
result = await provider.analyze_image(image_data)

# Get automation summary
summary = hub.get_automation_summary()
print(f"Current load: {summary['current_load']}")
print(f"Decisions made: {summary['decision_stats']['total_decisions']}")
"""


def test_decision_example(capsys):
    ns = run_snippet(DECISION, {})
    assert capsys.readouterr().out.strip() == "Decision: scale_up, Params: {'instances': 2}"
    decision, rule, engine = ns["decision"], ns["rule"], ns["hub"].decision_engine
    assert decision.rule_id == rule.rule_id
    assert "High CPU Scale" in decision.rationale
    assert engine.get_rule(rule.rule_id) is rule
    assert engine.evaluate({"cpu_usage": 50}) is None


def test_tuning_example(capsys):
    # A real objective: a smooth response surface peaking at lr = 0.03, batch = 64.
    def evaluate_model(learning_rate, batch_size):
        assert isinstance(batch_size, int)
        return -((math.log10(learning_rate) - math.log10(0.03)) ** 2) - ((batch_size - 64) / 64) ** 2

    ns = run_snippet(TUNING, {"evaluate_model": evaluate_model})
    out = capsys.readouterr().out
    assert out.startswith("Best parameters: {")
    best = ns["best"]
    session = ns["session"]
    assert set(best) == {"learning_rate", "batch_size"}
    assert type(best["batch_size"]) is int
    assert all(type(v) is int and 16 <= v <= 128 for v, _ in session.parameters["batch_size"].history)
    assert all(0.001 <= v <= 0.1 for v, _ in session.parameters["learning_rate"].history)
    assert session.best_score == pytest.approx(evaluate_model(**best))
    start = evaluate_model(0.01, 32)
    assert evaluate_model(**best) > start + 0.15  # clearly better than the initial values
    assert 0.012 < best["learning_rate"] < 0.075  # within a factor 2.5 of the optimum 0.03
    assert 40 <= best["batch_size"] <= 90  # around the optimum 64
    assert session.status in ("exploiting", "converged")
    assert len(session.parameters["batch_size"].history) == session.iterations
    session = ns["hub"].self_tuner.get_session(ns["session"].session_id)
    # 50 steps, unless the session converged earlier (no improvement > 1e-4 for 25 results).
    assert session.iterations == 50 or (session.status == "converged" and session.iterations < 50)


def test_scheduling_example():
    order: list[str] = []

    def preprocess_data():
        order.append("preprocess")
        return "clean"

    def train_model():
        order.append("train")
        return "model"

    ns = run_snippet(SCHEDULING, {"preprocess_data": preprocess_data, "train_model": train_model})
    assert order == ["preprocess", "train"]
    sched = ns["hub"].scheduler
    assert ns["task1"].state == "completed"
    assert ns["task2"].state == "completed"
    assert ns["task1"].completed_at <= ns["task2"].started_at
    assert sched.get_task(ns["task1"].task_id).result == "clean"
    assert sched.get_task(ns["task2"].task_id).result == "model"
    assert sched.resource_pool.available() == sched.resource_pool.capacity()


def test_load_example(capsys):
    ns = run_snippet(LOAD, {})
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "CRITICAL: CPU=95.0%, taking action..."
    assert lines[1].startswith("Load shedding active: ")
    # smoothstep of (0.95 - 0.75) / 0.25 = 0.8: 100 * (3 * 0.64 - 2 * 0.512)
    assert ns["throttle"] == pytest.approx(89.6)
    assert ns["level"] == "critical"


def test_prediction_example(capsys):
    ns = run_snippet(PREDICTION, {})
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "Predicted load in 30 min: 114.5%"
    lo, hi = ns["prediction"].confidence_interval
    assert lo <= 114.5 + 1e-9 <= hi + 2e-9


def test_remediation_example(capsys):
    ns = run_snippet(REMEDIATION, {})
    assert capsys.readouterr().out.strip().splitlines() == [
        "Restarting vision-service...",
        "Remediation success: True",
    ]
    result = ns["result"]
    assert result.action == "restart"
    assert result.target == "vision-service"
    assert result.reason == "High error rate detected"
    assert result.parameters == {"graceful": True}


def test_learning_example(capsys):
    ns = run_snippet(LEARNING, {})
    assert capsys.readouterr().out.strip() == "Recommended: scale_up (confidence: 1.00)"
    assert ns["confidence"] == 1.0  # exactly: the weights are normalised


class _Captioner(VisionProvider):
    """A real (tiny) vision provider: describes PNG dimensions from the header."""

    @property
    def provider_name(self) -> str:
        return "png_header"

    async def analyze_image(self, image_data: bytes, include_description: bool = True) -> VisionDescription:
        if image_data[:8] != b"\x89PNG\r\n\x1a\n":
            raise ValueError("not a PNG")
        width = int.from_bytes(image_data[16:20], "big")
        height = int.from_bytes(image_data[20:24], "big")
        return VisionDescription(
            f"a {width}x{height} PNG image", {"width": width, "height": height}, 1.0, "png_header"
        )


def _png(width: int, height: int) -> bytes:
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


def test_automated_provider_example(capsys):
    ns = run_snippet(PROVIDER, {"my_base_provider": _Captioner(), "image_data": _png(640, 480)})
    assert ns["result"].summary == "a 640x480 PNG image"
    assert capsys.readouterr().out.strip().splitlines() == ["Current load: None", "Decisions made: 0"]
    assert ns["provider"].provider_name == "automated_png_header"
    assert ns["hub"].predictor.observation_count("latency", series="png_header") == 1
