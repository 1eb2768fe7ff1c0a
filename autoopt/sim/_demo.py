"""The ``autoopt demo`` job: replay a real request trace through an automation hub."""

from __future__ import annotations

import functools
import json
import logging
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from autoopt._clock import ManualClock
from autoopt._validation import check_int, check_real
from autoopt.config import AutomationConfig
from autoopt.decision import create_decision_rule
from autoopt.enums import DecisionType, PredictionType, RemediationAction
from autoopt.hub import IntelligentAutomationHub, create_intelligent_automation_hub
from autoopt.models import DecisionRule
from autoopt.sim._cluster import ClusterSimulator
from autoopt.sim._trace import NASA_TRACE_CITATION, load_nasa_trace

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DemoReport", "default_autoscaling_rules", "run_demo"]

logger = logging.getLogger(__name__)

FEEDBACK_DELAY_S = 600.0


def default_autoscaling_rules(
    sim: ClusterSimulator,
    config: AutomationConfig,
    target_utilization: float = 0.6,
    stabilization_seconds: float = 900.0,
    restart_cooldown_seconds: float = 1800.0,
) -> list[DecisionRule]:
    """Sensible autoscaling rules for a :class:`ClusterSimulator`.

    In priority order:

    1. **restart** (REMEDIATE): errors beyond the share shed on purpose
       (``error_rate - shed_fraction``) at or above 50 % while utilisation is
       below the moderate threshold, i.e. failures that load does not explain;
       at most once per ``restart_cooldown_seconds``;
    2. **scale up** (SCALE_UP): utilisation at or above the high threshold,
       or forecast demand (``predicted_request_rate``) above what the
       instances serving and on order can carry at the high threshold; adds
       enough instances to serve ``max(current, forecast)`` demand at
       ``target_utilization``;
    3. **scale down** (SCALE_DOWN): fewer instances would serve both current
       demand and the upper end of the demand forecast at ``target_utilization``,
       utilisation is below the moderate threshold, nothing is on order and
       the last scale-up is at least ``stabilization_seconds`` old (a
       stabilisation window against flapping, as in Kubernetes' HPA).

    The rules read ``shed_fraction`` and ``seconds_since_scale_up`` from the
    decision context when the caller supplies them.
    """
    high, moderate = config.load_threshold_high, config.load_threshold_moderate
    mu = sim.capacity_rps

    def demand(ctx: dict[str, Any], key: str) -> float:
        forecast = ctx.get(key)
        return max(float(ctx["request_rate"]), 0.0 if forecast is None else float(forecast))

    def wanted(rps: float) -> int:
        return max(sim.min_instances, math.ceil(rps / (mu * target_utilization)))

    def scale_up_due(ctx: dict[str, Any]) -> bool:
        on_order = sim.instances + sim.pending_instances
        return bool(
            ctx["utilization"] >= high or demand(ctx, "predicted_request_rate") > on_order * mu * high
        )

    def scale_up_params(ctx: dict[str, Any]) -> dict[str, Any]:
        on_order = sim.instances + sim.pending_instances
        return {"instances": max(1, wanted(demand(ctx, "predicted_request_rate")) - on_order)}

    def scale_down_due(ctx: dict[str, Any]) -> bool:
        if (
            sim.pending_instances
            or ctx["utilization"] >= moderate
            or ctx.get("predicted_request_rate_upper") is None
        ):
            return False
        if ctx.get("seconds_since_scale_up", math.inf) < stabilization_seconds:
            return False
        return wanted(demand(ctx, "predicted_request_rate_upper")) < sim.instances

    def scale_down_params(ctx: dict[str, Any]) -> dict[str, Any]:
        return {"instances": sim.instances - wanted(demand(ctx, "predicted_request_rate_upper"))}

    return [
        create_decision_rule(
            "restart on unexplained errors",
            lambda ctx: (
                ctx["error_rate"] - ctx.get("shed_fraction", 0.0) >= 0.5 and ctx["utilization"] < moderate
            ),
            DecisionType.REMEDIATE,
            lambda ctx: {"action": RemediationAction.RESTART.value},
            priority=100,
            description="error rate >= 50% that load does not explain",
            cooldown_seconds=restart_cooldown_seconds,
        ),
        create_decision_rule(
            "scale up",
            scale_up_due,
            DecisionType.SCALE_UP,
            scale_up_params,
            priority=50,
            description=f"utilisation >= {high:.0%} or forecast demand beyond capacity",
        ),
        create_decision_rule(
            "scale down",
            scale_down_due,
            DecisionType.SCALE_DOWN,
            scale_down_params,
            priority=10,
            description=f"demand and its forecast fit fewer instances at {target_utilization:.0%}",
        ),
    ]


