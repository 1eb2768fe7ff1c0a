"""The tuner's crash defects (issue 13): ownerless RUNNING trials, a broken process pool, SIGKILL at named points.

In every case the budget is exact (exactly ``max_iterations`` trials count), no completed trial is lost, and
nothing stays RUNNING after a resume.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from autoopt import FloatParam, IntParam, SelfTuner, TuningStatus
from autoopt._clock import ManualClock
from autoopt.tuning._storage import OWNER_KEY, OWNERLESS_GRACE_S, VOID_KEY

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")

SPACE = {"x": FloatParam(-5.0, 5.0), "y": FloatParam(-5.0, 5.0, initial=2.0), "n": IntParam(0, 9)}
WORKER = Path(__file__).with_name("crash_worker.py")


def score(x: float, y: float, n: int) -> float:
    return -((x - 1.0) ** 2) - (y + 1.0) ** 2 - (n - 3) ** 2


def counting(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False) if VOID_KEY not in t.user_attrs]


def assert_exact(study: optuna.Study, budget: int) -> None:
    trials = counting(study)
    assert len(trials) == budget, [(t.number, t.state.name) for t in trials]
    assert all(t.state.is_finished() for t in trials)
    assert not [t for t in study.get_trials(deepcopy=False) if t.state is TrialState.RUNNING]


# ------------------------------------------------------------ ownerless trials


def ownerless_session(tmp_path: Path, budget: int = 10) -> tuple[str, optuna.trial.Trial]:
    """A journal session with one trial asked through Optuna directly: RUNNING, no owner (the repro)."""
    path = str(tmp_path / "j.log")
    SelfTuner(seed=0).create_session(SPACE, "random_search", max_iterations=budget, storage=path,
                                     session_name="s")  # fmt: skip
    study = optuna.load_study(study_name="s", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(path)))  # fmt: skip
    trial = study.ask()
    assert OWNER_KEY not in study.trials[trial.number].user_attrs
    return path, trial


def test_an_ownerless_running_trial_past_the_grace_period_is_voided_on_resume(tmp_path: Path) -> None:
    path, lost = ownerless_session(tmp_path)
    tuner = SelfTuner(clock=ManualClock(time.time() + OWNERLESS_GRACE_S + 5))
    s = tuner.load_session("s", path, objective_fn=score)
    tuner.optimize(s.session_id)
    study = tuner.get_study(s.session_id)
    assert s.status is TuningStatus.CONVERGED
    assert s.iterations == 10
    assert_exact(study, 10)
    assert "no owner recorded" in study.trials[lost.number].user_attrs[VOID_KEY]


def test_an_ownerless_trial_within_the_grace_period_is_left_alone_then_reclaimed_mid_run(
    tmp_path: Path,
) -> None:
    path, lost = ownerless_session(tmp_path)
    clock = ManualClock(time.time())
    tuner = SelfTuner(clock=clock)
    s = tuner.load_session("s", path, objective_fn=score)
    study = tuner.get_study(s.session_id)
    assert study.trials[lost.number].state is TrialState.RUNNING  # its asker may be alive: not voided
    tuner.optimize(s.session_id, n_trials=5)
    assert VOID_KEY not in study.trials[lost.number].user_attrs
    clock.advance(OWNERLESS_GRACE_S + 1)  # now it is older than the grace period
    tuner.optimize(s.session_id)  # the ask that would be surplus reclaims it first
    assert s.status is TuningStatus.CONVERGED
    assert s.iterations == 10
    assert_exact(study, 10)
    assert VOID_KEY in study.trials[lost.number].user_attrs


def test_a_live_asker_between_ask_and_owner_write_is_never_voided(tmp_path: Path) -> None:
    path, lost = ownerless_session(tmp_path, budget=4)
    tuner = SelfTuner(clock=ManualClock(time.time() + OWNERLESS_GRACE_S / 2))
    s = tuner.load_session("s", path, objective_fn=score, stale_after=3600.0)
    tuner.optimize(s.session_id)
    study = tuner.get_study(s.session_id)
    # The other asker still holds one slot of the budget: 3 trials here, and its trial untouched.
    assert s.iterations == 3
    assert study.trials[lost.number].state is TrialState.RUNNING
    assert VOID_KEY not in study.trials[lost.number].user_attrs
    assert len(counting(study)) == 4
    # A shorter stale_after than the grace period applies to ownerless trials too.
    SelfTuner(clock=ManualClock(time.time() + 10)).load_session("s", path, stale_after=5.0)
    assert "no owner recorded" in study.trials[lost.number].user_attrs[VOID_KEY]


# -------------------------------------------------------- a broken process pool


def suicidal(x: float, y: float, n: int, flag: str) -> float:
    if not os.path.exists(flag):
        Path(flag).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return score(x, y, n)


@pytest.mark.slow
def test_a_killed_process_pool_leaks_no_trial(tmp_path: Path) -> None:
    from functools import partial

    tuner = SelfTuner(seed=2)
    s = tuner.create_session(SPACE, "random_search", max_iterations=20)
    fn = partial(suicidal, flag=str(tmp_path / "killed"))
    errors: list[str] = []
    try:
        tuner.optimize(s.session_id, fn, n_jobs=2, backend="processes")
    except Exception as exc:  # the pool broke under a submit: the asked trial is released, the error raised
        errors.append(type(exc).__name__)
    assert all("Terminated" in name or "Broken" in name for name in errors), errors
    tuner.optimize(s.session_id, fn, n_jobs=2, backend="processes")
    study = tuner.get_study(s.session_id)
    assert s.status is TuningStatus.CONVERGED
    assert s.iterations == 20
    assert_exact(study, 20)
    # Only the trials in flight when the worker died failed (loky breaks every future of the pool).
    assert sum(t.state is TrialState.FAIL for t in counting(study)) <= 2
    released = [
        t
        for t in study.get_trials(deepcopy=False)
        if "submitting it failed" in t.user_attrs.get(VOID_KEY, "")
    ]
    assert all(t.state is TrialState.FAIL for t in released)


# ------------------------------------------------------------- SIGKILL points

BUDGET = 14
KILL_POINTS = [
    *[("before_ask", n, 1) for n in (1, 5, 9)],
    *[("after_ask", n, j) for n, j in ((2, 1), (6, 2), (11, 1))],
    *[("objective", n, j) for n, j in ((1, 1), (4, 2), (8, 1))],
    *[("after_tell", n, j) for n, j in ((1, 1), (5, 2), (10, 1))],
    *[("random", int(ms), 1 + i % 2) for i, ms in enumerate(np.random.default_rng(13).uniform(0, 120, 10))],
]


@pytest.mark.slow
@pytest.mark.parametrize(("point", "n", "n_jobs"), KILL_POINTS)
def test_sigkill_at_a_named_point_keeps_the_budget_exact(
    tmp_path: Path, point: str, n: int, n_jobs: int
) -> None:
    path, log = str(tmp_path / "j.log"), tmp_path / "completed.txt"
    SelfTuner(seed=n).create_session(SPACE, "random_search", max_iterations=BUDGET, storage=path,
                                     session_name="crash")  # fmt: skip
    proc = subprocess.run(
        [sys.executable, str(WORKER), path, "crash", point, str(n), str(n_jobs), str(log)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if point != "random":
        assert proc.returncode == -signal.SIGKILL, proc.stderr
    else:
        assert proc.returncode in (0, -signal.SIGKILL), proc.stderr
    completed = [int(v) for v in log.read_text().split()] if log.exists() else []

    # Resume well after the crash (past the ownerless grace period, on the tuner's clock). A kill while the
    # journal's lock file was held leaves the lock behind; Optuna breaks it after its grace period (30 s by
    # default, 3 s here, through a storage object with the same lock file).
    lock = optuna.storages.journal.JournalFileSymlinkLock(path, grace_period=3)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path, lock_obj=lock))
    tuner = SelfTuner(clock=ManualClock(time.time() + OWNERLESS_GRACE_S + 5))
    s = tuner.load_session("crash", storage, objective_fn=score)
    tuner.optimize(s.session_id)
    study = tuner.get_study(s.session_id)
    assert s.status is TuningStatus.CONVERGED
    assert s.iterations == BUDGET
    assert_exact(study, BUDGET)
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    for number in completed:  # no completed trial lost
        assert by_number[number].state is TrialState.COMPLETE
        assert VOID_KEY not in by_number[number].user_attrs
    if point == "after_ask":  # the trial asked in the window was reclaimed as ownerless
        assert any("no owner recorded" in t.user_attrs.get(VOID_KEY, "") for t in by_number.values())
