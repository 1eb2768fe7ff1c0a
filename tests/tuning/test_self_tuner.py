"""Behaviour of SelfTuner: validation, life cycle, failures, threads (the seed example: test_seed_examples.py)."""

from __future__ import annotations

import logging
import math
import subprocess
import sys
import threading
from typing import Any

import numpy as np
import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoopt._clock import ManualClock, to_datetime
from autoopt.config import AutomationConfig
from autoopt.enums import TuningStatus, TuningStrategy
from autoopt.tuning import SelfTuner
from autoopt.tuning.samplers._strategies import MAX_GRID_POINTS, parameter_grids

SPACE = {"x": (-5.0, 5.0, 4.0), "n": (1, 9, 2)}


def score_of(values: dict[str, Any]) -> float:
    return -((values["x"] - 1.0) ** 2) - (values["n"] - 5) ** 2


def test_import_does_not_load_optuna() -> None:
    code = (
        "import sys, autoopt.tuning as t\n"
        "assert 'optuna' not in sys.modules, 'import loaded optuna'\n"
        "tuner = t.SelfTuner()\n"
        "assert 'optuna' not in sys.modules, 'constructor loaded optuna'\n"
        "tuner.create_session({'x': (0.0, 1.0, 0.5)})\n"
        "assert 'optuna' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_study_creation_is_not_logged_but_other_studies_are(caplog: pytest.LogCaptureFixture) -> None:
    verbosity = optuna.logging.get_verbosity()
    with caplog.at_level(logging.INFO, logger="optuna"):
        SelfTuner().create_session({"x": (0.0, 1.0, 0.5)})
        assert not [r for r in caplog.records if "A new study created" in r.getMessage()]
        optuna.create_study(study_name="someone-elses-study")
        assert [r for r in caplog.records if "someone-elses-study" in r.getMessage()]
    assert optuna.logging.get_verbosity() == verbosity  # the tuner leaves Optuna's verbosity alone


# -------------------------------------------------------------- validation


def bad_bounds() -> st.SearchStrategy[tuple[Any, Any, Any]]:
    finite = st.floats(-1e6, 1e6, allow_nan=False)
    inverted = st.tuples(finite, finite, finite).filter(lambda t: t[0] > t[1])
    outside = st.tuples(finite, finite, finite).filter(lambda t: t[0] <= t[1] and not t[0] <= t[2] <= t[1])
    non_finite = st.tuples(st.sampled_from([math.nan, math.inf, -math.inf]), finite, finite)
    return st.one_of(inverted, outside, non_finite)


@given(bounds=bad_bounds())
@settings(max_examples=60, deadline=None)
def test_bad_bounds_raise_value_error_and_create_nothing(bounds: tuple[Any, Any, Any]) -> None:
    tuner = SelfTuner()
    with pytest.raises(ValueError, match=r"create_session\(\) argument 'parameters'"):
        tuner.create_session({"ok": (0.0, 1.0, 0.5), "p": bounds})
    assert tuner.list_sessions() == []


@given(
    bounds=st.one_of(
        st.tuples(st.text(max_size=3), st.just(1.0), st.just(0.5)),
        st.tuples(st.just(0.0), st.none(), st.just(0.5)),
        st.tuples(st.just(0.0), st.just(1.0), st.booleans()),
        st.tuples(st.just(0.0), st.just(1.0)),
        st.just(0.5),
    )
)
@settings(max_examples=30, deadline=None)
def test_non_numeric_bounds_raise_type_error(bounds: Any) -> None:
    tuner = SelfTuner()
    with pytest.raises(TypeError):
        tuner.create_session({"p": bounds})
    assert tuner.list_sessions() == []


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"parameters": {}}, ValueError, "at least one parameter"),
        ({"parameters": [("x", (0, 1, 0))]}, TypeError, "'parameters'"),
        ({"parameters": {1: (0, 1, 0)}}, TypeError, "keys must be non-empty strings"),
        ({"strategy": "simulated_annealing"}, ValueError, "'strategy'"),
        ({"strategy": 3}, TypeError, "'strategy'"),
        ({"objective_fn": 42}, TypeError, "'objective_fn'"),
        ({"max_iterations": 0}, ValueError, "'max_iterations'"),
        ({"max_iterations": 2.5}, TypeError, "'max_iterations'"),
        ({"convergence_threshold": -1e-3}, ValueError, "'convergence_threshold'"),
        ({"convergence_threshold": math.nan}, ValueError, "'convergence_threshold'"),
        ({"patience": 0}, ValueError, "'patience'"),
        ({"seed": -1}, ValueError, "'seed'"),
        ({"seed": "abc"}, TypeError, "'seed'"),
    ],
)
def test_create_session_argument_errors(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    tuner = SelfTuner()
    args: dict[str, Any] = {"parameters": {"x": (0.0, 1.0, 0.5)}}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        tuner.create_session(**args)
    assert tuner.list_sessions() == []


def test_constructor_argument_errors() -> None:
    with pytest.raises(TypeError, match="'config'"):
        SelfTuner({"tuning_enabled": True})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'clock'"):
        SelfTuner(clock=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'max_sessions'"):
        SelfTuner(max_sessions=0)
    config = AutomationConfig()
    assert SelfTuner(config).config is config


def test_strategy_accepts_string_values() -> None:
    tuner = SelfTuner()
    session = tuner.create_session({"x": (0.0, 1.0, 0.5)}, strategy="gradient_descent")
    assert session.strategy is TuningStrategy.GRADIENT_DESCENT


def test_integer_parameters_only_when_all_three_are_ints() -> None:
    tuner = SelfTuner(seed=0)
    session = tuner.create_session(
        {"a": (1, 10, 5), "b": (1, 10.0, 5), "c": (np.int64(0), 4, 2)}  # type: ignore[dict-item]
    )
    assert session.parameters["a"].is_integer
    assert not session.parameters["b"].is_integer
    assert session.parameters["c"].is_integer
    values = tuner.step(session.session_id)
    assert values is not None
    assert type(values["a"]) is int
    assert type(values["b"]) is float
    assert type(values["c"]) is int


@given(
    score=st.one_of(
        st.sampled_from([math.nan, math.inf, -math.inf]), st.floats(allow_nan=True).filter(math.isnan)
    )
)
@settings(max_examples=10, deadline=None)
def test_non_finite_scores_are_refused_and_nothing_is_recorded(score: float) -> None:
    tuner = SelfTuner(seed=0)
    sid = tuner.create_session(SPACE, "random_search").session_id
    values = tuner.step(sid)
    assert values is not None
    with pytest.raises(ValueError, match="'score'"):
        tuner.record_result(sid, values, score)
    session = tuner.get_session(sid)
    assert session is not None
    assert session.iterations == 0
    assert session.best_score is None
    # the trial is still pending and can be told properly
    assert tuner.record_result(sid, values, 1.0)
    assert session.iterations == 1


@pytest.mark.parametrize("score", ["1.0", None, True, [1.0]])
def test_non_number_scores_raise_type_error(score: Any) -> None:
    tuner = SelfTuner(seed=0)
    sid = tuner.create_session(SPACE, "random_search").session_id
    values = tuner.step(sid)
    assert values is not None
    with pytest.raises(TypeError, match="'score'"):
        tuner.record_result(sid, values, score)
    assert tuner.get_session(sid).iterations == 0  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("values", "error", "match"),
    [
        ({"x": 0.0}, ValueError, "missing \\['n'\\]"),
        ({"x": 0.0, "n": 3, "z": 1.0}, ValueError, "unknown \\['z'\\]"),
        ({"x": 6.0, "n": 3}, ValueError, "'values'\\['x'\\]"),
        ({"x": 0.0, "n": 10}, ValueError, "'values'\\['n'\\]"),
        ({"x": 0.0, "n": 3.5}, ValueError, "must be an integer"),
        ({"x": "0", "n": 3}, TypeError, "'values'\\['x'\\]"),
        ([0.0, 3], TypeError, "'values'"),
    ],
)
def test_bad_values_are_refused(values: Any, error: type[Exception], match: str) -> None:
    tuner = SelfTuner(seed=0)
    sid = tuner.create_session(SPACE, "random_search").session_id
    with pytest.raises(error, match=match):
        tuner.record_result(sid, values, 1.0)
    with pytest.raises(error, match=match):
        tuner.record_failure(sid, values, "boom")
    session = tuner.get_session(sid)
    assert session is not None
    assert session.iterations == 0
    assert session.status is TuningStatus.IDLE


def test_unknown_session_ids() -> None:
    """The library's id rule: seed methods keep the seed's None/False, the others raise UnknownIdError."""
    from autoopt import UnknownIdError

    tuner = SelfTuner()
    assert tuner.get_session("nope") is None
    assert tuner.step("nope") is None
    assert tuner.record_result("nope", {"x": 1.0}, 1.0) is False
    assert tuner.start_session("nope") is False
    assert tuner.get_best_parameters("nope") is None
    for call in (
        lambda: tuner.record_failure("nope", {"x": 1.0}, "m"),
        lambda: tuner.stop_session("nope"),
        lambda: tuner.get_failures("nope"),
        lambda: tuner.get_study("nope"),
        lambda: tuner.get_param_importances("nope"),
        lambda: tuner.remove_session("nope"),
        lambda: tuner.optimize("nope", lambda **v: 0.0),
    ):
        with pytest.raises(UnknownIdError, match="unknown tuning session 'nope'"):
            call()
    for sid in (None, 42, ["x"]):
        with pytest.raises(TypeError, match="'session_id' must be a str"):
            tuner.step(sid)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="'session_id' must be a str"):
            tuner.remove_session(sid)  # type: ignore[arg-type]


