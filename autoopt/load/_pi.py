"""A throttle driven by queue delay: a velocity-form PI controller after PIE (RFC 8033).

PIE sets a drop probability ``p`` from the queueing delay ``d`` every update
interval ``T``::

    p += alpha * (d - target) + beta * (d - d_previous)

the velocity (incremental) form of a PI controller: ``alpha`` is the
integral gain and ``beta`` the proportional gain, both per second of delay.
Because the controller keeps only ``p``, clipping ``p`` to [0, 1] is all the
anti-windup it needs: there is no separate integral that could wind up.

Kept from the RFC, with its defaults (target 15 ms, ``T`` = 15 ms,
``alpha`` = 0.125, ``beta`` = 1.25):

- *auto-tuning*: the step is scaled down while ``p`` is small (by 2048 below
  1e-6, ..., by 2 below 0.1), so the controller reacts gently near 0 and
  firmly in heavy overload, with no per-deployment tuning;
- *slew limit*: above ``p`` = 0.1 one update raises ``p`` by at most
  ``max_increase`` (2 points);
- *decay*: with an empty queue for two updates running, ``p`` shrinks by 2 %
  per update, and an update that would leave it below ``1e-6`` sets it to 0,
  so the throttle returns to exactly 0 after load drops.

Added for irregular samples: the integral step is scaled by the time since
the previous update over ``T`` (at most ``max_step_intervals`` intervals,
so one late sample cannot jump the throttle), and ``max_decrease`` bounds how
fast the throttle may fall in one update (2 points, mirroring the RFC's
limit on the rise).
"""

from __future__ import annotations

import threading
from typing import Any

from autoopt._validation import check_real

__all__ = ["DelayThrottle"]

# RFC 8033, section 5.2: (upper bound on p, divisor of the step while p is below it).
_AUTO_TUNE = ((1e-6, 2048.0), (1e-5, 512.0), (1e-4, 128.0), (1e-3, 32.0), (1e-2, 8.0), (1e-1, 2.0))


class DelayThrottle:
    """A throttle (percent of work to shed) that holds queueing delay near a target.

    Parameters
    ----------
    target_delay : float
        Queueing delay to hold, in seconds (RFC 8033: 0.015).
    update_interval : float
        The nominal seconds between updates ``T`` (RFC 8033: 0.015); the
        integral step of a sample ``dt`` after the previous one is scaled by
        ``dt / T``.
    alpha : float
        Integral gain, per second of delay error (RFC 8033: 0.125).
    beta : float
        Proportional gain, per second of delay change (RFC 8033: 1.25).
    max_increase : float
        Most the shed probability may rise in one update once it is above 0.1
        (RFC 8033: 0.02).
    max_decrease : float
        Most it may fall in one update (the RFC has no such limit: 1.0).
        Without one, a queue that empties under heavy overload drops the
        throttle at once and lets a flood in: in ``benchmarks/overload`` at
        5x capacity, goodput fell to 24 % with no limit and stayed at 98-100 %
        with limits of 0.01, 0.02 or 0.05. The default mirrors
        ``max_increase``.
    max_step_intervals : float
        The integral step of one update counts at most this many intervals.

    Examples
    --------
    >>> pi = DelayThrottle()
    >>> pi.update(0.0, now=0.0)                 # an empty queue: no shedding
    0.0
    >>> for k in range(1, 200):                 # a standing 100 ms queue
    ...     t = pi.update(0.100, now=k * 0.015)
    >>> 50.0 < t <= 100.0
    True
    >>> for k in range(200, 2000):              # the queue drains
    ...     t = pi.update(0.0, now=k * 0.015)
    >>> t
    0.0

    Thread safety
    -------------
    :meth:`update` and the readers take one lock, held for O(1) arithmetic.
    """

    def __init__(
        self,
        *,
        target_delay: float = 0.015,
        update_interval: float = 0.015,
        alpha: float = 0.125,
        beta: float = 1.25,
        max_increase: float = 0.02,
        max_decrease: float = 0.02,
        max_step_intervals: float = 4.0,
    ) -> None:
        arg = "DelayThrottle() argument"
        self.target_delay = check_real(target_delay, f"{arg} 'target_delay'", low=0.0, low_open=True)
        self.update_interval = check_real(update_interval, f"{arg} 'update_interval'", low=0.0, low_open=True)
        self.alpha = check_real(alpha, f"{arg} 'alpha'", low=0.0)
        self.beta = check_real(beta, f"{arg} 'beta'", low=0.0)
        self.max_increase = check_real(
            max_increase, f"{arg} 'max_increase'", low=0.0, low_open=True, high=1.0
        )
        self.max_decrease = check_real(
            max_decrease, f"{arg} 'max_decrease'", low=0.0, low_open=True, high=1.0
        )
        self.max_step_intervals = check_real(
            max_step_intervals, f"{arg} 'max_step_intervals'", low=0.0, low_open=True
        )
        self._lock = threading.Lock()
        self._p = 0.0
        self._previous_delay = 0.0
        self._updated_at: float | None = None
        self._updates = 0

    def update(self, delay: float, now: float) -> float:
        """Take one queueing-delay sample (seconds) taken at ``now`` (seconds); return the throttle in percent.

        Samples must come in time order; one older than the previous update
        raises ``ValueError`` and changes nothing.
        """
        d = check_real(delay, "DelayThrottle.update() argument 'delay'", low=0.0)
        t = check_real(now, "DelayThrottle.update() argument 'now'")
        with self._lock:
            last = self._updated_at
            if last is not None and t < last:
                raise ValueError(
                    f"DelayThrottle.update() argument 'now' ({t!r}) is earlier than the previous update ({last!r})"
                )
            intervals = (
                1.0 if last is None else min((t - last) / self.update_interval, self.max_step_intervals)
            )
            p, previous = self._p, self._previous_delay
            step = self.alpha * (d - self.target_delay) * intervals + self.beta * (d - previous)
            for bound, divisor in _AUTO_TUNE:
                if p < bound:
                    step /= divisor
                    break
            if p >= 0.1:
                step = min(step, self.max_increase)
            step = max(step, -self.max_decrease)
            p += step
            if d == 0.0 and previous == 0.0:
                p *= 0.98  # an empty queue twice running: decay
            p = min(max(p, 0.0), 1.0)
            if p < 1e-6 and step <= 0.0:
                p = 0.0
            self._p, self._previous_delay, self._updated_at = p, d, t
            self._updates += 1
            return 100.0 * p

    @property
    def throttle_percentage(self) -> float:
        """The current throttle, in percent."""
        with self._lock:
            return 100.0 * self._p

    def reset(self) -> None:
        """Forget everything: throttle 0, no previous sample."""
        with self._lock:
            self._p, self._previous_delay, self._updated_at, self._updates = 0.0, 0.0, None, 0

    def get_stats(self) -> dict[str, Any]:
        """``throttle_percentage``, ``last_delay`` (s), ``updated_at`` and ``updates``."""
        with self._lock:
            return {
                "throttle_percentage": 100.0 * self._p,
                "last_delay": self._previous_delay,
                "updated_at": self._updated_at,
                "updates": self._updates,
            }

    def __repr__(self) -> str:
        return (
            f"DelayThrottle(target_delay={self.target_delay!r}, update_interval={self.update_interval!r}, "
            f"alpha={self.alpha!r}, beta={self.beta!r})"
        )
