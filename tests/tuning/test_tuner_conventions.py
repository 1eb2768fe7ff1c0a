"""Optuna's conventions in the SelfTuner: ``direction=`` and any Optuna sampler as the strategy (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from autoopt import FloatParam, IntParam, SelfTuner, TuningStatus, TuningStrategy
from autoopt.tuning._storage import META_KEY

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")

SPACE = {"x": (-5.0, 5.0, 4.0), "n": (0, 10, 9)}
DISTS = {
    "x": FloatDistribution(-5.0, 5.0),
    "n": IntDistribution(0, 10),
    "kind": CategoricalDistribution(["a", "b", "c"]),
}


def loss(x: float, n: int) -> float:
    return (x - 1.5) ** 2 + (n - 3) ** 2


def proposals(tuner: SelfTuner, sid: str, fn, k: int) -> list[dict]:  # type: ignore[no-untyped-def]
    seen = []
    for _ in range(k):
        values = tuner.step(sid)
        assert values is not None
        seen.append(values)
        tuner.record_result(sid, values, fn(**values))
    return seen


# ------------------------------------------------------------------ direction


def test_a_minimising_session_keeps_the_lowest_score_as_optuna_does() -> None:
    tuner = SelfTuner(seed=0)
    s = tuner.create_session(SPACE, "random_search", loss, max_iterations=25, direction="minimize")
    tuner.optimize(s.session_id)
    study = tuner.get_study(s.session_id)
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    assert s.direction == "minimize"
    # Optuna's own best trial is the reference.
    assert s.best_score == study.best_value
    assert s.best_parameters == study.best_trial.params
    scores = [t.value for t in study.trials]
    assert s.best_score == min(scores)
    for name, rec in s.parameters.items():
        best_value, best_score = min(rec.history, key=lambda vs: vs[1])
        assert (rec.best_score, rec.best_value) == (best_score, best_value), name
    frame = s.trials_dataframe()
    assert frame.attrs["direction"] == "minimize"
    assert frame["best_score"].iloc[-1] == min(scores)


@pytest.mark.parametrize("strategy", list(TuningStrategy))
def test_minimising_f_proposes_exactly_what_maximising_minus_f_does(strategy: TuningStrategy) -> None:
    budget = 14 if strategy in (TuningStrategy.BAYESIAN, TuningStrategy.ADAPTIVE) else 24
    runs = []
    for direction, sign in (("minimize", 1.0), ("maximize", -1.0)):
        tuner = SelfTuner(seed=11)
        sid = tuner.create_session(SPACE, strategy, max_iterations=budget, direction=direction).session_id  # type: ignore[arg-type]

        def fn(x: float, n: int, sign: float = sign) -> float:
            return sign * loss(x, n)

        runs.append(proposals(tuner, sid, fn, budget))
    assert runs[0] == runs[1]


def test_patience_measures_improvements_downwards_when_minimising() -> None:
    tuner = SelfTuner(seed=0)
    sid = tuner.create_session(
        {"x": (0.0, 1.0, 0.5)}, "random_search", max_iterations=50, direction="minimize", patience=3,
        convergence_threshold=0.1,
    ).session_id  # fmt: skip
    for score in (5.0, 4.0, 3.95, 3.99, 10.0):  # 4.0 improves by > 0.1; then three results do not
        values = tuner.step(sid)
        assert values is not None
        tuner.record_result(sid, values, score)
    s = tuner.get_session(sid)
    assert s is not None
    assert s.status is TuningStatus.CONVERGED
    assert s.iterations == 5
    assert s.best_score == 3.95


def test_direction_is_stored_resumed_and_compared_by_load_if_exists(tmp_path: Path) -> None:
    path = str(tmp_path / "j.log")
    tuner = SelfTuner(seed=0)
    s = tuner.create_session(SPACE, "random_search", loss, 12, direction="minimize", storage=path,
                             session_name="m")  # fmt: skip
    tuner.optimize(s.session_id, n_trials=6)
    resumed = SelfTuner().load_session("m", path, objective_fn=loss)
    assert resumed.direction == "minimize"
    assert resumed.best_score == s.best_score
    with pytest.raises(ValueError, match=r"direction='minimize', not 'maximize'"):
        SelfTuner().create_session(SPACE, "random_search", loss, 12, storage=path, session_name="m",
                                   load_if_exists=True)  # fmt: skip
    again = SelfTuner().create_session(SPACE, "random_search", loss, 12, direction="minimize", storage=path,
                                       session_name="m", load_if_exists=True)  # fmt: skip
    assert again.iterations == 6


def test_a_session_stored_before_direction_existed_maximises(tmp_path: Path) -> None:
    path = str(tmp_path / "old.log")
    tuner = SelfTuner(seed=0)
    s = tuner.create_session(SPACE, "random_search", max_iterations=5, storage=path, session_name="old")
    study = tuner.get_study(s.session_id)
    meta = dict(study.user_attrs[META_KEY])
    del meta["direction"], meta["sampler_name"]  # the record as 0.1.0 wrote it
    study.set_user_attr(META_KEY, json.loads(json.dumps(meta)))
    assert SelfTuner().load_session("old", path).direction == "maximize"


@pytest.mark.parametrize("bad", ["max", "MINIMIZE", None, 1])
def test_a_bad_direction_is_named(bad: object) -> None:
    with pytest.raises(ValueError, match=r"'direction' must be 'maximize' or 'minimize'"):
        SelfTuner().create_session(SPACE, direction=bad)  # type: ignore[arg-type]


# ------------------------------------------------------------------ samplers


def test_an_optuna_sampler_as_strategy_proposes_what_optuna_itself_does() -> None:
    n = 30
    tuner = SelfTuner()
    s = tuner.create_session(DISTS, optuna.samplers.TPESampler(seed=3, n_startup_trials=8), max_iterations=n,
                             direction="minimize")  # fmt: skip
    assert s.strategy is None
    assert s.sampler_name == "TPESampler"

    def f(x: float, n: int, kind: str) -> float:
        return (x - 1.0) ** 2 + abs(n - 4) + {"a": 1.0, "b": 0.0, "c": 2.0}[kind]

    ours = proposals(tuner, s.session_id, f, n)
    # The reference: Optuna's own ask/tell loop with an identical sampler.
    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=3, n_startup_trials=8)
    )
    theirs = []
    for _ in range(n):
        trial = study.ask(DISTS)
        theirs.append(trial.params)
        study.tell(trial, f(**trial.params))
    assert ours == theirs
    assert s.best_score == study.best_value


def test_a_session_with_a_users_sampler_needs_it_again_to_resume(tmp_path: Path) -> None:
    path = str(tmp_path / "s.log")
    tuner = SelfTuner()
    space = {"x": FloatParam(-2.0, 2.0), "k": IntParam(0, 5)}
    s = tuner.create_session(space, optuna.samplers.RandomSampler(seed=0), max_iterations=10, storage=path,
                             session_name="u")  # fmt: skip
    tuner.optimize(s.session_id, lambda x, k: -(x**2) - k, n_trials=4)
    with pytest.raises(ValueError, match=r"'sampler'.*RandomSampler.*pass it again"):
        SelfTuner().load_session("u", path)
    with pytest.raises(ValueError, match=r"created with a RandomSampler, not a TPESampler"):
        SelfTuner().load_session("u", path, sampler=optuna.samplers.TPESampler())
    resumed = SelfTuner().load_session("u", path, sampler=optuna.samplers.RandomSampler(seed=1))
    assert resumed.iterations == 4
    assert resumed.sampler_name == "RandomSampler"
    assert resumed.strategy is None
    # A built-in strategy builds its own sampler: passing one is a mistake, named.
    tuner.create_session(space, "random_search", max_iterations=3, storage=path, session_name="b")
    with pytest.raises(ValueError, match=r"strategy 'random_search', which builds its own sampler"):
        SelfTuner().load_session("b", path, sampler=optuna.samplers.RandomSampler())


def test_a_sampler_class_or_a_bad_strategy_is_named() -> None:
    with pytest.raises(TypeError, match=r"sampler instance, not the class: write TPESampler\(\)"):
        SelfTuner().create_session(SPACE, optuna.samplers.TPESampler)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"An optuna BaseSampler instance is accepted too"):
        SelfTuner().create_session(SPACE, "hill_climbing")
    with pytest.raises(TypeError, match=r"'sampler' must be an optuna BaseSampler"):
        SelfTuner().load_session("x", "unused.log", sampler="tpe")  # type: ignore[arg-type]
