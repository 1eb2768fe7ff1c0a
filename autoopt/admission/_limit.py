"""Adaptive concurrency limits learned from measured latency: Envoy's gradient controller and Netflix's
Gradient2 rule, behind one small ABC."""

from __future__ import annotations

import math
import statistics
import threading
from abc import ABC, abstractmethod
from typing import Any

from autoopt._validation import SeedLike, check_int, check_random_state, check_real, check_size

__all__ = ["ConcurrencyLimit", "Gradient2Limit", "GradientLimit"]


class ConcurrencyLimit(ABC):
    """How many calls may run at once; an :class:`AdmissionController` admits while fewer run.

    Implementations are told each finished call's latency and keep their own lock.
    """

    @property
    @abstractmethod
    def limit(self) -> float:
        """The current limit (a caller admits while ``inflight < limit``)."""

    @property
    def probing(self) -> bool:
        """True while the limit is held low on purpose to measure the no-load latency (the controller
        then does not read the queue it builds as overload)."""
        return False

    @abstractmethod
    def update(self, rtt: float, inflight: int, now: float | None = None) -> float:
        """Take one call's latency (seconds), the calls in flight when it ended and the time (seconds,
        the controller's clock); return the new limit."""

    @abstractmethod
    def get_stats(self) -> dict[str, Any]:
        """The limit's state, JSON-ready."""


def _check_sample(rtt: Any, inflight: Any, where: str) -> float:
    check_int(inflight, f"{where} argument 'inflight'", low=0)
    return check_real(rtt, f"{where} argument 'rtt'", low=0.0, low_open=True)


class Gradient2Limit(ConcurrencyLimit):
    """How many calls may run at once, learned from their latency (Netflix concurrency-limits' Gradient2).

    After each call the limit moves by the *gradient* between the long-run
    latency (an exponential average over ``long_window`` calls) and the
    latest one::

        gradient = clip(tolerance * long_rtt / rtt, 0.5, 1)
        target   = limit * gradient + queue_size
        limit    = (1 - smoothing) * limit + smoothing * target, clipped to [min_limit, max_limit]

    While latency stays within ``tolerance`` of its long-run level the limit
    grows by ``smoothing * queue_size`` per call; when calls start to queue
    the gradient falls and so does the limit, at most halving the step's
    target. A limit the traffic does not use (fewer than half of it in
    flight) is left alone, and a long-run latency more than twice the
    latest decays by 5 % a call, so a past slow spell is forgotten.

    Parameters
    ----------
    initial_limit, min_limit, max_limit : float
        Netflix's defaults, 20, 20 and 200. Lower ``min_limit`` to hold a
        small backend nearer its real concurrency: in ``benchmarks/overload``
        (8 workers) a floor of 1 let the limit sink below the workers during
        bursts, and the queue then shed at 0.8x load.
    smoothing : float
        Weight of each new target, in (0, 1].
    tolerance : float
        Latency growth tolerated before the limit falls (>= 1).
    long_window : int
        Calls in the long-run average (its weight is ``2 / (long_window + 1)``;
        the first 10 calls are a plain mean, a warm-up).
    queue_size : float
        The head-room added to each target: calls allowed to queue.

    Examples
    --------
    >>> limit = Gradient2Limit(initial_limit=10, min_limit=1)
    >>> for _ in range(100):                       # steady 8 ms calls, the limit in use
    ...     _ = limit.update(0.008, inflight=int(limit.limit))
    >>> limit.limit > 10
    True
    >>> for _ in range(50):                        # then they slow down fourfold
    ...     _ = limit.update(0.032, inflight=int(limit.limit))
    >>> limit.limit < 20
    True
    """

    def __init__(
        self,
        *,
        initial_limit: float = 20.0,
        min_limit: float = 20.0,
        max_limit: float = 200.0,
        smoothing: float = 0.2,
        tolerance: float = 1.5,
        long_window: int = 600,
        queue_size: float = 4.0,
    ) -> None:
        arg = "Gradient2Limit() argument"
        self.min_limit = check_real(min_limit, f"{arg} 'min_limit'", low=1.0)
        self.max_limit = check_real(max_limit, f"{arg} 'max_limit'", low=self.min_limit)
        self.initial_limit = check_real(
            initial_limit, f"{arg} 'initial_limit'", low=self.min_limit, high=self.max_limit
        )
        self.smoothing = check_real(smoothing, f"{arg} 'smoothing'", low=0.0, low_open=True, high=1.0)
        self.tolerance = check_real(tolerance, f"{arg} 'tolerance'", low=1.0)
        self.long_window = check_size(long_window, f"{arg} 'long_window'")
        self.queue_size = check_real(queue_size, f"{arg} 'queue_size'", low=0.0)
        self._lock = threading.Lock()
        self._limit = self.initial_limit
        self._long = 0.0
        self._n = 0
        self._last_rtt: float | None = None

    @property
    def limit(self) -> float:
        """The current limit (a float; a caller admits while ``inflight < limit``)."""
        with self._lock:
            return self._limit

    def update(self, rtt: float, inflight: int, now: float | None = None) -> float:
        """Take one call's latency (seconds) and the calls in flight when it ended; return the new limit
        (``now`` is not used: this rule counts calls, not time)."""
        r = _check_sample(rtt, inflight, "Gradient2Limit.update()")
        with self._lock:
            self._n += 1
            if self._n <= 10:
                self._long += (r - self._long) / self._n  # warm-up: the plain mean
            else:
                self._long += (r - self._long) * 2.0 / (self.long_window + 1)
            if self._long / r > 2.0:
                self._long *= 0.95
            self._last_rtt = r
            limit = self._limit
            if inflight < limit / 2.0:
                return limit  # app-limited: the latency says nothing about a higher limit
            gradient = max(0.5, min(1.0, self.tolerance * self._long / r))
            target = limit * gradient + self.queue_size
            limit = (1.0 - self.smoothing) * limit + self.smoothing * target
            self._limit = min(self.max_limit, max(self.min_limit, limit))
            return self._limit

    def get_stats(self) -> dict[str, Any]:
        """``limit``, ``long_rtt`` and ``last_rtt`` (seconds) and ``samples``."""
        with self._lock:
            return {
                "limit": self._limit,
                "long_rtt": self._long,
                "last_rtt": self._last_rtt,
                "samples": self._n,
            }


