"""Where the project's shared real data lives, for the benchmarks and the tests."""

from __future__ import annotations

import contextlib
import importlib
import os
import platform
from collections.abc import Iterator
from pathlib import Path

__all__ = ["ROOT", "blas_threads", "environment", "find_shared_data"]

ROOT = Path(__file__).resolve().parents[1]
"""The repository's root folder."""


def find_shared_data() -> Path | None:
    """The shared data folder: $AUTOOPT_SHARED_DATA, ../shared/data beside the repository, or /work/shared/data.

    A candidate counts when it holds the data's README.md; ``None`` when none does.
    """
    candidates = [os.environ.get("AUTOOPT_SHARED_DATA"), ROOT.parent / "shared" / "data", "/work/shared/data"]
    for c in candidates:
        if c and (Path(c) / "README.md").is_file():
            return Path(c)
    return None


@contextlib.contextmanager
def blas_threads(threads: int) -> Iterator[None]:
    """Limit BLAS and OpenMP to ``threads`` threads inside the block (threadpoolctl); 0 changes nothing.

    The benchmarks compare compute single-threaded, so that no method's time depends on how busy
    the other core of a shared machine is.
    """
    if threads < 0:
        raise ValueError(f"blas_threads() argument 'threads' must be >= 0; got {threads}.")
    if threads == 0:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        yield


def environment(*packages: str) -> dict[str, str | int | None]:
    """The machine and library versions a benchmark result was measured with: Python, platform, CPUs,
    and ``numpy`` plus each of ``packages`` (their ``__version__``)."""
    out: dict[str, str | int | None] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    for name in ("numpy", *packages):
        out[name] = str(getattr(importlib.import_module(name), "__version__", "unknown"))
    return out
