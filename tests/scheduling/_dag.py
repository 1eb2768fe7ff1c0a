"""A layered DAG for the executor tests: module-level callables, so workers can unpickle them."""

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
