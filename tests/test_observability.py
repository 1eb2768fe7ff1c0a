"""The Prometheus exporter: a real scrape over HTTP parsed with prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from autoopt import (
    AutomatedProvider,
    DecisionType,
    LoadShedError,
    create_decision_rule,
    create_intelligent_automation_hub,
    create_load_metrics,
)
from autoopt.load import DelayThrottle

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from autoopt.observability import OTHER, PrometheusExporter  # noqa: E402

LISTED = [
    "autoopt_decisions", "autoopt_decision_evaluations", "autoopt_metrics_processed", "autoopt_load_level",
    "autoopt_load_samples", "autoopt_throttle_ratio", "autoopt_forecast_scored", "autoopt_forecast_mae",
    "autoopt_forecast_interval_coverage_ratio", "autoopt_anomaly_score", "autoopt_tuning_sessions",
    "autoopt_tuning_trials", "autoopt_scheduler_tasks", "autoopt_scheduler_queue_depth",
    "autoopt_scheduler_running", "autoopt_remediations", "autoopt_requests", "autoopt_requests_shed",
    "autoopt_request_duration_seconds",
]  # fmt: skip


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served() -> Iterator[tuple[Any, PrometheusExporter, AutomatedProvider[Any], str]]:
    hub = create_intelligent_automation_hub(seed=0, decision_cooldown_seconds=0)
    hub.decision_engine.add_rule(
        create_decision_rule("hot", lambda c: c["cpu_usage"] > 90, DecisionType.SCALE_UP, lambda c: {})
    )
    for cpu in (40.0, 95.0, 96.0):
        hub.process_metrics(create_load_metrics(cpu_usage=cpu, memory_usage=20.0))
    tuner = hub.self_tuner
    session = tuner.create_session({"x": (0.0, 1.0, 0.5)}, objective_fn=lambda x: -((x - 0.3) ** 2))
    tuner.optimize(session.session_id, n_trials=5)
    hub.scheduler.schedule_task("later", lambda: 1)

    async def model(x: int) -> int:
        if x < 0:
            raise ValueError("negative")
        return x

    provider = AutomatedProvider(model, hub, name="model", seed=0)
    exporter = PrometheusExporter(hub)
    exporter.instrument(provider)
    app = prometheus_client.make_wsgi_app(exporter.registry)
    server = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub, exporter, provider, f"http://127.0.0.1:{server.server_port}/metrics"
    finally:
        server.shutdown()


def scrape(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(family: Any, sample: str, **labels: str) -> float:
    hits = [
        s.value
        for s in family.samples
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(hits) == 1, (sample, labels, family.samples)
    return float(hits[0])


def test_a_scrape_parses_and_every_listed_metric_is_there(served: Any) -> None:
    hub, _exporter, provider, url = served
    hub.process_metrics(create_load_metrics(cpu_usage=40.0, memory_usage=20.0))  # no shedding now
    for x in (1, 2, 3):
        asyncio.run(provider(x))
    with pytest.raises(ValueError, match="negative"):
        asyncio.run(provider(-1))
    families = scrape(url)
    assert sorted(set(LISTED) - set(families)) == []
    stats = hub.decision_engine.get_decision_stats()
    assert (
        value(families["autoopt_decisions"], "autoopt_decisions_total", type="scale_up", source="rule")
        == (stats["decisions_by_type"]["scale_up"])
    )
    assert value(families["autoopt_metrics_processed"], "autoopt_metrics_processed_total") == 4
    assert value(families["autoopt_load_level"], "autoopt_load_level", level="low") == 1.0
    assert value(families["autoopt_load_level"], "autoopt_load_level", level="critical") == 0.0
    assert value(families["autoopt_load_samples"], "autoopt_load_samples_total", level="critical") == 2
    throttle = hub.load_manager.get_throttle_percentage() / 100.0
    assert value(
        families["autoopt_throttle_ratio"], "autoopt_throttle_ratio", part="combined"
    ) == pytest.approx(throttle)
    assert value(families["autoopt_tuning_trials"], "autoopt_tuning_trials", state="complete") == 5
    assert value(families["autoopt_scheduler_tasks"], "autoopt_scheduler_tasks", state="pending") == 1
    duration = families["autoopt_request_duration_seconds"]
    assert value(duration, "autoopt_request_duration_seconds_count", provider="model", outcome="ok") == 3
    assert value(duration, "autoopt_request_duration_seconds_count", provider="model", outcome="error") == 1
    assert (
        value(duration, "autoopt_request_duration_seconds_bucket", provider="model", outcome="ok", le="+Inf")
        == 3
    )
    ok = value(families["autoopt_requests"], "autoopt_requests_total", provider="model", outcome="ok")
    assert ok == provider.get_stats()["calls"] - provider.get_stats()["errors"] == 3
    scores = hub.process_metrics(create_load_metrics(cpu_usage=50.0, memory_usage=20.0))["anomaly_scores"]
    families = scrape(url)
    for signal, score in scores.items():
        assert value(
            families["autoopt_anomaly_score"], "autoopt_anomaly_score", signal=signal
        ) == pytest.approx(score)


def test_sheds_and_the_delay_throttle_are_exported(served: Any) -> None:
    _hub, _exporter, provider, url = served
    shed = 0
    for _ in range(200):
        try:
            asyncio.run(provider(1))
        except LoadShedError:
            shed += 1
    assert shed > 0  # the 95 % samples left a throttle
    assert (
        value(scrape(url)["autoopt_requests_shed"], "autoopt_requests_shed_total", provider="model") == shed
    )
    from autoopt import LoadManager

    lm = LoadManager(delay_throttle=DelayThrottle())
    hub2 = create_intelligent_automation_hub(seed=2, load_manager=lm)
    text = PrometheusExporter(hub2).generate_latest().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert value(families["autoopt_throttle_ratio"], "autoopt_throttle_ratio", part="delay") == 0.0
    for _ in range(40):  # a standing 200 ms queue: the PI's throttle rises, and the scrape reads it
        hub2.process_metrics(create_load_metrics(cpu_usage=40.0, memory_usage=20.0, queue_delay_ms=200.0))
    text = PrometheusExporter(hub2).generate_latest().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    delay = lm.delay_throttle
    assert delay is not None
    assert delay.throttle_percentage > 0.0
    assert value(families["autoopt_throttle_ratio"], "autoopt_throttle_ratio", part="delay") == pytest.approx(
        delay.throttle_percentage / 100.0
    )


def test_each_hub_has_its_own_registry_and_labels_are_capped() -> None:
    hubs = [create_intelligent_automation_hub(seed=s) for s in range(2)]
    exporters = [PrometheusExporter(h, max_label_values=3) for h in hubs]  # no duplicate-name error
    assert exporters[0].registry is not exporters[1].registry
    for k in range(6):
        exporters[0].observe(f"p{k}", 0.01, "ok")
    families = {f.name: f for f in text_string_to_metric_families(exporters[0].generate_latest().decode())}
    providers = {s.labels["provider"] for s in families["autoopt_request_duration_seconds"].samples}
    assert providers == {"p0", "p1", "p2", OTHER}
    assert value(families["autoopt_request_duration_seconds"], "autoopt_request_duration_seconds_count",
                 provider=OTHER, outcome="ok") == 3  # fmt: skip
    with pytest.raises(TypeError, match="'hub'"):
        PrometheusExporter(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'max_label_values'"):
        PrometheusExporter(hubs[0], max_label_values=0)


def test_past_the_cap_a_label_is_one_series_and_the_same_in_every_family() -> None:
    """Values folded into OTHER are added up into one sample (Prometheus refuses a family with the same
    labels twice), and the histogram and the counters agree on which providers keep their name."""
    hub = create_intelligent_automation_hub(seed=0)
    exporter = PrometheusExporter(hub, max_label_values=1)

    async def model(x: int) -> int:
        return x

    providers = [AutomatedProvider(model, hub, name=n, seed=0) for n in ("a", "b", "c")]
    for p in reversed(providers):  # instrumented c, b, a; first called in the order a, b, c
        exporter.instrument(p)
    for k, p in enumerate(providers):
        for _ in range(k + 1):
            asyncio.run(p(1))
    families = {f.name: f for f in text_string_to_metric_families(exporter.generate_latest().decode())}
    ok = [s for s in families["autoopt_requests"].samples if s.labels["outcome"] == "ok"]
    assert sorted((s.labels["provider"], s.value) for s in ok) == [("a", 1.0), (OTHER, 5.0)]
    hist = {s.labels["provider"] for s in families["autoopt_request_duration_seconds"].samples}
    assert hist == {"a", OTHER}
    assert len(exporter._children) <= 2  # past the cap nothing is cached


def test_trial_states_use_the_results_names() -> None:
    hub = create_intelligent_automation_hub(seed=0)
    calls = iter(range(100))

    def objective(x: float) -> float:
        if next(calls) == 1:
            raise RuntimeError("boom")
        return x

    session = hub.self_tuner.create_session({"x": (0.0, 1.0, 0.5)}, objective_fn=objective)
    hub.self_tuner.optimize(session.session_id, n_trials=3)
    families = {
        f.name: f for f in text_string_to_metric_families(PrometheusExporter(hub).generate_latest().decode())
    }
    frame = hub.self_tuner.get_study(session.session_id).trials_dataframe()  # optuna's own count
    assert value(families["autoopt_tuning_trials"], "autoopt_tuning_trials", state="failed") == 1
    assert value(families["autoopt_tuning_trials"], "autoopt_tuning_trials", state="complete") == (
        (frame["state"] == "COMPLETE").sum()
    )
