"""The shipped runbooks (examples/runbooks) run end to end against registered fake actions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from autoopt.execution import ThreadExecutor
from autoopt.workflows import Actions, RunbookError, RunStore, Workflow, execute

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "runbooks"

FAILOVER_PARAMS = {
    "primary_host": "db-1.internal",
    "new_primary_ip": "10.0.0.7",
    "record_id": "rec-42",
    "dns_token": "tok-very-secret",
}


class FakeOps:
    """Records every command, request and notification; answers like the real systems would."""

    def __init__(self, fail_command: str | None = None) -> None:
        self.commands: list[list[str]] = []
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self.notes: list[tuple[str, dict[str, Any]]] = []
        self.fail_command = fail_command

    def run(self, argv: list[str], timeout: float | None) -> tuple[int, str, str]:
        self.commands.append(argv)
        if argv[0] == self.fail_command:
            return 1, "", f"{argv[0]}: could not promote"
        return 0, f"{argv[0]} ok\n", ""

    def send(self, method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float,
             limit: int) -> tuple[int, str, bytes]:  # fmt: skip
        self.requests.append((method, url, headers, json.loads(body) if body else None))
        return 200, "application/json", json.dumps({"updated": url.rsplit("/", 1)[1]}).encode()

    def sink(self, message: str, **params: Any) -> str:
        self.notes.append((message, params))
        return "sent"


def failover_actions(ops: FakeOps, *, hosts: tuple[str, ...] = ("api.dns.example.com",)) -> Actions:
    actions = Actions(
        allowed_hosts=hosts, allow_commands=True, command_runner=ops.run, http_transport=ops.send
    )
    actions.register_sink("slack", ops.sink)
    return actions


def test_db_failover_runs_commands_as_argument_lists_then_dns_then_notifies() -> None:
    ops = FakeOps()
    store = RunStore("sqlite://")
    wf = Workflow.from_yaml(EXAMPLES / "db_failover.yml")
    with ThreadExecutor(2) as ex:
        run = execute(wf, FAILOVER_PARAMS, actions=failover_actions(ops), store=store, executor=ex)
    assert run.state == "SUCCEEDED", run.to_dict()
    assert ops.commands == [
        ["pg_isready", "-h", "db-1.internal"],
        ["pg_ctl", "promote", "-D", "/var/lib/postgresql/data"],
    ]
    method, url, headers, body = ops.requests[0]
    assert (method, url) == ("PUT", "https://api.dns.example.com/records/rec-42")
    assert headers["Authorization"] == "tok-very-secret"  # the action gets the secret ...
    assert body == {"target": "10.0.0.7"}
    assert ops.notes == [("Failover completed: db-1.internal -> 10.0.0.7",
                          {"recipients": ["#ops-team"]})]  # fmt: skip
    assert run.steps["step-3"].output == {"status": 200, "body": {"updated": "rec-42"}}
    # ... which the record never holds
    assert "tok-very-secret" not in json.dumps(run.to_dict())
    assert "tok-very-secret" not in json.dumps(store.load(run.run_id), default=str)
    assert run.params["dns_token"] == "***"


def test_db_failover_critical_promotion_failure_skips_dns_and_notification() -> None:
    ops = FakeOps(fail_command="pg_ctl")
    run = execute(Workflow.from_yaml(EXAMPLES / "db_failover.yml"), FAILOVER_PARAMS,
                  actions=failover_actions(ops), store="sqlite://")  # fmt: skip
    assert run.state == "FAILED"
    assert (
        run.cause
        == "critical step 'step-2' failed: ActionError: step 'step-2': command 'pg_ctl' exited with 1: pg_ctl: could not promote"
    )
    assert [run.steps[s].state for s in ("step-1", "step-2", "step-3", "step-4")] == [
        "SUCCEEDED", "FAILED", "SKIPPED", "SKIPPED"]  # fmt: skip
    assert ops.requests == []
    assert ops.notes == []


def test_db_failover_is_refused_before_anything_runs_without_the_dns_host() -> None:
    ops = FakeOps()
    store = RunStore("sqlite://")
    with pytest.raises(
        RunbookError, match=r"step 'step-3': field 'action' calls host 'api\.dns\.example\.com'"
    ):
        execute(Workflow.from_yaml(EXAMPLES / "db_failover.yml"), FAILOVER_PARAMS,
                actions=failover_actions(ops, hosts=()), store=store)  # fmt: skip
    assert ops.commands == []
    assert store.run_ids() == []


class FakeDeploy:
    def __init__(self, fail_at: str | None) -> None:
        self.fail_at = fail_at
        self.log: list[str] = []

    def actions(self) -> Actions:
        a = Actions(allowed_hosts=["status.example.com"], http_transport=self.health)
        a.register("take_snapshot", lambda service: self.step("snapshot", {"snapshot_id": f"snap-{service}"}))
        a.register("deploy_version", lambda service, version: self.step("deploy", version))
        a.register("run_migrations", lambda snapshot, version: self.step("migrate", [snapshot, version]))
        a.register(
            "restore_snapshot", lambda service, output: self.log.append(f"restore {output['snapshot_id']}")
        )
        a.register("redeploy_previous", lambda service, version: self.log.append(f"undeploy {version}"))
        a.register("revert_migrations", lambda snapshot, version: self.log.append(f"revert {snapshot}"))
        a.register_sink("releases", lambda message: self.log.append(f"announce {message}"))
        return a

    def step(self, name: str, out: Any) -> Any:
        self.log.append(name)
        return out

    def health(self, method: str, url: str, *rest: Any) -> tuple[int, str, bytes]:
        self.log.append("smoke")
        if self.fail_at == "smoke":
            from autoopt.workflows import ActionError

            raise ActionError(f"{method} {url} returned HTTP 503")
        return 200, "text/plain", b"ok"


PARAMS = {"service": "api", "version": "2.0", "previous_version": "1.9"}


def test_rollback_runbook_succeeds_and_announces() -> None:
    fake = FakeDeploy(fail_at=None)
    wf = Workflow.from_yaml(EXAMPLES / "rollback_with_compensation.yml")
    run = execute(wf, PARAMS, actions=fake.actions(), store="sqlite://")
    assert run.state == "SUCCEEDED"
    assert fake.log == ["snapshot", "deploy", "migrate", "smoke", "announce api is now on 2.0 (was 1.9)"]


def test_rollback_runbook_undoes_completed_steps_in_reverse_when_the_smoke_test_fails() -> None:
    fake = FakeDeploy(fail_at="smoke")
    wf = Workflow.from_yaml(EXAMPLES / "rollback_with_compensation.yml")
    run = execute(wf, PARAMS, actions=fake.actions(), store="sqlite://")
    assert run.state == "FAILED"
    assert run.cause is not None
    assert run.cause.startswith(
        "critical step 'smoke' failed: ActionError: step 'smoke': GET https://status.example.com/health returned HTTP 503"
    )
    assert fake.log == ["snapshot", "deploy", "migrate", "smoke",
                        "revert snap-api", "undeploy 2.0", "restore snap-api"]  # fmt: skip
    assert run.steps["announce"].state == "SKIPPED"
    assert [run.steps[s].compensation for s in ("snapshot", "deploy", "migrate")] == ["SUCCEEDED"] * 3
