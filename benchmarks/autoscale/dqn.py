"""The autoscale benchmark's DQN part: train one policy per seed on the training trace, and judge dominance.

- **Training** (:func:`train_seeds`): one :class:`autoopt.policy.DQNPolicy` per seed on the whole
  training trace; the policy holds out its last 7 days for checkpoint selection and for the
  confidence mapping. Seeds train in parallel processes (one torch thread each); each checkpoint is
  saved under ``--dqn-dir`` (a temporary folder by default).
- **dqn+rules** (:func:`choose_min_confidence`): the tuned threshold rules' engine with the DQN in
  its policy slot: the guard vetoes scale-downs over the SLO, and below ``min_confidence`` the rules
  decide. The bar is chosen on the July hold-out only (seed 0's policy), from :data:`BARS`, by the
  environment's return.
- **Dominance** (:func:`dominance`): against the HPA frontier (every HPA target evaluated, and the
  tuned one), read as a step function of the 5-seed means. Lower cost: against the cheapest HPA
  point whose violation minutes are at most the DQN's, the DQN must cost at least 10 % less. Fewer
  violations: against the HPA point with the fewest violation minutes among those costing at most
  the DQN's, the DQN must have at least 30 % fewer. Either way its drops may be no higher and its
  scaling actions at most twice the reference point's. The relative differences are paired by the
  arrivals' seed, with one-sided 95 % t bounds.
"""

from __future__ import annotations

import math
import statistics
import tempfile
from pathlib import Path
from typing import Any

from autoopt.policy import DQNPolicy, threshold_rules
from autoopt.policy._dqn_train import run_episode
from autoopt.policy._evaluate import _run

BARS = (0.0, 0.25, 0.5)
"""The ``min_confidence`` values tried for dqn+rules, on the July hold-out."""


