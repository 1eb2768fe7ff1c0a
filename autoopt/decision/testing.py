"""A conformance suite every :class:`~autoopt.decision.Policy` must pass, as ``optuna.testing`` has for samplers.

Call :func:`check_policy` from a test with the policy and a few representative contexts::

    from autoopt.decision.testing import check_policy

    def test_my_policy_conforms():
        check_policy(MyPolicy(), contexts)

Each check raises :class:`AssertionError` naming the context and the broken rule.
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from autoopt.decision._engine import DecisionEngine
from autoopt.decision._policy import Policy, Proposal, scaling_delta
from autoopt.enums import DecisionType

__all__ = ["check_policy"]


def _ensure(condition: object, message: str) -> None:
    """Raise AssertionError with ``message`` unless ``condition`` holds (unlike ``assert``, also under -O)."""
    if not condition:
        raise AssertionError(message)


def _check_proposal(policy: Policy, ctx: Mapping[str, Any], out: Any, i: int) -> None:
    where = f"{policy.name}.propose(contexts[{i}])"
    _ensure(
        out is None or isinstance(out, Proposal),
        f"{where} returned {type(out).__name__}, not a Proposal or None",
    )
    if out is None:
        return
    _ensure(isinstance(out.decision_type, DecisionType), f"{where}: decision_type {out.decision_type!r}")
    _ensure(
        0.0 <= out.confidence <= 1.0 and math.isfinite(out.confidence),
        f"{where}: confidence {out.confidence!r}",
    )
    _ensure(isinstance(out.parameters, dict), f"{where}: parameters {out.parameters!r}")
    try:
        delta = scaling_delta(out.decision_type, out.parameters)
    except ValueError as exc:
        raise AssertionError(f"{where}: inconsistent scaling parameters: {exc}") from None
    if out.decision_type is DecisionType.DEFER and "delta" in out.parameters:
        _ensure(out.parameters["delta"] == 0, f"{where}: a DEFER proposal's delta must be 0")
    if delta is not None:
        _ensure(float(delta).is_integer(), f"{where}: delta {delta!r} is not a whole number of replicas")


def check_policy(
    policy: Policy,
    contexts: Sequence[Mapping[str, Any]],
    *,
    threads: int = 4,
    make: Callable[[], Policy] | None = None,
) -> None:
    """Check ``policy`` against the :class:`~autoopt.decision.Policy` contract on ``contexts``.

    1. ``name`` is a non-empty str; ``reset()`` and ``feedback()`` can be called;
    2. ``propose`` returns a valid :class:`Proposal` (confidence in [0, 1], consistent signed
       ``delta`` for scaling types, whole replicas) or None, for every context;
    3. ``propose`` does not change the context it is given;
    4. after ``reset()``, the same contexts in the same order give the same proposals
       (deterministic given its inputs);
    5. in a :class:`~autoopt.DecisionEngine` with ``set_policy``, a proposal at or above
       ``min_confidence`` becomes the decision, with ``source`` the policy's name and ``rule_id``
       None, and ``evaluate`` never raises because of the policy;
    6. ``propose`` can be called from ``threads`` threads at once: every thread proposes on each
       context together, the contexts in order (on a fresh policy from ``make()`` when given).

    Raises
    ------
    AssertionError
        Naming the context and the rule broken.
    """
    _ensure(isinstance(policy, Policy), f"{policy!r} is not an autoopt.decision.Policy")
    _ensure(isinstance(policy.name, str) and policy.name.strip(), f"policy name {policy.name!r}")
    _ensure(contexts, "check_policy needs at least one context")
    policy.reset()
    first = []
    for i, ctx in enumerate(contexts):
        before = copy.deepcopy(dict(ctx))
        out = policy.propose(ctx)
        _ensure(dict(ctx) == before, f"{policy.name}.propose(contexts[{i}]) changed the context")
        _check_proposal(policy, ctx, out, i)
        first.append(out)
    policy.reset()
    again = [policy.propose(ctx) for ctx in contexts]
    _ensure(again == first, f"{policy.name}: after reset() the same contexts gave different proposals")
    policy.feedback(None, 1.0)

    policy.reset()
    engine = DecisionEngine()
    engine.set_policy(policy, min_confidence=0.0)
    for i, ctx in enumerate(contexts):
        proposal = first[i]
        decision = engine.evaluate(dict(ctx))
        if proposal is not None:
            if decision is None:
                raise AssertionError(f"engine.evaluate(contexts[{i}]) ignored the policy's proposal")
            _ensure(
                decision.source == policy.name and decision.rule_id is None,
                f"contexts[{i}]: decision source {decision.source!r}, rule_id {decision.rule_id!r}",
            )
            _ensure(
                decision.decision_type is proposal.decision_type,
                f"contexts[{i}]: the decision's type {decision.decision_type} is not the proposal's",
            )
    stats = engine.get_decision_stats()["policy"]
    _ensure(stats is not None and stats["errors"] == 0, f"the engine recorded policy errors: {stats}")

    target = make() if make is not None else policy
    target.reset()
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def work() -> None:
        try:
            for ctx in contexts:  # every thread proposes on each context at once, in time order
                barrier.wait()
                out = target.propose(ctx)
                _ensure(out is None or isinstance(out, Proposal), f"under threads propose returned {out!r}")
        except BaseException as exc:  # surfaced below
            errors.append(exc)
            barrier.abort()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    _ensure(not errors, f"{policy.name}.propose failed under {threads} threads: {errors[:1]!r}")