# ------------------------------------------------------------- ask and tell


def test_first_step_is_the_initial_point_and_best_tracks_the_top_score() -> None:
    tuner = SelfTuner(seed=1)
    sid = tuner.create_session(SPACE, "bayesian").session_id
    assert tuner.get_best_parameters(sid) is None
    first = tuner.step(sid)
    assert first == {"x": 4.0, "n": 2}
    assert tuner.record_result(sid, first, -5.0)
    assert tuner.get_best_parameters(sid) == first
    second = tuner.step(sid)
    assert second is not None
    assert second != first
    assert tuner.record_result(sid, second, -1.0)
    assert tuner.get_best_parameters(sid) == second
    third = tuner.step(sid)
    assert third is not None
    assert tuner.record_result(sid, third, -3.0)
    session = tuner.get_session(sid)
    assert session is not None
    assert session.best_score == -1.0
    assert session.best_parameters == second
    assert session.parameters["x"].best_value == second["x"]
    assert [s for _, s in session.parameters["x"].history] == [-5.0, -1.0, -3.0]
    # the copy handed out is not the live record
    best = tuner.get_best_parameters(sid)
    assert best is not None
    best["x"] = 123.0
    assert session.best_parameters["x"] == second["x"]


def test_record_result_with_foreign_values_adds_a_completed_trial() -> None:
    tuner = SelfTuner(seed=2)
    sid = tuner.create_session(SPACE, "bayesian", max_iterations=3).session_id
    # recorded before any step: the session starts implicitly
    assert tuner.record_result(sid, {"x": 1.0, "n": 5.0}, 0.0)  # 5.0 is an integral float: accepted as int 5
    session = tuner.get_session(sid)
    assert session is not None
    assert session.status is TuningStatus.EXPLORING
    assert session.iterations == 1
    assert session.best_parameters == {"x": 1.0, "n": 5}
    assert type(session.best_parameters["n"]) is int
    study = tuner.get_study(sid)
    assert study is not None
    told = [t for t in study.trials if t.state.is_finished()]
    assert [t.params for t in told] == [{"x": 1.0, "n": 5}]
    assert told[0].state is optuna.trial.TrialState.COMPLETE
    pending = tuner.step(sid)  # the initial point, still first in the queue
    assert pending == {"x": 4.0, "n": 2}
    assert tuner.record_result(sid, {"x": 0.0, "n": 4}, -2.0)  # another foreign point
    # budget: 2 results + 1 pending = 3, so no more foreign values
    assert tuner.record_result(sid, {"x": 0.5, "n": 4}, -2.0) is False
    assert tuner.step(sid) is None
    assert tuner.record_result(sid, pending, -9.0)
    assert session.iterations == 3
    assert session.status is TuningStatus.CONVERGED
    # finished: foreign values are refused
    assert tuner.record_result(sid, {"x": 0.5, "n": 4}, -2.0) is False


