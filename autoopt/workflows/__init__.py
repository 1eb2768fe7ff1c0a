"""Workflows: named DAGs of steps, read from seed-002 YAML runbooks and validated before anything runs.

:class:`Workflow` (``from_yaml``, ``from_dict``) checks step ids and
dependencies (no unknown ids, no cycles), action types, ``${...}``
references (run parameters, and outputs of steps it depends on; never
expressions), and commands (an argument list, never a shell string with
metacharacters). ``autoopt runbook validate FILE`` runs the same checks. :func:`execute` runs
a workflow durably (every step's start and end recorded in a
:class:`RunStore`, SQLite or PostgreSQL), with retries, timeouts, skipped
dependents and saga compensation; :func:`resume` carries on after the
driver died, :func:`cancel` stops a run; :class:`WorkflowRun` is what a run
looks like (``to_frame``, ``to_dict``).
:class:`Actions` is what steps run against: registered Python callables
and notification sinks, and the opt-in http (an allow-list of hosts) and
command (argument lists, no shell) runners; :func:`render` fills a step's
``${...}`` references in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from autoopt.workflows._actions import ActionError, Actions
from autoopt.workflows._record import RUN_STATES, STEP_STATES, StepRecord, WorkflowRun
from autoopt.workflows._refs import render
from autoopt.workflows._spec import ACTION_TYPES, RunbookError, Step, Workflow

if TYPE_CHECKING:
    from autoopt.workflows._engine import cancel, execute, open_store, resume
    from autoopt.workflows._store import (
        DEFAULT_STORE,
        SCHEMA_VERSION,
        FencedError,
        Lease,
        LeaseHeldError,
        RunStore,
    )

# Loaded on first access: the store imports SQLAlchemy, which reading and validating runbooks never needs.
_LAZY = {
    **dict.fromkeys(("cancel", "execute", "open_store", "resume"), "_engine"),
    **dict.fromkeys(
        ("DEFAULT_STORE", "SCHEMA_VERSION", "FencedError", "Lease", "LeaseHeldError", "RunStore"), "_store"
    ),
}

__all__ = [
    "ACTION_TYPES",
    "DEFAULT_STORE",
    "RUN_STATES",
    "SCHEMA_VERSION",
    "STEP_STATES",
    "ActionError",
    "Actions",
    "FencedError",
    "Lease",
    "LeaseHeldError",
    "RunStore",
    "RunbookError",
    "Step",
    "StepRecord",
    "Workflow",
    "WorkflowRun",
    "cancel",
    "execute",
    "open_store",
    "render",
    "resume",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
