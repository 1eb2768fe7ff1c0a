"""Retrain the DQN checkpoint that ships in ``autoopt/data/dqn_nasa_july``.

``DQNPolicy()`` at its defaults, trained with ``seed=0`` for 300,000 steps on the whole of NASA July
in the autoscale benchmark's service model (:data:`autoopt.sim.BENCHMARK_SERVICE`); the last 7 days
of July are the hold-out that picks the checkpoint and fits the confidence mapping. August and Azure
are never seen. This is seed 0 of ``python -m benchmarks.autoscale --tier full`` (the same weights on
the same machine and torch thread count).

Usage::

    python -m benchmarks.autoscale.train_shipped [--out FOLDER]
"""

from __future__ import annotations

import argparse
import sys

from autoopt.policy import DQNPolicy
from benchmarks.autoscale.run import make_env
from benchmarks.autoscale.traces import load_trace


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default=str(DQNPolicy.pretrained_path()))
    parser.add_argument("--steps", type=int, default=300_000)
    args = parser.parse_args(argv)
    policy = DQNPolicy()
    policy.train(make_env(load_trace("nasa-july"), None), total_steps=args.steps, seed=0)
    policy.save(args.out)
    t = policy.training_
    print(f"{t['total_steps']:,} steps in {t['wall_seconds']:.0f} s ({t['steps_per_second']:.0f} steps/s); "
          f"best hold-out checkpoint at step {t['best_step']:,}; saved to {args.out}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
