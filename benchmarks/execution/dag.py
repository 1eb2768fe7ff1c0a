"""A layered DAG for the execution benchmark and tests: node (l, i) combines nodes (l-1, i) and (l-1, i+1).

Module-level callables, so process and dask workers can unpickle them (the callers also register this
module with cloudpickle by value, so workers need not import ``benchmarks``).
"""

from __future__ import annotations

import asyncio
from typing import Any

MOD = 1_000_003


def combine(a: int, b: int, salt: int) -> int:
    return (a * 31 + b + salt) % MOD


async def acombine(a: int, b: int, salt: int) -> int:
    await asyncio.sleep(0)
    return combine(a, b, salt)


def reference(width: int, depth: int) -> list[list[int]]:
    """Every node's value, computed directly: layer 0 is ``i``, node (l, i) combines (l-1, i) and (l-1, i+1)."""
    layers = [list(range(width))]
    for level in range(1, depth):
        prev = layers[-1]
        layers.append([combine(prev[i], prev[(i + 1) % width], level * width + i) for i in range(width)])
    return layers


def schedule(sched: Any, width: int, depth: int, fn: Any = combine) -> list[list[Any]]:
    """The DAG on ``sched``: each node's arguments reference its two parents' results."""
    layers = [[sched.schedule_task(f"n0-{i}", int, args=(i,)) for i in range(width)]]
    for level in range(1, depth):
        prev = layers[-1]
        layers.append(
            [
                sched.schedule_task(
                    f"n{level}-{i}",
                    fn,
                    args=(
                        sched.result_of(prev[i].task_id),
                        sched.result_of(prev[(i + 1) % width].task_id),
                        level * width + i,
                    ),
                )
                for i in range(width)
            ]
        )
    return layers


def raw_dask(client: Any, width: int, depth: int) -> list[int]:
    """The same DAG as plain ``client.submit`` calls on each other's futures (dask resolves them on the
    cluster); the last layer's values."""
    prev = [client.submit(int, i, pure=False) for i in range(width)]
    for level in range(1, depth):
        prev = [
            client.submit(combine, prev[i], prev[(i + 1) % width], level * width + i, pure=False)
            for i in range(width)
        ]
    return list(client.gather(prev))


def raw_pool(pool: Any, width: int, depth: int) -> list[int]:
    """The same DAG on a ``concurrent.futures`` pool, a layer at a time; the last layer's values."""
    values = list(range(width))
    for level in range(1, depth):
        futures = [
            pool.submit(combine, values[i], values[(i + 1) % width], level * width + i) for i in range(width)
        ]
        values = [f.result() for f in futures]
    return values
