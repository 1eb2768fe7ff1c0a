"""The example service (examples/serving/app.py) under a real uvicorn server on loopback: predictions,
shedding with Retry-After while /healthz and /metrics stay up, and a /metrics scrape parsed with
prometheus_client's own parser."""

from __future__ import annotations

import importlib.util
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402

from autoopt import create_load_metrics  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "examples" / "serving" / "app.py"


def load_example() -> Any:
    spec = importlib.util.spec_from_file_location("serving_example", APP)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[Any, str]]:
    example = load_example()
    app = example.create_app()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def call(url: str, body: Any = None, criticality: str = "default") -> tuple[int, dict[str, str], bytes]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "X-Criticality": criticality}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_predictions_match_the_model_and_the_scrape_counts_them(service: Any) -> None:
    app, base = service
    data = load_breast_cancer()
    rows = [0, 1, 19, 20, 100]
    for i in rows:
        status, _, body = call(f"{base}/predict", {"features": data.data[i].tolist()})
        assert status == 200
        got = json.loads(body)
        assert got["label"] == int(app.state.backend.model.predict(data.data[i : i + 1])[0])
        assert 0.5 <= got["probability"] <= 1.0
    assert call(f"{base}/predict", {"features": [1.0, 2.0]})[0] == 422
    assert call(f"{base}/healthz")[:1] == (200,)
    status, headers, text = call(f"{base}/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(text.decode())}
    for name in ("autoopt_request_duration_seconds", "autoopt_requests", "autoopt_requests_shed",
                 "autoopt_load_level", "autoopt_throttle_ratio", "autoopt_decisions", "autoopt_scheduler_queue_depth"):  # fmt: skip
        assert name in families, name
    counts = [s.value for s in families["autoopt_request_duration_seconds"].samples
              if s.name.endswith("_count") and s.labels == {"provider": "breast_cancer", "outcome": "ok"}]  # fmt: skip
    assert counts == [len(rows)]
    sums = [s.value for s in families["autoopt_request_duration_seconds"].samples
            if s.name.endswith("_sum") and s.labels["outcome"] == "ok"]  # fmt: skip
    assert sums[0] >= len(rows) * 0.08  # each call held a backend slot for 80 ms


def test_under_full_throttle_even_critical_calls_are_refused_but_health_and_metrics_answer(
    service: Any,
) -> None:
    app, base = service
    features = load_breast_cancer().data[0].tolist()
    # A second of a standing 1 s queue, as the monitor would report it, drives the delay throttle to 100 %.
    start = time.time()
    for k in range(300):
        app.state.hub.load_manager.record_metrics(create_load_metrics(
            cpu_usage=50.0, memory_usage=0.0, queue_delay_ms=1000.0,
            timestamp=datetime.fromtimestamp(start + 0.015 * k, UTC)))  # fmt: skip
    assert app.state.hub.load_manager.delay_throttle.throttle_percentage == 100.0
    status, headers, body = call(f"{base}/predict", {"features": features}, criticality="critical")
    assert status == 503
    assert int(headers["retry-after"]) >= 1
    assert "rejected (throttle)" in json.loads(body)["error"]
    assert call(f"{base}/healthz")[0] == 200
    status, _, text = call(f"{base}/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text.decode())}
    shed = [
        s.value
        for s in families["autoopt_requests_shed"].samples
        if s.labels.get("provider") == "breast_cancer"
    ]
    assert shed
    assert shed[0] >= 1
    refused = [s.value for s in families["autoopt_admission_rejected"].samples
               if s.labels == {"provider": "breast_cancer", "class": "critical", "reason": "throttle"}]  # fmt: skip
    assert refused == [1.0]  # sheds by class
    # no call has finished: the limit is still measuring the no-load latency, 3 calls at a time
    assert (
        [s.value for s in families["autoopt_admission_limit"].samples]
        == [app.state.provider.admission.limit.limit]
        == [3.0]
    )
