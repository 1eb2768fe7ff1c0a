"""AutoscalingEnv: the Gymnasium contract, the queueing model against hand computations, missing
values and exclusions, time-weighting, actions, validation, the no-Gymnasium path and a full replay."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from autoopt.sim import AutoscalingEnv, load_nasa_trace, mm1_latency_ms

MU = 100.0  # capacity_rps of one replica in these tests
DT = 60.0  # the step of the 1-minute traces


def _index(n: int, freq: str = "min") -> pd.DatetimeIndex:
    return pd.date_range("2026-01-01", periods=n, freq=freq, tz="UTC")


def _constant(rate: float, n: int, freq: str = "min") -> pd.Series:
    return pd.Series(float(rate), index=_index(n, freq))


def _wavy(n: int = 40) -> pd.Series:
    trace = pd.Series(500.0 + 300.0 * np.sin(np.arange(n) / 5.0), index=_index(n))
    trace.iloc[7] = np.nan
    return trace


def _run_random(env: AutoscalingEnv, seed: int | None, action_seed: int, options=None):
    """Observations and infos of one episode of random masked actions."""
    rng = np.random.default_rng(action_seed)
    obs, info = env.reset(seed=seed, options=options)
    observations, infos = [obs], [info]
    truncated = False
    while not truncated:
        action = int(rng.choice(np.flatnonzero(env.action_mask())))
        obs, _, terminated, truncated, info = env.step(action)
        assert terminated is False
        observations.append(obs)
        infos.append(info)
    return observations, infos


def _poisson_ok(arrivals: float, rate: float, dt: float = DT) -> bool:
    """``arrivals`` is a plausible Poisson draw around ``rate * dt`` (within 6 standard deviations)."""
    mean = rate * dt
    return arrivals == int(arrivals) and abs(arrivals - mean) <= 6.0 * math.sqrt(mean) + 1.0


# ------------------------------------------------------------------------------------ Gymnasium API


def test_gymnasium_check_env_passes():
    pytest.importorskip("gymnasium")
    from gymnasium.utils.env_checker import check_env

    env = AutoscalingEnv(_wavy(), capacity_rps=MU, max_replicas=20, max_episode_steps=15)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    assert [str(w.message) for w in caught] == []


def test_spaces_and_features():
    gym = pytest.importorskip("gymnasium")
    env = AutoscalingEnv(_wavy(), capacity_rps=MU)
    assert isinstance(env.observation_space, gym.spaces.Box)
    assert isinstance(env.action_space, gym.spaces.Discrete)
    assert env.observation_space.shape == (len(AutoscalingEnv.FEATURES),) == (11,)
    assert env.observation_space.dtype == np.float32
    assert int(env.action_space.n) == len(env.action_deltas) == 9


def test_same_seed_reproduces_observations_and_infos():
    env = AutoscalingEnv(_wavy(), capacity_rps=MU, max_replicas=20)
    obs_a, info_a = _run_random(env, seed=7, action_seed=1)
    obs_b, info_b = _run_random(env, seed=7, action_seed=1)
    assert len(obs_a) == len(obs_b) == env.n_steps + 1
    for a, b in zip(obs_a, obs_b, strict=True):
        np.testing.assert_array_equal(a, b)
    assert info_a == info_b
    # a second env built the same way gives the same episode too
    _obs_c, info_c = _run_random(AutoscalingEnv(_wavy(), capacity_rps=MU, max_replicas=20), 7, 1)
    assert info_c == info_a


def test_different_seeds_draw_different_arrivals():
    env = AutoscalingEnv(_constant(300.0, 30), capacity_rps=MU, initial_replicas=6)

    def arrivals(seed):
        env.reset(seed=seed)
        return [env.step_target(6)[4]["arrivals"] for _ in range(30)]

    a0, a1 = arrivals(0), arrivals(1)
    assert a0 == arrivals(0)
    assert a0 != a1
    assert all(_poisson_ok(a, 300.0) for a in a0 + a1)


def test_observations_are_float32_in_the_space():
    env = AutoscalingEnv(_wavy(), capacity_rps=MU, max_replicas=20)
    for seed in range(3):
        observations, infos = _run_random(env, seed=seed, action_seed=seed)
        for obs in observations:
            assert obs.dtype == np.float32
            assert obs.shape == (11,)
            assert env.observation_space.contains(obs)
        for info in infos:
            assert env.min_replicas <= info["ready_replicas"] + info["pending_replicas"] <= env.max_replicas


def test_observation_stays_in_space_after_a_sharp_scale_down():
    trace = pd.Series([5000.0] + [1.0] * 9, index=_index(10))
    env = AutoscalingEnv(trace, capacity_rps=MU, initial_replicas=9, readiness_delay_s=0.0)
    env.reset(seed=0)
    env.step(env.action_deltas.index(0))  # overloaded: a backlog of 10 s of 9 replicas' capacity
    assert env.action_mask()[env.action_deltas.index(-8)]
    obs, *_ = env.step(env.action_deltas.index(-8))
    assert env.observation_space.contains(obs), obs


def test_never_terminated_truncated_exactly_at_the_time_limit():
    env = AutoscalingEnv(_constant(200.0, 20), capacity_rps=MU, max_episode_steps=5)
    env.reset(seed=0)
    flags = [env.step(env.action_deltas.index(0))[2:4] for _ in range(5)]
    assert flags == [(False, False)] * 4 + [(False, True)]
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)

    # reset options: start and steps (steps overrides max_episode_steps)
    _, info = env.reset(seed=0, options={"start": 3, "steps": 4})
    assert info["step"] == 3
    steps, flags = [], []
    for _ in range(4):
        _, _, terminated, truncated, info = env.step(env.action_deltas.index(0))
        steps.append(info["step"])
        flags.append((terminated, truncated))
    assert steps == [3, 4, 5, 6]
    assert flags == [(False, False)] * 3 + [(False, True)]
    assert env.episode_metrics()["steps"] == 4

    # an episode ends at the trace's end, before max_episode_steps
    env.reset(seed=0, options={"start": 17})
    flags = [env.step(env.action_deltas.index(0))[3] for _ in range(3)]
    assert flags == [False, False, True]

    # without any limit: the whole trace
    env = AutoscalingEnv(_constant(200.0, 20), capacity_rps=MU)
    env.reset(seed=0)
    truncs = [env.step(0)[3] for _ in range(20)]
    assert truncs == [False] * 19 + [True]


def test_reset_rejects_bad_options():
    env = AutoscalingEnv(_constant(200.0, 10), capacity_rps=MU)
    with pytest.raises(ValueError, match="unknown key"):
        env.reset(options={"begin": 1})
    with pytest.raises(ValueError, match="start"):
        env.reset(options={"start": 10})
    with pytest.raises(ValueError, match="steps"):
        env.reset(options={"steps": 0})


# --------------------------------------------------------------------------- the model by hand


def _hand_step(backlog, arrivals, ready_seconds, slo_ms, timeout_s, dt=DT):
    """One step of the documented model, written out: capacity, service, the drop rule and the p99."""
    capacity = MU * ready_seconds
    work = backlog + arrivals
    served = min(work, capacity)
    left = work - served
    rate_cap = capacity / dt
    dropped = max(0.0, left - timeout_s * rate_cap)
    left -= dropped
    util = served / capacity
    p99 = min(mm1_latency_ms(min(util, 0.98), MU) + 1000.0 * left / rate_cap, 60_000.0)
    return served, dropped, left, util, p99, p99 > slo_ms


def test_model_matches_a_hand_computation():
    rate, slo, timeout = 450.0, 250.0, 10.0
    schedule = [5, 5, 4, 4, 6, 8, 8, 3, 3, 10, 10, 5, 1]
    env = AutoscalingEnv(
        _constant(rate, len(schedule)),
        capacity_rps=MU,
        slo_ms=slo,
        queue_timeout_s=timeout,
        readiness_delay_s=0.0,
        initial_replicas=5,
    )
    env.reset(seed=3)
    backlog = 0.0
    totals = dict(cost=0.0, violations=0, arrived=0.0, dropped=0.0)
    saw = set()
    for n in schedule:
        _, _, _, _, info = env.step_target(n)
        arrivals = info["arrivals"]
        assert _poisson_ok(arrivals, rate)
        served, dropped, backlog, util, p99, violation = _hand_step(backlog, arrivals, n * DT, slo, timeout)
        assert served == pytest.approx(min(info["backlog"] + served + info["dropped"], n * MU * DT))
        assert info["ready_replicas"] == n
        assert info["pending_replicas"] == 0
        assert info["utilization"] == pytest.approx(util, rel=1e-12)
        assert info["dropped"] == pytest.approx(dropped, rel=1e-12, abs=1e-9)
        assert info["backlog"] == pytest.approx(backlog, rel=1e-12, abs=1e-9)
        assert info["latency_p99"] == pytest.approx(p99, rel=1e-12)
        assert info["violation"] is violation
        assert info["billed_replicas"] == n
        totals["cost"] += n * 1.0
        totals["violations"] += violation
        totals["arrived"] += arrivals
        totals["dropped"] += dropped
        saw.add(("backlog" if backlog > 0 else "clear", "drop" if dropped > 0 else "keep", violation))
    # the schedule exercised the cases: cleared, a backlog kept, a backlog dropped; with and without violation
    assert {("clear", "keep", False), ("clear", "keep", True)} <= saw
    assert ("backlog", "keep", True) in saw
    assert ("backlog", "drop", True) in saw
    m = env.episode_metrics()
    assert m["cost_replica_minutes"] == pytest.approx(totals["cost"])
    assert m["minutes"] == len(schedule)
    assert m["violation_minutes"] == totals["violations"]
    assert m["violation_minutes_pct"] == pytest.approx(100.0 * totals["violations"] / len(schedule))
    assert m["arrived"] == pytest.approx(totals["arrived"])
    assert m["dropped"] == pytest.approx(totals["dropped"])
    assert m["drop_pct"] == pytest.approx(100.0 * totals["dropped"] / totals["arrived"])
    assert m["steps"] == len(schedule)
    assert m["scaling_actions"] == sum(a != b for a, b in zip([5, *schedule], schedule, strict=False))


def test_overload_numbers_written_out():
    """600 rps on 5 replicas: 30,000 served a minute, 10 s of capacity (5,000) kept, the rest dropped."""
    env = AutoscalingEnv(_constant(600.0, 3), capacity_rps=MU, initial_replicas=5, readiness_delay_s=0.0)
    env.reset(seed=0)
    info = env.step_target(5)[4]
    a = info["arrivals"]
    assert a > 35_000  # 36,000 expected; sd 190
    assert info["utilization"] == 1.0
    assert info["backlog"] == pytest.approx(5_000.0)
    assert info["dropped"] == pytest.approx(a - 30_000.0 - 5_000.0)
    # the p99 of a replica at the 0.98 cap (2302.6 ms) plus 10 s to clear the backlog
    assert info["latency_p99"] == pytest.approx(1000.0 * math.log(100.0) / (MU * 0.02) + 10_000.0)
    assert info["violation"] is True


def test_slo_threshold_decides_the_violation():
    # 300 rps on 4 replicas: utilisation ~0.75, p99 = ln(100) / (100 * 0.25) s ~ 184 ms
    for slo, expected in ((150.0, True), (250.0, False)):
        env = AutoscalingEnv(_constant(300.0, 5), capacity_rps=MU, slo_ms=slo, initial_replicas=4)
        env.reset(seed=0)
        for _ in range(5):
            info = env.step_target(4)[4]
            assert info["latency_p99"] == pytest.approx(mm1_latency_ms(info["arrivals"] / (4 * MU * DT), MU))
            assert info["violation"] is expected


@pytest.mark.parametrize("pending_costs", [True, False])
def test_cost_bills_pending_replicas_only_with_pending_costs(pending_costs):
    env = AutoscalingEnv(
        _constant(100.0, 8),
        capacity_rps=MU,
        readiness_delay_s=300.0,  # pending for 5 steps
        initial_replicas=2,
        pending_costs=pending_costs,
    )
    env.reset(seed=0)
    billed = []
    for _ in range(4):
        info = env.step_target(6)
        info = info[4]
        assert (info["ready_replicas"], info["pending_replicas"]) == (2, 4)
        billed.append(info["billed_replicas"])
    expected = 6 if pending_costs else 2
    assert billed == [expected] * 4
    assert env.episode_metrics()["cost_replica_minutes"] == pytest.approx(4 * expected)


def test_pending_costs_false_bills_replicas_once_ready():
    env = AutoscalingEnv(
        _constant(100.0, 4), capacity_rps=MU, readiness_delay_s=120.0, initial_replicas=2, pending_costs=False
    )
    env.reset(seed=0)
    infos = [env.step_target(6)[4] for _ in range(4)]
    assert [i["ready_replicas"] for i in infos] == [2, 2, 6, 6]
    assert env.episode_metrics()["cost_replica_minutes"] == pytest.approx(2 + 2 + 6 + 6)


def test_readiness_shorter_than_a_step_counts_half_the_capacity():
    # 2 ready, 4 ordered at the start of the step, ready 30 s into a 60 s step
    env = AutoscalingEnv(_constant(100.0, 4), capacity_rps=MU, readiness_delay_s=30.0, initial_replicas=2)
    env.reset(seed=0)
    info = env.step_target(6)[4]
    assert (info["ready_replicas"], info["pending_replicas"]) == (6, 0)
    assert info["utilization"] == pytest.approx(info["arrivals"] / (MU * (2 * DT + 4 * 30.0)))
    info = env.step_target(6)[4]
    assert info["utilization"] == pytest.approx(info["arrivals"] / (MU * 6 * DT))


@pytest.mark.parametrize(("delay", "pending_steps"), [(60.0, 1), (120.0, 2), (0.0, 0)])
def test_readiness_longer_than_a_step_keeps_replicas_pending(delay, pending_steps):
    env = AutoscalingEnv(_constant(100.0, 5), capacity_rps=MU, readiness_delay_s=delay, initial_replicas=2)
    env.reset(seed=0)
    infos = [env.step_target(6)[4] for _ in range(4)]
    for k, info in enumerate(infos):
        ready = 2 if k < pending_steps else 6
        assert (info["ready_replicas"], info["pending_replicas"]) == (ready, 6 - ready)
        assert info["utilization"] == pytest.approx(info["arrivals"] / (MU * ready * DT))
        assert info["billed_replicas"] == 6  # pending_costs=True by default
    # the order was placed once
    assert [i["delta"] for i in infos] == [4, 0, 0, 0]


# ------------------------------------------------------------------ missing values and exclusions


def test_missing_values_hold_the_previous_rate():
    trace = pd.Series([100.0, 200.0, np.nan, np.nan, 400.0, np.nan], index=_index(6))
    env = AutoscalingEnv(trace, capacity_rps=MU, initial_replicas=8)
    env.reset(seed=0)
    held = [100.0, 200.0, 200.0, 200.0, 400.0, 400.0]
    for k, rate in enumerate(held):
        info = env.step_target(8)[4]
        assert info["missing"] is bool(np.isnan(trace.iloc[k]))
        assert info["excluded"] is info["missing"]
        assert info["request_rate"] == rate
        assert info["arrivals"] > 0
        assert _poisson_ok(info["arrivals"], rate)
    np.testing.assert_array_equal(env.missing, np.isnan(trace.to_numpy()))
    assert env.episode_metrics()["minutes"] == 3.0


def test_leading_missing_values_are_not_zero():
    trace = pd.Series([np.nan, np.nan, 300.0, 300.0], index=_index(4))
    env = AutoscalingEnv(trace, capacity_rps=MU)
    env.reset(seed=0)
    infos = [env.step_target(6)[4] for _ in range(4)]
    assert [i["missing"] for i in infos] == [True, True, False, False]
    assert all(i["arrivals"] > 0 and i["request_rate"] == 300.0 for i in infos)


def test_missing_and_excluded_steps_leave_every_denominator():
    n = 30
    rng = np.random.default_rng(5)
    values = rng.uniform(200.0, 900.0, n)
    missing = np.zeros(n, bool)
    missing[[3, 4, 20]] = True
    excluded = np.zeros(n, bool)
    excluded[[10, 11, 12, 20, 25]] = True
    trace = pd.Series(np.where(missing, np.nan, values), index=_index(n))
    env = AutoscalingEnv(
        trace,
        capacity_rps=MU,
        readiness_delay_s=0.0,
        excluded=pd.Series(excluded, index=trace.index),
    )
    np.testing.assert_array_equal(env.excluded, missing | excluded)
    env.reset(seed=11)
    counted = ~(missing | excluded)
    infos = []
    for k in range(n):
        # starve the left-out steps, so that counting them would show in every metric
        target = 1 if not counted[k] else int(rng.integers(4, 12))
        infos.append(env.step_target(target)[4])
    assert [i["excluded"] for i in infos] == list(~counted)
    assert [i["missing"] for i in infos] == list(missing)
    kept = [i for i, c in zip(infos, counted, strict=True) if c]
    minutes = float(len(kept))
    violation_minutes = float(sum(i["violation"] for i in kept))
    arrived = sum(i["arrivals"] for i in kept)
    dropped = sum(i["dropped"] for i in kept)
    expected = {
        "cost_replica_minutes": float(sum(i["billed_replicas"] for i in kept)),
        "minutes": minutes,
        "violation_minutes": violation_minutes,
        "violation_minutes_pct": 100.0 * violation_minutes / minutes,
        "arrived": arrived,
        "dropped": dropped,
        "drop_pct": 100.0 * dropped / arrived,
        "scaling_actions": sum(i["delta"] != 0 for i in infos),  # actions count on every step
        "steps": n,
    }
    got = env.episode_metrics()
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
    # the left-out steps were violating and dropping: counting them would have changed the metrics
    left_out = [i for i, c in zip(infos, counted, strict=True) if not c]
    assert all(i["violation"] for i in left_out)
    assert sum(i["dropped"] for i in left_out) > 0


def test_time_weighting_one_and_five_minute_grids_compare():
    # two hours: 1000 rps (p99 ~138 ms on 15 replicas), then 1300 rps (p99 ~345 ms): half the time violating
    one = pd.Series(np.r_[np.full(60, 1000.0), np.full(60, 1300.0)], index=_index(120))
    five = one.resample("5min").mean()
    assert len(five) == 24
    results = []
    for trace in (one, five):
        env = AutoscalingEnv(trace, capacity_rps=MU, initial_replicas=15)
        env.reset(seed=0)
        truncated = False
        while not truncated:
            truncated = env.step_target(15)[3]
        results.append(env.episode_metrics())
    m1, m5 = results
    assert m1["steps"] == 120
    assert m5["steps"] == 24
    assert m1["minutes"] == m5["minutes"] == 120.0
    assert m1["cost_replica_minutes"] == m5["cost_replica_minutes"] == 15 * 120.0
    assert m1["violation_minutes_pct"] == m5["violation_minutes_pct"] == 50.0
    assert m1["violation_minutes"] == m5["violation_minutes"] == 60.0
    assert m1["arrived"] == pytest.approx(m5["arrived"], rel=0.01)


def test_a_gap_in_the_index_becomes_missing_steps_on_the_grid():
    full = _index(30)
    keep = np.r_[0:10, 15:30]
    trace = pd.Series(np.linspace(100.0, 400.0, 30)[keep], index=full[keep])
    env = AutoscalingEnv(trace, capacity_rps=MU, initial_replicas=10)
    assert env.n_steps == 30
    assert env.step_seconds == 60.0
    assert list(env.index) == list(full)
    np.testing.assert_array_equal(np.flatnonzero(env.missing), np.arange(10, 15))
    env.reset(seed=0)
    infos = [env.step_target(10)[4] for _ in range(30)]
    assert [i["timestamp"] for i in infos] == list(full.to_pydatetime())
    assert [i["missing"] for i in infos] == [10 <= k < 15 for k in range(30)]
    assert all(i["request_rate"] == trace.iloc[9] for i in infos[10:15])  # held, not zero
    assert env.episode_metrics()["minutes"] == 25.0


# ----------------------------------------------------------------------------------------- actions


def test_action_mask_follows_the_replica_bounds():
    env = AutoscalingEnv(
        _constant(100.0, 10), capacity_rps=MU, min_replicas=2, max_replicas=10, initial_replicas=3
    )
    env.reset(seed=0)
    deltas = np.array(env.action_deltas)
    np.testing.assert_array_equal(env.action_mask(), (3 + deltas >= 2) & (3 + deltas <= 10))
    assert list(deltas[env.action_mask()]) == [-1, 0, 1, 2, 4]
    # pending replicas count: 3 ready + 4 ordered
    env2 = AutoscalingEnv(
        _constant(100.0, 10),
        capacity_rps=MU,
        min_replicas=2,
        max_replicas=10,
        initial_replicas=3,
        readiness_delay_s=600.0,
    )
    env2.reset(seed=0)
    env2.step(env2.action_deltas.index(4))
    assert (env2.ready_replicas, env2.pending_replicas) == (3, 4)
    np.testing.assert_array_equal(env2.action_mask(), (7 + deltas >= 2) & (7 + deltas <= 10))


def test_out_of_bounds_deltas_are_clipped():
    env = AutoscalingEnv(
        _constant(100.0, 10),
        capacity_rps=MU,
        min_replicas=2,
        max_replicas=10,
        initial_replicas=3,
        readiness_delay_s=0.0,
    )
    env.reset(seed=0)
    info = env.step(env.action_deltas.index(-8))[4]
    assert (info["delta"], info["ready_replicas"]) == (-1, 2)
    info = env.step_target(1000)[4]
    assert (info["delta"], info["ready_replicas"]) == (8, 10)
    info = env.step(env.action_deltas.index(8))[4]
    assert (info["delta"], info["ready_replicas"]) == (0, 10)
    info = env.step_target(-5)[4]
    assert (info["delta"], info["ready_replicas"]) == (-8, 2)


@pytest.mark.parametrize("action", [1.0, "1", True, None, -1, 9, np.int64(9), [1], np.array(1.0)])
def test_invalid_actions_raise_value_error(action):
    env = AutoscalingEnv(_constant(100.0, 5), capacity_rps=MU)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(action)


def test_numpy_integer_actions_are_accepted():
    env = AutoscalingEnv(_constant(100.0, 5), capacity_rps=MU)
    env.reset(seed=0)
    assert env.step(np.int64(4))[4]["delta"] == 0


def test_removal_takes_pending_replicas_first_latest_first():
    env = AutoscalingEnv(_constant(100.0, 12), capacity_rps=MU, readiness_delay_s=300.0, initial_replicas=3)
    env.reset(seed=0)
    info = env.step_target(5)[4]  # step 0: +2, ready at step 5
    assert (info["ready_replicas"], info["pending_replicas"]) == (3, 2)
    info = env.step_target(8)[4]  # step 1: +3, ready at step 6
    assert (info["ready_replicas"], info["pending_replicas"]) == (3, 5)
    info = env.step_target(4)[4]  # step 2: -4 takes the 3 of step 1, then 1 of step 0
    assert (info["delta"], info["ready_replicas"], info["pending_replicas"]) == (-4, 3, 1)
    ready = [env.step_target(4)[4]["ready_replicas"] for _ in range(4)]  # steps 3..6
    # the replica left is step 0's: ready at step 5, not step 6
    assert ready == [3, 3, 4, 4]
    # removing more than pending takes ready replicas at once
    info = env.step_target(1)[4]
    assert (info["delta"], info["ready_replicas"], info["pending_replicas"]) == (-3, 1, 0)


# -------------------------------------------------------------------------------------- validation

_GOOD = _constant(100.0, 10)


@pytest.mark.parametrize(
    ("trace", "kwargs", "error", "name"),
    [
        ([1.0, 2.0], {}, TypeError, "trace"),
        (np.ones(5), {}, TypeError, "trace"),
        (pd.DataFrame({"r": _GOOD}), {}, TypeError, "trace"),
        (pd.Series([1.0, 2.0, 3.0]), {}, TypeError, "trace"),
        (_GOOD.iloc[:1], {}, ValueError, "trace"),
        (_GOOD.where(_GOOD.index != _GOOD.index[3], -1.0), {}, ValueError, "trace"),
        (_GOOD.where(_GOOD.index != _GOOD.index[3], np.inf), {}, ValueError, "trace"),
        (_GOOD * np.nan, {}, ValueError, "trace"),
        (_GOOD.iloc[::-1], {}, ValueError, "trace"),
        (pd.Series(1.0, index=_GOOD.index[[0, 1, 1, 2]]), {}, ValueError, "trace"),
        (_GOOD, {"capacity_rps": 0.0}, ValueError, "capacity_rps"),
        (_GOOD, {"capacity_rps": -1.0}, ValueError, "capacity_rps"),
        (_GOOD, {"capacity_rps": float("inf")}, ValueError, "capacity_rps"),
        (_GOOD, {"capacity_rps": float("nan")}, ValueError, "capacity_rps"),
        (_GOOD, {"slo_ms": -5.0}, ValueError, "slo_ms"),
        (_GOOD, {"slo_ms": float("inf")}, ValueError, "slo_ms"),
        (_GOOD, {"queue_timeout_s": -1.0}, ValueError, "queue_timeout_s"),
        (_GOOD, {"readiness_delay_s": -1.0}, ValueError, "readiness_delay_s"),
        (_GOOD, {"readiness_delay_s": float("inf")}, ValueError, "readiness_delay_s"),
        (_GOOD, {"peak_rps": -3.0}, ValueError, "peak_rps"),
        (_GOOD, {"peak_rps": float("inf")}, ValueError, "peak_rps"),
        (_GOOD, {"peak_rps": "x"}, TypeError, "peak_rps"),
        (_GOOD, {"min_replicas": 0}, ValueError, "min_replicas"),
        (_GOOD, {"min_replicas": 1.5}, TypeError, "min_replicas"),
        (_GOOD, {"min_replicas": 5, "max_replicas": 3}, ValueError, "max_replicas"),
        (_GOOD, {"initial_replicas": 200}, ValueError, "initial_replicas"),
        (_GOOD, {"initial_replicas": 0}, ValueError, "initial_replicas"),
        (_GOOD, {"pending_costs": 1}, TypeError, "pending_costs"),
        (_GOOD, {"action_deltas": ()}, ValueError, "action_deltas"),
        (_GOOD, {"action_deltas": (0, 1, 1)}, ValueError, "action_deltas"),
        (_GOOD, {"action_deltas": (0, 1.5)}, TypeError, "action_deltas"),
        (_GOOD, {"action_deltas": (0, True)}, TypeError, "action_deltas"),
        (_GOOD, {"action_deltas": "ab"}, TypeError, "action_deltas"),
        (_GOOD, {"w_slo": -1.0}, ValueError, "w_slo"),
        (_GOOD, {"w_drop": float("nan")}, ValueError, "w_drop"),
        (_GOOD, {"w_churn": -0.1}, ValueError, "w_churn"),
        (_GOOD, {"max_episode_steps": 0}, ValueError, "max_episode_steps"),
        (_GOOD, {"max_episode_steps": 2.5}, TypeError, "max_episode_steps"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(trace, kwargs, error, name):
    with pytest.raises(error, match=f"'{name}'"):
        AutoscalingEnv(trace, **kwargs)


def test_excluded_as_an_array_is_honoured_or_rejected():
    excluded = np.zeros(10, bool)
    excluded[:5] = True
    try:
        env = AutoscalingEnv(_GOOD, excluded=excluded)
    except (TypeError, ValueError) as exc:
        message = str(exc)
        env = None
    if env is None:
        assert "excluded" in message  # rejected, naming the argument
    else:
        assert env.excluded.sum() == 5  # or honoured, position by position


def test_excluded_series_is_aligned_on_the_trace_index():
    excluded = pd.Series(np.arange(10) < 5, index=_GOOD.index)
    env = AutoscalingEnv(_GOOD, excluded=excluded)
    np.testing.assert_array_equal(env.excluded, np.arange(10) < 5)
    # another resolution of the same instants aligns too
    env = AutoscalingEnv(_GOOD, excluded=pd.Series(excluded.to_numpy(), index=_GOOD.index.as_unit("s")))
    assert env.excluded.sum() == 5


# --------------------------------------------------------------------------------- optional extras

_NO_GYM = r"""
import importlib.abc, json, sys

