"""Autoscaling benchmark: the HPA frontier, the tuned HPA, threshold rules, predictive, static and the oracle.

Protocol
--------
- Every policy runs in :class:`autoopt.sim.AutoscalingEnv` with the same service model (:data:`ENV`):
  the trace rescaled to a peak of 6,000 requests/s, replicas of 100 requests/s, a 250 ms p99 SLO, a
  10 s queue-time limit and a 2-minute readiness delay, 1 to 250 replicas, pending replicas billed.
- **Tuning on the training trace only** (``--train-trace``, NASA July by default; seed 0): the tuned
  HPA is the cheapest target whose violation minutes are at most 1 % there (:func:`tune_hpa`, a
  SelfTuner search), and the threshold rules' cut-offs are tuned the same way
  (:func:`tune_threshold_rules`). The predictive policy uses the tuned HPA's target.
- **Evaluation** on each ``--eval-trace`` (NASA August and Azure CPU by default), for each of
  ``--seeds`` seeds of the Poisson arrivals: the HPA at every target of the frontier, the tuned HPA,
  the rules, the predictive policy, a static fleet for the trace's peak, and the oracle.
  ``cost_vs_oracle`` divides by the oracle's cost on the same trace and seed.
- Azure's 5-minute steps are used as they are; metrics are time-weighted in minutes.

Tiers: ``ci`` (the first 7 days of each trace, 1 seed, a coarse frontier, small tuning budgets;
about 20 s here) and ``full`` (whole traces, 5 seeds, 12 frontier targets; about 3 minutes here).

Output: a table per evaluation trace and, with ``--json``, ``{"policies": [{"name", "params",
"seed", "trace", "cost_vs_oracle", "violation_minutes_pct", "drop_pct", "scaling_actions", ...}],
"tuning": ..., "env": ..., "wall_seconds": ...}``: one row per policy, seed and frontier point.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

import pandas as pd

from autoopt.policy import (
    HPAPolicy,
    OraclePolicy,
    PredictivePolicy,
    StaticPolicy,
    evaluate_policy,
    threshold_rules,
    tune_hpa,
    tune_threshold_rules,
)
from autoopt.sim import BENCHMARK_SERVICE, AutoscalingEnv
from benchmarks.autoscale import dqn
from benchmarks.autoscale.traces import BUILTIN, Trace, load_trace

ENV: dict[str, Any] = dict(BENCHMARK_SERVICE)
TIERS: dict[str, dict[str, Any]] = {
    "ci": {
        "days": 7,
        "seeds": 1,
        "targets": (0.3, 0.5, 0.7),
        "hpa_trials": 10,
        "rules_trials": 12,
        "dqn_steps": 8_000,
        "dqn_train_days": 10,
    },
    "full": {
        "days": None,
        "seeds": 5,
        "targets": (0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8),
        "hpa_trials": 24,
        "rules_trials": 40,
        "dqn_steps": 300_000,
        "dqn_train_days": None,
    },
}


def make_env(trace: Trace, days: float | None) -> AutoscalingEnv:
    demand, excluded = trace.demand, trace.excluded
    if days is not None:
        end = demand.index[0] + pd.Timedelta(days=days)
        demand = demand[demand.index < end]
        excluded = None if excluded is None else excluded[excluded.index < end]
    return AutoscalingEnv(demand, excluded=excluded, **ENV)


def tune(train: AutoscalingEnv, tier: dict[str, Any]) -> dict[str, Any]:
    start = time.perf_counter()
    hpa, hpa_run = tune_hpa(train, n_trials=tier["hpa_trials"], seed=0)
    rules_kwargs, rules_run = tune_threshold_rules(train, n_trials=tier["rules_trials"], seed=0)
    return {
        "hpa_target": hpa.target_utilization,
        "hpa_train": hpa_run.to_dict(),
        "rules": rules_kwargs,
        "rules_train": rules_run.to_dict(),
        "seconds": time.perf_counter() - start,
    }


def evaluate(
    env: AutoscalingEnv,
    trace: str,
    seed: int,
    tier: dict[str, Any],
    tuned: dict[str, Any],
    dqn_runs: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(result: Any, name: str | None = None) -> None:
        row = result.to_dict()
        row["trace"] = trace
        if name is not None:
            row["name"] = name
        rows.append(row)

    for target in tier["targets"]:
        add(evaluate_policy(HPAPolicy(target), env, seed=seed), "hpa")
    add(evaluate_policy(HPAPolicy(tuned["hpa_target"]), env, seed=seed), "hpa_tuned")
    add(
        evaluate_policy(
            threshold_rules(**tuned["rules"]), env, seed=seed, name="rules", params=tuned["rules"]
        )
    )
    add(evaluate_policy(PredictivePolicy(tuned["hpa_target"]), env, seed=seed))
    add(evaluate_policy(StaticPolicy(target_utilization=tuned["hpa_target"]), env, seed=seed))
    add(evaluate_policy(OraclePolicy(), env, seed=seed))
    if dqn_runs:
        # seed s's policy on seed s's arrivals: 5 independent (training, evaluation) pairs
        record = dqn_runs[seed % len(dqn_runs)]
        add(evaluate_policy(dqn.load_policy(record, env), env, seed=seed), "dqn")
        bar = tuned["dqn_min_confidence"]["min_confidence"]
        engine = dqn.dqn_with_rules(dqn.load_policy(record, env), tuned["rules"], bar)
        add(evaluate_policy(engine, env, seed=seed, name="dqn+rules",
                            params={"min_confidence": bar, **tuned["rules"]}))  # fmt: skip
    return rows


def format_table(rows: list[dict[str, Any]], trace: str) -> str:
    """Per policy (and frontier point), the means over seeds."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        if r["trace"] == trace:
            key = (r["name"], json.dumps(r["params"], sort_keys=True))
            groups.setdefault(key, []).append(r)
    head = f"{'policy':<12} {'params':<58} {'cost/oracle':>11} {'viol. min %':>11} {'drop %':>8} {'actions':>8} {'seeds':>5}"
    lines = [f"trace: {trace}", head, "-" * len(head)]
    for (name, params), rs in groups.items():

        def mean(key: str, rs: list[dict[str, Any]] = rs) -> float:
            return statistics.fmean(r[key] for r in rs)

        shown = ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in json.loads(params).items()
        )
        lines.append(
            f"{name:<12} {shown[:58]:<58} {mean('cost_vs_oracle'):>11.3f} {mean('violation_minutes_pct'):>11.3f}"
            f" {mean('drop_pct'):>8.3f} {mean('scaling_actions'):>8.0f} {len(rs):>5}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.autoscale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--eval-trace", action="append", metavar="NAME_OR_CSV",
                        help=f"a trace to evaluate on (repeatable): one of {list(BUILTIN)} or a CSV with a "
                        "'timestamp' column; default nasa-august and azure-cpu")  # fmt: skip
    parser.add_argument(
        "--train-trace", default="nasa-july", metavar="NAME_OR_CSV", help="the trace to tune on"
    )
    parser.add_argument("--value-column", default="value", help="the CSV column holding the demand")
    parser.add_argument("--seeds", type=int, default=None, help="seeds of the arrivals (default: the tier's)")
    parser.add_argument("--tier", choices=sorted(TIERS), default="ci")
    parser.add_argument("--json", help="write the rows as JSON here")
    parser.add_argument("--dqn-steps", type=int, default=None,
                        help="DQN training steps per seed (default: the tier's; 0 leaves the DQN out)")  # fmt: skip
    parser.add_argument(
        "--dqn-dir", help="save each seed's DQN checkpoint here (default: a temporary folder)"
    )
    parser.add_argument("--dqn-load", metavar="DIR",
                        help="evaluate the checkpoints DIR/seed0, DIR/seed1, ... (a --dqn-dir of an earlier run) "
                        "instead of training")  # fmt: skip
    args = parser.parse_args(argv)
    tier = dict(TIERS[args.tier])
    seeds = tier["seeds"] if args.seeds is None else args.seeds
    start = time.perf_counter()
    train = make_env(load_trace(args.train_trace, args.value_column), tier["days"])
    tuned = tune(train, tier)
    print(
        f"tuned on {args.train_trace} ({tuned['seconds']:.0f} s): HPA target {tuned['hpa_target']:.3f} "
        f"({tuned['hpa_train']['violation_minutes_pct']:.2f} % violation minutes, cost/oracle "
        f"{tuned['hpa_train']['cost_vs_oracle']:.3f}); rules {tuned['rules']}"
    )
    steps = tier["dqn_steps"] if args.dqn_steps is None else args.dqn_steps
    dqn_runs: list[dict[str, Any]] = []
    if steps:
        t0 = time.perf_counter()
        dqn_train = make_env(load_trace(args.train_trace, args.value_column), tier["dqn_train_days"])
        if args.dqn_load:
            dqn_runs = [dqn.saved_run(args.dqn_load, s) for s in range(seeds)]
        else:
            dqn_runs = dqn.train_seeds(dqn_train, seeds, steps, args.dqn_dir)
        tuned["dqn_min_confidence"] = dqn.choose_min_confidence(dqn_runs[0], dqn_train, tuned["rules"])
        tuned["dqn_seconds"] = time.perf_counter() - t0
        for r in dqn_runs:
            print(f"dqn seed {r['seed']}: {r['total_steps']:,} steps in {r['wall_seconds']:.0f} s "
                  f"({r['steps_per_second']:.0f} steps/s), best hold-out checkpoint at step {r['best_step']:,}")  # fmt: skip
        print(f"dqn+rules: min_confidence {tuned['dqn_min_confidence']['min_confidence']} (chosen on the "
              f"{args.train_trace} hold-out: {tuned['dqn_min_confidence']['holdout_returns']})")  # fmt: skip
    rows: list[dict[str, Any]] = []
    names = args.eval_trace or ["nasa-august", "azure-cpu"]
    verdicts = []
    for name in names:
        trace = load_trace(name, args.value_column)
        env = make_env(trace, tier["days"])
        for seed in range(seeds):
            rows.extend(evaluate(env, trace.name, seed, tier, tuned, dqn_runs))
        print()
        print(format_table(rows, trace.name))
        for policy in ("dqn", "dqn+rules") if dqn_runs else ():
            verdicts.append(dqn.dominance(rows, trace.name, policy))
            print(dqn.format_dominance(verdicts[-1]))
    wall = time.perf_counter() - start
    print(f"\nfinished in {wall:.0f} s")
    if args.json:
        training = [{k: v for k, v in r.items() if k != "curve"} for r in dqn_runs]
        doc = {"policies": rows, "tuning": tuned, "env": ENV, "tier": args.tier, "seeds": seeds,
               "train_trace": args.train_trace, "eval_traces": names, "wall_seconds": wall,
               "dqn_training": training, "dqn_learning_curves": {r["seed"]: r["curve"] for r in dqn_runs},
               "dominance": verdicts,
               "summary": {f"{n}@{t}": dqn.summarize(rows, t, n) for t in {r["trace"] for r in rows}
                           for n in ("dqn", "dqn+rules", "hpa_tuned")}}  # fmt: skip
        with open(args.json, "w") as fh:
            json.dump(doc, fh, indent=2, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