def test_duplicate_proposals_are_each_told_once() -> None:
    tuner = SelfTuner(seed=0)
    sid = tuner.create_session({"n": (0, 1, 0)}, "random_search", max_iterations=20, patience=100).session_id
    asked = [tuner.step(sid) for _ in range(20)]
    assert all(a is not None for a in asked)
    for values in asked:
        assert values is not None
        assert tuner.record_result(sid, values, float(values["n"]))
    study = tuner.get_study(sid)
    assert study is not None
    assert all(t.state is optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert len(study.trials) == 20


def test_record_failure_marks_the_trial_failed_with_its_message() -> None:
    tuner = SelfTuner(seed=3)
    sid = tuner.create_session(SPACE, "random_search", max_iterations=4).session_id
    values = tuner.step(sid)
    assert values is not None
    assert tuner.record_failure(sid, values, "out of memory")
    assert tuner.record_failure(sid, {"x": 0.0, "n": 1}, "foreign failure")
    with pytest.raises(TypeError, match="'message'"):
        tuner.record_failure(sid, {"x": 0.0, "n": 1}, 404)  # type: ignore[arg-type]
    session = tuner.get_session(sid)
    assert session is not None
    assert session.iterations == 2
    assert session.best_score is None
    assert tuner.get_failures(sid) == ["out of memory", "foreign failure"]
    study = tuner.get_study(sid)
    assert study is not None
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL] * 2
    assert [t.user_attrs["failure"] for t in study.trials] == ["out of memory", "foreign failure"]


