"""A workflow driver to be killed with SIGKILL mid-run, and the actions both it and the resuming test register.

Run as ``python wf_killable.py STORE_URL RUN_ID LOG MODE``. Every action call appends
``<action> <idempotency key> <pid>`` to LOG (one ``write`` on an ``O_APPEND`` descriptor, so lines from
several processes never interleave). The action named by MODE blocks on its first call only, so the
driver is killed inside it and the resumed call goes through:

- ``step``: the workflow a -> b -> c (plus d, independent); b blocks.
- ``compensation``: a -> b -> boom (critical, fails); boom's failure compensates b then a; undoing b
  blocks.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from autoopt.workflows import Actions, Workflow


def workflow(mode: str) -> Workflow:
    if mode == "step":
        steps = [
            {"id": "a", "action_type": "python", "action": "work"},
            {"id": "b", "action_type": "python", "action": "block", "dependencies": ["a"]},
            {"id": "c", "action_type": "python", "action": "work", "dependencies": ["b"]},
            {"id": "d", "action_type": "python", "action": "work"},
        ]
    else:
        steps = [
            {"id": "a", "action_type": "python", "action": "work", "compensate": "undo"},
            {
                "id": "b",
                "action_type": "python",
                "action": "work",
                "dependencies": ["a"],
                "compensate": "undo_block",
            },
            {
                "id": "boom",
                "action_type": "python",
                "action": "fail",
                "dependencies": ["b"],
                "critical": True,
            },
        ]
    return Workflow.from_dict({"metadata": {"id": f"killable-{mode}"}, "steps": steps})


def calls(log: str | Path) -> list[tuple[str, str, int]]:
    """The logged calls: (action, idempotency key, pid)."""
    path = Path(log)
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        name, key, pid = line.split(" ")
        out.append((name, key, int(pid)))
    return out


def actions(log: str) -> Actions:
    def record(name: str, key: str) -> int:
        first = not any(n == name and k == key for n, k, _ in calls(log))
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, f"{name} {key} {os.getpid()}\n".encode())
        finally:
            os.close(fd)
        return first

    acts = Actions()

    def work(idempotency_key: str) -> str:
        record("work", idempotency_key)
        return idempotency_key

    def block(idempotency_key: str) -> str:
        if record("block", idempotency_key):
            time.sleep(120)  # killed in here
        return "unblocked"

    def fail(idempotency_key: str) -> None:
        record("fail", idempotency_key)
        raise RuntimeError("critical failure")

    def undo(idempotency_key: str) -> None:
        record("undo", idempotency_key)

    def undo_block(idempotency_key: str) -> None:
        if record("undo_block", idempotency_key):
            time.sleep(120)  # killed in here

    for fn in (work, block, fail, undo, undo_block):
        acts.register(fn.__name__, fn)
    return acts


if __name__ == "__main__":
    from autoopt.execution import ThreadExecutor
    from autoopt.workflows import execute

    url, run_id, log, mode = sys.argv[1:5]
    with ThreadExecutor(2) as ex:
        execute(workflow(mode), actions=actions(log), store=url, run_id=run_id, executor=ex)
