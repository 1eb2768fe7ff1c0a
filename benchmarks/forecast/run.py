"""Forecast benchmark: the classic baselines (and autoopt.Forecaster, when it exists) on real ops data.

Protocol
--------
- Series (:data:`benchmarks.forecast.data.DATASETS`): NASA requests per hour,
  24 h ahead; NASA requests per 5 minutes, 1 h (12 steps) ahead; Azure V2
  total CPU per 5 minutes, 1 h ahead. The seasonal period is a day (24 or
  288 steps). Gaps are NaN; each method handles them in its own documented
  way (:mod:`benchmarks.forecast.baselines`).
- Rolling origins: the last ``N`` origins spaced by the dataset's step
  (24 h for the hourly series, so consecutive 24-h forecasts tile the end of
  the series; 7 h for the 5-min series, so that the origins cycle through
  the times of day), the latest forecasting the series' final ``horizon``
  points. Candidate origins whose whole target is missing are skipped and the
  next earlier one taken. At origin ``o`` (the position of the first forecast
  point) a method sees only the training window ``y[o - W : o]``, the last
  ``W`` points before the origin, and forecasts ``y[o : o + horizon]``.
  Every method runs on the same origins, in one run.
- Metrics (M4 definitions, :mod:`autoopt.prediction`), per dataset and method:
  MASE and MSIS scaled by the in-sample seasonal naive MAE of each training
  window (period = the dataset's season), and sMAPE, each the mean over
  origins of the per-origin value; coverage of the nominal ``1 - alpha``
  (95 %) interval pooled over every observed (origin, step), and per step;
  compute time, the wall time of the method calls (fit and forecast) in
  total and per origin (after one untimed warm-up call per method and
  dataset: the first origin's call, or for a batch method the whole
  batch). Missing actuals are left out. An origin where a method raises,
  or returns non-finite values or ``lower > upper``, is
  counted as failed and left out of that method's metrics (and reported).
- Methods: :data:`benchmarks.forecast.baselines.BASELINES` (naive, seasonal
  naive with a daily and a weekly period, Holt-Winters ETS(A,A,A),
  SARIMA / Fourier + ARIMA errors), and ``autoopt.Forecaster`` when
  ``import autoopt; autoopt.Forecaster`` works, through the
  ``fit(y).predict(h)`` hook :func:`benchmarks.forecast.baselines.fit_predict_method`.
- Checks, printed when autoopt.Forecaster ran: the issue's "must show"
  targets -- MASE <= the best of the seasonal naives and Holt-Winters,
  coverage in [0.93, 0.97], MSIS <= SARIMA's, and >= 20x less compute than
  Holt-Winters.

Compute is compared single-threaded: ``--threads 1`` (the default) limits
BLAS and OpenMP to one thread for every method (threadpoolctl), so no
method's time depends on how busy the other core is; ``--threads 0``
leaves the libraries' defaults.

Tiers: ``--tier full`` (28 origins per dataset; a few minutes on 2 cores)
and ``--tier ci`` (3 origins per dataset; under a minute).

Usage::

    python -m benchmarks.forecast.run --tier ci
    python -m benchmarks.forecast.run --tier full --json forecast.json
    python -m benchmarks.forecast.run --datasets nasa_hourly --methods naive,holt_winters --origins 10
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autoopt.prediction import coverage, mase, msis, smape
from benchmarks._shared import blas_threads, environment
from benchmarks.forecast.baselines import BASELINES, Method, autoopt_methods
from benchmarks.forecast.data import DATASETS, DatasetSpec

logger = logging.getLogger(__name__)

ALPHA = 0.05
"""Nominal miscoverage: the intervals are 95 % ones."""

FORECASTER = "autoopt.Forecaster"
FORECASTER_BATCH = "autoopt.Forecaster[batch]"
COVERAGE_TARGET = (0.93, 0.97)
SPEEDUP_TARGET = 20.0


@dataclass(frozen=True)
class Tier:
    """A benchmark configuration."""

    name: str
    datasets: tuple[str, ...]
    methods: tuple[str, ...]  # baselines; autoopt.Forecaster is added when it exists
    n_origins: int
    alpha: float = ALPHA
    windows: dict[str, int] = field(default_factory=dict)  # per-dataset overrides of the window (steps)


TIERS: dict[str, Tier] = {
    "full": Tier(name="full", datasets=tuple(DATASETS), methods=tuple(BASELINES), n_origins=28),
    "ci": Tier(name="ci", datasets=tuple(DATASETS), methods=tuple(BASELINES), n_origins=3),
}


def available_methods() -> dict[str, Method]:
    """Every method by name: the baselines, then autoopt.Forecaster when it can be imported."""
    return {**BASELINES, **autoopt_methods()}


# ----------------------------------------------------------------- origins


def select_origins(
    y: pd.Series | np.ndarray, horizon: int, window: int, step: int, n_origins: int
) -> np.ndarray:
    """Positions of the ``n_origins`` latest origins, ``step`` apart, ascending.

    The latest is ``len(y) - horizon``; a candidate whose whole target
    ``y[o : o + horizon]`` is NaN is skipped. Raises ValueError when the
    series cannot hold that many origins with a full window before each.
    """
    for name, value, low in (("horizon", horizon, 1), ("window", window, 2), ("step", step, 1)):
        if value < low:
            raise ValueError(f"select_origins() argument '{name}' must be >= {low}; got {value}.")
    if n_origins < 1:
        raise ValueError(f"select_origins() argument 'n_origins' must be >= 1; got {n_origins}.")
    values = np.asarray(y, dtype=float)
    chosen: list[int] = []
    o = len(values) - horizon
    while len(chosen) < n_origins and o - window >= 0:
        if np.isfinite(values[o : o + horizon]).any():
            chosen.append(o)
        o -= step
    if len(chosen) < n_origins:
        raise ValueError(
            f"a series of {len(values)} points holds only {len(chosen)} origins {step} apart with a "
            f"{window}-point window and a {horizon}-step target; {n_origins} were asked for."
        )
    return np.asarray(sorted(chosen), dtype=int)


# -------------------------------------------------------------- evaluation


@dataclass
class MethodRun:
    """One method's forecasts at every origin: rows of failed origins are NaN, with the error kept."""

    mean: np.ndarray  # (n_origins, horizon)
    lower: np.ndarray
    upper: np.ndarray
    seconds: np.ndarray  # (n_origins,)
    errors: list[str | None]

    @property
    def ok(self) -> np.ndarray:
        return np.array([e is None for e in self.errors], dtype=bool)


