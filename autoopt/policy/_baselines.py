"""Autoscaling baselines: static, Kubernetes' HPA, predictive, the oracle, and threshold rules."""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from autoopt._clock import to_timestamp
from autoopt._validation import check_real, check_size
from autoopt.decision import DecisionEngine, Policy, Proposal, create_decision_rule
from autoopt.enums import DecisionType, PredictionType
from autoopt.prediction import PerformancePredictor
from autoopt.sim._cluster import mm1_utilization_for_latency

if TYPE_CHECKING:
    from autoopt.sim import AutoscalingEnv

__all__ = [
    "HPAPolicy",
    "OraclePolicy",
    "PredictivePolicy",
    "ScalingPolicy",
    "StaticPolicy",
    "threshold_rules",
]


def _to(total: int, target: int, why: str, confidence: float = 1.0) -> Proposal:
    """A proposal that moves ``total`` replicas (ready + pending) to ``target``."""
    delta = int(target) - int(total)
    if delta > 0:
        return Proposal(DecisionType.SCALE_UP, confidence, {"delta": delta}, why)
    if delta < 0:
        return Proposal(DecisionType.SCALE_DOWN, confidence, {"delta": delta}, why)
    return Proposal(DecisionType.DEFER, confidence, {"delta": 0}, why)


class ScalingPolicy(Policy):
    """A :class:`~autoopt.decision.Policy` that scales replicas, proposing a signed ``delta``.

    It reads the context :meth:`AutoscalingEnv.context` builds (``replicas``,
    ``pending_replicas``, ``utilization``, ``request_rate``, ``capacity_rps``...), and may be
    :meth:`bind`-ed to an environment first, to read what the context does not carry (the
    oracle reads the future). :func:`~autoopt.policy.evaluate_policy` calls ``bind``,
    :meth:`reset` and then :meth:`propose` on every step.
    """

    params: dict[str, Any]

    def bind(self, env: AutoscalingEnv) -> None:
        """Read what the policy needs from ``env`` (nothing by default)."""


class StaticPolicy(ScalingPolicy):
    """A fixed fleet: ``replicas`` if given, else enough for the trace's peak at ``target_utilization``.

    Examples
    --------
    >>> StaticPolicy(replicas=12).propose({"replicas": 10, "pending_replicas": 0}).parameters
    {'delta': 2}
    """

    def __init__(self, replicas: int | None = None, *, target_utilization: float = 0.5) -> None:
        self.replicas = (
            None if replicas is None else check_size(replicas, "StaticPolicy() argument 'replicas'")
        )
        self.target_utilization = check_real(
            target_utilization,
            "StaticPolicy() argument 'target_utilization'",
            low=0.0,
            high=1.0,
            low_open=True,
        )
        self._fleet = self.replicas
        self.params = {"replicas": replicas, "target_utilization": self.target_utilization}

    @property
    def name(self) -> str:
        return "static"

    def bind(self, env: AutoscalingEnv) -> None:
        if self.replicas is None:
            self._fleet = env.needed_replicas(float(env.rate.max()), self.target_utilization)

    def propose(self, context: Mapping[str, Any]) -> Proposal | None:
        if self._fleet is None:
            raise RuntimeError("StaticPolicy needs replicas= or bind(env) first")
        return _to(context["replicas"] + context["pending_replicas"], self._fleet, "static fleet")