def test_failure_messages_are_bounded() -> None:
    tuner = SelfTuner(seed=3)
    sid = tuner.create_session({"x": (0.0, 1.0, 0.5)}, "random_search", max_iterations=150).session_id
    for i in range(150):
        values = tuner.step(sid)
        assert values is not None
        tuner.record_failure(sid, values, f"failure {i}")
    failures = tuner.get_failures(sid)
    assert failures is not None
    assert len(failures) == 100
    assert failures[0] == "failure 50"
    assert failures[-1] == "failure 149"


# ---------------------------------------------------------------- optimize


def test_optimize_survives_objectives_that_raise_or_return_garbage(caplog: pytest.LogCaptureFixture) -> None:
    calls = []

    def objective(x: float, n: int) -> Any:
        calls.append((x, n))
        k = len(calls)
        if k % 5 == 0:
            raise RuntimeError(f"evaluation {k} crashed")
        if k % 7 == 0:
            return math.nan
        if k == 9:
            return "not a score"
        return score_of({"x": x, "n": n})

    tuner = SelfTuner(seed=4)
    sid = tuner.create_session(SPACE, "random_search", max_iterations=30, patience=1000).session_id
    with caplog.at_level(logging.WARNING, logger="autoopt.tuning"):
        session = tuner.optimize(sid, objective)
    assert len(calls) == 30
    assert session.iterations == 30
    failures = tuner.get_failures(sid)
    assert failures is not None
    n_raised, n_nan = 6, 4  # k = 5, 10, ..., 30 and k = 7, 14, 21, 28
    assert len(failures) == n_raised + n_nan + 1
    assert "objective raised RuntimeError: evaluation 5 crashed" in failures
    assert any("non-finite" in f for f in failures)
    assert any("not a real number" in f for f in failures)
    assert any("evaluation 10 crashed" in r.getMessage() for r in caplog.records)
    assert session.status is TuningStatus.CONVERGED
    assert session.best_score is not None
    assert session.best_score > score_of({"x": 4.0, "n": 2})


def test_optimize_uses_the_session_objective_and_n_trials() -> None:
    tuner = SelfTuner(seed=5)
    sid = tuner.create_session(
        SPACE, "bayesian", objective_fn=lambda x, n: score_of({"x": x, "n": n})
    ).session_id
    session = tuner.optimize(sid, n_trials=7)
    assert session.iterations == 7
    assert session.status is TuningStatus.EXPLORING
    tuner.optimize(sid, n_trials=0)
    assert session.iterations == 7
    with pytest.raises(ValueError, match="'n_trials'"):
        tuner.optimize(sid, n_trials=-1)
    with pytest.raises(TypeError, match="'objective'"):
        tuner.optimize(sid, "not callable")  # type: ignore[arg-type]
    no_objective = tuner.create_session(SPACE).session_id
    with pytest.raises(ValueError, match="needs an objective"):
        tuner.optimize(no_objective)


def test_optimize_releases_the_trial_on_keyboard_interrupt() -> None:
    def objective(x: float) -> float:
        raise KeyboardInterrupt

    tuner = SelfTuner(seed=0)
    sid = tuner.create_session({"x": (0.0, 1.0, 0.5)}, "random_search", max_iterations=3).session_id
    with pytest.raises(KeyboardInterrupt):
        tuner.optimize(sid, objective)
    session = tuner.get_session(sid)
    assert session is not None
    assert session.iterations == 1
    assert tuner.get_failures(sid) == ["objective interrupted by KeyboardInterrupt"]


