"""Decisions: guards, a policy slot and prioritised rules, with cooldowns and feedback-derived confidence.

The engine reads one context schema (:data:`DEFAULT_CONTEXT_KEYS`, built by :func:`build_context`),
runs lambda or declarative rules (safe expressions, saved as YAML or JSON), and asks a
:class:`Policy` between its guard and fallback rules. :func:`backtest_rules` replays declarative
rules over a DataFrame in NumPy.
"""

from autoopt.decision._backtest import backtest_rules
from autoopt.decision._context import (
    ANOMALY_SIGNALS,
    DEFAULT_CONTEXT_KEYS,
    ContextKey,
    ContextSchema,
    build_context,
    decision_time,
)
from autoopt.decision._engine import DecisionEngine
from autoopt.decision._policy import Policy, Proposal
from autoopt.decision._rules import RULES_FORMAT_VERSION, confidence_from_feedback, create_decision_rule

__all__ = [
    "ANOMALY_SIGNALS",
    "DEFAULT_CONTEXT_KEYS",
    "RULES_FORMAT_VERSION",
    "ContextKey",
    "ContextSchema",
    "DecisionEngine",
    "Policy",
    "Proposal",
    "backtest_rules",
    "build_context",
    "confidence_from_feedback",
    "create_decision_rule",
    "decision_time",
]
