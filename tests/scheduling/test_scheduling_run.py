"""run()/arun() on every executor, claim(), result_of() references and async tasks."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

import cloudpickle
import pytest

from autoopt import AutomationConfig, TaskState
from autoopt._clock import ManualClock
from autoopt.execution import Executor, InlineExecutor, ProcessExecutor, ThreadExecutor
from autoopt.scheduling import Claim, IntelligentScheduler, TaskResult
from benchmarks.execution import dag as _dag

cloudpickle.register_pickle_by_value(_dag)  # workers need not import the tests' directory

LOCAL = {
    "inline": InlineExecutor,
    "threads": lambda: ThreadExecutor(4),
    "processes": lambda: ProcessExecutor(2),
}


def check_dag(layers: list[list[Any]], width: int, depth: int) -> None:
    want = _dag.reference(width, depth)
    got = [[task.result for task in layer] for layer in layers]
    assert got == want
    for level in range(1, depth):  # dependency order: no task started before both parents completed
        for i, task in enumerate(layers[level]):
            assert task.state is TaskState.COMPLETED
            for parent in (layers[level - 1][i], layers[level - 1][(i + 1) % width]):
                assert parent.completed_at <= task.started_at


@pytest.mark.parametrize("name", sorted(LOCAL))
def test_a_dag_gives_the_same_results_on_every_local_executor(name: str) -> None:
    sched = IntelligentScheduler(AutomationConfig(max_concurrent_tasks=8), history_limit=100_000)
    layers = _dag.schedule(sched, 20, 10)
    with LOCAL[name]() as executor:
        assert sched.run(executor) == 200
    check_dag(layers, 20, 10)


@pytest.mark.slow
def test_a_dag_gives_the_same_results_on_a_local_cluster(dask_client: Any) -> None:
    from autoopt.execution import DaskExecutor

    sched = IntelligentScheduler(AutomationConfig(max_concurrent_tasks=8), history_limit=100_000)
    layers = _dag.schedule(sched, 20, 10)
    assert sched.run(DaskExecutor(dask_client)) == 200
    check_dag(layers, 20, 10)


@pytest.mark.slow
@pytest.mark.parametrize("name", [*sorted(LOCAL), "dask"])
def test_the_10000_task_dag_on_every_executor(name: str, request: pytest.FixtureRequest) -> None:
    sched = IntelligentScheduler(AutomationConfig(max_concurrent_tasks=100), history_limit=100_000)
    layers = _dag.schedule(sched, 100, 100)
    if name == "dask":
        from autoopt.execution import DaskExecutor

        executor: Executor = DaskExecutor(request.getfixturevalue("dask_client"), max_workers=100)
    else:
        executor = LOCAL[name]()
    with executor:
        assert sched.run(executor) == 10_000
    check_dag(layers, 100, 100)


def test_async_tasks_are_awaited_by_run_run_pending_and_arun() -> None:
    for drive in ("run", "run_pending", "arun"):
        sched = IntelligentScheduler()
        layers = _dag.schedule(sched, 4, 3, fn=_dag.acombine)
        if drive == "arun":
            assert asyncio.run(sched.arun()) == 12
        else:
            assert getattr(sched, drive)() == 12
        check_dag(layers, 4, 3)


def test_arun_inside_a_running_loop_with_threads() -> None:
    async def main() -> list[int]:
        sched = IntelligentScheduler()
        tasks = [sched.schedule_task(f"t{i}", _dag.acombine, args=(i, i, 0)) for i in range(10)]
        with ThreadExecutor(3) as ex:
            assert await sched.arun(ex) == 10
        return [t.result for t in tasks]

    assert asyncio.run(main()) == [_dag.combine(i, i, 0) for i in range(10)]


def test_until_all_waits_through_backoffs_on_the_injected_sleep() -> None:
    clock = ManualClock(0.0)
    sched = IntelligentScheduler(clock=clock, retry_backoff_seconds=1.0)
    calls = Counter[str]()

    def flaky() -> str:
        calls["flaky"] += 1
        if calls["flaky"] < 4:
            raise RuntimeError("not yet")
        return "ok"

    task = sched.schedule_task("flaky", flaky, max_retries=5)
    later = sched.schedule_task("later", lambda: "later", scheduled_time=None)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    assert sched.run(until="idle", sleep=sleep) == 2  # flaky's first attempt and "later"; the retry waits
    assert task.state is TaskState.PENDING
    assert slept == []
    assert sched.run(until="all", sleep=sleep) == 3
    assert (task.state, task.result, later.result) == (TaskState.COMPLETED, "ok", "later")
    assert slept == [1.0, 2.0, 4.0]  # the backoffs 1, 2, 4 s, slept exactly


def test_claim_is_atomic_under_threads() -> None:
    sched = IntelligentScheduler(AutomationConfig(max_concurrent_tasks=10_000))
    tasks = [sched.schedule_task(f"t{i}", int, args=(i,)) for i in range(2_000)]
    claimed: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        while (claim := sched.claim()) is not None:
            with lock:
                claimed.append(claim.task.task_id)
            sched.complete_task(claim.task.task_id, result=claim.fn(*claim.args))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(t.task_id for t in tasks)  # each exactly once
    assert [t.result for t in tasks] == list(range(2_000))


def test_claim_respects_max_concurrent_tasks_and_resolves_the_call() -> None:
    sched = IntelligentScheduler(AutomationConfig(max_concurrent_tasks=2))
    a = sched.schedule_task("a", int, args=("7",))
    assert sched.run_pending() == 1
    b = sched.schedule_task("b", divmod, kwargs={"a": sched.result_of(a.task_id), "b": 2})
    c = sched.schedule_task("c", max, args=([sched.result_of(a.task_id), 3],))
    d = sched.schedule_task("d", int)
    first, second = sched.claim(), sched.claim()
    assert sched.claim() is None  # two running: the cap
    assert isinstance(first, Claim)
    assert (first.task, first.kwargs) == (b, {"a": 7, "b": 2})
    assert (second.task, second.args) == (c, ([7, 3],))
    assert b.kwargs == {"a": TaskResult(a.task_id), "b": 2}  # the record keeps the reference
    assert b.dependencies == [a.task_id]
    sched.complete_task(b.task_id, result=None)
    assert sched.claim().task is d


def test_referenced_results_outlive_the_history_until_their_dependents_finish() -> None:
    sched = IntelligentScheduler(history_limit=1)
    source = sched.schedule_task("source", lambda: {"rows": 3})
    gate = sched.schedule_task("gate", lambda: None)
    consumer = sched.schedule_task(
        "consumer", lambda data, _: data["rows"] * 2,
        args=(sched.result_of(source.task_id), sched.result_of(gate.task_id)),
    )  # fmt: skip
    assert sched.start_task(source.task_id)
    sched.complete_task(source.task_id, result={"rows": 3})
    for i in range(3):  # push source out of the one-task history
        filler = sched.schedule_task(f"filler{i}", lambda: 0)
        assert sched.start_task(filler.task_id)
        sched.complete_task(filler.task_id, result=0)
    assert sched.get_task(source.task_id) is None  # evicted from the history ...
    assert sched.run_pending() == 2  # ... yet gate, then consumer, runs with source's result
    assert consumer.result == 6


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"args": "abc"}, TypeError, "'args' must be a tuple or list"),
        ({"kwargs": [1]}, TypeError, "'kwargs' must be a mapping"),
        ({"kwargs": {1: 2}}, TypeError, "'kwargs' keys must be str"),
        ({"args": (TaskResult("nope"),)}, ValueError, "unknown task id 'nope'"),
    ],
)
def test_bad_task_descriptions_are_refused_and_nothing_is_recorded(kwargs, exc, match) -> None:
    sched = IntelligentScheduler()
    with pytest.raises(exc, match=match):
        sched.schedule_task("t", int, **kwargs)
    assert sched.get_queue_stats()["total_scheduled"] == 0


def test_bad_run_arguments_and_result_of_unknown_ids() -> None:
    sched = IntelligentScheduler()
    with pytest.raises(ValueError, match="result_of\\(\\) argument 'task_id' names an unknown task id"):
        sched.result_of("missing")
    with pytest.raises(
        TypeError, match=r"run\(\) argument 'executor' must be an autoopt\.execution\.Executor"
    ):
        sched.run(executor="threads")
    with pytest.raises(ValueError, match="run\\(\\) argument 'until' must be 'idle' or 'all'"):
        sched.run(until="forever")


@pytest.mark.slow
def test_an_impossible_resource_request_raises_at_submission(dask_client: Any) -> None:
    from autoopt.execution import DaskExecutor

    sched = IntelligentScheduler()
    task = sched.schedule_task("gpu job", int, resource_requirements={"memory": 10.0}, max_retries=0)
    with pytest.raises(ValueError, match=r"resource 'memory', but no worker declares it"):
        sched.run(DaskExecutor(dask_client))
    assert task.state is TaskState.FAILED
    assert "submission failed" in task.error


def test_lambdas_over_driver_state_work_on_the_in_process_executors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Closures read the driver's memory on inline and threads (not on processes: they get a copy)."""
    seen: list[int] = []
    for make in (InlineExecutor, lambda: ThreadExecutor(3)):
        sched = IntelligentScheduler()
        first = sched.schedule_task("first", lambda: seen.append(1) or 21)
        sched.schedule_task("second", lambda first=first: 2 * first.result, dependencies=[first.task_id])
        with make() as ex:
            assert sched.run(ex, show_progress_bar=True) == 2
        assert sched.list_tasks(TaskState.COMPLETED, limit=1)[0].result == 42
    assert seen == [1, 1]
    assert "tasks: 100%" in capsys.readouterr().err  # the tqdm bar, when asked for


