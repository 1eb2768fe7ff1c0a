"""Write ``dqn_reference.json`` from a full-tier JSON: what the slow retraining test compares against.

Usage::

    python -m benchmarks.autoscale --tier full --json full.json
    python -m benchmarks.autoscale.reference full.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).with_name("dqn_reference.json")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    doc = json.loads(Path(args[0]).read_text())
    august = {r["seed"]: r for r in doc["policies"] if r["name"] == "dqn" and r["trace"] == "nasa-august"}
    seeds = []
    for t in doc["dqn_training"]:
        row = august[t["seed"]]
        seeds.append({"seed": t["seed"], "holdout_return": t["best_eval_return"], "best_step": t["best_step"],
                      "cost_vs_oracle": row["cost_vs_oracle"], "violation_minutes_pct": row["violation_minutes_pct"],
                      "wall_seconds": t["wall_seconds"]})  # fmt: skip
    ref = {"total_steps": doc["dqn_training"][0]["total_steps"], "train_trace": doc["train_trace"],
           "env": doc["env"], "seeds": seeds}  # fmt: skip
    OUT.write_text(json.dumps(ref, indent=2) + "\n")
    print(f"wrote {OUT} ({len(seeds)} seeds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
