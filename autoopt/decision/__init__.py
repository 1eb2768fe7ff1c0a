"""Decisions: prioritised rules with cooldowns and feedback-derived confidence."""

from autoopt.decision._engine import DecisionEngine, confidence_from_feedback, create_decision_rule

__all__ = ["DecisionEngine", "confidence_from_feedback", "create_decision_rule"]
