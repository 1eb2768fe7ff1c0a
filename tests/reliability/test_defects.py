"""Regression tests for the twelve defects of the reliability sweep (issue 10), one section each.

Each test reproduces what the adversarial probes observed on main and asserts the fixed behaviour.
"""

from __future__ import annotations

import asyncio
import gc
import math
import subprocess
import sys
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autoopt import (
    AutomatedProvider,
    AutomationConfig,
    AutoRemediation,
    DecisionEngine,
    DecisionType,
    Forecaster,
    IntelligentScheduler,
    LoadManager,
    LoadMetrics,
    PatternLearner,
    PerformancePredictor,
    PredictionType,
    RemediationAction,
    TaskState,
    create_decision_rule,
    create_intelligent_automation_hub,
    create_load_metrics,
)
from autoopt._clock import ManualClock

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def sample(cpu: float, seconds: float) -> LoadMetrics:
    return create_load_metrics(cpu_usage=cpu, memory_usage=10.0, request_rate=100.0, timestamp=at(seconds))


# --------------------------------------------------------------------------- 1. hub._pending


def test_1_pending_forecasts_are_bounded_by_time_not_by_call_rate() -> None:
    """Many calls per second: the forecasts awaiting scoring are thinned to one per series per second."""
    clock = ManualClock(T0.timestamp())
    hub = create_intelligent_automation_hub(clock=clock)
    n = 6000
    for i in range(n):  # 6,000 samples 10 ms apart: two minutes of a 100 Hz monitor
        hub.process_metrics(sample(50.0 + i % 7, i * 0.01))
    waiting = hub.get_automation_summary()["hub"]["predictions_awaiting_validation"]
    # at most one per series per second of target time, over 60 s of targets, for 2 series
    assert waiting <= 2 * (60 + 1)
    assert hub.get_automation_summary()["hub"]["predictions_thinned"] > n


def test_1_pending_drains_after_a_far_future_sample_with_the_checks_off() -> None:
    clock = ManualClock(T0.timestamp())
    hub = create_intelligent_automation_hub(clock=clock, max_clock_skew_s=None, max_backward_step_s=None)
    for i in range(20):
        hub.process_metrics(sample(50.0, 60.0 * i))
    hub.process_metrics(create_load_metrics(50.0, 10.0, timestamp=datetime(2100, 1, 1, tzinfo=UTC)))
    for i in range(20, 3000):
        hub.process_metrics(sample(50.0, 60.0 * i))
    assert hub.get_automation_summary()["hub"]["predictions_awaiting_validation"] <= 2 * (1800 + 1)


# ------------------------------------------------------------------ 2. far-future timestamps


def test_2_far_future_sample_is_rejected_and_state_kept() -> None:
    clock = ManualClock(T0.timestamp() + 600)
    lm = LoadManager(clock=clock)
    for i in range(10):
        lm.record_metrics(sample(40.0 + i, 60.0 * i))
    with pytest.raises(ValueError, match=r"LoadMetrics\.timestamp.*ahead of the clock"):
        lm.record_metrics(create_load_metrics(99.0, 10.0, timestamp=datetime(2100, 1, 1, tzinfo=UTC)))
    lm.record_metrics(sample(60.0, 600.0))
    avg = lm.get_average_metrics(300)
    assert avg is not None
    assert avg.cpu_usage == pytest.approx(np.mean([45.0, 46.0, 47.0, 48.0, 49.0, 60.0]))
    assert lm.get_load_stats()["total_samples"] == 11


def test_2_predictor_rejects_1e300_and_far_future_and_keeps_forecasting() -> None:
    clock = ManualClock(T0.timestamp())
    p = PerformancePredictor(clock=clock)
    for i in range(30):
        p.record_observation("load", 50.0 + i, timestamp=T0.timestamp() - 60.0 * (30 - i))
    for bad in (1e300, datetime(2100, 1, 1, tzinfo=UTC), -1e300):
        with pytest.raises(ValueError, match="timestamp"):
            p.record_observation("load", 1.0, timestamp=bad)
    pred = p.predict("load")
    assert pred is not None
    assert pred.target_time == T0 + timedelta(minutes=30 - 1)
    assert p.observation_count("load") == 30


