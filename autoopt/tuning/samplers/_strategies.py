"""The tuning strategies: each :class:`~autoopt.enums.TuningStrategy` mapped onto an Optuna sampler.

A *plan* is what a strategy contributes to a session: the sampler, the
length of its exploration phase and, for grids, the number of distinct
points. Builders live in a registry keyed by strategy, so a strategy is one
function here.

=================  ===========================================================
strategy           sampler, and when to use it
=================  ===========================================================
RANDOM_SEARCH      :class:`~autoopt.tuning.SobolSampler`, a scrambled Sobol'
                   design. A baseline; embarrassingly parallel; best when the
                   budget is large against the dimension and the objective is
                   rough.
GRID_SEARCH        ``GridSampler`` over per-parameter grids from the bounds and
                   steps (:func:`parameter_grids`). Few parameters, each with a
                   handful of meaningful values; exhaustive and reproducible.
BAYESIAN           Optuna's ``GPSampler`` (a Gaussian process with log-EI),
                   seeing the objective through a fitted power transform
                   when its design spans a huge range
                   (:class:`~autoopt.tuning.samplers._warp.WarpedSampler`),
                   when PyTorch is installed, the budget is at most
                   :data:`GP_MAX_TRIALS` trials and there are at most
                   :data:`GP_MAX_DIM` parameters; multivariate TPE with the
                   constant liar otherwise. Expensive objectives, small
                   budgets.
GENETIC            CMA-ES (``with_margin`` when some parameters are discrete)
                   for numeric spaces of dimension >= 2; NSGA-II with
                   polynomial mutation for spaces with categoricals or one
                   parameter. Populations sized to the budget. Cheap
                   objectives, larger budgets, continuous landscapes.
GRADIENT_DESCENT   A Sobol' design of :func:`default_n_startup` points (the
                   initial values first, when given), then
                   :class:`~autoopt.tuning.SPSASampler` from its best point:
                   two evaluations per step of a simultaneous-perturbation
                   gradient estimate, with decaying gains. Smooth objectives;
                   it converges to the local optimum near the best start.
ADAPTIVE           :func:`~autoopt.tuning.adaptive_portfolio`: Sobol', then
                   GP while it is affordable, then TPE or CMA-ES. The default;
                   use it when in doubt.
=================  ===========================================================

Every strategy but the grid and random search is a
:class:`~autoopt.tuning.PortfolioSampler` under
:class:`~autoopt.tuning.ExploreWhileTied`: while all its results so far tie,
the Sobol' sequence samples instead of the model.

This module imports Optuna; :mod:`autoopt.tuning` loads it lazily.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from optuna.distributions import BaseDistribution
from optuna.exceptions import ExperimentalWarning
from optuna.samplers import (
    BaseSampler,
    CmaEsSampler,
    GridSampler,
    NSGAIISampler,
    TPESampler,
)
from optuna.samplers.nsgaii import PolynomialMutation
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from autoopt.enums import TuningStrategy
from autoopt.models import TuningParameter
from autoopt.tuning.samplers._portfolio import (
    ExploreWhileTied,
    PortfolioSampler,
    SobolSampler,
    StagedRule,
    adaptive_portfolio,
)
from autoopt.tuning.samplers._space import UnitBox
from autoopt.tuning.samplers._spsa import SPSASampler
from autoopt.tuning.samplers._warp import WarpedSampler

logger = logging.getLogger(__name__)

__all__ = [
    "ADAPTIVE_GP_TRIALS",
    "GP_MAX_DIM",
    "GP_MAX_TRIALS",
    "adaptive_n_init",
    "MAX_GRID_POINTS",
    "AskTellGridSampler",
    "SearchSpec",
    "StrategyPlan",
    "build_plan",
    "default_n_startup",
    "gp_available",
    "use_gp",
    "parameter_grids",
]

MAX_GRID_POINTS = 10_000
"""Largest grid handed to ``GridSampler``; finer grids are coarsened (see :func:`parameter_grids`)."""

GP_MAX_TRIALS = 300
"""Trials up to which the Gaussian process samples (its cost grows with the trials; ~0.2 s at 250)."""

ADAPTIVE_GP_TRIALS = 200
"""Trials after which ``ADAPTIVE`` hands over from the GP (its cost per trial grows with the trials)."""

GP_MAX_DIM = 30
"""Most free parameters for which the Gaussian process is used."""


def gp_available() -> bool:
    """Whether Optuna's ``GPSampler`` can run: PyTorch is installed (the ``rl`` extra)."""
    if "torch" in sys.modules:
        return sys.modules["torch"] is not None
    try:  # installed: the GP will import it anyway; a broken install or a blocked import means no GP
        if importlib.util.find_spec("torch") is None:
            return False
        import torch  # noqa: F401
    except (ImportError, ValueError):
        return False
    return True


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
    initial: Mapping[str, Any]
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


