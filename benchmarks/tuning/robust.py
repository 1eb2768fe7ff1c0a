"""Robustness benchmark of the tuning strategies: the development suite and the held-out one (issue 13).

Protocol
--------
- Suites: ``dev`` (:data:`benchmarks.tuning.functions.PROBLEMS`, what the strategies were built on) and
  ``heldout`` (:data:`benchmarks.tuning.heldout.HELDOUT`, frozen before any sampler work). Reported apart.
- Every run is done twice: without an initial point, and with one (``heldout.INITIAL``; for the
  development suite :data:`DEV_INITIAL`, the point at 90 % of each range, the last choice of a
  categorical, fixed here before any measurement). Optuna's samplers get it with ``enqueue_trial``,
  autoopt's strategies as the space's initial values.
- Methods: autoopt's strategies through ``SelfTuner.optimize`` (the whole budget), Optuna's
  ``RandomSampler`` (the reference: "random"), ``TPESampler``, ``CmaEsSampler`` and ``GPSampler``,
  default settings, through ``study.optimize``.
- Noise: ``hartmann6_noisy`` is observed with noise from a generator seeded by the run; the incumbent
  (best observed value) is scored on its noise-free value.
- Score: the simple regret of the incumbent after the budget; for ``plateau4``, the trials needed to
  leave the plateau (the first value below 1; the budget + 1 when never). A plateau run stops when it
  leaves the plateau: no sampler sees a later trial before proposing an earlier one, so the score is
  the same, and so cheap that more seeds cost little.
- Normalised: per problem, the median over seeds of a method's score over the median of random's. Per
  method and suite, the geometric mean of the normalised scores.
- Never worse than random: per (method, problem), a 90 % bootstrap interval of that ratio of medians
  (seeds resampled with replacement, independently for the method and for random, 2,000 resamples);
  its upper end must be below 1 for every model-based method (grid and random search are exempt).

The GP-backed cells cost ~10-20 s each at 80-100 trials on one core: the full protocol (2 suites x 2
initial-point settings x 2 budgets x 20 seeds) is hours. Run it in pieces with ``--json`` and
``--resume`` (cells already in the file are skipped) and read the report with ``--report``.

Usage::

    python -m benchmarks.tuning.robust --suite heldout --budgets 80 --seeds 0-9 --jobs 2 --json r.json --resume
    python -m benchmarks.tuning.robust --report r.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from benchmarks.tuning.functions import PROBLEMS, Problem, get_problem
from benchmarks.tuning.heldout import HELDOUT, INITIAL
from benchmarks.tuning.run import OPTUNA_SAMPLERS, RANDOM, geo_mean, quiet_optuna, suggest

SUITES: dict[str, tuple[str, ...]] = {"dev": tuple(PROBLEMS), "heldout": tuple(HELDOUT)}
METHODS = ("autoopt.adaptive", "autoopt.bayesian", "autoopt.genetic", "autoopt.gradient_descent",
           "autoopt.random_search", RANDOM, "optuna.TPE", "optuna.CMA-ES", "optuna.GP")  # fmt: skip
EXEMPT = frozenset({"autoopt.random_search", "autoopt.grid_search", RANDOM})
"""Grid and random search: reported, but exempt from "never worse than random"."""
PLATEAU = "plateau4"
N_BOOT = 2000


def _dev_initial(problem: Problem) -> dict[str, Any]:
    point: dict[str, Any] = {}
    for name, d in problem.distributions.items():
        if isinstance(d, CategoricalDistribution):
            point[name] = d.choices[-1]
        elif isinstance(d, IntDistribution):
            point[name] = int(d.low + round(0.9 * (d.high - d.low) / d.step) * d.step)
        else:
            assert isinstance(d, FloatDistribution)
            if d.log:
                point[name] = float(math.exp(math.log(d.low) + 0.9 * (math.log(d.high) - math.log(d.low))))
            else:
                point[name] = float(d.low + 0.9 * (d.high - d.low))
    return point


DEV_INITIAL: dict[str, dict[str, Any]] = {name: _dev_initial(p) for name, p in PROBLEMS.items()}
"""The development suite's initial points: 90 % of each range (the last choice of a categorical)."""


def initial_point(problem: str) -> dict[str, Any]:
    return INITIAL[problem] if problem in INITIAL else DEV_INITIAL[problem]


# ------------------------------------------------------------------- cells


