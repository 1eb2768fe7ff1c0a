"""DaskExecutor on a LocalCluster: the same results as the local executors, priorities and resources."""

from __future__ import annotations

import os
from typing import Any

import _calls
import cloudpickle
import pytest
from _calls import async_add, fail, pid, square

from autoopt.execution import DaskExecutor

cloudpickle.register_pickle_by_value(_calls)

pytestmark = pytest.mark.slow


def test_results_errors_and_coroutines(dask_client: Any) -> None:
    ex = DaskExecutor(dask_client)
    assert ex.max_workers == 32  # max(32, 4 x the 2 threads): enough in flight to hide the round trips
    assert ex.remote
    futures = [ex.submit(square, k) for k in range(20)]
    assert [f.result(timeout=60) for f in futures] == [k * k for k in range(20)]
    with pytest.raises(KeyError, match="boom"):
        ex.submit(fail, "boom").result(timeout=60)
    assert ex.submit(async_add, 2, b=5).result(timeout=60) == 7
    assert ex.submit(pid).result(timeout=60) != os.getpid()


def test_priority_and_resources_reach_dask(dask_client: Any) -> None:
    ex = DaskExecutor(dask_client, max_workers=5)
    assert ex.max_workers == 5
    assert ex.worker_resources() == {"cpu": 2.0}
    future = ex.submit_task(square, (4,), priority=10, resources={"cpu": 2}, key="square-4")
    assert future.result(timeout=60) == 16
    assert future.remote_future.key == "square-4"


@pytest.mark.parametrize(
    ("resources", "match"),
    [
        ({"gpu": 1}, "asks for 1 of resource 'gpu', but no worker declares it"),
        ({"cpu": 3}, "asks for 3 of resource 'cpu', but at most 2 on one worker"),
        ({"cpu": float("nan")}, "resource 'cpu' must be a finite amount >= 0"),
    ],
)
def test_a_request_no_worker_can_meet_raises_at_submission(dask_client: Any, resources, match) -> None:
    ex = DaskExecutor(dask_client)
    with pytest.raises(ValueError, match=match):
        ex.submit_task(square, (1,), resources=resources)


def test_only_a_client_is_accepted() -> None:
    pytest.importorskip("distributed")
    with pytest.raises(TypeError, match=r"DaskExecutor\(\) argument 'client' must be a distributed\.Client"):
        DaskExecutor("tcp://127.0.0.1:8786")


def test_a_workflow_runs_on_the_cluster_and_times_out_a_stuck_step(dask_client: Any) -> None:
    import os
    import time

    from autoopt.workflows import Actions, RunStore, Workflow, execute

    actions = Actions()
    actions.register("pid", lambda: os.getpid())
    actions.register("add", lambda a, b: a + b)
    actions.register("stuck", lambda: time.sleep(3))  # keeps a worker thread 3 s
    wf = Workflow.from_dict({"metadata": {"id": "on-dask"}, "steps": [
        {"id": "p", "action_type": "python", "action": "pid"},
        {"id": "s", "action_type": "python", "action": "add", "parameters": {"a": "${steps.p.output}", "b": 1},
         "dependencies": ["p"]},
        {"id": "t", "action_type": "python", "action": "stuck", "timeout": 0.5},
    ]})  # fmt: skip
    run = execute(wf, actions=actions, store=RunStore("sqlite://"), executor=DaskExecutor(dask_client))
    worker_pid = run.steps["p"].output
    assert worker_pid != os.getpid()  # ran on a worker process, the Actions registry pickled there
    assert run.steps["s"].output == worker_pid + 1
    assert run.steps["t"].state == "TIMED_OUT"
    assert "late result will be discarded" in (run.steps["t"].error or "")
