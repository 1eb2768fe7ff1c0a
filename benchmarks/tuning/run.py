"""Tuning benchmark: autoopt's strategies against Optuna's own samplers, in one run.

Protocol (``--tier full``)
--------------------------
- Problems: Branin-2, Hartmann-6, Sphere-5, Rosenbrock-5, Rastrigin-5,
  Ackley-5, Styblinski-Tang-5 and mixed6 (2 float, 1 log-float, 2 int,
  1 categorical); see :mod:`benchmarks.tuning.functions`. No strategy is
  handed an initial point.
- Methods: every autoopt strategy through ``SelfTuner`` (``create_session``
  with ``max_iterations=100``, ``patience=100`` so that no session stops
  early, then ``optimize``) and Optuna's ``RandomSampler``, ``TPESampler``
  (default and ``multivariate=True``), ``CmaEsSampler`` and ``GPSampler``
  through ``study.optimize``, all with default settings. (Since Optuna 5.0
  the default ``TPESampler`` is itself multivariate for one objective, so
  the two TPE rows coincide there.)
- 100 trials per run; seeds 0..9, and 0..4 for the GP-backed methods
  (``optuna.GP``, ``autoopt.bayesian``, ``autoopt.adaptive``).

Metrics, per (method, problem): the median over seeds of the simple regret
(best value found minus the global minimum); the normalised regret, that
median divided by the one of raw random search on the problem; per method,
the arithmetic and geometric means of the normalised regret over the
problems (clipped at 1e-12 before the log); the anytime AUC, the mean over
trials 1..n of ``log10(best-so-far regret + 1e-12)``, median over seeds; the
overhead in ms per trial, wall time minus time in the objective, per trial,
median over seeds. Two measurements besides:

- the overhead of ``SelfTuner.step()`` + ``record_result()`` against raw
  ``study.ask()`` / ``study.tell()`` with the same sampler (RandomSampler
  and TPESampler; the session's study, from ``SelfTuner.get_study``, gets
  the sampler before its first trial) on mixed6, in the same process, in
  alternating rounds; the tuner's proposals are checked to equal the raw
  study's;
- ADAPTIVE's time per ``step()`` over trials 200-250 of a 250-trial session
  on the 6-D problems, Hartmann-6 and mixed6.

Tiers, chunks and merging
-------------------------
``--tier ci`` is a small run that finishes in under 3 minutes on 2 cores:
Branin, Hartmann-6, Rastrigin-5 and mixed6, 25 trials, 3 seeds (1 for the
GP-backed strategies), no raw GPSampler, no 250-trial step timing. The
checks are printed for it too, but its budgets are too small for them to
mean much. The full tier runs
for hours with the GP-backed methods; run it in pieces with ``--methods``,
``--problems`` and ``--seeds`` and ``--json``, resume an interrupted piece
with ``--resume`` (cells already in the JSON file are skipped; the file is
rewritten as cells finish), and combine the pieces with ``--merge``.

Usage::

    python -m benchmarks.tuning.run --tier ci
    python -m benchmarks.tuning.run --tier full --jobs 2 --json full.json
    python -m benchmarks.tuning.run --tier full --methods optuna.GP --seeds 0-2 --json gp1.json --resume
    python -m benchmarks.tuning.run --merge gp1.json rest.json --json full.json
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler

from benchmarks._shared import environment
from benchmarks.tuning.functions import PROBLEMS, Problem, get_problem

REGRET_FLOOR = 1e-12
"""Regrets are clipped here before a log is taken."""

RANDOM = "optuna.Random"
"""The reference method of the normalised regret."""

AUTOOPT_STRATEGIES = ("random_search", "grid_search", "bayesian", "genetic", "gradient_descent", "adaptive")


def _optuna_random(seed: int) -> BaseSampler:
    return optuna.samplers.RandomSampler(seed=seed)


def _optuna_tpe(seed: int) -> BaseSampler:
    return optuna.samplers.TPESampler(seed=seed)


def _optuna_tpe_mv(seed: int) -> BaseSampler:
    return optuna.samplers.TPESampler(seed=seed, multivariate=True)


def _optuna_cmaes(seed: int) -> BaseSampler:
    # Only the warning is turned off: on mixed6 the categorical is sampled independently (at random).
    return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)


def _optuna_gp(seed: int) -> BaseSampler:
    return optuna.samplers.GPSampler(seed=seed)


OPTUNA_SAMPLERS: dict[str, Callable[[int], BaseSampler]] = {
    RANDOM: _optuna_random,
    "optuna.TPE": _optuna_tpe,
    "optuna.TPE-mv": _optuna_tpe_mv,
    "optuna.CMA-ES": _optuna_cmaes,
    "optuna.GP": _optuna_gp,
}

METHODS: tuple[str, ...] = (*(f"autoopt.{s}" for s in AUTOOPT_STRATEGIES), *OPTUNA_SAMPLERS)
"""Every method, autoopt's strategies first."""

