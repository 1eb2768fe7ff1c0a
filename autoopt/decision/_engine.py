"""DecisionEngine: prioritised rules with cooldowns and feedback-derived confidence."""

from __future__ import annotations

import logging
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

from scipy.special import betaincinv

from autoopt._clock import Clock, system_clock, to_datetime
from autoopt._validation import (
    check_id,
    check_limit,
    check_real,
    check_size,
    check_sync_callable,
    close_awaitable,
    describe_exception,
)
from autoopt.config import AutomationConfig, check_config
from autoopt.enums import DecisionConfidence, DecisionType
from autoopt.exceptions import UnknownIdError
from autoopt.models import Decision, DecisionRule, new_id

__all__ = ["DecisionEngine", "confidence_from_feedback", "create_decision_rule"]

logger = logging.getLogger(__name__)

# Lower credible bound of the rule's mean feedback score -> confidence band.
_CONFIDENCE_QUANTILE = 0.10
_HIGH_BOUND = 0.70
_MEDIUM_BOUND = 0.40


def confidence_from_feedback(n: int, score_sum: float) -> tuple[DecisionConfidence, float]:
    """Confidence band of a rule from its feedback record.

    Feedback scores in [0, 1] are treated as fractional successes under a
    uniform Beta(1, 1) prior, so the rule's mean score has the posterior
    ``Beta(1 + S, 1 + n - S)`` with ``S`` the sum of scores. The band is read
    off the posterior's 10 % quantile ``q`` (a pessimistic estimate that
    rises with both the scores and their number): HIGH when ``q >= 0.7``,
    MEDIUM when ``q >= 0.4``, LOW otherwise, and UNCERTAIN with no feedback.

    Returns
    -------
    (DecisionConfidence, float)
        The band and ``q`` (NaN with no feedback).

    Examples
    --------
    >>> confidence_from_feedback(0, 0.0)[0]
    <DecisionConfidence.UNCERTAIN: 'uncertain'>
    >>> band, q = confidence_from_feedback(1, 1.0)   # Beta(2, 1): q = sqrt(0.1)
    >>> band, round(q, 4)
    (<DecisionConfidence.LOW: 'low'>, 0.3162)
    >>> confidence_from_feedback(6, 6.0)[0]          # Beta(7, 1): q = 0.1 ** (1 / 7) = 0.72
    <DecisionConfidence.HIGH: 'high'>
    """
    if n <= 0:
        return DecisionConfidence.UNCERTAIN, float("nan")
    q = float(betaincinv(1.0 + score_sum, 1.0 + n - score_sum, _CONFIDENCE_QUANTILE))
    if q >= _HIGH_BOUND:
        return DecisionConfidence.HIGH, q
    if q >= _MEDIUM_BOUND:
        return DecisionConfidence.MEDIUM, q
    return DecisionConfidence.LOW, q


def create_decision_rule(
    name: str,
    condition: Callable[[dict[str, Any]], bool],
    decision_type: DecisionType,
    parameters_fn: Callable[[dict[str, Any]], dict[str, Any]],
    priority: int = 0,
    description: str = "",
    *,
    cooldown_seconds: float | None = None,
) -> DecisionRule:
    """Build an enabled :class:`~autoopt.DecisionRule` with a fresh ``rule_id``.

    ``cooldown_seconds`` overrides the engine's cooldown for this rule.

    Examples
    --------
    >>> from autoopt import create_decision_rule, DecisionType
    >>> rule = create_decision_rule("High CPU", lambda c: c["cpu_usage"] > 80,
    ...                             DecisionType.SCALE_UP, lambda c: {"instances": 2}, priority=10)
    >>> rule.priority, rule.enabled
    (10, True)
    """
    return DecisionRule(
        rule_id=new_id(),
        name=name,
        condition=condition,
        decision_type=decision_type,
        parameters_fn=parameters_fn,
        priority=priority,
        enabled=True,
        description=description,
        cooldown_seconds=cooldown_seconds,
    )


def _cooling(last_fired: float | None, now: float, cooldown: float) -> bool:
    """Whether a rule that fired at ``last_fired`` is still cooling down at ``now``.

    A clock that stepped backwards (``now < last_fired``) ends the cooldown
    instead of freezing the rule until the clock catches up.
    """
    return last_fired is not None and 0.0 <= now - last_fired < cooldown


@dataclass
class _RuleState:
    """Per-rule bookkeeping: the settings validated at :meth:`add_rule`, cooldown, feedback and errors."""

    rule: DecisionRule
    seq: int
    priority: int
    decision_type: DecisionType
    cooldown: float | None
    last_fired: float | None = None
    fired: int = 0
    feedback_n: int = 0
    feedback_sum: float = 0.0
    confidence: DecisionConfidence = DecisionConfidence.UNCERTAIN
    errors: int = 0
    last_error: str | None = None

    @property
    def order_key(self) -> tuple[int, int]:
        return (-self.priority, self.seq)


