"""core/: ring buffers, windowed sums, exponentially weighted statistics."""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoopt import AutomationConfig, ResourcePool
from autoopt._clock import to_timestamp
from autoopt.core import EWMean, EWVar, RingBuffer, TimeWindowSums
from autoopt.core.backoff import backoff_delay


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(1, 40),
    values=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=120),
    since=st.integers(0, 130),
    initial=st.integers(1, 40),
)
def test_time_window_sums_equal_brute_force(capacity, values, since, initial):
    """Windowed sums against the plain sum, through lazy growth (``initial`` rows) and compaction."""
    w = TimeWindowSums(capacity, 1, initial=initial)
    for t, v in enumerate(values):
        w.append(float(t), [v])
    assert w.nbytes <= 2 * capacity * 3 * 8
    times = np.arange(len(values), dtype=float)[-capacity:]
    kept = np.asarray(values)[-capacity:]
    sel = kept[times >= since]
    count, total = w.window_sum(float(since))
    assert count == len(sel)
    assert total[0] == pytest.approx(sel.sum(), abs=1e-6 * max(1.0, np.abs(kept).sum()))


def test_ring_buffer_keeps_the_newest():
    buf = RingBuffer(4, width=2)
    for i in range(11):
        buf.append((i, -i))
    assert buf.view()[:, 0].tolist() == [7, 8, 9, 10]
    assert buf.last(2)[:, 1].tolist() == [-9, -10]
    assert buf[-1].tolist() == [10, -10]
    assert buf.total_appended == 11
    with pytest.raises(ValueError, match="read-only"):
        buf.view()[0, 0] = 1.0


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(1, 70),
    initial=st.integers(1, 40),
    n=st.integers(0, 400),
)
def test_ring_buffer_grows_lazily_and_matches_a_bounded_deque(capacity, initial, n):
    """Against collections.deque(maxlen=capacity): same rows after every append, storage <= 2 x capacity."""
    from collections import deque

    buf = RingBuffer(capacity, width=2, initial=initial)
    ref: deque[tuple[float, float]] = deque(maxlen=capacity)
    assert buf.nbytes <= 2 * capacity * 2 * 8
    for i in range(n):
        buf.append((i, 0.5 * i))
        ref.append((i, 0.5 * i))
        if i % 7 == 0 or i == n - 1:
            assert buf.view().tolist() == [list(r) for r in ref]
    assert len(buf) == len(ref)
    assert buf.nbytes <= 2 * capacity * 2 * 8
    if n < min(initial, 2 * capacity):
        assert buf.nbytes == min(initial, 2 * capacity) * 2 * 8  # nothing grown yet


def test_ew_mean_is_the_normalised_weighted_mean():
    rng = np.random.default_rng(1)
    x = rng.normal(size=50)
    m = EWMean(alpha=0.2)
    for v in x:
        m.update(v)
    w = 0.8 ** np.arange(49, -1, -1)
    assert m.get() == pytest.approx(np.sum(w * x) / np.sum(w), rel=1e-12)


def test_ew_var_precise_for_large_mean_small_spread():
    rng = np.random.default_rng(2)
    x = 1e9 + rng.normal(0, 1e-3, 2000)
    v = EWVar(alpha=0.05)
    for value in x:
        v.update(value)
    w = 0.95 ** np.arange(len(x) - 1, -1, -1)
    mean = np.sum(w * (x - 1e9)) / np.sum(w) + 1e9
    ref = np.sum(w * (x - mean) ** 2) / np.sum(w)
    assert v.get() == pytest.approx(ref, rel=1e-3)
    assert v.get() > 0


@pytest.mark.parametrize("bad", [pd.NaT, np.datetime64("NaT")])
def test_missing_times_are_rejected(bad):
    with pytest.raises(ValueError, match="missing time"):
        to_timestamp(bad, "timestamp")


def test_config_assignment_is_validated_and_atomic():
    cfg = AutomationConfig()
    with pytest.raises(ValueError, match="load_threshold_high"):
        cfg.load_threshold_high = 0.95  # above critical
    assert cfg.load_threshold_high == 0.75
    with pytest.raises(TypeError, match="tuning_enabled"):
        cfg.tuning_enabled = "no"
    cfg.max_concurrent_tasks = np.int64(3)
    assert type(cfg.max_concurrent_tasks) is int


def test_resource_pool_copies_and_pickles():
    pool = ResourcePool(custom={"gpu": 2})
    pool.allocate({"gpu": 1, "cpu": 10})
    for clone in (copy.deepcopy(pool), pickle.loads(pickle.dumps(pool))):
        assert clone.available() == pool.available()
        assert clone.capacity() == pool.capacity()
        assert clone.try_allocate({"gpu": 1})
        assert pool.available()["gpu"] == 1.0  # independent of the original
    assert math.isclose(pool.available()["cpu"], 90.0)


@pytest.mark.parametrize(
    ("value", "exc"), [("", ValueError), ("   ", ValueError), (3, TypeError), (None, TypeError)]
)
def test_check_str_rejects_blank_and_non_strings(value, exc):
    from autoopt._validation import check_str

    with pytest.raises(exc, match="'target' must be a non-empty str"):
        check_str(value, "execute_remediation() argument 'target'")
    assert check_str("web", "x") == "web"


@pytest.mark.parametrize("multiplier", [1.0, 1.5, 2.0, 10.0])
@pytest.mark.parametrize("base", [0.0, 1e-3, 0.5, 7.0])
def test_backoff_delay_is_the_capped_power_and_never_overflows(base: float, multiplier: float) -> None:
    cap = 60.0
    for retry in range(1, 40):
        want = min(cap, base * multiplier ** (retry - 1))  # these powers are all finite
        assert backoff_delay(retry, base, multiplier, cap) == want
    for retry in (1_100, 10**6, 10**12):  # 2.0 ** 1_100 overflows a float
        assert backoff_delay(retry, base, multiplier, cap) == (
            0.0 if base == 0.0 else min(cap, base) if multiplier == 1.0 else cap
        )
    assert backoff_delay(10**6, 1.0, 2.0) == math.inf  # no cap: the wait grows without bound