def _check_output(out: Any, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean, lower, upper = (np.asarray(a, dtype=float) for a in out)
    for name, a in (("mean", mean), ("lower", lower), ("upper", upper)):
        if a.shape != (horizon,):
            raise ValueError(f"'{name}' has shape {a.shape}, not ({horizon},)")
        if not np.isfinite(a).all():
            raise ValueError(f"'{name}' is not finite")
    if (
        (lower > upper).any()
        or (lower > mean + 1e-9 * np.abs(mean)).any()
        or (mean > upper + 1e-9 * np.abs(mean)).any()
    ):
        raise ValueError("the bounds do not bracket the mean")
    return mean, lower, upper


def run_method(
    method: Method,
    y: pd.Series,
    origins: Sequence[int] | np.ndarray,
    *,
    horizon: int,
    season: int,
    window: int,
    alpha: float = ALPHA,
    warmup: bool = True,
) -> MethodRun:
    """``method`` at each origin ``o``, on the history ``y.iloc[o - window : o]`` only, timed.

    With ``warmup``, the method is first called once, untimed and its result
    discarded, on the first origin's history, so that one-off costs (lazy
    imports, caches, JIT compilation) are not charged to the first origin.
    """
    n = len(origins)
    for o in origins:
        if o - window < 0 or o + horizon > len(y):
            raise ValueError(f"origin {o} does not fit a {window}-point window and a {horizon}-step target")
    mean, lower, upper = (np.full((n, horizon), np.nan) for _ in range(3))
    seconds = np.zeros(n)
    errors: list[str | None] = []
    if getattr(method, "batch", False):
        return _run_batch(method, y, origins, horizon, season, window, alpha, warmup)
    if warmup and n:
        try:
            method(y.iloc[origins[0] - window : origins[0]], horizon, alpha, season)
        except Exception as exc:  # the timed call at this origin records the failure
            logger.debug("warm-up call failed: %s: %s", type(exc).__name__, exc)
    for i, o in enumerate(origins):
        history = y.iloc[o - window : o]
        start = time.perf_counter()
        try:
            out = method(history, horizon, alpha, season)
            seconds[i] = time.perf_counter() - start
            mean[i], lower[i], upper[i] = _check_output(out, horizon)
        except Exception as exc:  # one failed fit is recorded and reported; it must not sink the run
            seconds[i] = time.perf_counter() - start
            logger.warning("origin %d (%s) failed: %s: %s", o, y.index[o], type(exc).__name__, exc)
            errors.append(f"{type(exc).__name__}: {exc}")
        else:
            errors.append(None)
    return MethodRun(mean, lower, upper, seconds, errors)


def _run_batch(
    method: Any,
    y: pd.Series,
    origins: Sequence[int] | np.ndarray,
    horizon: int,
    season: int,
    window: int,
    alpha: float,
    warmup: bool,
) -> MethodRun:
    """A :class:`~benchmarks.forecast.baselines.BatchMethod`: one timed call for all origins, time shared."""
    n = len(origins)
    histories = [y.iloc[o - window : o] for o in origins]
    mean, lower, upper = (np.full((n, horizon), np.nan) for _ in range(3))
    if warmup and n:  # the same call, untimed, as for the per-call methods
        try:
            method.forecast_all(histories, horizon, alpha, season)
        except Exception as exc:
            logger.debug("warm-up call failed: %s: %s", type(exc).__name__, exc)
    start = time.perf_counter()
    try:
        outs = method.forecast_all(histories, horizon, alpha, season)
    except Exception as exc:  # the whole batch failed: every origin records it
        seconds = np.full(n, (time.perf_counter() - start) / max(n, 1))
        logger.warning("batch call failed: %s: %s", type(exc).__name__, exc)
        return MethodRun(mean, lower, upper, seconds, [f"{type(exc).__name__}: {exc}"] * n)
    seconds = np.full(n, (time.perf_counter() - start) / max(n, 1))
    errors: list[str | None] = []
    for i, out in enumerate(outs):
        try:
            mean[i], lower[i], upper[i] = _check_output(out, horizon)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        else:
            errors.append(None)
    return MethodRun(mean, lower, upper, seconds, errors)


def _finite_mean(x: np.ndarray) -> float | None:
    x = x[np.isfinite(x)]
    return float(np.mean(x)) if x.size else None


def score(
    result: MethodRun,
    actual: np.ndarray,
    insample: np.ndarray,
    season: int,
    alpha: float = ALPHA,
) -> dict[str, Any]:
    """The protocol's metrics for one method from its forecasts, the actuals and the training windows."""
    ok = result.ok
    n_ok = int(ok.sum())
    seconds = float(result.seconds.sum())
    out: dict[str, Any] = {
        "origins": len(ok),
        "failed": int((~ok).sum()),
        "errors": sorted({e for e in result.errors if e is not None})[:5],
        "seconds_total": seconds,
        "ms_per_origin": 1e3 * seconds / max(1, len(ok)),
        "mase": None,
        "smape": None,
        "coverage": None,
        "msis": None,
        "coverage_by_step": None,
    }
    if n_ok == 0:
        return out
    y, hist = actual[ok], insample[ok]
    f, lo, hi = result.mean[ok], result.lower[ok], result.upper[ok]
    inside = np.where(np.isnan(y), np.nan, ((y >= lo) & (y <= hi)).astype(float))
    by_step = coverage(y, lo, hi, axis=0)
    out.update(
        mase=_finite_mean(mase(y, f, insample=hist, m=season)),
        smape=_finite_mean(smape(y, f)),
        coverage=_finite_mean(inside.ravel()),
        msis=_finite_mean(msis(y, lo, hi, insample=hist, m=season, alpha=alpha)),
        coverage_by_step=[None if not math.isfinite(c) else float(c) for c in by_step],
    )
    return out


def evaluate_dataset(
    spec: DatasetSpec,
    y: pd.Series,
    methods: Mapping[str, Method],
    n_origins: int,
    *,
    window: int | None = None,
    alpha: float = ALPHA,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every method on the same origins of one series; the metrics and the origins used."""
    w = spec.window if window is None else window
    origins = select_origins(y, spec.horizon, w, spec.step, n_origins)
    values = y.to_numpy(dtype=float)
    actual = np.stack([values[o : o + spec.horizon] for o in origins])
    insample = np.stack([values[o - w : o] for o in origins])
    scores: dict[str, Any] = {}
    for name, method in methods.items():
        run_ = run_method(method, y, origins, horizon=spec.horizon, season=spec.season, window=w, alpha=alpha)
        scores[name] = score(run_, actual, insample, spec.season, alpha)
        if progress is not None:
            s = scores[name]
            progress(
                f"{spec.name} {name}: MASE {_fmt(s['mase'])}, coverage {_fmt(s['coverage'])}, "
                f"{s['seconds_total']:.2f} s, {s['failed']} failed"
            )
    return {
        "description": spec.description,
        "length": len(values),
        "missing": int(np.isnan(values).sum()),
        "horizon": spec.horizon,
        "season": spec.season,
        "window": w,
        "step": spec.step,
        "origins": [str(y.index[o]) for o in origins],
        "missing_in_windows": int(np.isnan(insample).sum()),
        "missing_in_targets": int(np.isnan(actual).sum()),
        "methods": scores,
    }


# ----------------------------------------------------------------- checks


def _check(name: str, ok: bool | None, detail: str) -> dict[str, str]:
    return {"check": name, "status": "n/a" if ok is None else ("PASS" if ok else "FAIL"), "detail": detail}


def run_checks(datasets: Mapping[str, Any]) -> list[dict[str, str]]:
    """The issue's targets for autoopt.Forecaster, per dataset (none when it did not run)."""
    checks = []
    for dname, d in datasets.items():
        rows = d["methods"]
        fc = rows.get(FORECASTER)
        if fc is None or fc["mase"] is None:
            continue
        refs = [
            rows[m]["mase"] for m in ("seasonal_naive", "seasonal_naive_weekly", "holt_winters") if m in rows
        ]
        refs = [r for r in refs if r is not None]
        best = min(refs) if refs else None
        checks.append(
            _check(
                f"{dname}: MASE <= best of seasonal naive and Holt-Winters",
                None if best is None else fc["mase"] <= best,
                f"{_fmt(fc['mase'])} vs {_fmt(best)}",
            )
        )
        cov = fc["coverage"]
        checks.append(
            _check(
                f"{dname}: coverage in [{COVERAGE_TARGET[0]}, {COVERAGE_TARGET[1]}]",
                COVERAGE_TARGET[0] <= cov <= COVERAGE_TARGET[1],
                _fmt(cov),
            )
        )
        sar = rows.get("sarima", {}).get("msis")
        checks.append(
            _check(
                f"{dname}: MSIS <= SARIMA's",
                None if sar is None else fc["msis"] <= sar,
                f"{_fmt(fc['msis'])} vs {_fmt(sar)}",
            )
        )
        hw = rows.get("holt_winters", {}).get("seconds_total")
        fb = rows.get(FORECASTER_BATCH)
        per_call = None if hw is None or fc["seconds_total"] <= 0 else hw / fc["seconds_total"]
        batched = None if hw is None or fb is None or fb["seconds_total"] <= 0 else hw / fb["seconds_total"]
        best = batched if batched is not None else per_call
        checks.append(
            _check(
                f"{dname}: >= {SPEEDUP_TARGET:g}x less compute than Holt-Winters",
                None if best is None else best >= SPEEDUP_TARGET,
                f"batch form {_fmt(batched, '.1f')}x, per call {_fmt(per_call, '.1f')}x",
            )
        )
        if fb is not None and fb["mase"] is not None:
            same = all(
                fb[key] is not None and math.isclose(fb[key], fc[key], rel_tol=1e-6, abs_tol=1e-9)
                for key in ("mase", "coverage", "msis")
            )
            checks.append(
                _check(
                    f"{dname}: the batch form scores as the per-call form",
                    same,
                    f"MASE {_fmt(fb['mase'], '.6f')} vs {_fmt(fc['mase'], '.6f')}, "
                    f"coverage {_fmt(fb['coverage'], '.4f')} vs {_fmt(fc['coverage'], '.4f')}",
                )
            )
    return checks


# ------------------------------------------------------------------- run


def run(
    tier: Tier,
    *,
    methods: Mapping[str, Method] | None = None,
    data_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The benchmark for a tier: per dataset, every method on the same origins; the checks."""
    every = available_methods() if methods is None else dict(methods)
    chosen = {n: every[n] for n in tier.methods if n in every}
    if methods is None:  # the tiers list the baselines; the Forecaster (both forms) joins them
        chosen.update({m: every[m] for m in (FORECASTER, FORECASTER_BATCH) if m in every})
    missing = [n for n in tier.methods if n not in every]
    if missing:
        raise ValueError(f"unknown method(s) {missing}; available: {sorted(every)}")
    start = time.perf_counter()
    datasets: dict[str, Any] = {}
    for dname in tier.datasets:
        spec = DATASETS[dname]
        y = spec.load(data_dir)
        datasets[dname] = evaluate_dataset(
            spec,
            y,
            chosen,
            tier.n_origins,
            window=tier.windows.get(dname),
            alpha=tier.alpha,
            progress=progress,
        )
    return {
        "config": {
            "tier": tier.name,
            "datasets": list(tier.datasets),
            "methods": list(chosen),
            "n_origins": tier.n_origins,
            "alpha": tier.alpha,
        },
        "environment": environment("pandas", "statsmodels"),
        "datasets": datasets,
        "checks": run_checks(datasets),
        "runtime_s": time.perf_counter() - start,
    }


# ----------------------------------------------------------------- report


def _fmt(x: float | None, spec: str = ".3f") -> str:
    return "—" if x is None or not math.isfinite(x) else format(x, spec)


def format_report(result: Mapping[str, Any]) -> str:
    """Markdown: one table per dataset, then the checks."""
    cfg = result["config"]
    lines = [
        f"## Forecast benchmark ({cfg['tier']} tier: {cfg['n_origins']} origins per dataset, "
        f"{100 * (1 - cfg['alpha']):g} % intervals; {result['runtime_s']:.1f} s)",
    ]
    for dname, d in result["datasets"].items():
        lines += [
            "",
            f"### {dname}: {d['description']}",
            "",
            f"{d['length']} points ({d['missing']} missing), horizon {d['horizon']}, season {d['season']}, "
            f"window {d['window']}; origins {d['origins'][0]} .. {d['origins'][-1]}; "
            f"missing values in the windows {d['missing_in_windows']}, in the targets {d['missing_in_targets']}",
            "",
            "| method | MASE | sMAPE | coverage | MSIS | seconds | ms/origin | failed |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, s in d["methods"].items():
            lines.append(
                f"| {name} | {_fmt(s['mase'])} | {_fmt(s['smape'], '.2f')} | {_fmt(s['coverage'])} | "
                f"{_fmt(s['msis'], '.2f')} | {s['seconds_total']:.2f} | {s['ms_per_origin']:.1f} | "
                f"{s['failed']}/{s['origins']} |"
            )
        errors = {e for s in d["methods"].values() for e in s["errors"]}
        lines += [f"- error: {e}" for e in sorted(errors)]
    if result["checks"]:
        lines += ["", "### Checks (autoopt.Forecaster against the issue's targets)", ""]
        lines += [f"- {c['status']}: {c['check']} ({c['detail']})" for c in result["checks"]]
    return "\n".join(lines)


BASELINE = Path(__file__).resolve().parent / "baseline_full.json"
"""The full tier's results committed before issue 14 changed forecasting: the reference of ``--baseline``."""


def compare_to_baseline(result: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[dict[str, str]]:
    """Per dataset and autoopt method in both: MASE and MSIS no worse, |coverage - nominal| no larger.

    A tolerance of 1e-9 (relative) absorbs the rounding of a different BLAS; anything more is a change.
    """
    nominal = 1.0 - float(result["config"]["alpha"])
    ours, theirs = result["config"].get("n_origins"), baseline.get("config", {}).get("n_origins")
    if ours is not None and theirs is not None and ours != theirs:
        return [
            _check(
                "baseline comparable", None, f"the baseline has {theirs} origins per dataset, this run {ours}"
            )
        ]
    out = []
    for name, data in result["datasets"].items():
        before = baseline.get("datasets", {}).get(name)
        if before is None:
            continue
        for method, now in data["methods"].items():
            if not method.startswith("autoopt") or method not in before["methods"]:
                continue
            was = before["methods"][method]
            for metric in ("mase", "msis"):
                ok = now[metric] is not None and now[metric] <= was[metric] * (1 + 1e-9)
                out.append(_check(f"{name}: {method} {metric.upper()} <= baseline", ok,
                                  f"{now[metric]:.6f} vs {was[metric]:.6f}"))  # fmt: skip
            gap_now, gap_was = abs(now["coverage"] - nominal), abs(was["coverage"] - nominal)
            out.append(_check(f"{name}: {method} |coverage - nominal| <= baseline", gap_now <= gap_was + 1e-9,
                              f"{now['coverage']:.4f} vs {was['coverage']:.4f}"))  # fmt: skip
    return out


def _parse_names(text: str | None, known: Sequence[str], what: str) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise SystemExit(f"unknown {what}: {unknown or text!r}; choose from {', '.join(known)}")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.forecast.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    every = available_methods()
    parser.add_argument("--tier", choices=sorted(TIERS), default="ci")
    parser.add_argument("--datasets", help=f"comma-separated, instead of all: {', '.join(DATASETS)}")
    parser.add_argument("--methods", help=f"comma-separated, instead of all: {', '.join(every)}")
    parser.add_argument("--origins", type=int, help="origins per dataset (overrides the tier)")
    parser.add_argument(
        "--window", help="training window as a duration, e.g. 28D or 14D (overrides every dataset's)"
    )
    parser.add_argument("--alpha", type=float, help="interval miscoverage (default 0.05)")
    parser.add_argument("--data-dir", type=Path, help="the shared data folder (default: found)")
    parser.add_argument("--json", type=Path, help="write every number here")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a check fails")
    parser.add_argument(
        "--baseline",
        type=Path,
        nargs="?",
        const=BASELINE,
        help="also check autoopt's MASE, MSIS and coverage against a results JSON (default: the committed one)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS/OpenMP threads for every method (default 1: compute is compared single-threaded; "
        "0 leaves the libraries' defaults)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    tier = TIERS[args.tier]
    datasets = _parse_names(args.datasets, tuple(DATASETS), "datasets") or tier.datasets
    chosen = _parse_names(args.methods, tuple(every), "methods")
    methods = every if chosen is None else {n: every[n] for n in chosen}
    if args.origins is not None and args.origins < 1:
        raise SystemExit("--origins must be >= 1")
    windows: dict[str, int] = {}
    if args.window is not None:
        for d in datasets:
            windows[d] = int(pd.Timedelta(args.window) / pd.Timedelta(DATASETS[d].freq))
    tier = replace(
        tier,
        datasets=datasets,
        methods=tuple(methods),
        n_origins=args.origins or tier.n_origins,
        alpha=ALPHA if args.alpha is None else args.alpha,
        windows=windows,
    )

    def progress(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    if args.threads < 0:
        raise SystemExit("--threads must be >= 0")
    with blas_threads(args.threads):
        result = run(tier, methods=methods, data_dir=args.data_dir, progress=progress)
    result["config"]["threads"] = args.threads or "library default"
    if args.baseline is not None:
        result["checks"] += compare_to_baseline(result, json.loads(args.baseline.read_text()))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1))
    print(format_report(result))
    failed = [c for c in result["checks"] if c["status"] == "FAIL"]
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