@dataclass
class DemoReport:
    """What :func:`run_demo` produced."""

    summary: dict[str, Any]
    timeline: pd.DataFrame
    output_dir: Path
    summary_path: Path
    plot_path: Path | None


def _fmt_accuracy(acc: dict[str, float]) -> dict[str, Any]:
    def r(x: float, nd: int = 4) -> float | None:
        return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), nd)

    return {
        "validated": int(acc["count"]),
        "mae": r(acc["mae"]),
        "mape_pct": r(acc["mape"], 2),
        "coverage": r(acc["coverage"]),
        "nominal_coverage": None,
    }


def run_demo(
    output_dir: str | Path = "autoopt-demo-output",
    *,
    days: float | None = None,
    request_scale: float = 100.0,
    capacity_rps: float = 50.0,
    seed: int = 0,
    progress: bool = True,
    plot: bool = True,
    trace: pd.DataFrame | None = None,
    on_step: Callable[[int], None] | None = None,
) -> DemoReport:
    """Replay the NASA-HTTP trace through a hub driving a simulated cluster.

    Each logged minute becomes one :class:`~autoopt.LoadMetrics` sample from
    a :class:`ClusterSimulator` serving ``request_scale`` times the trace's
    requests. The hub classifies load, forecasts load and demand 30 minutes
    ahead, scores its earlier forecasts, and decides with
    :func:`default_autoscaling_rules`; decisions scale the cluster, restarts
    go through :class:`~autoopt.AutoRemediation` (they fail while the
    recorded outage lasts), and load shedding refuses the throttled share of
    demand at the front door. Ten minutes after each scaling decision a
    scheduled task scores it (1 if load is then below the high threshold
    with errors under 1 %), which feeds the decision engine's confidence and
    the pattern learner.

    Minutes the trace did not log (``status == "missing"``) are skipped, not
    treated as zero load.

    Parameters
    ----------
    output_dir : path
        Where ``summary.json``, ``timeline.csv.gz`` and ``autoopt_demo.png`` go.
    days : float, optional
        Replay only the first ``days`` days (all 62 by default).
    request_scale : float
        Multiplier on the trace's request rate: the cluster is offered
        ``request_scale * requests_per_minute / 60`` requests per second
        (70 req/s on average and 675 at the peak by default).
    capacity_rps : float
        Requests per second one simulated instance serves.
    seed : int
    progress : bool
        Show a progress bar on stderr.
    plot : bool
        Write the PNG (needs matplotlib).
    trace : DataFrame, optional
        A trace in :func:`load_nasa_trace`'s format instead of the shipped one.
    on_step : callable, optional
        Called with the number of rows processed so far (for custom progress).
    """
    import pandas as pd
    from tqdm import tqdm

    arg = "run_demo() argument"
    check_int(seed, f"{arg} 'seed'", low=0)
    check_real(request_scale, f"{arg} 'request_scale'", low=0.0, low_open=True)
    check_real(capacity_rps, f"{arg} 'capacity_rps'", low=0.0, low_open=True)
    out_dir = Path(output_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{arg} 'output_dir' ({str(out_dir)!r}) exists and is not a folder.")
    frame = load_nasa_trace() if trace is None else trace
    if days is not None:
        span = (frame.index[-1] - frame.index[0] + (frame.index[1] - frame.index[0])) / pd.Timedelta(days=1)
        check_real(days, f"{arg} 'days'", low=0.0, low_open=True, high=float(span))
        frame = frame[frame.index < frame.index[0] + pd.Timedelta(days=days)]
    out_dir.mkdir(parents=True, exist_ok=True)

    times = pd.DatetimeIndex(frame.index)
    requests = frame["requests"].to_numpy(dtype=float)
    statuses = frame["status"].astype(str).to_numpy()
    clock = ManualClock(times[0].timestamp())
    hub = create_intelligent_automation_hub(
        decision_cooldown_seconds=300, seed=seed, clock=clock, remediation_target="web"
    )
    first = next(r for r in requests if not math.isnan(r))
    sim = ClusterSimulator(
        instances=max(1, math.ceil(first * request_scale / 60.0 / (capacity_rps * 0.6))),
        capacity_rps=capacity_rps,
    )
    for rule in default_autoscaling_rules(sim, hub.config):
        hub.decision_engine.add_rule(rule)
    state = {"status": "ok"}
    hub.remediation.register_handler(
        RemediationAction.RESTART, lambda target, params: state["status"] != "outage"
    )

    high = hub.config.load_threshold_high
    rps_per_request_per_min = request_scale / 60.0

    def score_scaling(decision_id: str) -> float:
        latest = hub.load_manager.get_metrics_history(limit=1)
        ok = bool(latest) and latest[-1].utilization < high and latest[-1].error_rate < 0.01
        score = 1.0 if ok else 0.0
        hub.record_decision_outcome(decision_id, "load under control" if ok else "still overloaded", score)
        return score

    n = len(frame)
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "timestamp",
            "offered_rps",
            "shed_rps",
            "dropped_rps",
            "instances",
            "utilization",
            "load_level",
            "throttle_pct",
            "p99_ms",
            "decision",
        )
    }
    forecasts: list[tuple[str, float, float, float]] = []
    skipped = outage_minutes = 0
    last_scale_up = -math.inf
    bar = tqdm(total=n, disable=not progress, file=sys.stderr, mininterval=0.5, unit="min", desc="replaying")
    for i in range(n):
        ts = times[i]
        clock.set(ts.timestamp())
        status = statuses[i]
        if status == "missing":
            skipped += 1
        else:
            state["status"] = status
            down = status == "outage"
            outage_minutes += down
            lm = hub.load_manager
            shed = lm.get_throttle_percentage() / 100.0
            step = sim.step(
                ts.to_pydatetime(), requests[i] * rps_per_request_per_min, shed_fraction=shed, down=down
            )
            result = hub.process_metrics(
                step.metrics,
                context={
                    "instances": sim.instances,
                    "pending_instances": sim.pending_instances,
                    "shed_fraction": shed,
                    "seconds_since_scale_up": ts.timestamp() - last_scale_up,
                },
            )
            decision = result["decision"]
            if decision is not None:
                kind = decision["decision_type"]
                if kind in (DecisionType.SCALE_UP, DecisionType.SCALE_DOWN):
                    k = int(decision["parameters"]["instances"])
                    sim.scale(k if kind == DecisionType.SCALE_UP else -k, now=ts.timestamp())
                    if kind == DecisionType.SCALE_UP:
                        last_scale_up = ts.timestamp()
                    hub.decision_engine.mark_executed(decision["decision_id"])
                    did = decision["decision_id"]
                    hub.scheduler.schedule_task(
                        f"score {kind} {did[:8]}",
                        functools.partial(score_scaling, did),
                        scheduled_time=datetime.fromtimestamp(
                            ts.timestamp() + FEEDBACK_DELAY_S, tz=ts.tzinfo
                        ),
                    )
                elif result["remediation"] is not None:
                    ok = bool(result["remediation"]["success"])
                    hub.record_decision_outcome(
                        decision["decision_id"], result["remediation"]["result"] or "", float(ok)
                    )
            hub.scheduler.run_pending()
            pred = result["predictions"].get(PredictionType.THROUGHPUT.value)
            if pred is not None:
                lo, hi = pred["confidence_interval"]
                forecasts.append((pred["target_time"], pred["predicted_value"], lo, hi))
            m = step.metrics
            cols["timestamp"].append(ts)
            cols["offered_rps"].append(step.offered_rps)
            cols["shed_rps"].append(step.shed_rps)
            cols["dropped_rps"].append(step.dropped_rps)
            cols["instances"].append(step.instances)
            cols["utilization"].append(m.utilization)
            cols["load_level"].append(result["load_level"])
            cols["throttle_pct"].append(result["throttle_percentage"])
            cols["p99_ms"].append(m.latency_p99)
            cols["decision"].append(None if decision is None else decision["decision_type"])
        if i % 256 == 0 or i == n - 1:
            bar.update(i + 1 - bar.n)
            if on_step is not None:
                on_step(i + 1)
    bar.close()

    timeline = pd.DataFrame(cols).set_index("timestamp")
    fc = pd.DataFrame(forecasts, columns=["target_time", "mean", "lower", "upper"])
    fc["target_time"] = pd.to_datetime(fc["target_time"], utc=True).dt.tz_convert(times.tz)
    fc = fc.set_index("target_time")
    summary = _summarise(hub, timeline, sim, skipped, outage_minutes, request_scale, capacity_rps)
    summary_path = out_dir / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2))
    timeline.to_csv(out_dir / "timeline.csv.gz")
    plot_path = _plot(timeline, fc, hub.config, out_dir / "autoopt_demo.png") if plot else None
    return DemoReport(summary, timeline, out_dir, summary_path, plot_path)


