"""The ``autoopt`` command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from autoopt.cli import main


def test_demo_command(tmp_path, capsys):
    assert main(["demo", "--days", "0.5", "-q", "--no-plot", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for heading in (
        "Trace",
        "Decisions",
        "Load levels (minutes)",
        "Load shedding",
        "Forecasts 30 min ahead",
        "Capacity",
    ):
        assert heading in out
    assert "minutes replayed                     720" in out
    assert (tmp_path / "summary.json").is_file()
    # the comparison on held-back August days: rules, the tuned HPA and the shipped DQN
    assert "Policies on held-back days (1995-08-25 to 1995-08-31" in out
    comparison = json.loads((tmp_path / "policy_comparison.json").read_text())
    assert set(comparison["policies"]) == {"rules", f"hpa (tuned, {comparison['hpa_target']:.3f})", "dqn"}
    for row in comparison["policies"].values():
        assert row["cost_vs_oracle"] > 0.5
        assert 0 <= row["violation_minutes_pct"] <= 100
    assert not (tmp_path / "policies.png").exists()  # --no-plot


def test_demo_comparison_matches_the_policies_run_alone():
    """The comparison's DQN row is evaluate_policy's on the same window, seed and checkpoint."""
    from autoopt.policy import DQNPolicy, evaluate_policy
    from autoopt.policy._compare import compare_policies
    from autoopt.sim import BENCHMARK_SERVICE, AutoscalingEnv, nasa_month_demand

    comparison = compare_policies(days=1.0, hpa_trials=3, seed=2)
    demand, outage = nasa_month_demand(8)
    env = AutoscalingEnv(demand, excluded=outage, **BENCHMARK_SERVICE)
    alone = evaluate_policy(DQNPolicy.load(DQNPolicy.pretrained_path()), env, seed=2,
                            options={"start": env.n_steps - 1440})  # fmt: skip
    assert comparison["policies"]["dqn"]["cost_vs_oracle"] == round(alone.cost_vs_oracle, 3)
    assert comparison["policies"]["dqn"]["scaling_actions"] == alone.scaling_actions


def test_version_and_help():
    proc = subprocess.run(
        [sys.executable, "-m", "autoopt", "--version"], capture_output=True, text=True, check=True
    )
    assert proc.stdout.startswith("autoopt ")
    with pytest.raises(SystemExit):
        main(["demo", "--days", "nope"])
