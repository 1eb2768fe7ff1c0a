"""The NAB harness: scoring rules on hand-computed cases, the vectorised sweep against a plain-Python
reference, the Windowed Gaussian detector against NAB's loop, and (with the shared data) the
published numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.nab import run as nab_run
from benchmarks.nab.detectors import windowed_gaussian
from benchmarks.nab.logo import logo
from benchmarks.nab.scoring import (
    DEFAULT_PROFILES,
    CostProfile,
    NabFile,
    load_corpus,
    load_profiles,
    load_reference_scores,
    probationary_length,
    row_worths,
    scaled_sigmoid,
    score_corpus,
    score_detector,
    threshold_curve,
    window_rows,
)

STANDARD = DEFAULT_PROFILES["standard"]
LOW_FP = DEFAULT_PROFILES["reward_low_FP_rate"]
LOW_FN = DEFAULT_PROFILES["reward_low_FN_rate"]
MAX_TP = math.tanh(2.5)  # s(-1), since s(x) = 2 / (1 + e^{5x}) - 1 = -tanh(5x / 2)


def tp_worth(right: int, i: int, width: int) -> float:
    return math.tanh(2.5 * (right - i + 1) / width) / MAX_TP


def detections(n: int, rows: list[int]) -> np.ndarray:
    a = np.zeros(n)
    a[rows] = 1.0
    return a


def score_of(n: int, rows: list[int], windows: list[list[int]], profile: CostProfile = STANDARD) -> float:
    curve = threshold_curve(
        [detections(n, rows)], [np.array(windows, dtype=np.int64).reshape(-1, 2)], profile
    )
    return curve.score_at(0.5)


# --------------------------------------------------------------------------- the rules, by hand


def test_scaled_sigmoid_values() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(2.9) == pytest.approx(-math.tanh(7.25))
    assert scaled_sigmoid(3.0) == -1.0  # NAB's clamp
    assert scaled_sigmoid(50.0) == -1.0


@pytest.mark.parametrize(
    ("n", "expected"), [(0, 0), (19, 2), (20, 3), (100, 15), (4032, 604), (5000, 750), (10_000, 750)]
)
def test_probationary_length(n: int, expected: int) -> None:
    assert probationary_length(n) == expected


# 40 rows: probation = floor(6) = rows 0..5; one window [10, 13], W = 4
N, WIN = 40, [[10, 13]]


def test_detection_at_window_start_is_worth_tp() -> None:
    assert score_of(N, [10], WIN) == pytest.approx(1.0)
    assert score_of(N, [10], WIN, CostProfile("x", tp=2.0, fp=0.1, fn=1.0)) == pytest.approx(2.0)


def test_detection_at_window_end() -> None:
    assert score_of(N, [13], WIN) == pytest.approx(math.tanh(2.5 / 4) / MAX_TP)  # 0.56212
    assert score_of(N, [13], WIN) == pytest.approx(0.56212, abs=1e-5)


def test_only_the_earliest_detection_in_a_window_counts() -> None:
    assert score_of(N, [11, 12, 13], WIN) == pytest.approx(tp_worth(13, 11, 4))
    assert score_of(N, [12], WIN) == pytest.approx(tp_worth(13, 12, 4))
    assert tp_worth(13, 11, 4) > tp_worth(13, 12, 4)


def test_missed_window_scores_minus_fn() -> None:
    assert score_of(N, [], WIN) == pytest.approx(-1.0)
    assert score_of(N, [], WIN, LOW_FN) == pytest.approx(-2.0)


def test_false_positive_before_the_first_window_scores_minus_fp() -> None:
    assert score_of(N, [7], WIN) == pytest.approx(-0.11 - 1.0)
    assert score_of(N, [7, 8], WIN, LOW_FP) == pytest.approx(-0.44 - 1.0)


def test_false_positive_after_a_window_uses_the_preceding_window() -> None:
    # row 15: |13 - 15| / (4 - 1) = 2/3, worth 0.11 * s(2/3) = -0.11 tanh(5/3)
    assert score_of(N, [10, 15], WIN) == pytest.approx(1.0 - 0.11 * math.tanh(5 / 3))
    # right after the window the penalty is small: row 14 is 1/3 past
    assert score_of(N, [14], WIN) == pytest.approx(-1.0 - 0.11 * math.tanh(5 / 6))
    # position >= 3 (row 22: 9/3) is clamped to -fp
    assert score_of(N, [22], WIN) == pytest.approx(-1.0 - 0.11)


def test_false_positive_is_scored_against_the_most_recent_window() -> None:
    windows = [[10, 13], [20, 29]]  # second window W = 10
    # row 31 follows the second window: |29 - 31| / 9
    expected = -1.0 - 1.0 - 0.11 * math.tanh(2.5 * 2 / 9)
    assert score_of(N, [31], windows) == pytest.approx(expected)
    # row 16 is between the windows: against the first
    assert score_of(N, [16], windows) == pytest.approx(-2.0 - 0.11 * math.tanh(2.5 * 3 / 3))


def test_probationary_rows_are_not_scored() -> None:
    # a detection in the probationary period is neither a FP nor a TP
    assert score_of(N, [0, 3, 5], WIN) == pytest.approx(-1.0)
    # a window straddling the probation: its probationary rows are ignored, the rest count with full W
    straddle = [[3, 9]]  # W = 7, rows 3..5 in probation
    assert score_of(N, [4], straddle) == pytest.approx(-1.0)
    assert score_of(N, [4, 7], straddle) == pytest.approx(tp_worth(9, 7, 7))
    # a window entirely in the probation is not counted at all
    assert score_of(N, [], [[1, 4]]) == 0.0
    assert score_of(N, [8], [[1, 4]]) == pytest.approx(-0.11 * math.tanh(2.5 * 4 / 3))


def test_row_worths_labels_rows() -> None:
    worth, window_of_row = row_worths(N, np.array(WIN), STANDARD)
    assert (window_of_row[:6] == -2).all()
    assert (window_of_row[10:14] == 0).all()
    assert (window_of_row[6:10] == -1).all()
    assert (window_of_row[14:] == -1).all()
    assert worth[10] == pytest.approx(1.0)
    assert np.all(np.diff(worth[10:14]) < 0)  # earlier is worth more


def test_window_rows_maps_timestamps() -> None:
    ts = [f"2020-01-01 00:{m:02d}:00" for m in range(10)]
    rows = window_rows(ts, [["2020-01-01 00:02:00.000000", "2020-01-01 00:04:00"]])
    assert rows.tolist() == [[2, 4]]
    with pytest.raises(ValueError, match="not a timestamp"):
        window_rows(ts, [["2020-01-01 00:02:30", "2020-01-01 00:04:00"]])
    with pytest.raises(ValueError, match="sorted and disjoint"):
        window_rows(
            ts,
            [["2020-01-01 00:02:00", "2020-01-01 00:04:00"], ["2020-01-01 00:03:00", "2020-01-01 00:05:00"]],
        )


def test_normalisation_perfect_and_null() -> None:
    windows = [np.array([[10, 13], [20, 29]]), np.array([[15, 18]]), np.zeros((0, 2), dtype=np.int64)]
    n = [40, 40, 40]
    perfect = [detections(k, [int(w[0]) for w in win]) for k, win in zip(n, windows, strict=True)]
    silent = [np.zeros(k) for k in n]
    for profile in DEFAULT_PROFILES.values():
        best = score_corpus(perfect, windows, profile)
        assert best.normalized == pytest.approx(100.0)
        # NAB's null detector (a constant 0.5) at its optimised threshold: detecting nothing (-fn per
        # window) or everything, whichever is better; on short files everything can win
        everything = sum(
            slow_file_score([0.5] * k, as_pairs(win), profile, 0.5) for k, win in zip(n, windows, strict=True)
        )
        assert best.null_score == pytest.approx(max(-profile.fn * 3, everything))
        assert best.windows_detected == 3
        assert best.false_positives == 0
        assert score_corpus(silent, windows, profile).normalized == pytest.approx(0.0)


# --------------------------------------------------------------------------- vectorised vs plain Python


def slow_file_score(
    scores: list[float], windows: list[tuple[int, int]], profile: CostProfile, threshold: float
) -> float:
    """NAB's calcSweepScore loop and a per-threshold pass, in plain Python, straight from the rules."""
    n = len(scores)
    probation = min(math.floor(0.15 * n), 0.15 * 5000)

    def s(x: float) -> float:
        return -1.0 if x >= 3.0 else 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0

    parts: dict[int, float] = {}
    fp_total = 0.0
    cur = None
    prev_right = prev_width = None
    pending = list(windows)
    for i in range(n):
        if pending and i == pending[0][0]:
            cur = pending.pop(0)
        if cur is not None:
            width = cur[1] - cur[0] + 1
            worth = s(-(cur[1] - i + 1) / width) * profile.tp / s(-1.0)
            name: int | None = cur[0]
        else:
            if prev_right is None:
                pos = 3.0
            else:
                assert prev_width is not None
                pos = abs(prev_right - i) / (prev_width - 1) if prev_width > 1 else math.inf
            worth = s(pos) * profile.fp
            name = None
        if i >= probation:
            if name is not None:
                parts.setdefault(name, -profile.fn)
                if scores[i] >= threshold:
                    parts[name] = max(parts[name], worth)
            elif scores[i] >= threshold:
                fp_total += worth
        if cur is not None and i == cur[1]:
            prev_right, prev_width = cur[1], cur[1] - cur[0] + 1
            cur = None
    return fp_total + sum(parts.values())


