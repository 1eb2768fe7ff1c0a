"""Orchestration overhead of ``IntelligentScheduler.run`` on each executor, against raw submission.

Three measurements, each printed as a table, with a JSON of everything:

1. **Overhead per task.** A layered DAG ``--width`` wide (100) and ``--depth`` deep (10), where each
   node combines its two parents' results (:mod:`benchmarks.execution.dag`), run by the scheduler
   (``result_of`` references; no cap on the tasks in flight by default, like raw dask, or ``--cap N``)
   and by a raw reference on the same workers in the same process: ``client.submit`` on the parents' futures for dask (dask resolves them on
   the cluster), a ``concurrent.futures`` pool a layer at a time for threads and processes, a plain loop
   for inline. Reported: the median over ``--reps`` (5) interleaved pairs of the time per task of each,
   and the median of the paired ratios.
2. **Speed-up on independent tasks.** ``--io-tasks`` (64) tasks that each wait 20 ms (I/O-bound, a
   real sleep) on 16 threads against inline; and CPU-bound tasks (a 20 ms pure-Python loop) on
   ``min(2, cores)`` processes, reported against that ideal.
3. **The 10,000-task DAG** (100 x 100) on every executor: wall time and time per task.

The dask cluster is a ``LocalCluster`` of 2 worker processes with one thread each. Absolute times on a
shared 2-core machine are noise; the ratios in one run are the result.

Usage::

    python -m benchmarks.execution.run                  # all three, 5 pairs
    python -m benchmarks.execution.run --reps 7 --json execution.json
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import functools
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import cloudpickle

from autoopt import AutomationConfig
from autoopt.execution import DaskExecutor, Executor, InlineExecutor, ProcessExecutor, ThreadExecutor
from autoopt.scheduling import IntelligentScheduler
from benchmarks.execution import dag

cloudpickle.register_pickle_by_value(dag)


def scheduled(executor: Executor, width: int, depth: int, cap: int = 0) -> list[int]:
    """The DAG through ``IntelligentScheduler.run``: at most ``cap`` tasks in flight (0: no cap)."""
    cap = cap or width * depth
    sched = IntelligentScheduler(AutomationConfig(max_concurrent_tasks=cap), history_limit=10 * width * depth)
    layers = dag.schedule(sched, width, depth)
    sched.run(executor)
    return [task.result for task in layers[-1]]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def overhead(executors: dict[str, Executor], raws: dict[str, Callable[[], list[int]]], width: int, depth: int,
             reps: int, cap: int) -> dict[str, dict[str, float]]:  # fmt: skip
    n = width * depth
    want = dag.reference(width, depth)[-1]
    out = {}
    for name, executor in executors.items():
        scheduled(executor, width, depth)  # warm the workers and the imports
        raws[name]()
        ours_t, raw_t, ratios = [], [], []
        for _ in range(reps):
            t_raw, got_raw = timed(raws[name])
            t_ours, got = timed(functools.partial(scheduled, executor, width, depth, cap))
            if got != want or got_raw != want:
                raise AssertionError(f"{name}: the DAG's results differ from the direct computation")
            raw_t.append(t_raw)
            ours_t.append(t_ours)
            ratios.append(t_ours / t_raw)
        out[name] = {
            "tasks": n,
            "ours_ms_per_task": 1e3 * statistics.median(ours_t) / n,
            "raw_ms_per_task": 1e3 * statistics.median(raw_t) / n,
            "median_paired_ratio": statistics.median(ratios),
            "min_paired_ratio": min(ratios),
            "max_paired_ratio": max(ratios),
        }
    return out


def io_task(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def cpu_task(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def independent(n: int, fn: Callable[..., Any], arg: Any, executor: Executor) -> float:
    sched = IntelligentScheduler(AutomationConfig(max_concurrent_tasks=1000))
    for i in range(n):
        sched.schedule_task(f"t{i}", fn, args=(arg,))
    t, _ = timed(lambda: sched.run(executor))
    return t


def speedups(io_tasks: int, cpu_tasks: int) -> dict[str, Any]:
    inline = InlineExecutor()
    with ThreadExecutor(16) as threads:
        independent(4, io_task, 0.0, threads)
        t_inline = independent(io_tasks, io_task, 0.02, inline)
        t_threads = independent(io_tasks, io_task, 0.02, threads)
    cores = os.cpu_count() or 1
    workers = min(2, cores)
    loops = 400_000  # about 20 ms of pure Python here
    procs = ProcessExecutor(workers)
    independent(workers, cpu_task, 10, procs)
    c_inline = independent(cpu_tasks, cpu_task, loops, inline)
    c_procs = independent(cpu_tasks, cpu_task, loops, procs)
    return {
        "io": {"tasks": io_tasks, "threads": 16, "inline_s": t_inline, "threads_s": t_threads,
               "speedup": t_inline / t_threads},
        "cpu": {"tasks": cpu_tasks, "processes": workers, "cores": cores, "inline_s": c_inline,
                "processes_s": c_procs, "speedup": c_inline / c_procs, "ideal": float(workers)},
    }  # fmt: skip


def big_dag(executors: dict[str, Executor]) -> dict[str, dict[str, float]]:
    want = dag.reference(100, 100)[-1]
    out = {}
    for name, executor in executors.items():
        t, got = timed(functools.partial(scheduled, executor, 100, 100))
        if got != want:
            raise AssertionError(f"{name}: the 10,000-task DAG's results differ")
        out[name] = {"seconds": t, "ms_per_task": 1e3 * t / 10_000}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=100)
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--io-tasks", type=int, default=64)
    parser.add_argument("--cpu-tasks", type=int, default=16)
    parser.add_argument("--skip-big", action="store_true", help="skip the 10,000-task DAG")
    parser.add_argument(
        "--cap", type=int, default=0,
        help="the most tasks in flight (max_concurrent_tasks, and the dask executor's max_workers); "
             "default 0: all of them, as raw dask, which submits the whole graph at once",
    )  # fmt: skip
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    from distributed import Client, LocalCluster

    result: dict[str, Any] = {"width": args.width, "depth": args.depth, "reps": args.reps, "cap": args.cap}
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                     silence_logs=40) as cluster,
        Client(cluster) as client,
        ThreadExecutor(4) as threads,
        cf.ThreadPoolExecutor(4) as raw_threads,
    ):  # fmt: skip
        from joblib.externals.loky import get_reusable_executor

        executors: dict[str, Executor] = {
            "inline": InlineExecutor(),
            "threads": threads,
            "processes": ProcessExecutor(2),
            "dask": DaskExecutor(client, max_workers=args.cap or 10_000),
        }
        w, d = args.width, args.depth
        raws: dict[str, Callable[[], list[int]]] = {
            "inline": lambda: dag.reference(w, d)[-1],
            "threads": lambda: dag.raw_pool(raw_threads, w, d),
            "processes": lambda: dag.raw_pool(get_reusable_executor(max_workers=2), w, d),
            "dask": lambda: dag.raw_dask(client, w, d),
        }
        result["overhead"] = overhead(executors, raws, w, d, args.reps, args.cap)
        result["speedup"] = speedups(args.io_tasks, args.cpu_tasks)
        if not args.skip_big:
            result["dag_10000"] = big_dag(executors)

    cap = f"at most {args.cap} in flight" if args.cap else "no cap on tasks in flight, as raw dask"
    print(f"## Overhead per task: {w} x {d} DAG, {cap}, median of {args.reps} interleaved pairs\n")
    print("| executor | scheduler, ms/task | raw, ms/task | paired ratio (median, range) |")
    print("|---|---|---|---|")
    for name, r in result["overhead"].items():
        print(f"| {name} | {r['ours_ms_per_task']:.3f} | {r['raw_ms_per_task']:.3f} | "
              f"{r['median_paired_ratio']:.2f} ({r['min_paired_ratio']:.2f}-{r['max_paired_ratio']:.2f}) |")  # fmt: skip
    s = result["speedup"]
    print(f"\nI/O-bound: {s['io']['tasks']} x 20 ms waits, 16 threads {s['io']['threads_s']:.2f} s vs inline "
          f"{s['io']['inline_s']:.2f} s = {s['io']['speedup']:.1f}x")  # fmt: skip
    print(f"CPU-bound: {s['cpu']['tasks']} x ~20 ms loops on {s['cpu']['processes']} processes "
          f"({s['cpu']['cores']} cores): {s['cpu']['speedup']:.2f}x of an ideal {s['cpu']['ideal']:.0f}x")  # fmt: skip
    if "dag_10000" in result:
        print("\n## The 10,000-task DAG (100 x 100)\n")
        for name, r in result["dag_10000"].items():
            print(f"- {name}: {r['seconds']:.1f} s, {r['ms_per_task']:.2f} ms/task")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
