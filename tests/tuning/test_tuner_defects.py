"""Regression tests for the tuner's defects found by adversarial probing (issue 13, item 4)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from autoopt.tuning import FloatParam, SelfTuner

SPACE = {"x": (0.0, 1.0, 0.5)}


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_load_session_on_a_missing_path_raises_and_creates_nothing(tmp_path: Path, kind: str) -> None:
    target = tmp_path / ("nope.log" if kind == "journal" else "nope.db")
    storage = str(target) if kind == "journal" else f"sqlite:///{target}"
    with pytest.raises(ValueError, match="does not exist; nothing was created"):
        SelfTuner().load_session("exp", storage)
    assert list(tmp_path.iterdir()) == []


def test_load_session_still_reads_an_existing_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ok.db'}"
    tuner = SelfTuner(seed=0)
    session = tuner.create_session(SPACE, "random_search", lambda x: -x, max_iterations=3, storage=url,
                                   session_name="exp")  # fmt: skip
    tuner.optimize(session.session_id)
    resumed = SelfTuner().load_session("exp", url)
    assert resumed.iterations == 3


def test_a_stepped_float_refuses_an_initial_point_off_its_grid() -> None:
    with pytest.raises(
        ValueError, match=r"'initial' \(0\.5\) must be one of low \+ k \* step.*0\.3 and 0\.6"
    ):
        FloatParam(0, 1, step=0.3, initial=0.5)
    assert FloatParam(0, 1, step=0.3, initial=0.6).initial == 0.6  # on the grid, within Optuna's tolerance
    assert FloatParam(0.1, 1, step=0.3, initial=0.1 + 0.3 * 3).initial == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [5, "cb", print])
def test_callbacks_that_are_not_an_iterable_of_callables_are_named(bad) -> None:
    tuner = SelfTuner(seed=0)
    session = tuner.create_session(SPACE, "random_search", lambda x: x, max_iterations=3)
    with pytest.raises(TypeError, match="'callbacks' must be an iterable of callables"):
        tuner.optimize(session.session_id, callbacks=bad)
    assert tuner.get_session(session.session_id).iterations == 0


# ---------------------------------------------------------------- Optuna's conventions (issue 13, item 2)


def test_trial_handle_reports_in_optunas_order_and_keeps_user_attrs() -> None:
    def objective(trial, x):
        for step in range(3):
            trial.report(x + step, step)  # (value, step), as optuna.Trial.report
        trial.set_user_attr("note", {"folds": 3})
        return x

    tuner = SelfTuner(seed=0)
    session = tuner.create_session(SPACE, "random_search", max_iterations=2, patience=100)
    tuner.optimize(session.session_id, objective)
    for t in tuner.get_study(session.session_id).trials:
        x = t.params["x"]
        assert t.intermediate_values == {0: x, 1: x + 1, 2: x + 2}
        assert t.user_attrs["note"] == {"folds": 3}


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda t: t.report(3, 0.93), TypeError, r"takes the value first.*write trial\.report\(0\.93, 3\)"),
        (lambda t: t.report(0.5, "1"), TypeError, "takes the value first"),
        (lambda t: t.report(0.5, True), TypeError, "takes the value first"),
        (lambda t: t.report(0.5, -1), ValueError, "'step'"),
        (lambda t: t.report(float("nan"), 1), ValueError, "'value'"),
        (lambda t: t.set_user_attr("autoopt:owner", 1), ValueError, "reserved"),
        (lambda t: t.set_user_attr("k", object()), TypeError, "JSON-serialisable"),
        (lambda t: t.set_user_attr(5, 1), TypeError, "'key'"),
    ],
)
def test_trial_handle_names_a_misused_call(call, error, match) -> None:
    seen: list[BaseException] = []

    def objective(trial, x):
        try:
            call(trial)
        except Exception as exc:
            seen.append(exc)
        return x

    tuner = SelfTuner(seed=0)
    session = tuner.create_session(SPACE, "random_search", max_iterations=1, patience=100)
    tuner.optimize(session.session_id, objective)
    assert len(seen) == 1
    assert isinstance(seen[0], error)
    assert re.search(match, str(seen[0])), str(seen[0])


def _names_typo(x):
    return undefined_name * x  # type: ignore[name-defined]  # noqa: F821 - the programmer error under test


def test_an_objective_that_does_not_fit_the_space_raises_before_any_trial() -> None:
    tuner = SelfTuner(seed=0)
    session = tuner.create_session({"x": (0.0, 1.0, 0.5), "y": (0.0, 1.0, 0.5)}, "random_search",
                                   max_iterations=50, patience=100)  # fmt: skip
    with pytest.raises(TypeError, match=r"cannot be called with the space's parameters \(x, y\)"):
        tuner.optimize(session.session_id, lambda x, z: x + z)
    assert session.iterations == 0
    from optuna.trial import TrialState

    # only the initial point, still queued: no trial was asked
    assert [t.state for t in tuner.get_study(session.session_id).trials] == [TrialState.WAITING]
    tuner.optimize(session.session_id, lambda **kw: kw["x"])  # **kwargs takes anything
    assert session.iterations == 50


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_programmer_error_fails_its_trial_then_propagates(n_jobs: int) -> None:
    from optuna.trial import TrialState

    tuner = SelfTuner(seed=0)
    session = tuner.create_session(SPACE, "random_search", max_iterations=20, patience=100)
    with pytest.raises(NameError, match="undefined_name"):
        tuner.optimize(session.session_id, _names_typo, n_jobs=n_jobs)
    states = [t.state for t in tuner.get_study(session.session_id).trials]
    assert TrialState.RUNNING not in states  # the trials out when it raised were released
    assert TrialState.FAIL in states
    assert TrialState.COMPLETE not in states
    assert len(states) <= n_jobs
    assert "objective raised NameError" in tuner.get_failures(session.session_id)[0]


def test_catch_lists_programmer_errors_to_treat_as_failed_trials_and_other_errors_still_fail_trials() -> None:
    tuner = SelfTuner(seed=0)
    session = tuner.create_session(SPACE, "random_search", max_iterations=5, patience=100)
    tuner.optimize(session.session_id, _names_typo, catch=(NameError,))
    assert len(tuner.get_failures(session.session_id)) == 5

    def typed(x):
        raise TypeError("bad operand")

    other = tuner.create_session(SPACE, "random_search", max_iterations=3, patience=100)
    with pytest.raises(TypeError, match="bad operand"):
        tuner.optimize(other.session_id, typed)
    tuner.optimize(other.session_id, typed, catch=TypeError)  # a single class, as Optuna accepts
    assert len(tuner.get_failures(other.session_id)) == 3

    def flaky(x):
        raise ValueError("diverged")  # not a programmer error: a failed trial, and the run goes on

    third = tuner.create_session(SPACE, "random_search", max_iterations=4, patience=100)
    tuner.optimize(third.session_id, flaky)
    assert len(tuner.get_failures(third.session_id)) == 4


@pytest.mark.parametrize("bad", [5, "NameError", [NameError, 3], [KeyboardInterrupt]])
def test_catch_must_be_exception_classes(bad) -> None:
    tuner = SelfTuner(seed=0)
    session = tuner.create_session(SPACE, "random_search", max_iterations=3)
    with pytest.raises(TypeError, match="'catch'"):
        tuner.optimize(session.session_id, lambda x: x, catch=bad)
    assert session.iterations == 0


def test_load_if_exists_resumes_a_matching_session_and_names_a_mismatch(tmp_path: Path) -> None:
    path = str(tmp_path / "j.log")
    kwargs = {"storage": path, "session_name": "exp", "max_iterations": 8, "patience": 100}
    first = SelfTuner(seed=0)
    session = first.create_session(SPACE, "random_search", lambda x: x, **kwargs)
    first.optimize(session.session_id, n_trials=3)
    with pytest.raises(ValueError, match="already holds a study named 'exp'"):
        SelfTuner().create_session(SPACE, "random_search", **kwargs)  # load_if_exists=False, as before
    again = SelfTuner(seed=1)
    resumed = again.create_session(SPACE, "random_search", lambda x: x, load_if_exists=True, **kwargs)
    assert resumed.session_id == session.session_id
    assert resumed.iterations == 3
    again.optimize(resumed.session_id)
    assert resumed.iterations == 8
    for change, field_name in (
        ({"parameters": {"x": (0.0, 2.0, 0.5)}}, "parameters"),
        ({"strategy": "bayesian"}, "strategy"),
        ({"max_iterations": 9}, "max_iterations"),
    ):
        args = {"parameters": SPACE, "strategy": "random_search", **kwargs, **change}
        with pytest.raises(ValueError, match=f"the stored session 'exp' has {field_name}="):
            SelfTuner().create_session(load_if_exists=True, **args)
    with pytest.raises(TypeError, match="'load_if_exists'"):
        SelfTuner().create_session(SPACE, load_if_exists="yes", **kwargs)  # type: ignore[arg-type]
    fresh = SelfTuner().create_session(
        SPACE, "random_search", load_if_exists=True, **{**kwargs, "session_name": "new"}
    )
    assert fresh.iterations == 0  # nothing stored under that name: created


def test_optimize_n_trials_runs_exactly_that_many_more_extending_a_spent_budget(tmp_path: Path) -> None:
    from autoopt.enums import TuningStatus

    path = str(tmp_path / "j.log")
    tuner = SelfTuner(seed=0)
    session = tuner.create_session(SPACE, "random_search", lambda x: x, max_iterations=5, storage=path,
                                   session_name="exp")  # fmt: skip
    tuner.optimize(session.session_id)
    assert session.iterations == 5
    assert session.status is TuningStatus.CONVERGED
    tuner.optimize(session.session_id)  # no n_trials: nothing left to run, as before
    assert session.iterations == 5
    statuses = []
    tuner.optimize(session.session_id, n_trials=3, callbacks=[lambda s, r: statuses.append(s.status)])
    assert session.iterations == 8
    assert session.max_iterations == 8
    assert statuses[:2] == [TuningStatus.EXPLOITING] * 2  # reopened, then spent again
    assert session.status is TuningStatus.CONVERGED
    assert SelfTuner().load_session("exp", path).max_iterations == 8  # stored in the study
    # a live session with 2 left: n_trials=5 runs 5 and grows the budget by 3
    live = tuner.create_session(SPACE, "random_search", lambda x: x, max_iterations=4)
    tuner.optimize(live.session_id, n_trials=2)
    tuner.optimize(live.session_id, n_trials=5)
    assert (live.iterations, live.max_iterations) == (7, 7)


def test_optimize_n_trials_reopens_a_session_stopped_early_without_growing_its_budget() -> None:
    tuner = SelfTuner(seed=0)
    session = tuner.create_session(SPACE, "random_search", lambda x: 1.0, max_iterations=40, patience=3)
    tuner.optimize(session.session_id)
    assert session.iterations == 4  # 1 + patience results of a constant
    tuner.optimize(session.session_id, n_trials=6)
    assert session.iterations == 10
    assert session.max_iterations == 40


def test_an_extended_budget_is_shared_through_the_storage(tmp_path: Path) -> None:
    """Process A extends a spent session by 3 but is stopped after 1; B, loaded before, runs the other 2."""
    from optuna.trial import TrialState

    from autoopt._clock import ManualClock

    path = str(tmp_path / "j.log")
    clock = ManualClock(0.0)
    a = SelfTuner(seed=0, clock=clock)
    session = a.create_session(SPACE, "random_search", lambda x: x, max_iterations=4, storage=path,
                               session_name="exp")  # fmt: skip
    a.optimize(session.session_id)
    b = SelfTuner(seed=1)
    other = b.load_session("exp", path, objective_fn=lambda x: x)

    def slow(x):
        clock.advance(10.0)
        return x

    a.optimize(session.session_id, slow, n_trials=3, timeout=5.0)  # the budget becomes 7; 1 trial runs
    assert session.iterations == 5
    b.optimize(other.session_id, n_trials=2)  # B's own count is 4: it adopts the stored 7
    assert other.max_iterations == 7
    trials = a.get_study(session.session_id).trials
    counted = [t for t in trials if t.state is TrialState.COMPLETE]
    assert len(counted) == 7
    assert SelfTuner().load_session("exp", path).max_iterations == 7


def test_every_strategy_runs_without_torch() -> None:
    """With torch blocked (in a subprocess), every strategy still tunes: the GP-backed ones fall back to TPE."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import importlib.abc
        import sys

        class Block(importlib.abc.MetaPathFinder):  # as if torch were not installed: import torch fails
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is blocked for this test")
                return None

        sys.meta_path.insert(0, Block())
        from autoopt import TuningStrategy
        from autoopt.tuning import CategoricalParam, FloatParam, IntParam, SelfTuner

        space = {"x": FloatParam(-2.0, 3.0), "n": IntParam(1, 9), "c": CategoricalParam(["a", "b"])}
        for strategy in TuningStrategy:
            tuner = SelfTuner(seed=0)
            s = tuner.create_session(space, strategy, lambda x, n, c: -(x - 1) ** 2 - n - (c == "b"),
                                     max_iterations=12)
            tuner.optimize(s.session_id)
            assert s.iterations == 12 and s.best_score is not None, (strategy, s)
            print(strategy.value, round(s.best_score, 3))
        assert "torch" not in sys.modules
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert len(out.stdout.split("\n")) >= 6
