"""The public API matches the seed specification, and holds for every public name."""

from __future__ import annotations

import dataclasses
import inspect
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

import autoopt

SEED_ENUMS = {
    "DecisionType": [
        "scale_up",
        "scale_down",
        "route_traffic",
        "failover",
        "optimize",
        "alert",
        "remediate",
        "defer",
    ],
    "DecisionConfidence": ["high", "medium", "low", "uncertain"],
    "TuningStrategy": ["gradient_descent", "bayesian", "genetic", "grid_search", "random_search", "adaptive"],
    "TuningStatus": ["idle", "exploring", "exploiting", "converged", "failed"],
    "SchedulerPriority": ["critical", "high", "normal", "low", "background"],
    "TaskState": ["pending", "scheduled", "running", "completed", "failed", "cancelled", "deferred"],
    "LoadLevel": ["critical", "high", "moderate", "low", "idle"],
    "RemediationAction": [
        "restart",
        "scale",
        "failover",
        "throttle",
        "clear_cache",
        "rollback",
        "notify",
        "custom",
    ],
    "PredictionType": ["load", "latency", "error_rate", "resource_usage", "throughput", "cost"],
    "LearningMode": ["online", "batch", "reinforcement", "supervised"],
}

SEED_FIELDS = {
    "Decision": [
        "decision_id",
        "decision_type",
        "confidence",
        "rationale",
        "parameters",
        "timestamp",
        "executed",
        "outcome",
        "feedback_score",
    ],
    "DecisionRule": [
        "rule_id",
        "name",
        "condition",
        "decision_type",
        "parameters_fn",
        "priority",
        "enabled",
        "description",
    ],
    "TuningParameter": [
        "name",
        "current_value",
        "min_value",
        "max_value",
        "step_size",
        "best_value",
        "best_score",
        "history",
    ],
    "TuningSession": [
        "session_id",
        "parameters",
        "strategy",
        "status",
        "objective_fn",
        "iterations",
        "max_iterations",
        "convergence_threshold",
        "started_at",
        "completed_at",
    ],
    "ScheduledTask": [
        "task_id",
        "name",
        "priority",
        "state",
        "execute_fn",
        "scheduled_time",
        "deadline",
        "resource_requirements",
        "dependencies",
        "retries",
        "max_retries",
        "result",
        "error",
    ],
    "ResourcePool": ["cpu", "memory", "io_bandwidth", "network", "custom"],
    "LoadMetrics": [
        "cpu_usage",
        "memory_usage",
        "request_rate",
        "error_rate",
        "latency_p50",
        "latency_p99",
        "queue_depth",
        "timestamp",
    ],
    "Remediation": [
        "remediation_id",
        "action",
        "target",
        "reason",
        "parameters",
        "timestamp",
        "success",
        "result",
        "duration_ms",
    ],
    "Prediction": [
        "prediction_id",
        "prediction_type",
        "target_time",
        "predicted_value",
        "confidence_interval",
        "confidence",
        "model_version",
        "timestamp",
        "actual_value",
    ],
    "LearningPattern": [
        "pattern_id",
        "name",
        "conditions",
        "optimal_action",
        "success_rate",
        "sample_count",
        "last_updated",
    ],
    "AutomationConfig": [
        "decision_cooldown_seconds",
        "tuning_enabled",
        "prediction_enabled",
        "auto_remediation_enabled",
        "learning_enabled",
        "max_concurrent_tasks",
        "load_threshold_critical",
        "load_threshold_high",
        "prediction_horizon_minutes",
    ],
}