def test_2_forward_gaps_stay_legal_and_small_backward_steps_are_clamped_and_counted() -> None:
    clock = ManualClock(T0.timestamp())
    lm = LoadManager(clock=clock)
    p = PerformancePredictor(clock=clock)
    lm.record_metrics(sample(40.0, 0.0))
    p.record_observation("load", 40.0, timestamp=at(0.0))
    gap = 3.5 * 86400  # the NASA trace's longest gap
    clock.set(T0.timestamp() + gap)
    lm.record_metrics(sample(50.0, gap))
    p.record_observation("load", 50.0, timestamp=at(gap))
    lm.record_metrics(sample(55.0, gap - 2.0))  # two seconds late: concurrent recorders racing
    p.record_observation("load", 55.0, timestamp=at(gap - 2.0))
    assert lm.get_load_stats()["clamped_timestamps"] == 1
    assert p.get_stats()["clamped_timestamps"] == 1
    with pytest.raises(ValueError, match="before the latest"):
        lm.record_metrics(sample(55.0, gap - 3600.0))
    with pytest.raises(ValueError, match="before the latest"):
        p.record_observation("load", 55.0, timestamp=at(gap - 3600.0))
    assert lm.get_load_stats()["total_samples"] == 3
    assert p.observation_count("load") == 3


# ------------------------------------------------------------------------ 3. caps on names


def test_3_predictor_caps_named_series_with_an_lru_and_sizes_rings_lazily() -> None:
    p = PerformancePredictor(max_series=100)
    p.record_observation("latency", 5.0)  # the default series
    for i in range(250):
        p.record_observation("latency", 1.0, series=f"model-{i}")
    stats = p.get_stats()
    assert stats["series_evicted"] == 150
    assert len(stats["series"]) == 101
    assert "latency" in stats["series"]  # the default series is never evicted
    assert p.observation_count("latency", series="model-0") == 0
    assert p.observation_count("latency", series="model-249") == 1
    # a series holding one observation does not hold a 10,000-row ring
    assert p._series[(PredictionType.LATENCY, "model-249")].history.nbytes < 1024


def test_3_learner_caps_actions_per_pattern() -> None:
    learner = PatternLearner(max_actions_per_pattern=50)
    for i in range(300):
        learner.record_observation({"load": "high"}, f"action-{i}", i % 2 == 0)
    stats = learner.get_learning_stats()
    assert stats["pattern_action_pairs"] == 50
    assert stats["evicted_actions"] == 250


# --------------------------------------------------------------- 4. process_metrics part-way


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    __repr__ = __str__


def test_4_unprintable_handler_result_is_recorded_not_raised() -> None:
    rem = AutoRemediation()
    rem.register_handler(RemediationAction.RESTART, lambda target, params: _Unprintable())
    record = rem.execute_remediation(RemediationAction.RESTART, "api", "test")
    assert record.success is True
    assert "RuntimeError" in (record.result or "")
    assert rem.get_remediation_stats()["total_remediations"] == 1


def test_4_process_metrics_never_stops_part_way() -> None:
    clock = ManualClock(T0.timestamp())
    hub = create_intelligent_automation_hub(clock=clock)
    hub.remediation.register_handler(RemediationAction.RESTART, lambda target, params: _Unprintable())
    hub.decision_engine.add_rule(
        create_decision_rule("r", lambda c: True, DecisionType.REMEDIATE, lambda c: {})
    )
    out = hub.process_metrics(sample(50.0, 0.0))
    assert out["remediation"]["success"] is True
    assert hub.get_automation_summary()["hub"]["metrics_processed"] == 1


