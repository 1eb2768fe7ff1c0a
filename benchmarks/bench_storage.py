"""Storage benchmark: what persisting a tuning session costs per trial, against raw Optuna on the same storage.

For each storage (in memory, a journal file, SQLite, and PostgreSQL when
``AUTOOPT_TEST_POSTGRES_URL`` names a server) a session of ``--trials``
trials is run through ``SelfTuner.step()`` + ``record_result()`` and,
alternating in the same process, through raw ``study.ask()`` /
``study.tell()`` with the same ``RandomSampler`` and search space. Reported:
milliseconds per trial for each and the ratio autoopt / raw. The SelfTuner
adds per trial, on a shared storage, one write (the trial's owner) and one
read of the trials (to count the shared budget).

Usage::

    python benchmarks/bench_storage.py                  # 100 trials, 3 rounds
    .ci/postgres.sh python benchmarks/bench_storage.py  # with a throwaway PostgreSQL server
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from autoopt import CategoricalParam, FloatParam, IntParam, SelfTuner

SPACE: dict[str, FloatParam | IntParam | CategoricalParam] = {
    "x": FloatParam(-5.0, 5.0),
    "lr": FloatParam(1e-5, 1.0, log=True),
    "n": IntParam(1, 64),
    "kind": CategoricalParam(["a", "b", "c"]),
}
DISTRIBUTIONS = {name: p.to_distribution() for name, p in SPACE.items()}


def score(values: dict[str, Any]) -> float:
    return -(float(values["x"]) ** 2) - float(values["n"]) / 64.0


def _storage(kind: str, directory: Path) -> Any:
    """A fresh location of the given kind (a new file, or the server's URL; studies get unique names)."""
    if kind == "journal":
        return str(directory / f"{uuid.uuid4().hex}.log")
    if kind == "sqlite":
        return f"sqlite:///{directory / uuid.uuid4().hex}.db"
    if kind == "postgresql":
        return os.environ["AUTOOPT_TEST_POSTGRES_URL"]
    return None


def time_autoopt(kind: str, directory: Path, trials: int) -> float:
    tuner = SelfTuner(seed=0)
    session = tuner.create_session(
        SPACE,
        "random_search",
        max_iterations=trials,
        patience=trials,
        storage=_storage(kind, directory),
        session_name=f"bench-{uuid.uuid4().hex}",
    )
    study = tuner.get_study(session.session_id)
    assert study is not None
    study.sampler = optuna.samplers.RandomSampler(seed=0)
    start = time.perf_counter()
    for _ in range(trials):
        values = tuner.step(session.session_id)
        assert values is not None
        tuner.record_result(session.session_id, values, score(values))
    return (time.perf_counter() - start) / trials


def time_raw(kind: str, directory: Path, trials: int) -> float:
    location = _storage(kind, directory)
    if location is None:
        storage: Any = optuna.storages.InMemoryStorage()
    elif "://" in location:
        storage = optuna.storages.RDBStorage(location)
    else:
        storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(location))
    study = optuna.create_study(
        storage=storage,
        study_name=f"bench-{uuid.uuid4().hex}",
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=0),
    )
    start = time.perf_counter()
    for _ in range(trials):
        trial = study.ask(DISTRIBUTIONS)
        study.tell(trial, score(trial.params))
    return (time.perf_counter() - start) / trials


def run(kinds: list[str], trials: int, rounds: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for kind in kinds:
            ours: list[float] = []
            raw: list[float] = []
            for r in range(rounds):  # alternate which side goes first
                pair: list[tuple[list[float], Callable[[str, Path, int], float]]] = [
                    (ours, time_autoopt),
                    (raw, time_raw),
                ]
                for bucket, fn in pair if r % 2 == 0 else pair[::-1]:
                    bucket.append(fn(kind, directory, trials))
            o, w = statistics.median(ours), statistics.median(raw)
            results[kind] = {"autoopt_ms": o * 1e3, "raw_ms": w * 1e3, "ratio": o / w}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    kinds = ["memory", "journal", "sqlite"]
    if os.environ.get("AUTOOPT_TEST_POSTGRES_URL"):
        kinds.append("postgresql")
    results = run(kinds, args.trials, args.rounds)
    sys.stdout.write(f"{args.trials} trials, median of {args.rounds} rounds, ms per trial (ask + tell)\n\n")
    sys.stdout.write("| storage | SelfTuner | raw Optuna | ratio |\n|---|---|---|---|\n")
    for kind, r in results.items():
        sys.stdout.write(f"| {kind} | {r['autoopt_ms']:.2f} | {r['raw_ms']:.2f} | {r['ratio']:.2f}x |\n")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
