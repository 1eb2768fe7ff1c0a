"""The library's one rule for ids, checked on every method that takes one.

- The seed API's methods keep the seed's return types for an unknown id: ``Optional[...]`` gives
  None and ``bool`` gives False.
- Every other method raises :class:`autoopt.UnknownIdError` (a ``KeyError``) for an unknown id.
- An id of the wrong type (None, an int, an unhashable list, bytes) raises ``TypeError`` naming the
  argument, in every method.

In every case nothing is recorded (the component's state digest is unchanged).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fuzz_digest import state_digest
from fuzz_table import _engine, _hub, _predictor, _scheduler, _tuner

from autoopt import UnknownIdError

# (method, the id argument's name, whether the seed API has it, the seed's result for an unknown id, call)
Call = Callable[[Any, Any], Any]
METHODS: list[tuple[str, Callable[[], Any], str, bool, Any, Call]] = [
    ("DecisionEngine.get_rule", _engine, "rule_id", True, None, lambda s, i: s.subject.get_rule(i)),
    ("DecisionEngine.remove_rule", _engine, "rule_id", True, False, lambda s, i: s.subject.remove_rule(i)),
    (
        "DecisionEngine.record_feedback",
        _engine,
        "decision_id",
        True,
        None,
        lambda s, i: s.subject.record_feedback(i, "x", 1.0),
    ),
    (
        "DecisionEngine.set_rule_enabled",
        _engine,
        "rule_id",
        False,
        None,
        lambda s, i: s.subject.set_rule_enabled(i, False),
    ),
    (
        "DecisionEngine.mark_executed",
        _engine,
        "decision_id",
        False,
        None,
        lambda s, i: s.subject.mark_executed(i),
    ),
    ("SelfTuner.get_session", _tuner, "session_id", True, None, lambda s, i: s.subject.get_session(i)),
    ("SelfTuner.start_session", _tuner, "session_id", True, False, lambda s, i: s.subject.start_session(i)),
    ("SelfTuner.step", _tuner, "session_id", True, None, lambda s, i: s.subject.step(i)),
    (
        "SelfTuner.record_result",
        _tuner,
        "session_id",
        True,
        False,
        lambda s, i: s.subject.record_result(i, s.values, 1.0),
    ),
    (
        "SelfTuner.get_best_parameters",
        _tuner,
        "session_id",
        True,
        None,
        lambda s, i: s.subject.get_best_parameters(i),
    ),
    ("SelfTuner.get_study", _tuner, "session_id", False, None, lambda s, i: s.subject.get_study(i)),
    (
        "SelfTuner.get_param_importances",
        _tuner,
        "session_id",
        False,
        None,
        lambda s, i: s.subject.get_param_importances(i),
    ),
    ("SelfTuner.get_failures", _tuner, "session_id", False, None, lambda s, i: s.subject.get_failures(i)),
    ("SelfTuner.remove_session", _tuner, "session_id", False, None, lambda s, i: s.subject.remove_session(i)),
    ("SelfTuner.stop_session", _tuner, "session_id", False, None, lambda s, i: s.subject.stop_session(i)),
    (
        "SelfTuner.record_failure",
        _tuner,
        "session_id",
        False,
        None,
        lambda s, i: s.subject.record_failure(i, s.values, "failed"),
    ),
    (
        "SelfTuner.optimize",
        _tuner,
        "session_id",
        False,
        None,
        lambda s, i: s.subject.optimize(i, lambda **v: 1.0, n_trials=1),
    ),
    ("IntelligentScheduler.get_task", _scheduler, "task_id", True, None, lambda s, i: s.subject.get_task(i)),
    (
        "IntelligentScheduler.cancel_task",
        _scheduler,
        "task_id",
        True,
        False,
        lambda s, i: s.subject.cancel_task(i),
    ),
    (
        "IntelligentScheduler.start_task",
        _scheduler,
        "task_id",
        True,
        False,
        lambda s, i: s.subject.start_task(i),
    ),
    (
        "IntelligentScheduler.complete_task",
        _scheduler,
        "task_id",
        True,
        False,
        lambda s, i: s.subject.complete_task(i, result=1),
    ),
    (
        "PerformancePredictor.validate_prediction",
        _predictor,
        "prediction_id",
        True,
        None,
        lambda s, i: s.subject.validate_prediction(i, 1.0),
    ),
    (
        "IntelligentAutomationHub.record_decision_outcome",
        _hub,
        "decision_id",
        False,
        None,
        lambda s, i: s.subject.record_decision_outcome(i, "x", 1.0),
    ),
]
IDS = [m[0] for m in METHODS]


@pytest.mark.parametrize(("name", "make", "arg", "seed", "expected", "call"), METHODS, ids=IDS)
def test_unknown_id(
    name: str, make: Callable[[], Any], arg: str, seed: bool, expected: Any, call: Call
) -> None:
    state = make()
    before = state_digest(state.subject)
    if seed:
        assert call(state, "no-such-id") is expected
    else:
        with pytest.raises(UnknownIdError, match=f"'{arg}'.*'no-such-id'"):
            call(state, "no-such-id")
    assert state_digest(state.subject) == before


@pytest.mark.parametrize(("name", "make", "arg", "seed", "expected", "call"), METHODS, ids=IDS)
@pytest.mark.parametrize("bad", [None, 5, ["x"], b"id"], ids=["None", "int", "list", "bytes"])
def test_malformed_id(
    name: str, make: Callable[[], Any], arg: str, seed: bool, expected: Any, call: Call, bad: Any
) -> None:
    state = make()
    before = state_digest(state.subject)
    with pytest.raises(TypeError, match=f"'{arg}' must be a str"):
        call(state, bad)
    assert state_digest(state.subject) == before


def test_seed_column_matches_the_seed_api() -> None:
    """The "seed" flags above agree with the seed's method list in test_public_api."""
    from test_public_api import SEED_METHODS

    for name, *_rest in METHODS:
        cls, method = name.split(".")
        assert (method in SEED_METHODS.get(cls, {})) is _rest[2], name


def test_unknown_id_error_reads_as_a_sentence_and_is_a_key_error() -> None:
    err = UnknownIdError("get_x() argument 'x_id': unknown x id 'a'.")
    assert isinstance(err, KeyError)
    assert str(err) == "get_x() argument 'x_id': unknown x id 'a'."