class GradientLimit(ConcurrencyLimit):
    """Envoy's adaptive-concurrency gradient controller: the limit follows the ratio of the no-load
    latency to the latency now, and the no-load latency is measured, not remembered.

    Every ``interval`` seconds the median latency of the calls that ended in it (``sample_rtt``) moves
    the limit::

        gradient  = clip((1 + buffer) * min_rtt / sample_rtt, 0.5, 2)
        limit     = limit * gradient + sqrt(limit * gradient)     (the square root is head-room)

    ``min_rtt`` is the median latency of ``probe_samples`` calls run with the limit held at
    ``probe_limit``, measured first and then every ``probe_interval`` seconds (with +-15 % jitter), or
    at once when the limit has sat at ``min_limit`` for five intervals (the backend may simply have
    become slower). Because ``min_rtt`` is measured without a queue in front of the backend, the limit
    cannot drift up in steady overload, as one learned from a running average of the latency does
    (:class:`Gradient2Limit`): there the average follows the latency the queue adds, so the queue grows.
    While fewer than half the limit are in flight on average over a window, the limit is not raised
    (the latency then says nothing about a higher one). The mean, not the peak: the backlog a
    measurement releases is a burst, and judged by its peak it let the limit grow from 20 to 35 under
    light traffic in the example service, which then met a step to 5x with a queue of 35 at the
    backend (84 % goodput in the load test; 95.6 % with the mean).

    Parameters
    ----------
    interval : float
        Seconds between updates (Envoy: 0.1).
    buffer : float
        Latency growth over ``min_rtt`` tolerated before the limit falls. Envoy uses 0.25; in the event
        model (``benchmarks/overload``: 8 workers, exponential 8 ms calls, so the median of a window of
        ~100 calls is noisy) that let the limit dip below the workers, and goodput at 5x was 94.5-96.1 %
        over two seeds; 0.5 gave 96.2 % (the ceiling there is 96 % plus noise, since each refusal costs
        1 % of a call), no refusal at 0.8x over four seeds, and p99 46 ms instead of 45.
    probe_interval : float
        Seconds between measurements of ``min_rtt`` (Envoy: 60).
    probe_samples : int
        Calls one measurement takes (Envoy: 50).
    probe_limit : int
        The limit while measuring (Envoy's ``min_concurrency``: 3); keep it at or below the backend's
        real concurrency.
    probe_duration : float
        Longest a measurement holds the limit down, in seconds, once it has 10 samples: a slow backend
        (80 ms calls, 3 at a time) would otherwise take 1.3 s for 50, and queue a light load behind them.
    min_limit, max_limit : float
        Bounds of the limit (Envoy: 3 and 1,000).
    initial_limit : float
        The limit once the first measurement of ``min_rtt`` is done (the calls of that measurement
        run ``probe_limit`` at a time).
    seed : int, optional
        Seeds the jitter of the measurement times.

    Examples
    --------
    A backend of 8 workers (8 ms calls; each call beyond 8 in flight waits its turn): the limit
    settles a little above the 8 workers, where queueing starts (1.5 x 8 + sqrt(1.5 x 8), about 15.5).

    >>> limit = GradientLimit(seed=0)
    >>> now, inflight = 0.0, 3
    >>> for _ in range(4000):
    ...     inflight = int(limit.limit)                      # a saturated client keeps the limit busy
    ...     rtt = 0.008 * max(1.0, inflight / 8)             # service, plus the queue past 8 workers
    ...     now += rtt / inflight
    ...     _ = limit.update(rtt, inflight, now)
    >>> 8 <= limit.limit <= 17
    True
    """

    def __init__(
        self,
        *,
        interval: float = 0.1,
        buffer: float = 0.5,
        probe_interval: float = 60.0,
        probe_samples: int = 50,
        probe_limit: int = 3,
        probe_duration: float = 0.5,
        min_limit: float = 3.0,
        max_limit: float = 1000.0,
        initial_limit: float = 20.0,
        seed: SeedLike = None,
    ) -> None:
        arg = "GradientLimit() argument"
        self.interval = check_real(interval, f"{arg} 'interval'", low=0.0, low_open=True)
        self.buffer = check_real(buffer, f"{arg} 'buffer'", low=0.0)
        self.probe_interval = check_real(probe_interval, f"{arg} 'probe_interval'", low=0.0, low_open=True)
        self.probe_samples = check_size(probe_samples, f"{arg} 'probe_samples'")
        self.probe_limit = check_size(probe_limit, f"{arg} 'probe_limit'")
        self.probe_duration = check_real(probe_duration, f"{arg} 'probe_duration'", low=0.0)
        self.min_limit = check_real(min_limit, f"{arg} 'min_limit'", low=1.0)
        self.max_limit = check_real(max_limit, f"{arg} 'max_limit'", low=self.min_limit)
        self.initial_limit = check_real(
            initial_limit, f"{arg} 'initial_limit'", low=self.min_limit, high=self.max_limit
        )
        self._rng = check_random_state(seed, f"{arg} 'seed'")
        self._lock = threading.Lock()
        self._limit = self.initial_limit
        self._min_rtt: float | None = None
        self._probe: list[float] | None = []  # latencies of the measurement under way (None: none is)
        self._probe_start = -math.inf  # calls that started before it do not count (the first: all count)
        self._probe_began: float | None = None  # when the measurement under way began (its first sample)
        self._next_probe = math.inf
        self._window: list[float] = []
        self._window_start: float | None = None
        self._window_inflight = 0  # the calls in flight at each completion of the window, summed
        self._at_floor = 0
        self._last_sample: float | None = None
        self._probes = 0

    @property
    def limit(self) -> float:
        with self._lock:
            return float(self.probe_limit) if self._probe is not None else self._limit

    @property
    def probing(self) -> bool:
        with self._lock:
            return self._probe is not None

    def update(self, rtt: float, inflight: int, now: float | None = None) -> float:
        r = _check_sample(rtt, inflight, "GradientLimit.update()")
        if now is None:
            raise TypeError("GradientLimit.update() argument 'now' is required: this limit updates in time")
        t = check_real(now, "GradientLimit.update() argument 'now'")
        with self._lock:
            if self._probe is not None:
                if t - r >= self._probe_start:  # only calls that started under the probe's limit
                    self._probe.append(r)
                if self._probe_began is None:  # the first measurement: from its first sample
                    self._probe_began = t
                began = self._probe_began
                enough = len(self._probe) >= min(10, self.probe_samples) and t - began >= self.probe_duration
                if len(self._probe) >= self.probe_samples or enough:
                    self._min_rtt = statistics.median(self._probe)
                    self._probe, self._probes = None, self._probes + 1
                    self._next_probe = t + self.probe_interval * (
                        1.0 + 0.15 * (2.0 * self._rng.random() - 1.0)
                    )
                    self._window, self._window_start, self._window_inflight, self._at_floor = [], t, 0, 0
                    return self._limit
                return float(self.probe_limit)
            if t >= self._next_probe:
                self._probe, self._probe_start, self._probe_began = [], t, t
                return float(self.probe_limit)
            if self._window_start is None:
                self._window_start = t
            self._window.append(r)
            self._window_inflight += inflight
            if t - self._window_start < self.interval:
                return self._limit
            self._step(t)
            return self._limit

    def _step(self, t: float) -> None:
        """Under the lock: one update from the window that just ended."""
        assert self._min_rtt is not None
        sample = statistics.median(self._window)
        self._last_sample = sample
        gradient = min(2.0, max(0.5, (1.0 + self.buffer) * self._min_rtt / sample))
        # app-limited: on average fewer than half the limit in flight (a burst, such as the backlog a
        # measurement releases, does not count), so the latency says nothing about a higher limit
        app_limited = self._window_inflight < len(self._window) * self._limit / 2.0
        if not (gradient > 1.0 and app_limited):
            scaled = self._limit * gradient
            self._limit = min(self.max_limit, max(self.min_limit, scaled + math.sqrt(scaled)))
        self._window, self._window_start, self._window_inflight = [], t, 0
        self._at_floor = self._at_floor + 1 if self._limit <= self.min_limit else 0
        if self._at_floor >= 5:  # the backend may have become slower: measure min_rtt again now
            self._next_probe = t

    def get_stats(self) -> dict[str, Any]:
        """``limit``, ``min_rtt``, ``sample_rtt`` (the last window's median, seconds), ``probing`` and
        ``probes`` (measurements done)."""
        with self._lock:
            return {
                "limit": float(self.probe_limit) if self._probe is not None else self._limit,
                "min_rtt": self._min_rtt, "sample_rtt": self._last_sample,
                "probing": self._probe is not None, "probes": self._probes,
            }  # fmt: skip
