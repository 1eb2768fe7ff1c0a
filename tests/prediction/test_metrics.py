"""The M4 forecast metrics against plain-Python references written from the M4 Competitor's Guide."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoopt.prediction import coverage, mae, mase, msis, seasonal_naive_scale, smape


def ref_scale(x: list[float], m: int) -> float:
    pairs = [abs(x[t] - x[t - m]) for t in range(m, len(x)) if not (math.isnan(x[t]) or math.isnan(x[t - m]))]
    return sum(pairs) / len(pairs)


def ref_smape(y: list[float], f: list[float]) -> float:
    terms = []
    for a, b in zip(y, f, strict=True):
        if math.isnan(a):
            continue
        den = abs(a) + abs(b)
        terms.append(0.0 if den == 0 else 2 * abs(a - b) / den)
    return 100 * sum(terms) / len(terms)


def ref_msis(y: list[float], lo: list[float], hi: list[float], x: list[float], m: int, a: float) -> float:
    total, n = 0.0, 0
    for v, low, u in zip(y, lo, hi, strict=True):
        if math.isnan(v):
            continue
        s = u - low
        if v < low:
            s += 2 / a * (low - v)
        if v > u:
            s += 2 / a * (v - u)
        total += s
        n += 1
    return total / n / ref_scale(x, m)


@pytest.mark.parametrize("m", [1, 4, 24])
def test_every_metric_matches_the_reference_on_many_series_at_once(m: int) -> None:
    rng = np.random.default_rng(m)
    n_series, n_hist, h = 7, 120, 12
    x = rng.normal(50, 10, (n_series, n_hist)) + 20 * np.sin(np.arange(n_hist) * 2 * np.pi / max(m, 2))
    y = rng.normal(50, 10, (n_series, h))
    f = y + rng.normal(0, 5, (n_series, h))
    lo, hi = f - 8.0, f + 8.0
    y[2, 3] = np.nan  # a gap in the actuals is left out, not counted as zero
    x[4, 10] = np.nan
    got = {
        "mae": mae(y, f),
        "smape": smape(y, f),
        "mase": mase(y, f, x, m),
        "coverage": coverage(y, lo, hi),
        "msis": msis(y, lo, hi, x, m, alpha=0.05),
    }
    for i in range(n_series):
        yl, fl, xl = y[i].tolist(), f[i].tolist(), x[i].tolist()
        ok = [j for j in range(h) if not math.isnan(yl[j])]
        ref_mae = sum(abs(yl[j] - fl[j]) for j in ok) / len(ok)
        assert got["mae"][i] == pytest.approx(ref_mae, rel=1e-12)
        assert got["smape"][i] == pytest.approx(ref_smape(yl, fl), rel=1e-12)
        assert got["mase"][i] == pytest.approx(ref_mae / ref_scale(xl, m), rel=1e-12)
        inside = sum(lo[i, j] <= yl[j] <= hi[i, j] for j in ok) / len(ok)
        assert got["coverage"][i] == pytest.approx(inside, rel=1e-12)
        assert got["msis"][i] == pytest.approx(
            ref_msis(yl, lo[i].tolist(), hi[i].tolist(), xl, m, 0.05), rel=1e-12
        )


def test_per_horizon_step_by_reducing_over_origins() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=(30, 6))  # 30 rolling origins x 6 horizon steps
    f = y + rng.normal(scale=np.arange(1, 7), size=(30, 6))  # errors grow with the step
    per_step = mae(y, f, axis=0)
    np.testing.assert_allclose(per_step, np.abs(y - f).mean(axis=0), rtol=1e-12)
    assert per_step.shape == (6,)
    assert per_step[-1] > per_step[0]


def test_closed_forms() -> None:
    x = np.tile([1.0, 3.0, 2.0, 5.0], 6)  # period 4, exactly periodic
    assert float(seasonal_naive_scale(x, 2)) == pytest.approx(
        1.5
    )  # |2-1|, |5-3|, |1-2|, |3-5| ...: 1, 2, 1, 2
    assert math.isnan(float(mase([1.0], [2.0], x, 4)))  # seasonal naive is exact: no scale
    y = np.array([3.0, 4.0, 5.0])
    assert float(mae(y, y)) == 0.0
    assert float(smape(y, y)) == 0.0
    assert float(smape([0.0, 0.0], [0.0, 0.0])) == 0.0
    assert float(smape([1.0], [-1.0])) == 200.0
    assert float(coverage(y, y, y)) == 1.0
    # The interval score of a zero-width interval around the truth is 0; a miss costs 2/alpha per unit.
    assert float(msis(y, y, y, [0.0, 1.0, 2.0])) == 0.0
    assert float(msis([0.0], [1.0], [1.0], [0.0, 1.0], alpha=0.1)) == pytest.approx(20.0)


def test_all_missing_gives_nan() -> None:
    assert math.isnan(float(mae([np.nan, np.nan], [1.0, 2.0])))
    assert math.isnan(float(coverage([np.nan], [0.0], [1.0])))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: mae([1.0, 2.0], [1.0]), "same shape"),
        (lambda: mae([1.0], [np.nan]), "'forecast' must be finite"),
        (lambda: mae([np.inf], [1.0]), "finite or NaN"),
        (lambda: coverage([1.0], [2.0], [1.0]), "'lower' must be <= 'upper'"),
        (lambda: seasonal_naive_scale([1.0, 2.0], m=2), "more than m=2 values"),
        (lambda: msis([1.0], [0.0], [2.0], [1.0, 2.0], alpha=1.0), "'alpha'"),
    ],
)
def test_bad_input_raises_naming_the_argument(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]


def test_seasonal_period_must_be_a_positive_int() -> None:
    with pytest.raises(ValueError, match="'m'"):
        seasonal_naive_scale([1.0, 2.0, 3.0], m=0)
    with pytest.raises(TypeError, match="'m'"):
        seasonal_naive_scale([1.0, 2.0, 3.0], m=1.5)  # type: ignore[arg-type]


@given(
    st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=30),
    st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=30),
)
@settings(max_examples=60, deadline=None)
def test_smape_is_bounded_and_symmetric(ys: list[float], fs: list[float]) -> None:
    n = min(len(ys), len(fs))
    a, b = np.array(ys[:n]), np.array(fs[:n])
    s = float(smape(a, b))
    assert 0.0 <= s <= 200.0 + 1e-9
    assert s == pytest.approx(float(smape(b, a)), abs=1e-9)
