"""Trace replay and the autoscaling simulator used by the demo, benchmarks and notebooks."""

from autoopt.sim._cluster import ClusterSimulator, ClusterStep
from autoopt.sim._demo import DemoReport, default_autoscaling_rules, run_demo
from autoopt.sim._trace import NASA_TRACE_CITATION, load_nasa_trace

__all__ = [
    "NASA_TRACE_CITATION",
    "ClusterSimulator",
    "ClusterStep",
    "DemoReport",
    "default_autoscaling_rules",
    "load_nasa_trace",
    "run_demo",
]
