"""An adaptive concurrency limit learned from measured latency: Netflix's Gradient2 rule."""

from __future__ import annotations

import threading
from typing import Any

from autoopt._validation import check_real, check_size

__all__ = ["Gradient2Limit"]


class Gradient2Limit:
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

    def update(self, rtt: float, inflight: int) -> float:
        """Take one call's latency (seconds) and the calls in flight when it ended; return the new limit."""
        r = check_real(rtt, "Gradient2Limit.update() argument 'rtt'", low=0.0, low_open=True)
        if not isinstance(inflight, int) or isinstance(inflight, bool) or inflight < 0:
            raise TypeError(
                f"Gradient2Limit.update() argument 'inflight' must be an int >= 0; got {inflight!r}"
            )
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
