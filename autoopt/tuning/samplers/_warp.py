"""Output warping: a sampler that sees the objective through a fitted power transform.

A Gaussian process models the objective with one stationary kernel and
Gaussian noise. An objective with a huge dynamic range breaks that model: on
a quartic (Zakharov on [-5, 10]^4 spans eight orders of magnitude) the few
enormous values set the scale, every good region looks flat, and the GP's
proposals are no better than chance. Warping the values before the model
sees them (HEBO, Cowen-Rivers et al. 2022, does this with a power transform)
keeps their order and compresses the bad tail.

:class:`WarpedSampler` wraps any sampler and shows it the study with every
complete trial's value replaced by its Yeo-Johnson transform, ``lambda``
fitted by maximum likelihood (:func:`scipy.stats.yeojohnson`) on the
*losses* (values oriented so that lower is better, whatever the study's
direction), shifted to start at 0 and scaled by their median, so it is the
bad tail that is compressed, whatever the objective's units. A
Gaussian-looking objective gets ``lambda`` near 1, an almost affine map,
which a GP (standardising its targets) does not notice; there is nothing to
tune.

The warp is only worth its cost when the range is huge. On an objective of
modest range it sharpens the model around the incumbent, and the GP exploits
too early: on the development suite's mixed space (``mixed6``, one
categorical) the warped GP settled in a wrong category in 7 of 10 runs at 80
trials, the raw GP in 3. So the warp is *gated*: it is switched on only when
the first ``n_design`` complete trials (the space-filling design) span more
than ``min_range`` times their median loss above the best, an order of
magnitude by default. The decision is made once, from those trials alone, so
it does not drift as the search concentrates near the optimum, and a resumed
study reaches the same one.

This module imports Optuna and SciPy; :mod:`autoopt.tuning` loads it lazily.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from autoopt.tuning._optuna_private import StudyView

__all__ = ["WarpedSampler", "dynamic_range", "power_warp"]


def power_warp(losses: np.ndarray) -> np.ndarray:
    """Losses warped by a Yeo-Johnson power transform, ``lambda`` by maximum likelihood; order kept.

    The losses are first shifted to start at 0 and divided by their median
    (a scale that the few enormous values do not set), so the fitted
    ``lambda`` does not depend on the objective's units. Fewer than 3
    values, or constant ones, come back shifted only.

    >>> import numpy as np
    >>> w = power_warp(np.array([0.0, 1.0, 2.0, 4.0, 1e6]))
    >>> bool(np.all(np.diff(w) > 0)), bool(w[-1] - w[-2] < 10 * (w[1] - w[0]))
    (True, True)
    >>> np.allclose(power_warp(np.array([0.0, 1.0, 2.0, 4.0, 1e6]) * 1e-3 + 5.0), w)
    True
    """
    from scipy import stats

    losses = np.asarray(losses, dtype=float)
    if losses.size == 0:
        return losses
    x = losses - float(np.min(losses))
    scale = float(np.median(x))
    if not scale > 0.0:  # more than half the values tie at the best: use the mean of the rest
        positive = x[x > 0.0]
        scale = float(np.mean(positive)) if positive.size else 0.0
    if losses.size < 3 or not scale > 0.0 or not np.isfinite(scale):
        return x
    with warnings.catch_warnings():  # an extreme lambda overflows in the search; the result is checked
        warnings.simplefilter("ignore", RuntimeWarning)
        out, _ = stats.yeojohnson(x / scale)
    out = np.asarray(out, dtype=float)
    return out if np.all(np.isfinite(out)) else x / scale


def dynamic_range(losses: np.ndarray) -> float:
    """How far the worst loss lies above the best, in units of the median's distance from the best.

    ``(max - min) / (median - min)``; when more than half the losses tie at
    the best, the mean of the others replaces the median (as in
    :func:`power_warp`). NaN when every loss ties.

    >>> import numpy as np
    >>> dynamic_range(np.array([0.0, 1.0, 2.0, 4.0]))
    2.6666666666666665
    >>> dynamic_range(np.array([3.0, 3.0, 3.0, 5.0, 3.0]))
    1.0
    """
    x = np.asarray(losses, dtype=float)
    x = x - float(np.min(x))
    scale = float(np.median(x))
    if not scale > 0.0:
        positive = x[x > 0.0]
        if not positive.size:
            return math.nan
        scale = float(np.mean(positive))
    return float(np.max(x)) / scale


class WarpedSampler(BaseSampler):
    """Delegate to ``inner``, which sees the complete trials' values through :func:`power_warp`.

    Parameters
    ----------
    inner : BaseSampler
        The sampler to shield (a Gaussian process); it keeps its own state
        (caches, seeds).
    min_range : float or None, default=10.0
        Warp only when the design's losses span more than ``min_range`` times
        their median distance from the best (:func:`dynamic_range`); ``None``
        warps always. Ten, one order of magnitude, is a convention, not a
        fitted value: no function of the development suite comes near it
        (their designs span 1-8 times the median), so leaving one of them
        out cannot choose it.
    n_design : int, default=10
        The number of complete trials, first by number, that decide the gate:
        the strategy's space-filling design.

    Notes
    -----
    The warp is refitted on every relative sample: O(n) for n complete trials,
    small next to a GP fit. Trials not complete are shown as they are. While
    every complete trial has the same value there is nothing to model; that
    case is the portfolio's (:class:`~autoopt.tuning.ExploreWhileTied`, which
    every strategy using this sampler wraps it in), not this sampler's.
    Single-objective studies only. Thread safety is the inner sampler's; the
    gate's decision is cached without a lock, which is safe because every
    thread computes the same one from the same trials.

    Examples
    --------
    >>> import optuna
    >>> from optuna.distributions import FloatDistribution
    >>> space = {"x": FloatDistribution(-5.0, 10.0)}
    >>> sampler = WarpedSampler(optuna.samplers.TPESampler(seed=0, n_startup_trials=5), n_design=5)
    >>> study = optuna.create_study(sampler=sampler)
    >>> for _ in range(20):
    ...     t = study.ask(space)
    ...     _ = study.tell(t, t.params["x"] ** 4)
    >>> bool(abs(study.best_params["x"]) < 1.5), sampler.warping
    (True, True)
    """

    def __init__(self, inner: BaseSampler, *, min_range: float | None = 10.0, n_design: int = 10) -> None:
        if not isinstance(inner, BaseSampler):
            raise TypeError(
                f"WarpedSampler() argument 'inner' must be an optuna BaseSampler; got {inner!r:.80}."
            )
        if min_range is not None:
            if isinstance(min_range, bool) or not isinstance(min_range, int | float):
                raise TypeError(
                    f"WarpedSampler() argument 'min_range' must be a number or None; got {min_range!r}."
                )
            if not (math.isfinite(min_range) and min_range >= 1.0):
                raise ValueError(
                    f"WarpedSampler() argument 'min_range' must be finite and >= 1; got {min_range!r}."
                )
        if isinstance(n_design, bool) or not isinstance(n_design, int):
            raise TypeError(f"WarpedSampler() argument 'n_design' must be an int; got {n_design!r}.")
        if n_design < 3:
            raise ValueError(f"WarpedSampler() argument 'n_design' must be >= 3; got {n_design!r}.")
        self._inner = inner
        self._min_range = None if min_range is None else float(min_range)
        self._n_design = n_design
        self._warping: bool | None = None if min_range is not None else True

    @property
    def warping(self) -> bool | None:
        """Whether the values are warped; ``None`` until the design is complete."""
        return self._warping

    def _decide(self, study: Study) -> bool:
        if self._warping is not None:
            return self._warping
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(done) < self._n_design:
            return False
        first = sorted(done, key=lambda t: t.number)[: self._n_design]
        values = np.array([t.values[0] for t in first], dtype=float)
        ratio = dynamic_range(values if study.direction == StudyDirection.MINIMIZE else -values)
        if math.isnan(ratio):  # every design value ties: nothing to decide on yet
            return False
        assert self._min_range is not None
        self._warping = bool(ratio > self._min_range)
        return self._warping

    @property
    def inner(self) -> BaseSampler:
        """The wrapped sampler."""
        return self._inner

    def _view(self, study: Study) -> Any:
        minimize = study.direction == StudyDirection.MINIMIZE

        def warp(trials: list[FrozenTrial]) -> list[FrozenTrial]:
            idx = [i for i, t in enumerate(trials) if t.state == TrialState.COMPLETE and t.values is not None]
            if len(idx) < 3:
                return trials
            values = np.array([trials[i].values[0] for i in idx], dtype=float)
            warped = power_warp(values if minimize else -values)
            out = list(trials)
            for i, w in zip(idx, warped, strict=True):
                shown = copy.copy(trials[i])  # shallow: the params and attributes are shared, read-only
                shown.values = [float(w) if minimize else -float(w)]
                out[i] = shown
            return out

        return StudyView(study, warp)

    def reseed_rng(self) -> None:
        self._inner.reseed_rng()

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._inner.before_trial(study, trial)

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self._inner.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not self._decide(study):
            return self._inner.sample_relative(study, trial, search_space)
        return self._inner.sample_relative(self._view(study), trial, search_space)

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self._inner.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        self._inner.after_trial(study, trial, state, values)
