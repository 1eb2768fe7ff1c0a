"""NAB v1.1 scoring, reimplemented with NumPy from NAB's rules (``nab/sweeper.py``, ``nab/runner.py``).

The rules
---------
A detector emits an anomaly score in [0, 1] per row; a row is a detection when its score is
``>= threshold``. For a file of ``L`` rows:

- **Windows.** The labelled anomaly windows ``[start, end]`` (timestamps, from
  ``labels/combined_windows.json``) are mapped to row indices ``[l, r]`` by exact timestamp match,
  both ends inclusive, width ``W = r - l + 1``.
- **Probation.** The first ``min(floor(0.15 L), 0.15 * 5000)`` rows are not scored at all (they
  are neither true nor false positives). A window counts when at least one of its rows is scored.
- **Inside a window** a row ``i`` is worth ``tp * s(-(r - i + 1) / W) / s(-1)`` with the scaled
  sigmoid ``s(x) = 2 / (1 + exp(5 x)) - 1`` (and ``s(x) = -1`` for ``x >= 3``, as NAB clamps it).
  The window scores the largest worth among its detected rows, which is the worth of its earliest
  detection (the worth falls along the window), or ``-fn`` when it has none.
- **Outside windows** a detection on row ``i`` scores ``fp * s(|r' - i| / (W' - 1))`` against the
  most recent window ``(r', W')`` that ended before it, and ``-fp`` before the first window.
  (NAB divides by zero for a one-row window; here that position is infinite, a ``-fp``.)
- **Threshold.** One threshold per detector and profile for the whole corpus: the corpus score is
  evaluated at every distinct scored anomaly score (and at 1.1, no detection at all) and the best
  wins; on ties the highest threshold, as NAB's stable sort does.
- **Normalisation.** ``100 * (S - S_null) / (S_perfect - S_null)`` with ``S_perfect = tp * (number
  of labelled windows)`` and ``S_null`` the score of NAB's null detector (a constant 0.5, through
  the same threshold optimisation), which is ``-fn * (number of scored windows)``.

Vectorised sweep
----------------
The corpus score as a function of the threshold ``t`` is a constant plus a sum of *events*
``(value, delta)`` with ``value >= t``:

- a false-positive row is one event ``(score, worth)``;
- a window with scored rows ``j`` (in time order) and running maximum of their anomaly scores has
  one event per *record* row (a row whose score beats every earlier row of the window): for
  thresholds in ``(previous record, record]`` the earliest detection is that row, so the window's
  contribution is a telescoping sum ``-fn + sum_k [t <= v_k] (w_k - w_{k+1})`` with
  ``w_{m+1} = -fn``.

Sorting all events once by value and taking a cumulative sum gives the score at every candidate
threshold in ``O(N log N)`` for ``N`` rows of the corpus, instead of a pass over the rows per
threshold.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "DEFAULT_PROFILES",
    "NO_DETECTION_THRESHOLD",
    "PROBATION_PERCENT",
    "CostProfile",
    "NabFile",
    "ProfileResult",
    "ThresholdCurve",
    "load_corpus",
    "load_profiles",
    "load_reference_scores",
    "normalized_score",
    "probationary_length",
    "row_worths",
    "scaled_sigmoid",
    "score_corpus",
    "score_detector",
    "threshold_curve",
    "window_rows",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

PROBATION_PERCENT = 0.15
"""NAB's probationary fraction: ``min(floor(0.15 L), 0.15 * 5000)`` rows are not scored."""

NO_DETECTION_THRESHOLD = 1.1
"""NAB's first threshold, above every score: nothing is detected."""

OUTSIDE = -1
"""``window_of_row`` value of a scored row outside every window."""

PROBATION = -2
"""``window_of_row`` value of a row in the probationary period."""


