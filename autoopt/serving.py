"""Serving integrations: automation around any async model call, and vision providers.

:class:`AutomatedProvider` wraps an async callable. Each call goes through a
pure admission decision (shed or admit, from the hub's load manager), then a
thin async driver that awaits the model, measures its real latency and
outcome, and reports them to the hub. :class:`AutomatedVisionProvider` is the
seed's vision-provider wrapper built on it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from autoopt._clock import Clock
from autoopt._validation import (
    SeedLike,
    check_enum,
    check_int,
    check_random_state,
    check_str,
    check_sync_callable,
    describe_exception,
    is_async_callable,
)
from autoopt.admission import AdmissionController
from autoopt.enums import LoadLevel, PredictionType, RemediationAction
from autoopt.exceptions import LoadShedError
from autoopt.hub import IntelligentAutomationHub, create_intelligent_automation_hub
from autoopt.learning import Conditions
from autoopt.models import jsonable

__all__ = [
    "RequestObserver",
    "AutomatedProvider",
    "AutomatedVisionProvider",
    "VisionDescription",
    "VisionProvider",
    "create_automated_provider",
]

logger = logging.getLogger(__name__)

R = TypeVar("R")
_LATENCY, _ERROR_RATE = PredictionType.LATENCY, PredictionType.ERROR_RATE


@dataclass
class VisionDescription:
    """The result of analysing one image.

    Attributes
    ----------
    summary : str
        A one-line description of the image.
    details : dict
        Provider-specific structured output (labels, boxes, text...).
    confidence : float or None
        The provider's own confidence, if it reports one.
    provider : str
        Name of the provider that produced it.
    """

    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    confidence: float | None = None
    provider: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The description as JSON-serialisable data."""
        return {
            "summary": self.summary,
            "details": jsonable(self.details),
            "confidence": self.confidence,
            "provider": self.provider,
        }


class VisionProvider(ABC):
    """An image-analysis backend.

    Subclasses implement :attr:`provider_name` and the coroutine
    :meth:`analyze_image`.

    Examples
    --------
    >>> import asyncio
    >>> class Echo(VisionProvider):
    ...     @property
    ...     def provider_name(self) -> str:
    ...         return "echo"
    ...     async def analyze_image(self, image_data, include_description=True):
    ...         return VisionDescription(f"{len(image_data)} bytes", provider=self.provider_name)
    >>> asyncio.run(Echo().analyze_image(b"abc")).summary
    '3 bytes'
    """

    @property
    @abstractmethod
    def provider_name(self) -> str:
        """A short identifier of the backend."""

    @abstractmethod
    async def analyze_image(self, image_data: bytes, include_description: bool = True) -> VisionDescription:
        """Analyse ``image_data`` (encoded image bytes)."""


class RequestObserver(ABC):
    """Told how long each completed call of an :class:`AutomatedProvider` took (set ``provider.observer``).

    Called on the request path, in the event loop: it must be O(1) and never
    block. :class:`autoopt.observability.PrometheusExporter` is one.
    """

    @abstractmethod
    def observe(self, provider: str, seconds: float, outcome: str) -> None:
        """Record one call of ``provider``: its duration and ``outcome`` (``"ok"`` or ``"error"``)."""


