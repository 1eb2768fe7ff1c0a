"""Every use of Optuna's private API in autoopt, in one place, each with why no public API serves.

Optuna (4.x) keeps these stable in practice, and the test suite exercises each
one, so an Optuna release that changes them fails here, by name, rather than
somewhere inside the tuner. Nothing else in :mod:`autoopt.tuning` touches a
private Optuna attribute.

This module imports Optuna; :mod:`autoopt.tuning` loads it lazily.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

__all__ = ["StudyView", "asked_params", "reopen_trial", "set_frozen_trial_user_attr", "trial_id"]


def asked_params(trial: optuna.Trial) -> dict[str, Any]:
    """The parameters just sampled for ``trial``, without a copy.

    Public ``Trial.params`` deep-copies the trial's record on every read; on
    the ask hot path that copy costs more than the tuner's own bookkeeping, so
    the cached record (``Trial._cached_frozen_trial``) is read when present.
    The caller must not modify the dict.
    """
    frozen = getattr(trial, "_cached_frozen_trial", None)
    return frozen.params if frozen is not None else trial.params


def trial_id(trial: optuna.Trial | FrozenTrial) -> int:
    """The storage's id of a trial (``_trial_id``).

    Public APIs identify a trial by its number within a study, but a storage
    is addressed by trial id, and reopening a trial in a worker process
    (:func:`reopen_trial`) needs it.
    """
    return int(trial._trial_id)


def reopen_trial(study: optuna.Study, trial_id_: int) -> optuna.Trial:
    """A live ``Trial`` for a trial that another process asked (``optuna.trial.Trial(study, id)``).

    A worker process evaluating a trial asked by its parent reports
    intermediate values and asks the pruner through it; Optuna has no public
    way to attach to a running trial it did not ask.
    """
    return optuna.trial.Trial(study, trial_id_)


def set_frozen_trial_user_attr(study: optuna.Study, trial: FrozenTrial, key: str, value: Any) -> None:
    """Set a user attribute of a trial known only as a ``FrozenTrial`` (``study._storage``).

    A live ``Trial`` has the public ``set_user_attr``; a trial read back with
    ``study.get_trials()`` (a stale one being voided on resume) does not, and
    the study exposes its storage only privately.
    """
    study._storage.set_trial_user_attr(trial_id(trial), key, value)


class StudyView:
    """A study as a sampler should see it: every attribute the study's own, its trials passed through ``view``.

    Optuna's samplers read a study's trials through the private
    ``Study._get_trials`` (with its ``use_cache`` flag), which is why this
    proxy must define it; everything else (``directions``, ``_storage`` for
    the system attributes a sampler writes) is the real study's. Used by
    :class:`~autoopt.tuning.samplers._warp.WarpedSampler` to show a Gaussian
    process warped objective values.
    """

    def __init__(self, study: optuna.Study, view: Callable[[list[FrozenTrial]], list[FrozenTrial]]) -> None:
        self._study = study
        self._view = view

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(
        self,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
        use_cache: bool = False,
    ) -> list[FrozenTrial]:
        return self._view(self._study._get_trials(deepcopy=deepcopy, states=states, use_cache=use_cache))

    def get_trials(
        self, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        return self._view(self._study.get_trials(deepcopy=deepcopy, states=states))

    @property
    def trials(self) -> Sequence[FrozenTrial]:
        return self.get_trials()
