"""IntelligentAutomationHub: the components wired into one automation pipeline."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from autoopt._clock import Clock, system_clock, to_timestamp
from autoopt._validation import (
    SeedLike,
    check_id,
    check_random_state,
    check_real,
    check_str,
    check_sync_callable,
    describe_exception,
    safe_repr,
)
from autoopt.config import AutomationConfig, check_config
from autoopt.decision import ANOMALY_SIGNALS, DecisionEngine, build_context
from autoopt.enums import DecisionType, LoadLevel, PredictionType, RemediationAction
from autoopt.exceptions import UnknownIdError
from autoopt.learning import PatternLearner
from autoopt.load import LoadManager
from autoopt.models import Decision, LoadMetrics, Prediction, Remediation, jsonable
from autoopt.prediction import AnomalyDetector, PerformancePredictor
from autoopt.remediation import AutoRemediation
from autoopt.scheduling import IntelligentScheduler
from autoopt.tuning import SelfTuner

__all__ = ["ANOMALY_SIGNALS", "IntelligentAutomationHub", "create_intelligent_automation_hub"]

logger = logging.getLogger(__name__)

# Series the hub forecasts on every sample (and scores when their target time comes).
_FORECAST = (PredictionType.LOAD, PredictionType.THROUGHPUT)

# Decision types the hub turns into a remediation when a handler is registered.
_REMEDIATING: dict[DecisionType, RemediationAction] = {
    DecisionType.REMEDIATE: RemediationAction.RESTART,
    DecisionType.FAILOVER: RemediationAction.FAILOVER,
}


@dataclass
class _Run:
    """One call of :meth:`IntelligentAutomationHub.process_metrics`: what each stage reads and writes."""

    metrics: LoadMetrics
    ts: float
    level: LoadLevel
    throttle: float
    extra: Mapping[str, Any] | None
    predictions: dict[PredictionType, Prediction] = field(default_factory=dict)
    anomalies: dict[str, float] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    decision: Decision | None = None
    remediation: Remediation | None = None
    recommendation: dict[str, Any] | None = None
    errors: dict[str, str] = field(default_factory=dict)


class IntelligentAutomationHub:
    """The automation components behind one pipeline.

    :meth:`process_metrics` runs, for each load sample:

    1. **load**: :meth:`LoadManager.record_metrics` classifies the sample
       (level handlers run) and sets the throttle;
    2. **prediction** (``config.prediction_enabled``): the sample's
       utilisation (% of the busier of CPU and memory), request rate, error
       rate and p99 latency (when non-zero) are recorded at the sample's
       timestamp, earlier predictions whose target time has come are scored
       against it, and load and request rate are forecast
       ``prediction_horizon_minutes`` ahead;
    3. **anomalies**: each signal of ``anomaly_signals`` (utilisation,
       request rate, error rate and p99 latency by default) goes through its
       own streaming :class:`AnomalyDetector`; the scores in [0, 1] are
       reported as ``anomaly_scores`` and enter the decision context as
       ``anomaly_scores`` (by signal) and ``anomaly_score`` (their maximum),
       so a rule such as ``lambda ctx: ctx["anomaly_score"] > 0.9`` can
       decide -- and, with a REMEDIATE decision, remediate -- on them;
    4. **decision**: the :class:`DecisionEngine` evaluates the decision context
       :func:`autoopt.decision.build_context` makes of the sample, its level and
       throttle, the anomaly scores and the forecasts (None until the predictor
       has enough history), merged with any ``context`` passed in; every key and
       its unit is in :data:`autoopt.decision.DEFAULT_CONTEXT_KEYS`. The context's
       ``timestamp`` is the sample's, so cooldowns follow the samples' times;
    5. **remediation** (``config.auto_remediation_enabled``): a REMEDIATE or
       FAILOVER decision is executed through :class:`AutoRemediation` when a
       handler for its action (``parameters["action"]``, RESTART or FAILOVER by
       default) is registered; its outcome teaches the learner;
    6. **learning** (``config.learning_enabled``): the learner's recommended
       action for the current load level is reported.

    :meth:`record_decision_outcome` closes the loop: it records feedback on a
    decision and teaches the learner which decision type worked at which
    load level.

    **The commit point** is stage 1. Everything that can be wrong with the
    call (the sample's fields and timestamp, the context's type) is checked
    before the load manager records the sample, and raises with nothing
    recorded anywhere. Once the sample is recorded, each later stage isolates
    its own failure: it is logged, counted in ``get_automation_summary()
    ["hub"]["stage_errors"]`` and reported in the result's ``stage_errors``
    (stage -> message), the stage's output is empty (no forecasts, no
    decision...), and :meth:`process_metrics` returns normally.

    **Forecasts awaiting scoring** are held until the first sample at or
    after their target time. They are thinned to one per series per
    ``validation_resolution_seconds`` of target time, so however fast
    samples arrive at most ``horizon / resolution + 1`` are outstanding per
    series (3,602 in all at the defaults); the thinned ones are counted in
    ``predictions_thinned``.

    Parameters
    ----------
    config : AutomationConfig, optional
    clock : callable, default time.time
        Shared by every component the hub builds.
    seed : int, optional
        Seeds the tuner (and anything else random the hub builds).
    decision_engine, self_tuner, scheduler, load_manager, predictor, remediation, learner : optional
        Pre-built components to use instead of default ones.
    remediation_target : str, default "service"
        Target of hub-triggered remediations when a decision names none.
    validation_tolerance_seconds : float, default 300
        A prediction is scored against the first sample at most this long
        after its target time, and dropped unscored otherwise (a gap).
    validation_resolution_seconds : float, default 1
        Forecasts queued for scoring are at least this far apart in target
        time, per series (see above); 0 queues every forecast.
    anomaly_signals : sequence of str
        The signals scored for anomalies, from :data:`ANOMALY_SIGNALS`
        (empty for none).
    anomaly_detector_factory : callable, optional
        Builds one :class:`AnomalyDetector` per signal (default
        ``AnomalyDetector()``).

    Notes
    -----
    Thread safety: each component is thread-safe on its own; the hub's own
    lock guards only its counters and the queue of predictions awaiting
    scoring, and is never held while a component or user code runs.

    Examples
    --------
    >>> from autoopt import create_intelligent_automation_hub, create_decision_rule
    >>> from autoopt import create_load_metrics, DecisionType
    >>> hub = create_intelligent_automation_hub()
    >>> hub.decision_engine.add_rule(create_decision_rule(
    ...     "hot", lambda ctx: ctx["utilization"] >= 0.8, DecisionType.SCALE_UP,
    ...     lambda ctx: {"instances": 1}))
    >>> out = hub.process_metrics(create_load_metrics(cpu_usage=92.0, memory_usage=40.0))
    >>> out["load_level"], out["decision"]["decision_type"], round(out["throttle_percentage"], 1)
    ('critical', 'scale_up', 75.8)
    >>> hub.get_automation_summary()["decision_stats"]["total_decisions"]
    1
    """

    def __init__(
        self,
        config: AutomationConfig | None = None,
        *,
        clock: Clock = system_clock,
        seed: SeedLike = None,
        decision_engine: DecisionEngine | None = None,
        self_tuner: SelfTuner | None = None,
        scheduler: IntelligentScheduler | None = None,
        load_manager: LoadManager | None = None,
        predictor: PerformancePredictor | None = None,
        remediation: AutoRemediation | None = None,
        learner: PatternLearner | None = None,
        remediation_target: str = "service",
        validation_tolerance_seconds: float = 300.0,
        validation_resolution_seconds: float = 1.0,
        anomaly_signals: Sequence[str] = ANOMALY_SIGNALS,
        anomaly_detector_factory: Callable[[], AnomalyDetector] | None = None,
    ) -> None:
        cfg = check_config(config, "IntelligentAutomationHub()")
        check_sync_callable(clock, "IntelligentAutomationHub() argument 'clock'")
        check_str(remediation_target, "IntelligentAutomationHub() argument 'remediation_target'")
        self.config = cfg
        self.remediation_target = remediation_target
        self.validation_tolerance_seconds = check_real(
            validation_tolerance_seconds,
            "IntelligentAutomationHub() argument 'validation_tolerance_seconds'",
            low=0.0,
        )
        self.validation_resolution_seconds = check_real(
            validation_resolution_seconds,
            "IntelligentAutomationHub() argument 'validation_resolution_seconds'",
            low=0.0,
        )
        for arg, component, kind in (
            ("decision_engine", decision_engine, DecisionEngine),
            ("self_tuner", self_tuner, SelfTuner),
            ("scheduler", scheduler, IntelligentScheduler),
            ("load_manager", load_manager, LoadManager),
            ("predictor", predictor, PerformancePredictor),
            ("remediation", remediation, AutoRemediation),
            ("learner", learner, PatternLearner),
        ):
            if component is not None and not isinstance(component, kind):
                raise TypeError(
                    f"IntelligentAutomationHub() argument {arg!r} must be a {kind.__name__} or None; "
                    f"got {safe_repr(component)} of type {type(component).__name__}."
                )
        if isinstance(anomaly_signals, str) or not isinstance(anomaly_signals, Sequence):
            raise TypeError(
                f"IntelligentAutomationHub() argument 'anomaly_signals' must be a sequence of names; "
                f"got {anomaly_signals!r}."
            )
        unknown = [a for a in anomaly_signals if a not in ANOMALY_SIGNALS]
        if unknown:
            raise ValueError(
                f"IntelligentAutomationHub() argument 'anomaly_signals' holds unknown signal(s) {unknown}; "
                f"valid: {list(ANOMALY_SIGNALS)}."
            )
        if anomaly_detector_factory is not None and not callable(anomaly_detector_factory):
            raise TypeError(
                "IntelligentAutomationHub() argument 'anomaly_detector_factory' must be callable; "
                f"got {anomaly_detector_factory!r}."
            )
        make = anomaly_detector_factory or AnomalyDetector
        self._detectors: dict[str, AnomalyDetector] = {}
        for name in dict.fromkeys(anomaly_signals):
            detector = make()
            if not isinstance(detector, AnomalyDetector):
                raise TypeError(
                    "IntelligentAutomationHub() argument 'anomaly_detector_factory' must return an "
                    f"AnomalyDetector; got {detector!r}."
                )
            self._detectors[name] = detector
        self._clock = clock
        rng = check_random_state(seed, "IntelligentAutomationHub() argument 'seed'")
        self._decision_engine = decision_engine or DecisionEngine(cfg, clock=clock)
        self._self_tuner = self_tuner or SelfTuner(cfg, seed=int(rng.integers(2**31)), clock=clock)
        self._scheduler = scheduler or IntelligentScheduler(cfg, clock=clock)
        self._load_manager = load_manager or LoadManager(cfg, clock=clock)
        self._predictor = predictor or PerformancePredictor(cfg, clock=clock)
        self._remediation = remediation or AutoRemediation(cfg, clock=clock)
        self._learner = learner or PatternLearner(clock=clock)
        self._lock = threading.Lock()
        # Forecasts awaiting their target time: a heap of (target, seq, prediction). The hub holds the
        # objects, so they are scored however many predictions the predictor has made (and evicted) since.
        self._pending: list[tuple[float, int, Prediction]] = []
        self._last_queued: dict[PredictionType, float] = {}  # latest queued target time, per series
        self._seq = itertools.count()
        # Per decision: the conditions it was made under, and whether its outcome was already learned.
        self._decision_conditions: OrderedDict[str, tuple[dict[str, Any], bool]] = OrderedDict()
        self._processed = 0
        self._validated = 0
        self._expired = 0
        self._thinned = 0
        self._stage_errors: dict[str, int] = {}
        self._last_stage_error: str | None = None
        self._stages: tuple[tuple[str, Callable[[_Run], None]], ...] = (
            ("prediction", self._stage_prediction),
            ("anomalies", self._stage_anomalies),
            ("decision", self._stage_decision),
            ("remediation", self._stage_remediation),
            ("learning", self._stage_learning),
        )
        self._remediations = 0
        self._remediation_errors = 0
        self._last_remediation_error: str | None = None
        # Runbook remediations still running: remediation id -> the conditions to learn their outcome under.
        self._runbook_conditions: dict[str, dict[str, Any]] = {}
        self._last_anomaly_scores: dict[str, float] = {}
        self._remediation.add_listener(self._runbook_finished)

    # -------------------------------------------------------------- components

    @property
    def clock(self) -> Clock:
        """The clock the hub and the components it built read."""
        return self._clock

    @property
    def decision_engine(self) -> DecisionEngine:
        """The rule-based :class:`DecisionEngine`."""
        return self._decision_engine

    @property
    def self_tuner(self) -> SelfTuner:
        """The Optuna-backed :class:`SelfTuner`."""
        return self._self_tuner

    @property
    def scheduler(self) -> IntelligentScheduler:
        """The :class:`IntelligentScheduler`."""
        return self._scheduler

    @property
    def load_manager(self) -> LoadManager:
        """The :class:`LoadManager`."""
        return self._load_manager

    @property
    def predictor(self) -> PerformancePredictor:
        """The :class:`PerformancePredictor`."""
        return self._predictor

    @property
    def remediation(self) -> AutoRemediation:
        """The :class:`AutoRemediation`."""
        return self._remediation

    @property
    def learner(self) -> PatternLearner:
        """The :class:`PatternLearner`."""
        return self._learner

    # ---------------------------------------------------------------- pipeline

    def _score_due_predictions(self, now_ts: float, actual: dict[PredictionType, float]) -> None:
        due: list[tuple[float, int, Prediction]] = []
        with self._lock:
            while self._pending and self._pending[0][0] <= now_ts:
                due.append(heapq.heappop(self._pending))
        scored = expired = 0
        for target_ts, _, pred in due:
            value = actual.get(pred.prediction_type)
            if value is None or now_ts - target_ts > self.validation_tolerance_seconds:
                expired += 1
                continue
            self._predictor.score_prediction(pred, value)
            scored += 1
        if due:
            with self._lock:
                self._validated += scored
                self._expired += expired

    def _predict(self, metrics: LoadMetrics, ts: float) -> dict[PredictionType, Prediction]:
        observed = {
            PredictionType.LOAD: 100.0 * metrics.utilization,
            PredictionType.THROUGHPUT: metrics.request_rate,
            PredictionType.ERROR_RATE: metrics.error_rate,
        }
        if metrics.latency_p99 > 0:
            observed[PredictionType.LATENCY] = metrics.latency_p99
        for ptype, value in observed.items():
            self._predictor.record_observation(ptype, value, timestamp=ts)
        self._score_due_predictions(ts, observed)
        out: dict[PredictionType, Prediction] = {}
        resolution = self.validation_resolution_seconds
        for ptype in _FORECAST:
            pred = self._predictor.predict(ptype)
            if pred is not None:
                out[ptype] = pred
                target = pred.target_time.timestamp()
                with self._lock:
                    last = self._last_queued.get(ptype)
                    if last is not None and target < last + resolution:
                        self._thinned += 1  # one queued per series per resolution step of target time
                    else:
                        self._last_queued[ptype] = target
                        heapq.heappush(self._pending, (target, next(self._seq), pred))
        return out

    def _score_anomalies(self, metrics: LoadMetrics, ts: float) -> dict[str, float]:
        """Each monitored signal's anomaly score for this sample (each detector has its own lock)."""
        values = {
            "utilization": metrics.utilization,
            "request_rate": metrics.request_rate,
            "error_rate": metrics.error_rate,
            "latency_p99": metrics.latency_p99,
        }
        scores = {name: det.update(values[name], ts) for name, det in self._detectors.items()}
        self._last_anomaly_scores = scores  # replaced whole: a reader never sees a half-updated dict
        return scores

    def _remediate(self, decision: Decision, level: LoadLevel) -> Remediation | None:
        default = _REMEDIATING.get(decision.decision_type)
        if default is None or not self.config.auto_remediation_enabled:
            return None
        try:
            action = RemediationAction(decision.parameters.get("action", default))
        except ValueError:
            logger.warning(
                "decision %s names an unknown remediation action %r; not executed",
                decision.decision_id,
                decision.parameters.get("action"),
            )
            return None
        if not self._remediation.has_handler(action):
            return None
        target = decision.parameters.get("target", self.remediation_target)
        params = {k: v for k, v in decision.parameters.items() if k not in ("action", "target")}
        try:
            result = self._remediation.execute_remediation(action, target, decision.rationale, params)
        except (TypeError, ValueError) as exc:  # the rule's parameters_fn gave a bad target or parameters
            message = (
                f"decision {decision.decision_id}: remediation not executed: {type(exc).__name__}: {exc}"
            )
            logger.warning("%s", message)
            with self._lock:
                self._remediation_errors += 1
                self._last_remediation_error = message
            return None
        self._decision_engine.mark_executed(decision.decision_id)
        # A runbook running in the background is learned from when it ends. The check and the
        # registration are one step under the lock _runbook_finished takes, so a runbook that ends
        # meanwhile is either seen ended here or finds its entry there.
        with self._lock:
            pending = result.pending
            if pending:
                self._runbook_conditions[result.remediation_id] = {"load_level": level.value}
        if not pending and self.config.learning_enabled:
            self._learner.record_observation({"load_level": level.value}, action.value, result.success)
        with self._lock:
            self._remediations += 1
            conditions, _ = self._decision_conditions.get(
                decision.decision_id, ({"load_level": level.value}, False)
            )
            self._decision_conditions[decision.decision_id] = (conditions, True)
        return result

    def _runbook_finished(self, record: Remediation) -> None:
        """A background runbook remediation ended: its outcome feeds the pattern learner."""
        with self._lock:
            conditions = self._runbook_conditions.pop(record.remediation_id, None)
        if conditions is not None and self.config.learning_enabled:
            self._learner.record_observation(conditions, record.action.value, record.success)

    def process_metrics(
        self, metrics: LoadMetrics, *, context: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run one load sample through the pipeline (see the class docstring).

        Parameters
        ----------
        metrics : LoadMetrics
        context : mapping, optional
            Extra entries for the decision context (they override the
            computed ones).

        Returns
        -------
        dict
            JSON-serialisable: ``timestamp``, ``load_level``, ``utilization``,
            ``throttle_percentage``, ``should_shed``, ``predictions`` (by
            series name: ``load``, ``throughput``), ``anomaly_scores``,
            ``decision``, ``remediation``, ``recommendation``
            (``{"action", "confidence"}`` or None) and ``stage_errors`` (stage
            name -> message, for the stages that failed after the commit point).

        Raises
        ------
        TypeError, ValueError
            On a bad sample, timestamp or context; nothing is recorded. Nothing
            raises after the commit point (see the class notes).
        """
        if not isinstance(metrics, LoadMetrics):
            raise TypeError(f"process_metrics() argument 'metrics' must be a LoadMetrics; got {metrics!r}.")
        if context is not None and not isinstance(context, Mapping):
            raise TypeError(f"process_metrics() argument 'context' must be a mapping; got {context!r}.")
        # 1. load: the commit point. record_metrics re-validates the (mutable) sample and its timestamp
        # before recording anything, so bad input raises here with every component untouched.
        level = self._load_manager.record_metrics(metrics)
        run = _Run(
            metrics=metrics,
            ts=to_timestamp(metrics.timestamp, "LoadMetrics.timestamp"),
            level=level,
            throttle=self._load_manager.get_throttle_percentage(),
            extra=context,
        )
        # 2-6: each stage isolates its own failure (see the class notes).
        for name, stage in self._stages:
            try:
                stage(run)
            except Exception as exc:
                message = describe_exception(exc)
                logger.exception("process_metrics: the %s stage failed: %s", name, message)
                run.errors[name] = message
                with self._lock:
                    self._stage_errors[name] = self._stage_errors.get(name, 0) + 1
                    self._last_stage_error = f"{name}: {message}"
        with self._lock:
            self._processed += 1
        decision = run.decision
        return {
            "timestamp": metrics.timestamp.isoformat(),
            "load_level": level.value,
            "utilization": metrics.utilization,
            "throttle_percentage": run.throttle,
            "should_shed": run.throttle > 0.0,
            "predictions": {t.value: p.to_dict() for t, p in run.predictions.items()},
            "anomaly_scores": run.anomalies,
            "decision": None if decision is None else decision.to_dict(),
            "remediation": None if run.remediation is None else run.remediation.to_dict(),
            "recommendation": run.recommendation,
            "stage_errors": run.errors,
        }

    @property
    def stages(self) -> tuple[str, ...]:
        """The pipeline's stages after the commit point ("load"), in order."""
        return tuple(name for name, _ in self._stages)

    # Each stage reads and writes the run; one that raises leaves its outputs empty.

    def _stage_prediction(self, run: _Run) -> None:
        if self.config.prediction_enabled:
            run.predictions = self._predict(run.metrics, run.ts)

    def _stage_anomalies(self, run: _Run) -> None:
        run.anomalies = self._score_anomalies(run.metrics, run.ts)

    def _stage_decision(self, run: _Run) -> None:
        run.context = build_context(
            run.metrics,
            level=run.level,
            throttle=run.throttle,
            predictions=run.predictions,
            anomalies=run.anomalies,
            extra=run.extra,
        )
        decision = self._decision_engine.evaluate(run.context)
        if decision is not None:
            with self._lock:
                self._decision_conditions[decision.decision_id] = ({"load_level": run.level.value}, False)
                if len(self._decision_conditions) > self._decision_engine.history_size:
                    self._decision_conditions.popitem(last=False)
        run.decision = decision

    def _stage_remediation(self, run: _Run) -> None:
        if run.decision is not None:
            run.remediation = self._remediate(run.decision, run.level)

    def _stage_learning(self, run: _Run) -> None:
        if self.config.learning_enabled:
            rec = self._learner.get_recommended_action({"load_level": run.level.value})
            run.recommendation = None if rec is None else {"action": rec[0], "confidence": rec[1]}

    def record_decision_outcome(self, decision_id: str, outcome: str, score: float) -> Decision:
        """Record feedback on a decision and teach the learner.

        The learner observes the decision type as the action taken at the
        load level the decision was made at, successful when ``score >= 0.5``;
        a decision the hub executed as a remediation was already learned
        under its remediation action and is not learned twice.

        Returns
        -------
        Decision
            The updated decision, as :meth:`DecisionEngine.record_feedback`.

        Raises
        ------
        UnknownIdError
            For an unknown (or evicted) decision id.
        TypeError, ValueError
            On a malformed id, outcome or score; nothing is recorded.
        """
        check_id(decision_id, "record_decision_outcome() argument 'decision_id'")
        decision = self._decision_engine.record_feedback(decision_id, outcome, score)
        if decision is None:
            raise UnknownIdError(
                f"record_decision_outcome() argument 'decision_id': unknown decision id {decision_id!r}."
            )
        with self._lock:
            entry = self._decision_conditions.get(decision_id)
            if entry is not None and not entry[1]:
                self._decision_conditions[decision_id] = (entry[0], True)
        if entry is not None and not entry[1] and self.config.learning_enabled:
            self._learner.record_observation(entry[0], decision.decision_type.value, score >= 0.5)
        return decision

    def get_automation_summary(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot of every component's state and statistics."""
        sessions = self._self_tuner.list_sessions()
        by_status: dict[str, int] = {}
        for s in sessions:
            by_status[s.status.value] = by_status.get(s.status.value, 0) + 1
        with self._lock:
            hub_stats = {
                "metrics_processed": self._processed,
                "predictions_validated": self._validated,
                "predictions_expired": self._expired,
                "predictions_awaiting_validation": len(self._pending),
                "predictions_thinned": self._thinned,
                "stage_errors": dict(self._stage_errors),
                "last_stage_error": self._last_stage_error,
                "remediations_triggered": self._remediations,
                "remediation_errors": self._remediation_errors,
                "last_remediation_error": self._last_remediation_error,
            }
        current = self._load_manager.get_current_load()
        return jsonable(
            {
                "current_load": None if current is None else current.value,
                "throttle_percentage": self._load_manager.get_throttle_percentage(),
                "should_shed": self._load_manager.should_shed_load(),
                "hub": hub_stats,
                "decision_stats": self._decision_engine.get_decision_stats(),
                "tuning": {"sessions": len(sessions), "by_status": by_status},
                "scheduler": self._scheduler.get_queue_stats(),
                "load": self._load_manager.get_load_stats(),
                "prediction_accuracy": {
                    t.value: self._predictor.get_prediction_accuracy(t) for t in PredictionType
                },
                "remediation_stats": self._remediation.get_remediation_stats(),
                "anomaly": {
                    name: {
                        "samples": det.count,
                        "gaps": det.gaps,
                        "last_score": self._last_anomaly_scores.get(name),
                    }
                    for name, det in self._detectors.items()
                },
                "learning_stats": self._learner.get_learning_stats(),
                "config": self.config.to_dict(),
            }
        )


_HUB_KWARGS = {
    "clock",
    "seed",
    "decision_engine",
    "self_tuner",
    "scheduler",
    "load_manager",
    "predictor",
    "remediation",
    "learner",
    "remediation_target",
    "validation_tolerance_seconds",
    "validation_resolution_seconds",
    "anomaly_signals",
    "anomaly_detector_factory",
}


def create_intelligent_automation_hub(
    decision_cooldown_seconds: int = 60,
    max_concurrent_tasks: int = 10,
    **kwargs: Any,
) -> IntelligentAutomationHub:
    """Build a hub with a validated config.

    Keyword arguments naming :class:`AutomationConfig` fields set the config
    (``load_threshold_high=0.7``); ``config=`` passes a whole config instead;
    the others go to :class:`IntelligentAutomationHub` (``clock``, ``seed``,
    components...). An unknown keyword raises :class:`TypeError`.

    Examples
    --------
    >>> from autoopt import create_intelligent_automation_hub
    >>> hub = create_intelligent_automation_hub(decision_cooldown_seconds=5, load_threshold_high=0.7, seed=0)
    >>> hub.config.load_threshold_high, hub.decision_engine.cooldown_seconds
    (0.7, 5.0)
    """
    config_fields = {f.name for f in fields(AutomationConfig)}
    config = kwargs.pop("config", None)
    cfg_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in config_fields}
    unknown = sorted(set(kwargs) - _HUB_KWARGS)
    if unknown:
        raise TypeError(
            f"create_intelligent_automation_hub() got unknown keyword argument(s) {unknown}; "
            f"valid are AutomationConfig fields {sorted(config_fields)} and {sorted(_HUB_KWARGS)}."
        )
    if config is None:
        config = AutomationConfig(
            decision_cooldown_seconds=decision_cooldown_seconds,
            max_concurrent_tasks=max_concurrent_tasks,
            **cfg_kwargs,
        )
    elif cfg_kwargs or (decision_cooldown_seconds, max_concurrent_tasks) != (60, 10):
        raise TypeError(
            "create_intelligent_automation_hub(): pass either config= or AutomationConfig fields, not both."
        )
    return IntelligentAutomationHub(config, **kwargs)
