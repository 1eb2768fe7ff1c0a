"""Autoscaling policies and their evaluation: baselines, the oracle, the HPA frontier and tuning.

An integration layer above the decision layer and :mod:`autoopt.sim`, like the hub: policies
implement :class:`autoopt.decision.Policy`, so the same object runs in an
:class:`~autoopt.sim.AutoscalingEnv` (:func:`evaluate_policy`) and in a DecisionEngine
(:meth:`~autoopt.DecisionEngine.set_policy`).
"""

from autoopt.policy._baselines import (
    HPAPolicy,
    OraclePolicy,
    PredictivePolicy,
    ScalingPolicy,
    StaticPolicy,
    threshold_rules,
)
from autoopt.policy._dqn import DQNPolicy
from autoopt.policy._evaluate import (
    PolicyResult,
    evaluate_policy,
    hpa_frontier,
    tune_hpa,
    tune_threshold_rules,
)

__all__ = [
    "DQNPolicy",
    "HPAPolicy",
    "OraclePolicy",
    "PolicyResult",
    "PredictivePolicy",
    "ScalingPolicy",
    "StaticPolicy",
    "evaluate_policy",
    "hpa_frontier",
    "threshold_rules",
    "tune_hpa",
    "tune_threshold_rules",
]
