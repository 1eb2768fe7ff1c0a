"""Shared by the workflow tests: a workflow from steps, a python step, and a clock whose sleeps advance it."""

from __future__ import annotations

from typing import Any

from autoopt.workflows import Workflow


def wf(*steps: dict[str, Any], params: dict[str, Any] | None = None) -> Workflow:
    meta: dict[str, Any] = {"id": "t"}
    if params is not None:
        meta["parameters"] = params
    return Workflow.from_dict({"metadata": meta, "steps": list(steps)})


def py(sid: str, action: str, deps: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    return {"id": sid, "action_type": "python", "action": action, "dependencies": list(deps), **extra}


class FakeClock:
    """Seconds that move only when slept; the sleeps are kept."""

    def __init__(self) -> None:
        self.t = 1_000_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.t += s