GP_BACKED = frozenset({"optuna.GP", "autoopt.bayesian", "autoopt.adaptive"})
"""Methods that run a Gaussian process and so get the smaller seed count."""


@dataclass(frozen=True)
class Tier:
    """A benchmark configuration."""

    name: str
    problems: tuple[str, ...]
    methods: tuple[str, ...]
    n_trials: int
    n_seeds: int
    n_seeds_gp: int
    overhead_trials: int
    overhead_rounds: int
    sampler_time_trials: int  # 0 skips the measurement
    sampler_time_window: int = 50

    def seeds_for(self, method: str) -> range:
        return range(self.n_seeds_gp if method in GP_BACKED else self.n_seeds)


TIERS: dict[str, Tier] = {
    "full": Tier(
        name="full",
        problems=tuple(PROBLEMS),
        methods=METHODS,
        n_trials=100,
        n_seeds=10,
        n_seeds_gp=5,
        overhead_trials=200,
        overhead_rounds=6,
        sampler_time_trials=250,
    ),
    "ci": Tier(
        name="ci",
        problems=("branin", "hartmann6", "rastrigin5", "mixed6"),
        methods=tuple(m for m in METHODS if m != "optuna.GP"),
        n_trials=25,
        n_seeds=3,
        n_seeds_gp=1,
        overhead_trials=100,
        overhead_rounds=4,
        sampler_time_trials=0,
    ),
}


def quiet_optuna() -> None:
    """Optuna at WARNING and no ExperimentalWarning, for this process (the benchmark's, and each worker)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


# ------------------------------------------------------------------- cells


class _Recorder:
    """Wraps a problem: records every value, in order, and the time spent in the function."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.values: list[float] = []
        self.objective_s = 0.0

    def __call__(self, params: Mapping[str, Any]) -> float:
        start = time.perf_counter()
        value = self.problem.f(params)
        self.objective_s += time.perf_counter() - start
        self.values.append(value)
        return value


def suggest(trial: optuna.Trial, name: str, dist: BaseDistribution) -> Any:
    """``trial.suggest_*`` for one Optuna distribution."""
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    raise TypeError(f"unsupported distribution {dist!r}")


def _run_optuna(method: str, problem: Problem, seed: int, n_trials: int, rec: _Recorder) -> None:
    study = optuna.create_study(direction="minimize", sampler=OPTUNA_SAMPLERS[method](seed))
    dists = problem.distributions

    def objective(trial: optuna.Trial) -> float:
        return rec({name: suggest(trial, name, d) for name, d in dists.items()})

    study.optimize(objective, n_trials=n_trials)


def _run_autoopt(strategy: str, problem: Problem, seed: int, n_trials: int, rec: _Recorder) -> None:
    from autoopt.tuning import SelfTuner

    tuner = SelfTuner(seed=seed)
    session = tuner.create_session(
        problem.autoopt_space(), strategy, max_iterations=n_trials, seed=seed, patience=n_trials
    )

    def objective(**params: Any) -> float:
        return -rec(params)  # the tuner maximises

    tuner.optimize(session.session_id, objective)


def run_cell(method: str, problem_name: str, seed: int, n_trials: int) -> dict[str, Any]:
    """One run of ``method`` on a problem: every value found, in order, and the times."""
    quiet_optuna()
    problem = get_problem(problem_name)
    rec = _Recorder(problem)
    error = None
    start = time.perf_counter()
    try:
        if method in OPTUNA_SAMPLERS:
            _run_optuna(method, problem, seed, n_trials, rec)
        elif method.startswith("autoopt."):
            _run_autoopt(method.removeprefix("autoopt."), problem, seed, n_trials, rec)
        else:
            raise ValueError(f"unknown method {method!r}")
    except Exception as exc:  # one broken cell must not sink a run of hours: it is recorded and reported
        error = f"{type(exc).__name__}: {exc}"
    wall = time.perf_counter() - start
    return {
        "method": method,
        "problem": problem_name,
        "seed": seed,
        "values": rec.values,
        "wall_s": wall,
        "objective_s": rec.objective_s,
        "error": error,
    }


