"""Portfolio sampling: several Optuna samplers taking turns under a switching rule.

The ``ADAPTIVE`` strategy of :class:`~autoopt.tuning.SelfTuner` is a
:class:`PortfolioSampler` whose members run in stages (see
:func:`adaptive_portfolio`): a scrambled Sobol design explores, multivariate
TPE exploits, and on continuous problems with room in the budget a CMA-ES
warm-started at the best point so far refines.

The switching rule is any callable ``rule(state) -> member index`` (see
:data:`SwitchRule`), so smarter portfolios (bandits over members, switching
on stagnation) plug in without touching the sampler. :class:`ExploreWhileTied`
wraps a rule so that a space-filling member samples while every result so
far is the same value (a plateau, a constant objective): every model-based
strategy of the tuner is such a portfolio.

This module imports Optuna; :mod:`autoopt.tuning` loads it lazily.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, TPESampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from autoopt._validation import check_callable, check_int, check_real
from autoopt.tuning.samplers._space import UnitBox, UnitBoxSampler

__all__ = [
    "ExploreWhileTied",
    "PortfolioSampler",
    "PortfolioState",
    "SobolSampler",
    "StagedRule",
    "SwitchRule",
    "WarmStartCmaSampler",
    "adaptive_portfolio",
]

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------ the rule


@dataclass(frozen=True, slots=True)
class PortfolioState:
    """What a switching rule sees when a trial starts.

    Attributes
    ----------
    n_trials : int
        Trials started before this one in the study (the trial's number,
        counting enqueued ones and trials of other processes sharing the
        study's storage).
    n_complete : int
        Trials told complete so far.
    n_failed : int
        Trials told failed (or pruned) so far.
    member_trials : tuple of int
        Trials started so far by each member.
    tied : bool
        At least two trials were told complete and all their values are
        equal (the results carry no information about where to go).
    """

    n_trials: int
    n_complete: int
    n_failed: int
    member_trials: tuple[int, ...]
    tied: bool = False


SwitchRule = Callable[[PortfolioState], int]
"""A switching rule: ``rule(state)`` returns the index of the member that samples the next trial."""


class StagedRule:
    """Run the members one after another, switching at fixed trial counts.

    Member ``i`` samples the trials with index in
    ``[boundaries[i-1], boundaries[i])``; the last member runs from the last
    boundary on.

    Parameters
    ----------
    boundaries : Sequence[int]
        Non-decreasing, non-negative trial indices; one fewer than members.

    Examples
    --------
    >>> rule = StagedRule([10, 40])
    >>> [rule(PortfolioState(n, 0, 0, ())) for n in (0, 9, 10, 39, 40, 500)]
    [0, 0, 1, 1, 2, 2]
    """

    def __init__(self, boundaries: Sequence[int]) -> None:
        bounds = [
            check_int(b, f"StagedRule() argument 'boundaries'[{i}]", low=0) for i, b in enumerate(boundaries)
        ]
        if any(b1 > b2 for b1, b2 in itertools.pairwise(bounds)):
            raise ValueError(f"StagedRule() argument 'boundaries' must be non-decreasing; got {bounds!r}.")
        self.boundaries: tuple[int, ...] = tuple(bounds)

    def __call__(self, state: PortfolioState) -> int:
        return bisect.bisect_right(self.boundaries, state.n_trials)

    def __repr__(self) -> str:
        return f"StagedRule({list(self.boundaries)!r})"


class ExploreWhileTied:
    """Ask member ``explorer`` while every result ties; otherwise follow ``rule``.

    While the complete results are all one value, a model has nothing to
    fit: a GP or a Parzen estimator fitted to a constant proposes around
    arbitrary points, CMA-ES and SPSA stand still. Nothing learnt from tied
    results beats a design that spreads its points evenly, and a
    low-discrepancy one finds a small region off a plateau in fewer trials
    than random points do (the expected count of points in the region is the
    same, but it varies less). So the explorer should be a
    :class:`SobolSampler`; the portfolio's single instance continues one
    sequence whenever it is asked.

    Parameters
    ----------
    rule : SwitchRule
        The rule once two results differ.
    explorer : int
        Index of the space-filling member.

    Examples
    --------
    >>> rule = ExploreWhileTied(StagedRule([2]))
    >>> rule(PortfolioState(5, 5, 0, (), tied=True)), rule(PortfolioState(5, 5, 0, (), tied=False))
    (0, 1)
    """

    def __init__(self, rule: SwitchRule, explorer: int = 0) -> None:
        self.rule: SwitchRule = check_callable(rule, "ExploreWhileTied() argument 'rule'")
        self.explorer = check_int(explorer, "ExploreWhileTied() argument 'explorer'", low=0)

    def __call__(self, state: PortfolioState) -> int:
        return self.explorer if state.tied else self.rule(state)

    def __repr__(self) -> str:
        return f"ExploreWhileTied({self.rule!r}, explorer={self.explorer})"


# ---------------------------------------------------------------- the sampler


class PortfolioSampler(BaseSampler):
    """Delegate each trial to one member sampler chosen by a switching rule.

    Parameters
    ----------
    members : Sequence[BaseSampler]
        The member samplers. They all read the same study, so a later member
        learns from the trials of the earlier ones.
    rule : SwitchRule
        ``rule(state)`` picks the member of each new trial (called once per
        trial, in :meth:`before_trial`).

    Notes
    -----
    *Call order.* For each trial Optuna calls :meth:`before_trial`, which asks
    the rule for a member and pins the trial to it; then
    :meth:`infer_relative_search_space`, :meth:`sample_relative` and
    :meth:`sample_independent` go to that member; :meth:`after_trial` goes
    to the member that sampled the trial, even if the rule has moved on.
    The bookkeeping is O(1) per call (a dict keyed by trial number, emptied
    as trials finish). The counts and :attr:`PortfolioState.tied` cover the
    trials this sampler object was told about (:meth:`after_trial`), not
    those of other processes sharing the storage or of a run before a resume.

    Thread safety: the bookkeeping is guarded by an internal lock; members
    are called outside it and must be as thread-safe as the study needs.

    Examples
    --------
    >>> import optuna
    >>> from optuna.distributions import FloatDistribution
    >>> space = {"x": FloatDistribution(0, 1), "y": FloatDistribution(0, 1)}
    >>> sampler = PortfolioSampler(
    ...     [SobolSampler(space, seed=0), optuna.samplers.TPESampler(seed=0)], StagedRule([8]))
    >>> study = optuna.create_study(sampler=sampler)
    >>> for _ in range(12):
    ...     trial = study.ask(space)
    ...     _ = study.tell(trial, trial.params["x"] + trial.params["y"])
    >>> sampler.member_trials
    (8, 4)
    """

    def __init__(self, members: Sequence[BaseSampler], rule: SwitchRule) -> None:
        members = list(members)
        if not members:
            raise ValueError("PortfolioSampler() argument 'members' must not be empty.")
        for i, m in enumerate(members):
            if not isinstance(m, BaseSampler):
                raise TypeError(
                    f"PortfolioSampler() argument 'members'[{i}] must be an optuna BaseSampler; "
                    f"got {m!r} of type {type(m).__name__}."
                )
        self._members: tuple[BaseSampler, ...] = tuple(members)
        self._rule: SwitchRule = check_callable(rule, "PortfolioSampler() argument 'rule'")
        self._owner: dict[int, int] = {}
        self._member_trials = [0] * len(members)
        self._n_trials = 0
        self._n_complete = 0
        self._n_failed = 0
        self._first_value: float | None = None
        self._values_differ = False
        self._lock = threading.Lock()

    @property
    def members(self) -> tuple[BaseSampler, ...]:
        """The member samplers."""
        return self._members

    @property
    def rule(self) -> SwitchRule:
        """The switching rule."""
        return self._rule

    @property
    def member_trials(self) -> tuple[int, ...]:
        """How many trials each member has started."""
        with self._lock:
            return tuple(self._member_trials)

    def state(self) -> PortfolioState:
        """The state the rule sees for the next trial."""
        with self._lock:
            return self._state_locked()

    def _state_locked(self) -> PortfolioState:
        tied = self._n_complete >= 2 and not self._values_differ
        return PortfolioState(
            self._n_trials, self._n_complete, self._n_failed, tuple(self._member_trials), tied
        )

    def _member_for(self, trial: FrozenTrial) -> BaseSampler:
        with self._lock:
            idx = self._owner.get(trial.number)
            if idx is None:  # a trial that did not pass through before_trial
                idx = self._choose_locked()
        return self._members[idx]

    def _choose_locked(self) -> int:
        idx = self._rule(self._state_locked())
        if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < len(self._members):
            raise ValueError(
                f"PortfolioSampler rule {self._rule!r} returned {idx!r}; "
                f"expected a member index in [0, {len(self._members) - 1}]."
            )
        return idx

    def reseed_rng(self) -> None:
        for m in self._members:
            m.reseed_rng()

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        with self._lock:
            # The trial's number counts every trial of the study, also those started by other
            # processes sharing its storage, or before a resume: the stage follows the study.
            self._n_trials = trial.number
            idx = self._choose_locked()
            self._owner[trial.number] = idx
            self._member_trials[idx] += 1
            self._n_trials = trial.number + 1
        self._members[idx].before_trial(study, trial)

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self._member_for(trial).infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self._member_for(trial).sample_relative(study, trial, search_space)

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self._member_for(trial).sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        with self._lock:
            idx = self._owner.pop(trial.number, None)
            if state == TrialState.COMPLETE:
                self._n_complete += 1
                value = float(values[0]) if values else math.nan
                if self._first_value is None:
                    self._first_value = value
                elif value != self._first_value:  # NaN never ties
                    self._values_differ = True
            else:
                self._n_failed += 1
        if idx is not None:
            self._members[idx].after_trial(study, trial, state, values)


# -------------------------------------------------------------------- members


class SobolSampler(UnitBoxSampler):
    """A scrambled Sobol' design over a bounded search space.

    Each trial the sampler serves takes the next point of one scrambled
    Sobol' sequence (:class:`scipy.stats.qmc.Sobol`), drawn in power-of-two
    blocks so its balance properties hold; trials it does not serve
    (enqueued or added ones) do not use up points. Integers get equal
    shares of the unit interval, so they are as evenly spread as the floats.

    This does what Optuna's ``QMCSampler(qmc_type="sobol", scramble=True)``
    does for a fixed search space, in O(1) per trial and without its
    ``ExperimentalWarning``.

    Parameters
    ----------
    search_space : Mapping[str, BaseDistribution]
        Linear float and step-1 int distributions.
    seed : int, optional
        Seed of the scrambling.

    Examples
    --------
    >>> import optuna
    >>> from optuna.distributions import FloatDistribution
    >>> space = {"x": FloatDistribution(0, 1)}
    >>> study = optuna.create_study(sampler=SobolSampler(space, seed=1))
    >>> xs = []
    >>> for _ in range(4):
    ...     t = study.ask(space)
    ...     xs.append(t.params["x"])
    ...     _ = study.tell(t, 0.0)
    >>> sorted(int(x * 4) for x in xs)  # one point in each quarter
    [0, 1, 2, 3]
    """

    def __init__(self, search_space: Mapping[str, BaseDistribution], *, seed: int | None = None) -> None:
        super().__init__(search_space, seed)
        self._seed = seed
        self._engine: Any = None
        self._points = np.empty((0, self._box.dim))
        self._generated = 0
        self._next = 0

    def _next_point(self) -> np.ndarray:
        if self._next >= len(self._points):
            if self._engine is None:
                from scipy.stats import qmc  # slow to import; only needed once sampling starts

                self._engine = qmc.Sobol(self._box.dim, scramble=True, rng=self._seed)
            # Draw blocks of 8, 8, 16, 32, ... points: the total stays a power of two.
            m = max(3, int(math.log2(self._generated))) if self._generated else 3
            self._points = self._engine.random_base2(m)
            self._generated += len(self._points)
            self._next = 0
        point = self._points[self._next]
        self._next += 1
        return point

    def _sample_box(self, study: Study, trial: FrozenTrial) -> dict[str, Any]:
        with self._lock:
            point = self._next_point()
        return self._box.from_unit(point, integers="floor")


class WarmStartCmaSampler(UnitBoxSampler):
    """CMA-ES (``cmaes.CMA``) in the unit box, started at the study's best trial.

    Meant to take over from a global sampler: on its first trial it centres
    the search distribution on the best trial so far (the box centre if
    there is none) with step size ``sigma0``, then runs plain CMA-ES
    generations. Results are matched to their generation through a dict
    keyed by trial number (O(1), no scan of the study); results of a past
    generation and failed trials are dropped, and the generation is told as
    soon as ``popsize`` results of it are in. When the strategy's stopping
    criteria fire it restarts at the best trial.

    Intended for continuous spaces of dimension >= 2; integers are rounded
    at the Optuna boundary.

    Parameters
    ----------
    search_space : Mapping[str, BaseDistribution]
        Linear float and step-1 int distributions, at least two free.
    sigma0 : float
        Initial step size in unit-box lengths, in ``(0, 0.5]``.
    popsize : int, optional
        Population size; CMA-ES's default ``4 + floor(3 ln d)`` when omitted.
    seed : int, optional
        Seed of the sampling.

    Examples
    --------
    >>> import optuna
    >>> from optuna.distributions import FloatDistribution
    >>> space = {"x": FloatDistribution(-3, 3), "y": FloatDistribution(-3, 3)}
    >>> sampler = WarmStartCmaSampler(space, sigma0=0.2, seed=0)
    >>> study = optuna.create_study(sampler=sampler)
    >>> for _ in range(60):
    ...     t = study.ask(space)
    ...     _ = study.tell(t, (t.params["x"] - 1) ** 2 + (t.params["y"] - 1) ** 2)
    >>> bool(study.best_value < 1e-2)
    True
    """

    def __init__(
        self,
        search_space: Mapping[str, BaseDistribution],
        *,
        sigma0: float = 0.1,
        popsize: int | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(search_space, seed)
        if self._box.dim < 2:
            raise ValueError(
                "WarmStartCmaSampler() argument 'search_space' must have at least two free "
                f"parameters; got {self._box.dim}."
            )
        self._sigma0 = check_real(
            sigma0, "WarmStartCmaSampler() argument 'sigma0'", low=0.0, high=0.5, low_open=True
        )
        self._popsize = (
            None if popsize is None else check_int(popsize, "WarmStartCmaSampler() argument 'popsize'", low=2)
        )
        self._optimizer: Any = None
        self._generation = 0
        self._results: list[tuple[np.ndarray, float]] = []
        self._asked: dict[int, tuple[int, np.ndarray]] = {}

    @property
    def generation(self) -> int:
        """The number of generations told so far (across restarts)."""
        return self._generation

    def _start(self, study: Study) -> None:
        import cmaes

        try:
            mean = self._box.to_unit(study.best_trial.params)
        except ValueError:  # no complete trial yet
            mean = np.full(self._box.dim, 0.5)
        bounds = np.tile(np.array([0.0, 1.0]), (self._box.dim, 1))
        self._optimizer = cmaes.CMA(
            mean=np.clip(mean, 1e-9, 1.0 - 1e-9),
            sigma=self._sigma0,
            bounds=bounds,
            seed=int(self._rng.integers(2**31 - 1)),
            population_size=self._popsize,
        )
        self._results = []

    def _sample_box(self, study: Study, trial: FrozenTrial) -> dict[str, Any]:
        with self._lock:
            if self._optimizer is None:
                self._start(study)
            x = np.asarray(self._optimizer.ask(), dtype=float)
            self._asked[trial.number] = (self._generation, x)
        return self._box.from_unit(x)

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        with self._lock:
            asked = self._asked.pop(trial.number, None)
            if asked is None or state != TrialState.COMPLETE or not values:
                return
            generation, x = asked
            if generation != self._generation:
                return  # a straggler of a generation already told
            loss = -float(values[0]) if study.direction == StudyDirection.MAXIMIZE else float(values[0])
            self._results.append((x, loss))
            if len(self._results) < self._optimizer.population_size:
                return
            self._optimizer.tell(self._results)
            self._results = []
            self._generation += 1
            if self._optimizer.should_stop():
                logger.debug(
                    "WarmStartCmaSampler restarts at the best trial after generation %d.", self._generation
                )
                self._start(study)


# ---------------------------------------------------------- the default plan


def adaptive_portfolio(
    search_space: Mapping[str, BaseDistribution],
    *,
    n_startup: int,
    budget: int,
    seed: int | None = None,
    gp: bool = False,
    gp_max_trials: int = 300,
) -> PortfolioSampler:
    """The portfolio of the ``ADAPTIVE`` strategy.

    The switching rule is a :class:`StagedRule` on the trial's number in the
    study (trial 0 is the enqueued initial point, when there is one, and
    counts as exploration), under :class:`ExploreWhileTied` (the Sobol'
    member samples while every result ties). It picks by space type,
    dimension and budget:

    1. trials ``[0, n_startup)``: :class:`SobolSampler` (scrambled Sobol'),
       a space-filling start for any space;
    2. with ``gp`` (PyTorch installed): Optuna's ``GPSampler`` up to trial
       ``gp_max_trials``, seeing the objective through a fitted power
       transform when the design's losses span a huge range
       (:class:`~autoopt.tuning.samplers._warp.WarpedSampler`, gated by
       :func:`~autoopt.tuning.samplers._warp.dynamic_range`); a Gaussian process with log expected improvement
       is the most sample-efficient model for small and mixed spaces, and
       its cost (~0.2 s per trial at 250 trials) is still small then;
       beyond, multivariate TPE with the constant liar (cost flat in the
       trials), or, for continuous spaces of dimension >= 2,
       :class:`WarmStartCmaSampler` refining around the best trial;
    3. without ``gp``: multivariate TPE from ``n_startup``; then, only when
       the space is all-continuous, has at least 2 free parameters and
       ``budget >= 40``, from trial ``max(n_startup + 10, budget // 2)`` on,
       :class:`WarmStartCmaSampler` centred on the best trial so far with
       step size 0.05 of the box refines locally, where TPE is weakest.

    Parameters
    ----------
    search_space : Mapping[str, BaseDistribution]
        The distributions of the parameters.
    n_startup : int
        Length of the exploration phase, in trials.
    budget : int
        The total number of trials expected.
    seed : int, optional
        Seed shared by the members.
    gp : bool
        Use Optuna's ``GPSampler`` (needs PyTorch).
    gp_max_trials : int
        The trial from which the GP hands over.

    Examples
    --------
    >>> from optuna.distributions import FloatDistribution, IntDistribution
    >>> space = {"x": FloatDistribution(0, 1), "y": FloatDistribution(0, 1)}
    >>> adaptive_portfolio(space, n_startup=10, budget=100, seed=0).members[2].__class__.__name__
    'WarmStartCmaSampler'
    >>> mixed = dict(space, n=IntDistribution(1, 9))
    >>> len(adaptive_portfolio(mixed, n_startup=10, budget=100, seed=0).members)
    2
    """
    n_startup = check_int(n_startup, "adaptive_portfolio() argument 'n_startup'", low=1)
    budget = check_int(budget, "adaptive_portfolio() argument 'budget'", low=1)
    gp_max_trials = check_int(gp_max_trials, "adaptive_portfolio() argument 'gp_max_trials'", low=n_startup)
    box = UnitBox(search_space)
    continuous = box.all_continuous and box.dim >= 2
    tpe = TPESampler(multivariate=True, constant_liar=True, n_startup_trials=n_startup, seed=seed)
    members: list[BaseSampler] = [SobolSampler(search_space, seed=seed)]
    if gp:
        from optuna.samplers import GPSampler

        from autoopt.tuning.samplers._warp import WarpedSampler

        members.append(
            WarpedSampler(
                GPSampler(seed=seed, n_startup_trials=n_startup, warn_independent_sampling=False),
                n_design=max(3, n_startup),
            )
        )
        members.append(WarmStartCmaSampler(search_space, sigma0=0.05, seed=seed) if continuous else tpe)
        return PortfolioSampler(members, ExploreWhileTied(StagedRule([n_startup, gp_max_trials])))
    members.append(tpe)
    boundaries = [n_startup]
    if continuous and budget >= 40:
        members.append(WarmStartCmaSampler(search_space, sigma0=0.05, seed=seed))
        boundaries.append(max(n_startup + 10, budget // 2))
    return PortfolioSampler(members, ExploreWhileTied(StagedRule(boundaries)))
