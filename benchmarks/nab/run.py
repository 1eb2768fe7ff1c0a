"""NAB benchmark: score detectors on the shared NAB v1.1 subset under the three profiles.

Detectors (``--detectors``, comma-separated):

- ``numenta``, ``windowedGaussian``: NAB's own published per-row scores
  (``reference_scores/<detector>/``), scored by :mod:`benchmarks.nab.scoring`;
- ``wg``: the reimplemented Windowed Gaussian (:func:`benchmarks.nab.detectors.windowed_gaussian`),
  its scores rounded to 12 significant digits as NAB's result files hold them;
- ``wg-full``: the same at full float precision (the corpus-optimal threshold sits within 1e-12
  of 1, so the rounding changes the result);
- ``module:attr``: any callable ``f(values, timestamps) -> scores`` (a float array and a
  ``pandas.DatetimeIndex`` in, one score in [0, 1] per row out), e.g. an autoopt detector wrapper.

Each detector's threshold is optimised over the whole subset per profile, and the score normalised
with NAB's null and perfect detectors (see :mod:`benchmarks.nab.scoring`). The README of the data
gives the numbers an exact NAB scorer reaches on this subset with the reference scores: Numenta HTM
75.52 / 70.68 / 78.99 and Windowed Gaussian 41.42 / 26.48 / 48.45 (standard / low-FP / low-FN);
they are printed beside the measured ones.

Usage::

    python -m benchmarks.nab.run
    python -m benchmarks.nab.run --detectors numenta,wg --json nab.json
    python -m benchmarks.nab.run --data /path/to/nab --detectors mypkg.mod:score_series
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from benchmarks._shared import find_shared_data
from benchmarks.nab.detectors import windowed_gaussian
from benchmarks.nab.logo import logo_all
from benchmarks.nab.scoring import (
    CostProfile,
    NabFile,
    ProfileResult,
    load_corpus,
    load_profiles,
    load_reference_scores,
    score_detector,
)

__all__ = ["PUBLISHED_SUBSET", "default_data_dir", "format_report", "main", "run", "scores_for"]

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]

PROFILE_ORDER = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")

PUBLISHED_SUBSET: dict[str, tuple[float, float, float]] = {
    "numenta": (75.52, 70.68, 78.99),
    "windowedGaussian": (41.42, 26.48, 48.45),
    "wg": (41.42, 26.48, 48.45),
}
"""The data README's exact-NAB numbers on this subset (standard, low-FP, low-FN), for comparison."""

BUILTIN = ("numenta", "windowedGaussian", "wg", "wg-full")
DEFAULT_DETECTORS = ("numenta", "windowedGaussian", "wg")

Detector = Callable[[npt.NDArray[np.float64], pd.DatetimeIndex], npt.ArrayLike]


def default_data_dir() -> Path:
    """``nab/`` in the shared data folder (see :func:`benchmarks._shared.find_shared_data`)."""
    found = find_shared_data()
    return (found if found is not None else ROOT.parent / "shared" / "data") / "nab"


def _resolve(name: str) -> Detector:
    module_name, _, attr = name.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"detector {name!r} could not be imported: {exc}") from exc
    if not callable(obj):
        raise TypeError(f"detector {name!r} is not callable")
    detector: Detector = obj
    return detector


def scores_for(name: str, nab_dir: Path, corpus: Sequence[NabFile]) -> list[npt.NDArray[np.float64]]:
    """The per-row scores of detector ``name`` (see the module docstring) on every file."""
    if name in ("numenta", "windowedGaussian"):
        return load_reference_scores(nab_dir, name, corpus)
    if name == "wg":
        return [windowed_gaussian(f.values, significant_digits=12) for f in corpus]
    if name == "wg-full":
        return [windowed_gaussian(f.values) for f in corpus]
    if ":" not in name:
        raise ValueError(f"unknown detector {name!r}: use one of {', '.join(BUILTIN)} or module:callable")
    detector = _resolve(name)
    out = []
    for f in corpus:
        s = np.asarray(detector(f.values, f.timestamps), dtype=np.float64)
        if s.shape != f.values.shape:
            raise ValueError(
                f"detector {name!r} returned shape {s.shape} for {f.name} of {len(f.values)} rows"
            )
        out.append(s)
    return out