def run_cell(method: str, problem_name: str, seed: int, n_trials: int, initial: bool) -> dict[str, Any]:
    """One run: the noise-free value of every trial, in order, and the observed ones."""
    quiet_optuna()
    problem = get_problem(problem_name)
    rng = np.random.default_rng([seed, n_trials, int(initial), 7])
    true: list[float] = []
    seen: list[float] = []

    def evaluate(params: Mapping[str, Any]) -> float:
        value = problem.f(params)
        observed = value + float(rng.normal(0.0, problem.noise_sd)) if problem.noise_sd > 0 else value
        true.append(value)
        seen.append(observed)
        return observed

    # The plateau's score is the trials needed to leave it, and no sampler sees a later trial before it
    # proposes an earlier one, so the run stops there: the score is the same, at a fraction of the cost.
    def left_plateau() -> bool:
        return problem_name == PLATEAU and bool(true) and true[-1] < 1.0

    start = time.perf_counter()
    error = None
    try:
        if method in OPTUNA_SAMPLERS:
            study = optuna.create_study(direction="minimize", sampler=OPTUNA_SAMPLERS[method](seed))
            if initial:
                study.enqueue_trial(initial_point(problem_name))
            dists = problem.distributions
            study.optimize(
                lambda t: evaluate({n: suggest(t, n, d) for n, d in dists.items()}),
                n_trials=n_trials,
                callbacks=[lambda s, _t: s.stop() if left_plateau() else None],
            )
        else:
            from autoopt.tuning import SelfTuner

            space = problem.autoopt_space()
            if initial:
                for name, value in initial_point(problem_name).items():
                    space[name] = _with_initial(space[name], value)
            tuner = SelfTuner(seed=seed)
            sid = tuner.create_session(space, method.removeprefix("autoopt."), max_iterations=n_trials, seed=seed,
                                       direction="minimize").session_id  # fmt: skip

            def stop_off_plateau(_session: Any, _result: Any) -> None:
                if left_plateau():
                    tuner.stop_session(sid)

            tuner.optimize(sid, lambda **p: evaluate(p), callbacks=[stop_off_plateau])
    except Exception as exc:  # one broken cell must not sink hours of runs: recorded and reported
        error = f"{type(exc).__name__}: {exc}"
    return {"method": method, "problem": problem_name, "seed": seed, "n_trials": n_trials, "initial": initial,
            "true": true, "observed": seen, "wall_s": time.perf_counter() - start, "error": error}  # fmt: skip


def _with_initial(spec: Any, value: Any) -> Any:
    import dataclasses

    return dataclasses.replace(spec, initial=value)


def cell_key(c: Mapping[str, Any]) -> str:
    return f"{c['method']}|{c['problem']}|{int(c['seed'])}|{int(c['n_trials'])}|{int(bool(c['initial']))}"


def score(c: Mapping[str, Any]) -> float:
    """The cell's score (lower is better): incumbent regret, or trials to leave the plateau."""
    problem = get_problem(c["problem"])
    true, seen = c["true"], c["observed"]
    if not true:
        return math.inf
    if c["problem"] == PLATEAU:
        off = [i for i, v in enumerate(true) if v < 1.0]
        return float(off[0] + 1) if off else float(c["n_trials"] + 1)
    incumbent = int(np.argmin(seen))
    return problem.regret(true[incumbent])


# ----------------------------------------------------------------- metrics


def _median_ratio(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.median(a)) / max(float(np.median(b)), 1e-12)


def bootstrap_ratio(
    method: Sequence[float], reference: Sequence[float], seed: int = 0
) -> tuple[float, float, float]:
    """The ratio of medians and its 90 % percentile-bootstrap interval (seeds resampled independently)."""
    a, b = np.asarray(method, float), np.asarray(reference, float)
    rng = np.random.default_rng(seed)
    ia = rng.integers(0, a.size, (N_BOOT, a.size))
    ib = rng.integers(0, b.size, (N_BOOT, b.size))
    ratios = np.median(a[ia], axis=1) / np.maximum(np.median(b[ib], axis=1), 1e-12)
    lo, hi = np.quantile(ratios, [0.05, 0.95])
    return _median_ratio(a, b), float(lo), float(hi)


