"""Tests for autoopt.learning.PatternLearner."""

from __future__ import annotations

import math
import random
import threading
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoopt._clock import ManualClock, to_datetime
from autoopt.learning import PatternLearner, pattern_key
from autoopt.models import LearningPattern


def ew_reference(outcomes: list[bool], alpha: float) -> float:
    """Closed form: sum_i d^(n-i) s_i / sum_i d^(n-i) with d = 1 - alpha."""
    n = len(outcomes)
    d = 1.0 - alpha
    w = np.array([d ** (n - 1 - i) for i in range(n)])
    return float(np.dot(w, np.array(outcomes, dtype=float)) / w.sum())


# ------------------------------------------------------------------------ keys

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.text(max_size=5))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


def reorder(value: Any, rnd: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: reorder(v, rnd) for k, v in items}
    if isinstance(value, list):
        return [reorder(v, rnd) for v in value]
    return value


@settings(max_examples=100, deadline=None)
@given(conditions=st.dictionaries(st.text(max_size=6), json_values, max_size=5), seed=st.integers(0, 10**6))
def test_key_order_independence(conditions: dict[str, Any], seed: int) -> None:
    shuffled = reorder(conditions, random.Random(seed))
    assert pattern_key(shuffled) == pattern_key(conditions)
    learner = PatternLearner(min_samples=1)
    learner.record_observation(conditions, "a", True)
    learner.record_observation(shuffled, "a", True)
    assert learner.get_learning_stats()["patterns"] == 1
    assert learner.get_recommended_action(reorder(conditions, random.Random(seed + 1))) == ("a", 1.0)


def test_numpy_scalars_and_tuples_normalise() -> None:
    assert pattern_key(
        {"n": np.int64(3), "x": np.float64(0.5), "b": np.bool_(True), "t": (1, 2)}
    ) == pattern_key({"t": [1, 2], "b": True, "x": 0.5, "n": 3})


def test_pattern_fields() -> None:
    clock = ManualClock(1_700_000_000.0)
    learner = PatternLearner(clock=clock, min_samples=2)
    learner.record_observation({"time": "peak", "load": "high", "replicas": 3}, "scale_up", True)
    clock.advance(10)
    learner.record_observation({"load": "high", "replicas": 3, "time": "peak"}, "scale_up", True)
    [p] = learner.get_patterns(min_samples=2)
    assert isinstance(p, LearningPattern)
    assert p.name == "load=high, replicas=3, time=peak"
    assert p.conditions == {"load": "high", "replicas": 3, "time": "peak"}
    assert len(p.pattern_id) == 16
    int(p.pattern_id, 16)
    assert p.optimal_action == "scale_up"
    assert p.success_rate == 1.0
    assert p.sample_count == 2
    assert p.last_updated == to_datetime(1_700_000_010.0)
    # stable across instances (a hash of the canonical key, not of object identity)
    other = PatternLearner(min_samples=1)
    other.record_observation({"replicas": 3, "time": "peak", "load": "high"}, "x", True)
    assert other.get_patterns(min_samples=1)[0].pattern_id == p.pattern_id
    # returned conditions are a copy
    p.conditions["load"] = "low"
    assert learner.get_patterns(min_samples=2)[0].conditions["load"] == "high"


# ----------------------------------------------------------------- EW scores


@settings(max_examples=100, deadline=None)
@given(
    outcomes=st.lists(st.booleans(), min_size=1, max_size=80),
    noise=st.lists(st.booleans(), max_size=80),
    alpha=st.floats(0.01, 1.0),
)
def test_per_action_score_is_closed_form_weighted_mean(
    outcomes: list[bool], noise: list[bool], alpha: float
) -> None:
    learner = PatternLearner(alpha=alpha, min_samples=1)
    cond = {"load": "high"}
    # interleave another action's outcomes: they must not leak into "a"'s score
    for i, ok in enumerate(outcomes):
        learner.record_observation(cond, "a", ok)
        if i < len(noise):
            learner.record_observation(cond, "b", noise[i])
    expected = ew_reference(outcomes, alpha)
    got = {p.optimal_action: p for p in learner.get_patterns(min_samples=1)}
    rec = learner.get_recommended_action(cond)
    assert rec is not None
    scores = {"a": expected}
    used_noise = noise[: len(outcomes)]
    if used_noise:
        scores["b"] = ew_reference(used_noise, alpha)
    best = min(scores, key=lambda a: (-scores[a], -len(outcomes if a == "a" else used_noise), a))
    assert rec[0] == best
    assert rec[1] == pytest.approx(scores[best], rel=1e-12, abs=1e-12)
    assert got[best].sample_count == (len(outcomes) if best == "a" else len(used_noise))