class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "gymnasium" or name.startswith("gymnasium."):
            raise ImportError(f"blocked {name}")
        return None

sys.meta_path.insert(0, _Block())
import numpy as np
import pandas as pd
from autoopt.sim import AutoscalingEnv
from autoopt.policy import HPAPolicy, evaluate_policy

trace = pd.Series(300.0 + 200.0 * np.sin(np.arange(60) / 6.0),
                  index=pd.date_range("2026-01-01", periods=60, freq="min", tz="UTC"))
trace.iloc[5] = np.nan
env = AutoscalingEnv(trace, capacity_rps=100.0, max_replicas=20)
assert "gymnasium" not in sys.modules
obs, info = env.reset(seed=0)
assert obs.dtype == np.float32 and env.observation_space.contains(obs)
first = []
truncated = False
while not truncated:
    action = env.action_space.sample(mask=env.action_mask())
    assert env.action_space.contains(action)
    obs, reward, terminated, truncated, info = env.step(action)
    assert terminated is False and env.observation_space.contains(obs)
    first.append(info["arrivals"])
env.reset(seed=0)
again = [env.step(env.action_deltas.index(0))[4]["arrivals"] for _ in range(60)]
assert again == first, "reset(seed=) must reproduce the arrivals without Gymnasium"
metrics = env.episode_metrics()
result = evaluate_policy(HPAPolicy(0.5), env, seed=0)
assert "gymnasium" not in sys.modules
print(json.dumps({"metrics": metrics, "cost_vs_oracle": result.cost_vs_oracle,
                  "n": int(env.action_space.n), "type": type(env.action_space).__name__}))
