"""A conformance suite for tuning strategies, in the spirit of ``optuna.testing``.

Subclass :class:`StrategyConformance` in a pytest module, name it ``Test*``
and set :attr:`~StrategyConformance.strategy`: pytest collects its tests
and runs them through :class:`~autoopt.tuning.SelfTuner`. Every built-in
strategy passes them (``tests/tuning/test_tuning_conformance.py``); a custom
Optuna sampler meant to be used as a ``strategy`` should too.

What is checked: values are of the space's types and within its bounds,
and the first trial is the initial point; the budget is exact, failures and
pending trials included; a seed reproduces a run; minimising ``f`` proposes
what maximising ``-f`` does; results for values the strategy never proposed
are taken; a session resumed from a journal file carries on; the strategy
improves on a poor starting point of a smooth objective.

This module imports pytest and Optuna; ``import autoopt`` does not import it.

Examples
--------
In a test module of yours::

    import optuna
    from autoopt.tuning.testing import StrategyConformance

    class TestMySampler(StrategyConformance):
        strategy = staticmethod(lambda seed: optuna.samplers.TPESampler(seed=seed))
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import optuna

from autoopt.enums import TuningStatus, TuningStrategy
from autoopt.tuning._tuner import SelfTuner

__all__ = ["INITIAL", "OPTIMUM", "SPACE", "StrategyConformance", "quadratic"]

SPACE: dict[str, tuple[Any, Any, Any]] = {"x": (-5.0, 5.0, -4.0), "y": (-5.0, 5.0, 4.0), "n": (0, 20, 18)}
"""Two floats and an int, the initial values far from the optimum."""
OPTIMUM = {"x": 1.5, "y": -1.0, "n": 7}
INITIAL = {name: spec[2] for name, spec in SPACE.items()}


def quadratic(x: float, y: float, n: float) -> float:
    """A smooth score to maximise, 0 at :data:`OPTIMUM` and about -62.8 at :data:`INITIAL`."""
    return -((x - OPTIMUM["x"]) ** 2 + (y - OPTIMUM["y"]) ** 2 + ((n - OPTIMUM["n"]) / 4) ** 2)


class StrategyConformance:
    """Tests every tuning strategy must pass; subclass it as ``Test*`` and set :attr:`strategy`.

    Attributes
    ----------
    strategy : TuningStrategy, str or callable
        The strategy under test: a :class:`~autoopt.enums.TuningStrategy`
        (or its value), or ``strategy(seed) -> BaseSampler`` building a
        fresh Optuna sampler seeded with ``seed`` (wrap a function in
        ``staticmethod``).
    budget : int
        Trials per session in the tests that run one to the end; keep it
        small for expensive samplers (a Gaussian process).
    improvement : float
        How much of the initial point's shortfall (about 62.8) the best
        score must recover within ``2 * budget`` trials.
    """

    strategy: ClassVar[Any] = None
    budget: ClassVar[int] = 30
    improvement: ClassVar[float] = 0.8

    # ---------------------------------------------------------------- helpers

    def make_strategy(self, seed: int) -> Any:
        """The ``strategy`` argument for a session seeded with ``seed``."""
        strategy = type(self).strategy
        if strategy is None:
            raise TypeError(
                f"{type(self).__name__}.strategy is not set: give a TuningStrategy or a sampler factory."
            )
        if isinstance(strategy, (TuningStrategy, str)):
            return strategy
        if callable(strategy):
            return strategy(seed)
        raise TypeError(
            f"{type(self).__name__}.strategy must be a TuningStrategy or a callable; got {strategy!r}."
        )

    def session(self, tuner: SelfTuner, seed: int, max_iterations: int, **kwargs: Any) -> str:
        """A new session of the strategy under test in ``tuner``; its id."""
        kwargs.setdefault("parameters", SPACE)
        return tuner.create_session(
            strategy=self.make_strategy(seed), max_iterations=max_iterations, seed=seed, **kwargs
        ).session_id

    @staticmethod
    def drive(
        tuner: SelfTuner, sid: str, fn: Callable[..., float], limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Ask and tell until the session stops proposing (or ``limit`` trials); the values proposed."""
        seen: list[dict[str, Any]] = []
        while (limit is None or len(seen) < limit) and (values := tuner.step(sid)) is not None:
            seen.append(values)
            assert tuner.record_result(sid, values, fn(**values))
        return seen

    # ------------------------------------------------------------------ tests

    def test_values_are_typed_within_bounds_and_the_first_is_the_initial_point(self) -> None:
        tuner = SelfTuner()
        seen = self.drive(tuner, self.session(tuner, 3, self.budget), quadratic)
        assert len(seen) == self.budget
        assert seen[0] == INITIAL
        for values in seen:
            assert set(values) == set(SPACE)
            for name, (lo, hi, _) in SPACE.items():
                assert lo <= values[name] <= hi, (name, values)
            assert type(values["n"]) is int
            assert type(values["x"]) is float
            assert type(values["y"]) is float

    def test_the_budget_is_exact_with_failures(self) -> None:
        tuner = SelfTuner()
        sid = self.session(tuner, 5, self.budget)
        handed = 0
        while (values := tuner.step(sid)) is not None:
            handed += 1
            if handed % 7 == 0:
                assert tuner.record_failure(sid, values, "flaky evaluation")
            else:
                assert tuner.record_result(sid, values, quadratic(**values))
        session = tuner.get_session(sid)
        assert session is not None
        assert handed == session.iterations == self.budget
        assert session.status is TuningStatus.CONVERGED
        states = [t.state for t in tuner.get_study(sid).trials if t.user_attrs.get("skipped") is None]
        assert states.count(optuna.trial.TrialState.FAIL) == self.budget // 7
        assert len(states) == self.budget

    def test_pending_trials_count_against_the_budget(self) -> None:
        tuner = SelfTuner()
        sid = self.session(tuner, 6, 5)
        asked = [tuner.step(sid) for _ in range(5)]
        assert all(v is not None for v in asked)
        assert tuner.step(sid) is None  # 0 results + 5 pending = the budget
        for values in reversed(asked):  # told out of order
            assert values is not None
            assert tuner.record_result(sid, values, quadratic(**values))
        session = tuner.get_session(sid)
        assert session is not None
        assert session.iterations == 5
        assert session.status is TuningStatus.CONVERGED

    def test_a_seed_reproduces_the_run(self) -> None:
        runs = []
        for _ in range(2):
            tuner = SelfTuner()
            runs.append(self.drive(tuner, self.session(tuner, 11, self.budget), quadratic, limit=12))
        assert runs[0] == runs[1]
        assert len(runs[0]) == 12

    def test_minimising_f_proposes_what_maximising_minus_f_does(self) -> None:
        runs = []
        for direction, sign in (("minimize", -1.0), ("maximize", 1.0)):
            tuner = SelfTuner()
            sid = self.session(tuner, 7, self.budget, direction=direction)
            runs.append(self.drive(tuner, sid, lambda sign=sign, **v: sign * quadratic(**v), limit=12))
        assert runs[0] == runs[1]

    def test_results_for_values_it_never_proposed_are_taken(self) -> None:
        tuner = SelfTuner()
        sid = self.session(tuner, 8, self.budget)
        assert tuner.record_result(sid, OPTIMUM, 0.0)  # a point the user evaluated on their own
        seen = self.drive(tuner, sid, quadratic)
        session = tuner.get_session(sid)
        assert session is not None
        assert len(seen) == self.budget - 1
        assert session.iterations == self.budget
        assert session.best_score == 0.0
        assert session.best_parameters == OPTIMUM

    def test_a_session_resumed_from_a_journal_carries_on(self, tmp_path: Path) -> None:
        path = str(tmp_path / "journal.log")
        first = SelfTuner()
        sid = self.session(first, 9, self.budget, storage=path, session_name="conformance")
        before = self.drive(first, sid, quadratic, limit=self.budget // 2)
        other = SelfTuner()
        kwargs = (
            {}
            if isinstance(type(self).strategy, (TuningStrategy, str))
            else {"sampler": self.make_strategy(9)}
        )
        resumed = other.load_session("conformance", path, **kwargs)
        assert resumed.iterations == len(before)
        after = self.drive(other, resumed.session_id, quadratic)
        assert len(before) + len(after) == self.budget
        assert resumed.status is TuningStatus.CONVERGED
        assert resumed.best_score == max(quadratic(**v) for v in before + after)

    def test_it_improves_on_a_poor_starting_point(self) -> None:
        tuner = SelfTuner()
        sid = self.session(tuner, 0, 2 * self.budget)
        self.drive(tuner, sid, quadratic)
        session = tuner.get_session(sid)
        assert session is not None
        assert session.best_score is not None
        start = quadratic(**INITIAL)
        assert session.best_score >= start * (1.0 - self.improvement), session.best_score