def _axis(p: TuningParameter, factor: int) -> list[Any]:
    if p.choices is not None:
        return list(p.choices)
    if p.max_value == p.min_value:
        return [int(p.min_value)] if p.is_integer else [float(p.min_value)]
    if p.log:
        lo_l, hi_l = math.log(p.min_value), math.log(p.max_value)
        n = max(1, math.floor((hi_l - lo_l) / (p.step_size * factor) + 1e-9))
        points = [math.exp(lo_l + (hi_l - lo_l) * k / n) for k in range(n + 1)]
        points[0], points[-1] = float(p.min_value), float(p.max_value)
        if p.is_integer:
            return sorted({round(x) for x in points})
        return points
    if p.is_integer:
        lo, hi, step = int(p.min_value), int(p.max_value), max(1, int(p.step_size)) * factor
        ints = list(range(lo, hi + 1, step))
        if ints[-1] != hi:  # Optuna puts ``high`` on the parameter's lattice, so it is a valid value
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
) -> dict[str, list[Any]]:
    """Per-parameter grids of ``GRID_SEARCH``.

    Integers take ``range(min, max + 1, step)`` plus ``max``; floats
    ``min + k * step`` up to and including ``max``, where ``step`` is the
    parameter's ``step_size`` (about a tenth of the range, on the
    parameter's own lattice); log parameters take geometric points with
    ``step_size`` in ``log`` units; categoricals every choice. While the
    product of the grid sizes exceeds ``max_points`` the step of the
    numeric parameter with the most points doubles (``GridSampler``
    materialises and shuffles the whole product).

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
    numeric = [n for n, p in parameters.items() if p.choices is None]
    while math.prod(len(a) for a in axes.values()) > max_points:
        name = max(numeric, key=lambda n: len(axes[n]), default=None)
        if name is None or len(axes[name]) <= 2:
            raise ValueError(
                f"GRID_SEARCH cannot grid {len(axes)} parameters within {max_points} points "
                "(two points per numeric parameter and every choice of the categoricals are already "
                "too many); use another strategy."
            )
        factors[name] *= 2
        axes[name] = _axis(parameters[name], factors[name])
    return axes


class AskTellGridSampler(GridSampler):
    """Optuna's ``GridSampler`` made fit for ask-and-tell, visiting the grid in a space-filling order.

    Two changes to upstream:

    - *Order.* Upstream visits the grid in a random permutation, so a
      budget smaller than the grid gets a random subset of it: clumps and
      holes. Here trial ``k`` takes the grid point of the ``k``-th new cell
      hit by a scrambled Sobol' sequence (each axis cut into as many equal
      cells as it has values), so any prefix of the visits is spread over
      the whole grid; the points never hit follow in random order. The
      whole grid is still visited, once.
    - *Stopping.* Upstream ``after_trial`` calls ``Study.stop()`` when the
      grid is exhausted, which raises ``RuntimeError`` outside
      ``Study.optimize``, and scans every trial of the study on every tell
      to find out. Here the hook does nothing: the
      :class:`~autoopt.tuning.SelfTuner` counts the grid points it has
      handed out and stops the session itself.

    Examples
    --------
    >>> sampler = AskTellGridSampler({"x": list(range(10)), "y": list(range(10))}, seed=0)
    >>> first = sampler._all_grids[:4]  # one point in each quarter of the 10 x 10 grid
    >>> sorted((x // 5, y // 5) for x, y in first)
    [(0, 0), (0, 1), (1, 0), (1, 1)]
    """

    def __init__(self, search_space: Mapping[str, Sequence[Any]], seed: int | None = None) -> None:
        super().__init__(search_space, seed)
        # Upstream visits ``_all_grids`` in list order (trial k takes grid id k) after shuffling it.
        self._all_grids = _space_filling_order(list(self._search_space.values()), self._all_grids, seed)

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        return None


def _space_filling_order(axes: list[list[Any]], shuffled: list[Any], seed: int | None) -> list[Any]:
    """The grid points ``shuffled`` reordered: those in cells first hit by a Sobol' sequence come first."""
    import numpy as np
    from scipy.stats import qmc

    sizes = [len(axis) for axis in axes]
    free = [k for k, size in enumerate(sizes) if size > 1]
    if not free or len(shuffled) <= 1:
        return shuffled
    free_sizes = np.asarray([sizes[k] for k in free])
    m = max(4, math.ceil(math.log2(4 * len(shuffled))))  # ~4 draws per point: most cells get hit
    u = qmc.Sobol(len(free), scramble=True, rng=seed).random_base2(m)
    cells = np.minimum((u * free_sizes).astype(np.int64), free_sizes - 1)
    flat = np.ravel_multi_index(tuple(cells.T), tuple(free_sizes))
    _, first = np.unique(flat, return_index=True)
    index = np.unravel_index(flat[np.sort(first)], tuple(free_sizes))
    head = []
    base = [axis[0] for axis in axes]
    for j in range(len(index[0])):
        point = list(base)
        for f, k in enumerate(free):
            point[k] = axes[k][int(index[f][j])]
        head.append(tuple(point))

    def key(point: Any) -> tuple[Any, ...]:  # True == 1 == 1.0, but they are different grid values
        return tuple((type(v).__name__, v) for v in point)

    seen = {key(p) for p in head}
    return head + [p for p in shuffled if key(p) not in seen]


# ----------------------------------------------------------------- builders


def _random(spec: SearchSpec) -> StrategyPlan:
    return StrategyPlan(
        SobolSampler(spec.distributions, seed=spec.seed), default_n_startup(spec.max_iterations)
    )


def _grid(spec: SearchSpec) -> StrategyPlan:
    grids = parameter_grids(spec.parameters)
    size = math.prod(len(v) for v in grids.values())
    grid_space: dict[str, Sequence[Any]] = dict(grids)
    return StrategyPlan(
        AskTellGridSampler(grid_space, seed=spec.seed), default_n_startup(spec.max_iterations), size
    )


def use_gp(distributions: Mapping[str, BaseDistribution], budget: int) -> bool:
    """Whether the Bayesian strategies model with a Gaussian process (else TPE).

    True when PyTorch is installed, ``budget <= GP_MAX_TRIALS`` and the space
    has between 1 and ``GP_MAX_DIM`` free parameters.
    """
    dim = UnitBox(distributions).dim
    return 1 <= dim <= GP_MAX_DIM and budget <= GP_MAX_TRIALS and gp_available()


_warned_no_torch = False


def _note_no_torch(strategy: str) -> None:
    global _warned_no_torch
    if not _warned_no_torch and not gp_available():
        _warned_no_torch = True
        logger.info(
            "%s: PyTorch is not installed, so the Gaussian-process sampler is not available and TPE is used "
            "instead. Install it (pip install 'autoopt[gp]') for the GP.",
            strategy,
        )


def _tpe(n_startup: int, seed: int) -> TPESampler:
    return TPESampler(multivariate=True, constant_liar=True, n_startup_trials=n_startup, seed=seed)


def _explore_while_tied(spec: SearchSpec, sampler: BaseSampler, n_design: int = 0) -> PortfolioSampler:
    """``sampler`` after ``n_design`` Sobol' points, and the Sobol' sequence whenever every result ties."""
    sobol = SobolSampler(spec.distributions, seed=spec.seed)
    return PortfolioSampler([sobol, sampler], ExploreWhileTied(StagedRule([n_design])))


def _bayesian(spec: SearchSpec) -> StrategyPlan:
    n_startup = default_n_startup(spec.max_iterations)
    if use_gp(spec.distributions, spec.max_iterations):
        from optuna.samplers import GPSampler

        gp = GPSampler(seed=spec.seed, n_startup_trials=n_startup, warn_independent_sampling=False)
        # Robust to the objective's scale (see _warp), and space-filling while every result ties.
        return StrategyPlan(
            _explore_while_tied(spec, WarpedSampler(gp, n_design=max(3, n_startup))), n_startup
        )
    _note_no_torch("BAYESIAN")
    return StrategyPlan(_explore_while_tied(spec, _tpe(n_startup, spec.seed)), n_startup)


def _genetic(spec: SearchSpec) -> StrategyPlan:
    box = UnitBox(spec.distributions)
    n_startup = default_n_startup(spec.max_iterations)
    if box.dim >= 2 and not box.has_categorical:
        # CMA-ES's default population, shrunk so that the budget holds at least ~8 generations.
        default_popsize = 4 + math.floor(3 * math.log(box.dim))
        popsize = max(4, min(default_popsize, spec.max_iterations // 8))
        sampler: BaseSampler = CmaEsSampler(
            seed=spec.seed,
            popsize=popsize,
            with_margin=not box.all_continuous,
            warn_independent_sampling=False,
        )
        return StrategyPlan(_explore_while_tied(spec, sampler), n_startup)
    # Categoricals, or one free parameter (CMA-ES needs two): NSGA-II. Its stock mutation
    # resamples uniformly (random search in disguise), so children are polynomial mutations;
    # the population holds about a sixth of the budget, so ~6 generations run.
    population = max(4, min(50, spec.max_iterations // 6))
    with warnings.catch_warnings():  # PolynomialMutation is "experimental" in Optuna 5.0; chosen on purpose
        warnings.simplefilter("ignore", ExperimentalWarning)
        mutation = PolynomialMutation()
    sampler = NSGAIISampler(population_size=population, mutation=mutation, seed=spec.seed)
    return StrategyPlan(_explore_while_tied(spec, sampler), n_startup)


def _gradient(spec: SearchSpec) -> StrategyPlan:
    # A local method started from one point is only as good as that point: on a multi-modal or
    # steep objective it is worse than random search. So a Sobol' design comes first (the initial
    # point, when given, is its first trial), and SPSA refines from the best point found.
    n_design = default_n_startup(spec.max_iterations)
    sampler = SPSASampler(
        spec.distributions,
        x0="best",
        n_iterations=max(1, (spec.max_iterations - n_design) // 2),
        seed=spec.seed,
    )
    return StrategyPlan(_explore_while_tied(spec, sampler, n_design), n_design)


def adaptive_n_init(dim: int, budget: int) -> int:
    """Length of ``ADAPTIVE``'s Sobol' phase before its GP: about ``3 d + 2`` points, at most a fifth of the budget.

    Never shorter than :func:`default_n_startup`. A Gaussian process started
    from a design of ~3d points settles less often in a local basin: on
    Hartmann-6 at 100 trials, 3 of 10 runs stayed in a local minimum after
    10 initial points, 1 of 10 after 20 (``benchmarks/tuning``).

    >>> [adaptive_n_init(d, 100) for d in (1, 2, 5, 6, 10)]
    [10, 10, 17, 20, 20]
    >>> adaptive_n_init(6, 30)
    6
    """
    return max(default_n_startup(budget), min(3 * dim + 2, budget // 5))


def _adaptive(spec: SearchSpec) -> StrategyPlan:
    gp = use_gp(spec.distributions, 1)
    if gp:
        n_startup = adaptive_n_init(UnitBox(spec.distributions).dim, spec.max_iterations)
    else:
        n_startup = default_n_startup(spec.max_iterations)
        _note_no_torch("ADAPTIVE")
    sampler = adaptive_portfolio(
        spec.distributions,
        n_startup=n_startup,
        budget=spec.max_iterations,
        seed=spec.seed,
        gp=gp,
        gp_max_trials=ADAPTIVE_GP_TRIALS,
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
