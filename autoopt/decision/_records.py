"""The decision records of a :class:`DecisionEngine`: feedback, the executed flag, the history and the
running statistics."""

from __future__ import annotations

import logging
import threading
from collections import Counter, OrderedDict
from itertools import islice
from typing import Any

from autoopt._validation import check_id, check_limit, check_real, describe_exception
from autoopt.decision import _rules
from autoopt.decision._counts import DecisionCounts, rule_stats
from autoopt.decision._policy import Policy
from autoopt.decision._rules import RuleState
from autoopt.exceptions import UnknownIdError
from autoopt.models import Decision

__all__ = ["DecisionRecords"]

logger = logging.getLogger(__name__)


class DecisionRecords:
    """The methods of :class:`~autoopt.decision.DecisionEngine` that read and update its decision records
    (a mixin; the engine owns the state declared here and its lock discipline)."""

    _lock: threading.Lock
    _history: OrderedDict[str, Decision]
    _rules: dict[str, RuleState]
    _policy: Policy | None
    _min_confidence: float
    _policy_stats: Counter[str]
    _last_policy_error: str | None
    _counts: DecisionCounts
    _evaluations: int
    _cooldown_skips: int
    _feedback_n: int
    _feedback_sum: float
    _rule_errors_total: int

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
            Feedback given again for the same decision replaces the earlier one. A decision the
            policy made is passed to its :meth:`~autoopt.decision.Policy.feedback`.
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
                state.confidence, q = _rules.confidence_from_feedback(state.feedback_n, state.feedback_sum)
                state.confidence_score = _rules.finite_or_none(q)
            policy = self._policy if decision.rule_id is None and decision.source is not None else None
        if policy is not None and policy.name == decision.source:
            try:
                policy.feedback(decision, s)
            except Exception as exc:
                logger.warning("policy %s feedback failed: %s", policy.name, describe_exception(exc))
                with self._lock:
                    self._policy_stats["errors"] += 1
                    self._last_policy_error = describe_exception(exc)
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
        ``decisions_by_confidence``, ``decisions_by_source`` (``rule``/``policy``),
        ``decisions_by_type_and_source`` (type -> source -> count),
        ``feedback_count``, ``average_feedback_score``, ``cooldown_skips``, ``rule_errors``
        (total), ``policy`` (None, or its name, ``min_confidence`` and counts of proposals
        ``used``, ``deferred`` below the bar, ``vetoed``, ``abstained``, and ``errors`` with the
        last one), ``rules`` (per rule: name, role, priority, enabled, fired, feedback count and
        mean, confidence, errors, last error), ``total_rules``, ``enabled_rules``, ``history_size``.
        """
        with self._lock:
            policy = (
                None
                if self._policy is None
                else {
                    "name": self._policy.name,
                    "min_confidence": self._min_confidence,
                    **{
                        k: self._policy_stats[k]
                        for k in ("used", "deferred", "vetoed", "abstained", "errors")
                    },
                    "last_error": self._last_policy_error,
                }
            )
            counts = self._counts.as_dict()
            return {
                "total_decisions": counts.pop("total_decisions"),
                "evaluations": self._evaluations,
                **counts,
                "feedback_count": self._feedback_n,
                "average_feedback_score": self._feedback_sum / self._feedback_n if self._feedback_n else None,
                "cooldown_skips": self._cooldown_skips,
                "rule_errors": self._rule_errors_total,
                "policy": policy,
                "rules": rule_stats(self._rules),
                "total_rules": len(self._rules),
                "enabled_rules": sum(1 for s in self._rules.values() if s.rule.enabled),
                "history_size": len(self._history),
            }
