"""Workflows: named DAGs of steps, read from seed-002 YAML runbooks and validated before anything runs.

:class:`Workflow` (``from_yaml``, ``from_dict``) checks step ids and
dependencies (no unknown ids, no cycles), action types, ``${...}``
references (run parameters, and outputs of steps it depends on; never
expressions), and commands (an argument list, never a shell string with
metacharacters). ``autoopt runbook validate FILE`` runs the same checks.
"""

from __future__ import annotations

from autoopt.workflows._spec import ACTION_TYPES, RunbookError, Step, Workflow

__all__ = ["ACTION_TYPES", "RunbookError", "Step", "Workflow"]
