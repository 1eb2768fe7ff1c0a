"""The output warp of the GP strategies (issue 13): its transform, against SciPy, and the sampler wrapper."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution
from scipy import stats

from autoopt.tuning.samplers._warp import WarpedSampler, power_warp

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")


def test_power_warp_is_scipys_yeo_johnson_of_the_shifted_median_scaled_losses() -> None:
    rng = np.random.default_rng(0)
    losses = np.exp(rng.normal(0.0, 3.0, 60)) + 7.0  # heavy right tail
    x = losses - losses.min()
    expected, lam = stats.yeojohnson(x / np.median(x))
    np.testing.assert_allclose(power_warp(losses), expected, rtol=1e-10)
    assert lam < 0.5  # a heavy tail is compressed (log-like), not left linear
    # Invariant to the objective's units and offset; the order is kept.
    np.testing.assert_allclose(
        power_warp(1e-3 * losses - 40.0), expected, rtol=1e-6
    )  # lambda: Brent to ~1e-8
    assert np.array_equal(np.argsort(power_warp(losses)), np.argsort(losses))


def test_power_warp_leaves_gaussian_losses_nearly_affine() -> None:
    losses = np.random.default_rng(1).normal(10.0, 2.0, 200)
    w = power_warp(losses)
    assert stats.pearsonr(w, losses)[0] > 0.995


@pytest.mark.parametrize("values", [[], [3.0], [1.0, 2.0], [5.0, 5.0, 5.0, 5.0]])
def test_power_warp_degenerate_inputs_are_shifted_only(values: list[float]) -> None:
    arr = np.asarray(values, dtype=float)
    np.testing.assert_array_equal(power_warp(arr), arr - (arr.min() if arr.size else 0.0))


def test_power_warp_with_most_values_tied_at_the_best_uses_the_rest_for_scale() -> None:
    losses = np.array([1.0] * 6 + [2.0, 5.0, 9.0])
    x = losses - 1.0
    expected, _ = stats.yeojohnson(x / x[x > 0].mean())
    np.testing.assert_allclose(power_warp(losses), expected, rtol=1e-10)


class Spy(optuna.samplers.RandomSampler):
    """Records the values of the complete trials it is shown."""

    def __init__(self) -> None:
        super().__init__(seed=0)
        self.seen: list[list[float]] = []

    def infer_relative_search_space(self, study, trial):  # type: ignore[no-untyped-def]
        return {"x": FloatDistribution(0.0, 1.0)}

    def sample_relative(self, study, trial, search_space):  # type: ignore[no-untyped-def]
        done = study._get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        self.seen.append([t.value for t in done])
        return {}


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_the_inner_sampler_sees_warped_values_and_the_study_keeps_the_real_ones(direction: str) -> None:
    spy = Spy()
    study = optuna.create_study(direction=direction, sampler=WarpedSampler(spy))
    raw = [1.0, 3.0, 2.0, 1000.0, 5.0]
    for v in raw:
        trial = study.ask({"x": FloatDistribution(0.0, 1.0)})
        study.tell(trial, v)
    study.ask({"x": FloatDistribution(0.0, 1.0)})
    shown = np.array(spy.seen[-1])
    losses = np.array(raw) if direction == "minimize" else -np.array(raw)
    expected = power_warp(losses)
    np.testing.assert_allclose(shown, expected if direction == "minimize" else -expected)
    assert [t.value for t in study.trials if t.value is not None] == raw  # the study itself is untouched
    assert spy.seen[0] == []  # nothing complete yet: nothing warped


def test_on_a_plateau_the_inner_model_is_not_asked_and_sampling_is_independent() -> None:
    # Ties are the portfolio's business (ExploreWhileTied), as in the bayesian and adaptive strategies.
    from autoopt.tuning import ExploreWhileTied, PortfolioSampler, SobolSampler, StagedRule

    class Recorder(optuna.samplers.RandomSampler):
        def __init__(self) -> None:
            super().__init__(seed=0)
            self.relative_calls = 0

        def infer_relative_search_space(self, study, trial):  # type: ignore[no-untyped-def]
            return {"x": FloatDistribution(0.0, 1.0)}

        def sample_relative(self, study, trial, search_space):  # type: ignore[no-untyped-def]
            self.relative_calls += 1
            return {"x": 0.5}

    inner = Recorder()
    sobol = SobolSampler({"x": FloatDistribution(0.0, 1.0)}, seed=0)
    sampler = PortfolioSampler([sobol, WarpedSampler(inner)], ExploreWhileTied(StagedRule([0])))
    study = optuna.create_study(sampler=sampler)
    xs = []
    for _ in range(12):  # a constant objective: every result ties
        trial = study.ask({"x": FloatDistribution(0.0, 1.0)})
        xs.append(trial.params["x"])
        study.tell(trial, 1.0)
    assert inner.relative_calls == 2  # only while fewer than two results were in
    assert len(set(xs[2:])) == 10  # the Sobol' design, not the model's repeated 0.5
    trial = study.ask({"x": FloatDistribution(0.0, 1.0)})
    study.tell(trial, 0.3)  # one value off the plateau: the model is asked again
    study.ask({"x": FloatDistribution(0.0, 1.0)})
    assert inner.relative_calls == 3