def run(
    nab_dir: Path,
    detectors: Sequence[str] = DEFAULT_DETECTORS,
    profiles: dict[str, CostProfile] | None = None,
    *,
    with_logo: bool = False,
) -> dict[str, Any]:
    """Score every detector; a JSON-ready dict of the results, timings and the published numbers.

    With ``with_logo``, also the leave-one-group-out scores (:mod:`benchmarks.nab.logo`).
    """
    t0 = time.perf_counter()
    corpus = load_corpus(nab_dir)
    if profiles is None:
        profiles = load_profiles(nab_dir / "config" / "profiles.json")
    load_s = time.perf_counter() - t0
    result: dict[str, Any] = {
        "data": str(nab_dir),
        "files": len(corpus),
        "windows": int(sum(len(f.windows) for f in corpus)),
        "rows": int(sum(len(f.values) for f in corpus)),
        "load_seconds": load_s,
        "detectors": {},
    }
    for name in detectors:
        t1 = time.perf_counter()
        scores = scores_for(name, nab_dir, corpus)
        t2 = time.perf_counter()
        by_profile: dict[str, ProfileResult] = score_detector(corpus, scores, profiles)
        t3 = time.perf_counter()
        published = PUBLISHED_SUBSET.get(name)
        if with_logo:
            held_out = {p: r.to_dict() for p, r in logo_all(corpus, scores, profiles).items()}
        result["detectors"][name] = {
            "profiles": {p: asdict(r) for p, r in by_profile.items()},
            "published_subset": None
            if published is None
            else dict(zip(PROFILE_ORDER, published, strict=True)),
            "logo": held_out if with_logo else None,
            "detect_seconds": t2 - t1,
            "score_seconds": t3 - t2,
        }
        logger.info("%s scored in %.2f s", name, t3 - t1)
    result["total_seconds"] = time.perf_counter() - t0
    return result


def format_report(result: dict[str, Any]) -> str:
    """A markdown table: the normalised score per detector and profile, published numbers in brackets."""
    lines = [
        f"NAB v1.1 subset: {result['files']} files, {result['rows']} rows, {result['windows']} windows "
        f"({result['data']})",
        "",
        "| detector | standard | reward_low_FP | reward_low_FN | thresholds | detected / FP rows (standard) |",
        "|---|---|---|---|---|---|",
    ]
    for name, det in result["detectors"].items():
        profs = det["profiles"]
        names = [p for p in PROFILE_ORDER if p in profs] + [p for p in profs if p not in PROFILE_ORDER]
        published = det["published_subset"] or {}
        cells = []
        for p in names[:3]:
            cell = f"{profs[p]['normalized']:.2f}"
            if p in published:
                cell += f" ({published[p]:.2f})"
            cells.append(cell)
        cells += [""] * (3 - len(cells))
        thresholds = " / ".join(f"{profs[p]['threshold']:.12g}" for p in names[:3])
        std = profs.get("standard", profs[names[0]])
        counts = f"{std['windows_detected']}/{std['windows']} / {std['false_positives']}"
        lines.append(f"| {name} | {' | '.join(cells)} | {thresholds} | {counts} |")
    lines += [
        "",
        "In brackets: the data README's exact-NAB numbers on this subset. "
        f"Total time {result['total_seconds']:.2f} s.",
    ]
    held_out = {n: d["logo"] for n, d in result["detectors"].items() if d.get("logo")}
    if held_out:
        first = next(iter(held_out.values()))
        groups = list(first[PROFILE_ORDER[0]]["groups"])
        lines += [
            "",
            "Leave one group out: each group scored at the threshold chosen on the others (normalised; a group "
            "without windows: false positives per file).",
            "",
            "| detector | profile | in-sample | LOGO overall | " + " | ".join(groups) + " |",
            "|---|---|---|---|" + "---|" * len(groups),
        ]
        for name, by_profile in held_out.items():
            for p in PROFILE_ORDER:
                if p not in by_profile:
                    continue
                cells = []
                for g in groups:
                    r = by_profile[p]["groups"][g]
                    cells.append(
                        f"{r['normalized']:.2f}"
                        if r["normalized"] is not None
                        else f"{r['false_positives_per_file']:.1f} FP/file"
                    )
                ins = result["detectors"][name]["profiles"][p]["normalized"]
                lines.append(
                    f"| {name} | {p} | {ins:.2f} | {by_profile[p]['overall']:.2f} | "
                    + " | ".join(cells)
                    + " |"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.nab.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="the nab/ folder (default: $AUTOOPT_SHARED_DATA/nab or ../shared/data/nab)",
    )
    parser.add_argument(
        "--detectors",
        default=",".join(DEFAULT_DETECTORS),
        help=f"comma-separated: {', '.join(BUILTIN)} or module:callable (default: %(default)s)",
    )
    parser.add_argument("--json", type=Path, help="write every number here")
    parser.add_argument(
        "--logo",
        action="store_true",
        help="also score leaving one group out (thresholds from the other groups)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    nab_dir = args.data if args.data is not None else default_data_dir()
    if not (nab_dir / "labels" / "combined_windows.json").is_file():
        parser.error(f"no NAB data at {nab_dir} (set --data or AUTOOPT_SHARED_DATA)")
    detectors = [d.strip() for d in args.detectors.split(",") if d.strip()]
    try:
        result = run(nab_dir, detectors, with_logo=args.logo)
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(format_report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