class DecisionEngine:
    """Evaluate prioritised rules against a context and learn from feedback.

    :meth:`evaluate` tries the enabled rules from the highest ``priority``
    down (ties in the order they were added) and returns a
    :class:`~autoopt.Decision` for the first rule whose ``condition`` holds
    and which is not cooling down; a rule cools down for its own
    ``cooldown_seconds``, or ``config.decision_cooldown_seconds`` when it has
    none, after it fires. A rule whose
    ``condition`` or ``parameters_fn`` raises (or whose ``parameters_fn``
    returns something other than a dict) is skipped, logged and counted in
    :meth:`get_decision_stats`; ``evaluate`` itself never raises because of it.

    The decision's confidence comes from the firing rule's feedback record
    (see :func:`confidence_from_feedback`): UNCERTAIN until the rule's
    decisions have received feedback, then LOW, MEDIUM or HIGH as evidence
    that they work accumulates.

    Parameters
    ----------
    config : AutomationConfig, optional
        ``decision_cooldown_seconds`` sets the per-rule cooldown.
    clock : callable, default time.time
        POSIX-seconds clock for cooldowns and timestamps.
    history_size : int, default 1000
        Decisions retained for :meth:`record_feedback` and :meth:`get_decision_history`.

    Notes
    -----
    Cost: the rule order is kept sorted on :meth:`add_rule`/:meth:`remove_rule`
    (copy-on-write, O(rules)), never on :meth:`evaluate`; :meth:`record_feedback`
    is an O(1) lookup; statistics are running counters.

    Thread safety: one lock guards the engine's state. ``evaluate`` reads an
    immutable snapshot of the rule order and calls ``condition`` and
    ``parameters_fn`` *without* holding the lock; it then reads the clock
    again and re-checks the cooldown under the lock before committing, so two
    threads never both fire a rule inside one cooldown, however long the
    condition takes. The clock is never called with the lock held.

    Examples
    --------
    >>> from autoopt import DecisionEngine, DecisionType, create_decision_rule
    >>> from autoopt._clock import ManualClock
    >>> engine = DecisionEngine(clock=ManualClock(0.0))
    >>> engine.add_rule(create_decision_rule(
    ...     "High CPU", lambda ctx: ctx.get("cpu_usage", 0) > 80, DecisionType.SCALE_UP,
    ...     lambda ctx: {"instances": 2}, priority=10))
    >>> d = engine.evaluate({"cpu_usage": 90})
    >>> d.decision_type, d.parameters, d.confidence
    (<DecisionType.SCALE_UP: 'scale_up'>, {'instances': 2}, <DecisionConfidence.UNCERTAIN: 'uncertain'>)
    >>> engine.evaluate({"cpu_usage": 95}) is None   # cooling down for 60 s
    True
    >>> engine.record_feedback(d.decision_id, "latency recovered", 1.0).feedback_score
    1.0
    """

    def __init__(
        self,
        config: AutomationConfig | None = None,
        *,
        clock: Clock = system_clock,
        history_size: int = 1000,
    ) -> None:
        self.config = check_config(config, "DecisionEngine()")
        self.history_size = check_size(history_size, "DecisionEngine() argument 'history_size'")
        self._clock = check_sync_callable(clock, "DecisionEngine() argument 'clock'")
        self._lock = threading.Lock()
        self._rules: dict[str, _RuleState] = {}
        self._order: tuple[_RuleState, ...] = ()
        self._seq = 0
        self._history: OrderedDict[str, Decision] = OrderedDict()
        self._total = 0
        self._evaluations = 0
        self._cooldown_skips = 0
        self._by_type: Counter[str] = Counter()
        self._by_confidence: Counter[str] = Counter()
        self._feedback_n = 0
        self._feedback_sum = 0.0
        self._rule_errors_total = 0

    @property
    def cooldown_seconds(self) -> float:
        """Per-rule cooldown from the config."""
        return float(self.config.decision_cooldown_seconds)

    # ------------------------------------------------------------------- rules

    def _reorder(self) -> None:
        self._order = tuple(sorted(self._rules.values(), key=lambda s: s.order_key))

    def add_rule(self, rule: DecisionRule) -> None:
        """Add a rule.

        The rule is validated again first (:meth:`DecisionRule.validate`:
        dataclasses are mutable), and its ``priority``, ``decision_type`` and
        ``cooldown_seconds`` are read now: to change them later, remove the
        rule and add it again. ``enabled`` is read live (see
        :meth:`set_rule_enabled`).

        Raises
        ------
        TypeError, ValueError
            If ``rule`` is not a valid :class:`~autoopt.DecisionRule` (the
            message names the field), or a rule with the same ``rule_id``
            exists (remove it first). Nothing is registered then.
        """
        if not isinstance(rule, DecisionRule):
            raise TypeError(f"add_rule() argument 'rule' must be a DecisionRule; got {rule!r}.")
        rule.validate()
        with self._lock:
            if rule.rule_id in self._rules:
                raise ValueError(f"add_rule(): a rule with rule_id {rule.rule_id!r} already exists.")
            self._seq += 1
            self._rules[rule.rule_id] = _RuleState(
                rule=rule,
                seq=self._seq,
                priority=rule.priority,
                decision_type=rule.decision_type,
                cooldown=rule.cooldown_seconds,
            )
            self._reorder()

    def remove_rule(self, rule_id: str) -> bool:
        """Remove a rule; False if there is none with that id."""
        check_id(rule_id, "remove_rule() argument 'rule_id'")
        with self._lock:
            if self._rules.pop(rule_id, None) is None:
                logger.debug("remove_rule: unknown rule id %r", rule_id)
                return False
            self._reorder()
            return True

    def get_rule(self, rule_id: str) -> DecisionRule | None:
        """The rule with that id, or None."""
        check_id(rule_id, "get_rule() argument 'rule_id'")
        with self._lock:
            state = self._rules.get(rule_id)
            return None if state is None else state.rule

    def list_rules(self) -> list[DecisionRule]:
        """All rules in evaluation order (highest priority first)."""
        order = self._order
        return [s.rule for s in order]

    def set_rule_enabled(self, rule_id: str, enabled: bool) -> bool:
        """Enable or disable a rule; returns True.

        Raises
        ------
        UnknownIdError
            If no rule has that id.
        """
        check_id(rule_id, "set_rule_enabled() argument 'rule_id'")
        if not isinstance(enabled, bool):
            raise TypeError(f"set_rule_enabled() argument 'enabled' must be a bool; got {enabled!r}.")
        with self._lock:
            state = self._rules.get(rule_id)
            if state is None:
                raise UnknownIdError(f"set_rule_enabled() argument 'rule_id': unknown rule id {rule_id!r}.")
            state.rule.enabled = enabled
            return True

    # -------------------------------------------------------------- evaluation

    def _record_rule_error(self, state: _RuleState, where: str, exc: BaseException | str) -> None:
        message = exc if isinstance(exc, str) else describe_exception(exc)
        logger.warning("rule %r (%s) %s failed: %s", state.rule.name, state.rule.rule_id, where, message)
        with self._lock:
            state.errors += 1
            state.last_error = f"{where}: {message}"
            self._rule_errors_total += 1

    def evaluate(self, context: Mapping[str, Any]) -> Decision | None:
        """Return the decision of the highest-priority rule that fires, or None.

        Parameters
        ----------
        context : mapping
            Passed to each rule's ``condition`` and ``parameters_fn``.
        """
        if not isinstance(context, Mapping):
            raise TypeError(f"evaluate() argument 'context' must be a mapping; got {context!r}.")
        default_cooldown = self.cooldown_seconds
        order = self._order  # immutable snapshot: rules run without the lock
        with self._lock:
            self._evaluations += 1
        ctx = context if isinstance(context, dict) else dict(context)
        for state in order:
            rule = state.rule
            if not rule.enabled or state.rule.rule_id not in self._rules:
                continue
            cooldown = default_cooldown if state.cooldown is None else state.cooldown
            if _cooling(state.last_fired, self._clock(), cooldown):
                with self._lock:
                    self._cooldown_skips += 1
                continue
            try:
                result = rule.condition(ctx)
                if result is not True and result is not False:
                    refused = close_awaitable(result)
                    if refused is not None:
                        self._record_rule_error(state, "condition", refused)
                        continue
                fires = bool(result)
            except Exception as exc:
                self._record_rule_error(state, "condition", exc)
                continue
            if not fires:
                continue
            try:
                params = rule.parameters_fn(ctx)
            except Exception as exc:
                self._record_rule_error(state, "parameters_fn", exc)
                continue
            if not isinstance(params, dict):
                self._record_rule_error(
                    state, "parameters_fn", f"returned {type(params).__name__}, expected dict"
                )
                continue
            now = self._clock()  # again: the user's condition may have taken a while
            with self._lock:
                if _cooling(state.last_fired, now, cooldown):
                    self._cooldown_skips += 1  # another thread fired it meanwhile
                    continue
                state.last_fired = now
                state.fired += 1
                decision = Decision(
                    decision_id=new_id(),
                    decision_type=state.decision_type,
                    confidence=state.confidence,
                    rationale=(
                        f"rule {rule.name!r} (priority {state.priority}) matched"
                        + (f": {rule.description}" if rule.description else "")
                    ),
                    parameters=params,
                    timestamp=to_datetime(now),
                    rule_id=rule.rule_id,
                )
                self._history[decision.decision_id] = decision
                if len(self._history) > self.history_size:
                    self._history.popitem(last=False)
                self._total += 1
                self._by_type[decision.decision_type.value] += 1
                self._by_confidence[decision.confidence.value] += 1
            return decision
        return None

    # ---------------------------------------------------------------- feedback

    def record_feedback(self, decision_id: str, outcome: str, score: float) -> Decision | None:
        """Record how a decision turned out; O(1).

        Parameters
        ----------
        decision_id : str
        outcome : str
            A description of what happened.
        score : float
            How well it worked, in [0, 1] (1 = fully successful).

        Returns
        -------
        Decision or None
            The updated decision; None for an unknown (or evicted) id.
            Feedback given again for the same decision replaces the earlier one.
        """
        check_id(decision_id, "record_feedback() argument 'decision_id'")
        if not isinstance(outcome, str):
            raise TypeError(f"record_feedback() argument 'outcome' must be a str; got {outcome!r}.")
        s = check_real(score, "record_feedback() argument 'score'", low=0.0, high=1.0)
        with self._lock:
            decision = self._history.get(decision_id)
            if decision is None:
                logger.debug("record_feedback: unknown decision id %r", decision_id)
                return None
            state = self._rules.get(decision.rule_id) if decision.rule_id is not None else None
            old = decision.feedback_score
            if old is not None:
                self._feedback_n -= 1
                self._feedback_sum -= old
                if state is not None:
                    state.feedback_n -= 1
                    state.feedback_sum -= old
            decision.outcome = outcome
            decision.feedback_score = s
            self._feedback_n += 1
            self._feedback_sum += s
            if state is not None:
                state.feedback_n += 1
                state.feedback_sum += s
                state.confidence, _ = confidence_from_feedback(state.feedback_n, state.feedback_sum)
            return decision

    def mark_executed(self, decision_id: str, executed: bool = True) -> Decision:
        """Mark a decision as acted upon (or not); returns the decision.

        Raises
        ------
        UnknownIdError
            For an unknown (or evicted) decision id.
        """
        check_id(decision_id, "mark_executed() argument 'decision_id'")
        if not isinstance(executed, bool):
            raise TypeError(f"mark_executed() argument 'executed' must be a bool; got {executed!r}.")
        with self._lock:
            decision = self._history.get(decision_id)
            if decision is None:
                raise UnknownIdError(
                    f"mark_executed() argument 'decision_id': unknown decision id {decision_id!r}."
                )
            decision.executed = executed
            return decision

    # ------------------------------------------------------------------ queries

    def get_decision_history(self, limit: int = 100) -> list[Decision]:
        """The newest ``limit`` decisions, oldest first."""
        n = check_limit(limit, "get_decision_history() argument 'limit'")
        with self._lock:
            out = list(islice(reversed(self._history.values()), n))
        out.reverse()
        return out

    def get_decision_stats(self) -> dict[str, Any]:
        """Running statistics as JSON-serialisable data.

        Keys: ``total_decisions`` (ever), ``evaluations``, ``decisions_by_type``,
        ``decisions_by_confidence``, ``feedback_count``, ``average_feedback_score``,
        ``cooldown_skips``, ``rule_errors`` (total), ``rules`` (per rule: name,
        priority, enabled, fired, feedback count and mean, confidence, errors,
        last error), ``total_rules``, ``enabled_rules``, ``history_size``.
        """
        with self._lock:
            rules = {
                rid: {
                    "name": s.rule.name,
                    "priority": s.priority,
                    "enabled": s.rule.enabled,
                    "fired": s.fired,
                    "feedback_count": s.feedback_n,
                    "average_feedback_score": s.feedback_sum / s.feedback_n if s.feedback_n else None,
                    "confidence": s.confidence.value,
                    "errors": s.errors,
                    "last_error": s.last_error,
                }
                for rid, s in self._rules.items()
            }
            return {
                "total_decisions": self._total,
                "evaluations": self._evaluations,
                "decisions_by_type": dict(self._by_type),
                "decisions_by_confidence": dict(self._by_confidence),
                "feedback_count": self._feedback_n,
                "average_feedback_score": self._feedback_sum / self._feedback_n if self._feedback_n else None,
                "cooldown_skips": self._cooldown_skips,
                "rule_errors": self._rule_errors_total,
                "rules": rules,
                "total_rules": len(self._rules),
                "enabled_rules": sum(1 for s in self._rules.values() if s.rule.enabled),
                "history_size": len(self._history),
            }
