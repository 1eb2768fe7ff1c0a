"""Regressions in the workflow engine and its store: redaction inside values, resume reading the run under
its lease, lease renewal and one-at-a-time compensations, interrupts, retry policy, parameters stored as
JSON, the owner token after a fork, and the completion numbers."""

from __future__ import annotations

import inspect
import json
import os
import threading
import time
from typing import Any

import pytest

from autoopt.core.owner import owner_token
from autoopt.execution import ThreadExecutor
from autoopt.workflows import DEFAULT_STORE, Actions, RunStore, Workflow, execute, resume
from autoopt.workflows._record import redact
from tests.workflows._helpers import FakeClock, py, wf


@pytest.fixture
def store() -> RunStore:
    return RunStore("sqlite://")


def raw_texts(store: RunStore, run_id: str) -> str:
    """Everything the store holds about the run, as text (what a reader of the database sees)."""
    row = store.load(run_id)
    steps = [(r["output"], r["error"], r["comp_error"]) for r in row["steps"].values()]
    events = [e["detail"] for e in store.events(run_id)]
    return json.dumps([row["params"], row["cause"], steps, events], ensure_ascii=False)


# ---------------------------------------------------------------------- 1. redaction


@pytest.mark.parametrize("secret", ["pässwörd", 'ab"c', "tab\there", "1"])
def test_secrets_are_redacted_inside_the_output_value_never_in_its_json(store: RunStore, secret: str) -> None:
    actions = Actions()
    actions.register("echo", lambda t: {"got": t, "n": 12, "also": [f"x-{t}-y"], t: "as a key"})
    w = wf(py("a", "echo", parameters={"t": "${params.tok}"}), params={"tok": {"secret": True}})
    run = execute(w, {"tok": secret}, actions=actions, store=store, run_id="r")
    assert run.state == "SUCCEEDED"
    assert run.steps["a"].output == {"got": "***", "n": 12, "also": ["x-***-y"], "***": "as a key"}
    if secret != "1":
        assert secret not in raw_texts(store, "r")
    # the stored run loads again, and a resumed (ended) run comes back as it is
    assert resume("r", actions=actions, store=store).steps["a"].output == run.steps["a"].output


def test_secrets_are_redacted_from_error_messages(store: RunStore) -> None:
    def fail(t: str) -> None:
        raise ValueError(f"login {t} refused")

    actions = Actions()
    actions.register("fail", fail)
    w = wf(py("a", "fail", parameters={"t": "${tok}"}, critical=True), params={"tok": {"secret": True}})
    run = execute(w, {"tok": 'pä"s'}, actions=actions, store=store, run_id="r")
    assert run.steps["a"].error == "ValueError: login *** refused"
    assert run.cause == "critical step 'a' failed: ValueError: login *** refused"
    assert 'pä"s' not in raw_texts(store, "r")


def test_redact_replaces_the_longest_secret_first_and_keeps_other_values() -> None:
    assert redact("abcd and ab", ["ab", "abcd"]) == "*** and ***"
    assert redact({"k": ("ab", 1.5, None, True)}, ["ab"]) == {"k": ["***", 1.5, None, True]}
    assert redact({"n": 1234, "m": 12}, ["1234"]) == {"n": "***", "m": 12}
    assert redact("nothing", []) == "nothing"


# ---------------------------------------------------------------------- 2. resume under the lease


def test_resume_reads_the_run_again_once_it_holds_the_lease(store: RunStore) -> None:
    calls: list[int] = []
    actions = Actions()
    actions.register("f", lambda: calls.append(1) or 7)
    w = wf(py("a", "f"))
    old = store.create_run("r", workflow="t", digest=w.digest(), spec=w.to_dict(), params={},
                           steps={"a": "r/a"}, lease_seconds=1.0, now=0.0)  # fmt: skip
    store.step_started(old, "a", 1, now=0.1)
    acquire = store.acquire

    def late_acquire(run_id: str, **kw: Any) -> Any:
        # the old driver (its lease expired) records the step's success after resume() first read the run
        assert store.step_ended(old, "a", 1, "SUCCEEDED", now=0.5, output="7", seq=1)
        return acquire(run_id, **kw)

    store.acquire = late_acquire  # type: ignore[method-assign]
    run = resume("r", actions=actions, store=store, clock=lambda: 100.0)
    assert calls == []  # the step that succeeded is not run again
    assert run.state == "SUCCEEDED"
    assert (run.steps["a"].state, run.steps["a"].attempts, run.steps["a"].output) == ("SUCCEEDED", 1, 7)
    assert "interrupted" not in [e["event"] for e in store.events("r")]