def cell_key(cell: Mapping[str, Any]) -> tuple[str, str, int]:
    return (str(cell["method"]), str(cell["problem"]), int(cell["seed"]))


# ----------------------------------------------------------------- metrics


def regret_trace(values: Sequence[float], f_opt: float, n_trials: int) -> np.ndarray:
    """Best-so-far regret after each of ``n_trials`` trials (a short run keeps its last value)."""
    if not values:
        return np.full(n_trials, math.inf)
    best = np.maximum(np.minimum.accumulate(np.asarray(values[:n_trials], dtype=float)) - f_opt, 0.0)
    if len(best) < n_trials:
        best = np.concatenate([best, np.full(n_trials - len(best), best[-1])])
    return best


def anytime_auc(trace: np.ndarray) -> float:
    """Mean over the trials of ``log10(best-so-far regret + 1e-12)``."""
    return float(np.mean(np.log10(trace + REGRET_FLOOR)))


def geo_mean(values: Iterable[float]) -> float:
    logs = [math.log(max(v, REGRET_FLOOR)) for v in values]
    return math.exp(statistics.fmean(logs)) if logs else math.nan


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def summarise(cells: Iterable[Mapping[str, Any]], n_trials: int) -> dict[str, Any]:
    """Every metric of the protocol from the cells (any subset of them)."""
    per: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    errors = []
    for c in cells:
        if c.get("error"):
            errors.append({k: c[k] for k in ("method", "problem", "seed", "error")})
            continue
        per.setdefault((c["method"], c["problem"]), []).append(c)
    methods = [m for m in METHODS if any(k[0] == m for k in per)]
    problems = [p for p in PROBLEMS if any(k[1] == p for k in per)]
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for (method, pname), group in per.items():
        problem = get_problem(pname)
        traces = [regret_trace(c["values"], problem.f_opt, n_trials) for c in group]
        overheads = [1e3 * (c["wall_s"] - c["objective_s"]) / max(1, len(c["values"])) for c in group]
        table.setdefault(method, {})[pname] = {
            "seeds": sorted(int(c["seed"]) for c in group),
            "trials": [len(c["values"]) for c in group],
            "median_regret": statistics.median(float(t[-1]) for t in traces),
            "median_auc": statistics.median(anytime_auc(t) for t in traces),
            "median_overhead_ms": statistics.median(overheads),
        }
    for rows in table.values():
        for pname, row in rows.items():
            ref = table.get(RANDOM, {}).get(pname)
            row["normalised_regret"] = (
                None if ref is None else row["median_regret"] / max(ref["median_regret"], REGRET_FLOOR)
            )
    summary: dict[str, dict[str, Any]] = {}
    for method in methods:
        rows = table[method]
        norms = [r["normalised_regret"] for r in rows.values() if r["normalised_regret"] is not None]
        summary[method] = {
            "problems": len(rows),
            "problems_normalised": len(norms),
            "arith_mean_normalised_regret": statistics.fmean(norms) if norms else None,
            "geo_mean_normalised_regret": geo_mean(norms) if norms else None,
            "mean_auc": statistics.fmean(r["median_auc"] for r in rows.values()),
            "median_overhead_ms": statistics.median(r["median_overhead_ms"] for r in rows.values()),
        }
    for rows in table.values():
        for row in rows.values():
            row["median_regret"] = _finite(row["median_regret"])
    return {"methods": methods, "problems": problems, "table": table, "summary": summary, "errors": errors}


# ----------------------------------------------------------------- extras