def test_failed_when_every_trial_fails() -> None:
    clock = ManualClock(1_000.0)
    tuner = SelfTuner(seed=6, clock=clock)
    sid = tuner.create_session(SPACE, "bayesian", max_iterations=5).session_id

    def broken(**values: float) -> float:
        clock.advance(10)
        raise ValueError("no GPU")

    session = tuner.optimize(sid, broken)
    assert session.status is TuningStatus.FAILED
    assert session.iterations == 5
    assert session.completed_at == to_datetime(1_050.0)
    assert session.best_score is None
    assert tuner.get_best_parameters(sid) is None
    assert tuner.get_failures(sid) == ["objective raised ValueError: no GPU"] * 5
    assert tuner.step(sid) is None
    assert tuner.start_session(sid) is False


# --------------------------------------------------------------- life cycle


def test_status_transitions_on_a_constant_objective() -> None:
    clock = ManualClock(100.0)
    tuner = SelfTuner(seed=8, clock=clock)
    session = tuner.create_session(SPACE, "adaptive", max_iterations=100, patience=15)
    sid = session.session_id
    assert session.status is TuningStatus.IDLE
    assert session.completed_at is None
    assert session.started_at == to_datetime(100.0)
    clock.advance(5)
    assert tuner.start_session(sid) is True
    assert tuner.start_session(sid) is True  # idempotent while running
    assert session.status is TuningStatus.EXPLORING
    assert session.started_at == to_datetime(105.0)
    statuses = []
    while (values := tuner.step(sid)) is not None:
        clock.advance(1)
        tuner.record_result(sid, values, 0.5)
        statuses.append(session.status)
    # n_startup = min(10, max(2, 100 // 5)) = 10 results of exploration
    assert statuses[:9] == [TuningStatus.EXPLORING] * 9
    assert statuses[9:15] == [TuningStatus.EXPLOITING] * 6
    # the first result sets the best; 15 more without improvement converge
    assert statuses[15:] == [TuningStatus.CONVERGED]
    assert session.iterations == 16
    assert session.completed_at == to_datetime(121.0)
    assert tuner.step(sid) is None
    assert tuner.start_session(sid) is False


def test_the_budget_is_honoured_by_default_and_patience_stops_early_with_a_warning(caplog) -> None:
    tuner = SelfTuner(seed=9)
    # no patience: a constant score runs the whole budget (autoopt 0.1.0 stopped after 1 + 10 results)
    sid0 = tuner.create_session(SPACE, "random_search", max_iterations=40).session_id
    while (values := tuner.step(sid0)) is not None:
        tuner.record_result(sid0, values, 1.0)
    assert tuner.get_session(sid0).iterations == 40  # type: ignore[union-attr]
    # patience=10: each result improves by 6e-5 < threshold 1e-4, but two of them add up to more
    # than the threshold, so progress is never "stalled"
    sid = tuner.create_session(SPACE, "random_search", max_iterations=40, patience=10).session_id
    k = 0
    while (values := tuner.step(sid)) is not None:
        k += 1
        tuner.record_result(sid, values, k * 6e-5)
    session = tuner.get_session(sid)
    assert session is not None
    assert session.iterations == 40
    # the same run with a constant score stops after 1 + 10 results, and says so at WARNING
    sid2 = tuner.create_session(SPACE, "random_search", max_iterations=40, patience=10).session_id
    with caplog.at_level("WARNING", logger="autoopt.tuning._session"):
        while (values := tuner.step(sid2)) is not None:
            tuner.record_result(sid2, values, 1.0)
    assert tuner.get_session(sid2).iterations == 11  # type: ignore[union-attr]
    (record,) = [r for r in caplog.records if "stopped early" in r.getMessage()]
    assert record.levelname == "WARNING"
    assert "patience=10), 29 of the budget left" in record.getMessage()


def test_step_on_an_idle_session_starts_it() -> None:
    tuner = SelfTuner(seed=0)
    session = tuner.create_session(SPACE)
    assert tuner.step(session.session_id) is not None
    assert session.status is TuningStatus.EXPLORING