@pytest.mark.slow
def test_arun_on_a_local_cluster(dask_client: Any) -> None:
    """The async driver on dask: completions arrive from the result-fetching thread, thread-safely."""
    from autoopt.execution import DaskExecutor

    sched = IntelligentScheduler(history_limit=10_000)
    layers = _dag.schedule(sched, 10, 5, fn=_dag.acombine)
    assert asyncio.run(sched.arun(DaskExecutor(dask_client))) == 50
    check_dag(layers, 10, 5)


def _count_chained(sched: IntelligentScheduler) -> list[str]:
    chained: list[str] = []
    original = sched.claim_chained

    def spy(task_id: str, running: Any) -> Any:
        got = original(task_id, running)
        if got is not None:
            chained.append(task_id)
        return got

    sched.claim_chained = spy  # type: ignore[method-assign]
    return chained


@pytest.mark.slow
def test_dask_chains_tasks_on_running_dependencies_with_the_same_results(dask_client: Any) -> None:
    from autoopt.execution import DaskExecutor

    sched = IntelligentScheduler(AutomationConfig(max_concurrent_tasks=1000), history_limit=100_000)
    chained = _count_chained(sched)
    layers = _dag.schedule(sched, 20, 10)
    assert sched.run(DaskExecutor(dask_client, max_workers=1000)) == 200
    check_dag(layers, 20, 10)  # results, and no task recorded as started before its parents completed
    assert len(chained) > 50  # most layers were submitted before their parents finished


