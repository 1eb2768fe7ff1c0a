"""The benchmark scripts run (tiny sizes; the real runs are documented in README.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_hot_path_benchmark_runs(tmp_path):
    out = tmp_path / "hot.json"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_hot_paths.py"),
            "--small",
            "50",
            "--large",
            "400",
            "--calls-scale",
            "0.02",
            "--json",
            str(out),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    result = json.loads(out.read_text())
    names = {r["hot_path"] for r in result["rows"]}
    assert names == {
        "predict",
        "record_observation",
        "get_next_task",
        "get_next_task_constrained",
        "get_average_metrics",
        "record_feedback",
        "evaluate",
    }
    assert result["predictor_vs_statsmodels"]["max_rel_diff_interval"] < 1e-9