def test_all_successes_score_exactly_one_and_alternating_exact() -> None:
    learner = PatternLearner(alpha=0.3, min_samples=1)
    for _ in range(50):
        learner.record_observation({"k": 1}, "good", True)
    assert learner.get_recommended_action({"k": 1}) == ("good", 1.0)
    alt = [i % 2 == 0 for i in range(9)]
    for ok in alt:
        learner.record_observation({"k": 2}, "alt", ok)
    rec = learner.get_recommended_action({"k": 2})
    assert rec is not None
    assert rec[1] == pytest.approx(ew_reference(alt, 0.3), rel=1e-14)


# ---------------------------------------------------------- recommendations


def test_best_action_wins_not_last() -> None:
    learner = PatternLearner()
    cond = {"load": "high"}
    for _ in range(10):
        learner.record_observation(cond, "A", False)
    for _ in range(10):
        learner.record_observation(cond, "B", True)
    assert learner.get_recommended_action(cond) == ("B", 1.0)
    # one more failure of A (the most recent observation) changes nothing
    learner.record_observation(cond, "A", False)
    assert learner.get_recommended_action(cond) == ("B", 1.0)


def test_frequent_success_beats_recent_single_success() -> None:
    learner = PatternLearner()
    cond = {"load": "high", "time": "peak"}
    for i in range(20):
        learner.record_observation(cond, "scale_up", i != 7)  # 19 of 20
    for _ in range(4):
        learner.record_observation(cond, "restart", False)
    learner.record_observation(cond, "restart", True)  # the last observation is a success of "restart"
    rec = learner.get_recommended_action(cond)
    assert rec is not None
    assert rec[0] == "scale_up"
    assert rec[1] > 0.9
    # a single recent success does not even qualify
    learner.record_observation(cond, "failover", True)
    assert learner.get_recommended_action(cond)[0] == "scale_up"  # type: ignore[index]


def test_ties_go_to_more_samples_then_alphabetical() -> None:
    learner = PatternLearner()
    cond = {"x": 1}
    for _ in range(5):
        learner.record_observation(cond, "few", True)
    for _ in range(8):
        learner.record_observation(cond, "many", True)
    assert learner.get_recommended_action(cond) == ("many", 1.0)
    cond2 = {"x": 2}
    for name in ("zeta", "beta", "alpha"):
        for _ in range(5):
            learner.record_observation(cond2, name, True)
    assert learner.get_recommended_action(cond2) == ("alpha", 1.0)
    [p] = [p for p in learner.get_patterns() if p.conditions == cond2]
    assert p.optimal_action == "alpha"


def test_min_samples_threshold() -> None:
    learner = PatternLearner(min_samples=5)
    cond = {"load": "low"}
    assert learner.get_recommended_action(cond) is None
    for i in range(4):
        learner.record_observation(cond, "noop", True)
        assert learner.get_recommended_action(cond) is None, i
    assert learner.get_patterns() == []
    assert [p.optimal_action for p in learner.get_patterns(min_samples=4)] == ["noop"]
    learner.record_observation(cond, "noop", True)
    assert learner.get_recommended_action(cond) == ("noop", 1.0)
    assert len(learner.get_patterns()) == 1
    assert learner.get_patterns(min_samples=6) == []