def test_resume_of_a_run_that_ended_meanwhile_returns_it_and_releases_the_lease(store: RunStore) -> None:
    actions = Actions()
    actions.register("f", lambda: 7)
    w = wf(py("a", "f"))
    old = store.create_run("r", workflow="t", digest=w.digest(), spec=w.to_dict(), params={},
                           steps={"a": "r/a"}, lease_seconds=1.0, now=0.0)  # fmt: skip
    acquire = store.acquire

    def late_acquire(run_id: str, **kw: Any) -> Any:
        store.step_started(old, "a", 1, now=0.2)
        store.step_ended(old, "a", 1, "SUCCEEDED", now=0.5, output="7", seq=1)
        store.set_state(old, "SUCCEEDED", now=0.6)
        return acquire(run_id, **kw)

    store.acquire = late_acquire  # type: ignore[method-assign]
    run = resume("r", actions=actions, store=store, clock=lambda: 100.0)
    assert run.state == "SUCCEEDED"
    assert store.load("r")["owner"] is None  # released: nothing holds an ended run


def test_an_interrupted_event_is_written_only_when_the_attempt_was_running(store: RunStore) -> None:
    w = wf(py("a", "f"))
    lease = store.create_run("r", workflow="t", digest=w.digest(), spec=w.to_dict(), params={},
                             steps={"a": "r/a"}, lease_seconds=10.0, now=0.0)  # fmt: skip
    store.step_started(lease, "a", 1, now=1.0)
    assert not store.step_interrupted(lease, "a", 2, now=2.0)  # not the running attempt
    assert store.step_ended(lease, "a", 1, "SUCCEEDED", now=3.0, output="1", seq=1)
    assert not store.step_interrupted(lease, "a", 1, now=4.0)  # no longer running
    assert store.interruptions("r") == {}
    assert store.load("r")["steps"]["a"]["state"] == "SUCCEEDED"
    store.step_started(lease, "a", 2, now=5.0)
    assert store.step_interrupted(lease, "a", 2, now=6.0)
    assert store.interruptions("r") == {"a": 1}


# ---------------------------------------------------------------------- 3. compensations


def _failing_saga(*compensated: dict[str, Any]) -> Workflow:
    last = compensated[-1]["id"]
    return wf(*compensated, py("boom", "boom", (last,), critical=True))


def test_the_lease_is_renewed_before_each_compensation(store: RunStore) -> None:
    clock = FakeClock()
    seen: list[float] = []  # lease_until - now, as each compensation starts

    def undo() -> None:
        seen.append(store.load("r")["lease_until"] - clock.t)
        clock.t += 100.0  # a long compensation, run inline: the lease lapses while it runs

    actions = Actions()
    actions.register("ok", lambda: 1)
    actions.register("undo", undo)
    actions.register("boom", lambda: (_ for _ in ()).throw(RuntimeError("x")))
    w = _failing_saga(py("a", "ok", compensate="undo"), py("b", "ok", ("a",), compensate="undo"))
    run = execute(w, actions=actions, store=store, run_id="r", lease_seconds=30.0, clock=clock,
                  sleep=clock.sleep)  # fmt: skip
    assert run.state == "FAILED"
    assert [run.steps[s].compensation for s in ("a", "b")] == ["SUCCEEDED", "SUCCEEDED"]
    assert seen == [30.0, 30.0]


def test_the_lease_is_renewed_while_the_driver_waits_for_a_compensation(store: RunStore) -> None:
    clock = FakeClock()
    renewed: list[bool] = []

    def undo() -> None:
        for _ in range(3):
            clock.t += 1.0  # past the 0.3 s lease: only a renewal while it runs keeps the run held
            give_up = time.monotonic() + 3.0
            while store.load("r")["lease_until"] < clock.t and time.monotonic() < give_up:
                time.sleep(0.01)
            renewed.append(store.load("r")["lease_until"] >= clock.t)

    actions = Actions()
    actions.register("ok", lambda: 1)
    actions.register("undo", undo)
    actions.register("boom", lambda: (_ for _ in ()).throw(RuntimeError("x")))
    with ThreadExecutor(max_workers=2) as executor:
        run = execute(_failing_saga(py("a", "ok", compensate="undo")), actions=actions, store=store,
                      run_id="r", executor=executor, lease_seconds=0.3, clock=clock,
                      sleep=clock.sleep)  # fmt: skip
    assert run.steps["a"].compensation == "SUCCEEDED"
    assert renewed == [True, True, True]


