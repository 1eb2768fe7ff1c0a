"""Plots of a tuning session's trials table: the optimisation history and parallel coordinates.

Both take the table of :func:`~autoopt.tuning.trials_frame` (or
``session.trials_dataframe()``) and draw it with matplotlib, which is
imported by the plot functions only (``pip install "autoopt[plot]"``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from autoopt._validation import check_int
from autoopt.tuning._results import PARAM_PREFIX, _check_names

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_optimization_history", "plot_parallel_coordinates"]

#: A numeric axis is drawn on a log scale when its positive values span more than this ratio.
_LOG_SPAN = 100.0
#: The most category labels written on one parallel-coordinates axis.
_MAX_CATEGORY_LABELS = 12
_PLOT_HINT = 'the autoopt plots need matplotlib; install it with: pip install "autoopt[plot]"'


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
    >>> from autoopt.tuning import trials_frame
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
    >>> from autoopt.tuning import trials_frame
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
    if max(len(t) for t in axis_labels) > 8:  # long names would run into each other: slant them
        for tick in ax.get_xticklabels():
            tick.set(rotation=25, ha="right", rotation_mode="anchor")
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
