"""Load tracking, level handlers and the throttling control law."""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from autoopt._clock import Clock, TimeOrder, check_sample_time, system_clock, to_datetime
from autoopt._validation import (
    check_enum,
    check_limit,
    check_real,
    check_size,
    check_sync_callable,
    close_awaitable,
    describe_exception,
)
from autoopt.config import AutomationConfig, check_config
from autoopt.core import TimeWindowSums
from autoopt.enums import LoadLevel
from autoopt.load._pi import DelayThrottle
from autoopt.models import LoadMetrics, classify_load

__all__ = ["LoadManager", "throttle_percentage"]

logger = logging.getLogger(__name__)

LoadHandler = Callable[[LoadMetrics], Any]

# Numeric columns kept for windowed means, in this order, with the range each
# mean is clipped to (the exact mean of in-range values is in range; the clip
# only removes floating-point residue from the prefix-sum subtraction).
_COLUMNS: tuple[tuple[str, float, float], ...] = (
    ("cpu_usage", 0.0, 100.0),
    ("memory_usage", 0.0, 100.0),
    ("request_rate", 0.0, np.inf),
    ("error_rate", 0.0, 1.0),
    ("latency_p50", 0.0, np.inf),
    ("latency_p99", 0.0, np.inf),
    ("queue_depth", 0.0, np.inf),
)


def throttle_percentage(utilization: float, high_threshold: float) -> float:
    """The share of work to shed, in percent, at ``utilization`` given the HIGH threshold.

    With ``x = (u - h) / (1 - h)`` clipped to [0, 1] the throttle is the
    smoothstep ``100 * (3 x**2 - 2 x**3)``: 0 for ``u <= h``, 100 at ``u = 1``,
    continuous with a continuous first derivative (it starts and ends flat)
    and non-decreasing in ``u`` (exactly so in floating point: the
    polynomial is evaluated in exact integer arithmetic and rounded once).

    Parameters
    ----------
    utilization : float
        Utilisation in [0, 1] (values outside are clipped).
    high_threshold : float
        The HIGH load threshold ``h``, in (0, 1).

    Examples
    --------
    >>> from autoopt.load import throttle_percentage
    >>> throttle_percentage(0.75, 0.75), throttle_percentage(0.875, 0.75), throttle_percentage(1.0, 0.75)
    (0.0, 50.0, 100.0)
    """
    u = check_real(utilization, "throttle_percentage() argument 'utilization'")
    h = check_real(
        high_threshold, "throttle_percentage() argument 'high_threshold'", low=0.0, high=1.0, high_open=True
    )
    x = min(max((u - h) / (1.0 - h), 0.0), 1.0)
    # Evaluate the polynomial exactly in integers and round once: x is a
    # non-decreasing function of u in floating point, and correctly rounding
    # an exactly monotone function keeps it monotone. Plain float arithmetic
    # would wobble by an ulp near x = 1, where the slope vanishes.
    n, d = x.as_integer_ratio()
    return (100 * n * n * (3 * d - 2 * n)) / (d * d * d)


def _combine(utilization_pct: float, delay_pct: float) -> float:
    """The share shed when each throttle sheds independently: a call passes only if both let it through."""
    if delay_pct == 0.0:
        return utilization_pct  # exactly the utilisation throttle (the seed's behaviour) without a delay one
    return 100.0 * (1.0 - (1.0 - utilization_pct / 100.0) * (1.0 - delay_pct / 100.0))


def _handler_name(handler: Callable[..., Any]) -> str:
    return getattr(handler, "__qualname__", None) or repr(handler)


