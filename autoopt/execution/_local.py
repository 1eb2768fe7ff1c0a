"""Executors on this machine: inline, a thread pool, and joblib's (loky) process pool."""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable
from typing import Any

from autoopt._validation import check_size
from autoopt.execution._base import Executor, run_call

__all__ = ["InlineExecutor", "ProcessExecutor", "ThreadExecutor"]


class InlineExecutor(Executor):
    """Run each call at submission, in the caller's thread: deterministic, no pool, one at a time.

    The returned future is already done; an exception the call raises is
    set on it (``KeyboardInterrupt`` and other ``BaseException`` too, so a
    driver handles them in one place).

    Examples
    --------
    >>> InlineExecutor().submit(divmod, 7, 2).result()
    (3, 1)
    """

    @property
    def max_workers(self) -> int:
        return 1

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        try:
            future.set_result(run_call(fn, args, kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


class ThreadExecutor(Executor):
    """Run calls on a pool of ``max_workers`` threads (for I/O-bound work, or code that releases the GIL).

    Calls share the driver's memory: a lambda over the driver's objects
    works. The pool is created here and shut down by :meth:`shutdown` (or
    the ``with`` block).

    Parameters
    ----------
    max_workers : int
        Threads in the pool.
    thread_name_prefix : str

    Examples
    --------
    >>> with ThreadExecutor(4) as ex:
    ...     sorted(f.result() for f in [ex.submit(len, "a" * k) for k in range(3)])
    [0, 1, 2]
    """

    def __init__(self, max_workers: int, *, thread_name_prefix: str = "autoopt") -> None:
        self._max = check_size(max_workers, "ThreadExecutor() argument 'max_workers'", high=10_000)
        self._pool = cf.ThreadPoolExecutor(max_workers=self._max, thread_name_prefix=thread_name_prefix)

    @property
    def max_workers(self) -> int:
        return self._max

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        return self._pool.submit(run_call, fn, args, kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


class ProcessExecutor(Executor):
    """Run calls on joblib's reusable (loky) pool of ``max_workers`` processes, for CPU-bound Python code.

    Calls and results are pickled with cloudpickle, so lambdas and local
    functions travel -- but a closure sees a copy of the driver's objects
    (``remote`` is True). The pool is loky's process-wide reusable one:
    :meth:`shutdown` leaves it up for the next user, as joblib does; a
    pool whose worker died is replaced on the next submission.

    Parameters
    ----------
    max_workers : int
        Processes in the pool.
    """

    remote = True
    stoppable = True

    def __init__(self, max_workers: int) -> None:
        self._max = check_size(max_workers, "ProcessExecutor() argument 'max_workers'", high=1_000)

    @property
    def max_workers(self) -> int:
        return self._max

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        from joblib.externals.loky import get_reusable_executor  # lazily: loky starts processes

        future: cf.Future[Any] = get_reusable_executor(max_workers=self._max).submit(
            run_call, fn, args, kwargs
        )
        return future
