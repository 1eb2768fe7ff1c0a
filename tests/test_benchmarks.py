"""The benchmark scripts run (tiny sizes; the real runs are documented in README.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_module(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m module args`` from the repository root; fails the test on a non-zero exit."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )


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
        "predict (seasonal path)",
        "AnomalyDetector.update",
        "record_observation",
        "get_next_task",
        "get_next_task_constrained",
        "get_average_metrics",
        "record_feedback",
        "evaluate",
    }
    assert result["predictor_vs_statsmodels"]["max_rel_diff_interval"] < 1e-9


def test_tuning_benchmark_runs(tmp_path):
    """Every method of the tuning benchmark on two problems, a few trials, one seed, with the extras."""
    from benchmarks.tuning.run import METHODS

    out = tmp_path / "tuning.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.tuning.run",
            "--tier",
            "ci",
            "--problems",
            "branin,mixed6",
            "--methods",
            ",".join(METHODS),
            "--seeds",
            "0",
            "--trials",
            "6",
            "--overhead-trials",
            "20",
            "--overhead-rounds",
            "2",
            "--sampler-time-trials",
            "4",
            "--quiet",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    result = json.loads(out.read_text())
    assert {(c["method"], c["problem"]) for c in result["cells"]} == {
        (m, p) for m in METHODS for p in ("branin", "mixed6")
    }
    assert all(c["error"] is None and len(c["values"]) == 6 for c in result["cells"])
    assert set(result["summary"]["summary"]) == set(METHODS)
    assert result["summary"]["summary"]["optuna.Random"]["geo_mean_normalised_regret"] == 1.0
    overhead = result["extras"]["overhead"]["samplers"]
    assert set(overhead) == {"RandomSampler", "TPESampler"}
    assert all(o["same_proposals"] for o in overhead.values())  # the tuner proposes what Optuna does
    assert [r["problem"] for r in result["extras"]["sampler_time"]] == ["hartmann6", "mixed6"]
    statuses = {c["check"]: c["status"] for c in result["checks"]}
    assert len(statuses) == 8
    assert statuses["every cell ran without an error"] == "PASS"
    assert "| autoopt.adaptive |" in proc.stdout
    assert "### Checks" in proc.stdout


def test_forecast_batch_benchmark_runs(tmp_path, shared_data):
    out = tmp_path / "batch.json"
    run_module(
        "benchmarks.bench_forecast_batch",
        "--series",
        "6",
        "--length",
        "700",
        "--hw-sample",
        "1",
        "--json",
        str(out),
    )
    result = json.loads(out.read_text())
    assert result["series"] == 6
    assert result["finite"]
    assert result["max_rel_diff_batch_vs_loop"] < 1e-9


def test_backtest_benchmark_runs(tmp_path):
    """The backtest against the evaluate loop, at a small size: they agree on every row."""
    out = tmp_path / "backtest.json"
    run_module(
        "benchmarks.bench_backtest",
        "--rows",
        "3000",
        "--runs",
        "1",
        "--json",
        str(out),
    )
    result = json.loads(out.read_text())
    assert result["rows"] == 3000
    assert result["mismatched_rows"] == 0
    assert 0 < result["fired_pct"] <= 10


def test_autoscale_benchmark_runs(tmp_path):
    """The autoscale harness's CI tier on NASA August: one row per policy and frontier point, in the issue's form."""
    out = tmp_path / "autoscale.json"
    proc = run_module(
        "benchmarks.autoscale",
        "--tier",
        "ci",
        "--eval-trace",
        "nasa-august",
        "--json",
        str(out),
    )
    doc = json.loads(out.read_text())
    rows = doc["policies"]
    names = {r["name"] for r in rows}
    assert {"hpa", "hpa_tuned", "rules", "predictive", "static", "oracle", "dqn", "dqn+rules"} <= names, names
    (training,) = doc["dqn_training"]  # the CI tier: one seed, a reduced budget
    assert training["total_steps"] == 8_000
    assert training["steps_per_second"] > 0
    assert training["wall_seconds"] > 0
    assert {d["policy"] for d in doc["dominance"]} == {"dqn", "dqn+rules"}
    assert all(
        d["lower_cost"]["required"] == 0.10 for d in doc["dominance"] if d["lower_cost"].get("required")
    )
    keys = {
        "name",
        "params",
        "seed",
        "cost_vs_oracle",
        "violation_minutes_pct",
        "drop_pct",
        "scaling_actions",
    }
    assert all(keys <= set(r) for r in rows)
    oracle = [r for r in rows if r["name"] == "oracle"]
    assert all(r["cost_vs_oracle"] == 1.0 for r in oracle)
    static = [r for r in rows if r["name"] == "static"]
    assert all(
        r["violation_minutes_pct"] <= min(x["violation_minutes_pct"] for x in rows) + 1e-9 for r in static
    )
    assert "nasa-august" in proc.stdout


def test_dqn_decision_benchmark_runs(tmp_path):
    out = tmp_path / "dqn.json"
    proc = run_module("benchmarks.bench_dqn_decision", "--calls", "300", "--json", str(out))
    doc = json.loads(out.read_text())
    assert doc["calls"] == 300
    assert set(doc["rows"]) == {"engine.evaluate, DQN + guard", "engine.evaluate, rules only",
                                "DQNPolicy.propose", "NumPy forward pass"}  # fmt: skip
    assert doc["policy_stats"]["errors"] == 0
    assert "budget 200 µs" in proc.stdout


def test_tuning_robustness_benchmark_runs_and_scores_as_its_protocol_says(tmp_path):
    import numpy as np

    from benchmarks.tuning import robust

    out = tmp_path / "r.json"
    proc = run_module(
        "benchmarks.tuning.robust", "--problems", "plateau4,hartmann6_noisy,branin", "--methods",
        "optuna.Random,optuna.TPE,autoopt.genetic", "--budgets", "12", "--seeds", "0-1", "--json", str(out),
    )  # fmt: skip
    assert "heldout, 12 trials, with an initial point" in proc.stdout
    assert "dev, 12 trials, without an initial point" in proc.stdout
    cells = json.loads(out.read_text())["cells"]
    assert len(cells) == 3 * 3 * 2 * 2
    assert not any(c["error"] for c in cells)
    # With an initial point, every method evaluates it first.
    for c in cells:
        if c["initial"] and c["problem"] == "branin":
            assert c["true"][0] == robust.get_problem("branin").f(robust.initial_point("branin"))
    # Noise: the observed values differ from the noise-free ones, and the score is the incumbent's true regret.
    noisy = next(c for c in cells if c["problem"] == "hartmann6_noisy")
    assert noisy["true"] != noisy["observed"]
    best = int(np.argmin(noisy["observed"]))
    assert robust.score(noisy) == robust.get_problem("hartmann6_noisy").regret(noisy["true"][best])
    # The plateau is scored by the trials needed to leave it.
    plateau = {
        "problem": "plateau4",
        "n_trials": 12,
        "true": [1.0, 1.0, 0.4, 0.1],
        "observed": [1, 1, 0.4, 0.1],
    }
    assert robust.score(plateau) == 3.0
    assert robust.score({**plateau, "true": [1.0] * 12}) == 13.0
    # The bootstrap interval of a ratio of medians: 1 for identical samples, ordered, containing the estimate.
    assert robust.bootstrap_ratio([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])[0] == 1.0
    ratio, lo, hi = robust.bootstrap_ratio(list(range(1, 21)), [2.0 * v for v in range(1, 21)])
    assert ratio == 0.5
    assert lo <= 0.5 <= hi < 1.0
    # Resuming skips the stored cells.
    again = run_module("benchmarks.tuning.robust", "--problems", "branin", "--methods", "optuna.Random",
                       "--budgets", "12", "--seeds", "0-1", "--json", str(out), "--resume")  # fmt: skip
    assert "0 cells to run" in again.stderr