def report(cells: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    groups: dict[tuple[str, int, bool, str, str], list[float]] = {}
    errors = []
    for c in cells:
        if c.get("error"):
            errors.append(cell_key(c) + ": " + str(c["error"]))
            continue
        suite = "heldout" if c["problem"] in HELDOUT else "dev"
        groups.setdefault(
            (suite, int(c["n_trials"]), bool(c["initial"]), c["method"], c["problem"]), []
        ).append(score(c))
    out: dict[str, Any] = {"errors": errors, "settings": []}
    for suite, n, init in sorted({k[:3] for k in groups}):
        block: dict[str, Any] = {"suite": suite, "n_trials": n, "initial": init, "methods": {}}
        problems = sorted({k[4] for k in groups if k[:3] == (suite, n, init)})
        for method in METHODS:
            rows: dict[str, dict[str, Any]] = {}
            for p in problems:
                mine, ref = groups.get((suite, n, init, method, p)), groups.get((suite, n, init, RANDOM, p))
                if not mine or not ref:
                    continue
                ratio, lo, hi = bootstrap_ratio(mine, ref)
                rows[p] = {
                    "seeds": len(mine),
                    "median": float(np.median(mine)),
                    "ratio": ratio,
                    "ci90": [lo, hi],
                }
            if rows:
                block["methods"][method] = {
                    "geo_mean_normalised": geo_mean(r["ratio"] for r in rows.values()),
                    "problems": rows,
                    "worse_than_random": [p for p, r in rows.items() if r["ci90"][1] >= 1.0],
                }
        out["settings"].append(block)
    return out


def format_report(rep: Mapping[str, Any]) -> str:
    lines = []
    for b in rep["settings"]:
        lines.append(f"\n== {b['suite']}, {b['n_trials']} trials, {'with' if b['initial'] else 'without'} "
                     "an initial point (normalised to random = 1; geo-mean; problems whose 90 % CI upper "
                     "end is >= 1)")  # fmt: skip
        for m, r in b["methods"].items():
            seeds = sorted({p["seeds"] for p in r["problems"].values()})
            worse = "" if m in EXEMPT else ", ".join(r["worse_than_random"]) or "none"
            lines.append(f"  {m:26s} {r['geo_mean_normalised']:8.3f}  seeds {seeds}  worse: {worse}")
        for p in sorted({p for r in b["methods"].values() for p in r["problems"]}):
            row = "  ".join(
                f"{m.split('.')[-1][:8]}={r['problems'][p]['ratio']:.2g}"
                for m, r in b["methods"].items() if p in r["problems"]
            )  # fmt: skip
            lines.append(f"    {p:16s} {row}")
    if rep["errors"]:
        lines.append(f"\n{len(rep['errors'])} cells failed: " + "; ".join(rep["errors"][:5]))
    return "\n".join(lines)


# --------------------------------------------------------------------- CLI


def _range(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suite", choices=[*SUITES, "both"], default="both")
    ap.add_argument("--problems", help="comma-separated, instead of the suite's")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--budgets", default="80,100")
    ap.add_argument("--seeds", default="0-19")
    ap.add_argument("--initial", choices=["with", "without", "both"], default="both")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--json", type=Path, help="cells are appended here as they finish; --resume skips them")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument(
        "--report", type=Path, nargs="+", metavar="JSON", help="report on stored cells; run nothing"
    )
    args = ap.parse_args(argv)

    if args.report:
        cells = [c for path in args.report for c in json.loads(path.read_text())["cells"]]
        sys.stdout.write(format_report(report(cells)) + "\n")
        return 0
    problems = args.problems.split(",") if args.problems else [
        p for s in (SUITES if args.suite == "both" else [args.suite]) for p in SUITES[s]]  # fmt: skip
    inits = {"with": [True], "without": [False], "both": [False, True]}[args.initial]
    todo = [(m, p, s, n, i) for n in _range(args.budgets) for i in inits for p in problems
            for m in args.methods.split(",") for s in _range(args.seeds)]  # fmt: skip
    store: dict[str, Any] = {"cells": []}
    if args.json and args.resume and args.json.exists():
        store = json.loads(args.json.read_text())
    done = {cell_key(c) for c in store["cells"]}
    todo = [t for t in todo if cell_key(dict(zip(("method", "problem", "seed", "n_trials", "initial"), t,
                                                 strict=True))) not in done]  # fmt: skip
    sys.stderr.write(f"{len(todo)} cells to run ({len(done)} stored)\n")
    from joblib import Parallel, delayed

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    start = time.perf_counter()
    results = Parallel(n_jobs=args.jobs, return_as="generator_unordered")(delayed(run_cell)(*t) for t in todo)
    for k, cell in enumerate(results, 1):
        store["cells"].append(cell)
        if args.json and (k % 10 == 0 or k == len(todo)):
            args.json.write_text(json.dumps(store))
        if k % 25 == 0:
            sys.stderr.write(f"  {k}/{len(todo)} cells, {time.perf_counter() - start:.0f} s\n")
    if args.json:
        args.json.write_text(json.dumps(store))
    sys.stdout.write(format_report(report(store["cells"])) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
