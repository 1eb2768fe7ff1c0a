"""Workflow specs and YAML runbooks: everything unsafe or unresolvable is refused before anything runs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from autoopt.cli import main
from autoopt.workflows import RunbookError, Step, Workflow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "runbooks"

SEED_FAILOVER = """
metadata:
  id: db-failover
  name: Database Failover Procedure
  type: incident_response
  version: 1.0
steps:
  - id: step-1
    name: Detect primary failure
    action_type: command
    action: pg_isready -h ${primary_host}
    timeout: 10
    retry_count: 3
  - id: step-2
    name: Promote standby
    action_type: command
    action: pg_ctl promote -D /var/lib/postgresql/data
    critical: true
    dependencies: [step-1]
  - id: step-3
    name: Update DNS
    action_type: api
    action: https://api.dns.com/records/${record_id}
    parameters:
      method: PUT
      data:
        target: ${new_primary_ip}
    dependencies: [step-2]
  - id: step-4
    name: Notify team
    action_type: notification
    action: "Failover completed: ${primary_host} -> ${new_primary}"
    parameters:
      channel: slack
      recipients: ["#ops-team"]
"""


def runbook(*steps: str, params: str = "") -> str:
    body = "\n".join(textwrap.indent(textwrap.dedent(s).strip(), "  ") for s in steps)
    return f"metadata:\n  id: wf\n{params}steps:\n{body}\n"


def test_the_shipped_runbooks_load_in_dependency_order() -> None:
    failover = Workflow.from_yaml(EXAMPLES / "db_failover.yml")
    assert failover.order() == ["step-1", "step-2", "step-3", "step-4"]
    assert failover.step("step-1").action == ["pg_isready", "-h", "${primary_host}"]  # split at load
    assert failover.step("step-2").critical
    assert failover.step("step-1").retry_count == 3
    assert failover.secrets() == {"dns_token"}
    rollback = Workflow.from_yaml(str(EXAMPLES / "rollback_with_compensation.yml"))
    assert rollback.order() == ["snapshot", "deploy", "migrate", "smoke", "announce"]
    assert [rollback.step(s).compensate for s in ("snapshot", "deploy", "migrate")] == [
        "restore_snapshot", "redeploy_previous", "revert_migrations",
    ]  # fmt: skip
    for wf in (failover, rollback):
        again = Workflow.from_dict(wf.to_dict())
        assert again == wf
        assert again.digest() == wf.digest()
    assert failover.digest() != rollback.digest()


def test_the_seeds_runbook_names_a_parameter_its_context_lacks() -> None:
    wf = Workflow.from_yaml(SEED_FAILOVER)  # no declared parameters: checked against the run's
    context = {"primary_host": "db1.example.com", "new_primary_ip": "10.0.1.2", "record_id": "12345"}
    with pytest.raises(
        RunbookError, match=r"step 'step-4': \$\{new_primary\} names run parameter 'new_primary'"
    ):
        wf.check_params(context)
    assert wf.check_params({**context, "new_primary": "db2"})["new_primary"] == "db2"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (runbook("- {id: a, action_type: command, action: 'ls; rm -rf /'}"), r"step 'a': field 'action' argument 'ls;'.*';'"),
        (runbook("- {id: a, action_type: command, action: 'echo $(whoami)'}"), r"shell metacharacter"),
        (runbook("- {id: a, action_type: command, action: 'cat x | sh'}"), r"argument '\|'"),
        (runbook("- {id: a, action_type: command, action: 'psql --host=${h}'}"), r"must fill a whole argument"),
        (runbook("- {id: a, action_type: http, action: 'https://${host}/x'}"), r"literal host"),
        (runbook("- {id: a, action_type: http, action: 'file:///etc/passwd'}"), r"http\(s\) URL"),
        (runbook("- {id: a, action_type: python, action: f, dependencies: [b]}",
                 "- {id: b, action_type: python, action: f, dependencies: [c]}",
                 "- {id: c, action_type: python, action: f, dependencies: [a]}"), r"cycle: a -> b -> c -> a"),
        (runbook("- {id: a, action_type: python, action: f, dependencies: [ghost]}"), r"step 'a': field 'dependencies' names unknown step 'ghost'"),
        (runbook("- {id: a, action_type: shell, action: f}"), r"step 'a': field 'action_type' must be one of"),
        (runbook("- {id: a, action_type: python, action: f, parameters: {x: '${1 + 2}'}}"), r"is not a reference"),
        (runbook("- {id: a, action_type: python, action: f, parameters: {x: '${os.system}'}}"), r"is not a reference"),
        (runbook("- {id: a, action_type: python, action: f}",
                 "- {id: b, action_type: python, action: f, parameters: {x: '${steps.a.output}'}}"),
         r"step 'b': \$\{steps.a.output\} reads the output of a step it does not depend on 'a'"),
        (runbook("- {id: a, action_type: python, action: f, parameters: {x: '${undeclared}'}}",
                 params="  parameters: [declared]\n"), r"'metadata.parameters' does not declare"),
        (runbook("- {id: a, action_type: python, action: f, retry_count: -1}"), r"field 'retry_count' must be an int >= 0"),
        (runbook("- {id: a, action_type: python, action: f, timeout: 0}"), r"field 'timeout' must be a number of seconds > 0"),
        (runbook("- {id: a, action_type: python, action: f, critical: 'yes'}"), r"field 'critical' must be true or false"),
        (runbook("- {id: a, action_type: python, action: f, retries: 2}"), r"unknown field\(s\) \['retries'\]"),
        (runbook("- {id: a, action_type: python, action: f}", "- {id: a, action_type: python, action: g}"), r"step id 'a' appears twice"),
        ("steps: []\nmetadata: {id: x}\n", r"'steps' must be a non-empty list"),
        ("metadata: {id: x}\nsteps: [\n", r"not valid YAML"),
    ],
)  # fmt: skip
def test_unsafe_or_unresolvable_runbooks_are_refused_naming_the_step_and_field(text: str, match: str) -> None:
    with pytest.raises(RunbookError, match=match):
        Workflow.from_yaml(text)


def test_hosts_outside_the_allow_list_are_refused() -> None:
    wf = Workflow.from_yaml(EXAMPLES / "db_failover.yml")
    wf.check_hosts(["api.dns.example.com"])
    with pytest.raises(
        RunbookError, match=r"step 'step-3': field 'action' calls host 'api.dns.example.com', which is not"
    ):
        wf.check_hosts(["status.example.com"])


def test_steps_built_in_python_are_validated_too() -> None:
    ok = Workflow("py", (Step("a", "python", "f"), Step("b", "python", "g", dependencies=("a",))))
    assert ok.order() == ["a", "b"]
    with pytest.raises(
        RunbookError, match="step 'a': field 'action' must be a command line or a list of arguments"
    ):
        Workflow("py", (Step("a", "command", ""),))


def test_cli_validates_runbooks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = EXAMPLES / "db_failover.yml"
    assert main(["runbook", "validate", str(good), "--allow-host", "api.dns.example.com"]) == 0
    assert (
        "valid: workflow 'db-failover', 4 steps, in order step-1, step-2, step-3, step-4"
        in capsys.readouterr().out
    )
    assert main(["runbook", "validate", str(good), "--allow-host", "evil.example.com"]) == 2
    assert "is not in the allow-list" in capsys.readouterr().err
    seed = tmp_path / "seed.yml"
    seed.write_text(SEED_FAILOVER)
    args = ["--param", "primary_host=db1", "--param", "new_primary_ip=10.0.1.2", "--param", "record_id=1"]
    assert main(["runbook", "validate", str(seed), *args]) == 2
    assert "names run parameter 'new_primary'" in capsys.readouterr().err
    assert main(["runbook", "validate", str(tmp_path / "missing.yml")]) == 2
