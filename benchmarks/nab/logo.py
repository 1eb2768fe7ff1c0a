"""Leave-one-group-out (LOGO) NAB scores: thresholds chosen on the other groups, never on the scored one.

NAB optimises one threshold per detector and profile over the whole corpus, so its score is in-sample. Here,
for each group of the corpus (its folder: realAWSCloudwatch, realTraffic, ...), the threshold is the one that
maximises the normalised score of the *other* groups, and the group is scored at it. Then:

- **overall**: the held-out file scores of every fold summed, normalised over all of the corpus' windows
  (``100 (S - S_null) / (S_perfect - S_null)``, ``S_perfect = tp * windows``, ``S_null = -fn * windows``);
- **per group**: the same normalisation over the group's own windows. A group without windows
  (artificialNoAnomaly) has no normalised score: its false positives per file are reported instead (rows at
  or above the fold's threshold, after the probationary period).

Used by ``python -m benchmarks.nab.run --logo``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.nab.scoring import OUTSIDE, CostProfile, NabFile, row_worths, threshold_curve

__all__ = ["GroupResult", "LogoResult", "group_of", "logo", "logo_all"]


def group_of(file: NabFile) -> str:
    """A file's group: the folder of its name (``realTraffic/speed_6005.csv`` -> ``realTraffic``)."""
    return file.name.split("/")[0]


@dataclass(frozen=True)
class GroupResult:
    """One held-out group: the threshold its fold chose, its normalised score and its false positives."""

    threshold: float
    windows: int
    normalized: float | None
    false_positives_per_file: float


@dataclass(frozen=True)
class LogoResult:
    """LOGO scores of one detector under one profile."""

    overall: float
    groups: dict[str, GroupResult]

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall,
            "groups": {
                g: {
                    "threshold": r.threshold,
                    "windows": r.windows,
                    "normalized": r.normalized,
                    "false_positives_per_file": r.false_positives_per_file,
                }
                for g, r in self.groups.items()
            },
        }


def _normalized(score: float, windows: int, profile: CostProfile) -> float:
    perfect, null = profile.tp * windows, -profile.fn * windows
    return 100.0 * (score - null) / (perfect - null)


def logo(
    corpus: Sequence[NabFile],
    scores: Sequence[npt.NDArray[np.float64]],
    profile: CostProfile,
    probation_percent: float | None = None,
) -> LogoResult:
    """Leave-one-group-out NAB score of one detector's per-file ``scores`` under ``profile``."""
    kw: dict[str, Any] = {} if probation_percent is None else {"probation_percent": probation_percent}
    groups = np.array([group_of(f) for f in corpus])
    windows = [f.windows for f in corpus]
    held_out = np.zeros(len(corpus))
    results: dict[str, GroupResult] = {}
    for g in dict.fromkeys(groups.tolist()):  # in corpus order
        train = np.flatnonzero(groups != g).tolist()
        test = np.flatnonzero(groups == g).tolist()
        threshold, _ = threshold_curve(
            [scores[i] for i in train], [windows[i] for i in train], profile, **kw
        ).best()
        curve = threshold_curve([scores[i] for i in test], [windows[i] for i in test], profile, **kw)
        held_out[test] = curve.file_scores_at(threshold)
        fp = []
        for i in test:
            _, window_of_row = row_worths(len(scores[i]), windows[i], profile, **kw)
            fp.append(int(np.count_nonzero((window_of_row == OUTSIDE) & (scores[i] >= threshold))))
        n_windows = int(sum(len(windows[i]) for i in test))
        results[g] = GroupResult(
            threshold=float(threshold),
            windows=n_windows,
            normalized=_normalized(float(held_out[test].sum()), n_windows, profile) if n_windows else None,
            false_positives_per_file=float(np.mean(fp)),
        )
    total = int(sum(len(w) for w in windows))
    return LogoResult(overall=_normalized(float(held_out.sum()), total, profile), groups=results)


def logo_all(
    corpus: Sequence[NabFile], scores: Sequence[npt.NDArray[np.float64]], profiles: Mapping[str, CostProfile]
) -> dict[str, LogoResult]:
    """:func:`logo` under every profile."""
    return {name: logo(corpus, scores, profile) for name, profile in profiles.items()}
