"""Prometheus metrics for a hub: a collector that reads the components' statistics at scrape time, and the
one metric that costs anything on the request path, the request-duration histogram."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from autoopt._validation import check_size
from autoopt.serving import RequestObserver

if TYPE_CHECKING:
    from autoopt.hub import IntelligentAutomationHub
    from autoopt.serving import AutomatedProvider

__all__ = ["DEFAULT_BUCKETS", "OTHER", "PrometheusExporter"]

DEFAULT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Request-duration histogram buckets, in seconds (1 ms to 10 s)."""

OTHER = "other"
"""The label value that every value past a metric's cap is folded into."""


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            'autoopt.observability needs prometheus-client: pip install "autoopt[prometheus]"'
        ) from None
    return prometheus_client


class _Labels:
    """Caps the distinct values of one label: the first ``cap`` seen keep their name, later ones read
    :data:`OTHER` (a runaway label, a series per request id say, cannot blow up the scrape)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: Any) -> str:
        text = str(value)
        if text == OTHER:
            return OTHER  # a real value spelled "other" joins the folded ones
        with self._lock:
            if text in self._seen:
                return text
            if len(self._seen) < self.cap:
                self._seen.add(text)
                return text
        return OTHER


class PrometheusExporter(RequestObserver):
    """Prometheus metrics of one hub, in a registry of its own.

    Parameters
    ----------
    hub : IntelligentAutomationHub
    registry : prometheus_client.CollectorRegistry, optional
        Where the metrics live; a fresh one by default (the global registry
        raises on duplicate names once a process holds two hubs).
    buckets : sequence of float
        Bounds of the request-duration histogram, in seconds.
    max_label_values : int
        Most distinct values one label takes; later values read ``"other"``.

    Notes
    -----
    Everything but the request histogram is read from the components'
    ``get_*_stats`` when the registry is scraped (a ``Collector``), so only
    :meth:`observe` (the histogram) runs on the request path; a provider
    without an observer pays one attribute test per call.

    The metrics (``autoopt_`` prefix; counters end in ``_total``)::

        decisions_total{type, source}            decision_evaluations_total
        metrics_processed_total                  load_level{level} (1 for the current one)
        load_samples_total{level}                throttle_ratio{part}  (combined, utilization, delay)
        forecast_scored_total{series}            forecast_mae{series}
        forecast_interval_coverage_ratio{series} anomaly_score{signal}
        tuning_trials{state}                     tuning_sessions{status}
        scheduler_tasks{state}                   scheduler_queue_depth{queue}  (ready, blocked, delayed)
        scheduler_running                        remediations_total{action, outcome}
        requests_total{provider, outcome}        requests_shed_total{provider}
        admission_rejected_total{provider, class, reason}
        admission_limit{provider}                admission_waiting{provider, class}
        request_duration_seconds{provider, outcome}  (histogram: _bucket, _sum, _count)

    Examples
    --------
    >>> from autoopt import create_intelligent_automation_hub, create_load_metrics
    >>> from prometheus_client.parser import text_string_to_metric_families
    >>> hub = create_intelligent_automation_hub(seed=0)
    >>> _ = hub.process_metrics(create_load_metrics(cpu_usage=95.0, memory_usage=40.0))
    >>> exporter = PrometheusExporter(hub)
    >>> families = {f.name: f for f in text_string_to_metric_families(exporter.generate_latest().decode())}
    >>> [s.value for s in families["autoopt_load_level"].samples if s.labels["level"] == "critical"]
    [1.0]
    """

    def __init__(
        self,
        hub: IntelligentAutomationHub,
        *,
        registry: Any = None,
        buckets: Iterable[float] = DEFAULT_BUCKETS,
        max_label_values: int = 100,
    ) -> None:
        from autoopt.hub import IntelligentAutomationHub

        prom = _prometheus()
        if not isinstance(hub, IntelligentAutomationHub):
            raise TypeError(
                f"PrometheusExporter() argument 'hub' must be an IntelligentAutomationHub; got {hub!r:.80}"
            )
        self.hub = hub
        self.max_label_values = check_size(
            max_label_values, "PrometheusExporter() argument 'max_label_values'"
        )
        self.registry = prom.CollectorRegistry(auto_describe=True) if registry is None else registry
        self._providers: list[AutomatedProvider[Any]] = []
        self._lock = threading.Lock()
        self._provider_label = _Labels(self.max_label_values)
        self.request_duration = prom.Histogram(
            "autoopt_request_duration_seconds",
            "Duration of the provider calls that ran (shed calls excluded), by provider and outcome.",
            ("provider", "outcome"),
            buckets=tuple(buckets),
            registry=self.registry,
        )
        self._children: dict[tuple[str, str], Any] = {}
        self.registry.register(_HubCollector(self))

    # ------------------------------------------------------------------ the request path

    def observe(self, provider: str, seconds: float, outcome: str) -> None:
        """Count one call in the request-duration histogram (O(1); the label child is cached)."""
        key = (provider, outcome)
        child = self._children.get(key)
        if child is None:
            label = self._provider_label(provider)
            child = self.request_duration.labels(label, outcome)
            if label != OTHER:  # past the cap: looked up each time, so the cache stays bounded too
                self._children[key] = child
        child.observe(seconds)

    def instrument(self, provider: AutomatedProvider[Any]) -> None:
        """Time ``provider``'s calls into the histogram, and export its call and shed counts."""
        provider.observer = self
        with self._lock:
            if provider not in self._providers:
                self._providers.append(provider)

    # ------------------------------------------------------------------ exposition

    def generate_latest(self) -> bytes:
        """The registry in Prometheus' text format (what ``/metrics`` serves)."""
        return bytes(_prometheus().generate_latest(self.registry))

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` of :meth:`generate_latest`'s output."""
        return str(_prometheus().CONTENT_TYPE_LATEST)

    def asgi_app(self) -> Any:
        """An ASGI app serving the registry (mount it at ``/metrics``)."""
        return _prometheus().make_asgi_app(registry=self.registry)

    def providers(self) -> list[AutomatedProvider[Any]]:
        with self._lock:
            return list(self._providers)


class _Family:
    """The samples of one metric family, keyed by their (capped) labels: values folded into the same
    labels are added up (counts), or, for a gauge of a level that cannot be added (``additive=False``),
    left out past the cap. Prometheus refuses a family with the same labels twice."""

    def __init__(self, family: Any, additive: bool = True) -> None:
        self.family = family
        self.additive = additive
        self._values: dict[tuple[str, ...], float] = {}

    def add(self, labels: list[str], value: float) -> None:
        key = tuple(labels)
        if key in self._values:
            if self.additive:
                self._values[key] += value
            return
        if not self.additive and OTHER in key:
            return
        self._values[key] = value

    def done(self) -> Any:
        for key, value in self._values.items():
            self.family.add_metric(list(key), value)
        return self.family


class _HubCollector:
    """Reads the hub's statistics at scrape time and yields them as metric families."""

    def __init__(self, exporter: PrometheusExporter) -> None:
        self.exporter = exporter
        cap = exporter.max_label_values
        self._labels = {name: _Labels(cap) for name in ("series", "signal", "action", "type")}
        self._labels["provider"] = exporter._provider_label  # one cap per label: the histogram's too

    def describe(self) -> list[Any]:
        return []  # collected at scrape time only (names vary with what the hub has seen)

    def collect(self) -> Iterator[Any]:
        core = _prometheus().metrics_core
        g, c = core.GaugeMetricFamily, core.CounterMetricFamily
        hub = self.exporter.hub
        summary = hub.get_automation_summary()
        lab = self._labels

        decisions = summary["decision_stats"]
        fam = _Family(c("autoopt_decisions", "Decisions made, by type and source (rule or policy).",
                        labels=["type", "source"]))  # fmt: skip
        for dtype, by_source in decisions.get("decisions_by_type_and_source", {}).items():
            for source, n in by_source.items():
                fam.add([lab["type"](dtype), source], n)
        yield fam.done()
        yield c("autoopt_decision_evaluations", "Times the decision engine evaluated a context.",
                value=decisions["evaluations"])  # fmt: skip
        yield c(
            "autoopt_metrics_processed",
            "Load samples the hub processed.",
            value=summary["hub"]["metrics_processed"],
        )

        load = summary["load"]
        fam = g("autoopt_load_level", "1 for the current load level, 0 for the others.", labels=["level"])
        for level in load["level_counts"]:
            fam.add_metric([level], 1.0 if level == load["current_load"] else 0.0)
        yield fam
        fam = c("autoopt_load_samples", "Load samples recorded, by level.", labels=["level"])
        for level, n in load["level_counts"].items():
            fam.add_metric([level], n)
        yield fam
        fam = g(
            "autoopt_throttle_ratio",
            "Share of work to shed, in [0, 1]: combined and its parts.",
            labels=["part"],
        )
        fam.add_metric(["combined"], load["throttle_percentage"] / 100.0)
        fam.add_metric(["utilization"], load["utilization_throttle"] / 100.0)
        if load["delay_throttle"] is not None:
            fam.add_metric(["delay"], load["delay_throttle"] / 100.0)
        yield fam

        scored = _Family(c("autoopt_forecast_scored", "Forecasts scored against what happened, by metric (all its series together).",
                           labels=["series"]))  # fmt: skip
        mae = _Family(g("autoopt_forecast_mae", "Mean absolute error of the scored forecasts, by metric (all its series together).",
                        labels=["series"]), additive=False)  # fmt: skip
        cover = _Family(g("autoopt_forecast_interval_coverage_ratio",
                          "Share of scored forecasts whose interval held the outcome, by metric (all its series together).",
                          labels=["series"]), additive=False)  # fmt: skip
        for series, acc in summary["prediction_accuracy"].items():
            name = lab["series"](series)
            scored.add([name], acc["count"])
            if acc["mae"] is not None:
                mae.add([name], acc["mae"])
            if acc["coverage"] is not None:
                cover.add([name], acc["coverage"])
        yield from (scored.done(), mae.done(), cover.done())

        fam = _Family(g("autoopt_anomaly_score", "The latest anomaly score, by monitored signal.",
                        labels=["signal"]), additive=False)  # fmt: skip
        for signal, info in summary["anomaly"].items():
            if info.get("last_score") is not None:
                fam.add([lab["signal"](signal)], info["last_score"])
        yield fam.done()

        yield from self._tuning(hub, summary["tuning"]["by_status"], g)
        sched = summary["scheduler"]
        fam = g("autoopt_scheduler_tasks", "Tasks the scheduler holds, by state.", labels=["state"])
        for state, n in sched["states"].items():
            fam.add_metric([state], n)
        yield fam
        fam = g("autoopt_scheduler_queue_depth", "Pending tasks, by queue.", labels=["queue"])
        for queue in ("ready", "blocked", "delayed"):
            fam.add_metric([queue], sched[queue])
        yield fam
        yield g("autoopt_scheduler_running", "Tasks running.", value=sched["running"])

        fam = _Family(c("autoopt_remediations", "Remediations finished, by action and outcome.",
                        labels=["action", "outcome"]))  # fmt: skip
        for action, st in summary["remediation_stats"]["by_action"].items():
            fam.add([lab["action"](action), "success"], st["successes"])
            fam.add([lab["action"](action), "failure"], st["failures"])
        yield fam.done()

        calls = _Family(c("autoopt_requests", "Provider calls that ran, by provider and outcome.",
                          labels=["provider", "outcome"]))  # fmt: skip
        shed = _Family(c("autoopt_requests_shed", "Provider calls shed before they ran, by provider.",
                         labels=["provider"]))  # fmt: skip
        by_class = _Family(c("autoopt_admission_rejected",
                             "Calls admission control refused, by provider, class and reason.",
                             labels=["provider", "class", "reason"]))  # fmt: skip
        limit = _Family(g("autoopt_admission_limit", "The concurrency limit admission control holds, by provider.",
                          labels=["provider"]), additive=False)  # fmt: skip
        waiting = _Family(g("autoopt_admission_waiting", "Calls waiting for a slot, by provider and class.",
                            labels=["provider", "class"]))  # fmt: skip
        for provider in self.exporter.providers():
            stats = provider.get_stats()
            name = lab["provider"](stats["name"])
            calls.add([name, "ok"], stats["calls"] - stats["errors"])
            calls.add([name, "error"], stats["errors"])
            shed.add([name], stats["shed"])
            if provider.admission is not None:
                adm = provider.admission.get_stats()
                for cls, reasons in adm["rejected_by_class_reason"].items():
                    for reason, n in reasons.items():
                        by_class.add([name, cls, reason], n)
                limit.add([name], adm["limit"])
                for cls, n in adm["waiting"].items():
                    waiting.add([name, cls], n)
        yield from (f.done() for f in (calls, shed, by_class, limit, waiting))

    @staticmethod
    def _tuning(hub: IntelligentAutomationHub, by_status: dict[str, int], g: Any) -> Iterator[Any]:
        from autoopt.exceptions import UnknownIdError
        from autoopt.tuning._results import trial_state_counts

        sessions = g("autoopt_tuning_sessions", "Tuning sessions, by status.", labels=["status"])
        trials = g("autoopt_tuning_trials", "Trials of all tuning sessions, by state.", labels=["state"])
        by_state: dict[str, int] = {}
        for session in hub.self_tuner.list_sessions():
            try:
                counts = trial_state_counts(hub.self_tuner.get_study(session.session_id))
            except UnknownIdError:  # removed since it was listed
                continue
            for state, n in counts.items():
                by_state[state] = by_state.get(state, 0) + n
        for status, n in sorted(by_status.items()):
            sessions.add_metric([status], n)
        for state, n in sorted(by_state.items()):
            trials.add_metric([state], n)
        yield from (sessions, trials)
