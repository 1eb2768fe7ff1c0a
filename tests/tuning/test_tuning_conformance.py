"""Every tuning strategy, and two raw Optuna samplers, through the shipped conformance suite
(:mod:`autoopt.tuning.testing`); plus quality checks that need a comparison between strategies."""

from __future__ import annotations

import statistics
from collections.abc import Callable

import optuna
import pytest

from autoopt.enums import TuningStrategy
from autoopt.tuning import SelfTuner
from autoopt.tuning.testing import StrategyConformance

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")

ALL_STRATEGIES = list(TuningStrategy)

# A mixed space: two floats and one int, all initial values far from the optimum.
SPACE = {"x": (-5.0, 5.0, -4.0), "y": (-5.0, 5.0, 4.0), "n": (0, 20, 18)}
OPTIMUM = {"x": 1.5, "y": -1.0, "n": 7}


def quadratic(x: float, y: float, n: float) -> float:
    return -((x - OPTIMUM["x"]) ** 2 + (y - OPTIMUM["y"]) ** 2 + ((n - OPTIMUM["n"]) / 4) ** 2)


INITIAL_SCORE = quadratic(-4.0, 4.0, 18)  # -62.8125

# The Gaussian process costs ~0.1 s per trial: these strategies get smaller budgets here (the
# tuning benchmark runs them at full length).
GP_BACKED = {TuningStrategy.BAYESIAN, TuningStrategy.ADAPTIVE}


def budget(strategy: TuningStrategy, n: int) -> int:
    return min(n, 25) if strategy in GP_BACKED else n


def run(
    strategy: TuningStrategy,
    seed: int,
    max_iterations: int = 60,
    space: dict | None = None,
    objective: Callable[..., float] = quadratic,
) -> SelfTuner:
    tuner = SelfTuner(seed=seed)
    session = tuner.create_session(
        space or SPACE, strategy, objective, max_iterations=budget(strategy, max_iterations), patience=10_000
    )
    tuner.optimize(session.session_id)
    return tuner


@pytest.mark.parametrize("strategy", ALL_STRATEGIES)
def test_session_seed_overrides_tuner_seed(strategy: TuningStrategy) -> None:
    def first_proposals(tuner_seed: int) -> list[dict[str, float]]:
        tuner = SelfTuner(seed=tuner_seed)
        sid = tuner.create_session(SPACE, strategy, max_iterations=10, seed=99).session_id
        out = []
        for _ in range(6):
            values = tuner.step(sid)
            assert values is not None
            out.append(values)
            tuner.record_result(sid, values, quadratic(**values))
        return out

    assert first_proposals(1) == first_proposals(2)


@pytest.mark.parametrize("strategy", ALL_STRATEGIES)
def test_improves_on_the_starting_point(strategy: TuningStrategy) -> None:
    tuner = run(strategy, seed=0)
    session = tuner.list_sessions()[0]
    assert session.best_score is not None
    # The initial score is about -62.8; every strategy must get most of the way to 0.
    assert session.best_score > INITIAL_SCORE + 50.0
    best = tuner.get_best_parameters(session.session_id)
    assert best is not None
    assert quadratic(**best) == pytest.approx(session.best_score)


@pytest.mark.parametrize(
    "strategy",
    [
        TuningStrategy.BAYESIAN,
        TuningStrategy.GENETIC,
        TuningStrategy.GRADIENT_DESCENT,
        TuningStrategy.ADAPTIVE,
    ],
)
def test_model_based_strategies_beat_random_search(strategy: TuningStrategy) -> None:
    def median_best(kind: TuningStrategy) -> float:
        scores = [run(kind, seed).list_sessions()[0].best_score for seed in (0, 1, 2)]
        return statistics.median(s for s in scores if s is not None)

    assert median_best(strategy) > median_best(TuningStrategy.RANDOM_SEARCH)


@pytest.mark.parametrize("strategy", ALL_STRATEGIES)
def test_one_dimensional_space_improves(strategy: TuningStrategy) -> None:
    tuner = run(
        strategy,
        seed=4,
        max_iterations=30,
        space={"x": (-5.0, 5.0, -4.0)},
        objective=lambda x: -((x - 1.5) ** 2),
    )
    session = tuner.list_sessions()[0]
    assert session.best_score is not None
    assert session.best_parameters is not None
    assert session.best_score > -1.5  # from -30.25: at least 95 % of the loss gone
    assert abs(session.best_parameters["x"] - 1.5) < 1.25


# ------------------------------------------------------------ the shipped suite


class TestRandomSearch(StrategyConformance):
    strategy = TuningStrategy.RANDOM_SEARCH


class TestGridSearch(StrategyConformance):
    strategy = TuningStrategy.GRID_SEARCH


class TestBayesian(StrategyConformance):
    strategy = TuningStrategy.BAYESIAN
    budget = 16


class TestGenetic(StrategyConformance):
    strategy = TuningStrategy.GENETIC


class TestGradientDescent(StrategyConformance):
    strategy = TuningStrategy.GRADIENT_DESCENT


class TestAdaptive(StrategyConformance):
    strategy = "adaptive"  # the enum's value works as well
    budget = 16


class TestOptunaTPE(StrategyConformance):
    strategy = staticmethod(lambda seed: optuna.samplers.TPESampler(seed=seed, n_startup_trials=5))


class TestOptunaRandom(StrategyConformance):
    strategy = staticmethod(lambda seed: optuna.samplers.RandomSampler(seed=seed))
    improvement = 0.6
