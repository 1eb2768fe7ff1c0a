"""Optuna's RDBStorage against a real PostgreSQL server, shared by several processes (issue 3, item 6).

Needs a server: the ``postgres_url`` fixture (tests/conftest.py) skips without one; ``.ci/run`` starts one.
"""

from __future__ import annotations

import multiprocessing
import os
import uuid
from multiprocessing.synchronize import Barrier

import optuna
import pytest

N_PROCESSES = 2
TRIALS_PER_PROCESS = 5


def quadratic(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -10.0, 10.0)
    trial.set_user_attr("pid", os.getpid())
    return (x - 2.0) ** 2


def tune_in_process(url: str, study_name: str, n_trials: int, seed: int, start: Barrier) -> None:
    """Worker (runs in a spawned process): join the study by name and run ``n_trials`` trials.

    The barrier makes the workers run their trials at the same time rather than one after the other.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(
        study_name=study_name,
        storage=optuna.storages.RDBStorage(url),
        sampler=optuna.samplers.RandomSampler(seed=seed),
    )
    start.wait(timeout=120)
    study.optimize(quadratic, n_trials=n_trials)


def test_processes_share_one_study_without_losses_or_duplicates(postgres_url: str) -> None:
    name = f"shared-{uuid.uuid4().hex}"
    optuna.create_study(
        storage=optuna.storages.RDBStorage(postgres_url), study_name=name, direction="minimize"
    )

    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(N_PROCESSES)
    workers = [
        ctx.Process(target=tune_in_process, args=(postgres_url, name, TRIALS_PER_PROCESS, seed, start))
        for seed in range(N_PROCESSES)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=300)
    for w in workers:
        if w.is_alive():
            w.kill()
            w.join()
    assert [w.exitcode for w in workers] == [0] * N_PROCESSES, "a worker failed; see its captured stderr"
    pids = [w.pid for w in workers]

    study = optuna.load_study(study_name=name, storage=optuna.storages.RDBStorage(postgres_url))
    trials = study.get_trials(deepcopy=False)
    total = N_PROCESSES * TRIALS_PER_PROCESS
    assert len(trials) == total
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert sorted(t.number for t in trials) == list(range(total))
    # Each worker ran exactly its own share, in its own process.
    trial_pids = [t.user_attrs["pid"] for t in trials]
    assert len(set(pids)) == N_PROCESSES
    assert sorted(trial_pids.count(pid) for pid in pids) == [TRIALS_PER_PROCESS] * N_PROCESSES
    for t in trials:
        assert t.value == pytest.approx((t.params["x"] - 2.0) ** 2)
    assert study.best_value == min(t.value for t in trials if t.value is not None)
