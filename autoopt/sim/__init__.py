"""Trace replay and the autoscaling simulators used by the demo, benchmarks and notebooks.

:class:`AutoscalingEnv` (the Gymnasium-API simulator) loads on first use, so importing this
package does not import Gymnasium.
"""

from typing import Any

from autoopt.sim._cluster import ClusterSimulator, ClusterStep, mm1_latency_ms, mm1_utilization_for_latency
from autoopt.sim._demo import DemoReport, default_autoscaling_rules, run_demo
from autoopt.sim._trace import (
    AZURE_TRACE_CITATION,
    NASA_TRACE_CITATION,
    NASA_TRACE_DAYS,
    load_azure_trace,
    load_nasa_trace,
    nasa_month_demand,
    nasa_requests,
)

__all__ = [
    "AZURE_TRACE_CITATION",
    "BENCHMARK_SERVICE",
    "ENV_CONTEXT_KEYS",
    "FEATURES",
    "NASA_TRACE_CITATION",
    "NASA_TRACE_DAYS",
    "AutoscalingEnv",
    "ClusterSimulator",
    "ClusterStep",
    "DemoReport",
    "context_features",
    "default_autoscaling_rules",
    "load_azure_trace",
    "load_nasa_trace",
    "nasa_month_demand",
    "nasa_requests",
    "mm1_latency_ms",
    "mm1_utilization_for_latency",
    "run_demo",
]

_LAZY = {"AutoscalingEnv", "BENCHMARK_SERVICE", "FEATURES", "ENV_CONTEXT_KEYS", "context_features"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from autoopt.sim import _env

        return getattr(_env, name)
    raise AttributeError(f"module 'autoopt.sim' has no attribute {name!r}")
