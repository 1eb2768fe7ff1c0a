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

This module imports Optuna and SciPy; :mod:`autoopt.tuning` loads it lazily.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from autoopt.tuning._optuna_private import StudyView

__all__ = ["WarpedSampler", "power_warp"]


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


class WarpedSampler(BaseSampler):
    """Delegate to ``inner``, which sees the complete trials' values through :func:`power_warp`.

    Parameters
    ----------
    inner : BaseSampler
        The sampler to shield (a Gaussian process); it keeps its own state
        (caches, seeds).

    Notes
    -----
    The warp is refitted on every relative sample: O(n) for n complete trials,
    small next to a GP fit. Trials not complete are shown as they are. While
    every complete trial has the same value there is nothing to model; that
    case is the portfolio's (:class:`~autoopt.tuning.ExploreWhileTied`, which
    every strategy using this sampler wraps it in), not this sampler's.
    Single-objective studies only. Thread safety is the inner sampler's.

    Examples
    --------
    >>> import optuna
    >>> from optuna.distributions import FloatDistribution
    >>> space = {"x": FloatDistribution(-5.0, 10.0)}
    >>> sampler = WarpedSampler(optuna.samplers.TPESampler(seed=0, n_startup_trials=5))
    >>> study = optuna.create_study(sampler=sampler)
    >>> for _ in range(20):
    ...     t = study.ask(space)
    ...     _ = study.tell(t, t.params["x"] ** 4)
    >>> bool(abs(study.best_params["x"]) < 1.5)
    True
    """

    def __init__(self, inner: BaseSampler) -> None:
        if not isinstance(inner, BaseSampler):
            raise TypeError(
                f"WarpedSampler() argument 'inner' must be an optuna BaseSampler; got {inner!r:.80}."
            )
        self._inner = inner

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
        return self._inner.sample_relative(self._view(study), trial, search_space)

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self._inner.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        self._inner.after_trial(study, trial, state, values)
