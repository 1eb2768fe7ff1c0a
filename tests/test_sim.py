"""Trace loading, the cluster model and the demo job."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from autoopt.sim import ClusterSimulator, load_nasa_trace, run_demo


def test_shipped_trace_equals_shared_copy(shared_data):
    shipped = load_nasa_trace()
    original = load_nasa_trace(shared_data / "traces" / "nasa_http_1995_per_minute.csv")
    pd.testing.assert_frame_equal(shipped, original)


def test_trace_contents():
    trace = load_nasa_trace()
    assert len(trace) == 89_280
    counts = trace["status"].value_counts()
    assert counts["ok"] == 82_067
    assert counts["outage"] == 2_263
    assert counts["missing"] == 4_947
    assert trace.loc[trace["status"] == "missing", "requests"].isna().all()
    assert (trace.loc[trace["status"] == "outage", "requests"] == 0).all()
    assert trace["requests"].max() == 405
    assert str(trace.index.tz) == "UTC-04:00"


def test_cluster_matches_mm1_closed_form():
    sim = ClusterSimulator(instances=4, capacity_rps=50.0)
    step = sim.step(datetime(2026, 1, 1, tzinfo=UTC), offered_rps=120.0)
    rho = 120.0 / 200.0
    slack = 50.0 * (1 - rho)  # per-instance service minus arrival rate
    m = step.metrics
    assert m.cpu_usage == pytest.approx(100 * rho)
    assert m.latency_p50 == pytest.approx(1000 * math.log(2) / slack)
    assert m.latency_p99 == pytest.approx(1000 * math.log(100) / slack)
    assert m.queue_depth == round(4 * rho * rho / (1 - rho))
    assert m.error_rate == 0.0
    assert step.dropped_rps == 0.0


def test_cluster_overload_drops_and_shedding():
    sim = ClusterSimulator(instances=2, capacity_rps=50.0, max_utilization=0.9)
    step = sim.step(datetime(2026, 1, 1, tzinfo=UTC), offered_rps=200.0, shed_fraction=0.25)
    assert step.shed_rps == pytest.approx(50.0)
    assert step.served_rps == pytest.approx(90.0)
    assert step.dropped_rps == pytest.approx(60.0)
    assert step.metrics.error_rate == pytest.approx(110.0 / 200.0)
    down = sim.step(datetime(2026, 1, 1, 0, 1, tzinfo=UTC), offered_rps=10.0, down=True)
    assert down.metrics.error_rate == 1.0
    assert down.served_rps == 0.0


def test_cluster_scaling_delay_and_bounds():
    sim = ClusterSimulator(instances=2, min_instances=1, max_instances=5, provisioning_delay_s=120.0)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    assert sim.scale(10, now=t0.timestamp()) == 3  # capped at max_instances
    sim.step(t0, 10.0)
    assert sim.instances == 2
    assert sim.pending_instances == 3
    sim.step(datetime.fromtimestamp(t0.timestamp() + 120, tz=UTC), 10.0)
    assert sim.instances == 5
    assert sim.pending_instances == 0
    assert sim.scale(-10, now=0.0) == -4
    assert sim.instances == 1
    with pytest.raises(ValueError, match="instances"):
        ClusterSimulator(instances=0)


def _synthetic_trace(minutes: int, gap: slice) -> pd.DataFrame:
    idx = pd.date_range("2026-01-05", periods=minutes, freq="min", tz="UTC")
    t = np.arange(minutes)
    req = 40 + 30 * np.sin(2 * np.pi * t / 1440) + np.random.default_rng(0).normal(0, 3, minutes)
    status = np.array(["ok"] * minutes, dtype=object)
    status[gap] = "missing"
    req[gap] = np.nan
    return pd.DataFrame(
        {
            "requests": req,
            "status": pd.Categorical(status, categories=["ok", "outage", "missing", "partial"]),
        },
        index=pd.DatetimeIndex(idx, name="timestamp"),
    )


def test_demo_skips_missing_minutes(tmp_path):
    trace = _synthetic_trace(3000, slice(1000, 1300))
    report = run_demo(tmp_path, trace=trace, progress=False, plot=False)
    s = report.summary
    assert s["trace"]["minutes_missing_skipped"] == 300
    assert s["trace"]["minutes_replayed"] == 2700
    assert len(report.timeline) == 2700
    assert not report.timeline.index.isin(trace.index[1000:1300]).any()
    # Each forecast is scored at the first observed minute at or after its target, if that comes within the
    # hub's 300 s tolerance; forecasts aimed into the gap beyond that are dropped, never scored against zeros.
    observed = np.array([t.timestamp() for t in trace.index[trace["status"] != "missing"]])
    made = observed[9:]  # forecasts start at the 10th observation (min_observations)
    targets = made + 1800
    first_seen = np.searchsorted(observed, targets, side="left")
    seen = first_seen < len(observed)
    lag = observed[np.minimum(first_seen, len(observed) - 1)] - targets
    expected = int(np.sum(seen & (lag <= 300)))
    assert s["forecast_30min"]["request_rate"]["validated"] == expected
    # Unscored: the 30 forecasts aimed into the gap (none are made inside it) and the last 30, aimed past the end.
    assert expected == len(made) - 60
    assert json.loads(report.summary_path.read_text()) == s


def test_demo_short_run_writes_outputs(tmp_path):
    report = run_demo(tmp_path, days=1, progress=False, plot=True)
    assert report.plot_path is not None
    assert report.plot_path.stat().st_size > 10_000
    assert (tmp_path / "timeline.csv.gz").is_file()
    s = report.summary
    assert s["trace"]["minutes_replayed"] == 1440
    assert s["decisions"]["total"] > 0
    assert sum(s["load_levels_minutes"].values()) == 1440
    assert 0.0 <= s["forecast_30min"]["request_rate"]["coverage"] <= 1.0
    assert s["capacity"]["instance_hours"] < s["capacity"]["static_peak_fleet_instance_hours"]


@pytest.mark.slow
def test_demo_full_trace(tmp_path):
    """The whole two months: the gap is skipped, the outage is seen and remediation is tried."""
    report = run_demo(tmp_path, progress=False, plot=False)
    s = report.summary
    assert s["trace"]["minutes_missing_skipped"] == 4_947
    assert s["trace"]["outage_minutes"] == 2_263
    assert s["remediation"]["attempts"] > 0
    assert s["remediation"]["successful"] == 0  # restarts cannot fix a hurricane
    assert s["trace"]["peak_offered_rps"] == pytest.approx(675.0)
    assert s["decisions"]["by_type"]["scale_up"] > 0
    assert s["decisions"]["by_type"]["scale_down"] > 0
    assert s["shedding"]["requests_dropped_pct"] < 1.0


def test_the_shipped_azure_trace_is_the_shared_one(shared_data) -> None:
    from autoopt.sim import load_azure_trace

    shared = shared_data / "traces" / "azure_v2" / "vm_cpu_readings_month_aggregated_cpu_mem.csv"
    if not shared.is_file():
        pytest.skip(f"no Azure trace at {shared}")
    pd.testing.assert_frame_equal(load_azure_trace(), load_azure_trace(shared))
    assert load_azure_trace().shape == (8640, 2)
