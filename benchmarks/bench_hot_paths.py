"""Hot-path benchmark: cost per call at small and large history, against naive references.

For each hot path the autoopt implementation and a naive reference (what
the seed's reference code does: scan, sort or refit over the whole history)
are timed in the same process at a small and a large history. Reported:

- the per-call time of each (median over repeats);
- the growth ratio large/small for each (1.0 = flat, 100 = linear in history);
- autoopt's speed-up over the reference at each size.

Absolute times on a shared machine are noise; the ratios are the result.

Usage::

    python benchmarks/bench_hot_paths.py                 # 1,000 vs 100,000
    python benchmarks/bench_hot_paths.py --small 100 --large 2000 --json out.json
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from autoopt import (
    AnomalyDetector,
    AutomationConfig,
    DecisionEngine,
    DecisionType,
    Forecaster,
    IntelligentScheduler,
    LoadManager,
    LoadMetrics,
    PerformancePredictor,
    PredictionType,
    SchedulerPriority,
    create_decision_rule,
)
from autoopt._clock import ManualClock

T0 = datetime(2020, 1, 1, tzinfo=UTC)  # replays run in the past: samples never run ahead of the clock


def per_call(fn: Callable[[], Any], calls: int, repeats: int = 7) -> float:
    """Median seconds per call of ``fn`` over ``repeats`` batches of ``calls``."""
    fn()  # warm up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)


# ----------------------------------------------------------------- references


class NaivePredictor:
    """Least squares over the whole history on every call (the seed's approach)."""

    def __init__(self) -> None:
        self.t: list[float] = []
        self.y: list[float] = []

    def record(self, y: float) -> None:
        self.t.append(float(len(self.t)))
        self.y.append(y)

    def predict(self, horizon: float) -> tuple[float, float, float]:
        t, y = np.asarray(self.t), np.asarray(self.y)
        b, a = np.polyfit(t, y, 1)
        resid = y - (a + b * t)
        s = resid.std()
        yhat = a + b * (t[-1] + horizon)
        return yhat, yhat - 2 * s, yhat + 2 * s


class NaiveHistory:
    """A list trimmed by slicing on every append once full (copies the list)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: list[float] = []

    def record(self, value: float) -> None:
        self.items.append(value)
        if len(self.items) > self.limit:
            self.items = self.items[-self.limit :]


def naive_next_task(tasks: list[tuple[int, float, int, str]]) -> str | None:
    pending = sorted(t for t in tasks if t[3] != "done")
    return pending[0][3] if pending else None


def naive_next_fitting_task(
    tasks: list[tuple[int, float, int, str, float, str]], free_cpu: float
) -> str | None:
    """Scan and sort every pending task, then take the best whose CPU fits what is free."""
    pending = sorted(t for t in tasks if t[5] == "pending")
    return next((t[3] for t in pending if t[4] <= free_cpu), None)


def naive_average(metrics: list[LoadMetrics], since: datetime) -> float:
    recent = [m for m in metrics if m.timestamp >= since]
    return sum(m.cpu_usage for m in recent) / len(recent)


def naive_feedback(decisions: list[dict[str, Any]], decision_id: str, score: float) -> None:
    for d in decisions:
        if d["id"] == decision_id:
            d["score"] = score
            return


def naive_evaluate(
    rules: list[tuple[int, Callable[[dict[str, Any]], bool], str]],
    history: list[tuple[str, float]],
    ctx: dict[str, Any],
    now: float,
) -> str | None:
    for _, cond, rid in sorted(rules, key=lambda r: -r[0]):
        last = max((t for r, t in history if r == rid), default=None)
        if last is not None and now - last < 60:
            continue
        if cond(ctx):
            return rid
    return None


# --------------------------------------------------------------------- cases


@dataclass
class Case:
    name: str
    build: Callable[[int], tuple[Callable[[], Any], Callable[[], Any]]]
    calls: int


def case_predict(n: int) -> tuple[Callable[[], Any], Callable[[], Any]]:
    rng = np.random.default_rng(0)
    pred = PerformancePredictor(history_size=n, window=100, seasonal_period=None)
    naive = NaivePredictor()
    for v in 50 + rng.normal(0, 3, n):
        pred.record_observation(PredictionType.LOAD, v)
        naive.record(v)
    return (lambda: pred.predict(PredictionType.LOAD, 30)), (lambda: naive.predict(30))


def _daily(n: int, step: float) -> np.ndarray:
    t = np.arange(n) * step
    return 100 + 30 * np.sin(2 * np.pi * t / 86_400.0) + np.random.default_rng(1).normal(0, 3, n)


def case_predict_seasonal(n: int) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """record_observation + predict on 5-minute data with a daily cycle: the seasonal path.

    Both sizes hold >= 2 days, so both take the Forecaster path; the refit every 12 observations
    (a 24th of a day) is part of the measured cost, amortised. The reference refits a Forecaster
    on the whole history on every call.
    """
    step = 300.0 if n >= 3 * 288 else 3 * 86_400.0 / n  # >= 3 days of history, so the seasonal path runs
    y = _daily(n + 100_000, step)
    pred = PerformancePredictor(history_size=n)
    history = list(y[:n])
    for i in range(n):
        pred.record_observation(PredictionType.LOAD, float(y[i]), timestamp=T0 + timedelta(seconds=i * step))
    counter = [n]

    def ours() -> Any:
        i = counter[0]
        counter[0] += 1
        pred.record_observation(PredictionType.LOAD, float(y[i]), timestamp=T0 + timedelta(seconds=i * step))
        p = pred.predict(PredictionType.LOAD, 30)
        if n >= 3 * 288 and (p is None or not p.model_version.startswith("seasonal")):
            raise RuntimeError(f"expected the seasonal path; got {p}")  # (tiny test sizes may stay linear)
        return p

    def naive() -> Any:
        history.append(float(y[len(history)]))
        period = round(86_400.0 / step)
        small: dict[str, Any] = (
            {} if n >= 3 * 288 else {"ar_lags": 2, "n_harmonics": 2}
        )  # tiny sizes: a model that fits
        return Forecaster(seasonal_periods=[period], **small).fit(np.asarray(history)).predict_arrays(6)

    return ours, naive


class NaiveZScore:
    """Anomaly score from the z-score of the new value against the whole history, recomputed per call."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = list(values)

    def update(self, x: float) -> float:
        arr = np.asarray(self.values)
        self.values.append(x)
        z = abs(x - arr.mean()) / (arr.std() + 1e-9)
        return float(1.0 - math.exp(-z))


def case_anomaly_update(n: int) -> tuple[Callable[[], Any], Callable[[], Any]]:
    y = _daily(n + 200_000, 300.0)
    det = AnomalyDetector()
    for i in range(n):
        det.update(float(y[i]), i * 300.0)
    naive = NaiveZScore(y[:n])
    counter = [n]

    def ours() -> float:
        i = counter[0]
        counter[0] += 1
        return det.update(float(y[i]), i * 300.0)

    return ours, (lambda: naive.update(float(y[counter[0]])))


def case_record_observation(n: int) -> tuple[Callable[[], Any], Callable[[], Any]]:
    pred = PerformancePredictor(history_size=n, window=100)
    naive = NaiveHistory(n)
    for i in range(n):
        pred.record_observation(PredictionType.LOAD, float(i % 100))
        naive.record(float(i % 100))
    return (lambda: pred.record_observation(PredictionType.LOAD, 42.0)), (lambda: naive.record(42.0))


def case_get_next_task(n: int) -> tuple[Callable[[], Any], Callable[[], Any]]:
    clock = ManualClock(T0.timestamp())
    sched = IntelligentScheduler(AutomationConfig(max_concurrent_tasks=10), clock=clock)
    prios = list(SchedulerPriority)
    rng = np.random.default_rng(1)
    naive_tasks = []
    for i in range(n):
        p = prios[int(rng.integers(5))]
        sched.schedule_task(f"t{i}", lambda: None, priority=p, scheduled_time=T0)
        naive_tasks.append((p.rank, T0.timestamp(), i, f"t{i}"))
    return sched.get_next_task, (lambda: naive_next_task(naive_tasks))


def case_get_next_task_constrained(n: int) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """A task holds 80 of 100 CPU; n higher-ranked ready tasks need 30 CPU, one task needs 10."""
    clock = ManualClock(T0.timestamp())
    sched = IntelligentScheduler(AutomationConfig(max_concurrent_tasks=10), clock=clock)
    hog = sched.schedule_task(
        "hog", lambda: None, priority=SchedulerPriority.CRITICAL, resource_requirements={"cpu": 80.0}
    )
    if not sched.start_task(hog.task_id):
        raise RuntimeError("get_next_task_constrained: the 80-CPU task did not start")
    prios = list(SchedulerPriority)[:-1]  # every big task outranks the small BACKGROUND one
    rng = np.random.default_rng(2)
    naive_tasks = [(SchedulerPriority.CRITICAL.rank, T0.timestamp(), -1, "hog", 80.0, "running")]
    for i in range(n):
        p = prios[int(rng.integers(len(prios)))]
        sched.schedule_task(
            f"t{i}", lambda: None, priority=p, scheduled_time=T0, resource_requirements={"cpu": 30.0}
        )
        naive_tasks.append((p.rank, T0.timestamp(), i, f"t{i}", 30.0, "pending"))
    sched.schedule_task(
        "small",
        lambda: None,
        priority=SchedulerPriority.BACKGROUND,
        scheduled_time=T0,
        resource_requirements={"cpu": 10.0},
    )
    naive_tasks.append((SchedulerPriority.BACKGROUND.rank, T0.timestamp(), n, "small", 10.0, "pending"))
    free_cpu = sched.resource_pool.available()["cpu"]  # 20
    ours = sched.get_next_task
    chosen = ours()
    expected = naive_next_fitting_task(naive_tasks, free_cpu)
    if chosen is None or chosen.name != expected or expected != "small":
        raise RuntimeError(f"get_next_task_constrained: autoopt chose {chosen}, the reference {expected!r}")
    return ours, (lambda: naive_next_fitting_task(naive_tasks, free_cpu))


def case_get_average_metrics(n: int) -> tuple[Callable[[], Any], Callable[[], Any]]:
    clock = ManualClock(T0.timestamp())
    lm = LoadManager(clock=clock, history_size=n)
    metrics = []
    for i in range(n):
        m = LoadMetrics(cpu_usage=float(i % 90), memory_usage=40.0, timestamp=T0 + timedelta(seconds=i))
        clock.set(m.timestamp.timestamp())  # a replay: the clock follows the samples
        lm.record_metrics(m)
        metrics.append(m)
    clock.set((T0 + timedelta(seconds=n)).timestamp())
    since = T0 + timedelta(seconds=n - 300)
    return (lambda: lm.get_average_metrics(300)), (lambda: naive_average(metrics, since))


def case_record_feedback(n: int) -> tuple[Callable[[], Any], Callable[[], Any]]:
    clock = ManualClock(0.0)
    engine = DecisionEngine(AutomationConfig(decision_cooldown_seconds=0), clock=clock, history_size=n)
    engine.add_rule(create_decision_rule("r", lambda c: True, DecisionType.ALERT, lambda c: {}))
    decisions = [engine.evaluate({}) for _ in range(n)]
    ids = [d.decision_id for d in decisions if d is not None]
    assert len(ids) == n
    naive = [{"id": i, "score": None} for i in ids]
    mid = ids[n // 2]
    return (lambda: engine.record_feedback(mid, "ok", 1.0)), (lambda: naive_feedback(naive, mid, 1.0))


def _above(k: int, ctx: dict[str, Any]) -> bool:
    return bool(ctx["x"] > k)


def _no_params(ctx: dict[str, Any]) -> dict[str, Any]:
    return {}


def case_evaluate(n: int) -> tuple[Callable[[], Any], Callable[[], Any]]:
    clock = ManualClock(0.0)
    engine = DecisionEngine(AutomationConfig(decision_cooldown_seconds=60), clock=clock, history_size=n)
    rules: list[tuple[int, Callable[[dict[str, Any]], bool], str]] = []
    for k in range(10):
        cond = functools.partial(_above, k)
        engine.add_rule(create_decision_rule(f"r{k}", cond, DecisionType.ALERT, _no_params, priority=k))
        rules.append((k, cond, f"r{k}"))
    history = []
    for _i in range(n):  # fill the history: one decision per minute
        clock.advance(61)
        engine.evaluate({"x": 100})
        history.append(("r9", clock()))
    ctx = {"x": -1}  # no rule fires: every rule's condition is checked
    now = clock()
    return (lambda: engine.evaluate(ctx)), (lambda: naive_evaluate(rules, history, ctx, now))


CASES = [
    Case("predict", case_predict, 2000),
    Case("predict (seasonal path)", case_predict_seasonal, 600),
    Case("AnomalyDetector.update", case_anomaly_update, 5000),
    Case("record_observation", case_record_observation, 5000),
    Case("get_next_task", case_get_next_task, 2000),
    Case("get_next_task_constrained", case_get_next_task_constrained, 2000),
    Case("get_average_metrics", case_get_average_metrics, 2000),
    Case("record_feedback", case_record_feedback, 5000),
    Case("evaluate", case_evaluate, 2000),
]


def predictor_vs_statsmodels(points: int = 1000) -> dict[str, float]:
    """PerformancePredictor.predict against a statsmodels refit on the same ``points``."""
    import statsmodels.api as sm

    rng = np.random.default_rng(0)
    y = 50 + 0.1 * np.arange(points) + rng.normal(0, 3, points)
    pred = PerformancePredictor(window=points, history_size=points)
    for v in y:
        pred.record_observation(PredictionType.LOAD, v)
    x = np.arange(points, dtype=float)
    exog = sm.add_constant(x)
    x0 = np.array([[1.0, x[-1] + 30]])

    def refit() -> Any:
        return sm.OLS(y, exog).fit().get_prediction(x0).summary_frame(alpha=0.05)

    ours = per_call(lambda: pred.predict(PredictionType.LOAD, 30), 2000)
    ref = per_call(refit, 50)
    p = pred.predict(PredictionType.LOAD, 30)
    assert p is not None
    f = refit()
    rel = max(
        abs(p.confidence_interval[0] - f["obs_ci_lower"].iloc[0]) / abs(f["obs_ci_lower"].iloc[0]),
        abs(p.confidence_interval[1] - f["obs_ci_upper"].iloc[0]) / abs(f["obs_ci_upper"].iloc[0]),
    )
    return {
        "points": points,
        "autoopt_us": ours * 1e6,
        "statsmodels_us": ref * 1e6,
        "speedup": ref / ours,
        "max_rel_diff_interval": rel,
    }


def evaluate_overhead(n_rules: int = 100) -> dict[str, float]:
    """``evaluate`` with ``n_rules`` non-matching rules against calling the conditions bare, in one process.

    Three timings on the same context: the bare loop over ``n_rules`` lambda conditions (none
    fires); an engine holding those lambdas as rules; an engine holding the same thresholds as
    declarative rules (compiled together into one function).
    """
    conditions = [(lambda c, k=k: c["cpu_usage"] > 1000 + k) for k in range(n_rules)]
    lambdas = DecisionEngine(clock=ManualClock(0.0))
    declarative = DecisionEngine(clock=ManualClock(0.0))
    for k, cond in enumerate(conditions):
        lambdas.add_rule(create_decision_rule(f"r{k}", cond, DecisionType.ALERT, _no_params))
        declarative.add_rule(create_decision_rule(f"d{k}", f"cpu_usage > {1000 + k}", DecisionType.ALERT, {}))
    ctx = {"cpu_usage": 50.0}

    def bare() -> None:
        for cond in conditions:
            cond(ctx)

    bare_s = per_call(bare, 5000)
    lambda_s = per_call(lambda: lambdas.evaluate(ctx), 5000)
    decl_s = per_call(lambda: declarative.evaluate(ctx), 5000)
    return {
        "rules": n_rules,
        "bare_conditions_us": bare_s * 1e6,
        "lambda_rules_us": lambda_s * 1e6,
        "declarative_rules_us": decl_s * 1e6,
        "lambda_vs_bare": lambda_s / bare_s,
        "declarative_vs_bare": decl_s / bare_s,
    }


def run(small: int, large: int, calls_scale: float = 1.0) -> dict[str, Any]:
    rows = []
    for case in CASES:
        calls = max(10, int(case.calls * calls_scale))
        res: dict[str, Any] = {"hot_path": case.name}
        for label, n in (("small", small), ("large", large)):
            ours, ref = case.build(n)
            ref_calls = max(3, calls // max(1, n // small)) if label == "large" else max(3, calls // 10)
            res[f"autoopt_{label}_us"] = per_call(ours, calls) * 1e6
            res[f"naive_{label}_us"] = per_call(ref, ref_calls, repeats=3) * 1e6
        res["autoopt_growth"] = res["autoopt_large_us"] / res["autoopt_small_us"]
        res["naive_growth"] = res["naive_large_us"] / res["naive_small_us"]
        res["speedup_small"] = res["naive_small_us"] / res["autoopt_small_us"]
        res["speedup_large"] = res["naive_large_us"] / res["autoopt_large_us"]
        rows.append(res)
    return {"small": small, "large": large, "rows": rows}


def format_table(result: dict[str, Any]) -> str:
    s, l_ = result["small"], result["large"]
    w = max([20, *(len(r["hot_path"]) for r in result["rows"])])
    head = (
        f"{'hot path':<{w}} {'autoopt ' + str(s):>13} {'autoopt ' + str(l_):>15} {'growth':>7}"
        f" {'naive growth':>13} {'speed-up@' + str(s):>15} {'speed-up@' + str(l_):>17}"
    )
    lines = [head, "-" * len(head)]
    for r in result["rows"]:
        lines.append(
            f"{r['hot_path']:<{w}} {r['autoopt_small_us']:>10.2f} us {r['autoopt_large_us']:>12.2f} us"
            f" {r['autoopt_growth']:>6.2f}x {r['naive_growth']:>12.1f}x {r['speedup_small']:>14.1f}x"
            f" {r['speedup_large']:>16.1f}x"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--calls-scale", type=float, default=1.0, help="scale the number of timed calls")
    parser.add_argument("--json", help="also write the results as JSON here")
    parser.add_argument(
        "--max-growth", type=float, default=None, help="exit 1 if any autoopt growth ratio exceeds this"
    )
    args = parser.parse_args(argv)
    result = run(args.small, args.large, args.calls_scale)
    result["predictor_vs_statsmodels"] = predictor_vs_statsmodels()
    result["evaluate_overhead"] = evaluate_overhead()
    print(format_table(result))
    ev = result["evaluate_overhead"]
    print(
        f"\nevaluate with {ev['rules']} non-matching rules: lambda rules {ev['lambda_rules_us']:.1f} us = "
        f"{ev['lambda_vs_bare']:.2f}x the bare conditions ({ev['bare_conditions_us']:.1f} us); "
        f"declarative rules {ev['declarative_rules_us']:.1f} us = {ev['declarative_vs_bare']:.2f}x"
    )
    sm_ = result["predictor_vs_statsmodels"]
    print(
        f"\npredict vs statsmodels refit on {sm_['points']} points: {sm_['autoopt_us']:.1f} us vs "
        f"{sm_['statsmodels_us']:.1f} us = {sm_['speedup']:.0f}x faster; "
        f"interval max relative difference {sm_['max_rel_diff_interval']:.1e}"
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    if args.max_growth is not None:
        worst = max(r["autoopt_growth"] for r in result["rows"])
        if not math.isfinite(worst) or worst > args.max_growth:
            print(f"growth ratio {worst:.2f} exceeds {args.max_growth}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
