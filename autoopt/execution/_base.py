"""The executor protocol: where calls run, behind one small ABC shared by the tuner and the scheduler."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import inspect
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

__all__ = ["ChainingExecutor", "Executor", "run_call", "settle"]


def run_call(
    fn: Callable[..., Any], args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None
) -> Any:
    """Call ``fn(*args, **kwargs)``; if that returns an awaitable (an ``async def`` function), await it.

    This is what every executor runs on its worker, so an async callable
    returns its value, never a coroutine object (see :func:`settle`).
    """
    return settle(fn(*args, **(kwargs or {})))


def settle(result: Any, timeout: float | None = None) -> Any:
    """``result`` itself, or, when it is awaitable, what it returns once awaited.

    The awaitable gets a fresh event loop (``asyncio.run``); where one
    already runs in this thread (the inline executor in a notebook), on a
    helper thread. With ``timeout``, an awaitable still running after that
    many seconds is cancelled and ``TimeoutError`` raised.
    """
    if not inspect.isawaitable(result):
        return result
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop here: the usual case on a worker
        return asyncio.run(_awaited(result, timeout))
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(_awaited(result, timeout))
        except BaseException as exc:  # re-raised in the caller's thread below
            box["error"] = exc

    helper = threading.Thread(target=target, name="autoopt-await")
    helper.start()
    helper.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


async def _awaited(awaitable: Any, timeout: float | None = None) -> Any:
    if timeout is None:
        return await awaitable
    return await asyncio.wait_for(awaitable, timeout)


class Executor(ABC):
    """Where calls run: in the caller's thread, on threads, on processes, or on a dask cluster.

    An executor takes a callable with its arguments and returns a
    :class:`concurrent.futures.Future` of its result; async callables are
    awaited on the worker (:func:`run_call`). The drivers -- the tuner's
    ``optimize``, the scheduler's ``run`` -- keep at most
    :attr:`max_workers` calls in flight and wait on the futures with
    :func:`concurrent.futures.wait`.

    Subclasses implement :meth:`submit` and :attr:`max_workers`; those
    that can place work by priority or resources (dask) override
    :meth:`submit_task`, which the others ignore (the driver orders and
    admits the work before it submits it).

    ``remote`` says whether calls run in another process: their arguments
    and results are pickled, and a closure over the driver's objects sees
    a copy, never the driver's later changes.

    Examples
    --------
    >>> from autoopt.execution import ThreadExecutor
    >>> with ThreadExecutor(2) as ex:
    ...     futures = [ex.submit(pow, 2, k) for k in range(4)]
    ...     [f.result() for f in futures]
    [1, 2, 4, 8]
    """

    remote: bool = False
    stoppable: bool = False
    """Whether a call can be hard-stopped at a deadline: each worker is a process that can run the
    call in a child process and kill it (workflow step timeouts use this)."""

    @property
    @abstractmethod
    def max_workers(self) -> int:
        """How many calls may usefully run at once."""

    @abstractmethod
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        """Run ``fn(*args, **kwargs)``; return the future of its result (awaited if it is a coroutine)."""

    def submit_task(
        self,
        fn: Callable[..., Any],
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        priority: int = 0,
        resources: Mapping[str, float] | None = None,
        key: str | None = None,
    ) -> cf.Future[Any]:
        """:meth:`submit` with placement hints: a higher ``priority`` runs first, ``resources`` are what the
        call holds while it runs, ``key`` names it. Executors without a scheduler of their own ignore them."""
        return self.submit(fn, *args, **dict(kwargs or {}))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:  # noqa: B027 (optional)
        """Release the workers this executor owns (nothing, by default)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.shutdown(wait=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_workers={self.max_workers})"


class ChainingExecutor(Executor):
    """An executor whose calls can take a call still in flight as an argument (dask futures).

    The scheduler's driver then submits a task before its referenced
    dependencies finish, passing :meth:`handle` of each in place of its
    result, and the cluster hands the results between its workers.
    """

    @abstractmethod
    def handle(self, future: cf.Future[Any]) -> Any:
        """What a later call on this executor takes in place of ``future``'s result."""
