"""The demo's policy comparison: rules, a tuned HPA and the shipped DQN on days none of them saw."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from autoopt.decision import DecisionEngine, Policy
from autoopt.policy._baselines import HPAPolicy, threshold_rules
from autoopt.policy._dqn import DQNPolicy
from autoopt.policy._evaluate import _oracle_cost, _run, tune_hpa

__all__ = ["compare_policies"]

logger = logging.getLogger(__name__)


def compare_policies(
    *,
    days: float = 7.0,
    seed: int = 0,
    hpa_trials: int = 12,
    plot_path: str | Path | None = None,
    policy: DQNPolicy | None = None,
) -> dict[str, Any]:
    """Threshold rules, the HPA tuned on NASA July, and the DQN, on the last ``days`` of NASA August.

    The service is :data:`~autoopt.sim.BENCHMARK_SERVICE`. The HPA's target is tuned on July
    (:func:`tune_hpa`, ``hpa_trials`` trials, at most 1 % violation minutes); the rules are
    :func:`threshold_rules` at their defaults; the DQN is the shipped checkpoint (trained on July
    only) unless ``policy`` is given. August's last days were seen by none of them. Each runs once on
    the same Poisson arrivals (``seed``), scored against the oracle on the same window.

    Returns
    -------
    dict
        ``window`` (its first and last minute), ``hpa_target``, ``policies`` (per policy:
        ``cost_vs_oracle``, ``violation_minutes_pct``, ``drop_pct``, ``scaling_actions``,
        ``replica_hours``), ``seconds`` and, with ``plot_path``, ``plot``.
    """
    from autoopt.sim import BENCHMARK_SERVICE, AutoscalingEnv, nasa_month_demand

    start = time.perf_counter()
    envs = []
    for month in (7, 8):
        demand, outage = nasa_month_demand(month)
        envs.append(AutoscalingEnv(demand, excluded=outage, **BENCHMARK_SERVICE))
    july, august = envs
    hpa, _ = tune_hpa(july, n_trials=hpa_trials, seed=0)
    dqn = policy if policy is not None else DQNPolicy.load(DQNPolicy.pretrained_path(), env=august)
    steps = round(days * 86_400 / august.step_seconds)
    options = {"start": max(0, august.n_steps - steps)}
    oracle = _oracle_cost(august, seed, options)
    contenders: dict[str, Policy | DecisionEngine] = {
        "rules": threshold_rules(),
        f"hpa (tuned, {hpa.target_utilization:.3f})": HPAPolicy(hpa.target_utilization),
        "dqn": dqn,
    }
    rows: dict[str, dict[str, Any]] = {}
    replicas: dict[str, list[int]] = {}
    for name, contender in contenders.items():
        record: list[dict[str, Any]] = []
        metrics = _run(contender, august, seed, options, record)
        replicas[name] = [r["ready_replicas"] for r in record]
        rows[name] = {
            "cost_vs_oracle": round(metrics["cost_replica_minutes"] / oracle, 3),
            "violation_minutes_pct": round(metrics["violation_minutes_pct"], 3),
            "drop_pct": round(metrics["drop_pct"], 4),
            "scaling_actions": metrics["scaling_actions"],
            "replica_hours": round(metrics["cost_replica_minutes"] / 60.0, 1),
        }
    index = august.index[options["start"] :]
    out: dict[str, Any] = {
        "window": [str(index[0]), str(index[-1])],
        "hpa_target": hpa.target_utilization,
        "dqn_training": {k: dqn.training_.get(k) for k in ("total_steps", "seed", "best_step")},
        "policies": rows,
    }
    if plot_path is not None:
        out["plot"] = str(_plot(index, august.rate[options["start"] :], replicas, rows, Path(plot_path)))
    out["seconds"] = round(time.perf_counter() - start, 1)
    return out


def _plot(index: Any, rate: Any, replicas: dict[str, list[int]], rows: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, (top, side) = plt.subplots(
        1, 2, figsize=(15, 4.8), constrained_layout=True, gridspec_kw={"width_ratios": [2.6, 1]}
    )
    top.plot(index, rate / 100.0, color="0.6", lw=0.6, label="demand (replicas at 100 %)")
    for (name, series), color in zip(
        replicas.items(), ("tab:purple", "tab:orange", "tab:green"), strict=False
    ):
        top.step(index[: len(series)], series, where="post", lw=0.7, color=color, label=name)
    top.set_ylabel("replicas ready")
    top.set_title("held-back days of NASA August: replicas per minute", fontsize=10)
    top.legend(loc="upper left", fontsize=8)
    for (name, r), color in zip(rows.items(), ("tab:purple", "tab:orange", "tab:green"), strict=False):
        side.scatter(r["violation_minutes_pct"], r["cost_vs_oracle"], s=60, color=color, label=name)
    side.set_xlabel("minutes over the p99 SLO (%)")
    side.set_ylabel("cost / oracle")
    side.set_title("cost against SLO violations (lower left is better)", fontsize=10)
    side.legend(fontsize=8)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
