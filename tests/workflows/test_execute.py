"""Workflow runs: outputs through references, retries, timeouts, skipped dependents, compensation, cancel,
secrets, fencing and checks before anything runs (the durable kill -9 resume is in test_resume_kill.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from autoopt.execution import InlineExecutor, ProcessExecutor, ThreadExecutor
from autoopt.workflows import (
    Actions,
    FencedError,
    LeaseHeldError,
    RunbookError,
    RunStore,
    cancel,
    execute,
    resume,
)
from tests.workflows._helpers import FakeClock, py, wf


@pytest.fixture
def store() -> RunStore:
    return RunStore("sqlite://")


def test_outputs_flow_through_references_in_dependency_order(store: RunStore) -> None:
    calls: list[str] = []
    actions = Actions()
    actions.register("make", lambda n: calls.append("make") or {"items": list(range(n))})
    actions.register("total", lambda items, scale: calls.append("total") or sum(items) * scale)
    actions.register("say", lambda text: calls.append("say") or text)
    w = wf(
        py("say", "say", ("total",), parameters={"text": "sum=${steps.total.output} of ${n}"}),
        py(
            "total",
            "total",
            ("make",),
            parameters={"items": "${steps.make.output.items}", "scale": "${params.k}"},
        ),
        py("make", "make", parameters={"n": "${n}"}),
        params={"n": {}, "k": {"default": 10}},
    )
    run = execute(w, {"n": 4}, actions=actions, store=store)
    assert run.state == "SUCCEEDED"
    assert run.cause is None
    assert calls == ["make", "total", "say"]
    assert run.outputs == {"make": {"items": [0, 1, 2, 3]}, "total": 60, "say": "sum=60 of 4"}
    assert [run.steps[s].completed_order for s in ("make", "total", "say")] == [1, 2, 3]
    frame = run.to_frame()
    assert list(frame.index) == ["make", "total", "say"]
    assert list(frame.columns) == ["state", "attempts", "started", "ended", "duration", "error",
                                   "completed_order", "compensation", "compensation_error"]  # fmt: skip
    assert (frame["state"] == "SUCCEEDED").all()
    assert (frame["attempts"] == 1).all()
    d = run.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["steps"]["total"]["idempotency_key"] == f"{run.run_id}/total"
    # what the store holds is what came back
    assert store.load(run.run_id)["state"] == "SUCCEEDED"


def test_retries_count_retries_with_backoff_and_one_idempotency_key(store: RunStore) -> None:
    clock = FakeClock()
    keys: list[str] = []

    def flaky(idempotency_key: str) -> str:
        keys.append(idempotency_key)
        if len(keys) < 3:
            raise ConnectionError(f"try {len(keys)}")
        return "ok"

    actions = Actions()
    actions.register("flaky", flaky)
    run = execute(wf(py("a", "flaky", retry_count=2)), actions=actions, store=store, clock=clock,
                  sleep=clock.sleep, retry_delay=0.5, retry_multiplier=3.0)  # fmt: skip
    assert run.state == "SUCCEEDED"
    assert run.steps["a"].attempts == 3
    assert run.steps["a"].output == "ok"
    assert keys == [f"{run.run_id}/a"] * 3
    # the waits before retry 1 and 2: core backoff_delay(k, 0.5, 3) = 0.5, 1.5 (slept in poll-sized slices)
    assert sum(clock.sleeps) == pytest.approx(0.5 + 1.5)
    events = [(e["event"], e["attempt"]) for e in store.events(run.run_id) if e["step_id"] == "a"]
    assert events == [("started", 1), ("failed", 1), ("pending", None), ("started", 2), ("failed", 2),
                      ("pending", None), ("started", 3), ("succeeded", 3)]  # fmt: skip


def test_retry_count_zero_means_one_attempt_and_the_error_is_recorded(store: RunStore) -> None:
    actions = Actions()
    actions.register("bad", lambda: 1 / 0)
    run = execute(wf(py("a", "bad", retry_count=1)), actions=actions, store=store, retry_delay=0.0)
    assert run.steps["a"].state == "FAILED"
    assert run.steps["a"].attempts == 2
    assert run.steps["a"].error == "ZeroDivisionError: division by zero"
    assert run.state == "SUCCEEDED"  # not critical: recorded, and the run goes on
    once = execute(wf(py("a", "bad", retry_count=0)), actions=actions, store=store, retry_delay=0.0)
    assert once.steps["a"].state == "FAILED"
    assert once.steps["a"].attempts == 1  # retry_count 0: one attempt, no retry


def test_non_critical_failure_skips_dependents_with_the_reason(store: RunStore) -> None:
    actions = Actions()
    actions.register("ok", lambda: 1)
    actions.register("bad", lambda: (_ for _ in ()).throw(RuntimeError("disk full")))
    w = wf(py("a", "bad"), py("b", "ok", ("a",)), py("c", "ok", ("b",)), py("d", "ok"))
    run = execute(w, actions=actions, store=store)
    assert run.state == "SUCCEEDED"
    assert {k: s.state for k, s in run.steps.items()} == {
        "a": "FAILED", "b": "SKIPPED", "c": "SKIPPED", "d": "SUCCEEDED"}  # fmt: skip
    assert run.steps["a"].error == "RuntimeError: disk full"
    assert run.steps["b"].error == "dependency 'a' failed"
    assert run.steps["c"].error == "dependency 'b' skipped"
    assert run.steps["b"].attempts == 0


def test_critical_failure_compensates_in_reverse_completion_order(store: RunStore) -> None:
    undone: list[tuple[str, Any, str]] = []
    actions = Actions()
    for name in ("one", "two", "three"):
        actions.register(name, lambda name=name: {"did": name})
        actions.register(f"undo_{name}", lambda output, idempotency_key, name=name: undone.append(
            (name, output, idempotency_key)))  # fmt: skip
    actions.register("undo_broken", lambda output: (_ for _ in ()).throw(OSError("undo failed")))
    actions.register("boom", lambda: (_ for _ in ()).throw(ValueError("bad migration")))
    actions.register("later", lambda: "never")
    # completion order: three (no deps) is listed last but "one" completes first (file order among ready)
    w = wf(
        py("one", "one", compensate="undo_one"),
        py("two", "two", ("one",), compensate="undo_broken"),
        py("three", "three", ("two",), compensate="undo_three"),
        py("plain", "one", ("one",)),
        py("boom", "boom", ("three",), critical=True),
        py("after", "later", ("boom",)),
    )
    run = execute(w, actions=actions, store=store)
    assert run.state == "FAILED"
    assert run.cause == "critical step 'boom' failed: ValueError: bad migration"
    order = sorted((s.completed_order, k) for k, s in run.steps.items() if s.completed_order)
    completed = [k for _, k in order]
    assert completed == ["one", "two", "plain", "three"]
    # reverse completion order, skipping the step without a compensation; the failed undo is recorded
    assert [u[0] for u in undone] == ["three", "one"]
    assert undone[0][1:] == ({"did": "three"}, f"{run.run_id}/three/compensate")
    assert run.steps["two"].compensation == "FAILED"
    assert run.steps["two"].compensation_error == "OSError: undo failed"
    assert run.steps["one"].compensation == run.steps["three"].compensation == "SUCCEEDED"
    assert run.steps["plain"].compensation is None
    assert run.steps["after"].state == "SKIPPED"
    comp_events = [e["step_id"] for e in store.events(run.run_id) if e["event"] == "compensation_running"]
    assert comp_events == ["three", "two", "one"]


def test_thread_timeout_discards_the_late_result(store: RunStore) -> None:
    release = threading.Event()
    actions = Actions()
    actions.register("slow", lambda: release.wait(10) and "late")
    actions.register("ok", lambda: "fine")
    with ThreadExecutor(2) as ex:
        t0 = time.monotonic()
        run = execute(wf(py("a", "slow", timeout=0.2), py("b", "ok", ("a",)), py("c", "ok")),
                      actions=actions, store=store, executor=ex)  # fmt: skip
        took = time.monotonic() - t0
        release.set()
    assert run.steps["a"].state == "TIMED_OUT"
    assert run.steps["a"].output is None
    assert "0.2 s timeout" in (run.steps["a"].error or "")
    assert run.steps["b"].state == "SKIPPED"
    assert run.steps["b"].error == "dependency 'a' timed_out"
    assert run.steps["c"].state == "SUCCEEDED"
    assert took < 5  # the driver did not wait for the 10 s call


def test_inline_step_past_its_timeout_is_timed_out(store: RunStore) -> None:
    actions = Actions()
    actions.register("slow", lambda: time.sleep(0.05) or "x")
    run = execute(wf(py("a", "slow", timeout=0.01)), actions=actions, store=store, executor=InlineExecutor())
    assert run.steps["a"].state == "TIMED_OUT"
    assert "late result was discarded" in (run.steps["a"].error or "")


def test_async_step_is_cancelled_at_its_timeout(store: RunStore) -> None:
    seen: list[str] = []

    async def slow() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        return "late"

    actions = Actions()
    actions.register("slow", slow)
    run = execute(wf(py("a", "slow", timeout=0.1)), actions=actions, store=store)
    assert run.steps["a"].state == "TIMED_OUT"
    assert seen == ["cancelled"]


@pytest.mark.slow
def test_process_timeout_kills_the_step(store: RunStore, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"

    def stuck(path: str) -> None:
        Path(path).write_text(str(os.getpid()))
        time.sleep(60)

    actions = Actions()
    actions.register("stuck", stuck)
    actions.register("quick", lambda: os.getpid())
    ex = ProcessExecutor(2)
    ex.submit(os.getpid).result()  # the pool's start-up is not the step's time
    run = execute(wf(py("a", "stuck", timeout=2.0, parameters={"path": str(pidfile)}), py("b", "quick")),
                  actions=actions, store=store, executor=ex)  # fmt: skip
    assert run.steps["a"].state == "TIMED_OUT"
    assert "killed" in (run.steps["a"].error or "")
    assert run.steps["b"].state == "SUCCEEDED"
    assert run.steps["b"].output != os.getpid()
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the timed-out step's process {pid} is still running")


def test_cancel_from_another_thread(store: RunStore) -> None:
    started = threading.Event()
    release = threading.Event()
    actions = Actions()
    actions.register("wait", lambda: started.set() or release.wait(10))
    actions.register("ok", lambda: 1)
    w = wf(py("a", "wait"), py("b", "ok", ("a",)))
    box: dict[str, Any] = {}
    with ThreadExecutor(2) as ex:
        t = threading.Thread(target=lambda: box.update(run=execute(
            w, actions=actions, store=store, executor=ex, run_id="r1", poll_interval=0.02)))  # fmt: skip
        t.start()
        assert started.wait(5)
        cancel("r1", store=store)
        t.join(10)
        release.set()
    run = box["run"]
    assert run.state == "CANCELLED"
    assert run.steps["a"].state == "CANCELLED"
    assert run.steps["b"].state == "SKIPPED"
    assert run.steps["b"].error == "not run: the run was cancelled"


def test_secrets_are_redacted_in_store_logs_and_to_dict(
    store: RunStore, caplog: pytest.LogCaptureFixture
) -> None:
    actions = Actions()
    actions.register("login", lambda token: {"header": f"Bearer {token}"})
    actions.register("leak", lambda token: (_ for _ in ()).throw(PermissionError(f"token {token} refused")))
    w = wf(py("a", "login", parameters={"token": "${token}"}),
           py("b", "leak", parameters={"token": "${token}"}), params={"token": {"secret": True}})  # fmt: skip
    with caplog.at_level(logging.DEBUG, logger="autoopt"):
        run = execute(w, {"token": "s3cr3t-value"}, actions=actions, store=store)
    assert run.params == {"token": "***"}
    assert run.steps["a"].output == {"header": "Bearer ***"}
    assert run.steps["b"].error == "PermissionError: token *** refused"
    dumped = json.dumps(run.to_dict()) + json.dumps(store.load(run.run_id), default=str)
    dumped += json.dumps(store.events(run.run_id), default=str) + caplog.text
    assert "s3cr3t" not in dumped
    assert "***" in caplog.text


def test_everything_is_checked_before_anything_runs(store: RunStore) -> None:
    actions = Actions()
    actions.register("ok", lambda: 1)
    with pytest.raises(ValueError, match=r"actions \['missing'\] are not registered"):
        execute(wf(py("a", "ok"), py("b", "missing")), actions=actions, store=store)
    http = {"id": "h", "action_type": "http", "action": "https://evil.example.com/x"}
    with pytest.raises(RunbookError, match=r"step 'h': field 'action' calls host 'evil\.example\.com'"):
        execute(wf(py("a", "ok"), http), actions=actions, store=store)
    cmd = {"id": "c", "action_type": "command", "action": ["ls"]}
    with pytest.raises(RunbookError, match=r"steps \['c'\] run commands, which are off"):
        execute(wf(cmd), actions=actions, store=store)
    with pytest.raises(RunbookError, match="run parameter 'x'"):
        execute(wf(py("a", "ok", parameters={"v": "${x}"})), actions=actions, store=store)
    with pytest.raises(TypeError, match="argument 'actions'"):
        execute(wf(py("a", "ok")), actions={"ok": 1}, store=store)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="argument 'lease_seconds'"):
        execute(wf(py("a", "ok")), actions=actions, store=store, lease_seconds=float("nan"))
    assert store.run_ids() == []


def test_non_json_output_fails_the_step_with_the_reason(store: RunStore) -> None:
    actions = Actions()
    actions.register("obj", lambda: object())
    run = execute(wf(py("a", "obj")), actions=actions, store=store)
    assert run.steps["a"].state == "FAILED"
    assert "not JSON-serialisable" in (run.steps["a"].error or "")


def test_a_taken_over_lease_fences_the_old_driver(store: RunStore) -> None:
    w = wf(py("a", "ok"))
    lease = store.create_run("r", workflow="t", digest=w.digest(), spec=w.to_dict(), params={},
                             steps={"a": "r/a"}, lease_seconds=10.0, now=100.0)  # fmt: skip
    with pytest.raises(LeaseHeldError, match="held by process"):
        store.acquire("r", lease_seconds=10.0, now=105.0)  # this (live) process holds it
    newer = store.acquire("r", lease_seconds=10.0, now=111.0)  # expired
    assert newer.epoch == lease.epoch + 1
    with pytest.raises(FencedError, match="epoch 1"):
        store.step_started(lease, "a", 1, now=112.0)
    with pytest.raises(FencedError):
        store.renew(lease, lease_seconds=10.0, now=112.0)
    assert store.load("r")["steps"]["a"]["state"] == "PENDING"
    store.step_started(newer, "a", 1, now=113.0)
    assert store.step_ended(newer, "a", 1, "SUCCEEDED", now=114.0, output="1", seq=1)
    # a repeated (late) completion of the same attempt records nothing
    assert not store.step_ended(newer, "a", 1, "SUCCEEDED", now=115.0, output="2", seq=2)
    assert [e["event"] for e in store.events("r") if e["step_id"] == "a"] == ["started", "succeeded"]


def test_resume_checks_the_workflow_actions_and_secrets(tmp_path: Path) -> None:
    store = RunStore(str(tmp_path / "runs.db"))
    w = wf(py("a", "ok", parameters={"t": "${token}"}), params={"token": {"secret": True}})
    lease = store.create_run("r", workflow="t", digest=w.digest(), spec=w.to_dict(), params={"token": "***"},
                             steps={"a": "r/a"}, lease_seconds=0.001, now=time.time() - 10)  # fmt: skip
    assert lease.epoch == 1
    actions = Actions()
    with pytest.raises(ValueError, match="SHA-256"):
        resume("r", actions=actions, store=store, workflow=wf(py("a", "other")))
    with pytest.raises(ValueError, match=r"actions \['ok'\] are not registered.*before resuming"):
        resume("r", actions=actions, store=store)
    actions.register("ok", lambda t: len(t))
    with pytest.raises(ValueError, match=r"pass the secret parameters \['token'\] again"):
        resume("r", actions=actions, store=store)
    with pytest.raises(ValueError, match="not a secret parameter"):
        resume("r", actions=actions, store=store, params={"other": 1})
    run = resume("r", actions=actions, store=store, workflow=w, params={"token": "abcd"})
    assert run.state == "SUCCEEDED"
    assert run.steps["a"].output == 4
    assert run.epoch == 2
    assert resume("r", actions=Actions(), store=store).state == "SUCCEEDED"  # ended: returned as is
    with pytest.raises(KeyError, match="'nope'"):
        resume("nope", actions=actions, store=store)


def test_schema_version_is_checked(tmp_path: Path) -> None:
    import sqlalchemy as sa

    path = tmp_path / "runs.db"
    RunStore(str(path))
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE autoopt_wf_meta SET value = '99' WHERE key = 'schema_version'"))
    with pytest.raises(RuntimeError, match="schema version 99"):
        RunStore(str(path))


def test_an_actions_own_timeout_error_is_a_failure_not_a_step_timeout(store: RunStore) -> None:
    actions = Actions()
    actions.register("net", lambda: (_ for _ in ()).throw(TimeoutError("socket timed out")))
    run = execute(wf(py("a", "net")), actions=actions, store=store)
    assert run.steps["a"].state == "FAILED"
    assert run.steps["a"].error == "TimeoutError: socket timed out"