class AutomatedProvider(Generic[R]):
    """Load shedding and outcome reporting around an async callable.

    For every call:

    1. **Admission** (pure decision, :meth:`admit`): while the hub's
       :meth:`LoadManager.should_shed_load` is true, a share of calls equal to
       :meth:`LoadManager.get_throttle_percentage` is refused with
       :class:`~autoopt.LoadShedError` before the model is called.
    2. **Call**: the wrapped coroutine function is awaited; its exceptions
       propagate unchanged.
    3. **Report**: the measured latency (ms) is recorded as a
       ``LATENCY`` observation and the outcome (0 ok, 1 error) as an
       ``ERROR_RATE`` observation of the hub's predictor, in the series
       named after the provider (``series=name``: per-call measurements stay
       apart from the monitor's p99 latency and error fraction), and the learner
       observes action ``"serve"`` under ``{"provider", "load_level"}``
       conditions. After ``failure_threshold`` consecutive errors, and when
       a handler for ``remediation_action`` is registered and
       ``auto_remediation_enabled``, a remediation is executed (in a worker
       thread, so the event loop is not blocked).

    The wrapper records only what it measures: it never records
    :class:`~autoopt.LoadMetrics`, since it has no view of the machine; load
    levels come from whatever monitors the system and feeds
    :meth:`IntelligentAutomationHub.process_metrics`. A report that fails (the
    predictor refuses an observation, say) is logged and counted in
    ``report_errors``; the model's result is still returned, or its
    exception still raised.

    Parameters
    ----------
    fn : async callable
        The model call: a coroutine function (or an object whose
        ``__call__`` is one).
    hub : IntelligentAutomationHub
    name : str, optional
        A non-empty name, used as the predictor series, in learner conditions
        and as remediation target; defaults to ``fn``'s qualified name.
    seed : int, optional
        Seeds the shedding draws.
    clock : callable, optional
        Timestamps of the recorded observations; the hub's clock by default.
    timer : callable, default time.perf_counter
        Monotonic timer for latencies.
    failure_threshold : int, default 5
    remediation_action : RemediationAction, default RESTART
    admission : AdmissionController, optional
        Admission control in place of step 1: a concurrency limit learned
        from latency, a priority queue with deadlines (class and deadline
        from :func:`autoopt.admission.request_context`), and the throttles
        when it is built with ``throttle=hub.load_manager.get_throttle_percentage``.

    Notes
    -----
    Thread safety: the wrapper's counters and random stream sit behind one
    lock, held only for O(1) bookkeeping and never across an ``await``.

    Examples
    --------
    >>> import asyncio
    >>> from autoopt import AutomatedProvider, create_intelligent_automation_hub
    >>> hub = create_intelligent_automation_hub(seed=0)
    >>> async def model(x):
    ...     return x * 2
    >>> provider = AutomatedProvider(model, hub, name="doubler", seed=0)
    >>> asyncio.run(provider(21))
    42
    >>> provider.get_stats()["calls"], hub.predictor.observation_count("latency", series="doubler")
    (1, 1)
    """

    def __init__(
        self,
        fn: Callable[..., Awaitable[R]],
        hub: IntelligentAutomationHub,
        *,
        name: str | None = None,
        seed: SeedLike = None,
        clock: Clock | None = None,
        timer: Callable[[], float] = time.perf_counter,
        failure_threshold: int = 5,
        remediation_action: RemediationAction = RemediationAction.RESTART,
        admission: AdmissionController | None = None,
    ) -> None:
        arg = "AutomatedProvider() argument"
        if admission is not None and not isinstance(admission, AdmissionController):
            raise TypeError(
                f"{arg} 'admission' must be an AdmissionController or None; got {admission!r:.80}."
            )
        self.admission = admission
        if not is_async_callable(fn):
            raise TypeError(
                f"{arg} 'fn' must be an async callable (a coroutine function); got {fn!r}, "
                "whose calls would not be awaited."
            )
        if not isinstance(hub, IntelligentAutomationHub):
            raise TypeError(f"{arg} 'hub' must be an IntelligentAutomationHub; got {hub!r}.")
        self._fn = fn
        self.hub = hub
        if name is None:
            qualname = getattr(fn, "__qualname__", None)
            name = qualname if isinstance(qualname, str) and qualname.strip() else type(fn).__name__
        self.name = check_str(name, f"{arg} 'name'")
        self._rng = check_random_state(seed, f"{arg} 'seed'")
        self._clock = hub.clock if clock is None else check_sync_callable(clock, f"{arg} 'clock'")
        self._timer = check_sync_callable(timer, f"{arg} 'timer'")
        self.failure_threshold = check_int(
            failure_threshold, "AutomatedProvider() argument 'failure_threshold'", low=1
        )
        self.remediation_action = check_enum(
            remediation_action, RemediationAction, "AutomatedProvider() argument 'remediation_action'"
        )
        self._lock = threading.Lock()
        self._calls = 0
        self._shed = 0
        self._errors = 0
        self._consecutive_errors = 0
        self._latency_sum_ms = 0.0
        self._remediations = 0
        self._report_errors = 0
        self.observer: RequestObserver | None = None  # told each completed call's duration (metrics)
        self._conditions: dict[LoadLevel | None, Conditions] = {}  # the learner's conditions per load level

    # ------------------------------------------------------- pure decision

    def admit(self) -> None:
        """Decide whether a call may proceed; raise :class:`LoadShedError` if it is shed."""
        lm = self.hub.load_manager
        if not lm.should_shed_load():
            return
        throttle = lm.get_throttle_percentage()
        with self._lock:
            shed = 100.0 * float(self._rng.random()) < throttle
            if shed:
                self._shed += 1
        if shed:
            raise LoadShedError(
                f"{self.name}: call shed at {throttle:.1f}% throttle (load {lm.get_current_load()})",
                throttle,
            )

    def _report(self, seconds: float, error: BaseException | None) -> str | None:
        """Record one outcome (and tell the observer); return a remediation reason when one is due.
        Never raises."""
        hub = self.hub
        latency_ms = 1000.0 * seconds
        try:
            now = self._clock()
            if hub.config.prediction_enabled:
                hub.predictor.record_observations(
                    {_LATENCY: latency_ms, _ERROR_RATE: 0.0 if error is None else 1.0}, now, series=self.name
                )
            if hub.config.learning_enabled:
                level = hub.load_manager.get_current_load()
                conditions = self._conditions.get(level)
                if conditions is None:  # checked and keyed once per load level
                    conditions = Conditions(
                        {"provider": self.name, "load_level": None if level is None else level.value}
                    )
                    self._conditions[level] = conditions
                hub.learner.record_observation(conditions, "serve", error is None)
            observer = self.observer
            if observer is not None:
                observer.observe(self.name, seconds, "ok" if error is None else "error")
        except Exception as exc:  # reporting must never lose the model's result
            logger.exception("%s: reporting a call's outcome failed: %s", self.name, describe_exception(exc))
            with self._lock:
                self._report_errors += 1
        with self._lock:
            self._calls += 1
            self._latency_sum_ms += latency_ms
            if error is None:
                self._consecutive_errors = 0
                return None
            self._errors += 1
            self._consecutive_errors += 1
            if self._consecutive_errors < self.failure_threshold:
                return None
            self._consecutive_errors = 0
        if not (hub.config.auto_remediation_enabled and hub.remediation.has_handler(self.remediation_action)):
            return None
        return f"{self.failure_threshold} consecutive failures; last: {describe_exception(error)}"

    def _remediate(self, reason: str) -> None:
        self.hub.remediation.execute_remediation(self.remediation_action, self.name, reason)
        with self._lock:
            self._remediations += 1

    # -------------------------------------------------------- async driver

    async def __call__(self, *args: Any, **kwargs: Any) -> R:
        """Admit, await the wrapped callable, report; exceptions propagate unchanged."""
        if self.admission is not None:
            slot = self.admission.slot()
            try:
                async with slot:
                    return await self._run(*args, **kwargs)
            except LoadShedError:
                if not slot.entered:  # refused by admission (not raised by the model)
                    with self._lock:
                        self._shed += 1
                raise
        self.admit()
        return await self._run(*args, **kwargs)

    async def _run(self, *args: Any, **kwargs: Any) -> R:
        start = self._timer()
        try:
            result = await self._fn(*args, **kwargs)
        except Exception as exc:
            reason = self._report(self._timer() - start, exc)
            if reason is not None:
                await asyncio.to_thread(self._remediate, reason)
            raise
        self._report(self._timer() - start, None)
        return result

    def get_stats(self) -> dict[str, Any]:
        """Calls completed, shed, errors, mean latency, remediations triggered and report errors."""
        with self._lock:
            return {
                "name": self.name,
                "calls": self._calls,
                "shed": self._shed,
                "errors": self._errors,
                "error_rate": self._errors / self._calls if self._calls else None,
                "mean_latency_ms": self._latency_sum_ms / self._calls if self._calls else None,
                "remediations": self._remediations,
                "report_errors": self._report_errors,
            }