@pytest.mark.slow
def test_dask_chained_tasks_wait_for_a_retried_dependency_and_are_cancelled_by_a_failed_one(
    dask_client: Any, tmp_path: Any
) -> None:
    import os
    import time

    from autoopt.execution import DaskExecutor

    marker = str(tmp_path / "failed-once")

    def flaky(x: int) -> int:
        time.sleep(0.3)  # long enough for the dependents to be chained on it
        if not os.path.exists(marker):
            open(marker, "w").close()
            raise ConnectionError("first try fails")
        return x

    def broken(x: int) -> int:
        time.sleep(0.3)
        raise ValueError(f"bad {x}")

    sched = IntelligentScheduler(
        AutomationConfig(max_concurrent_tasks=100), retry_backoff_seconds=0.0, history_limit=1000
    )
    chained = _count_chained(sched)
    a = sched.schedule_task("a", flaky, args=(7,), max_retries=1)
    b = sched.schedule_task("b", _dag.combine, args=(sched.result_of(a.task_id), 1, 2))
    c = sched.schedule_task("c", _dag.combine, args=(sched.result_of(b.task_id), 3, 4))
    x = sched.schedule_task("x", broken, args=(1,), max_retries=0)
    y = sched.schedule_task("y", _dag.combine, args=(sched.result_of(x.task_id), 1, 2))
    z = sched.schedule_task("z", _dag.combine, args=(sched.result_of(y.task_id), 3, 4))
    sched.run(DaskExecutor(dask_client, max_workers=100), until="all")
    assert {b.task_id, y.task_id} <= set(chained)
    assert (a.state, a.retries, a.result) == (TaskState.COMPLETED, 1, 7)
    assert (b.state, b.retries, b.result) == (TaskState.COMPLETED, 0, _dag.combine(7, 1, 2))
    assert c.result == _dag.combine(b.result, 3, 4)
    assert x.state is TaskState.FAILED
    for task in (y, z):
        assert task.state is TaskState.CANCELLED
        assert task.error == f"dependency {x.task_id} (x) failed: ValueError: bad 1"
