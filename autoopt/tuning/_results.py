"""Tuning results for notebooks: a table of trials, parameter importances, plots.

:func:`trials_frame` turns an Optuna study into a :class:`pandas.DataFrame`
with one row per trial, :func:`param_importances` ranks the parameters by
fANOVA, and :func:`plot_optimization_history` and
:func:`plot_parallel_coordinates` draw that table with matplotlib.

Bookkeeping trials that :class:`~autoopt.tuning.SelfTuner` voids (their
system attributes hold the key ``"autoopt:void"``) are left out everywhere.

This module imports Optuna and pandas; matplotlib is imported by the plot
functions only, and :mod:`autoopt.tuning` loads this module lazily.
"""

from __future__ import annotations

import contextlib
import logging
import math
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.importance import FanovaImportanceEvaluator
from optuna.storages import InMemoryStorage
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from autoopt._validation import check_int, check_str
from autoopt.tuning._storage import VOID_KEY

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "VOID_ATTR",
    "param_importances",
    "plot_optimization_history",
    "plot_parallel_coordinates",
    "trials_frame",
]

logger = logging.getLogger(__name__)

#: System attribute marking a bookkeeping trial that results leave out.
VOID_ATTR = VOID_KEY
#: User attribute holding a failed trial's message.
_FAILURE_ATTR = "failure"
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
#: A numeric axis is drawn on a log scale when its positive values span more than this ratio.
_LOG_SPAN = 100.0
#: The most category labels written on one parallel-coordinates axis.
_MAX_CATEGORY_LABELS = 12
_PLOT_HINT = 'the autoopt plots need matplotlib; install it with: pip install "autoopt[plot]"'


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
    failure = trial.user_attrs.get(_FAILURE_ATTR)
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


# ------------------------------------------------------------------- plots


