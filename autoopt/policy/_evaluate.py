"""Run scaling policies in an AutoscalingEnv, against the oracle, and tune the baselines."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from autoopt.decision import DecisionEngine, Policy
from autoopt.enums import DecisionType
from autoopt.policy._baselines import HPAPolicy, OraclePolicy, ScalingPolicy, threshold_rules

if TYPE_CHECKING:
    import pandas as pd

    from autoopt.sim import AutoscalingEnv

__all__ = ["PolicyResult", "evaluate_policy", "hpa_frontier", "tune_hpa", "tune_threshold_rules"]

logger = logging.getLogger(__name__)

_SCALES = {DecisionType.SCALE_UP, DecisionType.SCALE_DOWN}


@dataclass
class PolicyResult:
    """One policy's run in an environment (see :func:`evaluate_policy`)."""

    name: str
    params: dict[str, Any]
    seed: int | None
    cost_replica_minutes: float
    oracle_cost_replica_minutes: float
    violation_minutes_pct: float
    drop_pct: float
    scaling_actions: int
    minutes: float
    steps: int
    wall_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cost_vs_oracle(self) -> float:
        """Cost over the oracle's on the same trace and arrivals (below 1 only by violating the SLO)."""
        return self.cost_replica_minutes / self.oracle_cost_replica_minutes

    def to_dict(self) -> dict[str, Any]:
        """The benchmark's JSON row: name, params, seed, cost_vs_oracle, violation_minutes_pct, drop_pct, scaling_actions..."""
        return {
            "name": self.name,
            "params": dict(self.params),
            "seed": self.seed,
            "cost_vs_oracle": self.cost_vs_oracle,
            "violation_minutes_pct": self.violation_minutes_pct,
            "drop_pct": self.drop_pct,
            "scaling_actions": self.scaling_actions,
            "cost_replica_minutes": self.cost_replica_minutes,
            "minutes": self.minutes,
            "steps": self.steps,
            "wall_seconds": self.wall_seconds,
            **self.extra,
        }