def test_a_compensation_past_its_timeout_fails_but_the_next_waits_for_it_to_end(store: RunStore) -> None:
    lock = threading.Lock()
    spans: dict[str, list[float]] = {}

    def undo(step: str, seconds: float) -> None:
        with lock:
            spans[step] = [time.monotonic()]
        time.sleep(seconds)
        with lock:
            spans[step].append(time.monotonic())

    actions = Actions()
    actions.register("do", lambda step, seconds: step)
    actions.register("undo", undo)
    actions.register("boom", lambda: (_ for _ in ()).throw(RuntimeError("x")))
    w = _failing_saga(
        py("a", "do", compensate="undo", parameters={"step": "a", "seconds": 0.0}),
        py("b", "do", ("a",), compensate="undo", parameters={"step": "b", "seconds": 0.6}, timeout=0.2),
    )
    with ThreadExecutor(max_workers=4) as executor:
        run = execute(w, actions=actions, store=store, executor=executor)
    assert run.state == "FAILED"
    assert run.steps["b"].compensation == "FAILED"
    assert "passed its 0.2 s timeout" in (run.steps["b"].compensation_error or "")
    assert run.steps["a"].compensation == "SUCCEEDED"
    # b (completed last) is compensated first; a's compensation started only once b's had ended
    assert len(spans["b"]) == 2
    assert spans["a"][0] >= spans["b"][1]


def test_an_inline_compensation_past_its_timeout_is_a_failure(store: RunStore) -> None:
    clock = FakeClock()
    actions = Actions()
    actions.register("ok", lambda: 1)
    actions.register("undo", lambda: setattr(clock, "t", clock.t + 5.0))
    actions.register("boom", lambda: (_ for _ in ()).throw(RuntimeError("x")))
    w = _failing_saga(py("a", "ok", compensate="undo", timeout=1.0))
    run = execute(w, actions=actions, store=store, clock=clock, sleep=clock.sleep)
    assert run.steps["a"].compensation == "FAILED"
    assert run.steps["a"].compensation_error == "passed its 1 s timeout; it ran on to its end"


# ---------------------------------------------------------------------- 5. interrupts, odd exceptions


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
def test_an_interrupt_in_an_inline_step_stops_the_driver_and_is_not_retried(
    store: RunStore, exc: type[BaseException]
) -> None:
    calls: list[int] = []

    def f() -> None:
        calls.append(1)
        raise exc

    actions = Actions()
    actions.register("f", f)
    with pytest.raises(exc):
        execute(wf(py("a", "f", retry_count=2)), actions=actions, store=store, run_id="r",
                sleep=lambda s: None)  # fmt: skip
    assert calls == [1]
    row = store.load("r")
    assert row["owner"] is None  # the lease was released
    assert (row["steps"]["a"]["state"], row["steps"]["a"]["attempts"]) == ("RUNNING", 1)  # resume re-runs it


def test_an_exception_whose_str_raises_is_recorded(store: RunStore) -> None:
    class Odd(Exception):
        def __str__(self) -> str:
            raise RuntimeError("bad str")

    def f() -> None:
        raise Odd

    actions = Actions()
    actions.register("f", f)
    actions.register("ok", lambda: 1)
    actions.register("undo", f)
    w = wf(py("a", "ok", compensate="undo"), py("b", "f", ("a",), critical=True))
    run = execute(w, actions=actions, store=store)
    assert run.state == "FAILED"
    assert (run.steps["b"].error or "").startswith("Odd: <Odd whose str() raised RuntimeError")
    assert (run.steps["a"].compensation_error or "").startswith("Odd: <Odd whose str() raised")


# ---------------------------------------------------------------------- 6. a deterministic failure


