"""Shared fixtures: where the project's real data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def find_shared_data() -> Path | None:
    """The shared data folder: $AUTOOPT_SHARED_DATA, ../shared/data from the repo, or /work/shared/data."""
    candidates = [os.environ.get("AUTOOPT_SHARED_DATA"), ROOT.parent / "shared" / "data", "/work/shared/data"]
    for c in candidates:
        if c and (Path(c) / "README.md").is_file():
            return Path(c)
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = find_shared_data()
    if path is None:
        pytest.skip(
            "the shared real-data folder was not found; set AUTOOPT_SHARED_DATA to the folder holding "
            "traces/ and nab/ (it lives at ../shared/data beside the repository)"
        )
    return path