SEED_METHODS = {
    "DecisionEngine": {
        "add_rule": ["rule"],
        "remove_rule": ["rule_id"],
        "get_rule": ["rule_id"],
        "list_rules": [],
        "evaluate": ["context"],
        "record_feedback": ["decision_id", "outcome", "score"],
        "get_decision_history": ["limit"],
        "get_decision_stats": [],
    },
    "SelfTuner": {
        "create_session": ["parameters", "strategy", "objective_fn", "max_iterations"],
        "get_session": ["session_id"],
        "start_session": ["session_id"],
        "step": ["session_id"],
        "record_result": ["session_id", "values", "score"],
        "get_best_parameters": ["session_id"],
        "list_sessions": [],
    },
    "IntelligentScheduler": {
        "schedule_task": [
            "name",
            "execute_fn",
            "priority",
            "scheduled_time",
            "deadline",
            "resource_requirements",
            "dependencies",
        ],
        "get_task": ["task_id"],
        "cancel_task": ["task_id"],
        "get_next_task": [],
        "start_task": ["task_id"],
        "complete_task": ["task_id", "result", "error"],
        "get_queue_stats": [],
        "list_tasks": ["state", "limit"],
    },
    "LoadManager": {
        "record_metrics": ["metrics"],
        "register_handler": ["level", "handler"],
        "get_current_load": [],
        "get_average_metrics": ["window_seconds"],
        "get_metrics_history": ["limit"],
        "should_shed_load": [],
        "get_throttle_percentage": [],
    },
    "PerformancePredictor": {
        "record_observation": ["prediction_type", "value"],
        "predict": ["prediction_type", "horizon_minutes"],
        "validate_prediction": ["prediction_id", "actual_value"],
        "get_prediction_accuracy": ["prediction_type"],
        "get_predictions": ["limit"],
    },
    "AutoRemediation": {
        "register_handler": ["action", "handler"],
        "execute_remediation": ["action", "target", "reason", "parameters"],
        "get_remediation_history": ["limit", "success_only"],
        "get_remediation_stats": [],
    },
    "PatternLearner": {
        "record_observation": ["conditions", "action", "success"],
        "get_recommended_action": ["conditions"],
        "get_patterns": ["min_samples"],
        "get_learning_stats": [],
    },
    "IntelligentAutomationHub": {"process_metrics": ["metrics"], "get_automation_summary": []},
    "AutomatedVisionProvider": {"analyze_image": ["image_data", "include_description"]},
}

SEED_DEFAULTS = {
    ("DecisionEngine", "get_decision_history", "limit"): 100,
    ("SelfTuner", "create_session", "max_iterations"): 100,
    ("SelfTuner", "create_session", "strategy"): "adaptive",
    ("IntelligentScheduler", "list_tasks", "limit"): 100,
    ("IntelligentScheduler", "schedule_task", "priority"): "normal",
    ("LoadManager", "get_average_metrics", "window_seconds"): 300,
    ("LoadManager", "get_metrics_history", "limit"): 100,
    ("PerformancePredictor", "get_predictions", "limit"): 100,
    ("AutoRemediation", "get_remediation_history", "limit"): 100,
    ("AutoRemediation", "get_remediation_history", "success_only"): False,
    ("PatternLearner", "get_patterns", "min_samples"): 5,
}

FACTORIES = {
    "create_automation_config": [
        "decision_cooldown_seconds",
        "tuning_enabled",
        "prediction_enabled",
        "auto_remediation_enabled",
        "learning_enabled",
        "max_concurrent_tasks",
        "kwargs",
    ],
    "create_intelligent_automation_hub": ["decision_cooldown_seconds", "max_concurrent_tasks", "kwargs"],
    "create_decision_rule": [
        "name",
        "condition",
        "decision_type",
        "parameters_fn",
        "priority",
        "description",
    ],
    "create_load_metrics": [
        "cpu_usage",
        "memory_usage",
        "request_rate",
        "error_rate",
        "latency_p50",
        "latency_p99",
        "queue_depth",
    ],
    "create_automated_provider": ["base_provider", "hub"],
}


def test_all_names_exist_and_are_unique():
    assert len(set(autoopt.__all__)) == len(autoopt.__all__)
    for name in autoopt.__all__:
        assert hasattr(autoopt, name), name


@pytest.mark.parametrize("name", sorted(SEED_ENUMS))
def test_enum_values_exactly(name):
    enum = getattr(autoopt, name)
    assert [m.value for m in enum] == SEED_ENUMS[name]
    assert all(isinstance(m, str) for m in enum)


@pytest.mark.parametrize("name", sorted(SEED_FIELDS))
def test_dataclass_fields_in_seed_order(name):
    cls = getattr(autoopt, name)
    names = [f.name for f in dataclasses.fields(cls)]
    assert names[: len(SEED_FIELDS[name])] == SEED_FIELDS[name]


@pytest.mark.parametrize(("cls_name", "method"), [(c, m) for c, ms in SEED_METHODS.items() for m in ms])
def test_method_signatures(cls_name, method):
    fn = getattr(getattr(autoopt, cls_name), method)
    params = [p for p in inspect.signature(fn).parameters.values() if p.name != "self"]
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    seed = SEED_METHODS[cls_name][method]
    assert positional[: len(seed)] == seed
    # Additions come after the seed's parameters and are optional.
    assert all(
        p.default is not inspect.Parameter.empty for p in params[len(seed) :] if p.kind != p.VAR_KEYWORD
    )
    for (c, m, arg), default in SEED_DEFAULTS.items():
        if (c, m) == (cls_name, method):
            assert inspect.signature(fn).parameters[arg].default == default