def test_late_results_after_convergence_are_still_recorded() -> None:
    tuner = SelfTuner(seed=0)
    sid = tuner.create_session(
        {"x": (0.0, 1.0, 0.5)}, "random_search", max_iterations=20, patience=2
    ).session_id
    asked = [tuner.step(sid) for _ in range(5)]
    for values in asked[:3]:
        tuner.record_result(sid, values, 0.0)  # type: ignore[arg-type]
    session = tuner.get_session(sid)
    assert session is not None
    assert session.status is TuningStatus.CONVERGED
    assert tuner.step(sid) is None
    assert tuner.record_result(sid, asked[3], 5.0)  # type: ignore[arg-type]
    assert tuner.record_failure(sid, asked[4], "late failure")  # type: ignore[arg-type]
    assert session.status is TuningStatus.CONVERGED
    assert session.best_score == 5.0
    assert session.iterations == 5


def test_stop_session_cancels_pending_trials() -> None:
    tuner = SelfTuner(seed=0)
    sid = tuner.create_session(SPACE, "random_search").session_id
    first, second = tuner.step(sid), tuner.step(sid)
    assert tuner.record_result(sid, first, 1.0)  # type: ignore[arg-type]
    assert tuner.stop_session(sid) is True
    assert tuner.stop_session(sid) is False
    session = tuner.get_session(sid)
    assert session is not None
    assert session.status is TuningStatus.CONVERGED
    assert tuner.record_result(sid, second, 2.0) is False  # type: ignore[arg-type]
    study = tuner.get_study(sid)
    assert study is not None
    assert study.trials[1].state is optuna.trial.TrialState.FAIL
    assert session.iterations == 1
    idle = tuner.create_session(SPACE).session_id
    assert tuner.stop_session(idle) is True
    assert tuner.get_session(idle).status is TuningStatus.FAILED  # type: ignore[union-attr]


def test_max_sessions_evicts_the_oldest_finished_session() -> None:
    tuner = SelfTuner(seed=0, max_sessions=2)
    a = tuner.create_session(SPACE).session_id
    b = tuner.create_session(SPACE).session_id
    with pytest.raises(RuntimeError, match="max_sessions"):
        tuner.create_session(SPACE)
    tuner.stop_session(b)
    tuner.stop_session(a)
    c = tuner.create_session(SPACE).session_id
    assert [s.session_id for s in tuner.list_sessions()] == [a, c]  # b finished first
    assert tuner.remove_session(a) is True
    assert tuner.get_session(a) is None
    d = tuner.create_session(SPACE).session_id
    assert [s.session_id for s in tuner.list_sessions()] == [c, d]


# --------------------------------------------------------------------- grid


def test_grid_search_converges_when_the_grid_is_exhausted() -> None:
    tuner = SelfTuner(seed=0)
    # grids: x -> [0..4], n -> [0..10] (int step max(1, span // 10) = 1); the initial (2, 5) is on it
    session = tuner.create_session(
        {"x": (0, 4, 2), "n": (0, 10, 5)}, "grid_search", max_iterations=100, patience=1000
    )
    sid = session.session_id
    assert parameter_grids(session.parameters) == {"x": [0, 1, 2, 3, 4], "n": list(range(11))}
    seen = []
    while (values := tuner.step(sid)) is not None:
        seen.append((values["x"], values["n"]))
        tuner.record_result(sid, values, -abs(values["x"] - 3) - abs(values["n"] - 7))
    assert seen[0] == (2, 5)
    assert len(seen) == len(set(seen)) == 55  # every grid point once, the initial one not repeated
    assert session.status is TuningStatus.CONVERGED
    assert session.best_parameters == {"x": 3, "n": 7}


def test_grid_search_with_an_off_grid_initial_point() -> None:
    tuner = SelfTuner(seed=0)
    sid = tuner.create_session(
        {"x": (0.0, 1.0, 0.55)}, "grid_search", max_iterations=50, patience=100
    ).session_id
    seen = []
    while (values := tuner.step(sid)) is not None:
        seen.append(values["x"])
        tuner.record_result(sid, values, -((values["x"] - 0.3) ** 2))
    assert seen[0] == 0.55
    assert sorted(seen[1:]) == pytest.approx([k / 10 for k in range(11)])
    assert tuner.get_best_parameters(sid) == {"x": pytest.approx(0.3)}