def test_4_a_failing_stage_after_the_commit_point_is_isolated_and_counted() -> None:
    class Broken(PerformancePredictor):
        def predict(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("model server down")

    clock = ManualClock(T0.timestamp())
    hub = create_intelligent_automation_hub(clock=clock, predictor=Broken(clock=clock))
    for i in range(12):
        out = hub.process_metrics(sample(50.0, 60.0 * i))
    assert out["stage_errors"] == {"prediction": "RuntimeError: model server down"}
    summary = hub.get_automation_summary()["hub"]
    assert summary["metrics_processed"] == 12
    assert summary["stage_errors"]["prediction"] == 12


# ---------------------------------------------------------------- 5. add_rule revalidates


def test_5_add_rule_revalidates_a_mutated_rule_and_leaves_nothing_half_registered() -> None:
    engine = DecisionEngine(clock=ManualClock(0.0))
    engine.add_rule(create_decision_rule("a", lambda c: False, DecisionType.ALERT, lambda c: {}))
    rule = create_decision_rule("b", lambda c: True, DecisionType.SCALE_UP, lambda c: {}, priority=1)
    rule.priority = "10"  # type: ignore[assignment]
    with pytest.raises(TypeError, match=r"DecisionRule\.priority"):
        engine.add_rule(rule)
    assert engine.get_rule(rule.rule_id) is None
    assert len(engine.list_rules()) == 1
    rule.priority = 10
    engine.add_rule(rule)  # no "already exists"
    decision = engine.evaluate({})
    assert decision is not None
    assert decision.rule_id == rule.rule_id


# ------------------------------------------------------------ 6. seasonal refit never sticks


def test_6_a_refit_that_raises_anything_falls_back_and_is_retried_later() -> None:
    p = PerformancePredictor(forecaster=Forecaster(trend=1))  # type: ignore[arg-type]
    t0 = T0.timestamp()
    n = 3 * 288
    for i in range(n):
        p.record_observation("load", 50 + 10 * math.sin(2 * math.pi * i / 288), timestamp=t0 + 300 * i)
    pred = p.predict("load")
    assert pred is not None
    assert pred.model_version == "sliding-ols/1"
    assert p.get_stats()["seasonal_fit_errors"] == 1
    assert "trend" in p.get_stats()["last_seasonal_fit_error"]
    p.forecaster = Forecaster()
    for i in range(n, n + 12):  # an hour later the refit is tried again, and succeeds
        p.record_observation("load", 50 + 10 * math.sin(2 * math.pi * i / 288), timestamp=t0 + 300 * i)
    pred = p.predict("load")
    assert pred is not None
    assert pred.model_version == "seasonal-ar-conformal/1"


# ------------------------------------------------------------------ 7. async callables


async def _async_fn(*args: Any) -> bool:
    return True


def test_7_scheduler_awaits_coroutine_functions_and_awaitable_results() -> None:
    """Issue 15 made async tasks first-class: both forms are awaited, and the value is the result."""
    sched = IntelligentScheduler(clock=ManualClock(0.0))
    direct = sched.schedule_task("async", _async_fn)
    sneaky = sched.schedule_task("sneaky", lambda: _async_fn(), max_retries=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert sched.run_pending() == 2
        gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)]
    for task in (direct, sneaky):
        assert task.state is TaskState.COMPLETED
        assert task.result is True


def test_7_remediation_rejects_coroutine_functions_and_fails_awaitable_results() -> None:
    rem = AutoRemediation()
    with pytest.raises(TypeError, match=r"handler.*coroutine function"):
        rem.register_handler(RemediationAction.RESTART, _async_fn)
    rem.register_handler(RemediationAction.RESTART, lambda target, params: _async_fn())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        record = rem.execute_remediation(RemediationAction.RESTART, "api", "test")
        gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)]
    assert record.success is False
    assert "awaitable" in (record.result or "")


# ------------------------------------------------------------------ 8. AutomatedProvider


def test_8_automated_provider_validates_name_and_fn() -> None:
    hub = create_intelligent_automation_hub(clock=ManualClock(0.0))
    with pytest.raises(ValueError, match="'name'"):
        AutomatedProvider(_async_fn, hub, name="")
    with pytest.raises(TypeError, match="'name'"):
        AutomatedProvider(_async_fn, hub, name=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"'fn'.*async"):
        AutomatedProvider(lambda x: x, hub, name="sync")


def test_8_a_failing_report_never_loses_the_model_result() -> None:
    hub = create_intelligent_automation_hub(clock=ManualClock(0.0))
    provider = AutomatedProvider(_async_fn, hub, name="m")
    hub.config.prediction_enabled = True

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("predictor full")

    hub.predictor.record_observation = broken  # type: ignore[method-assign]
    hub.predictor.record_observations = broken  # type: ignore[method-assign]  # the provider's batch form
    assert asyncio.run(provider()) is True
    stats = provider.get_stats()
    assert stats["calls"] == 1
    assert stats["report_errors"] == 1


# -------------------------------------------------------------------- 9. obscure errors


