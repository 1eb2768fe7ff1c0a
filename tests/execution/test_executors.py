"""The executor protocol: every local executor returns the same results, errors and awaited coroutines."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import os
import threading

import _calls
import cloudpickle
import pytest
from _calls import async_add, fail, pid, square

from autoopt.execution import Executor, InlineExecutor, ProcessExecutor, ThreadExecutor, run_call

cloudpickle.register_pickle_by_value(_calls)  # workers need not import the tests' directory

MAKERS = {
    "inline": InlineExecutor,
    "threads": lambda: ThreadExecutor(3),
    "processes": lambda: ProcessExecutor(2),
}


@pytest.fixture(params=sorted(MAKERS))
def executor(request: pytest.FixtureRequest) -> Executor:
    with MAKERS[request.param]() as ex:
        yield ex


def test_results_errors_and_coroutines_are_the_same_everywhere(executor: Executor) -> None:
    futures = [executor.submit(square, k) for k in range(20)]
    assert [f.result(timeout=60) for f in futures] == [k * k for k in range(20)]
    with pytest.raises(KeyError, match="boom"):
        executor.submit(fail, "boom").result(timeout=60)
    # an async callable is awaited on the worker: its value comes back, never a coroutine object
    assert executor.submit(async_add, 2, b=5).result(timeout=60) == 7
    assert executor.submit_task(async_add, (1,), {"b": 2}, priority=5, resources={"cpu": 1}).result(60) == 3


def test_where_calls_run(executor: Executor) -> None:
    where = executor.submit(pid).result(timeout=60)
    assert (where != os.getpid()) == executor.remote
    assert (
        executor.max_workers
        == {"InlineExecutor": 1, "ThreadExecutor": 3, "ProcessExecutor": 2}[type(executor).__name__]
    )


def test_threads_run_max_workers_calls_at_once() -> None:
    barrier = threading.Barrier(4, timeout=30)  # passes only when 4 calls wait on it together
    with ThreadExecutor(4) as ex:
        futures = [ex.submit(barrier.wait) for _ in range(4)]
        assert sorted(f.result(timeout=60) for f in futures) == [0, 1, 2, 3]


def test_inline_runs_at_submission_and_keeps_base_exceptions() -> None:
    seen: list[int] = []
    future = InlineExecutor().submit(seen.append, 1)
    assert future.done()
    assert seen == [1]

    def interrupt() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        InlineExecutor().submit(interrupt).result()


def test_a_coroutine_is_awaited_even_inside_a_running_loop() -> None:
    """The inline executor in a notebook: an event loop already runs in the calling thread."""

    async def main() -> int:
        return InlineExecutor().submit(async_add, 40, 2).result()

    assert asyncio.run(main()) == 42
    assert run_call(async_add, (1,), {"b": 1}) == 2


def test_threads_shutdown_cancels_queued_calls() -> None:
    gate = threading.Event()
    ex = ThreadExecutor(1)
    first = ex.submit(gate.wait, 30)
    queued = ex.submit(square, 3)
    ex.shutdown(wait=False, cancel_futures=True)
    gate.set()
    assert first.result(timeout=60) is True
    with pytest.raises(cf.CancelledError):
        queued.result(timeout=60)


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda: ThreadExecutor(0), ValueError, "ThreadExecutor\\(\\) argument 'max_workers'"),
        (lambda: ThreadExecutor(2.0), TypeError, "ThreadExecutor\\(\\) argument 'max_workers'"),
        (lambda: ProcessExecutor(-1), ValueError, "ProcessExecutor\\(\\) argument 'max_workers'"),
    ],
)
def test_bad_parameters_are_refused(make, exc, match) -> None:
    with pytest.raises(exc, match=match):
        make()
