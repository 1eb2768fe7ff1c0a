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

from autoopt._validation import safe_repr

__all__ = [
    "PANDAS_TIME_RANGE",
    "Clock",
    "ManualClock",
    "TimeOrder",
    "backward_step_error",
    "check_sample_time",
    "is_default_stamp",
    "stamp_now",
    "system_clock",
    "to_datetime",
    "to_timestamp",
    "utcnow",
]

Clock = Callable[[], float]
"""A zero-argument callable returning the current time in POSIX seconds."""

system_clock: Clock = time.time


PANDAS_TIME_RANGE: tuple[float, float] = (-9223372036.854775, 9223372036.854775)
"""POSIX seconds that pandas' nanosecond timestamps can hold (1677-09-21 .. 2262-04-11)."""


def to_datetime(ts: float) -> datetime:
    """POSIX seconds to an aware UTC :class:`~datetime.datetime`."""
    return datetime.fromtimestamp(ts, tz=UTC)


class _DefaultStamp(datetime):
    """A datetime a record was stamped with by default, from the wall clock (see :func:`stamp_now`).

    It behaves as the plain datetime it is. Components use the mark to tell a
    time the caller chose from one nobody chose: only a chosen time is
    checked against the component's own (possibly simulated) clock.
    """

    __slots__ = ()


def stamp_now() -> datetime:
    """The wall clock's time as an aware UTC datetime marked as a default stamp."""
    return _DefaultStamp.fromtimestamp(time.time(), tz=UTC)


def is_default_stamp(value: Any) -> bool:
    """Whether ``value`` is a default stamp made by :func:`stamp_now` (not a time the caller gave)."""
    return type(value) is _DefaultStamp


def utcnow(clock: Clock = system_clock) -> datetime:
    """The clock's current time as an aware UTC datetime (a default stamp for the system clock)."""
    if clock is system_clock:
        return stamp_now()
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
        try:
            x = float(value)
        except OverflowError:
            raise ValueError(
                f"{name} must be a finite POSIX time; got {safe_repr(value)}, too large for a float."
            ) from None
        if x != x or x in (float("inf"), float("-inf")):
            raise ValueError(f"{name} must be a finite POSIX time; got {value!r}.")
        return x
    raise TypeError(
        f"{name} must be a datetime or POSIX seconds; got {safe_repr(value)} of type {type(value).__name__}."
    )


def _iso(ts: float) -> str:
    try:
        return to_datetime(ts).isoformat()
    except (OverflowError, OSError, ValueError):
        return f"{ts:g} s"


def check_sample_time(
    value: Any, name: str, *, now: float | None = None, max_skew: float | None = None
) -> float:
    """POSIX seconds of a sample's time, refused when it cannot be a real time of this stream.

    Refused: a non-finite or unconvertible time, one outside pandas'
    nanosecond range, and, when ``now`` and ``max_skew`` are given, one more
    than ``max_skew`` seconds ahead of ``now`` (the component's clock). A
    default stamp (:func:`is_default_stamp`) is never checked against
    ``now``: nobody chose it, and the component's clock may be simulated.
    Times in the past are all accepted: forward gaps in a stream are legal.

    Raises
    ------
    TypeError
        If ``value`` is not a time.
    ValueError
        If it is refused; the message names ``name``, the time and the rule.

    Examples
    --------
    >>> check_sample_time(1e300, "timestamp")
    Traceback (most recent call last):
    ...
    ValueError: timestamp must lie within pandas' nanosecond range (1677-09-21 .. 2262-04-11); got 1e+300.
    >>> check_sample_time(200_000.0, "timestamp", now=0.0, max_skew=86_400.0)
    Traceback (most recent call last):
    ...
    ValueError: timestamp is 200,000 s ahead of the clock (1970-01-03T07:33:20+00:00 vs 1970-01-01T00:00:00+00:00), more than max_clock_skew_s=86400.
    """
    ts = to_timestamp(value, name)
    lo, hi = PANDAS_TIME_RANGE
    if not lo <= ts <= hi:
        raise ValueError(
            f"{name} must lie within pandas' nanosecond range (1677-09-21 .. 2262-04-11); got {safe_repr(value)}."
        )
    if now is not None and max_skew is not None and ts - now > max_skew and not is_default_stamp(value):
        raise ValueError(
            f"{name} is {ts - now:,.0f} s ahead of the clock ({_iso(ts)} vs {_iso(now)}), "
            f"more than max_clock_skew_s={max_skew:g}."
        )
    return ts


def backward_step_error(name: str, ts: float, latest: float, max_backward_s: float) -> ValueError:
    """The error for a sample at ``ts`` more than ``max_backward_s`` seconds before ``latest``."""
    return ValueError(
        f"{name} ({_iso(ts)}) is {latest - ts:,.3g} s before the latest recorded time "
        f"({_iso(latest)}); steps back of up to max_backward_step_s={max_backward_s:g} s are "
        "clamped to the latest time, longer ones refused. Replay older data into a fresh component."
    )


class TimeOrder:
    """The latest time of one stream, and the rule for samples that arrive out of order.

    Not thread-safe on its own: the owning component calls :meth:`place`
    under its lock. A sample at or after the latest time is placed at its own
    time. One at most ``max_backward_s`` seconds earlier (recorders racing
    under concurrent live use) is placed at the latest time and counted in
    :attr:`clamped`; one further back is refused, since placing it would
    corrupt every window it lands in. ``max_backward_s=None`` clamps every
    step back (autoopt 0.1's behaviour).

    Examples
    --------
    >>> order = TimeOrder()
    >>> order.place(100.0, 5.0, "t"), order.place(98.0, 5.0, "t"), order.clamped
    (100.0, 100.0, 1)
    >>> order.place(10.0, 5.0, "t")
    Traceback (most recent call last):
    ...
    ValueError: t (1970-01-01T00:00:10+00:00) is 90 s before the latest recorded time (1970-01-01T00:01:40+00:00); steps back of up to max_backward_step_s=5 s are clamped to the latest time, longer ones refused. Replay older data into a fresh component.
    """

    __slots__ = ("clamped", "latest")

    def __init__(self) -> None:
        self.latest: float | None = None
        self.clamped = 0

    def check(self, ts: float, max_backward_s: float | None, name: str) -> float:
        """The time ``ts`` would be placed at; raises as :meth:`place`, changes nothing."""
        latest = self.latest
        if latest is None or ts >= latest:
            return ts
        if max_backward_s is not None and latest - ts > max_backward_s:
            raise backward_step_error(name, ts, latest, max_backward_s)
        return latest

    def place(self, ts: float, max_backward_s: float | None, name: str) -> float:
        """Record ``ts`` and return the time to index it at (see the class docstring)."""
        placed = self.check(ts, max_backward_s, name)
        if placed != ts:
            self.clamped += 1
        self.latest = placed
        return placed


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