def _time_tuner_round(
    problem: Problem, sampler: BaseSampler, n_trials: int
) -> tuple[float, list[dict[str, Any]]]:
    """Seconds spent in ``step()`` + ``record_result()`` over ``n_trials``; the values proposed."""
    from autoopt.tuning import SelfTuner

    tuner = SelfTuner(seed=0)
    sid = tuner.create_session(
        problem.autoopt_space(), "random_search", max_iterations=n_trials, patience=n_trials
    ).session_id
    study = tuner.get_study(sid)
    if study is None:
        raise RuntimeError("SelfTuner.get_study() returned None for a session just created")
    # Same sampler as the raw side: the strategy's own sampler is replaced before the first ask.
    study.sampler = sampler
    spent = 0.0
    proposed = []
    for _ in range(n_trials):
        t0 = time.perf_counter()
        values = tuner.step(sid)
        t1 = time.perf_counter()
        if values is None:
            raise RuntimeError("SelfTuner.step() returned None before the budget was spent")
        score = -problem.f(values)
        t2 = time.perf_counter()
        tuner.record_result(sid, values, score)
        spent += (t1 - t0) + (time.perf_counter() - t2)
        proposed.append(values)
    return spent, proposed


def _time_raw_round(
    problem: Problem, sampler: BaseSampler, n_trials: int
) -> tuple[float, list[dict[str, Any]]]:
    """Seconds spent in ``study.ask()`` + ``study.tell()`` over ``n_trials``; the values proposed."""
    study = optuna.create_study(direction="maximize", sampler=sampler)
    dists = problem.distributions
    spent = 0.0
    proposed = []
    for _ in range(n_trials):
        t0 = time.perf_counter()
        trial = study.ask(dists)
        values = trial.params
        t1 = time.perf_counter()
        score = -problem.f(values)
        t2 = time.perf_counter()
        study.tell(trial, score)
        spent += (t1 - t0) + (time.perf_counter() - t2)
        proposed.append(values)
    return spent, proposed


OVERHEAD_SAMPLERS: dict[str, Callable[[int], BaseSampler]] = {
    "RandomSampler": _optuna_random,
    "TPESampler": _optuna_tpe,
}


def measure_overhead(problem: Problem, n_trials: int, rounds: int) -> dict[str, Any]:
    """SelfTuner's step + record_result against raw ask + tell with the same sampler, alternating rounds.

    Each round runs both sides with a fresh sampler of the same seed, in
    ``ABBA`` order (the first side alternates), and checks that the tuner
    proposed exactly what the raw study did. The ratio is the median over
    rounds of the tuner's time over the raw time.
    """
    quiet_optuna()
    out: dict[str, Any] = {"problem": problem.name, "trials": n_trials, "rounds": rounds, "samplers": {}}
    for name, make in OVERHEAD_SAMPLERS.items():
        tuner_s: list[float] = []
        raw_s: list[float] = []
        same = True
        _time_tuner_round(problem, make(0), min(n_trials, 20))  # warm up both paths
        _time_raw_round(problem, make(0), min(n_trials, 20))
        for r in range(rounds):
            order = ("tuner", "raw") if r % 2 == 0 else ("raw", "tuner")
            got: dict[str, list[dict[str, Any]]] = {}
            for side in order:
                fn = _time_tuner_round if side == "tuner" else _time_raw_round
                spent, proposed = fn(problem, make(r), n_trials)
                (tuner_s if side == "tuner" else raw_s).append(spent)
                got[side] = proposed
            same = same and got["tuner"] == got["raw"]
        ratios = [t / r for t, r in zip(tuner_s, raw_s, strict=True)]
        out["samplers"][name] = {
            "tuner_us_per_trial": 1e6 * statistics.median(tuner_s) / n_trials,
            "raw_us_per_trial": 1e6 * statistics.median(raw_s) / n_trials,
            "ratio": statistics.median(ratios),
            "ratios": ratios,
            "same_proposals": same,
        }
    return out


def measure_sampler_time(problem: Problem, n_trials: int, window: int, seed: int = 0) -> dict[str, Any]:
    """ADAPTIVE's mean ``step()`` time over the last ``window`` of ``n_trials`` trials."""
    from autoopt.tuning import SelfTuner

    quiet_optuna()
    tuner = SelfTuner(seed=seed)
    sid = tuner.create_session(
        problem.autoopt_space(), "adaptive", max_iterations=n_trials, seed=seed, patience=n_trials
    ).session_id
    times = []
    for _ in range(n_trials):
        t0 = time.perf_counter()
        values = tuner.step(sid)
        times.append(time.perf_counter() - t0)
        if values is None:
            raise RuntimeError("SelfTuner.step() returned None before the budget was spent")
        tuner.record_result(sid, values, -problem.f(values))
    tail = times[-window:]
    return {
        "problem": problem.name,
        "trials": n_trials,
        "window": [n_trials - len(tail), n_trials],
        "mean_step_s": statistics.fmean(tail),
        "max_step_s": max(tail),
        "mean_step_s_all": statistics.fmean(times),
        # Mean step() time per block of 50 trials: where the GP phase costs most, and the hand-over.
        "block_means_s": [statistics.fmean(times[a : a + 50]) for a in range(0, len(times), 50)],
    }