def _summarise(
    hub: IntelligentAutomationHub,
    timeline: pd.DataFrame,
    sim: ClusterSimulator,
    skipped: int,
    outage_minutes: int,
    request_scale: float,
    capacity_rps: float,
) -> dict[str, Any]:
    stats = hub.get_automation_summary()
    served = timeline[timeline["offered_rps"] > 0]
    offered = float(timeline["offered_rps"].sum())
    levels = timeline["load_level"].value_counts()
    minutes = len(timeline)
    inst = timeline["instances"].to_numpy()
    peak_needed = math.ceil(
        float(timeline["offered_rps"].max()) / (capacity_rps * hub.config.load_threshold_high)
    )
    failed = served["dropped_rps"] + served["shed_rps"]  # refused at the front door or dropped by queues
    slo_bad = int(((served["p99_ms"] > 500) | (failed > 0.01 * served["offered_rps"])).sum())
    shed_share = served["shed_rps"] / served["offered_rps"]
    throughput = {**_fmt_accuracy(hub.predictor.get_prediction_accuracy(PredictionType.THROUGHPUT))}
    load = {**_fmt_accuracy(hub.predictor.get_prediction_accuracy(PredictionType.LOAD))}
    nominal = round(1.0 - hub.predictor.alpha, 4)
    throughput["nominal_coverage"] = load["nominal_coverage"] = nominal
    rem = stats["remediation_stats"]
    recs = {}
    for level in ("critical", "high", "moderate", "low", "idle"):
        rec = hub.learner.get_recommended_action({"load_level": level})
        if rec is not None:
            recs[level] = {"action": rec[0], "success_rate": round(rec[1], 3)}
    return {
        "trace": {
            "source": NASA_TRACE_CITATION,
            "start": str(timeline.index[0]),
            "end": str(timeline.index[-1]),
            "minutes_replayed": minutes,
            "minutes_missing_skipped": skipped,
            "outage_minutes": outage_minutes,
            "request_scale": request_scale,
            "peak_offered_rps": round(float(timeline["offered_rps"].max()), 1),
        },
        "decisions": {
            "total": stats["decision_stats"]["total_decisions"],
            "by_type": stats["decision_stats"]["decisions_by_type"],
            "by_confidence": stats["decision_stats"]["decisions_by_confidence"],
            "feedback_count": stats["decision_stats"]["feedback_count"],
            "average_feedback_score": stats["decision_stats"]["average_feedback_score"],
        },
        "load_levels_minutes": {
            lvl: int(levels.get(lvl, 0)) for lvl in ("critical", "high", "moderate", "low", "idle")
        },
        "shedding": {
            "minutes_shedding": int((timeline["throttle_pct"] > 0).sum()),
            "mean_throttle_pct_when_shedding": round(
                float(timeline.loc[timeline["throttle_pct"] > 0, "throttle_pct"].mean()), 2
            )
            if (timeline["throttle_pct"] > 0).any()
            else 0.0,
            "requests_shed_pct": round(100.0 * float(timeline["shed_rps"].sum()) / offered, 3)
            if offered
            else 0.0,
            "requests_dropped_pct": round(100.0 * float(timeline["dropped_rps"].sum()) / offered, 3)
            if offered
            else 0.0,
            "minutes_shedding_over_half": int((shed_share > 0.5).sum()),
            "worst_minute_shed_pct": round(100.0 * float(shed_share.max()), 1) if len(served) else 0.0,
        },
        "forecast_30min": {"request_rate": throughput, "load": load},
        "remediation": {
            "attempts": rem["total_remediations"],
            "successful": rem["successful"],
        },
        "capacity": {
            "capacity_rps_per_instance": capacity_rps,
            "mean_instances": round(float(inst.mean()), 2),
            "peak_instances": int(inst.max()),
            "instance_hours": round(float(inst.sum()) / 60.0, 1),
            "static_peak_fleet_instance_hours": round(peak_needed * minutes / 60.0, 1),
            "final_instances": sim.instances,
        },
        "slo": {"minutes_p99_over_500ms_or_failed_over_1pct": slo_bad, "minutes_serving": len(served)},
        "learned_recommendations": recs,
    }