def _train_one(env: Any, seed: int, steps: int, learning_starts: int, folder: str) -> dict[str, Any]:
    policy = DQNPolicy(learning_starts=learning_starts, eval_freq=max(1, min(10_000, steps // 10)))
    curve = policy.train(env, total_steps=steps, seed=seed, progress=False)
    policy.save(folder)
    return {"seed": seed, "folder": folder, "curve": curve.to_dict("records"), **policy.training_}


def train_seeds(
    env: Any, seeds: int, steps: int, folder: str | None, n_jobs: int = 2
) -> list[dict[str, Any]]:
    """Train seeds ``0..seeds-1`` (in ``n_jobs`` processes); returns each run's training record."""
    from joblib import Parallel, delayed

    root = Path(folder or tempfile.mkdtemp(prefix="autoopt-dqn-"))
    learning_starts = min(10_000, steps // 4)
    jobs = [delayed(_train_one)(env, s, steps, learning_starts, str(root / f"seed{s}")) for s in range(seeds)]
    return list(Parallel(n_jobs=min(n_jobs, seeds))(jobs))


def saved_run(folder: str, seed: int) -> dict[str, Any]:
    """The training record of the checkpoint ``folder/seed<seed>`` (saved by an earlier run)."""
    path = Path(folder) / f"seed{seed}"
    training = dict(DQNPolicy.load(path).training_)
    curve = training.pop("learning_curve", {})
    rows = [dict(zip(curve, values, strict=True)) for values in zip(*curve.values(), strict=True)]
    return {"seed": seed, "folder": str(path), "curve": rows, "loaded": True, **training}


def load_policy(record: dict[str, Any], env: Any) -> DQNPolicy:
    """The seed's checkpoint, accepting a different step (Azure's 5 minutes) with a warning."""
    accept = ("step_seconds",) if env.step_seconds != 60.0 else ()
    return DQNPolicy.load(record["folder"], env=env, accept_env_mismatch=accept)


def dqn_with_rules(policy: DQNPolicy, rules: dict[str, Any], bar: float) -> Any:
    engine = threshold_rules(**rules)
    engine.set_policy(policy, min_confidence=bar)
    return engine


def choose_min_confidence(record: dict[str, Any], train_env: Any, rules: dict[str, Any]) -> dict[str, Any]:
    """The bar of :data:`BARS` with the best return on the training trace's hold-out (seed 0's policy)."""
    policy = load_policy(record, train_env)
    hold = round(policy.holdout_days * 86_400 / train_env.step_seconds)
    options = {"start": train_env.n_steps - hold}
    scores: dict[float | str, float] = {}
    for bar in BARS:
        engine = dqn_with_rules(policy, rules, bar)
        scores[bar] = _engine_return(engine, train_env, options)
    scores["dqn alone"] = run_episode(policy, train_env, options)[0]
    best = max(BARS, key=lambda b: scores[b])
    return {"min_confidence": best, "holdout_returns": {str(k): v for k, v in scores.items()}}


def _engine_return(engine: Any, env: Any, options: dict[str, Any]) -> float:
    """The engine's mean return per step over one episode (arrivals seeded 0, as the DQN's hold-out)."""
    record: list[dict[str, Any]] = []
    _run(engine, env, 0, options, record)
    return statistics.fmean(r["reward"] for r in record)


def _t95(n: int) -> float:
    """The one-sided 95 % Student t quantile with n - 1 degrees of freedom."""
    from scipy import stats

    return float(stats.t.ppf(0.95, n - 1)) if n > 1 else math.inf


def _mean_ci(values: list[float]) -> dict[str, float]:
    """Mean and two-sided 95 % t interval."""
    from scipy import stats

    n = len(values)
    mean = statistics.fmean(values)
    half = float(stats.t.ppf(0.975, n - 1)) * statistics.stdev(values) / math.sqrt(n) if n > 1 else math.nan
    return {"mean": mean, "ci95_low": mean - half, "ci95_high": mean + half, "n": n}


def summarize(rows: list[dict[str, Any]], trace: str, name: str) -> dict[str, Any]:
    """Means with 95 % CIs over seeds of one policy's rows on one trace."""
    mine = [r for r in rows if r["trace"] == trace and r["name"] == name]
    keys = ("cost_vs_oracle", "violation_minutes_pct", "drop_pct", "scaling_actions")
    return {k: _mean_ci([float(r[k]) for r in mine]) for k in keys} if mine else {}


def dominance(rows: list[dict[str, Any]], trace: str, name: str) -> dict[str, Any]:
    """Does ``name`` dominate the HPA frontier on ``trace`` by the issue's two criteria? (see the module doc)."""
    mine = {r["seed"]: r for r in rows if r["trace"] == trace and r["name"] == name}
    if not mine:
        return {}
    points: dict[float, dict[int, dict[str, Any]]] = {}
    for r in rows:
        if r["trace"] == trace and r["name"] in ("hpa", "hpa_tuned"):
            points.setdefault(float(r["params"]["target_utilization"]), {})[r["seed"]] = r
    seeds = sorted(mine)

    def mean(group: dict[int, dict[str, Any]], key: str) -> float:
        return statistics.fmean(float(group[s][key]) for s in seeds)

    cost, viol = mean(mine, "cost_vs_oracle"), mean(mine, "violation_minutes_pct")
    n = len(seeds)
    out: dict[str, Any] = {"policy": name, "trace": trace, "seeds": n, "cost_vs_oracle": cost,
                           "violation_minutes_pct": viol}  # fmt: skip

    def side(ref: float | None, key: str, need: float) -> dict[str, Any]:
        if ref is None:
            return {"reference": None, "holds": False, "why": "no HPA point qualifies"}
        group = points[ref]
        diffs = []
        for s in seeds:
            base = float(group[s][key])
            diffs.append((base - float(mine[s][key])) / base if base > 0 else 0.0)
        m = statistics.fmean(diffs)
        low = m - _t95(n) * statistics.stdev(diffs) / math.sqrt(n) if n > 1 else math.nan
        drops_ok = mean(mine, "drop_pct") <= mean(group, "drop_pct")
        actions_ok = mean(mine, "scaling_actions") <= 2 * mean(group, "scaling_actions")
        return {
            "reference_target": ref,
            "reference_cost_vs_oracle": mean(group, "cost_vs_oracle"),
            "reference_violation_minutes_pct": mean(group, "violation_minutes_pct"),
            "reference_drop_pct": mean(group, "drop_pct"),
            "reference_scaling_actions": mean(group, "scaling_actions"),
            "drop_pct": mean(mine, "drop_pct"),
            "scaling_actions": mean(mine, "scaling_actions"),
            "reduction_mean": m,
            "reduction_one_sided_95_low": low,
            "required": need,
            "drops_ok": drops_ok,
            "actions_ok": actions_ok,
            "holds": bool(m >= need and drops_ok and actions_ok),
            "holds_at_95": bool(low >= need and drops_ok and actions_ok),
        }

    # the frontier as a step function: what the HPA achieves at no more violations, or no more cost
    no_more_viol = [t for t in points if mean(points[t], "violation_minutes_pct") <= viol]
    cheapest = min(no_more_viol, key=lambda t: mean(points[t], "cost_vs_oracle"), default=None)
    no_more_cost = [t for t in points if mean(points[t], "cost_vs_oracle") <= cost]
    fewest = min(no_more_cost, key=lambda t: mean(points[t], "violation_minutes_pct"), default=None)
    out["lower_cost"] = side(cheapest, "cost_vs_oracle", 0.10)
    out["fewer_violations"] = side(fewest, "violation_minutes_pct", 0.30)
    out["dominates"] = out["lower_cost"]["holds"] or out["fewer_violations"]["holds"]
    out["dominates_at_95"] = out["lower_cost"]["holds_at_95"] or out["fewer_violations"]["holds_at_95"]
    return out


def format_dominance(d: dict[str, Any]) -> str:
    lines = [f"{d['policy']} on {d['trace']} ({d['seeds']} seeds): cost/oracle {d['cost_vs_oracle']:.3f}, "
             f"violation minutes {d['violation_minutes_pct']:.3f} %"]  # fmt: skip
    for key, label in (("lower_cost", "cost vs the cheapest HPA with no more violations"),
                       ("fewer_violations", "violations vs the HPA with the fewest at no more cost")):  # fmt: skip
        s = d[key]
        if s.get("reference_target") is None:
            lines.append(f"  {label}: no HPA point qualifies")
            continue
        lines.append(
            f"  {label} (HPA {s['reference_target']:g}: {s['reference_cost_vs_oracle']:.3f}, "
            f"{s['reference_violation_minutes_pct']:.3f} %): {100 * s['reduction_mean']:.1f} % lower "
            f"(one-sided 95 % bound {100 * s['reduction_one_sided_95_low']:.1f} %, needs {100 * s['required']:.0f} %); "
            f"drops {s['drop_pct']:.3f} vs {s['reference_drop_pct']:.3f} %, actions {s['scaling_actions']:.0f} vs "
            f"{s['reference_scaling_actions']:.0f} -> {'holds' if s['holds_at_95'] else ('holds on the mean' if s['holds'] else 'fails')}"
        )
    return "\n".join(lines)