class HPAPolicy(ScalingPolicy):
    """Kubernetes' Horizontal Pod Autoscaler on utilisation, with its controller's replica formula.

    On each step, with ``r`` ready replicas at utilisation ``u`` and ``current`` replicas (ready and
    pending, the scale target's spec):

    - the recommendation is ``ceil(r * u / target)``, or ``current`` when ``|u / target - 1|`` is
      within the ``tolerance`` (0.1);
    - scaling down is stabilised: the desired count is the largest recommendation made within the
      last ``downscale_stabilization_s`` (300 s; one exactly that old has expired, as in the
      controller's ``After(cutoff)``);
    - scaling up is limited to ``max(2 * current, current + 4)`` per step (the default policies
      ``Percent 100`` and ``Pods 4``, whichever allows more);
    - the result stays within the environment's replica bounds.

    Simplified from the controller: the utilisation is the environment's (a fraction, not whole
    percent), averaged over ready replicas; pending replicas count in ``current`` but not in the
    average, and there is no special handling of unready pods. Thread-safe.

    Examples
    --------
    >>> hpa = HPAPolicy(target_utilization=0.5)
    >>> ctx = {"replicas": 4, "pending_replicas": 0, "utilization": 0.9, "timestamp": 0.0}
    >>> hpa.propose(ctx).parameters   # ceil(4 * 0.9 / 0.5) = 8
    {'delta': 4}
    """

    def __init__(
        self,
        target_utilization: float = 0.5,
        *,
        tolerance: float = 0.1,
        downscale_stabilization_s: float = 300.0,
    ) -> None:
        where = "HPAPolicy() argument"
        self.target_utilization = check_real(
            target_utilization, f"{where} 'target_utilization'", low=0.0, high=1.0, low_open=True
        )
        self.tolerance = check_real(tolerance, f"{where} 'tolerance'", low=0.0)
        self.downscale_stabilization_s = check_real(
            downscale_stabilization_s, f"{where} 'downscale_stabilization_s'", low=0.0
        )
        self.params = {"target_utilization": self.target_utilization}
        self._recent: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()  # the stabilisation window is shared by concurrent callers

    @property
    def name(self) -> str:
        return "hpa"

    def reset(self) -> None:
        with self._lock:
            self._recent.clear()

    def desired(self, context: Mapping[str, Any], target_utilization: float | None = None) -> int:
        """The replica count the HPA controller asks for (before the environment's bounds).

        ``target_utilization`` overrides the policy's target for this step (a policy that steers
        the HPA's target, such as :class:`DQNPolicy`'s residual actions); the stabilisation window
        holds the recommendations made whatever their target.
        """
        ready, pending = int(context["replicas"]), int(context["pending_replicas"])
        current = ready + pending
        util = float(context["utilization"])
        ratio = util / (self.target_utilization if target_utilization is None else target_utilization)
        recommendation = current if abs(ratio - 1.0) <= self.tolerance else math.ceil(ready * ratio - 1e-9)
        now = to_timestamp(context["timestamp"], "context['timestamp']")
        with self._lock:
            recent = self._recent
            recent.append((now, recommendation))
            # the controller keeps the recommendations *after* now - window (an exactly 300 s old one goes)
            while recent and now - recent[0][0] >= self.downscale_stabilization_s:
                recent.popleft()
            window_max = max(r for _, r in recent)
        desired = recommendation
        if desired < current:
            desired = min(current, window_max)
        return min(desired, max(2 * current, current + 4))

    def propose(self, context: Mapping[str, Any]) -> Proposal | None:
        return _to(int(context["replicas"]) + int(context["pending_replicas"]), self.desired(context), "hpa")


class PredictivePolicy(ScalingPolicy):
    """Replicas for the demand forecast one readiness delay ahead, never below the HPA's count.

    A :class:`~autoopt.PerformancePredictor` records the request rate each step and forecasts it
    ``readiness_delay + step`` ahead (the linear trend at first, the seasonal Forecaster once two
    days are recorded). The policy asks for enough replicas to serve the forecast interval's upper
    end at ``target_utilization``, and at least what an :class:`HPAPolicy` with the same target asks.
    """

    def __init__(
        self, target_utilization: float = 0.5, *, predictor_kwargs: Mapping[str, Any] | None = None
    ) -> None:
        self.target_utilization = check_real(
            target_utilization,
            "PredictivePolicy() argument 'target_utilization'",
            low=0.0,
            high=1.0,
            low_open=True,
        )
        self._hpa = HPAPolicy(self.target_utilization)
        self._predictor_kwargs = dict(predictor_kwargs or {})
        self._predictor = self._new_predictor()
        self.params = {"target_utilization": self.target_utilization}

    def _new_predictor(self) -> PerformancePredictor:
        from autoopt._clock import ManualClock
        from autoopt.config import AutomationConfig

        kwargs = {
            "min_observations": 10,
            "config": AutomationConfig(max_clock_skew_s=None),
            **self._predictor_kwargs,
        }
        return PerformancePredictor(clock=ManualClock(0.0), **kwargs)

    @property
    def name(self) -> str:
        return "predictive"

    def reset(self) -> None:
        self._hpa.reset()
        self._predictor = self._new_predictor()

    def propose(self, context: Mapping[str, Any]) -> Proposal | None:
        total = int(context["replicas"]) + int(context["pending_replicas"])
        floor = self._hpa.desired(context)
        self._predictor.record_observation(
            PredictionType.THROUGHPUT,
            float(context["request_rate"]),
            timestamp=to_timestamp(context["timestamp"], "context['timestamp']"),
        )
        lead_min = (float(context["readiness_delay_s"]) + float(context["step_seconds"])) / 60.0
        pred = self._predictor.predict(PredictionType.THROUGHPUT, horizon_minutes=lead_min)
        target = floor
        if pred is not None:
            need = math.ceil(
                pred.confidence_interval[1] / (float(context["capacity_rps"]) * self.target_utilization)
                - 1e-9
            )
            target = max(floor, need)
        return _to(total, target, "predictive")


