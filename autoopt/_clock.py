"""Injected time.

Everything in autoopt that has a cooldown, a window, a deadline or a backoff
reads time through a *clock*: a zero-argument callable returning POSIX seconds
as a float, :func:`time.time` by default. Tests pass a :class:`ManualClock`
so nothing ever really sleeps.

Datetimes handed to users are timezone-aware UTC. Naive datetimes given to
autoopt are read as UTC (as pandas does), never as local time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

__all__ = ["Clock", "ManualClock", "system_clock", "to_datetime", "to_timestamp", "utcnow"]

Clock = Callable[[], float]
"""A zero-argument callable returning the current time in POSIX seconds."""

system_clock: Clock = time.time


def to_datetime(ts: float) -> datetime:
    """POSIX seconds to an aware UTC :class:`~datetime.datetime`."""
    return datetime.fromtimestamp(ts, tz=UTC)


def utcnow(clock: Clock = system_clock) -> datetime:
    """The clock's current time as an aware UTC datetime."""
    return to_datetime(clock())


def to_timestamp(value: Any, name: str = "timestamp") -> float:
    """Return POSIX seconds for a datetime, a pandas/NumPy timestamp or a number.

    Naive datetimes are taken to be UTC.

    Raises
    ------
    TypeError
        If ``value`` is not a time.
    ValueError
        If ``value`` is a non-finite number.
    """
    if isinstance(value, datetime):
        if value != value:  # pandas.NaT is a datetime that is not equal to itself
            raise ValueError(f"{name} must be a time; got a missing time ({value!r}).")
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            raise ValueError(f"{name} must be a time; got a missing time ({value!r}).")
        return float(value.astype("datetime64[ns]").astype(np.int64)) / 1e9
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        x = float(value)
        if x != x or x in (float("inf"), float("-inf")):
            raise ValueError(f"{name} must be a finite POSIX time; got {value!r}.")
        return x
    raise TypeError(
        f"{name} must be a datetime or POSIX seconds; got {value!r} of type {type(value).__name__}."
    )


class ManualClock:
    """A clock that moves only when told to, for tests and simulations.

    Parameters
    ----------
    start : float
        Initial time in POSIX seconds.

    Examples
    --------
    >>> clock = ManualClock(100.0)
    >>> clock()
    100.0
    >>> clock.advance(5)
    105.0
    >>> clock.sleep(2.5); clock()
    107.5
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (must be >= 0) and return the new time."""
        if not seconds >= 0:
            raise ValueError(f"seconds must be >= 0; got {seconds!r}.")
        with self._lock:
            self._now += float(seconds)
            return self._now

    def set(self, now: float) -> None:
        """Jump to ``now``; time never goes backwards."""
        with self._lock:
            if now < self._now:
                raise ValueError(f"now must be >= the current time {self._now!r}; got {now!r}.")
            self._now = float(now)

    def sleep(self, seconds: float) -> None:
        """A drop-in for :func:`time.sleep` that advances the clock instead."""
        self.advance(seconds)
