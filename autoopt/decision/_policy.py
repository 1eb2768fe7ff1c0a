"""The policy slot of the DecisionEngine: a small protocol for learned or hand-written deciders."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from autoopt._validation import check_enum, check_real
from autoopt.enums import DecisionType

__all__ = ["Policy", "Proposal"]


@dataclass(frozen=True)
class Proposal:
    """What a :class:`Policy` proposes for one context.

    Attributes
    ----------
    decision_type : DecisionType
    confidence : float
        In [0, 1]. The engine acts on the proposal only at or above its ``min_confidence``.
    parameters : dict
        The decision's parameters; a scaling proposal carries a signed ``delta`` (replicas to add).
    rationale : str
        Why, for the decision's record.

    Examples
    --------
    >>> Proposal("scale_up", 0.9, {"delta": 2}).decision_type
    <DecisionType.SCALE_UP: 'scale_up'>
    >>> Proposal("scale_up", 1.5)
    Traceback (most recent call last):
    ...
    ValueError: Proposal.confidence must be a finite number in [0, 1]; got 1.5.
    """

    decision_type: DecisionType
    confidence: float
    parameters: dict[str, Any] = field(default_factory=dict)
    rationale: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "decision_type", check_enum(self.decision_type, DecisionType, "Proposal.decision_type")
        )
        object.__setattr__(
            self, "confidence", check_real(self.confidence, "Proposal.confidence", low=0.0, high=1.0)
        )
        if not isinstance(self.parameters, dict):
            raise TypeError(f"Proposal.parameters must be a dict; got {type(self.parameters).__name__}.")
        if not isinstance(self.rationale, str):
            raise TypeError(f"Proposal.rationale must be a str; got {self.rationale!r}.")


class Policy(ABC):
    """A decider the :class:`~autoopt.DecisionEngine` consults between its guard and fallback rules.

    Plug one in with :meth:`DecisionEngine.set_policy`. On each
    :meth:`~autoopt.DecisionEngine.evaluate` the engine:

    1. runs its **guard** rules (``role="guard"``), highest priority first. A guard whose
       condition holds either fires its own decision (and evaluation ends), or, when it has a
       ``veto``, forbids those decision types for the rest of this evaluation. Vetoes ignore
       cooldowns;
    2. calls :meth:`propose` with the context, if a policy is set. A proposal whose confidence is
       at least ``min_confidence`` and whose type is not vetoed becomes the decision, with
       ``source`` the policy's :attr:`name` and ``rule_id`` None. A proposal below the bar, None, or
       an exception (logged and counted) defers to the rules;
    3. runs its **fallback** rules (the default role), as without a policy.

    :meth:`reset` is called by :meth:`~autoopt.DecisionEngine.set_policy` and at the start of an
    episode; :meth:`feedback` when :meth:`~autoopt.DecisionEngine.record_feedback` scores a
    decision the policy made. Both are no-ops by default.

    A policy must not change the context it is given, and must be safe to call from several threads
    (the engine holds no lock while it runs). ``autoopt.decision.testing.check_policy`` checks a policy
    against this contract.

    Examples
    --------
    >>> from autoopt import DecisionEngine
    >>> class Busy(Policy):
    ...     def propose(self, context):
    ...         if context.get("utilization", 0.0) > 0.9:
    ...             return Proposal("scale_up", 0.95, {"delta": 1}, "busy")
    ...         return None
    >>> engine = DecisionEngine()
    >>> engine.set_policy(Busy())
    >>> d = engine.evaluate({"utilization": 0.95})
    >>> d.decision_type.value, d.source, d.rule_id, d.confidence_score, d.delta
    ('scale_up', 'Busy', None, 0.95, 1)
    """

    @property
    def name(self) -> str:
        """How decisions record this policy as their ``source`` (the class name by default)."""
        return type(self).__name__

    @abstractmethod
    def propose(self, context: Mapping[str, Any]) -> Proposal | None:
        """The decision this policy proposes for ``context``, or None to leave it to the rules."""

    def reset(self) -> None:  # noqa: B027 - an optional hook, as Optuna's BaseSampler has
        """Forget per-episode state (a no-op by default)."""

    def feedback(self, decision: Any, score: float) -> None:  # noqa: B027 - an optional hook
        """Learn from a scored decision this policy made (a no-op by default)."""


def scaling_delta(decision_type: DecisionType, params: Mapping[str, Any]) -> int | float | None:
    """The signed replica change of a scaling decision: ``delta``, or ``instances`` with the type's sign.

    SCALE_UP adds ``delta > 0`` replicas and SCALE_DOWN removes ``-delta``; the demo's unsigned
    ``instances`` is read as an alias. None for other decision types, or when neither key is given.

    Raises
    ------
    ValueError
        If ``delta`` or ``instances`` is not a finite number, they disagree, or the sign
        contradicts the type.

    Examples
    --------
    >>> scaling_delta(DecisionType.SCALE_DOWN, {"instances": 2}), scaling_delta(DecisionType.SCALE_UP, {"delta": 3})
    (-2, 3)
    """
    if decision_type not in (DecisionType.SCALE_UP, DecisionType.SCALE_DOWN):
        return None
    sign = 1 if decision_type is DecisionType.SCALE_UP else -1
    delta, instances = params.get("delta"), params.get("instances")
    if delta is None and instances is None:
        return None
    for key, value in (("delta", delta), ("instances", instances)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
        ):
            raise ValueError(
                f"a {decision_type.value} decision's {key!r} must be a finite number; got {value!r}"
            )
    if delta is None:
        return sign * instances  # type: ignore[operator]
    if delta * sign < 0:
        raise ValueError(
            f"a {decision_type.value} decision's delta must be {'>' if sign > 0 else '<'}= 0; got {delta!r}"
        )
    if instances is not None and abs(delta) != instances:
        raise ValueError(f"delta {delta!r} and instances {instances!r} disagree")
    return delta
