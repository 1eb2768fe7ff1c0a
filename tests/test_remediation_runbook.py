"""A REMEDIATE decision runs a runbook through AutoRemediation, in the background: the record is filled in
when the run ends, and the outcome then feeds the pattern learner."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

import pytest

from autoopt import (
    AutoRemediation,
    DecisionType,
    RemediationAction,
    create_decision_rule,
    create_intelligent_automation_hub,
    create_load_metrics,
)
from autoopt._clock import ManualClock
from autoopt.workflows import Actions, RunbookError, RunStore, Workflow

T0 = datetime(2026, 3, 1, tzinfo=UTC)

RUNBOOK = Workflow.from_dict({
    "metadata": {"id": "restart-service", "parameters": {"target": {}, "drain_seconds": {"default": 5}}},
    "steps": [
        {"id": "drain", "action_type": "python", "action": "drain",
         "parameters": {"service": "${target}", "seconds": "${drain_seconds}"}, "critical": True},
        {"id": "restart", "action_type": "python", "action": "restart",
         "parameters": {"service": "${target}"}, "dependencies": ["drain"], "critical": True},
    ],
})  # fmt: skip


class Ops:
    def __init__(self, fail_restart: bool = False) -> None:
        self.gate = threading.Event()
        self.calls: list[tuple[str, str]] = []
        self.fail_restart = fail_restart

    def actions(self) -> Actions:
        a = Actions()
        a.register("drain", self.drain)
        a.register("restart", self.restart)
        return a

    def drain(self, service: str, seconds: int) -> int:
        assert self.gate.wait(30)
        self.calls.append(("drain", service))
        return seconds

    def restart(self, service: str) -> str:
        self.calls.append(("restart", service))
        if self.fail_restart:
            raise RuntimeError("restart refused")
        return "restarted"


def test_the_record_comes_back_pending_and_is_filled_in_when_the_run_ends() -> None:
    ops = Ops()
    rem = AutoRemediation()
    store = RunStore("sqlite://")
    rem.register_runbook(RemediationAction.RESTART, RUNBOOK, actions=ops.actions(), store=store)
    assert rem.has_handler(RemediationAction.RESTART)
    seen = []
    rem.add_listener(lambda r: (_ for _ in ()).throw(ValueError("listener bug")))  # isolated
    rem.add_listener(seen.append)
    record = rem.execute_remediation(
        RemediationAction.RESTART, "api", "5xx burst", {"drain_seconds": 2, "x": 1}
    )
    assert record.pending is True
    assert record.run_id is not None
    assert record.success is False
    assert rem.get_remediation_stats()["total_remediations"] == 0  # counted when it ends
    assert not rem.wait_for_runbooks(timeout=0.05)  # still blocked in "drain"
    ops.gate.set()
    assert rem.wait_for_runbooks(timeout=30)
    assert record.pending is False
    assert record.success is True
    assert record.result == f"runbook 'restart-service' run {record.run_id} SUCCEEDED"
    assert record.duration_ms > 0
    assert ops.calls == [("drain", "api"), ("restart", "api")]
    assert seen == [record]
    assert store.load(str(record.run_id))["state"] == "SUCCEEDED"
    assert store.load(str(record.run_id))["params"] == {"target": "api", "drain_seconds": 2}
    stats = rem.get_remediation_stats()
    assert stats["total_remediations"] == 1
    assert stats["successful"] == 1
    assert stats["registered_actions"] == ["restart"]
    assert rem.get_remediation_history() == [record]


def test_a_failed_run_is_a_failed_remediation_with_its_cause() -> None:
    ops = Ops(fail_restart=True)
    ops.gate.set()
    rem = AutoRemediation()
    rem.register_runbook("restart", RUNBOOK, actions=ops.actions(), store="sqlite://")
    record = rem.execute_remediation("restart", "api", "why")
    assert rem.wait_for_runbooks(timeout=30)
    assert record.success is False
    assert record.result is not None
    assert record.result.endswith("FAILED: critical step 'restart' failed: RuntimeError: restart refused")
    assert rem.get_remediation_stats()["failed"] == 1


def test_bad_input_starts_and_records_nothing() -> None:
    rem = AutoRemediation()
    with pytest.raises(ValueError, match=r"actions \['drain', 'restart'\] are not registered"):
        rem.register_runbook("restart", RUNBOOK, actions=Actions(), store="sqlite://")
    assert not rem.has_handler("restart")
    needs = Workflow.from_dict({"metadata": {"id": "n", "parameters": {"region": {}}}, "steps": [
        {"id": "a", "action_type": "python", "action": "drain", "parameters": {"service": "${region}", "seconds": 1}}]})  # fmt: skip
    rem.register_runbook("restart", needs, actions=Ops().actions(), store="sqlite://")
    with pytest.raises(RunbookError, match="run parameter 'region'"):
        rem.execute_remediation("restart", "api", "why")
    assert rem.get_remediation_history() == []
    rem.register_handler("restart", lambda target, params: True)  # replaces the runbook
    assert rem.execute_remediation("restart", "api", "why").pending is False


def test_the_hub_never_blocks_on_the_runbook_and_learns_its_outcome(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock(T0.timestamp())
    ops = Ops()
    hub = create_intelligent_automation_hub(clock=clock)
    hub.remediation.register_runbook(
        RemediationAction.RESTART, RUNBOOK, actions=ops.actions(), store="sqlite://"
    )
    hub.decision_engine.add_rule(
        create_decision_rule(
            "errors",
            lambda c: c["error_rate"] > 0.5,
            DecisionType.REMEDIATE,
            lambda c: {"target": "checkout"},
        )
    )
    out = hub.process_metrics(
        create_load_metrics(cpu_usage=10.0, memory_usage=30.0, error_rate=0.9, timestamp=T0)
    )
    # process_metrics returned while the runbook's first step is still blocked
    assert out["remediation"]["pending"] is True
    assert out["decision"]["executed"] is True
    assert hub.learner.get_learning_stats()["total_observations"] == 0
    with caplog.at_level(logging.INFO, logger="autoopt"):
        ops.gate.set()
        assert hub.remediation.wait_for_runbooks(timeout=30)
    assert ops.calls == [("drain", "checkout"), ("restart", "checkout")]
    assert hub.learner.get_learning_stats()["total_observations"] == 1
    [record] = hub.remediation.get_remediation_history()
    assert record.success is True
    assert record.target == "checkout"


class _LockThatLetsTheRunbookEnd:
    """The hub's lock, but its first use once armed waits (before taking it) for the runbook to end:
    the moment between the hub seeing the record pending and registering it for the listener."""

    def __init__(self, lock: threading.Lock, remediation: AutoRemediation, gate: threading.Event) -> None:
        self.lock, self.remediation, self.gate = lock, remediation, gate
        self.armed = False

    def __enter__(self) -> bool:
        if self.armed:
            self.armed = False
            self.gate.set()
            assert self.remediation.wait_for_runbooks(timeout=30)
        return self.lock.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.lock.__exit__(*exc)


def test_a_runbook_that_ends_as_the_hub_registers_it_is_still_learned_from() -> None:
    clock = ManualClock(T0.timestamp())
    ops = Ops()
    hub = create_intelligent_automation_hub(clock=clock)
    remediation = hub.remediation
    remediation.register_runbook(RemediationAction.RESTART, RUNBOOK, actions=ops.actions(), store="sqlite://")
    hub.decision_engine.add_rule(
        create_decision_rule(
            "errors",
            lambda c: c["error_rate"] > 0.5,
            DecisionType.REMEDIATE,
            lambda c: {"target": "checkout"},
        )
    )
    lock = _LockThatLetsTheRunbookEnd(hub._lock, remediation, ops.gate)
    hub._lock = lock  # type: ignore[assignment]
    execute_remediation = remediation.execute_remediation

    def started(*args: object, **kwargs: object) -> object:
        record = execute_remediation(*args, **kwargs)  # type: ignore[arg-type]
        lock.armed = True  # the runbook ends before the hub next takes its lock
        return record

    remediation.execute_remediation = started  # type: ignore[method-assign]
    hub.process_metrics(create_load_metrics(cpu_usage=10.0, memory_usage=30.0, error_rate=0.9, timestamp=T0))
    assert not lock.armed
    assert ops.calls == [("drain", "checkout"), ("restart", "checkout")]
    # its outcome was learned once, and nothing is left waiting for a runbook that already ended
    assert hub.learner.get_learning_stats()["total_observations"] == 1
    assert hub._runbook_conditions == {}