def as_pairs(win: np.ndarray) -> list[tuple[int, int]]:
    return [(int(w[0]), int(w[1])) for w in win]


def random_case(rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    scores, windows = [], []
    for _ in range(int(rng.integers(1, 5))):
        n = int(rng.integers(1, 120))
        # ties on purpose: scores on a coarse grid, sometimes exactly 0 or 1
        a = np.round(rng.random(n), int(rng.integers(1, 3)))
        k = int(rng.integers(0, 4))
        cuts = np.sort(rng.choice(np.arange(n + 1), size=min(2 * k, n + 1), replace=False))
        win = [
            (int(cuts[j]), int(cuts[j + 1]) - 1)
            for j in range(0, len(cuts) - 1, 2)
            if cuts[j + 1] - 1 >= cuts[j]
        ]
        scores.append(a)
        windows.append(np.array(win, dtype=np.int64).reshape(-1, 2))
    return scores, windows


@pytest.mark.parametrize("seed", range(40))
def test_vectorised_sweep_matches_plain_python(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores, windows = random_case(rng)
    profile = list(DEFAULT_PROFILES.values())[seed % 3]
    curve = threshold_curve(scores, windows, profile)
    thresholds, sweep = curve.sweep()
    # the candidates: 1.1, then every distinct scored value, descending
    assert thresholds[0] == 1.1
    assert np.all(np.diff(thresholds) < 0)
    for t, got in zip(thresholds, sweep, strict=True):
        want = sum(
            slow_file_score(a.tolist(), as_pairs(win), profile, float(t))
            for a, win in zip(scores, windows, strict=True)
        )
        assert got == pytest.approx(want, abs=1e-9)
        assert curve.score_at(float(t)) == pytest.approx(want, abs=1e-9)
    # the per-file split adds up, and the optimum is the best of a brute-force scan over all values
    best_t, best = curve.best()
    assert curve.file_scores_at(best_t).sum() == pytest.approx(best)
    grid = np.unique(np.concatenate([*scores, [1.1, 0.05, 0.55]]))
    brute = max(
        sum(
            slow_file_score(a.tolist(), as_pairs(win), profile, float(t))
            for a, win in zip(scores, windows, strict=True)
        )
        for t in grid
    )
    assert best == pytest.approx(brute, abs=1e-9)


def test_best_threshold_prefers_the_highest_on_ties() -> None:
    # two detections worth exactly 0 change nothing: no FP cost outside windows when fp = 0
    profile = CostProfile("free", tp=1.0, fp=0.0, fn=1.0)
    a = np.zeros(40)
    a[10] = 0.9  # window start
    a[30] = 0.5  # a free false positive
    curve = threshold_curve([a], [np.array([[10, 13]])], profile)
    assert curve.best() == (0.9, pytest.approx(1.0))


@given(
    weight=st.one_of(st.floats(max_value=-1e-9), st.just(math.inf), st.just(math.nan)),
    which=st.sampled_from(["tp", "fp", "fn"]),
)
@settings(max_examples=30, deadline=None)
def test_cost_profile_rejects_bad_weights(weight: float, which: str) -> None:
    kwargs = {"tp": 1.0, "fp": 0.1, "fn": 1.0, which: weight}
    with pytest.raises(ValueError, match=which):
        CostProfile("bad", **kwargs)


def test_cost_profile_rejects_non_numbers() -> None:
    with pytest.raises(TypeError, match="'fp'"):
        CostProfile("bad", tp=1.0, fp="0.1", fn=1.0)  # type: ignore[arg-type]


def test_threshold_curve_rejects_bad_scores() -> None:
    with pytest.raises(ValueError, match="NaN"):
        threshold_curve([np.array([0.1, np.nan])], [np.zeros((0, 2), dtype=np.int64)], STANDARD)
    with pytest.raises(ValueError, match="2 window arrays"):
        threshold_curve([np.zeros(3)], [np.zeros((0, 2)), np.zeros((0, 2))], STANDARD)


# --------------------------------------------------------------------------- Windowed Gaussian


def nab_windowed_gaussian(values: list[float], window_size: int, step_size: int) -> list[float]:
    """NAB's WindowedGaussianDetector.handleRecord, as a plain loop."""
    window: list[float] = []
    buffer: list[float] = []
    mean, std = 0.0, 1.0
    out = []
    for x in values:
        score = 0.0
        if window:
            xp = 2 * mean - x if x < mean else x
            score = 1 - 0.5 * math.erfc((xp - mean) / std / math.sqrt(2))
        out.append(score)
        updated = False
        if len(window) < window_size:
            window.append(x)
            updated = True
        else:
            buffer.append(x)
            if len(buffer) == step_size:
                window = window[step_size:] + buffer
                buffer = []
                updated = True
        if updated:
            mean, std = float(np.mean(window)), float(np.std(window))
            if std == 0.0:
                std = 1e-6
    return out


@pytest.mark.parametrize(
    ("n", "window_size", "step_size"), [(300, 40, 7), (300, 20, 1), (50, 100, 10), (500, 64, 64)]
)
@pytest.mark.parametrize("seed", [0, 1])
def test_windowed_gaussian_matches_nab_loop(n: int, window_size: int, step_size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = 100 + rng.normal(0, 3, n).cumsum() * 0.1 + rng.normal(0, 1, n)
    x[n // 3 : n // 3 + 5] += 40  # a spike
    got = windowed_gaussian(x, window_size=window_size, step_size=step_size)
    want = nab_windowed_gaussian(x.tolist(), window_size, step_size)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    assert got[0] == 0.0
    assert np.all((got >= 0) & (got <= 1))


def test_windowed_gaussian_is_causal_and_handles_flat_series() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=200)
    full = windowed_gaussian(x, window_size=50, step_size=10)
    for i in (1, 37, 120, 199):
        prefix = windowed_gaussian(x[: i + 1], window_size=50, step_size=10)
        assert prefix[-1] == full[i]
    flat = windowed_gaussian(np.r_[np.full(10, 5.0), 6.0])
    assert flat[1:10].tolist() == [0.5] * 9  # std 0 -> 1e-6, the value equals the mean
    assert flat[10] == 1.0


def test_windowed_gaussian_rounding_and_bad_input() -> None:
    x = np.array([1.0, 2.0, 3.0, 1.0, 9.0, 1.1])
    rounded = windowed_gaussian(x, significant_digits=3)
    assert rounded.tolist() == [float(f"{v:.3g}") for v in windowed_gaussian(x)]
    with pytest.raises(ValueError, match="'values'"):
        windowed_gaussian([1.0, np.nan])
    with pytest.raises(ValueError, match="'window_size'"):
        windowed_gaussian(x, window_size=0)
    with pytest.raises(TypeError, match="'step_size'"):
        windowed_gaussian(x, step_size=1.5)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the shared NAB subset

PUBLISHED = {
    "numenta": {"standard": 75.52, "reward_low_FP_rate": 70.68, "reward_low_FN_rate": 78.99},
    "windowedGaussian": {"standard": 41.42, "reward_low_FP_rate": 26.48, "reward_low_FN_rate": 48.45},
}


@pytest.fixture(scope="module")
def nab_dir(shared_data: Path) -> Path:
    path = shared_data / "nab"
    if not (path / "labels" / "combined_windows.json").is_file():
        pytest.skip(f"no NAB data under {path}")
    return path


@pytest.mark.parametrize("detector", sorted(PUBLISHED))
def test_reference_scores_reproduce_the_published_numbers(nab_dir: Path, detector: str) -> None:
    corpus = load_corpus(nab_dir)
    assert len(corpus) == 41
    assert sum(len(f.windows) for f in corpus) == 64
    profiles = load_profiles(nab_dir / "config" / "profiles.json")
    assert profiles == DEFAULT_PROFILES
    results = score_detector(corpus, load_reference_scores(nab_dir, detector, corpus), profiles)
    for profile, expected in PUBLISHED[detector].items():
        assert round(results[profile].normalized, 2) == expected, (profile, results[profile])
        assert results[profile].null_score == -profiles[profile].fn * 64
        assert sum(results[profile].file_scores.values()) == pytest.approx(results[profile].score)


def test_windowed_gaussian_reimplementation_matches_reference(nab_dir: Path) -> None:
    corpus = load_corpus(nab_dir)
    reference = load_reference_scores(nab_dir, "windowedGaussian", corpus)
    full = [windowed_gaussian(f.values) for f in corpus]
    max_diff = max(float(np.abs(a - b).max()) for a, b in zip(full, reference, strict=True))
    assert max_diff < 1e-11  # the reference files hold 12 significant digits
    rounded = [windowed_gaussian(f.values, significant_digits=12) for f in corpus]
    same = sum(int(np.count_nonzero(a == b)) for a, b in zip(rounded, reference, strict=True))
    assert same / sum(len(b) for b in reference) > 0.995
    results = score_detector(corpus, rounded)
    for profile, expected in PUBLISHED["windowedGaussian"].items():
        assert round(results[profile].normalized, 2) == expected, (profile, results[profile])


def test_cli_json(nab_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "nab.json"
    assert nab_run.main(["--data", str(nab_dir), "--detectors", "numenta,wg", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| numenta | 75.52 (75.52) | 70.68 (70.68) | 78.99 (78.99) |" in table
    assert "| wg | 41.42 (41.42) | 26.48 (26.48) | 48.45 (48.45) |" in table
    result = json.loads(out.read_text())
    assert set(result["detectors"]) == {"numenta", "wg"}
    std = result["detectors"]["numenta"]["profiles"]["standard"]
    assert std["windows"] == 64
    assert 0 < std["windows_detected"] <= 64


def test_cli_custom_detector_and_errors(nab_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a module:callable detector; a constant detector is NAB's null, scoring 0
    assert (
        nab_run.main(["--data", str(nab_dir), "--detectors", "tests.test_nab_benchmark:constant_half"]) == 0
    )
    assert "| tests.test_nab_benchmark:constant_half | 0.00 | 0.00 | 0.00 |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        nab_run.main(["--data", str(nab_dir), "--detectors", "nope"])
    with pytest.raises(SystemExit):
        nab_run.main(["--data", str(nab_dir / "missing")])


def constant_half(values: np.ndarray, timestamps: object) -> np.ndarray:
    return np.full(len(values), 0.5)


# --------------------------------------------------------------------------- leave one group out


def _file(name: str, n: int, window: tuple[int, int], hits: dict[int, float]) -> NabFile:
    values = np.zeros(n)
    scores = np.zeros(n)
    for row, s in hits.items():
        scores[row] = s
    import pandas as pd

    stamps = pd.date_range("2024-01-01", periods=n, freq="5min")
    return NabFile(name, stamps, values, np.array([window], dtype=np.int64)), scores


def test_logo_scores_each_group_at_the_threshold_of_the_others() -> None:
    # group a: the windows' hits score 0.9 and a false alarm 0.6; group b: hits score 0.55, alarms 0.3
    made = [
        _file("a/1.csv", 1000, (500, 560), {520: 0.9, 300: 0.6}),
        _file("a/2.csv", 1000, (700, 760), {710: 0.9, 900: 0.6}),
        _file("b/1.csv", 1000, (400, 460), {410: 0.55, 800: 0.3}),
        _file("b/2.csv", 1000, (600, 660), {650: 0.55, 200: 0.3}),
    ]
    corpus = [f for f, _ in made]
    scores = [s for _, s in made]
    result = logo(corpus, scores, STANDARD)
    windows = [f.windows for f in corpus]
    # the reference: each fold by hand with the sweep on the other group alone
    total = 0.0
    for held, train in (([0, 1], [2, 3]), ([2, 3], [0, 1])):
        threshold, _ = threshold_curve(
            [scores[i] for i in train], [windows[i] for i in train], STANDARD
        ).best()
        group = corpus[held[0]].name.split("/")[0]
        assert result.groups[group].threshold == threshold
        held_score = threshold_curve([scores[i] for i in held], [windows[i] for i in held], STANDARD)
        total += float(held_score.file_scores_at(threshold).sum())
    # b's own best threshold (<= 0.55) would catch its hits; a's (in (0.6, 0.9]) misses them: b scores -fn each
    assert result.groups["b"].normalized == pytest.approx(0.0)
    assert result.groups["a"].threshold <= 0.55
    assert result.overall == pytest.approx(
        100 * (total + 4 * STANDARD.fn) / (4 * STANDARD.tp + 4 * STANDARD.fn)
    )
    assert result.groups["a"].false_positives_per_file == 1.0  # at b's threshold, a's 0.6 alarms fire


def test_logo_reports_false_positives_for_a_group_without_windows() -> None:
    a1, s1 = _file("a/1.csv", 1000, (500, 560), {520: 0.9})
    a2, s2 = _file("a/2.csv", 1000, (700, 760), {710: 0.9})
    quiet, s3 = _file("none/1.csv", 1000, (0, 0), {300: 0.95, 301: 0.95, 600: 0.2})
    quiet = NabFile(quiet.name, quiet.timestamps, quiet.values, np.empty((0, 2), dtype=np.int64))
    result = logo([a1, a2, quiet], [s1, s2, s3], STANDARD)
    assert result.groups["none"].normalized is None
    assert result.groups["none"].windows == 0
    assert result.groups["none"].false_positives_per_file == 2.0
