"""Which process holds something: a token naming this process, and whether a recorded holder is alive.

Used wherever a record outlives the process that wrote it: the tuner's
trials (a ``RUNNING`` trial whose owner is gone is stale) and the leases of
workflow runs (a lease whose holder on this host is gone may be taken at
once, without waiting for it to expire). Standard library only.
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Mapping
from typing import Any

__all__ = ["owner_alive", "owner_token", "process_start"]


def process_start(pid: int) -> str:
    """The start time of process ``pid`` in clock ticks since boot (Linux), ``""`` elsewhere.

    With the pid it identifies a process even after the pid is reused.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            stat = f.read()
    except OSError:
        return ""
    # Field 22; the command name (field 2) is in parentheses and may hold spaces.
    return stat.rsplit(")", 1)[1].split()[19]


def owner_token() -> dict[str, Any]:
    """This process: ``{"host", "pid", "start"}``.

    Computed once per process id, so a child forked after a call names
    itself, not its parent.

    Examples
    --------
    >>> import os
    >>> owner_token()["pid"] == os.getpid()
    True
    >>> owner_alive(owner_token())
    True
    """
    return dict(_token(os.getpid()))


@functools.cache
def _token(pid: int) -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": pid, "start": process_start(pid)}


def owner_alive(owner: Mapping[str, Any]) -> bool:
    """Whether the process ``owner`` names (a token from :func:`owner_token` on *this* host) still runs.

    A pid that now belongs to a process started at another time counts as
    gone. Says nothing useful about another host's processes: compare
    ``owner["host"]`` first.
    """
    pid = owner.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    start = owner.get("start") or ""
    return not start or process_start(pid) in ("", start)
