"""Run the memory loops of the reliability sweep and print their RSS growth as JSON.

Usage: ``python memory_probe.py [SCALE]`` (SCALE multiplies the loop counts; 1.0 is the issue's
200k process_metrics calls, 100k series names and 100k learner actions). Each loop runs 10 % of its
calls as a warm-up, then the rest; the resident set size is read (``/proc/self/statm``) after the
warm-up and at the end, after a garbage collection each time. The sizes of the structures that used
to grow are reported beside it.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from autoopt import (
    PatternLearner,
    PerformancePredictor,
    PredictionType,
    create_intelligent_automation_hub,
    create_load_metrics,
)

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    gc.collect()
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE / 2**20


def loop(n: int, body: Callable[[int], Any]) -> dict[str, float]:
    warm = n // 10
    start = time.perf_counter()
    for i in range(warm):
        body(i)
    after_warmup = rss_mb()
    for i in range(warm, n):
        body(i)
    end = rss_mb()
    return {
        "calls": n,
        "rss_after_warmup_mb": round(after_warmup, 1),
        "rss_end_mb": round(end, 1),
        "growth_mb": round(end - after_warmup, 1),
        "seconds": round(time.perf_counter() - start, 1),
    }


def main(scale: float = 1.0) -> dict[str, Any]:
    out: dict[str, Any] = {"rss_start_mb": round(rss_mb(), 1)}

    hub = create_intelligent_automation_hub(seed=0)  # the system clock, default (wall-clock) timestamps

    def sample(i: int) -> None:
        hub.process_metrics(create_load_metrics(40.0 + i % 50, 30.0, request_rate=100.0 + i % 13))

    out["process_metrics"] = loop(int(200_000 * scale), sample)
    summary = hub.get_automation_summary()["hub"]
    out["process_metrics"]["sizes"] = {
        "pending_predictions": summary["predictions_awaiting_validation"],
        "predictions_thinned": summary.get("predictions_thinned"),
        "load_history": hub.load_manager.get_load_stats()["samples_held"],
        "predictions_held": hub.predictor.get_stats()["predictions_held"],
        "decisions_held": hub.decision_engine.get_decision_stats()["history_size"],
    }

    predictor = PerformancePredictor()
    predictor.record_observation(PredictionType.LATENCY, 1.0)  # the main series

    def series(i: int) -> None:
        predictor.record_observation(PredictionType.LATENCY, 1.0 + i % 7, series=f"model-{i}")

    out["series_names"] = loop(int(100_000 * scale), series)
    stats = predictor.get_stats()
    out["series_names"]["sizes"] = {
        "series_held": len(stats["series"]),
        "series_evicted": stats.get("series_evicted"),
    }

    learner = PatternLearner()

    def actions(i: int) -> None:
        learner.record_observation({"load_level": f"level-{i % 10}"}, f"action-{i}", i % 3 == 0)

    out["learner_actions"] = loop(int(100_000 * scale), actions)
    stats = learner.get_learning_stats()
    out["learner_actions"]["sizes"] = {
        "patterns": stats["patterns"],
        "pattern_action_pairs": stats["pattern_action_pairs"],
        "evicted_actions": stats.get("evicted_actions"),
    }
    return out


if __name__ == "__main__":
    print(json.dumps(main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0), indent=2))
