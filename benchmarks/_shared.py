"""Where the project's shared real data lives, for the benchmarks and the tests."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ROOT", "find_shared_data"]

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
