"""Persistent and distributed tuning sessions: journal files, SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest

from autoopt import FloatParam, IntParam, SelfTuner, TuningStatus
from autoopt.tuning._storage import OWNER_KEY, VOID_KEY

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")

SPACE = {"x": FloatParam(-5.0, 5.0), "y": FloatParam(-5.0, 5.0, initial=2.0), "n": IntParam(0, 9)}
WORKER = Path(__file__).with_name("tuning_worker.py")


def score(x: float, y: float, n: int) -> float:
    return -((x - 1.0) ** 2) - (y + 1.0) ** 2 - (n - 3) ** 2


def counted(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False) if VOID_KEY not in t.user_attrs]


def test_a_journal_session_resumes_with_its_history(tmp_path: Path) -> None:
    path = str(tmp_path / "tuning.log")
    tuner = SelfTuner(seed=1)
    session = tuner.create_session(
        SPACE, "random_search", score, max_iterations=20, patience=1000, storage=path, session_name="exp"
    )
    calls = 0

    def flaky(x: float, y: float, n: int) -> float:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("flaky")
        return score(x, y, n)

    tuner.optimize(session.session_id, flaky, n_trials=8)
    assert session.iterations == 8

    other = SelfTuner()
    resumed = other.load_session("exp", path, objective_fn=score)
    assert resumed.session_id == session.session_id
    assert resumed.iterations == 8
    assert resumed.status is TuningStatus.EXPLOITING
    assert resumed.best_score == session.best_score
    assert resumed.best_parameters == session.best_parameters
    assert other.get_failures(resumed.session_id) == ["objective raised RuntimeError: flaky"]
    for name in SPACE:
        assert resumed.parameters[name].history == session.parameters[name].history
    assert resumed.parameters["y"].history[0][0] == 2.0  # the initial point came first
    assert other.load_session("exp", path) is resumed  # loading twice returns the live session

    other.optimize(resumed.session_id)
    assert resumed.iterations == 20
    assert resumed.status is TuningStatus.CONVERGED
    study = optuna.load_study(
        study_name="exp",
        storage=optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path)),
    )
    states = [t.state for t in study.trials]
    assert len(states) == 20
    assert states.count(optuna.trial.TrialState.FAIL) == 1
    assert all(OWNER_KEY in t.user_attrs for t in study.trials)


def test_sqlite_storage_round_trip(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tuning.db'}"
    tuner = SelfTuner(seed=2)
    session = tuner.create_session(SPACE, "genetic", score, max_iterations=6, storage=url, session_name="sq")
    tuner.optimize(session.session_id)
    resumed = SelfTuner().load_session("sq", url)
    assert resumed.iterations == 6
    assert resumed.status is TuningStatus.CONVERGED
    assert resumed.best_score == session.best_score


def test_storage_errors_name_the_problem(tmp_path: Path) -> None:
    path = str(tmp_path / "j.log")
    tuner = SelfTuner()
    tuner.create_session(SPACE, storage=path, session_name="taken")
    with pytest.raises(ValueError, match="already holds a study named 'taken'"):
        tuner.create_session(SPACE, storage=path, session_name="taken")
    with pytest.raises(ValueError, match="holds no session named 'missing'"):
        tuner.load_session("missing", path)
    optuna.create_study(
        study_name="plain",
        storage=optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path)),
    )
    with pytest.raises(ValueError, match="not created by autoopt"):
        tuner.load_session("plain", path)
    with pytest.raises(ValueError, match="cannot open the storage"):
        tuner.create_session(SPACE, storage="nosuchdialect://x")
    with pytest.raises(TypeError, match="'storage'"):
        tuner.create_session(SPACE, storage=42)
    with pytest.raises(ValueError, match="in-memory sessions cannot be loaded"):
        tuner.load_session("taken", None)
    assert len(tuner.list_sessions()) == 1  # nothing else was created


def test_only_stale_running_trials_are_voided_on_resume(tmp_path: Path) -> None:
    path = str(tmp_path / "j.log")
    tuner = SelfTuner(seed=3)
    session = tuner.create_session(SPACE, "random_search", max_iterations=10, storage=path, session_name="s")
    mine = tuner.step(session.session_id)  # RUNNING, owned by this live process
    study = tuner.get_study(session.session_id)
    assert study is not None
    # A trial left RUNNING by a process that is gone, and one from another host.
    dead = study.ask()
    dead.set_user_attr(OWNER_KEY, {"host": optuna_host(), "pid": 2**22 + 12345, "start": "1"})
    remote = study.ask()
    remote.set_user_attr(OWNER_KEY, {"host": "elsewhere.example", "pid": 1, "start": "1"})

    resumed = SelfTuner().load_session("s", path)
    assert resumed is not None
    states = {t.number: (t.state, t.user_attrs.get(VOID_KEY)) for t in study.get_trials(deepcopy=False)}
    assert states[dead.number][0] is optuna.trial.TrialState.FAIL
    assert "is gone" in states[dead.number][1]
    assert states[remote.number] == (optuna.trial.TrialState.RUNNING, None)  # may still be running
    assert mine is not None
    assert states[0] == (optuna.trial.TrialState.RUNNING, None)

    SelfTuner().load_session("s", path, stale_after=0.0)  # any age counts as stale now
    after = {t.number: t for t in study.get_trials(deepcopy=False)}
    assert after[remote.number].state is optuna.trial.TrialState.FAIL
    assert after[0].state is optuna.trial.TrialState.RUNNING  # this process is alive


def optuna_host() -> str:
    from autoopt.tuning._storage import owner_token

    return str(owner_token()["host"])


def run_workers(
    storage: str, name: str, kill_at: list[int], barrier: Path | None = None
) -> list[subprocess.CompletedProcess[str]]:
    extra = [] if barrier is None else [str(barrier), str(len(kill_at))]
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), storage, name, str(k), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in kill_at
    ]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


def distributed_run_with_a_crash(storage: Any, budget: int, barrier: Path) -> optuna.Study:
    """One process is killed -9 mid-trial; two processes resume the session together. Return the study.

    Phase 1 has the crash on its own, so that it happens whatever the scheduling; phase 2 runs two
    processes on the shared session at once, both resuming from the crash.
    """
    tuner = SelfTuner(seed=7)
    session = tuner.create_session(
        SPACE, "random_search", max_iterations=budget, patience=10_000, storage=storage, session_name="dist"
    )
    (killed,) = run_workers(storage, "dist", [6])
    assert killed.returncode == -9, killed.stderr  # SIGKILL in the middle of its 6th evaluation
    study = tuner.get_study(session.session_id)
    assert study is not None
    running = [t for t in counted(study) if t.state is optuna.trial.TrialState.RUNNING]
    assert len(running) == 1  # the killed trial, still counting until someone resumes
    complete_before = {t.number: t.params for t in counted(study) if t.state.is_finished()}
    assert len(complete_before) == 5

    barrier.mkdir()
    first, second = run_workers(storage, "dist", [0, 0], barrier)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    # Exactly the rest of the budget is evaluated, the lost trial included, split between the two.
    assert int(first.stdout) + int(second.stdout) == budget - 5
    trials = counted(study)
    assert len(trials) == budget
    assert all(t.state is optuna.trial.TrialState.COMPLETE for t in trials)
    assert len({t.number for t in trials}) == budget
    assert len({tuple(sorted(t.params.items())) for t in trials}) == budget  # no duplicated points
    for number, params in complete_before.items():  # no completed trial lost
        assert next(t for t in trials if t.number == number).params == params
    void = [t for t in study.get_trials(deepcopy=False) if VOID_KEY in t.user_attrs]
    assert [t.number for t in void if "is gone" in t.user_attrs[VOID_KEY]] == [running[0].number]
    owners = {t.user_attrs[OWNER_KEY]["pid"] for t in trials}
    assert len(owners) >= 2  # the killed process and at least one resuming process did trials
    return study


@pytest.mark.slow
def test_two_processes_on_a_journal_file_survive_kill_9_and_resume(tmp_path: Path) -> None:
    distributed_run_with_a_crash(str(tmp_path / "dist.log"), budget=40, barrier=tmp_path / "start")


@pytest.mark.slow
def test_two_processes_on_postgresql_survive_kill_9_and_resume(postgres_url: str, tmp_path: Path) -> None:
    distributed_run_with_a_crash(postgres_url, budget=30, barrier=tmp_path / "start")
