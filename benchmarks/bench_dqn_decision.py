"""One DecisionEngine.evaluate with the DQN policy and the threshold rules' guard, on one thread.

The contexts are 10,000 consecutive steps of NASA July in :class:`autoopt.sim.AutoscalingEnv` (the
autoscaling benchmark's service model), recorded from a tuned-HPA run. The engine is
:func:`autoopt.policy.threshold_rules` (its p99 guard vetoes scale-downs, its two rules are the
fallback) with the shipped :class:`~autoopt.policy.DQNPolicy` set at ``min_confidence=0.5``. Each
call is timed alone with ``perf_counter_ns``; the report gives the median and the p99 in µs, against
the issue's budget of 200 µs, and beside them the same engine without the policy and the bare
NumPy forward pass, measured in the same process.

Usage::

    python -m benchmarks.bench_dqn_decision            # 10,000 calls
    python -m benchmarks.bench_dqn_decision --calls 2000 --json out.json
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from typing import Any

import numpy as np

from autoopt.policy import DQNPolicy, HPAPolicy, threshold_rules
from autoopt.policy._dqn import _forward
from benchmarks.autoscale.run import make_env
from benchmarks.autoscale.traces import load_trace


def contexts(n: int) -> list[dict[str, Any]]:
    env = make_env(load_trace("nasa-july"), None)
    env.reset(seed=0, options={"steps": n})
    hpa, out, done = HPAPolicy(0.425), [], False
    while not done:
        ctx = env.context()
        out.append(ctx)
        _, _, _, done, _ = env.step_target(hpa.desired(ctx))
    return out


def time_calls(fn: Any, items: list[Any]) -> np.ndarray:
    gc.collect()
    clock = time.perf_counter_ns
    times = np.empty(len(items))
    for i, item in enumerate(items):
        t0 = clock()
        fn(item)
        times[i] = clock() - t0
    return times / 1e3


def summary(times: np.ndarray) -> dict[str, float]:
    return {"median_us": float(np.median(times)), "p99_us": float(np.quantile(times, 0.99))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    ctxs = contexts(args.calls)
    policy = DQNPolicy.load(DQNPolicy.pretrained_path())
    with_dqn = threshold_rules()
    with_dqn.set_policy(policy, min_confidence=0.5)
    rules_only = threshold_rules()
    params = policy.env_params_
    assert params is not None
    x = policy._observe(ctxs[0], params)
    layers, mean, std = policy.weights_, policy.obs_mean_, policy.obs_std_
    assert layers is not None
    assert mean is not None
    assert std is not None
    with_dqn_times = time_calls(with_dqn.evaluate, ctxs)
    policy.reset()  # the same contexts again from the start: a new stream for the HPA's window
    rows = {
        "engine.evaluate, DQN + guard": summary(with_dqn_times),
        "engine.evaluate, rules only": summary(time_calls(rules_only.evaluate, ctxs)),
        "DQNPolicy.propose": summary(time_calls(policy.propose, ctxs)),
        "NumPy forward pass": summary(time_calls(lambda _: _forward(layers, (x - mean) / std), ctxs)),
    }
    stats = with_dqn.get_decision_stats()["policy"]
    head = f"{'path':<32} {'median µs':>10} {'p99 µs':>10}"
    print(f"{len(ctxs):,} calls on one thread; budget 200 µs per decision", head, "-" * len(head), sep="\n")
    for name, r in rows.items():
        print(f"{name:<32} {r['median_us']:>10.1f} {r['p99_us']:>10.1f}")
    print(f"policy decided {stats}")
    ratio = (
        rows["engine.evaluate, DQN + guard"]["median_us"] / rows["engine.evaluate, rules only"]["median_us"]
    )
    print(f"DQN + guard vs rules only (median): {ratio:.2f}x")
    if args.json:
        doc = {"calls": len(ctxs), "rows": rows, "policy_stats": stats, "ratio_vs_rules": ratio,
               "budget_us": 200.0, "median_within_budget": rows["engine.evaluate, DQN + guard"]["median_us"] <= 200}  # fmt: skip
        with open(args.json, "w") as fh:
            json.dump(doc, fh, indent=2)
    return 0 if statistics.fmean([rows["engine.evaluate, DQN + guard"]["median_us"]]) > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
