"""The tuning strategies: each :class:`~autoopt.enums.TuningStrategy` mapped onto an Optuna sampler.

A *plan* is what a strategy contributes to a session: the sampler, the
length of its exploration phase and, for grids, the number of distinct
points. Builders live in a registry keyed by strategy, so a strategy is one
function here.

=================  ===========================================================
strategy           sampler
=================  ===========================================================
RANDOM_SEARCH      ``RandomSampler(seed)``
GRID_SEARCH        ``GridSampler`` over per-parameter grids from the bounds and
                   ``TuningParameter.step_size`` (see :func:`parameter_grids`)
BAYESIAN           ``TPESampler(multivariate=True, constant_liar=True,
                   n_startup_trials=n_startup, seed)``
GENETIC            ``CmaEsSampler(popsize sized to the budget, with_margin
                   when there are integers)`` for >= 2 free parameters;
                   ``NSGAIISampler`` for one parameter (CMA-ES needs
                   at least two dimensions), with polynomial mutation
GRADIENT_DESCENT   :class:`~autoopt.tuning.SPSASampler` started at the initial
                   values
ADAPTIVE           :func:`~autoopt.tuning.adaptive_portfolio`: Sobol', then
                   TPE, then (continuous, d >= 2, budget >= 40) CMA-ES
=================  ===========================================================

This module imports Optuna; :mod:`autoopt.tuning` loads it lazily.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution
from optuna.samplers import (
    BaseSampler,
    CmaEsSampler,
    GridSampler,
    NSGAIISampler,
    RandomSampler,
    TPESampler,
)
from optuna.samplers.nsgaii import PolynomialMutation
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from autoopt.enums import TuningStrategy
from autoopt.models import TuningParameter
from autoopt.tuning._portfolio import adaptive_portfolio
from autoopt.tuning._space import UnitBox
from autoopt.tuning._spsa import SPSASampler

__all__ = [
    "MAX_GRID_POINTS",
    "AskTellGridSampler",
    "SearchSpec",
    "StrategyPlan",
    "build_plan",
    "default_n_startup",
    "distributions_for",
    "parameter_grids",
]

MAX_GRID_POINTS = 10_000
"""Largest grid handed to ``GridSampler``; finer grids are coarsened (see :func:`parameter_grids`)."""


def default_n_startup(max_iterations: int) -> int:
    """Length of the exploration phase: ``min(10, max(2, max_iterations // 5))`` trials.

    >>> [default_n_startup(n) for n in (1, 10, 30, 100)]
    [2, 2, 6, 10]
    """
    return min(10, max(2, max_iterations // 5))


@dataclass(frozen=True, slots=True)
class SearchSpec:
    """Everything a strategy builder needs to know about a session."""

    parameters: Mapping[str, TuningParameter]
    distributions: Mapping[str, BaseDistribution]
    initial: Mapping[str, float]
    max_iterations: int
    seed: int


@dataclass(frozen=True, slots=True)
class StrategyPlan:
    """A strategy's contribution to a session.

    Attributes
    ----------
    sampler : BaseSampler
        The Optuna sampler of the session's study.
    n_startup : int
        Results after which the session counts as exploiting.
    grid_size : int or None
        Number of distinct points the sampler can propose (``GRID_SEARCH``);
        ``None`` when unbounded.
    """

    sampler: BaseSampler
    n_startup: int
    grid_size: int | None = None


def distributions_for(parameters: Mapping[str, TuningParameter]) -> dict[str, BaseDistribution]:
    """Optuna distributions of the parameters: ``IntDistribution`` (step 1) or linear ``FloatDistribution``."""
    out: dict[str, BaseDistribution] = {}
    for name, p in parameters.items():
        if p.is_integer:
            out[name] = IntDistribution(int(p.min_value), int(p.max_value))
        else:
            out[name] = FloatDistribution(float(p.min_value), float(p.max_value))
    return out


def _axis(p: TuningParameter, factor: int) -> list[float] | list[int]:
    if p.max_value == p.min_value:
        return [int(p.min_value)] if p.is_integer else [float(p.min_value)]
    if p.is_integer:
        lo, hi, step = int(p.min_value), int(p.max_value), max(1, int(p.step_size)) * factor
        ints = list(range(lo, hi + 1, step))
        if ints[-1] != hi:
            ints.append(hi)
        return ints
    lo_f, hi_f, step_f = float(p.min_value), float(p.max_value), float(p.step_size) * factor
    n = math.floor((hi_f - lo_f) / step_f + 1e-9)
    floats = [min(lo_f + k * step_f, hi_f) for k in range(n + 1)]
    if hi_f - floats[-1] > 1e-12 * max(1.0, abs(hi_f)):
        floats.append(hi_f)
    else:
        floats[-1] = hi_f
    return floats


def parameter_grids(
    parameters: Mapping[str, TuningParameter], max_points: int = MAX_GRID_POINTS
) -> dict[str, list[float] | list[int]]:
    """Per-parameter grids of ``GRID_SEARCH``.

    Integers take ``range(min, max + 1, step)`` plus ``max``; floats
    ``min + k * step`` up to and including ``max``, where ``step`` is the
    parameter's ``step_size``. While the product of the grid sizes exceeds
    ``max_points`` the step of the parameter with the most points doubles
    (``GridSampler`` materialises and shuffles the whole product).

    Raises
    ------
    ValueError
        If even two points per free parameter exceed ``max_points`` (more
        than ``log2(max_points)`` free parameters).

    Examples
    --------
    >>> p = TuningParameter.from_bounds("n", (0, 25, 5))
    >>> parameter_grids({"n": p})
    {'n': [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 25]}
    >>> parameter_grids({"x": TuningParameter.from_bounds("x", (0.0, 1.0, 0.5))})["x"][:3]
    [0.0, 0.1, 0.2]
    """
    factors = dict.fromkeys(parameters, 1)
    axes = {name: _axis(p, 1) for name, p in parameters.items()}
    while math.prod(len(a) for a in axes.values()) > max_points:
        name = max(axes, key=lambda n: len(axes[n]))
        if len(axes[name]) <= 2:
            raise ValueError(
                f"GRID_SEARCH cannot grid {len(axes)} parameters within {max_points} points "
                "(two points per parameter are already too many); use another strategy."
            )
        factors[name] *= 2
        axes[name] = _axis(parameters[name], factors[name])
    return axes


class AskTellGridSampler(GridSampler):
    """Optuna's ``GridSampler`` made fit for ask-and-tell.

    Upstream ``after_trial`` calls ``Study.stop()`` when the grid is
    exhausted, which raises ``RuntimeError`` outside ``Study.optimize``, and
    scans every trial of the study on every tell to find out. Here the hook
    does nothing: the :class:`~autoopt.tuning.SelfTuner` counts the grid
    points it has handed out and stops the session itself.
    """

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        return None


# ----------------------------------------------------------------- builders


def _random(spec: SearchSpec) -> StrategyPlan:
    return StrategyPlan(RandomSampler(seed=spec.seed), default_n_startup(spec.max_iterations))


def _grid(spec: SearchSpec) -> StrategyPlan:
    grids = parameter_grids(spec.parameters)
    size = math.prod(len(v) for v in grids.values())
    grid_space: dict[str, Sequence[Any]] = dict(grids)
    return StrategyPlan(
        AskTellGridSampler(grid_space, seed=spec.seed), default_n_startup(spec.max_iterations), size
    )


def _bayesian(spec: SearchSpec) -> StrategyPlan:
    n_startup = default_n_startup(spec.max_iterations)
    sampler = TPESampler(multivariate=True, constant_liar=True, n_startup_trials=n_startup, seed=spec.seed)
    return StrategyPlan(sampler, n_startup)


def _genetic(spec: SearchSpec) -> StrategyPlan:
    box = UnitBox(spec.distributions)
    n_startup = default_n_startup(spec.max_iterations)
    if box.dim >= 2:
        # CMA-ES's default population, shrunk so that the budget holds at least ~8 generations.
        default_popsize = 4 + math.floor(3 * math.log(box.dim))
        popsize = max(4, min(default_popsize, spec.max_iterations // 8))
        sampler: BaseSampler = CmaEsSampler(
            seed=spec.seed,
            popsize=popsize,
            with_margin=not box.all_continuous,
            warn_independent_sampling=False,
        )
        return StrategyPlan(sampler, n_startup)
    # One free parameter: CMA-ES needs two. NSGA-II's stock operators degenerate in 1-D
    # (uniform crossover copies a parent and the default mutation resamples uniformly, i.e.
    # random search), so children are polynomial mutations of their parent instead.
    population = max(4, min(50, spec.max_iterations // 6))
    sampler = NSGAIISampler(population_size=population, mutation=PolynomialMutation(), seed=spec.seed)
    return StrategyPlan(sampler, n_startup)


def _gradient(spec: SearchSpec) -> StrategyPlan:
    sampler = SPSASampler(
        spec.distributions,
        x0=spec.initial,
        n_iterations=max(1, (spec.max_iterations - 1) // 2),
        seed=spec.seed,
    )
    return StrategyPlan(sampler, default_n_startup(spec.max_iterations))


def _adaptive(spec: SearchSpec) -> StrategyPlan:
    n_startup = default_n_startup(spec.max_iterations)
    sampler = adaptive_portfolio(
        spec.distributions, n_startup=n_startup, budget=spec.max_iterations, seed=spec.seed
    )
    return StrategyPlan(sampler, n_startup)


_BUILDERS: dict[TuningStrategy, Callable[[SearchSpec], StrategyPlan]] = {
    TuningStrategy.RANDOM_SEARCH: _random,
    TuningStrategy.GRID_SEARCH: _grid,
    TuningStrategy.BAYESIAN: _bayesian,
    TuningStrategy.GENETIC: _genetic,
    TuningStrategy.GRADIENT_DESCENT: _gradient,
    TuningStrategy.ADAPTIVE: _adaptive,
}


def build_plan(strategy: TuningStrategy, spec: SearchSpec) -> StrategyPlan:
    """The plan of ``strategy`` for the session described by ``spec``."""
    return _BUILDERS[strategy](spec)
