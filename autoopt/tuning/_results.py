"""Tuning results for notebooks: a table of trials and parameter importances.

:func:`trials_frame` turns an Optuna study into a :class:`pandas.DataFrame`
with one row per trial, and :func:`param_importances` ranks the parameters by
fANOVA. The plots of that table are in :mod:`autoopt.tuning._plots`.

Bookkeeping trials that :class:`~autoopt.tuning.SelfTuner` voids (their
system attributes hold the key ``"autoopt:void"``) are left out everywhere.

This module imports Optuna and pandas; :mod:`autoopt.tuning` loads it lazily.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.importance import FanovaImportanceEvaluator
from optuna.storages import InMemoryStorage
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from autoopt._validation import check_int, check_str
from autoopt.tuning._storage import FAILURE_ATTR, VOID_KEY

__all__ = [
    "VOID_ATTR",
    "param_importances",
    "trials_frame",
]

logger = logging.getLogger(__name__)

#: System attribute marking a bookkeeping trial that results leave out.
VOID_ATTR = VOID_KEY
#: Parameter columns are named ``PARAM_PREFIX + name``.
PARAM_PREFIX = "params_"

_STATE_NAMES = {
    TrialState.COMPLETE: "complete",
    TrialState.FAIL: "failed",
    TrialState.PRUNED: "pruned",
    TrialState.RUNNING: "running",
    TrialState.WAITING: "waiting",
}
_DATETIME_DTYPE: Final = "datetime64[us, UTC]"


def trial_state_counts(study: optuna.Study) -> dict[str, int]:
    """How many of the study's trials are in each state, by the names :func:`trials_frame` uses
    (``complete``, ``failed``, ``pruned``, ``running``, ``waiting``), bookkeeping trials left out."""
    out: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        if VOID_ATTR not in t.user_attrs:
            name = _STATE_NAMES[t.state]
            out[name] = out.get(name, 0) + 1
    return out


# ------------------------------------------------------------------ the table


def trials_frame(study: optuna.Study, names: Sequence[str]) -> pd.DataFrame:
    """One row per trial of ``study``, for notebooks.

    Parameters
    ----------
    study : optuna.Study
        A single-objective study. Trials whose system attributes hold the key
        ``"autoopt:void"`` are left out.
    names : sequence of str
        The parameters to tabulate, in column order. A name that no trial
        has gives a column of NaN.

    Returns
    -------
    pandas.DataFrame
        Sorted by trial number, with a :class:`~pandas.RangeIndex` and the
        columns, in order:

        ``number`` (int64)
            The trial number.
        ``state`` (str)
            ``"complete"``, ``"failed"``, ``"pruned"``, ``"running"`` or
            ``"waiting"``.
        ``score`` (float64)
            The objective value of a complete trial; NaN otherwise, pruned
            trials included (see ``last_intermediate``).
        ``datetime_start``, ``datetime_complete`` (datetime64, UTC)
            NaT when absent. Optuna records naive local times; they are
            converted to UTC.
        ``duration_s`` (float64)
            Seconds from start to completion; NaN while either is absent.
        ``params_<name>`` for each name
            object dtype for categorical parameters; int64 for integer
            parameters every trial has, float64 otherwise. Missing is NaN.
        ``message`` (str)
            The trial's ``"failure"`` user attribute (why it failed or was pruned), or ``""``.
        ``last_intermediate`` (float64)
            The value reported at the last step, or NaN.
        ``best_score`` (float64)
            The best ``score`` of the complete trials so far (running
            maximum, or minimum for a minimising study); NaN before the first.

        ``frame.attrs["direction"]`` is ``"maximize"`` or ``"minimize"``;
        ``frame.attrs["log_params"]`` lists the parameters searched on a log scale.

    Raises
    ------
    TypeError
        If ``study`` is not an :class:`optuna.Study` or ``names`` is not a
        sequence of strings.
    ValueError
        If ``names`` repeats a name or the study has several objectives.

    Notes
    -----
    The table is built column-wise in one pass over the trials: O(n·p) for
    n trials and p names.

    Examples
    --------
    >>> import optuna
    >>> from optuna.distributions import FloatDistribution
    >>> from optuna.trial import TrialState, create_trial
    >>> study = optuna.create_study(direction="maximize")
    >>> dist = {"x": FloatDistribution(0.0, 1.0)}
    >>> study.add_trial(create_trial(value=0.5, params={"x": 0.2}, distributions=dist))
    >>> study.add_trial(create_trial(state=TrialState.FAIL, params={"x": 0.7}, distributions=dist,
    ...                              user_attrs={"failure": "boom"}))
    >>> study.add_trial(create_trial(value=0.9, params={"x": 0.4}, distributions=dist))
    >>> frame = trials_frame(study, ["x"])
    >>> frame[["number", "state", "score", "params_x", "message", "best_score"]]
       number     state  score  params_x message  best_score
    0       0  complete    0.5       0.2                 0.5
    1       1    failed    NaN       0.7    boom         0.5
    2       2  complete    0.9       0.4                 0.9
    """
    if not isinstance(study, optuna.Study):
        raise TypeError(
            f"trials_frame() argument 'study' must be an optuna.Study; "
            f"got {study!r} of type {type(study).__name__}."
        )
    names = _check_names(names, "trials_frame() argument 'names'")
    maximize = _direction(study, "trials_frame()") == StudyDirection.MAXIMIZE

    trials = sorted(
        (t for t in study.get_trials(deepcopy=False) if VOID_ATTR not in t.user_attrs),
        key=lambda t: t.number,
    )
    n = len(trials)
    number = np.fromiter((t.number for t in trials), dtype=np.int64, count=n)
    state = [_STATE_NAMES[t.state] for t in trials]
    score = np.fromiter((_score(t) for t in trials), dtype=np.float64, count=n)
    start = _utc_column([t.datetime_start for t in trials])
    complete = _utc_column([t.datetime_complete for t in trials])
    duration = (complete - start).dt.total_seconds().astype(np.float64)
    message = [_message(t) for t in trials]
    last = np.fromiter((_last_intermediate(t) for t in trials), dtype=np.float64, count=n)
    best = np.fmax.accumulate(score) if maximize else np.fmin.accumulate(score)

    columns: dict[str, Any] = {
        "number": number,
        "state": pd.Series(state, dtype=str),
        "score": score,
        "datetime_start": start,
        "datetime_complete": complete,
        "duration_s": duration,
    }
    for name in names:
        columns[PARAM_PREFIX + name] = _param_column(trials, name)
    columns["message"] = pd.Series(message, dtype=str)
    columns["last_intermediate"] = last
    columns["best_score"] = best

    frame = pd.DataFrame(columns)
    frame.attrs["direction"] = "maximize" if maximize else "minimize"
    frame.attrs["log_params"] = [n for n in names if _is_log(trials, n)]
    return frame


def _is_log(trials: Sequence[FrozenTrial], name: str) -> bool:
    """Whether ``name`` was searched on a log scale (its distribution in the first trial that has it)."""
    for t in trials:
        dist = t.distributions.get(name)
        if dist is not None:
            return bool(getattr(dist, "log", False))
    return False


def _check_names(names: Any, label: str) -> list[str]:
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise TypeError(
            f"{label} must be a sequence of parameter names; got {names!r} of type {type(names).__name__}."
        )
    checked = [check_str(name, f"{label}[{i}]") for i, name in enumerate(names)]
    seen: set[str] = set()
    for name in checked:
        if name in seen:
            raise ValueError(f"{label} must not repeat a name; got {name!r} twice in {list(names)!r}.")
        seen.add(name)
    return checked


def _direction(study: optuna.Study, caller: str) -> StudyDirection:
    directions = study.directions
    if len(directions) != 1:
        raise ValueError(
            f"{caller} needs a single-objective study; study {study.study_name!r} "
            f"has {len(directions)} objectives."
        )
    return directions[0]


def _score(trial: FrozenTrial) -> float:
    if trial.state != TrialState.COMPLETE or trial.values is None:
        return math.nan
    return float(trial.values[0])


def _last_intermediate(trial: FrozenTrial) -> float:
    step = trial.last_step
    return math.nan if step is None else float(trial.intermediate_values[step])


def _message(trial: FrozenTrial) -> str:
    failure = trial.user_attrs.get(FAILURE_ATTR)
    return "" if failure is None else str(failure)


def _utc_column(stamps: list[datetime | None]) -> pd.Series:
    # ``astimezone`` reads a naive datetime (Optuna's own) as local time.
    aware = [None if s is None else s.astimezone(UTC) for s in stamps]
    return pd.to_datetime(pd.Series(aware, dtype=object), utc=True).astype(_DATETIME_DTYPE)


def _param_column(trials: Sequence[FrozenTrial], name: str) -> pd.Series:
    n = len(trials)
    values = np.empty(n, dtype=object)
    present = np.zeros(n, dtype=bool)
    categorical = False
    integer = True
    for i, trial in enumerate(trials):
        if name in trial.params:
            values[i] = trial.params[name]
            present[i] = True
            dist = trial.distributions[name]
            categorical = categorical or isinstance(dist, CategoricalDistribution)
            integer = integer and isinstance(dist, IntDistribution)
    if categorical:
        values[~present] = np.nan
        return pd.Series(values, dtype=object)
    if integer and present.all() and n > 0:
        return pd.Series(values.astype(np.int64), dtype=np.int64)
    column = np.full(n, np.nan)
    column[present] = values[present].astype(np.float64)
    return pd.Series(column, dtype=np.float64)


# ------------------------------------------------------------- importances


def param_importances(study: optuna.Study, *, seed: int | None = 0) -> dict[str, float]:
    """fANOVA importances of the parameters, over the complete trials.

    Parameters
    ----------
    study : optuna.Study
        A single-objective study. Voided trials (system attribute
        ``"autoopt:void"``) are left out.
    seed : int or None, default 0
        Seed of the fANOVA random forest, in ``[0, 2**32 - 1]``; ``None``
        draws fresh entropy.

    Returns
    -------
    dict of str to float
        Parameter name to importance, summing to 1 and sorted from the most
        important (ties by name). Only parameters that every complete trial
        has, with one distribution, are assessed.

    Raises
    ------
    TypeError
        If ``study`` is not an :class:`optuna.Study` or ``seed`` not an int.
    ValueError
        If the study has several objectives, fewer than 2 complete trials,
        no parameter shared by all of them, or scores that do not vary with
        the parameters.

    Notes
    -----
    This is :func:`optuna.importance.get_param_importances` with a
    :class:`~optuna.importance.FanovaImportanceEvaluator`. fANOVA splits the
    score's variance between the parameters, so it ignores the direction.

    Examples
    --------
    >>> import optuna
    >>> from optuna.distributions import FloatDistribution
    >>> from optuna.trial import create_trial
    >>> study = optuna.create_study(direction="maximize")
    >>> dist = {"x": FloatDistribution(0.0, 1.0), "y": FloatDistribution(0.0, 1.0)}
    >>> for i in range(20):
    ...     x, y = (i % 5) / 4, (i // 5) / 3
    ...     study.add_trial(create_trial(value=10 * x + y, params={"x": x, "y": y}, distributions=dist))
    >>> importances = param_importances(study)
    >>> list(importances)
    ['x', 'y']
    >>> round(sum(importances.values()), 12)
    1.0
    """
    if not isinstance(study, optuna.Study):
        raise TypeError(
            f"param_importances() argument 'study' must be an optuna.Study; "
            f"got {study!r} of type {type(study).__name__}."
        )
    if seed is not None:
        seed = check_int(seed, "param_importances() argument 'seed'", low=0, high=2**32 - 1)
    direction = _direction(study, "param_importances()")
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    complete = [t for t in trials if VOID_ATTR not in t.user_attrs]
    if len(complete) < 2:
        raise ValueError(
            f"param_importances() needs at least 2 complete trials; study {study.study_name!r} "
            f"has {len(complete)}."
        )
    scores = np.array([t.values[0] for t in complete], dtype=np.float64)
    if np.all(scores == scores[0]):
        raise ValueError(
            f"param_importances() needs scores that vary; all {len(complete)} complete trials of "
            f"study {study.study_name!r} scored {scores[0]!r}."
        )
    target = study
    if len(complete) < len(trials):
        logger.debug("Importances leave out %d voided trials.", len(trials) - len(complete))
        target = _in_memory_copy(complete, direction)
    try:
        raw = optuna.importance.get_param_importances(target, evaluator=FanovaImportanceEvaluator(seed=seed))
    except RuntimeError as exc:  # fANOVA: "Encountered zero total variance in all trees."
        raise ValueError(
            f"param_importances(): no parameter explains any variance of the scores of study "
            f"{study.study_name!r} ({exc})."
        ) from exc
    if not raw:
        raise ValueError(
            f"param_importances() found no parameter present, with one distribution, in every complete "
            f"trial of study {study.study_name!r}."
        )
    return dict(sorted(((k, float(v)) for k, v in raw.items()), key=lambda kv: (-kv[1], kv[0])))


def _in_memory_copy(trials: Sequence[FrozenTrial], direction: StudyDirection) -> optuna.Study:
    # InMemoryStorage logs "A new study created in memory with name: ..." at INFO; this private,
    # throw-away study is no news to the user, so that one line (matched by its unique name) is dropped.
    name = f"autoopt-importances-{uuid.uuid4().hex}"
    quiet = _DropMessage(f"A new study created in memory with name: {name}")
    source = logging.getLogger("optuna.storages._in_memory")
    source.addFilter(quiet)
    try:
        storage = InMemoryStorage()
        storage.create_new_study([direction], study_name=name)
    finally:
        source.removeFilter(quiet)
    study = optuna.Study(study_name=name, storage=storage)
    study.add_trials(trials)
    return study


class _DropMessage(logging.Filter):
    def __init__(self, message: str) -> None:
        super().__init__()
        self._message = message

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != self._message