# ------------------------------------------------------------------ checks


def _check(name: str, ok: bool | None, detail: str) -> dict[str, str]:
    return {"check": name, "status": "SKIP" if ok is None else ("PASS" if ok else "FAIL"), "detail": detail}


def run_checks(summary: Mapping[str, Any], extras: Mapping[str, Any]) -> list[dict[str, str]]:
    """The issue's "Must show" items, each PASS, FAIL or SKIP (not measured in this run)."""
    s, table = summary["summary"], summary["table"]
    checks = []

    adaptive = s.get("autoopt.adaptive", {}).get("geo_mean_normalised_regret")
    checks.append(
        _check(
            "adaptive geo-mean normalised regret <= 0.01",
            None if adaptive is None else adaptive <= 0.01,
            "not run" if adaptive is None else f"{adaptive:.3g}",
        )
    )

    a_mixed = table.get("autoopt.adaptive", {}).get("mixed6", {}).get("median_regret")
    gp_mixed = table.get("optuna.GP", {}).get("mixed6", {}).get("median_regret")
    checks.append(
        _check(
            "adaptive <= GPSampler on mixed6 (median regret)",
            None if a_mixed is None or gp_mixed is None else a_mixed <= gp_mixed,
            "not run" if a_mixed is None or gp_mixed is None else f"{a_mixed:.3g} vs {gp_mixed:.3g}",
        )
    )

    worse = [
        f"{m} on {p}: {row['normalised_regret']:.3g}"
        for m, rows in table.items()
        if m.startswith("autoopt.")
        for p, row in rows.items()
        if row["normalised_regret"] is not None and row["normalised_regret"] > 1
    ]
    any_norm = any(
        row["normalised_regret"] is not None
        for m, rows in table.items()
        if m.startswith("autoopt.")
        for row in rows.values()
    )
    checks.append(
        _check(
            "no autoopt strategy worse than random on any problem (normalised regret <= 1)",
            None if not any_norm else not worse,
            "not run" if not any_norm else ("; ".join(worse) or "all <= 1"),
        )
    )

    bayes = s.get("autoopt.bayesian", {}).get("geo_mean_normalised_regret")
    tpe = s.get("optuna.TPE", {}).get("geo_mean_normalised_regret")
    checks.append(
        _check(
            "bayesian geo-mean <= raw TPE geo-mean",
            None if bayes is None or tpe is None else bayes <= tpe,
            "not run" if bayes is None or tpe is None else f"{bayes:.3g} vs {tpe:.3g}",
        )
    )

    overhead = extras.get("overhead")
    if overhead is None:
        checks.append(_check("SelfTuner overhead ratio <= 1.1", None, "not run"))
    else:
        for name, o in overhead["samplers"].items():
            checks.append(
                _check(
                    f"SelfTuner step+record_result / raw ask+tell <= 1.1 ({name})",
                    o["ratio"] <= 1.1 and o["same_proposals"],
                    f"{o['ratio']:.3f} ({o['tuner_us_per_trial']:.0f} vs {o['raw_us_per_trial']:.0f} us/trial"
                    f"{'' if o['same_proposals'] else '; PROPOSALS DIFFER'})",
                )
            )

    st = extras.get("sampler_time")
    if not st:
        checks.append(_check("adaptive sampler time <= 0.3 s per trial at 250 trials", None, "not run"))
    else:
        worst = max(st, key=lambda r: r["mean_step_s"])
        at_250 = all(r["trials"] >= 250 for r in st)
        detail = ", ".join(
            f"{r['problem']} {r['mean_step_s']:.3f} s (trials {r['window'][0]}-{r['window'][1]})" for r in st
        )
        checks.append(
            _check(
                "adaptive sampler time <= 0.3 s per trial at 250 trials",
                worst["mean_step_s"] <= 0.3 if at_250 else None,
                detail if at_250 else f"measured below 250 trials only: {detail}",
            )
        )

    errors = summary["errors"]
    checks.append(
        _check(
            "every cell ran without an error",
            not errors,
            "; ".join(f"{e['method']}/{e['problem']}/{e['seed']}: {e['error']}" for e in errors[:5])
            or f"{sum(len(r) for r in table.values())} (method, problem) pairs",
        )
    )
    return checks