class AutomatedVisionProvider(VisionProvider):
    """A :class:`VisionProvider` with the hub's automation around it.

    Load shedding, latency and outcome reporting, pattern learning and
    remediation after repeated failures, as described in
    :class:`AutomatedProvider`.

    Parameters
    ----------
    base_provider : VisionProvider
    hub : IntelligentAutomationHub
    seed : int, optional
        Seeds the shedding draws.

    Examples
    --------
    >>> import asyncio
    >>> from autoopt import VisionDescription, VisionProvider, create_automated_provider
    >>> class Stub(VisionProvider):
    ...     provider_name = "stub"
    ...     async def analyze_image(self, image_data, include_description=True):
    ...         return VisionDescription("an image", provider="stub")
    >>> provider = create_automated_provider(Stub())
    >>> provider.provider_name
    'automated_stub'
    >>> asyncio.run(provider.analyze_image(b"\\x89PNG")).summary
    'an image'
    """

    def __init__(
        self, base_provider: VisionProvider, hub: IntelligentAutomationHub, *, seed: SeedLike = None
    ) -> None:
        if not isinstance(base_provider, VisionProvider):
            raise TypeError(
                f"AutomatedVisionProvider() argument 'base_provider' must be a VisionProvider; got {base_provider!r}."
            )
        name = base_provider.provider_name
        if not isinstance(name, str) or not name.strip():
            raise ValueError(
                "AutomatedVisionProvider() argument 'base_provider' must have a non-empty str provider_name; "
                f"got {name!r}."
            )
        self.base_provider = base_provider
        self.hub = hub
        self._automated: AutomatedProvider[VisionDescription] = AutomatedProvider(
            base_provider.analyze_image, hub, name=name, seed=seed
        )

    @property
    def provider_name(self) -> str:
        """``"automated_" + base_provider.provider_name``."""
        return f"automated_{self.base_provider.provider_name}"

    async def analyze_image(self, image_data: bytes, include_description: bool = True) -> VisionDescription:
        """Analyse an image through the base provider, with automation.

        Raises
        ------
        LoadShedError
            When the call is shed; the base provider is not called.
        TypeError
            If ``image_data`` is not bytes.
        """
        if not isinstance(image_data, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"analyze_image() argument 'image_data' must be bytes; got {type(image_data).__name__}."
            )
        if not isinstance(include_description, bool):
            raise TypeError(
                "analyze_image() argument 'include_description' must be a bool; "
                f"got {include_description!r} of type {type(include_description).__name__}."
            )
        return await self._automated(image_data, include_description=include_description)

    def get_stats(self) -> dict[str, Any]:
        """The wrapper's call statistics (see :meth:`AutomatedProvider.get_stats`)."""
        return self._automated.get_stats()


def create_automated_provider(
    base_provider: VisionProvider, hub: IntelligentAutomationHub | None = None
) -> AutomatedVisionProvider:
    """Wrap ``base_provider`` with automation from ``hub`` (a new default hub if None)."""
    return AutomatedVisionProvider(
        base_provider, hub if hub is not None else create_intelligent_automation_hub()
    )