class OraclePolicy(ScalingPolicy):
    """The fewest replicas whose modelled p99 stays within the SLO for the demand a readiness delay ahead.

    It knows the future: at each step it asks for enough replicas, at the highest utilisation the
    latency model allows within the SLO (:func:`~autoopt.sim.mm1_utilization_for_latency`), for
    the largest expected demand between now and one readiness delay ahead (the replicas ordered now
    are ready then; a smaller count can be reached at once). It is the cost floor that
    ``cost_vs_oracle`` divides by; a policy that violates the SLO can score below 1.
    """

    def __init__(self, *, margin: float = 1.0) -> None:
        self.margin = check_real(margin, "OraclePolicy() argument 'margin'", low=0.0, low_open=True)
        self.params = {"margin": self.margin}
        self._targets: np.ndarray | None = None
        self._t: np.ndarray | None = None

    @property
    def name(self) -> str:
        return "oracle"

    def bind(self, env: AutoscalingEnv) -> None:
        rho = mm1_utilization_for_latency(env.slo_ms, env.capacity_rps)
        if rho <= 0:
            raise ValueError(
                f"no utilisation meets a {env.slo_ms} ms p99 with {env.capacity_rps} rps replicas"
            )
        lead = max(0, math.ceil(env.readiness_delay_s / env.step_seconds))
        need = np.ceil(env.rate * self.margin / (env.capacity_rps * rho) - 1e-9)
        need = np.clip(need, env.min_replicas, env.max_replicas)
        # the largest need over [k, k + lead]: a sliding maximum
        from numpy.lib.stride_tricks import sliding_window_view

        padded = np.concatenate([need, np.full(lead, need[-1])])
        self._targets = sliding_window_view(padded, lead + 1).max(axis=1).astype(int)
        self._t = env._t

    def propose(self, context: Mapping[str, Any]) -> Proposal | None:
        if self._targets is None or self._t is None:
            raise RuntimeError("OraclePolicy must be bind()-ed to its environment first")
        # the context describes the step just served; the next step's target applies
        k = int(
            np.searchsorted(self._t, to_timestamp(context["timestamp"], "context['timestamp']"), side="right")
        )
        target = int(self._targets[min(k, len(self._targets) - 1)])
        return _to(int(context["replicas"]) + int(context["pending_replicas"]), target, "oracle")


def threshold_rules(
    *,
    scale_up_above: float = 0.7,
    scale_down_below: float = 0.3,
    target_utilization: float = 0.5,
    scale_down_cooldown_s: float = 300.0,
    engine: DecisionEngine | None = None,
) -> DecisionEngine:
    """Declarative threshold rules for an :class:`~autoopt.sim.AutoscalingEnv`, in a DecisionEngine.

    - a guard vetoes any scale-down while the p99 is above the SLO;
    - **scale up** when utilisation exceeds ``scale_up_above`` and nothing is pending, to
      ``target_utilization``;
    - **scale down** when utilisation is below ``scale_down_below``, to ``target_utilization``, at
      most once per ``scale_down_cooldown_s``.

    The engine registers the environment's context keys (:data:`~autoopt.sim.ENV_CONTEXT_KEYS`).

    Examples
    --------
    >>> engine = threshold_rules()
    >>> d = engine.evaluate({"utilization": 0.9, "replicas": 10, "pending_replicas": 0,
    ...                      "latency_p99": 100.0, "slo_ms": 250.0, "timestamp": 0.0})
    >>> d.decision_type.value, d.delta
    ('scale_up', 8)
    """
    from autoopt.sim._env import ENV_CONTEXT_KEYS

    lo = check_real(scale_down_below, "threshold_rules() argument 'scale_down_below'", low=0.0, high=1.0)
    hi = check_real(
        scale_up_above, "threshold_rules() argument 'scale_up_above'", low=0.0, high=1.0, low_open=True
    )
    mid = check_real(
        target_utilization,
        "threshold_rules() argument 'target_utilization'",
        low=0.0,
        high=1.0,
        low_open=True,
    )
    if not lo < hi:
        raise ValueError(f"threshold_rules(): scale_down_below ({lo}) must be below scale_up_above ({hi}).")
    engine = engine if engine is not None else DecisionEngine()
    for key in ENV_CONTEXT_KEYS:
        engine.register_context_key(*key)
    engine.add_rule(
        create_decision_rule(
            "no scale-down over the SLO",
            "latency_p99 > slo_ms",
            DecisionType.DEFER,
            {},
            priority=100,
            role="guard",
            veto=(DecisionType.SCALE_DOWN,),
        )
    )
    engine.add_rule(
        create_decision_rule(
            "scale up",
            f"utilization > {hi!r} and pending_replicas == 0",
            DecisionType.SCALE_UP,
            {"delta": f"max(1, ceil(replicas * utilization / {mid!r}) - replicas)"},
            priority=50,
            cooldown_seconds=0.0,
        )
    )
    engine.add_rule(
        create_decision_rule(
            "scale down",
            f"utilization < {lo!r} and replicas > 1",
            DecisionType.SCALE_DOWN,
            {"delta": f"min(-1, max(1, ceil(replicas * utilization / {mid!r})) - replicas)"},
            priority=10,
            cooldown_seconds=scale_down_cooldown_s,
        )
    )
    return engine