def test_a_missing_output_key_is_not_retried_after_an_interrupted_attempt(store: RunStore) -> None:
    clock = FakeClock()
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        assert len(sleeps) < 5, "the step is retried over and over"
        clock.sleep(s)

    actions = Actions()
    actions.register("ok", lambda: {"x": 1})
    w = wf(py("a", "ok"), py("b", "ok", ("a",), parameters={"v": "${steps.a.output.missing}"}, retry_count=1))
    lease = store.create_run("r", workflow="t", digest=w.digest(), spec=w.to_dict(), params={},
                             steps={"a": "r/a", "b": "r/b"}, lease_seconds=1.0, now=0.0)  # fmt: skip
    store.step_started(lease, "a", 1, now=0.1)
    store.step_ended(lease, "a", 1, "SUCCEEDED", now=0.2, output='{"x": 1}', seq=1)
    store.step_started(lease, "b", 1, now=0.3)  # ... and the driver died
    run = resume("r", actions=actions, store=store, clock=clock, sleep=sleep)
    assert run.steps["b"].state == "FAILED"
    assert run.steps["b"].attempts == 2  # the interrupted attempt, and the one that failed for good
    assert "missing" in (run.steps["b"].error or "")
    assert [e["event"] for e in store.events("r") if e["step_id"] == "b"] == [
        "started", "interrupted", "started", "failed"
    ]  # fmt: skip


# ---------------------------------------------------------------------- 7. parameters


def test_a_parameter_that_is_not_json_is_refused_before_anything_is_stored(store: RunStore) -> None:
    actions = Actions()
    actions.register("f", lambda v: v)
    w = wf(py("a", "f", parameters={"v": "${when}"}), params={"when": {}})
    with pytest.raises(TypeError, match=r"execute\(\) argument 'params': parameter 'when' must be JSON"):
        execute(w, {"when": {1, 2}}, actions=actions, store=store)
    assert store.run_ids() == []
    # a secret is never stored, so it need not be JSON
    ws = wf(py("a", "f", parameters={"v": "${key}"}), params={"key": {"secret": True}})
    assert execute(ws, {"key": b"raw"}, actions=actions, store=store).state in ("SUCCEEDED", "FAILED")


# ---------------------------------------------------------------------- 8. owner token


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_names_itself_in_its_owner_token() -> None:
    assert owner_token()["pid"] == os.getpid()  # cached in the parent first
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, and leave without running pytest's teardown
        try:
            os.write(write, json.dumps([owner_token()["pid"], os.getpid()]).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        token_pid, child_pid = json.loads(f.read())
    os.waitpid(pid, 0)
    assert token_pid == child_pid == pid
    assert owner_token()["pid"] == os.getpid()
    owner_token()["pid"] = -1  # a copy: the cached token cannot be changed by a caller
    assert owner_token()["pid"] == os.getpid()


# ---------------------------------------------------------------------- 10. one source for each default


def test_the_default_store_is_the_run_stores_default() -> None:
    from autoopt.workflows import _engine

    assert _engine.DEFAULT_STORE is DEFAULT_STORE
    assert inspect.signature(RunStore).parameters["url"].default == DEFAULT_STORE


def test_completion_numbers_carry_on_after_a_resume(store: RunStore) -> None:
    actions = Actions()
    actions.register("ok", lambda: 1)
    w = wf(py("a", "ok"), py("b", "ok"), py("c", "ok", ("a", "b")))
    lease = store.create_run("r", workflow="t", digest=w.digest(), spec=w.to_dict(), params={},
                             steps={s.id: f"r/{s.id}" for s in w.steps}, lease_seconds=1.0, now=0.0)  # fmt: skip
    store.step_started(lease, "b", 1, now=0.1)
    store.step_ended(lease, "b", 1, "SUCCEEDED", now=0.2, output="1", seq=1)
    run = resume("r", actions=actions, store=store, clock=lambda: 100.0)
    assert {k: s.completed_order for k, s in run.steps.items()} == {"b": 1, "a": 2, "c": 3}


def test_step_ended_needs_the_completion_number_of_a_success(store: RunStore) -> None:
    w = wf(py("a", "ok"))
    lease = store.create_run("r", workflow="t", digest=w.digest(), spec=w.to_dict(), params={},
                             steps={"a": "r/a"}, lease_seconds=10.0, now=0.0)  # fmt: skip
    store.step_started(lease, "a", 1, now=1.0)
    with pytest.raises(ValueError, match="'seq'"):
        store.step_ended(lease, "a", 1, "SUCCEEDED", now=2.0, output="1")
    assert store.load("r")["steps"]["a"]["state"] == "RUNNING"


def test_clock_and_sleep_must_be_callable(store: RunStore) -> None:
    actions = Actions()
    actions.register("ok", lambda: 1)
    with pytest.raises(TypeError, match="argument 'sleep' must be callable"):
        execute(wf(py("a", "ok")), actions=actions, store=store, sleep=5)  # type: ignore[arg-type]
