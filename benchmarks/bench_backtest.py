"""DecisionEngine.backtest against an evaluate loop, at 100,000 rows with 10 declarative rules.

The rows are contexts built from the NASA-HTTP trace shipped with the package (requests per minute,
July-August 1995; 89,280 minutes, extended to 100,000 by repeating its first days one trace-length
later): the request rate, a utilisation for a fixed fleet, a latency from the M/M/1 model, an error
rate, the load level and a timestamp column. Ten declarative rules (guards, vetoes, cooldowns from 0
to 30 minutes, parameter expressions) fire on at most 10 % of the rows.

The reference is the loop the issue names: ``evaluate`` over ``df.to_dict("records")`` on a fresh
engine built from the same YAML. Both run in this process, interleaved, on fresh engines built
outside the timed region, after a ``gc.collect()`` (so that neither pays for collecting the
other's garbage; the garbage collector stays on while timing); the result is the median of 5 runs
each, and the two must agree on every row.

Usage::

    python -m benchmarks.bench_backtest            # 100,000 rows, 5 runs
    python -m benchmarks.bench_backtest --rows 20000 --runs 3 --json out.json
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import statistics
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

from autoopt import DecisionEngine
from autoopt.sim import load_nasa_trace, mm1_latency_ms

RULES = """
version: 1
context_keys:
  - {name: replicas, kind: number, unit: replicas, description: replicas serving}
rules:
  - name: no scale-down while slow
    condition: latency_p99 > 400
    decision_type: defer
    role: guard
    veto: [scale_down]
    priority: 100
  - name: page on errors
    condition: error_rate > 0.2 and request_rate > 100
    decision_type: alert
    role: guard
    priority: 90
    cooldown_seconds: 1800
  - name: restart on unexplained errors
    condition: error_rate > 0.1 and utilization < 0.5
    decision_type: remediate
    parameters: {action: "'restart'"}
    priority: 80
    cooldown_seconds: 1800
  - name: scale up fast
    condition: utilization > 0.9
    decision_type: scale_up
    parameters: {delta: "max(2, ceil(replicas * utilization / 0.6) - replicas)"}
    priority: 70
    cooldown_seconds: 300
  - name: scale up
    condition: utilization > 0.75 and latency_p99 > 200
    decision_type: scale_up
    parameters: {delta: "max(1, ceil(replicas * utilization / 0.6) - replicas)"}
    priority: 60
    cooldown_seconds: 600
  - name: critical load
    condition: load_level == 'critical'
    decision_type: alert
    priority: 50
    cooldown_seconds: 900
  - name: per-request cost
    condition: request_rate / replicas > 80
    decision_type: optimize
    parameters: {per_replica: "request_rate / replicas"}
    priority: 40
    cooldown_seconds: 600
  - name: scale down
    condition: utilization < 0.3 and replicas > 2
    decision_type: scale_down
    parameters: {delta: "min(-1, ceil(replicas * utilization / 0.6) - replicas)"}
    priority: 30
    cooldown_seconds: 1800
  - name: idle
    condition: load_level == 'idle' and not latency_p99 > 100
    decision_type: scale_down
    parameters: {delta: -1}
    priority: 20
    cooldown_seconds: 3600
  - name: failover on outage
    condition: request_rate == 0 and error_rate >= 1
    decision_type: failover
    priority: 10
    cooldown_seconds: 3600