def test_grid_is_coarsened_to_the_point_cap_and_refused_beyond() -> None:
    tuner = SelfTuner(seed=0)
    params = {f"p{i}": (0.0, 1.0, 0.5) for i in range(5)}  # 11^5 points at the default step
    session = tuner.create_session(params, "grid_search", max_iterations=10)
    grids = parameter_grids(session.parameters)
    assert math.prod(len(g) for g in grids.values()) <= MAX_GRID_POINTS
    assert all(g[0] == 0.0 and g[-1] == 1.0 for g in grids.values())
    values = tuner.step(session.session_id)
    assert values == {f"p{i}": 0.5 for i in range(5)}
    with pytest.raises(ValueError, match="GRID_SEARCH cannot grid"):
        tuner.create_session({f"p{i}": (0.0, 1.0, 0.5) for i in range(14)}, "grid_search")
    # degenerate parameters (min == max) take no room
    tuner.create_session(
        {**{f"p{i}": (0.0, 1.0, 0.5) for i in range(13)}, "fixed": (2.0, 2.0, 2.0)}, "grid_search"
    )


# ------------------------------------------------------------------ threads


@pytest.mark.parametrize(
    ("strategy", "fail_every"),
    [
        (TuningStrategy.RANDOM_SEARCH, 0),
        (TuningStrategy.RANDOM_SEARCH, 13),
        (TuningStrategy.GRADIENT_DESCENT, 0),
        (TuningStrategy.ADAPTIVE, 13),
    ],
)
def test_thread_hammer_respects_the_budget_exactly(strategy: TuningStrategy, fail_every: int) -> None:
    n = 40 if strategy is TuningStrategy.ADAPTIVE else 200  # ADAPTIVE's GP costs ~0.1 s a trial
    tuner = SelfTuner(seed=10)
    sid = tuner.create_session(
        {"x": (-5.0, 5.0, 4.0), "y": (-5.0, 5.0, -4.0), "n": (1, 9, 2)},
        strategy,
        max_iterations=n,
        patience=10_000,
    ).session_id
    handed: list[list[dict[str, Any]]] = [[] for _ in range(8)]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(i: int) -> None:
        try:
            start.wait()
            k = 0
            while (values := tuner.step(sid)) is not None:
                handed[i].append(values)
                k += 1
                if fail_every and k % fail_every == 0:
                    assert tuner.record_failure(sid, values, f"thread {i} failure {k}")
                else:
                    assert tuner.record_result(
                        sid, values, -(values["x"] ** 2) - values["y"] ** 2 - values["n"]
                    )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    session = tuner.get_session(sid)
    assert session is not None
    assert sum(len(h) for h in handed) == n
    assert session.iterations == n
    assert session.status is TuningStatus.CONVERGED
    failures = tuner.get_failures(sid)
    assert failures is not None
    assert len(failures) == (sum(len(h) // fail_every for h in handed) if fail_every else 0)
    assert len(session.parameters["x"].history) == n - len(failures)
    study = tuner.get_study(sid)
    assert study is not None
    told = [t for t in study.trials if t.state.is_finished()]
    assert len(told) == len(study.trials) == n
    assert len({t.number for t in told}) == n
    assert sum(t.state is optuna.trial.TrialState.COMPLETE for t in told) == n - len(failures)
    assert tuner.step(sid) is None


def test_sessions_are_independent_under_threads() -> None:
    tuner = SelfTuner(seed=11)
    ids = [
        tuner.create_session(
            {"x": (0.0, 1.0, 0.5)}, "random_search", max_iterations=60, patience=100
        ).session_id
        for _ in range(4)
    ]
    errors: list[BaseException] = []

    def worker(sid: str) -> None:
        try:
            tuner.optimize(sid, lambda x: -((x - 0.25) ** 2))
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(sid,)) for sid in ids for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(tuner.get_session(sid).iterations == 60 for sid in ids)  # type: ignore[union-attr]


def test_tuning_enabled_is_a_kill_switch():
    from autoopt.config import AutomationConfig

    cfg = AutomationConfig()
    tuner = SelfTuner(cfg, seed=0)
    session = tuner.create_session({"x": (0.0, 1.0, 0.5)}, max_iterations=10)
    values = tuner.step(session.session_id)
    cfg.tuning_enabled = False
    assert tuner.step(session.session_id) is None
    assert tuner.record_result(session.session_id, values, 1.0)  # a trial already handed out is still told
    assert session.status not in ("converged", "failed")
    cfg.tuning_enabled = True
    assert tuner.step(session.session_id) is not None
