"""SPSASampler: convergence on smooth problems, pair bookkeeping, failures, integers."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from autoopt.tuning import SPSASampler

OPT = np.array([1.0, -2.0, 0.5])
SPACE3: dict[str, BaseDistribution] = {f"x{i}": FloatDistribution(-5.0, 5.0) for i in range(3)}
START3 = {"x0": -4.0, "x1": 4.0, "x2": -4.0}


def quad3(params: dict[str, float]) -> float:
    x = np.array([params[f"x{i}"] for i in range(3)])
    return -float(np.sum(np.array([1.0, 2.0, 0.5]) * (x - OPT) ** 2))


def distance(params: dict[str, float | int]) -> float:
    return float(np.linalg.norm(np.array([params[f"x{i}"] for i in range(3)]) - OPT))


def new_study(sampler: optuna.samplers.BaseSampler, direction: str = "maximize") -> optuna.Study:
    storage = optuna.storages.InMemoryStorage()
    d = (
        optuna.study.StudyDirection.MAXIMIZE
        if direction == "maximize"
        else optuna.study.StudyDirection.MINIMIZE
    )
    storage.create_new_study([d], study_name="spsa-test")
    return optuna.Study(study_name="spsa-test", storage=storage, sampler=sampler)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_approaches_the_optimum_of_a_smooth_quadratic_in_3d(seed: int) -> None:
    sampler = SPSASampler(SPACE3, x0=START3, n_iterations=50, seed=seed)
    study = new_study(sampler)
    start = distance(START3)  # about 9.2
    for _ in range(100):
        trial = study.ask(SPACE3)
        study.tell(trial, quad3(trial.params))
    assert distance(sampler.theta) < 0.15 * start
    assert distance(study.best_trial.params) < 0.15 * start
    assert sampler.iteration >= 40


def test_minimisation_follows_the_study_direction() -> None:
    sampler = SPSASampler(SPACE3, x0=START3, n_iterations=50, seed=0)
    study = new_study(sampler, "minimize")
    for _ in range(100):
        trial = study.ask(SPACE3)
        study.tell(trial, -quad3(trial.params))
    assert distance(sampler.theta) < 0.15 * distance(START3)


def test_starts_at_x0_and_asks_symmetric_pairs() -> None:
    space: dict[str, BaseDistribution] = {
        "x": FloatDistribution(0.0, 10.0),
        "y": FloatDistribution(0.0, 10.0),
    }
    sampler = SPSASampler(space, x0={"x": 3.0, "y": 7.0}, perturbation=0.1, seed=0)
    assert sampler.theta == {"x": 3.0, "y": 7.0}
    study = new_study(sampler)
    plus, minus = study.ask(space), study.ask(space)
    for name, centre in (("x", 3.0), ("y", 7.0)):
        assert plus.params[name] + minus.params[name] == pytest.approx(2 * centre)
        assert abs(plus.params[name] - centre) == pytest.approx(1.0)  # c_0 = 0.1 of the range


def test_out_of_order_results_give_the_same_update() -> None:
    space: dict[str, BaseDistribution] = {
        "x": FloatDistribution(-1.0, 1.0),
        "y": FloatDistribution(-1.0, 1.0),
    }

    def f(p: dict[str, float]) -> float:
        return -((p["x"] - 0.5) ** 2) - (p["y"] + 0.2) ** 2

    thetas = []
    for reverse in (False, True):
        sampler = SPSASampler(space, x0={"x": 0.0, "y": 0.0}, center_every=0, seed=4)
        study = new_study(sampler)
        for _ in range(10):
            trials = [study.ask(space) for _ in range(2)]
            for trial in reversed(trials) if reverse else trials:
                study.tell(trial, f(trial.params))
        thetas.append(sampler.theta)
        assert sampler.iteration == 10
    assert thetas[0] == thetas[1]


def test_interleaved_pairs_are_all_used() -> None:
    space: dict[str, BaseDistribution] = {
        "x": FloatDistribution(-1.0, 1.0),
        "y": FloatDistribution(-1.0, 1.0),
    }
    sampler = SPSASampler(space, x0={"x": -0.8, "y": 0.8}, n_iterations=40, center_every=0, seed=5)
    study = new_study(sampler)
    for _ in range(20):
        batch = [study.ask(space) for _ in range(4)]  # two pairs in flight
        for trial in (batch[2], batch[0], batch[3], batch[1]):
            study.tell(trial, -((trial.params["x"] - 0.3) ** 2) - (trial.params["y"] + 0.3) ** 2)
    assert sampler.iteration == 40
    theta = sampler.theta
    assert abs(theta["x"] - 0.3) < 0.2
    assert abs(theta["y"] + 0.3) < 0.2


def test_a_failed_member_is_reasked_then_the_pair_is_dropped() -> None:
    space: dict[str, BaseDistribution] = {"x": FloatDistribution(0.0, 1.0), "y": FloatDistribution(0.0, 1.0)}
    sampler = SPSASampler(space, x0={"x": 0.5, "y": 0.5}, max_retries=1, center_every=0, seed=6)
    study = new_study(sampler)
    plus, minus = study.ask(space), study.ask(space)
    study.tell(plus, 1.0)
    study.tell(minus, state=TrialState.FAIL)
    retry = study.ask(space)
    assert retry.params == minus.params  # the failed member, same values
    study.tell(retry, 0.0)
    assert sampler.iteration == 1  # the pair completed with the retry
    # now a pair whose member fails twice (max_retries=1) is abandoned
    plus, minus = study.ask(space), study.ask(space)
    study.tell(minus, state=TrialState.FAIL)
    again = study.ask(space)
    assert again.params == minus.params
    study.tell(again, state=TrialState.FAIL)
    fresh, partner = study.ask(space), study.ask(space)  # a new pair at the same theta
    theta = sampler.theta
    assert fresh.params["x"] + partner.params["x"] == pytest.approx(2 * theta["x"])
    study.tell(plus, 1.0)  # a straggler of the dropped pair is ignored
    assert sampler.iteration == 1
    study.tell(partner, 0.5)
    study.tell(fresh, 0.0)
    assert sampler.iteration == 2


def test_center_evaluations_report_theta() -> None:
    space: dict[str, BaseDistribution] = {"x": FloatDistribution(0.0, 1.0), "y": FloatDistribution(0.0, 1.0)}
    sampler = SPSASampler(space, x0={"x": 0.2, "y": 0.2}, center_every=2, seed=7)
    study = new_study(sampler)
    params = []
    for _ in range(5):
        trial = study.ask(space)
        params.append(trial.params)
        study.tell(trial, -((trial.params["x"] - 0.7) ** 2) - (trial.params["y"] - 0.7) ** 2)
    assert sampler.iteration == 2
    assert params[4] == sampler.theta  # pairs 1 and 2, then the centre


def test_integer_parameters_are_rounded_and_never_collapse() -> None:
    space: dict[str, BaseDistribution] = {"n": IntDistribution(0, 100), "k": IntDistribution(1, 4)}
    sampler = SPSASampler(space, x0={"n": 90, "k": 1}, n_iterations=40, seed=8)
    study = new_study(sampler)
    for _ in range(80):
        trial = study.ask(space)
        assert all(type(v) is int for v in trial.params.values())
        study.tell(trial, -((trial.params["n"] - 30) ** 2) / 100 - (trial.params["k"] - 3) ** 2)
    plus_minus = [t.params["k"] for t in study.trials[:2]]
    assert plus_minus[0] != plus_minus[1]  # k's range is 3 steps: the pair still differs
    assert abs(sampler.theta["n"] - 30) <= 10
    assert sampler.theta["k"] == 3


def test_stays_inside_the_box_when_the_optimum_is_on_the_boundary() -> None:
    space: dict[str, BaseDistribution] = {"x": FloatDistribution(0.0, 1.0), "y": FloatDistribution(0.0, 1.0)}
    sampler = SPSASampler(space, x0={"x": 0.5, "y": 0.5}, seed=9)
    study = new_study(sampler)
    for _ in range(60):
        trial = study.ask(space)
        assert 0.0 <= trial.params["x"] <= 1.0
        assert 0.0 <= trial.params["y"] <= 1.0
        study.tell(trial, trial.params["x"] - trial.params["y"])  # optimum at the corner (1, 0)
    assert sampler.theta["x"] > 0.95
    assert sampler.theta["y"] < 0.05


def test_argument_validation() -> None:
    with pytest.raises(ValueError, match="'first_step'"):
        SPSASampler(SPACE3, first_step=0.0)
    with pytest.raises(ValueError, match="'perturbation'"):
        SPSASampler(SPACE3, perturbation=0.7)
    with pytest.raises(ValueError, match="'n_iterations'"):
        SPSASampler(SPACE3, n_iterations=0)
    with pytest.raises(ValueError, match="'x0' lacks"):
        SPSASampler(SPACE3, x0={"x0": 1.0})
    with pytest.raises(ValueError, match="unsupported distribution"):
        SPSASampler({"x": object()})  # type: ignore[dict-item]


def test_x0_best_starts_the_first_pair_at_the_studys_best_trial() -> None:
    space = {"x": FloatDistribution(-5.0, 5.0), "y": FloatDistribution(-5.0, 5.0)}
    sampler = SPSASampler(space, x0="best", perturbation=0.05, seed=3)
    study = new_study(sampler, direction="minimize")
    for x, y, value in [(-4.0, 4.0, 9.0), (2.0, -1.0, 1.0), (0.0, 3.0, 5.0)]:  # the best is (2, -1)
        study.add_trial(optuna.trial.create_trial(params={"x": x, "y": y}, distributions=space, value=value))
    plus, minus = study.ask(space), study.ask(space)
    # The pair is symmetric about theta: its midpoint is the best trial, each member 0.05 of the
    # 10-wide box away per coordinate.
    for name, best in (("x", 2.0), ("y", -1.0)):
        assert (plus.params[name] + minus.params[name]) / 2 == pytest.approx(best, abs=1e-12)
        assert abs(plus.params[name] - best) == pytest.approx(0.5, abs=1e-12)
    assert sampler.theta == pytest.approx({"x": 2.0, "y": -1.0})


def test_x0_best_without_a_complete_trial_starts_at_the_centre() -> None:
    space = {"x": FloatDistribution(0.0, 4.0)}
    sampler = SPSASampler(space, x0="best", perturbation=0.1, seed=0)
    study = new_study(sampler)
    plus, minus = study.ask(space), study.ask(space)
    assert (plus.params["x"] + minus.params["x"]) / 2 == pytest.approx(2.0)
    with pytest.raises(ValueError, match="'x0' must be a mapping of parameter values or 'best'; got 'worst'"):
        SPSASampler(space, x0="worst")  # type: ignore[arg-type]