def test_get_patterns_uses_its_own_min_samples() -> None:
    learner = PatternLearner(min_samples=5)
    cond = {"a": "b"}
    for _ in range(3):
        learner.record_observation(cond, "x", True)  # 3 samples, score 1.0
    for _ in range(6):
        learner.record_observation(cond, "y", False)  # 6 samples, score 0.0
    assert learner.get_recommended_action(cond) == ("y", 0.0)
    assert [p.optimal_action for p in learner.get_patterns(min_samples=3)] == ["x"]
    assert [p.optimal_action for p in learner.get_patterns(min_samples=5)] == ["y"]


# -------------------------------------------------------------- bounded state


def test_total_observations_beyond_history_size() -> None:
    clock = ManualClock(0.0)
    learner = PatternLearner(history_size=10, clock=clock)
    for i in range(25):
        clock.advance(1)
        learner.record_observation({"i": i % 3}, "act", i % 5 != 0)
    stats = learner.get_learning_stats()
    assert stats["total_observations"] == 25
    assert stats["history_size"] == 10
    assert stats["overall_success_rate"] == pytest.approx(20 / 25)
    recent = learner.get_recent_observations(limit=100)
    assert len(recent) == 10
    assert [o["timestamp"] for o in recent] == [to_datetime(float(t)) for t in range(16, 26)]
    assert [o["success"] for o in learner.get_recent_observations(limit=2)] == [24 % 5 != 0, True]


def test_lru_eviction() -> None:
    learner = PatternLearner(max_patterns=3, min_samples=1)
    for p in ("p1", "p2", "p3"):
        learner.record_observation({"p": p}, "act", True)
        learner.record_observation({"p": p}, "other", False)
    assert learner.get_recommended_action({"p": "p1"}) is not None  # touches p1
    learner.record_observation({"p": "p4"}, "act", True)  # evicts p2, the least recently used
    assert learner.get_recommended_action({"p": "p2"}) is None
    assert {p.conditions["p"] for p in learner.get_patterns(min_samples=1)} == {"p1", "p3", "p4"}
    stats = learner.get_learning_stats()
    assert stats["patterns"] == 3
    assert stats["pattern_action_pairs"] == 5
    assert stats["evicted_patterns"] == 1
    assert stats["total_observations"] == 7
    # an evicted pattern starts from scratch
    learner.record_observation({"p": "p2"}, "act", False)
    assert learner.get_recommended_action({"p": "p2"}) == ("act", 0.0)


def test_stats_keys() -> None:
    learner = PatternLearner(alpha=0.2, min_samples=3)
    stats = learner.get_learning_stats()
    assert stats["total_observations"] == 0
    assert stats["overall_success_rate"] is None
    assert stats["mode"] == "online"
    assert stats["alpha"] == 0.2
    assert stats["min_samples"] == 3


# ------------------------------------------------------------------ bad input

bad_conditions = st.one_of(
    st.just(None),
    st.just([("load", "high")]),
    st.just("load=high"),
    st.dictionaries(st.integers(), st.text(max_size=3), min_size=1, max_size=3),
    st.fixed_dictionaries({"load": st.sampled_from([{1, 2}, object(), b"hi", 1j, frozenset()])}),
    st.just({"nested": {"ok": 1, "x": {3}}}),
    st.fixed_dictionaries({"nested": st.just({5: "int key"})}),
    st.fixed_dictionaries({"x": st.sampled_from([math.nan, math.inf, -math.inf])}),
)


@settings(max_examples=100, deadline=None)
@given(
    case=st.one_of(
        st.tuples(bad_conditions, st.just("act"), st.just(True)),
        st.tuples(st.just({"load": "high"}), st.sampled_from(["", None, 3, b"act"]), st.just(True)),
        st.tuples(st.just({"load": "high"}), st.just("act"), st.sampled_from([1, 0, "True", None, 1.0])),
    )
)
def test_bad_input_raises_and_records_nothing(case: tuple[Any, Any, Any]) -> None:
    conditions, action, success = case
    learner = PatternLearner(min_samples=1)
    with pytest.raises((TypeError, ValueError), match="record_observation\\(\\) argument"):
        learner.record_observation(conditions, action, success)
    stats = learner.get_learning_stats()
    assert stats["total_observations"] == 0
    assert stats["patterns"] == 0
    assert stats["history_size"] == 0
    assert learner.get_patterns(min_samples=1) == []