# ----------------------------------------------------------------- output


def _fmt(x: float | None, spec: str = ".3g") -> str:
    return "–" if x is None else format(x, spec)


def format_report(result: Mapping[str, Any]) -> str:
    """Markdown tables of the summary, the per-problem results and the extras, then the checks."""
    summ = result["summary"]
    methods, problems, table, s = summ["methods"], summ["problems"], summ["table"], summ["summary"]
    cfg = result["config"]
    lines = [
        f"## Tuning benchmark ({cfg['tier']} tier: {cfg['n_trials']} trials, "
        f"{cfg['n_seeds']} seeds, {cfg['n_seeds_gp']} for GP-backed methods)",
        "",
        "| method | problems | geo-mean norm. regret | arith-mean norm. regret | mean AUC log10 regret "
        "| overhead ms/trial |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    ranked = sorted(
        methods,
        key=lambda m: (s[m]["geo_mean_normalised_regret"] is None, s[m]["geo_mean_normalised_regret"] or 0),
    )
    for m in ranked:
        r = s[m]
        lines.append(
            f"| {m} | {r['problems']} | {_fmt(r['geo_mean_normalised_regret'])} | "
            f"{_fmt(r['arith_mean_normalised_regret'])} | {_fmt(r['mean_auc'], '.2f')} | "
            f"{_fmt(r['median_overhead_ms'], '.2f')} |"
        )

    def per_problem(title: str, key: str, spec: str) -> None:
        lines.extend(["", f"### {title}", "", "| method | " + " | ".join(problems) + " |"])
        lines.append("|---|" + "---:|" * len(problems))
        for m in ranked:
            cells = [_fmt(table[m].get(p, {}).get(key), spec) for p in problems]
            lines.append(f"| {m} | " + " | ".join(cells) + " |")

    per_problem("Normalised regret (median regret / random's median regret)", "normalised_regret", ".3g")
    per_problem("Median simple regret", "median_regret", ".3g")
    per_problem("Anytime AUC (mean log10 best-so-far regret), median over seeds", "median_auc", ".2f")

    extras = result.get("extras", {})
    if extras.get("overhead"):
        o = extras["overhead"]
        lines.extend(
            [
                "",
                f"### SelfTuner overhead ({o['problem']}, {o['trials']} trials x {o['rounds']} rounds)",
                "",
                "| sampler | SelfTuner step+record us/trial | raw ask+tell us/trial | ratio | same proposals |",
                "|---|---:|---:|---:|---|",
            ]
        )
        for name, r in o["samplers"].items():
            lines.append(
                f"| {name} | {r['tuner_us_per_trial']:.0f} | {r['raw_us_per_trial']:.0f} | "
                f"{r['ratio']:.3f} | {r['same_proposals']} |"
            )
    if extras.get("sampler_time"):
        lines.extend(
            [
                "",
                "### ADAPTIVE time per step()",
                "",
                "| problem | trials | window | mean s | max s |",
                "|---|---:|---|---:|---:|",
            ]
        )
        for r in extras["sampler_time"]:
            lines.append(
                f"| {r['problem']} | {r['trials']} | {r['window'][0]}-{r['window'][1]} | "
                f"{r['mean_step_s']:.3f} | {r['max_step_s']:.3f} |"
            )
        lines.extend(["", "Mean `step()` time per block of 50 trials:", ""])
        for r in extras["sampler_time"]:
            blocks = r.get("block_means_s", [])
            cells = ", ".join(f"{50 * i}-{50 * (i + 1)}: {b:.3f} s" for i, b in enumerate(blocks))
            lines.append(f"- {r['problem']}: {cells}")
    lines.extend(["", "### Checks", ""])
    lines.extend(f"{c['status']} {c['check']}: {c['detail']}" for c in result["checks"])
    return "\n".join(lines)


# ------------------------------------------------------------------ driver