def test_hub_properties():
    hub = autoopt.create_intelligent_automation_hub()
    for prop, cls in [
        ("decision_engine", autoopt.DecisionEngine),
        ("self_tuner", autoopt.SelfTuner),
        ("scheduler", autoopt.IntelligentScheduler),
        ("load_manager", autoopt.LoadManager),
        ("predictor", autoopt.PerformancePredictor),
        ("remediation", autoopt.AutoRemediation),
        ("learner", autoopt.PatternLearner),
    ]:
        assert isinstance(getattr(type(hub), prop), property)
        assert isinstance(getattr(hub, prop), cls)


def test_vision_provider_is_an_abc_with_async_method():
    assert inspect.isabstract(autoopt.VisionProvider)
    assert inspect.iscoroutinefunction(autoopt.VisionProvider.analyze_image)
    assert (
        inspect.signature(autoopt.VisionProvider.analyze_image).parameters["include_description"].default
        is True
    )
    assert issubclass(autoopt.AutomatedVisionProvider, autoopt.VisionProvider)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_factory_signatures(name):
    params = list(inspect.signature(getattr(autoopt, name)).parameters.values())
    seed = FACTORIES[name]
    assert [p.name for p in params][: len(seed)] == seed
    assert all(p.kind is p.KEYWORD_ONLY and p.default is not p.empty for p in params[len(seed) :])


def _instances():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        autoopt.Decision(
            "d", autoopt.DecisionType.ALERT, autoopt.DecisionConfidence.LOW, "r", {"k": (1, 2)}, now
        ),
        autoopt.create_decision_rule("n", lambda c: True, autoopt.DecisionType.ALERT, lambda c: {}),
        autoopt.TuningParameter.from_bounds("x", (0.0, 1.0, 0.5)),
        autoopt.ScheduledTask(
            "t", "n", autoopt.SchedulerPriority.LOW, autoopt.TaskState.PENDING, lambda: 1, now
        ),
        autoopt.ResourcePool(custom={"gpu": 1}),
        autoopt.create_load_metrics(10.0, 20.0),
        autoopt.Remediation("r", autoopt.RemediationAction.NOTIFY, "t", "why", {}, now, True, "ok", 1.5),
        autoopt.Prediction("p", autoopt.PredictionType.LOAD, now, 1.0, (0.0, 2.0), 0.95, "v", now),
        autoopt.LearningPattern("p", "n", {"a": 1}, "act", 0.5, 5, now),
        autoopt.AutomationConfig(),
        autoopt.VisionDescription("s", {"labels": ["cat"]}, 0.9, "p"),
    ]


@pytest.mark.parametrize("obj", _instances(), ids=lambda o: type(o).__name__)
def test_to_dict_is_json_serialisable(obj):
    json.dumps(obj.to_dict(), allow_nan=False)


def test_tuning_session_to_dict():
    tuner = autoopt.SelfTuner(seed=0)
    session = tuner.create_session({"x": (0.0, 1.0, 0.5)}, objective_fn=lambda x: x)
    json.dumps(session.to_dict(), allow_nan=False)


def _public_classes():
    return [
        getattr(autoopt, n)
        for n in autoopt.__all__
        if inspect.isclass(getattr(autoopt, n))
        and not issubclass(getattr(autoopt, n), (Exception,))
        and not hasattr(getattr(autoopt, n), "__members__")
    ]


@pytest.mark.parametrize("cls", _public_classes(), ids=lambda c: c.__name__)
def test_public_classes_are_documented(cls):
    doc = inspect.getdoc(cls) or ""
    assert len(doc) > 40, cls.__name__
    # Components and the data-model classes with behaviour carry a runnable example.
    if not dataclasses.is_dataclass(cls) or cls.__name__ in {
        "LoadMetrics",
        "ResourcePool",
        "TuningParameter",
        "AutomationConfig",
        "Decision",
        "DecisionRule",
    }:
        assert "Examples" in doc or ">>>" in doc, cls.__name__


def test_import_is_light():
    code = (
        "import sys, autoopt, autoopt.execution; heavy = [m for m in ('torch', 'optuna', 'matplotlib', "
        "'pandas', 'sklearn', 'statsmodels', 'dask', 'distributed', 'yaml', 'gymnasium', 'joblib') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


def test_py_typed_is_shipped():
    assert (Path(autoopt.__file__).parent / "py.typed").is_file()


def test_no_print_in_library():
    root = Path(autoopt.__file__).parent
    for path in root.rglob("*.py"):
        if path.name in {"cli.py", "__main__.py"}:
            continue
        for line in path.read_text().splitlines():
            assert not line.lstrip().startswith("print("), f"{path}: {line}"