def _plot(timeline: pd.DataFrame, fc: pd.DataFrame, config: AutomationConfig, path: Path) -> Path:
    """Overview of the whole replay (10-minute bins) beside a per-minute zoom on the busiest day."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    import pandas as pd

    # A complete minute index, so that unlogged minutes break the lines instead of being bridged.
    index = pd.DatetimeIndex(timeline.index)
    full = pd.date_range(index[0], index[-1], freq="min")
    tl = timeline.reindex(full)
    band = fc[~fc.index.duplicated(keep="last")].reindex(full)
    overview = pd.DataFrame(
        {
            "offered": tl["offered_rps"].resample("10min").mean(),
            "utilization": 100 * tl["utilization"].resample("10min").mean(),
            "throttle": tl["throttle_pct"].resample("10min").max(),
            "instances": tl["instances"].resample("10min").max(),
        }
    )
    fc10 = band.resample("10min").mean()
    peak_day = full[int(np.nanargmax(tl["offered_rps"].to_numpy()))].normalize()
    zoom = slice(peak_day + pd.Timedelta(hours=6), peak_day + pd.Timedelta(hours=20))
    z, zb = tl.loc[zoom], band.loc[zoom]

    fig, axes = plt.subplots(
        3, 2, figsize=(16, 9.5), sharex="col", constrained_layout=True, gridspec_kw={"width_ratios": [2.2, 1]}
    )
    fig.suptitle("autoopt demo: the NASA-HTTP 1995 trace replayed through the automation hub")

    def demand(ax: Any, x: Any, y: Any, b: pd.DataFrame, title: str) -> None:
        ax.fill_between(
            b.index,
            b["lower"],
            b["upper"],
            color="tab:blue",
            alpha=0.25,
            lw=0,
            label="30-min forecast, 95% interval",
        )
        ax.plot(b.index, b["mean"], lw=0.7, color="tab:blue", label="30-min forecast")
        ax.plot(x, y, lw=0.7, color="0.2", label="offered requests/s")
        ax.set_ylabel("requests/s")
        ax.set_title(title, fontsize=10)
        ax.legend(loc="upper left", fontsize=8)

    demand(axes[0, 0], overview.index, overview["offered"], fc10, "whole trace, 10-minute means")
    demand(axes[0, 1], z.index, z["offered_rps"], zb, f"{peak_day:%Y-%m-%d}: busiest day, per minute")

    for ax, frame, util, thr in (
        (axes[1, 0], overview, overview["utilization"], overview["throttle"]),
        (axes[1, 1], z, 100 * z["utilization"], z["throttle_pct"]),
    ):
        ax.plot(frame.index, util, lw=0.7, color="tab:orange", label="utilisation %")
        ax.plot(frame.index, thr, lw=0.7, color="tab:purple", label="throttle % (max)")
        ax.axhline(100 * config.load_threshold_high, color="tab:red", ls="--", lw=0.8, label="high")
        ax.axhline(100 * config.load_threshold_critical, color="darkred", ls=":", lw=0.8, label="critical")
        ax.set_ylim(0, 105)
        ax.set_ylabel("%")
    axes[1, 0].legend(loc="upper left", fontsize=8, ncol=4)

    axes[2, 0].plot(overview.index, overview["instances"], lw=0.8, color="tab:green", label="instances (max)")
    axes[2, 1].step(z.index, z["instances"], where="post", lw=0.9, color="tab:green", label="instances")
    markers = {"scale_up": ("^", "tab:red"), "scale_down": ("v", "tab:blue"), "remediate": ("x", "black")}
    for kind, (marker, color) in markers.items():
        for ax, frame, size in ((axes[2, 0], tl, 10), (axes[2, 1], z, 22)):
            if kind != "remediate" and ax is axes[2, 0]:
                continue  # too dense to mark at this scale
            sel = frame[frame["decision"] == kind]
            if len(sel):
                ax.scatter(
                    sel.index, sel["instances"], marker=marker, s=size, color=color, label=kind, zorder=3
                )
    for ax in axes[2]:
        ax.set_ylabel("instances")
        ax.legend(loc="upper left", fontsize=8)
    axes[2, 1].xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=index.tz))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