def parse_seeds(text: str) -> set[int]:
    """``"0-4,7"`` -> {0, 1, 2, 3, 4, 7}."""
    seeds: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        if sep:
            seeds.update(range(int(lo), int(hi) + 1))
        else:
            seeds.add(int(part))
    return seeds


def _parse_names(text: str | None, known: Sequence[str], what: str) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(unknown)}; known: {', '.join(known)}")
    return names


def plan_cells(tier: Tier, seeds: set[int] | None = None) -> list[tuple[str, str, int]]:
    """The (method, problem, seed) cells of a tier, filtered by ``seeds``."""
    return [
        (m, p, s)
        for p in tier.problems
        for m in tier.methods
        for s in tier.seeds_for(m)
        if seeds is None or s in seeds
    ]


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def _iter_cells(todo: Sequence[tuple[str, str, int]], n_trials: int, jobs: int) -> Iterator[dict[str, Any]]:
    if jobs == 1:
        for m, p, s in todo:
            yield run_cell(m, p, s, n_trials)
        return
    from joblib import Parallel, delayed

    # By its module path, so that workers import it rather than unpickle a copy of ``__main__``'s.
    from benchmarks.tuning.run import run_cell as cell

    parallel = Parallel(n_jobs=jobs, return_as="generator_unordered")
    yield from parallel(delayed(cell)(m, p, s, n_trials) for m, p, s in todo)


def finish(result: dict[str, Any]) -> dict[str, Any]:
    """Add the summary and the checks to a result holding config, cells and extras."""
    result["summary"] = summarise(result["cells"], result["config"]["n_trials"])
    result["checks"] = run_checks(result["summary"], result.get("extras", {}))
    return result


