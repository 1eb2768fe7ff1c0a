"""A remediation action bound to a workflow runbook: the run parameters it gets, and the run itself.

:class:`~autoopt.remediation.AutoRemediation` keeps the bindings and the
background threads; this module holds what runs in them. It imports
:mod:`autoopt.workflows` (and so SQLAlchemy) only when a runbook is bound.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autoopt._validation import describe_exception

if TYPE_CHECKING:
    from autoopt.execution import Executor
    from autoopt.workflows import Actions, RunStore, Workflow

__all__ = ["RunbookBinding"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunbookBinding:
    """A workflow to run for a remediation action, with what it runs against and where it is recorded."""

    workflow: Workflow
    actions: Actions
    store: RunStore
    executor: Executor | None

    def run_params(self, target: str, reason: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
        """The run parameters: the remediation's ``parameters`` plus ``target`` and ``reason``, kept to the
        ones the workflow declares (all of them when it declares none), checked (``RunbookError``)."""
        values = {**parameters, "target": target, "reason": reason}
        declared = self.workflow.parameters
        if declared is not None:
            values = {k: v for k, v in values.items() if k in declared}
        return self.workflow.check_params(values)

    def run(self, params: Mapping[str, Any], run_id: str) -> tuple[bool, str]:
        """Run the workflow to its end: (whether it SUCCEEDED, a one-line result). Never raises."""
        from autoopt.workflows import execute

        name = self.workflow.name
        try:
            run = execute(self.workflow, params, actions=self.actions, executor=self.executor,
                          store=self.store, run_id=run_id)  # fmt: skip
        except Exception as exc:  # recorded in the Remediation, never raised into the background thread
            logger.exception("runbook %r (run %s) could not run", name, run_id)
            return False, f"runbook {name!r} run {run_id} could not run: {describe_exception(exc)}"
        result = f"runbook {name!r} run {run_id} {run.state}"
        if run.cause:
            result += f": {run.cause}"
        return run.state == "SUCCEEDED", result
