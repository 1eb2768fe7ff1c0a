"""Draw the README's tuning plots: a session's optimisation history and parallel coordinates.

Usage: python examples/tuning_plots.py [OUT.png]   (default: docs/tuning_plots.png; needs matplotlib)

A 60-trial GENETIC session (NSGA-II here, as the space has a categorical; fast to draw) on a made-up gradient-boosting score, with a log-scaled learning rate, a log-int,
a stepped int, a float and a categorical, so that both plots show every kind of axis.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from autoopt import CategoricalParam, FloatParam, IntParam, SelfTuner
from autoopt.tuning import plot_optimization_history, plot_parallel_coordinates

SPACE = {
    "learning_rate": FloatParam(1e-4, 1.0, log=True),
    "max_leaf_nodes": IntParam(8, 256, log=True),
    "min_samples_leaf": IntParam(5, 100, step=5),
    "l2_regularization": FloatParam(0.0, 10.0),
    "class_weight": CategoricalParam([None, "balanced"]),
}


def score(learning_rate: float, max_leaf_nodes: int, min_samples_leaf: int, l2_regularization: float,
          class_weight: str | None) -> float:  # fmt: skip
    """A smooth stand-in for a validation score (higher is better), best near lr = 0.03, 60 leaves."""
    return (
        -((math.log10(learning_rate) + 1.5) ** 2)
        - 0.5 * math.log2(max_leaf_nodes / 60) ** 2
        - min_samples_leaf / 100
        - 0.05 * l2_regularization
        + (0.1 if class_weight == "balanced" else 0.0)
    )


def main(out: Path) -> None:
    tuner = SelfTuner(seed=0)
    session = tuner.create_session(SPACE, "genetic", score, max_iterations=60)
    tuner.optimize(session.session_id)
    frame = session.trials_dataframe()
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.4))
    plot_optimization_history(frame, ax=left)
    plot_parallel_coordinates(frame, ax=right)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    main(
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path(__file__).resolve().parents[1] / "docs" / "tuning_plots.png"
    )
