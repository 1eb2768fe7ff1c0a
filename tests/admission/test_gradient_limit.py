"""GradientLimit (Envoy's gradient controller): its rule by hand, its measurements, and no drift where
Gradient2 drifts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autoopt.admission import (
    AdmissionController,
    ConcurrencyLimit,
    Criticality,
    Gradient2Limit,
    GradientLimit,
)


def _saturate(limit: ConcurrencyLimit, calls: int, workers: int = 8, service: float = 0.008) -> list[float]:
    """A backend of ``workers`` with constant ``service`` seconds, fed by a client that keeps ``limit`` calls
    in flight: a call's latency is its service plus its wait behind the calls past ``workers`` (closed form
    of a processor-sharing backend). Returns the limit after each call."""
    now, seen = 0.0, []
    for _ in range(calls):
        inflight = max(1, int(limit.limit))
        rtt = service * max(1.0, inflight / workers)
        now += rtt / inflight  # completions come inflight / rtt per second (Little's law)
        seen.append(limit.update(rtt, inflight, now))
    return seen


def test_the_update_rule_by_hand() -> None:
    lim = GradientLimit(interval=0.1, buffer=0.25, probe_samples=3, probe_limit=2, initial_limit=10, seed=0)
    assert lim.probing
    assert lim.limit == 2.0  # the first measurement runs probe_limit calls at a time
    for k, rtt in enumerate([0.010, 0.012, 0.008]):
        lim.update(rtt, 2, now=0.01 * (k + 1))
    assert not lim.probing
    assert lim.get_stats()["min_rtt"] == pytest.approx(0.010)  # the median of the three
    assert lim.limit == 10.0
    window = [0.020, 0.030, 0.025]  # the median, 25 ms, is 2.5x min_rtt
    for k, rtt in enumerate(window):
        lim.update(rtt, 10, now=0.04 + 0.05 * k)  # the last one closes the 100 ms window
    g = max(0.5, min(2.0, 1.25 * 0.010 / 0.025))
    assert lim.limit == pytest.approx(10 * g + math.sqrt(10 * g))
    before = lim.limit
    for k in range(3):  # fast calls while little is in flight: app-limited, so the limit is not raised
        lim.update(0.005, 1, now=0.2 + 0.06 * k)
    assert lim.limit == before


def test_no_drift_in_steady_overload_where_gradient2_drifts() -> None:
    """In steady overload the limit must settle near the backend's 8 workers: the queue past them is what
    the limit is for. Gradient2's running average follows the latency the queue adds, so its limit climbs."""
    g = _saturate(GradientLimit(buffer=0.25, seed=0), 40_000)
    tail = np.asarray(g[-10_000:])
    # equilibrium of limit = L*gr + sqrt(L*gr) with gr = 1.25 * 8 / L past 8 workers: L = 10 + sqrt(10)
    assert tail.min() >= 8.0
    assert tail.max() <= 15.0
    assert np.mean(tail) == pytest.approx(10 + math.sqrt(10), rel=0.1)
    g2 = _saturate(Gradient2Limit(), 40_000)
    assert g2[-1] > 2 * 14.0  # the drift the default no longer has


def test_min_rtt_is_measured_again_and_follows_a_slower_backend() -> None:
    lim = GradientLimit(buffer=0.25, probe_interval=5.0, probe_samples=20, seed=1)
    _saturate(lim, 20_000, service=0.008)
    first = lim.get_stats()
    assert first["probes"] >= 2  # the start, then every 5 s +- 15 %
    assert first["min_rtt"] == pytest.approx(0.008)
    _saturate(lim, 20_000, service=0.020)  # the backend slows 2.5-fold: limits follow via new probes
    after = lim.get_stats()
    assert after["min_rtt"] == pytest.approx(0.020)
    assert 8.0 <= after["limit"] <= 15.0


def test_a_measurement_does_not_read_as_overload() -> None:
    """While the limit is held at probe_limit, the queue it builds neither stands nor drops waiters."""
    lim = GradientLimit(probe_samples=1000, probe_limit=1, seed=0)
    ac = AdmissionController(limit=lim, queue_interval=0.1, overload_timeout=0.005)
    assert ac.offer(Criticality.DEFAULT, None, 0.0)[0].action == "admit"
    waiters = [ac.offer(Criticality.DEFAULT, None, 0.001 * k)[1] for k in range(1, 30)]
    decided = [ac.release(0.01, now=0.01 * k)[0] for k in range(1, 30)]
    assert decided == [(w, True, "") for w in waiters]  # FIFO, nobody dropped
    assert ac.get_stats()["rejected"] == {}


def test_bad_input_is_refused() -> None:
    lim = GradientLimit()
    with pytest.raises(TypeError, match="'now' is required"):
        lim.update(0.01, 1)
    with pytest.raises(ValueError, match="'rtt'"):
        lim.update(float("inf"), 1, 0.0)
    with pytest.raises(ValueError, match="'inflight'"):
        lim.update(0.01, -1, 0.0)
    with pytest.raises(TypeError, match="'inflight'"):
        lim.update(0.01, 2.5, 0.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'buffer'"):
        GradientLimit(buffer=-0.1)
    with pytest.raises(ValueError, match="'initial_limit'"):
        GradientLimit(initial_limit=2000)
    with pytest.raises(TypeError, match="ConcurrencyLimit"):
        AdmissionController(limit=8)  # type: ignore[arg-type]


def test_a_burst_in_a_light_window_does_not_raise_the_limit() -> None:
    """App-limited is judged by the window's mean in flight, not its peak: the backlog a measurement
    releases (a burst) must not let the limit grow while traffic is light."""
    lim = GradientLimit(probe_samples=3, initial_limit=20, seed=0)
    for k in range(3):
        lim.update(0.01, 2, now=0.01 * (k + 1))
    assert lim.limit == 20.0
    inflight = [15] + [3] * 20  # one burst past half the limit, then light traffic
    for k, n in enumerate(inflight):
        lim.update(0.01, n, now=0.05 + 0.006 * k)  # 0.126 s: closes one 100 ms window
    assert lim.get_stats()["sample_rtt"] == pytest.approx(0.01)  # the window closed, latency at min_rtt
    assert lim.limit == 20.0  # gradient 1.5, but app-limited: unchanged
