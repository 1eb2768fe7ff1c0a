"""The decision engine's statistics: running counts of the decisions made, and the per-rule summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from autoopt.decision._rules import RuleState
from autoopt.models import Decision

__all__ = ["DecisionCounts", "rule_stats"]


@dataclass
class DecisionCounts:
    """Decisions made, by type, confidence, source (``rule``/``policy``) and type and source together.

    No lock of its own: the engine counts under its lock. Counting keeps two counters; the counts by type
    and by source are summed from the ones by type and source when read.
    """

    total: int = 0
    by_confidence: Counter[str] = field(default_factory=Counter)
    by_type_source: Counter[tuple[str, str]] = field(default_factory=Counter)

    def count(self, decision: Decision) -> None:
        self.total += 1
        self.by_confidence[decision.confidence.value] += 1
        self.by_type_source[
            decision.decision_type.value, "policy" if decision.rule_id is None else "rule"
        ] += 1

    def as_dict(self) -> dict[str, Any]:
        """``total_decisions``, ``decisions_by_type``, ``decisions_by_confidence``, ``decisions_by_source``
        and ``decisions_by_type_and_source`` (type -> source -> count)."""
        nested: dict[str, dict[str, int]] = {}
        by_type: Counter[str] = Counter()
        by_source: Counter[str] = Counter()
        for (kind, source), n in self.by_type_source.items():
            nested.setdefault(kind, {})[source] = n
            by_type[kind] += n
            by_source[source] += n
        return {
            "total_decisions": self.total,
            "decisions_by_type": dict(by_type),
            "decisions_by_confidence": dict(self.by_confidence),
            "decisions_by_source": dict(by_source),
            "decisions_by_type_and_source": nested,
        }


def rule_stats(rules: Mapping[str, RuleState]) -> dict[str, dict[str, Any]]:
    """Per rule: name, role, priority, enabled, fired, feedback count and mean, confidence, errors, last error."""
    return {
        rid: {
            "name": s.rule.name,
            "role": s.rule.role,
            "priority": s.priority,
            "enabled": s.rule.enabled,
            "fired": s.fired,
            "feedback_count": s.feedback_n,
            "average_feedback_score": s.feedback_sum / s.feedback_n if s.feedback_n else None,
            "confidence": s.confidence.value,
            "errors": s.errors,
            "last_error": s.last_error,
        }
        for rid, s in rules.items()
    }
