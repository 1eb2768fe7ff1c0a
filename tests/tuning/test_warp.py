"""The output warp of the GP strategies (issue 13): its transform, against SciPy, and the sampler wrapper."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution
from scipy import stats

from autoopt.tuning.samplers._warp import WarpedSampler, dynamic_range, power_warp

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
    study = optuna.create_study(direction=direction, sampler=WarpedSampler(spy, min_range=None))
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


def test_dynamic_range_is_the_spread_over_the_median_distance_from_the_best() -> None:
    losses = np.array([4.0, 2.0, 9.0, 3.0, 2.5])
    x = losses - losses.min()
    assert dynamic_range(losses) == pytest.approx(x.max() / np.median(x), rel=1e-12)
    assert dynamic_range(-3.0 * losses + 100.0) == pytest.approx(dynamic_range(-losses))  # scale free
    assert dynamic_range(np.array([1.0] * 6 + [2.0, 5.0, 9.0])) == pytest.approx(8.0 / np.mean([1, 4, 8]))
    assert np.isnan(dynamic_range(np.array([2.0, 2.0, 2.0])))


def _run_gate(objective, n: int, **kwargs):  # type: ignore[no-untyped-def]
    spy = Spy()
    sampler = WarpedSampler(spy, n_design=10, **kwargs)
    study = optuna.create_study(sampler=sampler)
    xs = np.random.default_rng(3).uniform(-5.0, 10.0, n)
    for x in xs:
        trial = study.ask({"x": FloatDistribution(-5.0, 10.0)})
        study.tell(trial, objective(x))
    study.ask({"x": FloatDistribution(-5.0, 10.0)})
    return sampler, spy, study


def test_the_gate_is_undecided_and_unwarped_until_the_design_is_complete() -> None:
    sampler, spy, study = _run_gate(lambda x: x**8, 9)
    assert sampler.warping is None
    assert spy.seen[-1] == [t.value for t in study.trials if t.value is not None]  # raw values


def test_the_gate_stays_off_on_a_modest_range_and_the_inner_sees_raw_values() -> None:
    objective = lambda x: (x - 1.0) ** 2  # noqa: E731
    sampler, spy, study = _run_gate(objective, 25)
    values = np.array([t.value for t in study.trials if t.value is not None])
    assert dynamic_range(values[:10]) < 10.0
    assert sampler.warping is False
    np.testing.assert_array_equal(spy.seen[-1], values)


def test_the_gate_opens_on_a_huge_range_and_is_decided_by_the_design_alone() -> None:
    objective = lambda x: (x - 1.0) ** 8  # noqa: E731
    sampler, spy, study = _run_gate(objective, 25)
    values = np.array([t.value for t in study.trials if t.value is not None])
    assert dynamic_range(values[:10]) > 10.0
    assert dynamic_range(values) != dynamic_range(values[:10])
    assert sampler.warping is True
    np.testing.assert_allclose(spy.seen[-1], power_warp(values))


def test_min_range_none_warps_from_the_start_as_before() -> None:
    sampler, spy, study = _run_gate(lambda x: (x - 1.0) ** 2, 5, min_range=None)
    values = np.array([t.value for t in study.trials if t.value is not None])
    assert sampler.warping is True
    np.testing.assert_allclose(spy.seen[-1], power_warp(values))


def test_a_resumed_study_reaches_the_same_decision() -> None:
    sampler, _, study = _run_gate(lambda x: (x - 1.0) ** 8, 25)
    fresh = WarpedSampler(Spy(), n_design=10)
    fresh.sample_relative(study, study.trials[-1], {"x": FloatDistribution(-5.0, 10.0)})
    assert fresh.warping is sampler.warping is True


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"min_range": "10"}, TypeError, "'min_range' must be a number or None; got '10'"),
        ({"min_range": True}, TypeError, "'min_range'"),
        ({"min_range": 0.5}, ValueError, "'min_range' must be finite and >= 1; got 0.5"),
        ({"min_range": float("nan")}, ValueError, "'min_range'"),
        ({"n_design": 2}, ValueError, "'n_design' must be >= 3; got 2"),
        ({"n_design": 10.0}, TypeError, "'n_design' must be an int; got 10.0"),
    ],
)
def test_gate_arguments_are_validated(kwargs, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        WarpedSampler(Spy(), **kwargs)