"""


def test_env_works_without_gymnasium():
    proc = subprocess.run([sys.executable, "-c", _NO_GYM], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["n"] == 9
    assert out["type"] == "_Discrete"
    assert out["metrics"]["steps"] == 60
    assert out["metrics"]["minutes"] == 59.0
    assert out["cost_vs_oracle"] > 0


def test_importing_autoopt_does_not_import_gymnasium_or_torch():
    code = (
        "import json, sys\n"
        "heavy = lambda: sorted(m for m in sys.modules if m.split('.')[0] in ('gymnasium', 'torch'))\n"
        "import autoopt\n"
        "alone = heavy()\n"
        "import autoopt.sim, autoopt.policy\n"
        "print(json.dumps([alone, heavy()]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    alone, with_sim_and_policy = json.loads(proc.stdout.strip().splitlines()[-1])
    assert alone == []
    assert with_sim_and_policy == []  # AutoscalingEnv (and Gymnasium) load on first use


# ---------------------------------------------------------------------------------------- speed


@pytest.mark.slow
def test_full_nasa_trace_replays_with_the_hpa():
    from autoopt.policy import HPAPolicy, evaluate_policy

    nasa = load_nasa_trace()
    assert len(nasa) == 89_280
    env = AutoscalingEnv(
        nasa["requests"], peak_rps=6000, max_replicas=150, excluded=nasa["status"] == "outage"
    )
    assert env.n_steps == 89_280
    assert env.peak_rps == pytest.approx(6000.0)
    result = evaluate_policy(HPAPolicy(0.5), env, seed=0)
    left_out = int(((nasa["status"] == "outage") | nasa["requests"].isna()).sum())
    assert result.steps == 89_280
    assert result.minutes == 89_280 - left_out
    assert result.cost_vs_oracle > 1.0
    assert 0.0 <= result.violation_minutes_pct < 100.0
    assert 0.0 <= result.drop_pct < 100.0
    assert result.scaling_actions > 0
    assert math.isfinite(result.wall_seconds)  # recorded, not asserted on