@dataclass(frozen=True)
class CostProfile:
    """A NAB application profile: the weights of true positives, false positives and false negatives."""

    name: str
    tp: float
    fp: float
    fn: float

    def __post_init__(self) -> None:
        for attr in ("tp", "fp", "fn"):
            value = getattr(self, attr)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise TypeError(f"CostProfile() argument {attr!r} must be a real number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"CostProfile() argument {attr!r} must be finite and >= 0, got {value!r}")


DEFAULT_PROFILES: dict[str, CostProfile] = {
    "standard": CostProfile("standard", tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": CostProfile("reward_low_FP_rate", tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": CostProfile("reward_low_FN_rate", tp=1.0, fp=0.11, fn=2.0),
}
"""NAB v1.1's ``config/profiles.json``."""


def load_profiles(path: str | Path) -> dict[str, CostProfile]:
    """Read NAB's ``config/profiles.json`` (``{name: {"CostMatrix": {"tpWeight": ..., ...}}}``)."""
    with open(path) as f:
        raw = json.load(f)
    profiles = {}
    for name, body in raw.items():
        cost = body["CostMatrix"]
        profiles[name] = CostProfile(
            name, tp=float(cost["tpWeight"]), fp=float(cost["fpWeight"]), fn=float(cost["fnWeight"])
        )
    return profiles


def scaled_sigmoid(x: npt.ArrayLike) -> FloatArray:
    """NAB's ``scaledSigmoid``: ``2 / (1 + exp(5 x)) - 1``, and exactly ``-1`` for ``x >= 3``."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):
        out = 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0
    return np.where(x >= 3.0, -1.0, out)


def probationary_length(n_rows: int, probation_percent: float = PROBATION_PERCENT) -> int:
    """Rows at the start of a file that are not scored: ``min(floor(p L), p * 5000)``, rounded up.

    NAB compares ``i >= min(floor(p L), p * 5000)``; the row count returned is the number of
    indices ``i`` failing that test.
    """
    return math.ceil(min(math.floor(probation_percent * n_rows), probation_percent * 5000))


def window_rows(timestamps: pd.DatetimeIndex | npt.ArrayLike, windows: Sequence[Sequence[Any]]) -> IntArray:
    """Map windows ``[[start, end], ...]`` (timestamps) to inclusive row indices, shape ``(k, 2)``.

    Both ends must be timestamps of the file (NAB looks them up with ``list.index``).
    """
    index = pd.DatetimeIndex(pd.to_datetime(np.asarray(timestamps)))
    positions = {ts: i for i, ts in enumerate(index)}
    rows = np.empty((len(windows), 2), dtype=np.int64)
    for k, window in enumerate(windows):
        if len(window) != 2:
            raise ValueError(
                f"window_rows() argument 'windows' item {k} must be [start, end], got {window!r}"
            )
        for side in range(2):
            ts = pd.Timestamp(window[side])
            if ts not in positions:
                raise ValueError(
                    f"window_rows(): window {k} boundary {window[side]!r} is not a timestamp of the file"
                )
            rows[k, side] = positions[ts]
    _check_windows(rows, len(index))
    return rows


def _check_windows(windows: IntArray, n_rows: int) -> None:
    if windows.ndim != 2 or windows.shape[1] != 2:
        raise ValueError(f"windows must have shape (k, 2), got {windows.shape}")
    if len(windows) == 0:
        return
    if windows.min() < 0 or windows.max() >= n_rows:
        raise ValueError(f"windows must lie in rows [0, {n_rows - 1}], got {windows.tolist()}")
    if np.any(windows[:, 1] < windows[:, 0]):
        raise ValueError(f"every window needs start <= end, got {windows.tolist()}")
    if np.any(windows[1:, 0] <= windows[:-1, 1]):
        raise ValueError(f"windows must be sorted and disjoint, got {windows.tolist()}")


def row_worths(
    n_rows: int,
    windows: npt.ArrayLike,
    profile: CostProfile,
    probation_percent: float = PROBATION_PERCENT,
) -> tuple[FloatArray, IntArray]:
    """NAB's ``calcSweepScore``: the weighted worth of a detection on every row, and its window.

    Returns ``(worth, window_of_row)``: ``window_of_row[i]`` is the window index of row ``i``,
    :data:`OUTSIDE` (-1) for a scored row outside windows and :data:`PROBATION` (-2) for a row of the
    probationary period (whose worth is computed but never counted).
    """
    win = np.asarray(windows, dtype=np.int64).reshape(-1, 2)
    _check_windows(win, n_rows)
    rows = np.arange(n_rows, dtype=np.int64)
    window_of_row = np.full(n_rows, OUTSIDE, dtype=np.int64)
    worth = np.empty(n_rows, dtype=np.float64)
    if len(win):
        # the last window starting at or before each row
        k = np.searchsorted(win[:, 0], rows, side="right") - 1
        inside = (k >= 0) & (rows <= win[np.maximum(k, 0), 1])
        window_of_row[inside] = k[inside]
        left, right = win[k[inside], 0], win[k[inside], 1]
        width = (right - left + 1).astype(np.float64)
        max_tp = scaled_sigmoid(-1.0)
        worth[inside] = scaled_sigmoid(-(right - rows[inside] + 1) / width) * profile.tp / max_tp
        # outside: the most recent window that ended before the row
        prev = np.searchsorted(win[:, 1], rows, side="left") - 1
        out = ~inside
        has_prev = out & (prev >= 0)
        r_prev = win[prev[has_prev], 1]
        w_prev = (r_prev - win[prev[has_prev], 0] + 1).astype(np.float64)
        with np.errstate(divide="ignore"):
            position = np.abs(r_prev - rows[has_prev]) / (w_prev - 1.0)
        worth[has_prev] = scaled_sigmoid(position) * profile.fp
        worth[out & (prev < 0)] = -profile.fp
    else:
        worth[:] = -profile.fp
    window_of_row[: probationary_length(n_rows, probation_percent)] = PROBATION
    return worth, window_of_row


@dataclass(frozen=True)
class ThresholdCurve:
    """A score as a step function of the threshold: ``base + sum(deltas[values >= t])``.

    ``values``/``deltas`` are the events described in the module docstring, ``file_index`` the file
    each event belongs to; ``base`` is ``-fn`` times the number of scored windows, per file.
    """

    values: FloatArray
    deltas: FloatArray
    file_index: IntArray
    base: FloatArray
    window_max: FloatArray = field(repr=False)
    """Per scored window, the largest anomaly score among its scored rows (for counting detections)."""
    fp_scores: FloatArray = field(repr=False)
    """The anomaly scores of the scored rows outside windows (for counting false positives)."""

    def score_at(self, threshold: float) -> float:
        """The total score with detections ``>= threshold``."""
        return float(self.base.sum() + self.deltas[self.values >= threshold].sum())

    def file_scores_at(self, threshold: float) -> FloatArray:
        """The score of every file with detections ``>= threshold``."""
        mask = self.values >= threshold
        return self.base + np.bincount(
            self.file_index[mask], weights=self.deltas[mask], minlength=len(self.base)
        )

    def sweep(self) -> tuple[FloatArray, FloatArray]:
        """Every candidate threshold, descending (1.1 first, then the distinct event values), and its score.

        The event values include every distinct scored anomaly score at which the score can change.
        """
        order = np.argsort(-self.values, kind="stable")
        v = self.values[order]
        csum = np.cumsum(self.deltas[order])
        # last index of each run of equal values (v is descending)
        ends = np.flatnonzero(np.append(v[1:] != v[:-1], True)) if len(v) else np.empty(0, dtype=np.int64)
        thresholds = np.concatenate(([NO_DETECTION_THRESHOLD], v[ends]))
        scores = float(self.base.sum()) + np.concatenate(([0.0], csum[ends]))
        return thresholds, scores

    def best(self) -> tuple[float, float]:
        """The optimal threshold and its score; on ties, the highest threshold (NAB's stable sort)."""
        thresholds, scores = self.sweep()
        i = int(np.argmax(scores))
        return float(thresholds[i]), float(scores[i])


def threshold_curve(
    anomaly_scores: Sequence[npt.ArrayLike],
    windows: Sequence[npt.ArrayLike],
    profile: CostProfile,
    probation_percent: float = PROBATION_PERCENT,
) -> ThresholdCurve:
    """The corpus score as a function of the threshold, for one profile (see the module docstring).

    Parameters
    ----------
    anomaly_scores
        One array of per-row anomaly scores per file.
    windows
        One ``(k, 2)`` array of inclusive window rows per file (see :func:`window_rows`).
    """
    if len(anomaly_scores) != len(windows):
        raise ValueError(
            f"threshold_curve(): {len(anomaly_scores)} score arrays but {len(windows)} window arrays"
        )
    values: list[FloatArray] = []
    deltas: list[FloatArray] = []
    files: list[IntArray] = []
    window_max: list[float] = []
    fp_scores: list[FloatArray] = []
    base = np.zeros(len(anomaly_scores), dtype=np.float64)
    n_events = 0
    for f, (raw, win) in enumerate(zip(anomaly_scores, windows, strict=True)):
        a = np.asarray(raw, dtype=np.float64)
        if a.ndim != 1:
            raise ValueError(f"threshold_curve(): file {f} scores must be 1-D, got shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"threshold_curve(): file {f} scores contain NaN or infinity")
        worth, window_of_row = row_worths(len(a), win, profile, probation_percent)
        out = window_of_row == OUTSIDE
        values.append(a[out])
        deltas.append(worth[out])
        fp_scores.append(a[out])
        # windows: one event per record row of the running maximum, telescoping worths
        scored = window_of_row >= 0
        idx = np.flatnonzero(scored)
        if len(idx):
            wid = window_of_row[idx]
            starts = np.flatnonzero(np.append(True, wid[1:] != wid[:-1]))
            for s, e in zip(starts, np.append(starts[1:], len(idx)), strict=True):
                rows = idx[s:e]
                seg = a[rows]
                run_max = np.maximum.accumulate(seg)
                record = np.append(True, seg[1:] > run_max[:-1])
                rec_rows = rows[record]
                w = worth[rec_rows]
                nxt = np.append(w[1:], -profile.fn)
                values.append(seg[record])
                deltas.append(w - nxt)
                window_max.append(float(run_max[-1]))
            base[f] = -profile.fn * len(starts)
        total = sum(len(v) for v in values)
        files.append(np.full(total - n_events, f, dtype=np.int64))
        n_events = total
    return ThresholdCurve(
        values=np.concatenate(values) if values else np.empty(0),
        deltas=np.concatenate(deltas) if deltas else np.empty(0),
        file_index=np.concatenate(files) if files else np.empty(0, dtype=np.int64),
        base=base,
        window_max=np.asarray(window_max, dtype=np.float64),
        fp_scores=np.concatenate(fp_scores) if fp_scores else np.empty(0),
    )


def normalized_score(score: float, null_score: float, perfect_score: float) -> float:
    """NAB's normalisation: ``100 (S - S_null) / (S_perfect - S_null)``."""
    return 100.0 * (score - null_score) / (perfect_score - null_score)


@dataclass(frozen=True)
class ProfileResult:
    """A detector's NAB result under one profile."""

    profile: str
    threshold: float
    score: float
    null_score: float
    perfect_score: float
    normalized: float
    windows: int
    windows_detected: int
    false_positives: int
    file_scores: dict[str, float]


def score_corpus(
    anomaly_scores: Sequence[npt.ArrayLike],
    windows: Sequence[npt.ArrayLike],
    profile: CostProfile,
    *,
    names: Sequence[str] | None = None,
    n_labelled_windows: int | None = None,
    probation_percent: float = PROBATION_PERCENT,
) -> ProfileResult:
    """Optimise the threshold over the corpus for one profile, and normalise the score.

    ``n_labelled_windows`` (default: every window given) sets ``S_perfect = tp * n``, NAB's count of
    the windows in the label file. ``S_null`` is the optimised score of NAB's null detector, a
    constant 0.5 on every row.
    """
    curve = threshold_curve(anomaly_scores, windows, profile, probation_percent)
    threshold, score = curve.best()
    null_curve = threshold_curve(
        [np.full(len(np.asarray(a)), 0.5) for a in anomaly_scores], windows, profile, probation_percent
    )
    _, null_score = null_curve.best()
    n_windows = (
        sum(len(np.asarray(w).reshape(-1, 2)) for w in windows)
        if n_labelled_windows is None
        else n_labelled_windows
    )
    perfect = profile.tp * n_windows
    names = [str(i) for i in range(len(anomaly_scores))] if names is None else list(names)
    per_file = curve.file_scores_at(threshold)
    return ProfileResult(
        profile=profile.name,
        threshold=threshold,
        score=score,
        null_score=null_score,
        perfect_score=perfect,
        normalized=normalized_score(score, null_score, perfect),
        windows=len(curve.window_max),
        windows_detected=int(np.count_nonzero(curve.window_max >= threshold)),
        false_positives=int(np.count_nonzero(curve.fp_scores >= threshold)),
        file_scores={n: float(s) for n, s in zip(names, per_file, strict=True)},
    )


@dataclass(frozen=True)
class NabFile:
    """One file of the corpus: ``name`` is ``<group>/<file>.csv``; ``windows`` are inclusive rows."""

    name: str
    timestamps: pd.DatetimeIndex
    values: FloatArray
    windows: IntArray


def load_corpus(nab_dir: str | Path) -> list[NabFile]:
    """Read ``data/<group>/<file>.csv`` and ``labels/combined_windows.json`` of a NAB folder."""
    root = Path(nab_dir)
    with open(root / "labels" / "combined_windows.json") as f:
        labels: dict[str, list[list[str]]] = json.load(f)
    corpus = []
    for name in sorted(labels):
        frame = pd.read_csv(root / "data" / name)
        timestamps = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"]))
        corpus.append(
            NabFile(
                name=name,
                timestamps=timestamps,
                values=frame["value"].to_numpy(dtype=np.float64),
                windows=window_rows(timestamps, labels[name]),
            )
        )
    logger.debug("loaded %d NAB files from %s", len(corpus), root)
    return corpus


def load_reference_scores(nab_dir: str | Path, detector: str, corpus: Sequence[NabFile]) -> list[FloatArray]:
    """Read ``reference_scores/<detector>/<group>/<file>.csv`` (one ``anomaly_score`` column)."""
    root = Path(nab_dir) / "reference_scores" / detector
    out = []
    for item in corpus:
        scores = pd.read_csv(root / item.name)["anomaly_score"].to_numpy(dtype=np.float64)
        if len(scores) != len(item.values):
            raise ValueError(f"{detector}/{item.name}: {len(scores)} scores for {len(item.values)} rows")
        out.append(scores)
    return out


def score_detector(
    corpus: Sequence[NabFile],
    anomaly_scores: Sequence[npt.ArrayLike],
    profiles: Mapping[str, CostProfile] | None = None,
    probation_percent: float = PROBATION_PERCENT,
) -> dict[str, ProfileResult]:
    """Score one detector's per-row anomaly scores on a corpus under every profile."""
    if len(corpus) != len(anomaly_scores):
        raise ValueError(f"score_detector(): {len(anomaly_scores)} score arrays for {len(corpus)} files")
    profiles = DEFAULT_PROFILES if profiles is None else profiles
    return {
        name: score_corpus(
            anomaly_scores,
            [f.windows for f in corpus],
            profile,
            names=[f.name for f in corpus],
            probation_percent=probation_percent,
        )
        for name, profile in profiles.items()
    }