def test_bad_key_message_names_the_key() -> None:
    learner = PatternLearner()
    with pytest.raises(TypeError, match="non-str key 5"):
        learner.record_observation({5: "x"}, "a", True)  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="\\['load'\\]"):
        learner.record_observation({"load": {1, 2}}, "a", True)
    with pytest.raises(TypeError, match="get_recommended_action\\(\\) argument 'conditions'"):
        learner.get_recommended_action("load=high")  # type: ignore[arg-type]


def test_numpy_bool_success_accepted() -> None:
    learner = PatternLearner(min_samples=1)
    learner.record_observation({"a": 1}, "x", np.bool_(True))  # type: ignore[arg-type]
    assert learner.get_recommended_action({"a": 1}) == ("x", 1.0)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 1.5}, "alpha"),
        ({"min_samples": 0}, "min_samples"),
        ({"history_size": 0}, "history_size"),
        ({"max_patterns": 0}, "max_patterns"),
    ],
)
def test_constructor_validation(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=f"PatternLearner\\(\\) argument '{name}'"):
        PatternLearner(**kwargs)


# --------------------------------------------------------------------- threads


def test_thread_hammer() -> None:
    threads_n, per_thread, slots = 8, 500, 10
    learner = PatternLearner(min_samples=1, history_size=1000)
    barrier = threading.Barrier(threads_n)

    def worker(k: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            slot = i % slots
            learner.record_observation({"slot": slot, "kind": "hammer"}, f"act{slot}", i % 4 != 0)
            if i % 25 == 0:
                learner.get_recommended_action({"kind": "hammer", "slot": slot})
                learner.get_learning_stats()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads_n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    total = threads_n * per_thread
    stats = learner.get_learning_stats()
    assert stats["total_observations"] == total
    assert stats["history_size"] == 1000
    assert stats["patterns"] == slots
    assert stats["pattern_action_pairs"] == slots
    assert stats["overall_success_rate"] == pytest.approx(
        threads_n * sum(1 for i in range(per_thread) if i % 4 != 0) / total
    )
    patterns = learner.get_patterns(min_samples=1)
    assert len(patterns) == slots
    assert len({p.pattern_id for p in patterns}) == slots
    for p in patterns:
        assert p.optimal_action == f"act{p.conditions['slot']}"
        assert p.sample_count == threads_n * per_thread // slots
        assert 0.0 <= p.success_rate <= 1.0


def test_conditions_record_the_same_as_the_dict():
    """A prepared Conditions is the same pattern as its dict, scores included (EWMean closed form)."""
    from autoopt.learning import Conditions

    a, b = PatternLearner(min_samples=1), PatternLearner(min_samples=1)
    prepared = Conditions({"provider": "m", "load_level": "high"})
    outcomes = [True, False, True, True, False]
    for ok in outcomes:
        a.record_observation({"load_level": "high", "provider": "m"}, "serve", ok)
        b.record_observation(prepared, "serve", ok)
    ra, rb = (
        a.get_recommended_action({"provider": "m", "load_level": "high"}),
        b.get_recommended_action(prepared.values),
    )
    d = 0.9
    w = [d ** (len(outcomes) - 1 - i) for i in range(len(outcomes))]
    expected = sum(wi * o for wi, o in zip(w, outcomes, strict=True)) / sum(w)
    assert ra == rb
    assert rb is not None
    assert rb[1] == pytest.approx(expected, rel=1e-12)
    assert [p.pattern_id for p in a.get_patterns(1)] == [p.pattern_id for p in b.get_patterns(1)]
    assert prepared.key == pattern_key({"load_level": "high", "provider": "m"})
    assert prepared == Conditions({"load_level": "high", "provider": "m"})
    assert len({prepared, prepared}) == 1
    with pytest.raises(ValueError, match="finite"):
        Conditions({"x": float("nan")})
    with pytest.raises(TypeError, match="must be a dict"):
        Conditions([("x", 1)])  # type: ignore[arg-type]