@pytest.mark.parametrize(
    ("call", "exc", "pattern"),
    [
        (lambda: create_load_metrics(10**400, 1.0), ValueError, r"LoadMetrics\.cpu_usage.*too large"),
        (
            lambda: PerformancePredictor().record_observation("load", 1.0, timestamp=10**400),
            ValueError,
            "timestamp",
        ),
        (lambda: DecisionEngine().get_rule(["x"]), TypeError, "'rule_id' must be a str"),  # type: ignore[arg-type]
        (lambda: PatternLearner().record_observation(_nested(200), "a", True), ValueError, "nested"),
        (lambda: _predictor_with_data().predict("load", horizon_minutes=1e300), ValueError, "horizon_minutes"),
        (lambda: DecisionEngine(clock=5), TypeError, "'clock'"),  # type: ignore[arg-type]
        (lambda: PerformancePredictor(clock=5), TypeError, "'clock'"),  # type: ignore[arg-type]
        (
            lambda: create_decision_rule("r", lambda c: True, "alert", lambda c: {}, description=None),  # type: ignore[arg-type]
            TypeError,
            "description",
        ),
    ],
    ids=["huge-int", "huge-int-time", "unhashable-id", "deep-nesting", "huge-horizon", "engine-clock",
         "predictor-clock", "description-none"],
)  # fmt: skip
def test_9_clear_errors(call: Any, exc: type[Exception], pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        call()


def _nested(depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        out = {"k": out}
    return out


def _predictor_with_data() -> PerformancePredictor:
    p = PerformancePredictor()
    for i in range(20):
        p.record_observation("load", float(i))
    return p


def test_9_a_huge_limit_means_all() -> None:
    lm = LoadManager()
    lm.record_metrics(create_load_metrics(10.0, 10.0))
    engine = DecisionEngine()
    learner = PatternLearner()
    learner.record_observation({"a": 1}, "x", True)
    assert len(lm.get_metrics_history(limit=10**30)) == 1
    assert engine.get_decision_history(limit=10**30) == []
    assert len(learner.get_recent_observations(limit=10**30)) == 1
    assert PerformancePredictor().get_predictions(limit=10**30) == []
    assert AutoRemediation().get_remediation_history(limit=10**30) == []
    assert IntelligentScheduler().list_tasks(limit=10**30) == []


# ---------------------------------------------------------------------------- 10. ids


def test_10_one_rule_for_unknown_and_malformed_ids() -> None:
    from autoopt import UnknownIdError

    engine = DecisionEngine()
    assert engine.get_rule("nope") is None  # seed: Optional -> None
    assert engine.remove_rule("nope") is False  # seed: bool -> False
    assert engine.record_feedback("nope", "x", 1.0) is None
    with pytest.raises(UnknownIdError, match="nope"):
        engine.set_rule_enabled("nope", True)  # outside the seed: UnknownIdError
    assert issubclass(UnknownIdError, KeyError)
    for bad in (None, 5, ["x"]):
        with pytest.raises(TypeError, match="rule_id"):
            engine.get_rule(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="decision_id"):
            engine.record_feedback(bad, "x", 1.0)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- 11. CLI


@pytest.mark.parametrize(
    "args",
    [["--days", "0"], ["--days", "inf"], ["--days", "nan"], ["--days", "100"], ["--seed", "-5"]],
)
def test_11_bad_demo_arguments_are_one_line_argparse_errors(tmp_path: Path, args: list[str]) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "autoopt", "demo", "-q", "--no-plot", "-o", str(out), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "error:" in lines[0]
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_11_output_path_that_is_a_file_and_verbose_after_the_subcommand(tmp_path: Path) -> None:
    from autoopt.cli import _parser

    existing = tmp_path / "file.txt"
    existing.write_text("x")
    proc = subprocess.run(
        [sys.executable, "-m", "autoopt", "demo", "-q", "--no-plot", "-o", str(existing)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert len([line for line in proc.stderr.splitlines() if line.strip()]) == 1
    args = _parser().parse_args(["demo", "-v", "-v"])
    assert args.verbose == 2
    assert _parser().parse_args(["-v", "demo", "-v"]).verbose == 2


# ------------------------------------------------------------------------ 12. thresholds


def test_12_moderate_and_low_thresholds_derive_from_the_given_ones() -> None:
    hub = create_intelligent_automation_hub(load_threshold_critical=0.5, load_threshold_high=0.3)
    cfg = hub.config
    assert cfg.load_threshold_moderate == pytest.approx(0.2)
    assert cfg.load_threshold_low == pytest.approx(0.1)
    defaults = AutomationConfig()
    assert (defaults.load_threshold_moderate, defaults.load_threshold_low) == (0.5, 0.25)
    # an explicit value is kept, and still checked
    assert AutomationConfig(load_threshold_high=0.3, load_threshold_moderate=0.25).load_threshold_low == 0.125
    with pytest.raises(ValueError, match="load_threshold_moderate"):
        AutomationConfig(load_threshold_high=0.3, load_threshold_moderate=0.4)
    # a derived threshold follows later assignments; an explicit one does not move
    cfg.load_threshold_high = 0.45
    assert cfg.load_threshold_moderate == pytest.approx(0.3)
