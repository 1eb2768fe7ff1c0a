"""What a workflow run looks like from outside: its state, and each step's state, attempts, times and error."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["REDACTED", "RUN_STATES", "STEP_STATES", "StepRecord", "WorkflowRun", "redact"]

STEP_STATES = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "SKIPPED", "CANCELLED")
"""A step's states: ``SKIPPED`` when a dependency did not succeed (or the run ended first),
``CANCELLED`` when it was running as the run was cancelled."""

RUN_STATES = ("RUNNING", "COMPENSATING", "SUCCEEDED", "FAILED", "CANCELLED")
"""A run's states; the last three are final."""

REDACTED = "***"


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """``value`` with every occurrence of a secret replaced by ``***``, inside its strings.

    ``value`` is a Python value: a string (an error message), or JSON-ready
    data (a step's output), whose strings (dict keys included) are redacted
    recursively and whose other parts are kept as they are; an int or float
    that prints as a secret is replaced whole. Redaction works on the value,
    never on its JSON text, so a secret JSON escapes (``"``, non-ASCII) is
    still found and a short one (``"1"``) cannot break the JSON. Longer
    secrets are replaced first, so one that contains another leaks no part.

    Examples
    --------
    >>> redact({"token": 'ab"c', "n": 12, "list": ['x-ab"c']}, ['ab"c', "1"])
    {'token': '***', 'n': 12, 'list': ['x-***']}
    """
    found = sorted({s for s in secrets if s}, key=len, reverse=True)
    return _redact(value, found) if found else value


def _redact(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for s in secrets:
            value = value.replace(s, REDACTED)
        return value
    if isinstance(value, dict):
        return {_redact(k, secrets): _redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v, secrets) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool) and str(value) in secrets:
        return REDACTED
    return value


@dataclass(frozen=True)
class StepRecord:
    """One step of a run, as recorded.

    ``attempts`` counts the times the step was started (retries + 1 when
    it ran to the end of its policy); ``compensation`` is ``None`` or the
    state of its compensating action (``RUNNING``, ``SUCCEEDED``,
    ``FAILED``), with ``compensation_error``.
    """

    step_id: str
    state: str
    attempts: int
    idempotency_key: str
    started: float | None
    ended: float | None
    output: Any
    error: str | None
    completed_order: int | None
    compensation: str | None
    compensation_error: str | None

    @property
    def duration(self) -> float | None:
        """Seconds from the last attempt's start to the step's end (``None`` while running or never run)."""
        if self.started is None or self.ended is None:
            return None
        return self.ended - self.started


@dataclass(frozen=True)
class WorkflowRun:
    """A workflow run as the store holds it: its state, cause and steps.

    Secret parameters are redacted (``***``) everywhere here, as in the
    store and the logs.

    Examples
    --------
    >>> from autoopt.workflows import Actions, Workflow, execute
    >>> wf = Workflow.from_dict({"metadata": {"id": "hello"},
    ...     "steps": [{"id": "a", "action_type": "python", "action": "add",
    ...                "parameters": {"x": 1, "y": 2}}]})
    >>> actions = Actions()
    >>> _ = actions.register("add", lambda x, y: x + y)
    >>> run = execute(wf, {}, actions=actions, store="sqlite://")
    >>> run.state, run.steps["a"].output
    ('SUCCEEDED', 3)
    """

    run_id: str
    workflow: str
    digest: str
    state: str
    cause: str | None
    epoch: int
    params: Mapping[str, Any]
    steps: Mapping[str, StepRecord]
    created: float
    updated: float

    @property
    def done(self) -> bool:
        """Whether the run is final (``SUCCEEDED``, ``FAILED`` or ``CANCELLED``)."""
        return self.state in ("SUCCEEDED", "FAILED", "CANCELLED")

    @property
    def outputs(self) -> dict[str, Any]:
        """The outputs of the steps that succeeded."""
        return {k: s.output for k, s in self.steps.items() if s.state == "SUCCEEDED"}

    @classmethod
    def from_row(cls, row: Mapping[str, Any], order: Iterable[str] | None = None) -> WorkflowRun:
        """Build it from :meth:`RunStore.load`'s dict (steps in ``order`` when given)."""
        rows = row["steps"]
        ids = list(order) if order is not None else list(rows)
        steps = {}
        for sid in ids:
            r = rows[sid]
            steps[sid] = StepRecord(
                step_id=sid, state=r["state"], attempts=r["attempts"], idempotency_key=r["key"],
                started=r["started"], ended=r["ended"],
                output=json.loads(r["output"]) if r["output"] is not None else None,
                error=r["error"], completed_order=r["seq"], compensation=r["comp_state"],
                compensation_error=r["comp_error"],
            )  # fmt: skip
        return cls(
            run_id=row["run_id"], workflow=row["workflow"], digest=row["digest"], state=row["state"],
            cause=row["cause"], epoch=row["epoch"], params=row["params"], steps=steps,
            created=row["created"], updated=row["updated"],
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The run as plain JSON-ready data (secrets stay redacted)."""
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "digest": self.digest,
            "state": self.state,
            "cause": self.cause,
            "epoch": self.epoch,
            "params": dict(self.params),
            "created": self.created,
            "updated": self.updated,
            "steps": {
                k: {
                    "state": s.state,
                    "attempts": s.attempts,
                    "idempotency_key": s.idempotency_key,
                    "started": s.started,
                    "ended": s.ended,
                    "duration": s.duration,
                    "output": s.output,
                    "error": s.error,
                    "completed_order": s.completed_order,
                    "compensation": s.compensation,
                    "compensation_error": s.compensation_error,
                }
                for k, s in self.steps.items()
            },
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per step (indexed by step id): state, attempts, started, ended, duration, error,
        completed_order, compensation, compensation_error."""
        import pandas as pd

        cols = ["state", "attempts", "started", "ended", "duration", "error", "completed_order",
                "compensation", "compensation_error"]  # fmt: skip
        data = [[getattr(s, c) for c in cols] for s in self.steps.values()]
        frame = pd.DataFrame(data, columns=cols, index=pd.Index(list(self.steps), name="step"))
        frame.attrs["run_id"] = self.run_id
        frame.attrs["state"] = self.state
        return frame
