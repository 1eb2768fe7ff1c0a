"""A model served through autoopt: Starlette under uvicorn, a scikit-learn classifier behind a bounded backend.

Run it::

    pip install "autoopt[serve,prometheus]"
    uvicorn examples.serving.app:app --port 8000

Routes:

- ``POST /predict`` with ``{"features": [30 numbers]}`` (and optionally an ``X-Criticality`` header:
  ``critical``, ``default`` or ``sheddable``): the class (0 malignant, 1 benign) and its probability.
  The call goes through :class:`autoopt.AutomatedProvider` with an
  :class:`autoopt.admission.AdmissionController`, so under overload it waits briefly or is refused with
  ``503`` and a ``Retry-After`` header before it reaches the model; a call not started within 500 ms is
  refused.
- ``GET /healthz``: liveness; never shed.
- ``GET /metrics``: the hub's Prometheus metrics (:class:`autoopt.observability.PrometheusExporter`);
  never shed.

The model is a logistic regression trained at start-up on ``sklearn.datasets.load_breast_cancer`` (data
scikit-learn ships; nothing is downloaded). The backend has a fixed capacity: ``SLOTS`` (8) concurrent
inferences of ``SERVICE_SECONDS`` (80 ms) each, about 100 requests per second, whatever the machine, so a
load test measures the control, not the host's cores.

A monitor task feeds the hub one :class:`autoopt.LoadMetrics` a second: utilisation is the share of backend
slots busy, and ``queue_delay_ms`` the mean wait for a slot over that second.

``AUTOOPT_EXAMPLE_CONTROL=off`` serves without any control (what ``benchmarks/overload/loadtest.py``
compares against).

With several uvicorn workers each process has its own hub, provider and limits, so shedding decisions are
per process; Prometheus then needs ``prometheus_client``'s multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``)
to aggregate the workers' metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from autoopt import (
    AutomatedProvider,
    IntelligentAutomationHub,
    LoadManager,
    LoadShedError,
    create_intelligent_automation_hub,
    create_load_metrics,
)
from autoopt.admission import AdmissionController, Criticality, GradientLimit, request_context
from autoopt.load import DelayThrottle
from autoopt.observability import PrometheusExporter

SLOTS = 8
SERVICE_SECONDS = 0.080
N_FEATURES = 30
DEADLINE_SECONDS = 0.5  # how long a client waits; a call not started by then is refused


class Backend:
    """The model behind a fixed number of slots, each busy ``service_seconds`` per inference."""

    def __init__(self, slots: int = SLOTS, service_seconds: float = SERVICE_SECONDS) -> None:
        data = load_breast_cancer()
        self.model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(
            data.data, data.target
        )
        self.slots = slots
        self.service_seconds = service_seconds
        self._free = asyncio.Semaphore(slots)
        self.busy = 0
        self.waited = 0.0  # seconds spent waiting for a slot since the monitor last looked
        self.waits = 0

    async def predict(self, features: list[float]) -> dict[str, Any]:
        start = time.perf_counter()
        async with self._free:
            self.waited += time.perf_counter() - start
            self.waits += 1
            self.busy += 1
            try:
                await asyncio.sleep(self.service_seconds)
                proba = self.model.predict_proba(np.asarray(features, dtype=float).reshape(1, -1))[0]
            finally:
                self.busy -= 1
        label = int(np.argmax(proba))
        return {"label": label, "probability": float(proba[label])}


async def monitor(
    hub: IntelligentAutomationHub,
    backend: Backend,
    admission: AdmissionController | None = None,
    every: float = 1.0,
    ticks: int = 20,
) -> None:
    """Feed the hub one load sample per ``every`` seconds: the mean share of slots busy (sampled ``ticks``
    times), and the queueing delay: the mean age of the oldest waiter in the admission queue, where calls
    wait under control (sampled likewise), or else the mean wait for a backend slot."""
    while True:
        busy = 0
        waited = 0.0
        for _ in range(ticks):
            await asyncio.sleep(every / ticks)
            busy += backend.busy
            if admission is not None:
                waited += admission.queue_delay(admission.clock())
        utilisation = 100.0 * busy / (ticks * backend.slots)
        if admission is not None:
            delay_ms = 1000.0 * waited / ticks
        else:
            delay_ms = 1000.0 * backend.waited / backend.waits if backend.waits else 0.0
        backend.waited, backend.waits = 0.0, 0
        hub.process_metrics(
            create_load_metrics(cpu_usage=utilisation, memory_usage=0.0, queue_delay_ms=delay_ms)
        )


def create_app(
    hub: IntelligentAutomationHub | None = None, backend: Backend | None = None, *, control: bool = True
) -> Starlette:
    """The service: a fresh hub and backend unless given (tests pass their own). ``control=False`` serves
    without admission control or throttling (the baseline of the load test)."""
    hub = hub or create_intelligent_automation_hub(
        seed=0, load_manager=LoadManager(delay_throttle=DelayThrottle())
    )
    backend = backend or Backend()
    # Admission: a concurrency limit learned from latency (GradientLimit: the no-load latency is measured
    # with 3 calls at a time, then the limit follows its ratio to the latency now), a priority queue with
    # deadlines, and the queue-delay throttle (the PI), sheddable calls first. The delay throttle only: the
    # utilisation one sheds everything at 100 % busy, which under overload is where the backend should run.
    delay = hub.load_manager.delay_throttle
    admission = (
        AdmissionController(
            limit=GradientLimit(probe_limit=min(3, backend.slots), seed=0),
            throttle=None if delay is None else (lambda: delay.throttle_percentage),
            seed=0,
        )
        if control
        else None
    )
    provider: AutomatedProvider[dict[str, Any]] = AutomatedProvider(
        backend.predict, hub, name="breast_cancer", seed=0, admission=admission
    )
    exporter = PrometheusExporter(hub)
    exporter.instrument(provider)

    async def predict(request: Request) -> Response:
        try:
            body = await request.json()
            features = [float(v) for v in body["features"]]
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'send {"features": [30 numbers]}'}, status_code=422)
        if len(features) != N_FEATURES or not all(math.isfinite(v) for v in features):
            return JSONResponse({"error": f"features must be {N_FEATURES} finite numbers"}, status_code=422)
        try:
            criticality = Criticality(request.headers.get("x-criticality", "default"))
        except ValueError:
            classes = ", ".join(c.value for c in Criticality)
            return JSONResponse({"error": f"x-criticality is one of {classes}"}, status_code=422)
        try:
            with request_context(criticality, timeout=DEADLINE_SECONDS):
                return JSONResponse(await (provider(features) if control else backend.predict(features)))
        except LoadShedError as exc:
            return JSONResponse(
                {"error": str(exc)}, status_code=503, headers={"Retry-After": exc.retry_after_header}
            )

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def metrics(request: Request) -> Response:
        return Response(exporter.generate_latest(), media_type=exporter.content_type)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(monitor(hub, backend, admission))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = Starlette(
        routes=[
            Route("/predict", predict, methods=["POST"]),
            Route("/healthz", healthz),
            Route("/metrics", metrics),
        ],
        lifespan=lifespan,
    )
    app.state.hub, app.state.provider, app.state.exporter, app.state.backend = (
        hub,
        provider,
        exporter,
        backend,
    )
    return app


app = create_app(control=os.environ.get("AUTOOPT_EXAMPLE_CONTROL", "on") != "off")