def _run(
    policy: Policy | DecisionEngine,
    env: AutoscalingEnv,
    seed: int | None,
    options: dict[str, Any] | None,
    record: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One episode; returns the environment's metrics (and appends each step's info, with its ``reward``, to ``record``)."""
    if isinstance(policy, ScalingPolicy):
        policy.bind(env)
    if isinstance(policy, Policy):
        policy.reset()
    env.reset(seed=seed, options=options)
    truncated = False
    engine = policy if isinstance(policy, DecisionEngine) else None
    while not truncated:
        ctx = env.context()
        total = ctx["replicas"] + ctx["pending_replicas"]
        if engine is not None:
            decision = engine.evaluate(ctx)
            delta = (
                0
                if decision is None or decision.decision_type not in _SCALES or decision.delta is None
                else decision.delta
            )
        else:
            proposal = policy.propose(ctx)  # type: ignore[union-attr]
            delta = 0 if proposal is None else int(proposal.parameters.get("delta", 0) or 0)
        _, reward, _, truncated, info = env.step_target(total + int(delta))
        if record is not None:
            info["reward"] = reward
            record.append(info)
    return env.episode_metrics()


def evaluate_policy(
    policy: Policy | DecisionEngine,
    env: AutoscalingEnv,
    *,
    seed: int | None = 0,
    options: dict[str, Any] | None = None,
    name: str | None = None,
    params: dict[str, Any] | None = None,
) -> PolicyResult:
    """Run ``policy`` for one episode of ``env`` and score it against the :class:`OraclePolicy`.

    ``policy`` is a :class:`~autoopt.decision.Policy` (its proposals' signed ``delta``) or a
    :class:`~autoopt.DecisionEngine` (its scaling decisions' ``delta``), asked on every step with
    :meth:`AutoscalingEnv.context`. The oracle runs on the same trace with the same ``seed`` (the
    same Poisson arrivals), so ``cost_vs_oracle`` compares like with like.

    Returns
    -------
    PolicyResult
        ``to_dict()`` holds ``cost_vs_oracle``, ``violation_minutes_pct`` (the share of counted
        minutes with p99 above the SLO), ``drop_pct``, ``scaling_actions`` and more.
    """
    if not isinstance(policy, (Policy, DecisionEngine)):
        raise TypeError(
            f"evaluate_policy() argument 'policy' must be a Policy or a DecisionEngine; got {policy!r}."
        )
    oracle = _oracle_cost(env, seed, options)
    start = time.perf_counter()
    metrics = _run(policy, env, seed, options)
    wall = time.perf_counter() - start
    label = name if name is not None else ("rules" if isinstance(policy, DecisionEngine) else policy.name)
    return PolicyResult(
        name=label,
        params=dict(params if params is not None else getattr(policy, "params", {})),
        seed=seed,
        cost_replica_minutes=metrics["cost_replica_minutes"],
        oracle_cost_replica_minutes=oracle,
        violation_minutes_pct=metrics["violation_minutes_pct"],
        drop_pct=metrics["drop_pct"],
        scaling_actions=metrics["scaling_actions"],
        minutes=metrics["minutes"],
        steps=metrics["steps"],
        wall_seconds=wall,
    )


def _oracle_cost(env: AutoscalingEnv, seed: int | None, options: dict[str, Any] | None) -> float:
    """The oracle's cost on ``env`` with ``seed``, cached on the environment itself (seeded runs only)."""
    key = (seed, repr(sorted((options or {}).items())))
    cache: dict[tuple[int | None, str], float] = env.__dict__.setdefault("_oracle_costs", {})
    cost = cache.get(key)
    if cost is None:
        cost = _run(OraclePolicy(), env, seed, options)["cost_replica_minutes"]
        if seed is not None:
            cache[key] = cost
    return cost


def hpa_frontier(
    env: AutoscalingEnv,
    targets: Sequence[float] = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8),
    *,
    seed: int | None = 0,
    options: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """The HPA's cost and SLO violations at each utilisation target: one row per target.

    Columns: ``target_utilization``, ``cost_vs_oracle``, ``violation_minutes_pct``, ``drop_pct``,
    ``scaling_actions``.
    """
    import pandas as pd

    rows = []
    for target in targets:
        r = evaluate_policy(HPAPolicy(target), env, seed=seed, options=options)
        rows.append(
            {
                "target_utilization": float(target),
                "cost_vs_oracle": r.cost_vs_oracle,
                "violation_minutes_pct": r.violation_minutes_pct,
                "drop_pct": r.drop_pct,
                "scaling_actions": r.scaling_actions,
            }
        )
    return pd.DataFrame(rows)


def _feasible_score(result: PolicyResult, max_violation_pct: float) -> float:
    """Higher is better: minus the cost, minus a steep but continuous penalty past the violation budget.

    The penalty (5 cost units per point over) keeps the landscape smooth for the sampler near the
    budget's edge, where the cheapest feasible setting lies; the winner is then chosen among the
    feasible trials only (see :func:`_cheapest_feasible`).
    """
    over = max(0.0, result.violation_minutes_pct - max_violation_pct)
    return -result.cost_vs_oracle - 5.0 * over


def _cheapest_feasible(results: dict[Any, PolicyResult], max_violation_pct: float) -> Any:
    """The key of the cheapest run within the budget (the least violating one if none is)."""
    feasible = {k: r for k, r in results.items() if r.violation_minutes_pct <= max_violation_pct}
    if feasible:
        return min(feasible, key=lambda k: feasible[k].cost_vs_oracle)
    return min(results, key=lambda k: results[k].violation_minutes_pct)


def tune_hpa(
    env: AutoscalingEnv,
    *,
    max_violation_pct: float = 1.0,
    n_trials: int = 24,
    seed: int | None = 0,
    tuner_seed: int = 0,
    options: dict[str, Any] | None = None,
) -> tuple[HPAPolicy, PolicyResult]:
    """The cheapest HPA target whose ``violation_minutes_pct`` is at most ``max_violation_pct`` on ``env``.

    A :class:`~autoopt.SelfTuner` session (``bayesian``) searches the target in [0.15, 0.95]: each
    trial runs the HPA for one episode (``seed``) and scores minus its cost against the oracle, with a
    steep penalty past the violation budget. The result is the cheapest trial within the budget (the
    least violating one if none is). Returns the tuned policy and its run.
    """
    from autoopt.tuning import SelfTuner

    tuner = SelfTuner(seed=tuner_seed)
    results: dict[float, PolicyResult] = {}

    def objective(target: float) -> float:
        r = evaluate_policy(HPAPolicy(round(target, 4)), env, seed=seed, options=options)
        results[round(target, 4)] = r
        return _feasible_score(r, max_violation_pct)

    session = tuner.create_session(
        {"target": (0.15, 0.95, 0.5)}, "bayesian", objective, max_iterations=n_trials
    )
    tuner.optimize(session.session_id)
    target = _cheapest_feasible(results, max_violation_pct)
    return HPAPolicy(target), results[target]


def tune_threshold_rules(
    env: AutoscalingEnv,
    *,
    max_violation_pct: float = 1.0,
    n_trials: int = 30,
    seed: int | None = 0,
    tuner_seed: int = 0,
    options: dict[str, Any] | None = None,
) -> tuple[dict[str, float], PolicyResult]:
    """Tune :func:`threshold_rules`' cut-offs and target on ``env`` as :func:`tune_hpa` tunes the HPA.

    Returns the tuned keyword arguments of :func:`threshold_rules` and their run.
    """
    from autoopt.tuning import SelfTuner

    tuner = SelfTuner(seed=tuner_seed)
    results: dict[tuple[float, ...], PolicyResult] = {}

    def objective(up: float, down_fraction: float, target: float) -> float:
        kwargs = _threshold_kwargs(up, down_fraction, target)
        r = evaluate_policy(
            threshold_rules(**kwargs),  # type: ignore[arg-type]
            env,
            seed=seed,
            options=options,
            name="rules",
            params=kwargs,
        )
        results[tuple(kwargs.values())] = r
        return _feasible_score(r, max_violation_pct)

    session = tuner.create_session(
        {"up": (0.3, 0.95, 0.7), "down_fraction": (0.1, 0.9, 0.5), "target": (0.2, 0.9, 0.5)},
        "adaptive",
        objective,
        max_iterations=n_trials,
    )
    tuner.optimize(session.session_id)
    key = _cheapest_feasible(results, max_violation_pct)
    kwargs = dict(zip(("scale_up_above", "scale_down_below", "target_utilization"), key, strict=True))
    return kwargs, results[key]


def _threshold_kwargs(up: float, down_fraction: float, target: float) -> dict[str, float]:
    """Cut-offs from the tuned space: scale down below a fraction of the scale-up cut-off."""
    up = round(float(up), 4)
    return {
        "scale_up_above": up,
        "scale_down_below": round(up * float(down_fraction), 4),
        "target_utilization": round(min(float(target), up), 4),
    }
