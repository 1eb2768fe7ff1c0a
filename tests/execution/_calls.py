"""Module-level callables, so that process and dask workers can unpickle them by reference."""

from __future__ import annotations

import asyncio
import os


def square(x: int) -> int:
    return x * x


def fail(message: str) -> None:
    raise KeyError(message)


async def async_add(a: int, b: int = 1) -> int:
    await asyncio.sleep(0)
    return a + b


def pid() -> int:
    return os.getpid()