def plot_optimization_history(frame: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Plot each trial's score and the best score so far.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table from :func:`trials_frame` (the columns ``number``, ``state``,
        ``score``, ``last_intermediate`` and ``best_score`` are used).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (through :mod:`matplotlib.pyplot`) by
        default.

    Returns
    -------
    matplotlib.axes.Axes
        Complete trials are dots (label ``"complete"``); pruned trials are
        triangles at their last reported value (``"pruned"``); failed trials,
        and pruned ones that reported nothing, are marks along the bottom
        edge (``"failed"``, ``"pruned (no report)"``); the best score so far
        is a step line (``"best so far"``). Artists are added only for
        non-empty groups; running and waiting trials are not drawn.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    TypeError, ValueError
        If ``frame`` is not a DataFrame with those columns.

    Examples
    --------
    >>> import optuna
    >>> from matplotlib.figure import Figure
    >>> from optuna.distributions import FloatDistribution
    >>> from optuna.trial import create_trial
    >>> study = optuna.create_study(direction="maximize")
    >>> for v in (0.3, 0.1, 0.7):
    ...     study.add_trial(create_trial(value=v, params={"x": v},
    ...                                  distributions={"x": FloatDistribution(0.0, 1.0)}))
    >>> ax = plot_optimization_history(trials_frame(study, ["x"]), ax=Figure().add_subplot())
    >>> [line.get_label() for line in ax.get_lines()]
    ['best so far']
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('trial number', 'score')
    """
    _check_frame(
        frame, ("number", "state", "score", "last_intermediate", "best_score"), "plot_optimization_history()"
    )
    ax = _axes(ax, "plot_optimization_history()", figsize=(7.0, 4.5))
    from matplotlib.transforms import blended_transform_factory

    number = frame["number"].to_numpy(dtype=np.float64)
    state = frame["state"].to_numpy(dtype=object)
    score = frame["score"].to_numpy(dtype=np.float64)
    last = frame["last_intermediate"].to_numpy(dtype=np.float64)
    best = frame["best_score"].to_numpy(dtype=np.float64)

    done = state == "complete"
    pruned = state == "pruned"
    reported = pruned & np.isfinite(last)
    failed = state == "failed"
    silent = pruned & ~reported
    if done.any():
        ax.scatter(number[done], score[done], s=18, color="C0", label="complete", zorder=3)
    if reported.any():
        ax.scatter(
            number[reported],
            last[reported],
            s=22,
            marker="v",
            facecolors="none",
            edgecolors="C1",
            label="pruned",
            zorder=2,
        )
    # Trials without a value: a rug along the bottom edge (x in data, y in axes coordinates).
    rug = blended_transform_factory(ax.transData, ax.transAxes)
    if failed.any():
        ax.scatter(
            number[failed],
            np.full(int(failed.sum()), 0.02),
            transform=rug,
            s=22,
            marker="x",
            color="C3",
            label="failed",
            zorder=2,
            clip_on=False,
        )
    if silent.any():
        ax.scatter(
            number[silent],
            np.full(int(silent.sum()), 0.02),
            transform=rug,
            s=22,
            marker="v",
            facecolors="none",
            edgecolors="C1",
            label="pruned (no report)",
            zorder=2,
            clip_on=False,
        )
    if np.isfinite(best).any():
        ax.step(number, best, where="post", color="C2", linewidth=1.5, label="best so far", zorder=4)
    ax.set_xlabel("trial number")
    ax.set_ylabel("score")
    ax.set_title("Optimization history")
    if done.any() or pruned.any() or failed.any():
        ax.legend(loc="best", fontsize="small")
    return ax


def plot_parallel_coordinates(
    frame: pd.DataFrame,
    ax: Axes | None = None,
    params: Sequence[str] | None = None,
    top: int | None = None,
) -> Axes:
    """Plot each complete trial as a polyline over the parameters, coloured by score.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table from :func:`trials_frame`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (through :mod:`matplotlib.pyplot`) by
        default. A colorbar is added beside it.
    params : sequence of str, optional
        Parameter names (without the ``params_`` prefix), one vertical axis
        each, in order; by default every ``params_*`` column.
    top : int, optional
        Draw only the ``top`` best complete trials.

    Returns
    -------
    matplotlib.axes.Axes
        The trials are its last collection, labelled ``"trials"``: a
        :class:`~matplotlib.collections.LineCollection` with one polyline per
        trial, the best drawn last (a scatter when there is a single
        parameter), coloured by score with a colorbar labelled ``"score"``.
        The vertical axes are the collection before it.

    Notes
    -----
    Each axis is scaled to [0, 1] over the drawn trials. A numeric axis whose
    values are all positive and that was searched on a log scale
    (``frame.attrs["log_params"]``) or spans more than two decades is log-scaled
    (``"(log)"`` in its label); a categorical one (object dtype) places the
    categories evenly, sorted when they can be, labelled by name. Integer
    and float axes are labelled with their minimum and maximum. A trial that
    lacks a parameter has a gap in its line. "Best" follows
    ``frame.attrs["direction"]`` or, without it, the ``best_score`` column.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    TypeError, ValueError
        If ``frame`` is not such a table, it has no complete trial, or
        ``params`` or ``top`` is invalid.

    Examples
    --------
    >>> import optuna
    >>> from matplotlib.figure import Figure
    >>> from optuna.distributions import CategoricalDistribution, FloatDistribution
    >>> from optuna.trial import create_trial
    >>> study = optuna.create_study(direction="maximize")
    >>> dist = {"lr": FloatDistribution(1e-5, 1.0, log=True), "kind": CategoricalDistribution(["a", "b"])}
    >>> for i in range(6):
    ...     study.add_trial(create_trial(value=float(i), params={"lr": 10.0 ** -i, "kind": "ab"[i % 2]},
    ...                                  distributions=dist))
    >>> ax = plot_parallel_coordinates(trials_frame(study, ["lr", "kind"]), ax=Figure().add_subplot())
    >>> len(ax.collections[-1].get_segments())
    6
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['lr (log)', 'kind']
    """
    _check_frame(frame, ("state", "score", "best_score"), "plot_parallel_coordinates()")
    label = "plot_parallel_coordinates() argument"
    available = [c[len(PARAM_PREFIX) :] for c in frame.columns if str(c).startswith(PARAM_PREFIX)]
    if params is None:
        names = available
    else:
        names = _check_names(params, f"{label} 'params'")
        unknown = [p for p in names if p not in available]
        if unknown:
            raise ValueError(
                f"{label} 'params' names unknown parameters {unknown}; the frame has {available}."
            )
    if not names:
        raise ValueError(
            f"plot_parallel_coordinates() needs at least one parameter; the frame has {available}."
        )
    if top is not None:
        top = check_int(top, f"{label} 'top'", low=1)

    score_all = frame["score"].to_numpy(dtype=np.float64)
    rows = np.flatnonzero((frame["state"].to_numpy(dtype=object) == "complete") & ~np.isnan(score_all))
    if rows.size == 0:
        raise ValueError("plot_parallel_coordinates() needs at least one complete trial; the frame has none.")
    maximize = _frame_maximizes(frame)
    score = score_all[rows]
    # Worst first, so the best trials are drawn on top; stable, so ties keep trial order.
    order = np.argsort(score if maximize else -score, kind="stable")
    if top is not None:
        order = order[-top:]
    rows, score = rows[order], score[order]

    ax = _axes(ax, "plot_parallel_coordinates()", figsize=(max(6.0, 1.6 * len(names) + 2.0), 4.5))
    from matplotlib.collections import LineCollection

    ys = np.empty((rows.size, len(names)))
    ticks: list[tuple[float, list[tuple[float, str]]]] = []
    axis_labels = []
    for j, name in enumerate(names):
        column = frame[PARAM_PREFIX + name]
        ys[:, j], marks, log = _normalise(column, rows, name in frame.attrs.get("log_params", ()))
        ticks.append((float(j), marks))
        axis_labels.append(f"{name} (log)" if log else name)

    cmap = "viridis" if maximize else "viridis_r"
    xs = np.arange(len(names), dtype=np.float64)
    ax.vlines(xs, 0.0, 1.0, colors="0.3", linewidth=0.8, zorder=1)
    if len(names) == 1:
        mappable: Any = ax.scatter(
            np.zeros(rows.size), ys[:, 0], c=score, cmap=cmap, s=20, zorder=2, label="trials"
        )
    else:
        segments = np.stack([np.broadcast_to(xs, ys.shape), ys], axis=-1)  # (trials, axes, 2)
        mappable = LineCollection(
            list(segments), cmap=cmap, linewidths=1.0, alpha=0.8, zorder=2, label="trials"
        )
        mappable.set_array(score)
        ax.add_collection(mappable)
    for x, marks in ticks:
        for y, text in marks:
            ax.text(x + 0.04, y, text, fontsize="x-small", va="center", ha="left", clip_on=False)
    ax.set_xlim(-0.25, len(names) - 0.5)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xticks(xs, labels=axis_labels)
    ax.set_yticks([])
    ax.set_title("Parallel coordinates")
    ax.figure.colorbar(mappable, ax=ax, label="score")
    return ax


def _normalise(
    column: pd.Series, rows: np.ndarray, searched_log: bool = False
) -> tuple[np.ndarray, list[tuple[float, str]], bool]:
    """Values of ``column`` at ``rows`` mapped to [0, 1], tick marks, and whether log-scaled.

    Log-scaled when the parameter was searched on a log scale, or when its
    positive values span more than ``_LOG_SPAN``.
    """
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        raw = column.to_numpy(dtype=np.float64)[rows]
        finite = raw[np.isfinite(raw)]
        if finite.size == 0:
            return np.full(rows.size, np.nan), [], False
        lo, hi = float(finite.min()), float(finite.max())
        log = lo > 0.0 and (searched_log or hi / lo > _LOG_SPAN)
        t = np.log10(raw, where=raw > 0, out=np.full(rows.size, np.nan)) if log else raw
        t_lo, t_hi = (math.log10(lo), math.log10(hi)) if log else (lo, hi)
        if t_hi > t_lo:
            y = (t - t_lo) / (t_hi - t_lo)
            return y, [(0.0, f"{lo:.3g}"), (1.0, f"{hi:.3g}")], log
        return np.where(np.isnan(t), np.nan, 0.5), [(0.5, f"{lo:.3g}")], log
    # Categorical: codes over the categories of the whole column, so ``top`` does not move them.
    values = column.to_numpy(dtype=object)
    categories: dict[Any, int] = {}
    for v in values:
        if not _is_missing(v) and v not in categories:
            categories[v] = len(categories)
    keys = list(categories)
    with contextlib.suppress(TypeError):  # mixed types keep the order of first appearance
        keys = sorted(keys)
    code = {k: i for i, k in enumerate(keys)}
    span = max(len(keys) - 1, 1)
    y = np.array([np.nan if _is_missing(v) else code[v] / span for v in values[rows]], dtype=np.float64)
    if len(keys) == 1:
        y[~np.isnan(y)] = 0.5
        return y, [(0.5, str(keys[0]))], False
    stride = max(1, math.ceil(len(keys) / _MAX_CATEGORY_LABELS))
    return y, [(i / span, str(k)) for i, k in enumerate(keys) if i % stride == 0 or i == len(keys) - 1], False


def _is_missing(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _frame_maximizes(frame: pd.DataFrame) -> bool:
    direction = frame.attrs.get("direction")
    if direction in ("maximize", "minimize"):
        return bool(direction == "maximize")
    score = frame["score"].to_numpy(dtype=np.float64)
    best = frame["best_score"].to_numpy(dtype=np.float64)
    finite = best[np.isfinite(best)]
    if finite.size == 0 or np.all(np.isnan(score)):
        return True
    return bool(finite[-1] >= np.nanmax(score))


def _check_frame(frame: Any, required: Sequence[str], caller: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"{caller} argument 'frame' must be a pandas.DataFrame from trials_frame(); "
            f"got {type(frame).__name__}."
        )
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{caller} argument 'frame' lacks the columns {missing}; pass a table from trials_frame()."
        )


def _axes(ax: Axes | None, caller: str, *, figsize: tuple[float, float]) -> Axes:
    try:
        from matplotlib.axes import Axes as AxesType
    except ImportError as exc:
        raise ImportError(f"{caller}: {_PLOT_HINT}") from exc
    if ax is None:
        import matplotlib.pyplot as plt

        return plt.subplots(figsize=figsize)[1]
    if not isinstance(ax, AxesType):
        raise TypeError(
            f"{caller} argument 'ax' must be a matplotlib Axes or None; got {ax!r} of type {type(ax).__name__}."
        )
    return ax