def run(
    tier: Tier,
    *,
    seeds: set[int] | None = None,
    jobs: int = 1,
    extras: bool = True,
    json_path: Path | None = None,
    resume: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run a tier (or a chunk of it) and return every number."""
    quiet_optuna()
    say = progress or (lambda _msg: None)
    config = {k: v for k, v in asdict(tier).items()}
    config["tier"] = config.pop("name")
    config["seeds_filter"] = None if seeds is None else sorted(seeds)
    result: dict[str, Any] = {
        "config": config,
        "environment": environment("optuna"),
        "cells": [],
        "extras": {},
    }
    if resume and json_path is not None and json_path.exists():
        previous = json.loads(json_path.read_text())
        if previous["config"]["n_trials"] != tier.n_trials:
            raise SystemExit(
                f"{json_path} holds runs of {previous['config']['n_trials']} trials, not {tier.n_trials}"
            )
        result["cells"] = [c for c in previous["cells"] if not c.get("error")]
        result["extras"] = previous.get("extras", {})
    done = {cell_key(c) for c in result["cells"]}
    todo = [c for c in plan_cells(tier, seeds) if c not in done]
    say(f"{len(todo)} cells to run ({len(done)} already done), {jobs} job(s)")
    last_save = time.monotonic()
    for i, cell in enumerate(_iter_cells(todo, tier.n_trials, jobs), 1):
        result["cells"].append(cell)
        problem = get_problem(cell["problem"])
        best = min(cell["values"], default=math.nan)
        status = cell["error"] or f"regret {problem.regret(best):.3g}"
        say(
            f"[{i}/{len(todo)}] {cell['method']} {cell['problem']} seed {cell['seed']}: "
            f"{status} ({cell['wall_s']:.1f} s)"
        )
        if json_path is not None and time.monotonic() - last_save > 30:
            _write_json(json_path, result)
            last_save = time.monotonic()
    if extras:
        if tier.overhead_rounds > 0 and "overhead" not in result["extras"]:
            say("measuring SelfTuner overhead against raw ask/tell")
            result["extras"]["overhead"] = measure_overhead(
                get_problem("mixed6"), tier.overhead_trials, tier.overhead_rounds
            )
        if tier.sampler_time_trials > 0 and "sampler_time" not in result["extras"]:
            rows = []
            for name in ("hartmann6", "mixed6"):
                say(f"measuring ADAPTIVE step() time at {tier.sampler_time_trials} trials on {name}")
                rows.append(
                    measure_sampler_time(
                        get_problem(name), tier.sampler_time_trials, tier.sampler_time_window
                    )
                )
            result["extras"]["sampler_time"] = rows
    finish(result)
    if json_path is not None:
        _write_json(json_path, result)
    return result


def merge(paths: Sequence[Path]) -> dict[str, Any]:
    """One result from the cells and extras of several JSON files (later files win on duplicates)."""
    if not paths:
        raise SystemExit("--merge needs at least one JSON file")
    parts = [json.loads(Path(p).read_text()) for p in paths]
    n_trials = {p["config"]["n_trials"] for p in parts}
    if len(n_trials) != 1:
        raise SystemExit(f"cannot merge runs of different trial counts: {sorted(n_trials)}")
    cells: dict[tuple[str, str, int], Any] = {}
    extras: dict[str, Any] = {}
    for part in parts:
        cells.update((cell_key(c), c) for c in part["cells"])
        extras.update(part.get("extras", {}))
    config = dict(parts[0]["config"])
    config["problems"] = sorted({c[1] for c in cells}, key=list(PROBLEMS).index)
    config["methods"] = sorted({c[0] for c in cells}, key=list(METHODS).index)
    config["merged_from"] = [str(p) for p in paths]
    result = {
        "config": config,
        "environment": parts[-1].get("environment", {}),
        "cells": list(cells.values()),
        "extras": extras,
    }
    return finish(result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.tuning.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tier", choices=sorted(TIERS), default="ci")
    parser.add_argument("--problems", help=f"comma-separated, instead of the tier's: {', '.join(PROBLEMS)}")
    parser.add_argument("--methods", help=f"comma-separated, instead of the tier's: {', '.join(METHODS)}")
    parser.add_argument(
        "--seeds", help="run only these of the tier's seeds, e.g. 0-4,7 (GP-backed methods have fewer)"
    )
    parser.add_argument("--trials", type=int, help="trials per run (overrides the tier)")
    parser.add_argument("--n-seeds", type=int, help="seeds per method (overrides the tier)")
    parser.add_argument("--n-seeds-gp", type=int, help="seeds per GP-backed method (overrides the tier)")
    parser.add_argument("--overhead-trials", type=int, help="trials per overhead round (overrides the tier)")
    parser.add_argument("--overhead-rounds", type=int, help="overhead rounds; 0 skips (overrides the tier)")
    parser.add_argument(
        "--sampler-time-trials",
        type=int,
        help="ADAPTIVE step-time session length; 0 skips (overrides the tier)",
    )
    parser.add_argument("--no-extras", action="store_true", help="run only the cells (for chunks)")
    parser.add_argument("--jobs", type=int, default=1, help="cells run in parallel by joblib processes")
    parser.add_argument("--json", type=Path, help="write every number here (rewritten as cells finish)")
    parser.add_argument("--resume", action="store_true", help="skip the cells already in --json")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="JSON", help="merge results; run nothing")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a check fails")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)

    quiet_optuna()
    logging.basicConfig(level=logging.WARNING)
    if args.merge:
        result = merge(args.merge)
        if args.json:
            _write_json(args.json, result)
    else:
        tier = TIERS[args.tier]
        problems = _parse_names(args.problems, tuple(PROBLEMS), "problems")
        methods = _parse_names(args.methods, METHODS, "methods")
        overrides = {
            "problems": problems,
            "methods": methods,
            "n_trials": args.trials,
            "n_seeds": args.n_seeds,
            "n_seeds_gp": args.n_seeds_gp,
            "overhead_trials": args.overhead_trials,
            "overhead_rounds": args.overhead_rounds,
            "sampler_time_trials": args.sampler_time_trials,
        }
        tier = replace(tier, **{k: v for k, v in overrides.items() if v is not None})
        if args.jobs < 1:
            raise SystemExit("--jobs must be >= 1")
        if args.resume and args.json is None:
            raise SystemExit("--resume needs --json")

        def progress(msg: str) -> None:
            if not args.quiet:
                print(msg, file=sys.stderr, flush=True)

        start = time.perf_counter()
        result = run(
            tier,
            seeds=None if args.seeds is None else parse_seeds(args.seeds),
            jobs=args.jobs,
            extras=not args.no_extras,
            json_path=args.json,
            resume=args.resume,
            progress=progress,
        )
        progress(f"done in {time.perf_counter() - start:.1f} s")
    print(format_report(result))
    failed = [c for c in result["checks"] if c["status"] == "FAIL"]
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
