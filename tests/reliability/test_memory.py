"""Memory stays bounded whatever the input: the sweep's three loops, in a fresh process (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("memory_probe.py")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the resident set size from /proc")
def test_memory_is_bounded_in_long_loops() -> None:
    proc = subprocess.run(
        [sys.executable, str(PROBE)], capture_output=True, text=True, timeout=900, check=True
    )
    result = json.loads(proc.stdout)
    for loop in ("process_metrics", "series_names", "learner_actions"):
        assert result[loop]["growth_mb"] <= 25.0, (loop, result[loop])
    hub = result["process_metrics"]["sizes"]
    assert hub["pending_predictions"] <= 2 * (1800 + 1)  # one per series per second of target time
    assert hub["load_history"] <= 10_000
    assert hub["predictions_held"] <= 1000
    assert hub["decisions_held"] <= 1000
    series = result["series_names"]["sizes"]
    assert series["series_held"] == 1000 + 1  # max_series named ones and the main series
    assert series["series_evicted"] == 100_000 - 1000
    learner = result["learner_actions"]["sizes"]
    assert learner["patterns"] == 10
    assert learner["pattern_action_pairs"] == 10 * 100  # max_actions_per_pattern under each pattern
    assert learner["evicted_actions"] == 100_000 - 10 * 100
