"""Hard stops: run a call in a child process and kill the child when it passes its deadline."""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from autoopt.execution._base import run_call

__all__ = ["CallTimeout", "call_in_child"]


class CallTimeout(TimeoutError):
    """A call passed its deadline and its process was killed."""


def call_in_child(
    fn: Callable[..., Any],
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    timeout: float,
) -> Any:
    """``run_call(fn, args, kwargs)`` in a fresh child process, killed (``SIGKILL``) after ``timeout`` s.

    On Linux the child is forked (cheap: ~ms), so the call needs no
    serialising; elsewhere it is spawned (macOS's CPython defaults to spawn
    because forking there is unsafe), and the callable must be importable.
    The result travels back through a pipe, and an exception the call raises
    is re-raised here. Raises :class:`CallTimeout` once the child is killed.

    Examples
    --------
    >>> import time
    >>> call_in_child(pow, (2, 10), timeout=5.0)
    1024
    >>> call_in_child(time.sleep, (30,), timeout=0.2)
    Traceback (most recent call last):
    ...
    autoopt.execution._stop.CallTimeout: the call passed its 0.2 s timeout; its process was killed
    """
    ctx: Any = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    receive, send = ctx.Pipe(duplex=False)
    # Forked, the child inherits the call as it is (nothing is serialised); spawned (no fork on the
    # platform), multiprocessing pickles it, so the callable must be importable there.
    call = (fn, tuple(args), dict(kwargs or {}))
    child = ctx.Process(target=_child, args=(send, *call), name="autoopt-stoppable")
    child.start()
    send.close()
    try:
        if not receive.poll(timeout):
            raise CallTimeout(f"the call passed its {timeout:g} s timeout; its process was killed")
        try:
            ok, value = receive.recv()
        except EOFError:
            raise RuntimeError(f"the call's process died (exit code {child.exitcode})") from None
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receive.close()
    if ok:
        return value
    raise value


def _child(send: Any, fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    try:
        result: tuple[bool, Any] = (True, run_call(fn, args, kwargs))
    except BaseException as exc:  # sent back to the caller, which re-raises it
        result = (False, exc)
    try:
        send.send(result)
    except Exception as exc:  # the result (or the error) does not pickle
        send.send((False, RuntimeError(f"the call's result could not be sent back: {exc!r}")))
    send.close()
