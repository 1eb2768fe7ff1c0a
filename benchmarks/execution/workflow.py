"""What durability costs: a workflow run recorded step by step, against the scheduler running the same DAG.

The DAG is :mod:`benchmarks.execution.dag`'s layered one (``--width`` x ``--depth``, each node combining
its two parents' results), as workflow steps whose parameters reference ``${steps.<id>.output}``. Each
run is inline (the step work is microseconds, so what is timed is orchestration):

- ``scheduler``: ``IntelligentScheduler.run`` with ``result_of`` references (nothing persisted);
- ``workflow, sqlite://``: :func:`autoopt.workflows.execute` on an in-memory SQLite store;
- ``workflow, sqlite file``: the same on an SQLite file (what survives ``kill -9``);
- ``workflow, postgresql``: on PostgreSQL, when ``AUTOOPT_TEST_POSTGRES_URL`` is set (``.ci/run``
  starts a server).

Reported: the median over ``--reps`` interleaved repetitions of the milliseconds per step, and each
workflow store's ratio to the scheduler in the same run. Every run's outputs are checked against the
direct computation.

Usage::

    python -m benchmarks.execution.workflow                 # 10 x 10 steps, 5 repetitions
    python -m benchmarks.execution.workflow --reps 7 --width 20
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

from autoopt import AutomationConfig
from autoopt.scheduling import IntelligentScheduler
from autoopt.workflows import Actions, RunStore, Workflow, execute
from benchmarks.execution import dag


def workflow(width: int, depth: int) -> Workflow:
    steps: list[dict[str, Any]] = [
        {"id": f"n0-{i}", "action_type": "python", "action": "seed", "parameters": {"value": i}}
        for i in range(width)
    ]
    for level in range(1, depth):
        for i in range(width):
            a, b = f"n{level - 1}-{i}", f"n{level - 1}-{(i + 1) % width}"
            steps.append({
                "id": f"n{level}-{i}", "action_type": "python", "action": "combine",
                "parameters": {"a": f"${{steps.{a}.output}}", "b": f"${{steps.{b}.output}}",
                               "salt": level * width + i},
                "dependencies": [a, b],
            })  # fmt: skip
    return Workflow.from_dict({"metadata": {"id": f"dag-{width}x{depth}"}, "steps": steps})


def scheduled(width: int, depth: int) -> list[int]:
    sched = IntelligentScheduler(AutomationConfig(max_concurrent_tasks=width))
    layers = dag.schedule(sched, width, depth)
    sched.run()
    out: list[int] = []
    for t in layers[-1]:
        task = sched.get_task(t.task_id)
        if task is None or not isinstance(task.result, int):
            raise AssertionError(f"task {t.task_id}: no int result")
        out.append(task.result)
    return out


def durable(wf: Workflow, actions: Actions, store: RunStore, width: int, depth: int) -> list[int]:
    run = execute(wf, actions=actions, store=store, run_id=uuid.uuid4().hex)
    if run.state != "SUCCEEDED":
        raise AssertionError(f"the workflow run ended {run.state}: {run.cause}")
    return [run.steps[f"n{depth - 1}-{i}"].output for i in range(width)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=10)
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    w, d = args.width, args.depth
    n = w * d
    want = dag.reference(w, d)[-1]
    wf = workflow(w, d)
    actions = Actions()
    actions.register("seed", lambda value: value)
    actions.register("combine", dag.combine)
    tmp = tempfile.mkdtemp(prefix="autoopt-wf-bench-")
    runs: dict[str, Callable[[], list[int]]] = {"scheduler": lambda: scheduled(w, d)}
    stores = {"sqlite://": RunStore("sqlite://"), "sqlite file": RunStore(os.path.join(tmp, "runs.db"))}
    pg = os.environ.get("AUTOOPT_TEST_POSTGRES_URL")
    if pg:
        stores["postgresql"] = RunStore(pg)
    for label, store in stores.items():
        runs[f"workflow, {label}"] = functools.partial(durable, wf, actions, store, w, d)
    times: dict[str, list[float]] = {k: [] for k in runs}
    for fn in runs.values():
        fn()  # warm-up
    for _ in range(args.reps):
        for name, fn in runs.items():
            start = time.perf_counter()
            got = fn()
            times[name].append(time.perf_counter() - start)
            if got != want:
                raise AssertionError(f"{name}: the DAG's results differ from the direct computation")
    base = statistics.median(times["scheduler"])
    print(f"## Durable workflow runs: {w} x {d} = {n} steps, inline, median of {args.reps} repetitions\n")
    print("| run | ms per step | ms per run | vs scheduler |")
    print("|---|---:|---:|---:|")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| {name} | {1e3 * med / n:.3f} | {1e3 * med:.1f} | {med / base:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
