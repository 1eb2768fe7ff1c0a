"""Online learning of which action works best under which conditions.

:class:`PatternLearner` keeps, for every condition pattern and every action
tried under it, an exponentially weighted success score
(:class:`~autoopt.core.EWMean`) and recommends the best-scoring action that has
been tried often enough.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import numbers
import threading
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from autoopt._clock import Clock, system_clock, to_datetime
from autoopt._validation import (
    check_int,
    check_limit,
    check_real,
    check_size,
    check_str,
    check_sync_callable,
    safe_repr,
)
from autoopt.core import EWMean
from autoopt.enums import LearningMode
from autoopt.models import LearningPattern

__all__ = ["Conditions", "PatternLearner", "pattern_key"]

logger = logging.getLogger(__name__)


MAX_CONDITION_DEPTH = 32
"""Deepest nesting of lists and dicts a condition value may have."""


def _normalise(value: Any, where: str, depth: int = 0) -> Any:
    """``value`` as plain JSON data (numpy scalars unwrapped, tuples as lists), or raise."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        x = float(value)
        if not math.isfinite(x):
            raise ValueError(f"{where} must be a finite number; got {value!r}.")
        return x
    if isinstance(value, (Mapping, list, tuple)) and depth >= MAX_CONDITION_DEPTH:
        raise ValueError(
            f"{where} is nested more than {MAX_CONDITION_DEPTH} levels deep (lists and dicts); "
            "conditions are meant to be small records."
        )
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(
                    f"{where} has a non-str key {k!r} of type {type(k).__name__}; keys must be str."
                )
            out[k] = _normalise(v, f"{where}[{k!r}]", depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [_normalise(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    raise TypeError(
        f"{where} must be JSON-serialisable (None, bool, int, float, str, list or dict); "
        f"got {safe_repr(value)} of type {type(value).__name__}."
    )


def pattern_key(conditions: Mapping[str, Any], name: str = "conditions") -> str:
    """The canonical key of a condition dict: compact JSON with sorted keys.

    Key order does not matter; NumPy scalars count as the Python numbers
    they hold and tuples as lists. An int and the equal float are different
    values here (``1`` vs ``1.0``), as they are in JSON.

    Raises
    ------
    TypeError
        If ``conditions`` is not a dict, a key is not a str, or a value is
        not JSON data.
    ValueError
        If a number is NaN or infinite.

    Examples
    --------
    >>> from autoopt.learning import pattern_key
    >>> pattern_key({"time": "peak", "load": "high"})
    '{"load":"high","time":"peak"}'
    """
    return _canonical(conditions, name)[0]


def _canonical(conditions: Any, name: str) -> tuple[str, dict[str, Any]]:
    if not isinstance(conditions, Mapping):
        raise TypeError(f"{name} must be a dict; got {conditions!r} of type {type(conditions).__name__}.")
    normalised = _normalise(conditions, name)
    key = json.dumps(normalised, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return key, normalised


class Conditions:
    """A condition dict validated and canonicalised once, to record under many times.

    :meth:`PatternLearner.record_observation` accepts one in place of a dict
    and then skips the validation and the JSON key building, which are most
    of its cost. Code on a request path that records under the same few
    condition sets (a provider, per load level) builds each once.

    Parameters
    ----------
    conditions : dict
        As for :meth:`PatternLearner.record_observation`.

    Raises
    ------
    TypeError, ValueError
        As :func:`pattern_key` does.

    Examples
    --------
    >>> from autoopt.learning import Conditions, PatternLearner
    >>> busy = Conditions({"load": "high", "provider": "m"})
    >>> busy.key
    '{"load":"high","provider":"m"}'
    >>> learner = PatternLearner(min_samples=1)
    >>> learner.record_observation(busy, "serve", True)
    >>> learner.get_recommended_action({"provider": "m", "load": "high"})
    ('serve', 1.0)
    """

    __slots__ = ("_key", "_values")

    def __init__(self, conditions: Mapping[str, Any]) -> None:
        self._key, self._values = _canonical(conditions, "Conditions() argument 'conditions'")

    @property
    def key(self) -> str:
        """:func:`pattern_key` of the conditions."""
        return self._key

    @property
    def values(self) -> dict[str, Any]:
        """The conditions as plain JSON data (a copy)."""
        return json.loads(self.key)

    def __repr__(self) -> str:
        return f"Conditions({self.key})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Conditions) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)


def _pattern_id(key: str) -> str:
    return hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()


def _pattern_name(conditions: Mapping[str, Any]) -> str:
    if not conditions:
        return "(any)"
    parts = []
    for k in sorted(conditions):
        v = conditions[k]
        text = v if isinstance(v, str) else json.dumps(v, sort_keys=True, separators=(",", ":"))
        parts.append(f"{k}={text}")
    return ", ".join(parts)


@dataclass
class _Pattern:
    pattern_id: str
    name: str
    key: str
    actions: dict[str, EWMean] = field(default_factory=dict)
    last_updated: float = 0.0


class _Observation(NamedTuple):
    timestamp: float
    pattern_id: str
    action: str
    success: bool


def _best_action(actions: Mapping[str, EWMean], min_samples: int) -> tuple[str, EWMean] | None:
    """Highest score among actions with >= min_samples; ties: more samples, then name."""
    best: tuple[tuple[float, int, str], str, EWMean] | None = None
    for action, stat in actions.items():
        if stat.n < min_samples:
            continue
        rank = (-stat.get(), -stat.n, action)
        if best is None or rank < best[0]:
            best = (rank, action, stat)
    return None if best is None else (best[1], best[2])


class PatternLearner:
    """Learns, per condition pattern, which action succeeds most often.

    Every ``(conditions, action)`` pair has its own exponentially weighted
    success score: with outcomes ``s_1 .. s_n`` (1 for success, 0 for
    failure) and ``d = 1 - alpha``, the score is
    ``sum(d**(n-i) * s_i) / sum(d**(n-i))`` (:class:`~autoopt.core.EWMean`),
    so ``n`` successes score exactly 1.0 and recent outcomes weigh more.

    The recommended action for a pattern is the one with the highest score
    among actions observed at least ``min_samples`` times; ties go to the
    action with more observations, then to the alphabetically first.

    Parameters
    ----------
    alpha : float
        Forgetting rate of the scores, in (0, 1].
    min_samples : int
        Observations an action needs before it can be recommended (>= 1).
    history_size : int
        Most recent observations kept (see :meth:`get_recent_observations`).
    max_patterns : int
        Most condition patterns kept. Beyond it the least recently used
        pattern (recorded or asked about longest ago) is evicted with all its
        action scores.
    max_actions_per_pattern : int, default 100
        Most actions scored under one pattern. Beyond it the action recorded
        longest ago is evicted (counted in ``evicted_actions``), so a stream
        of distinct action names cannot grow memory without bound.
    clock : callable
        POSIX time stamped on observations and patterns.

    Attributes
    ----------
    alpha, min_samples, history_size, max_patterns

    Notes
    -----
    Conditions are keyed by :func:`pattern_key` (sorted-key JSON), so
    ``{"a": 1, "b": 2}`` and ``{"b": 2, "a": 1}`` are one pattern. A
    pattern's ``pattern_id`` is the 16-hex-digit BLAKE2b hash of its key.

    Thread safety
    -------------
    Every public method is safe to call from any thread; one lock guards all
    state (no user code runs here). Validation and key building happen before
    the lock is taken; updates are O(1) and a recommendation is O(actions of
    the pattern).

    Examples
    --------
    >>> from autoopt.learning import PatternLearner
    >>> learner = PatternLearner(min_samples=3)
    >>> for ok in [True, True, False, True]:
    ...     learner.record_observation({"load": "high"}, "scale_up", ok)
    >>> for _ in range(3):
    ...     learner.record_observation({"load": "high"}, "restart", False)
    >>> action, score = learner.get_recommended_action({"load": "high"})
    >>> action, round(score, 4)   # (1 + 0.9*0 + 0.81 + 0.729) / (1 + 0.9 + 0.81 + 0.729)
    ('scale_up', 0.7383)
    >>> [(p.name, p.optimal_action, p.sample_count) for p in learner.get_patterns(min_samples=3)]
    [('load=high', 'scale_up', 4)]
    """

    def __init__(
        self,
        *,
        alpha: float = 0.1,
        min_samples: int = 5,
        history_size: int = 10_000,
        max_patterns: int = 10_000,
        max_actions_per_pattern: int = 100,
        clock: Clock = system_clock,
    ) -> None:
        self.alpha = check_real(alpha, "PatternLearner() argument 'alpha'", low=0.0, high=1.0, low_open=True)
        self.min_samples = check_int(min_samples, "PatternLearner() argument 'min_samples'", low=1)
        self.history_size = check_size(history_size, "PatternLearner() argument 'history_size'")
        self.max_patterns = check_size(max_patterns, "PatternLearner() argument 'max_patterns'")
        self.max_actions_per_pattern = check_size(
            max_actions_per_pattern, "PatternLearner() argument 'max_actions_per_pattern'"
        )
        self._clock = check_sync_callable(clock, "PatternLearner() argument 'clock'")

        self._lock = threading.Lock()
        self._patterns: OrderedDict[str, _Pattern] = OrderedDict()
        self._history: deque[_Observation] = deque(maxlen=self.history_size)
        self._total = 0
        self._successes = 0
        self._pairs = 0
        self._evicted = 0
        self._evicted_actions = 0

    # ------------------------------------------------------------------- record

    def record_observation(self, conditions: dict[str, Any] | Conditions, action: str, success: bool) -> None:
        """Record that ``action`` taken under ``conditions`` succeeded or not.

        ``conditions`` may be a :class:`Conditions`, checked and keyed once,
        which makes repeated recording under it cheaper.

        Raises
        ------
        TypeError
            If ``conditions`` is not a dict of str keys and JSON values,
            ``action`` is not a str or ``success`` is not a bool (NumPy bools
            are accepted).
        ValueError
            If ``action`` is empty or a condition value is a non-finite number.
            Nothing is recorded on bad input.
        """
        if isinstance(conditions, Conditions):
            key, normalised = conditions._key, conditions._values
        else:
            key, normalised = _canonical(conditions, "record_observation() argument 'conditions'")
        check_str(action, "record_observation() argument 'action'")
        if not isinstance(success, (bool, np.bool_)):
            raise TypeError(
                f"record_observation() argument 'success' must be a bool; "
                f"got {success!r} of type {type(success).__name__}."
            )
        ok = bool(success)
        now = float(self._clock())
        evicted: _Pattern | None = None
        with self._lock:
            pattern = self._patterns.get(key)
            if pattern is None:
                pattern = _Pattern(_pattern_id(key), _pattern_name(normalised), key)
                self._patterns[key] = pattern
                if len(self._patterns) > self.max_patterns:
                    _, evicted = self._patterns.popitem(last=False)
                    self._pairs -= len(evicted.actions)
                    self._evicted += 1
            else:
                self._patterns.move_to_end(key)
            actions = pattern.actions
            stat = actions.pop(action, None)  # re-inserted below: dicts keep the recording order
            if stat is None:
                stat = EWMean(self.alpha)
                self._pairs += 1
                if len(actions) >= self.max_actions_per_pattern:
                    del actions[next(iter(actions))]  # the action recorded longest ago
                    self._pairs -= 1
                    self._evicted_actions += 1
            actions[action] = stat
            stat.update(1.0 if ok else 0.0)
            pattern.last_updated = now
            self._history.append(_Observation(now, pattern.pattern_id, action, ok))
            self._total += 1
            self._successes += ok
        if evicted is not None:
            logger.debug("evicted least recently used pattern %s (%s)", evicted.pattern_id, evicted.name)

    # ------------------------------------------------------------------ queries

    def get_recommended_action(self, conditions: dict[str, Any]) -> tuple[str, float] | None:
        """``(action, score)`` of the best action for ``conditions``, or None.

        None when the pattern is unknown or no action under it has
        ``min_samples`` observations. Counts as a use of the pattern for
        LRU eviction.
        """
        key = pattern_key(conditions, "get_recommended_action() argument 'conditions'")
        with self._lock:
            pattern = self._patterns.get(key)
            if pattern is not None:
                self._patterns.move_to_end(key)
                best = _best_action(pattern.actions, self.min_samples)
                return None if best is None else (best[0], best[1].get())
        logger.debug("get_recommended_action: unknown pattern %s", key)
        return None

    def get_patterns(self, min_samples: int = 5) -> list[LearningPattern]:
        """One :class:`~autoopt.models.LearningPattern` per pattern whose best action has ``min_samples``.

        ``optimal_action`` is chosen as in :meth:`get_recommended_action`
        (with this ``min_samples``); ``success_rate`` and ``sample_count``
        are that action's score and observation count, ``last_updated`` the
        time of the pattern's latest observation. Patterns come least
        recently used first. O(patterns x actions).
        """
        k = check_int(min_samples, "get_patterns() argument 'min_samples'", low=1)
        out: list[LearningPattern] = []
        with self._lock:
            for pattern in self._patterns.values():
                best = _best_action(pattern.actions, k)
                if best is None:
                    continue
                action, stat = best
                out.append(
                    LearningPattern(
                        pattern_id=pattern.pattern_id,
                        name=pattern.name,
                        conditions=json.loads(pattern.key),
                        optimal_action=action,
                        success_rate=stat.get(),
                        sample_count=stat.n,
                        last_updated=to_datetime(pattern.last_updated),
                    )
                )
        return out

    def get_recent_observations(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` observations, oldest first. O(limit).

        Each is a dict with ``timestamp`` (aware UTC datetime),
        ``pattern_id``, ``action`` and ``success``.
        """
        n = check_limit(limit, "get_recent_observations() argument 'limit'")
        with self._lock:
            newest = list(itertools.islice(reversed(self._history), n))
        newest.reverse()
        return [
            {
                "timestamp": to_datetime(o.timestamp),
                "pattern_id": o.pattern_id,
                "action": o.action,
                "success": o.success,
            }
            for o in newest
        ]

    def get_learning_stats(self) -> dict[str, Any]:
        """Running statistics (no scan).

        Keys: ``total_observations`` (ever), ``history_size`` (observations
        held), ``patterns``, ``pattern_action_pairs``, ``evicted_patterns``,
        ``evicted_actions``, ``overall_success_rate`` (None before the first
        observation), ``mode`` (``"online"``), ``alpha``, ``min_samples``,
        ``max_patterns``, ``max_actions_per_pattern``.
        """
        with self._lock:
            total = self._total
            successes = self._successes
            held = len(self._history)
            patterns = len(self._patterns)
            pairs = self._pairs
            evicted = self._evicted
            evicted_actions = self._evicted_actions
        return {
            "total_observations": total,
            "history_size": held,
            "patterns": patterns,
            "pattern_action_pairs": pairs,
            "evicted_patterns": evicted,
            "evicted_actions": evicted_actions,
            "overall_success_rate": successes / total if total else None,
            "mode": LearningMode.ONLINE.value,
            "alpha": self.alpha,
            "min_samples": self.min_samples,
            "max_patterns": self.max_patterns,
            "max_actions_per_pattern": self.max_actions_per_pattern,
        }