"""


def contexts(rows: int) -> pd.DataFrame:
    """Decision contexts per minute from the NASA trace (see the module docstring)."""
    trace = load_nasa_trace()
    req = trace["requests"].to_numpy(dtype=float) / 60.0 * 20.0  # requests per second, scaled up 20x
    status = trace["status"].astype(str).to_numpy()
    reps = math.ceil(rows / len(req))
    req, status = np.tile(req, reps)[:rows], np.tile(status, reps)[:rows]
    t0 = trace.index[0].timestamp()
    t = t0 + 60.0 * np.arange(rows)
    replicas = np.where(np.arange(rows) % 1440 < 720, 4.0, 3.0)  # a fleet that changes twice a day
    util = np.clip(req / (replicas * 50.0), 0.0, 1.0)
    with np.errstate(divide="ignore"):
        p99 = np.array([mm1_latency_ms(min(u, 0.98), 50.0) for u in util])
    outage = status == "outage"
    error = np.where(outage, 1.0, np.clip((util - 0.85) * 2.0, 0.0, 1.0))
    req = np.where(outage, 0.0, req)
    levels = np.select(
        [util >= 0.9, util >= 0.75, util >= 0.5, util >= 0.25],
        ["critical", "high", "moderate", "low"],
        "idle",
    )
    return pd.DataFrame(
        {
            "timestamp": t,
            "request_rate": req,  # NaN where the trace is missing: comparisons with it are False
            "utilization": util,
            "latency_p99": p99,
            "error_rate": error,
            "load_level": levels,
            "replicas": replicas,
        }
    )


def loop(engine: DecisionEngine, frame: pd.DataFrame) -> list[Any]:
    """The reference: ``evaluate`` on every record, on a fresh engine."""
    out = []
    records: list[dict[str, Any]] = frame.to_dict("records")  # type: ignore[assignment]
    for rec in records:
        d = engine.evaluate(rec)
        out.append(None if d is None else (d.decision_type.value, d.source, d.parameters))
    return out


def vectorised(engine: DecisionEngine, frame: pd.DataFrame) -> list[Any]:
    res = engine.backtest(frame)
    names = {r.rule_id: r.name for r in engine.list_rules()}
    return [
        None if k is None else (k, names[r], p)
        for k, r, p in zip(res["decision_type"], res["rule_id"], res["parameters"], strict=True)
    ]


def run(rows: int, runs: int) -> dict[str, Any]:
    frame = contexts(rows)
    times: dict[str, list[float]] = {"loop": [], "backtest": []}
    ref = got = None
    for _ in range(runs):  # interleaved, so a slow moment hits both; fresh engines, built untimed
        engine = DecisionEngine.from_yaml(RULES)
        gc.collect()  # neither side pays for a collection of the other's garbage
        start = time.perf_counter()
        ref = loop(engine, frame)
        times["loop"].append(time.perf_counter() - start)
        engine = DecisionEngine.from_yaml(RULES)
        gc.collect()
        start = time.perf_counter()
        res = engine.backtest(frame)
        times["backtest"].append(time.perf_counter() - start)
        got = vectorised(engine, frame) if ref is not None else None
        del res
    assert ref is not None
    assert got is not None
    mismatches = sum(1 for a, b in zip(ref, got, strict=True) if a != b)
    fired = sum(1 for a in ref if a is not None)
    loop_s, back_s = statistics.median(times["loop"]), statistics.median(times["backtest"])
    return {
        "rows": rows,
        "rules": 10,
        "runs": runs,
        "fired_rows": fired,
        "fired_pct": 100.0 * fired / rows,
        "mismatched_rows": mismatches,
        "loop_s": loop_s,
        "backtest_s": back_s,
        "speedup": loop_s / back_s,
        "loop_runs_s": times["loop"],
        "backtest_runs_s": times["backtest"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", help="also write the result as JSON here")
    args = parser.parse_args(argv)
    r = run(args.rows, args.runs)
    print(
        f"{r['rows']:,} rows, {r['rules']} declarative rules, {r['fired_pct']:.1f} % of rows fire; "
        f"median of {r['runs']} runs:\n"
        f"  evaluate loop over df.to_dict('records')  {r['loop_s']:.3f} s\n"
        f"  DecisionEngine.backtest                   {r['backtest_s']:.4f} s  ({r['speedup']:.0f}x faster)\n"
        f"  rows where they disagree                  {r['mismatched_rows']}"
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(r, fh, indent=2)
    return 0 if r["mismatched_rows"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