class LoadManager:
    """Records load samples, classifies them, calls level handlers and decides throttling.

    Each sample is classified with :func:`~autoopt.models.classify_load` on its
    utilisation (``max(cpu, memory) / 100``) under ``config``'s thresholds.
    Handlers registered for that level are then called with the sample, every
    time a sample at that level is recorded.

    Parameters
    ----------
    config : AutomationConfig, optional
        Supplies the load thresholds (defaults if None).
    clock : callable
        Returns the current POSIX time; windows of
        :meth:`get_average_metrics` end at ``clock()``.
    history_size : int
        Most samples held, both for :meth:`get_metrics_history` and for
        windowed means; older samples fall off.
    stale_after_seconds : float or None, default 300
        With no sample for this long the throttle reads 0 (None: never).
    delay_throttle : DelayThrottle, optional
        Opt-in: a PI controller on queueing delay (after PIE, RFC 8033), fed
        each sample's ``queue_delay_ms``. Without it the throttle is exactly
        the utilisation one. A sample without ``queue_delay_ms`` leaves the
        delay throttle where the last one with it put it (until the samples
        go stale), so feed the delay with every sample, or with none.
    level_hysteresis : float, default 0
        Opt-in hysteresis on levels, as a utilisation fraction: a sample
        leaves the current level for a lower one only once its utilisation
        is more than this below the current level's threshold (it then gets
        the level that utilisation plus the margin would have). It only
        delays leaving a level: a higher level is entered at once, and the
        throttle, a continuous function of the latest sample, is unchanged.

    Attributes
    ----------
    config : AutomationConfig
    history_size : int

    Notes
    -----
    *Windows.* Numeric fields are kept in a :class:`~autoopt.core.TimeWindowSums`
    keyed by each sample's ``timestamp``, so a windowed mean is one binary
    search and one subtraction, O(log n). The index needs non-decreasing
    times, so a sample at most ``config.max_backward_step_s`` (5 s) earlier
    than the latest one (concurrent recorders racing) is indexed at the latest
    time and counted in ``clamped_timestamps``; the
    :class:`~autoopt.models.LoadMetrics` object itself is kept unchanged in
    the history. An earlier sample is refused, and so is one stamped more
    than ``config.max_clock_skew_s`` (a day) ahead of ``clock()``: one
    far-future stamp would otherwise drag every later sample up to it.
    Forward gaps of any length are legal.

    *Throttling.* :meth:`get_throttle_percentage` applies
    :func:`throttle_percentage` to the latest sample's utilisation and the
    HIGH threshold; :meth:`should_shed_load` is true while it is above 0.
    With a ``delay_throttle`` the two throttles shed independently: the
    combined share is ``1 - (1 - a)(1 - b)``, so a call is shed if either
    throttle sheds it.

    *Handler errors.* A handler that raises is logged with
    :meth:`logging.Logger.exception`, counted per level and its message kept
    (see :meth:`get_load_stats`); the other handlers still run and
    :meth:`record_metrics` still returns the level.

    Thread safety
    -------------
    Every public method is safe to call from any thread. One lock guards all
    state; it is held only for O(log n) bookkeeping. Handlers are called
    after the lock is released, in registration order, with the handler list
    as it was when the sample was recorded, so a handler may call back into
    the manager (for example :meth:`get_average_metrics`).

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> from autoopt._clock import ManualClock
    >>> from autoopt.enums import LoadLevel
    >>> from autoopt.load import LoadManager
    >>> from autoopt.models import LoadMetrics
    >>> clock = ManualClock(1000.0)
    >>> lm = LoadManager(clock=clock)
    >>> seen = []
    >>> lm.register_handler(LoadLevel.CRITICAL, seen.append)
    >>> lm.record_metrics(LoadMetrics(95.0, 60.0, timestamp=datetime.fromtimestamp(990, UTC)))
    <LoadLevel.CRITICAL: 'critical'>
    >>> len(seen), lm.should_shed_load(), round(lm.get_throttle_percentage(), 2)
    (1, True, 89.6)
    >>> lm.record_metrics(LoadMetrics(40.0, 30.0, timestamp=datetime.fromtimestamp(1000, UTC)))
    <LoadLevel.LOW: 'low'>
    >>> lm.get_average_metrics(window_seconds=60).cpu_usage
    67.5
    >>> lm.should_shed_load(), lm.get_throttle_percentage()
    (False, 0.0)
    """

    def __init__(
        self,
        config: AutomationConfig | None = None,
        *,
        clock: Clock = system_clock,
        history_size: int = 10_000,
        stale_after_seconds: float | None = 300.0,
        delay_throttle: DelayThrottle | None = None,
        level_hysteresis: float = 0.0,
    ) -> None:
        self.config = check_config(config, "LoadManager()")
        self.level_hysteresis = check_real(
            level_hysteresis, "LoadManager() argument 'level_hysteresis'", low=0.0, high=1.0
        )
        if delay_throttle is not None and not isinstance(delay_throttle, DelayThrottle):
            raise TypeError(
                f"LoadManager() argument 'delay_throttle' must be a DelayThrottle or None; got {delay_throttle!r:.80}."
            )
        self.delay_throttle = delay_throttle
        self._clock = check_sync_callable(clock, "LoadManager() argument 'clock'")
        self.history_size = check_size(history_size, "LoadManager() argument 'history_size'")
        self.stale_after_seconds = (
            None
            if stale_after_seconds is None
            else check_real(
                stale_after_seconds, "LoadManager() argument 'stale_after_seconds'", low=0.0, low_open=True
            )
        )
        self._recorded_at: float | None = None  # clock() when the latest sample arrived

        self._lock = threading.Lock()
        self._history: deque[LoadMetrics] = deque(maxlen=self.history_size)
        self._sums = TimeWindowSums(self.history_size, len(_COLUMNS))
        self._order = TimeOrder()
        self._current_level: LoadLevel | None = None
        self._throttle = 0.0  # throttle of the latest sample, computed when it is recorded
        self._delay_pct = 0.0  # the delay throttle's output after the latest sample with a queue delay
        self._total = 0
        self._level_counts: dict[LoadLevel, int] = dict.fromkeys(LoadLevel, 0)
        # Tuples, replaced on change: taking a snapshot under the lock is O(1).
        self._handlers: dict[LoadLevel, tuple[LoadHandler, ...]] = dict.fromkeys(LoadLevel, ())
        self._handler_errors: dict[LoadLevel, int] = dict.fromkeys(LoadLevel, 0)
        self._handler_last_error: dict[LoadLevel, str] = {}

    # ------------------------------------------------------------------ handlers

    def register_handler(self, level: LoadLevel, handler: Callable[[LoadMetrics], Any]) -> None:
        """Call ``handler(metrics)`` whenever a sample at ``level`` is recorded.

        Registering the same handler twice makes it run twice.

        Raises
        ------
        ValueError, TypeError
            If ``level`` is not a :class:`LoadLevel` (or its value) or
            ``handler`` is not callable.
        """
        lvl = check_enum(level, LoadLevel, "register_handler() argument 'level'")
        check_sync_callable(handler, "register_handler() argument 'handler'")
        with self._lock:
            self._handlers[lvl] = (*self._handlers[lvl], handler)

    def unregister_handler(self, level: LoadLevel, handler: Callable[..., Any]) -> bool:
        """Remove one registration of ``handler`` for ``level``; return whether there was one."""
        lvl = check_enum(level, LoadLevel, "unregister_handler() argument 'level'")
        with self._lock:
            current = self._handlers[lvl]
            for i, h in enumerate(current):
                if h == handler:
                    self._handlers[lvl] = current[:i] + current[i + 1 :]
                    return True
        logger.debug("unregister_handler: %r is not registered for level %s", handler, lvl.value)
        return False

    # ------------------------------------------------------------------- record

    def record_metrics(self, metrics: LoadMetrics) -> LoadLevel:
        """Record one sample, run the handlers of its level and return the level.

        The sample is validated again (dataclasses are mutable); on bad input
        nothing is recorded and no handler runs.

        Raises
        ------
        TypeError
            If ``metrics`` is not a :class:`~autoopt.models.LoadMetrics` or a
            field has the wrong type.
        ValueError
            If a field is out of range (the message names the field), or the
            timestamp is refused (see *Windows* in the class notes).
        """
        if not isinstance(metrics, LoadMetrics):
            raise TypeError(
                f"record_metrics() argument 'metrics' must be a LoadMetrics; "
                f"got {metrics!r} of type {type(metrics).__name__}."
            )
        metrics.validate()
        arrived = self._clock()
        cfg = self.config
        ts = check_sample_time(
            metrics.timestamp, "LoadMetrics.timestamp", now=arrived, max_skew=cfg.max_clock_skew_s
        )
        max_back = cfg.max_backward_step_s
        utilization = metrics.utilization
        level = classify_load(utilization, self.config)
        throttle = throttle_percentage(utilization, self.config.load_threshold_high)
        row = (
            metrics.cpu_usage,
            metrics.memory_usage,
            metrics.request_rate,
            metrics.error_rate,
            metrics.latency_p50,
            metrics.latency_p99,
            float(metrics.queue_depth),
        )
        order = self._order
        with self._lock:
            current = self._current_level
            if self.level_hysteresis and current is not None and level.severity < current.severity:
                held = classify_load(min(1.0, utilization + self.level_hysteresis), self.config)
                level = current if held.severity >= current.severity else held
            # a late sample is clamped (counted) or refused; checked first, so a refusal here or from the
            # delay throttle below leaves nothing recorded
            placed = order.check(ts, max_back, "LoadMetrics.timestamp")
            if self.delay_throttle is not None and metrics.queue_delay_ms is not None:
                # Our own controller (no user code): O(1) under its lock, fed the non-decreasing index time.
                self._delay_pct = self.delay_throttle.update(metrics.queue_delay_ms / 1000.0, placed)
            ts = order.place(ts, max_back, "LoadMetrics.timestamp")
            self._sums.append(ts, row)
            self._history.append(metrics)
            self._total += 1
            self._level_counts[level] += 1
            self._current_level = level
            self._throttle = throttle
            self._recorded_at = arrived
            handlers = self._handlers[level]
        for handler in handlers:
            self._run_handler(handler, level, metrics)
        return level

    def _run_handler(self, handler: LoadHandler, level: LoadLevel, metrics: LoadMetrics) -> None:
        try:
            refused = close_awaitable(handler(metrics))
        except Exception as exc:
            message = f"{_handler_name(handler)}: {describe_exception(exc)}"
            logger.exception("load handler for level %s raised: %s", level.value, message)
        else:
            if refused is None:
                return
            message = f"{_handler_name(handler)}: {refused}"
            logger.error("load handler for level %s %s", level.value, message)
        with self._lock:
            self._handler_errors[level] += 1
            self._handler_last_error[level] = message

    # ------------------------------------------------------------------ queries

    def get_current_load(self) -> LoadLevel | None:
        """The level of the most recently recorded sample (None before the first)."""
        with self._lock:
            return self._current_level

    def get_average_metrics(self, window_seconds: int = 300) -> LoadMetrics | None:
        """The mean of every field over the samples of the last ``window_seconds``.

        The window holds the samples with (index) timestamp
        ``>= clock() - window_seconds`` among the ``history_size`` held. Each
        field is the arithmetic mean of the recorded values, so the averaged
        ``latency_p99`` is the mean of the recorded p99s, not the p99 of the
        pooled requests. ``queue_depth`` is rounded to an int and
        ``timestamp`` is the window's end, ``clock()``. O(log n).

        Returns
        -------
        LoadMetrics or None
            None when no sample falls in the window.

        Raises
        ------
        ValueError
            If ``window_seconds`` is not a finite number > 0.
        """
        window = check_real(
            window_seconds, "get_average_metrics() argument 'window_seconds'", low=0.0, low_open=True
        )
        now = float(self._clock())
        with self._lock:
            count, means = self._sums.window_mean(now - window)
        if count == 0 or means is None:
            return None
        lo = np.array([c[1] for c in _COLUMNS])
        hi = np.array([c[2] for c in _COLUMNS])
        m = np.clip(means, lo, hi)
        return LoadMetrics(
            cpu_usage=float(m[0]),
            memory_usage=float(m[1]),
            request_rate=float(m[2]),
            error_rate=float(m[3]),
            latency_p50=float(m[4]),
            latency_p99=float(m[5]),
            queue_depth=round(float(m[6])),
            timestamp=to_datetime(now),
        )

    def get_metrics_history(self, limit: int = 100) -> list[LoadMetrics]:
        """The newest ``limit`` samples in the order they were recorded. O(limit)."""
        n = check_limit(limit, "get_metrics_history() argument 'limit'")
        with self._lock:
            newest = list(itertools.islice(reversed(self._history), n))
        newest.reverse()
        return newest

    def get_throttle_percentage(self) -> float:
        """Percentage of work to shed now, in [0, 100].

        With ``u`` the latest sample's utilisation, ``h`` the HIGH threshold
        and ``x = clip((u - h) / (1 - h), 0, 1)``, the throttle is
        ``100 * (3 x**2 - 2 x**3)``: 0 for ``u <= h``, rising smoothly and
        monotonically to 100 at ``u = 1``. It falls back to 0 as soon as a
        sample at or below ``h`` is recorded, and is 0 before any sample.
        O(1): the value is computed when the sample is recorded.

        A throttle goes *stale*: when no sample has arrived for
        ``stale_after_seconds`` (by the injected clock), it reads 0, so a
        monitor that stops reporting cannot keep shedding traffic forever.
        """
        now = self._clock()
        with self._lock:
            throttle, arrived = _combine(self._throttle, self._delay_pct), self._recorded_at
        if throttle > 0.0 and self._is_stale(arrived, now):
            return 0.0
        return throttle

    def _is_stale(self, arrived: float | None, now: float) -> bool:
        return (
            self.stale_after_seconds is not None
            and arrived is not None
            and now - arrived > self.stale_after_seconds
        )

    def should_shed_load(self) -> bool:
        """Whether :meth:`get_throttle_percentage` is above 0."""
        return self.get_throttle_percentage() > 0.0

    def get_load_stats(self) -> dict[str, Any]:
        """Running statistics (no scan of the history).

        Keys: ``total_samples`` (ever recorded), ``samples_held``,
        ``current_load`` (level value or None), ``level_counts``
        (level value -> samples ever recorded at it), ``handlers``
        (level value -> registered handlers), ``handler_errors`` (level value
        -> handler exceptions), ``handler_last_errors`` (level value -> last
        message), ``throttle_percentage`` (combined), its parts
        ``utilization_throttle`` and ``delay_throttle`` (None without one),
        ``should_shed_load``,
        ``throttle_stale`` (a throttle that went stale reads 0) and
        ``clamped_timestamps`` (samples indexed at the latest time because they
        arrived up to ``max_backward_step_s`` late).
        """
        with self._lock:
            total = self._total
            held = len(self._history)
            current = self._current_level
            level_counts = {lvl.value: n for lvl, n in self._level_counts.items()}
            handlers = {lvl.value: len(hs) for lvl, hs in self._handlers.items()}
            errors = {lvl.value: n for lvl, n in self._handler_errors.items()}
            last_errors = {lvl.value: msg for lvl, msg in self._handler_last_error.items()}
            util_throttle, delay_pct = self._throttle, self._delay_pct
            throttle = _combine(util_throttle, delay_pct)
            arrived = self._recorded_at
            clamped = self._order.clamped
        stale = throttle > 0.0 and self._is_stale(arrived, self._clock())
        if stale:
            throttle = util_throttle = delay_pct = 0.0
        return {
            "total_samples": total,
            "samples_held": held,
            "current_load": None if current is None else current.value,
            "level_counts": level_counts,
            "handlers": handlers,
            "handler_errors": errors,
            "handler_last_errors": last_errors,
            "throttle_percentage": throttle,
            "utilization_throttle": util_throttle,
            "delay_throttle": None if self.delay_throttle is None else delay_pct,
            "should_shed_load": throttle > 0.0,
            "throttle_stale": stale,
            "clamped_timestamps": clamped,
        }
