"""Bounded buffers that never copy on append.

Both buffers keep their data in an array of twice the capacity and write
forward; when the end is reached the newest ``capacity`` rows move to the
front in one block copy. Each append is O(1) amortised, and the live window
is always a *contiguous* slice, so reading it is a zero-copy view and
``np.searchsorted`` works on it directly. A :class:`RingBuffer` allocates
lazily: it starts small and doubles (amortised O(1) too) until it reaches
twice its capacity, so a buffer that holds few rows costs little memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["RingBuffer", "TimeWindowSums"]


class RingBuffer:
    """A bounded FIFO of fixed-width float rows with O(1) append.

    Parameters
    ----------
    capacity : int
        Most rows kept; older rows fall off.
    width : int, optional
        Row width; ``None`` for a 1-D buffer of scalars.
    dtype : numpy dtype
        Element type (``float64`` by default).
    initial : int, default 16
        Rows allocated at first; the storage doubles as rows arrive, up to
        ``2 * capacity``.

    Examples
    --------
    >>> buf = RingBuffer(3)
    >>> for x in range(5):
    ...     buf.append(x)
    >>> buf.view()
    array([2., 3., 4.])
    >>> len(buf), buf.total_appended
    (3, 5)
    """

    def __init__(
        self, capacity: int, width: int | None = None, dtype: Any = np.float64, *, initial: int = 16
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1; got {capacity!r}.")
        self.capacity = int(capacity)
        rows = min(2 * self.capacity, max(1, int(initial)))
        shape: tuple[int, ...] = (rows,) if width is None else (rows, int(width))
        self._data: NDArray[Any] = np.zeros(shape, dtype=dtype)
        self._start = 0
        self._end = 0
        self.total_appended = 0

    def __len__(self) -> int:
        return self._end - self._start

    @property
    def nbytes(self) -> int:
        """Bytes of storage allocated now (at most ``2 * capacity`` rows)."""
        return int(self._data.nbytes)

    def _make_room(self) -> None:
        if self._end == self._data.shape[0]:
            size = self._data.shape[0]
            if size < 2 * self.capacity:  # still growing: double, keeping the live rows at the front
                grown = np.zeros((min(2 * self.capacity, 2 * size), *self._data.shape[1:]), self._data.dtype)
                n = self._end - self._start
                grown[:n] = self._data[self._start : self._end]
                self._data, self._start, self._end = grown, 0, n
                return
            keep = self.capacity - 1
            self._data[:keep] = self._data[self._end - keep : self._end]
            self._start, self._end = 0, keep

    def append(self, row: ArrayLike) -> None:
        """Append one row, dropping the oldest when full."""
        self._make_room()
        self._data[self._end] = row
        self._end += 1
        if self._end - self._start > self.capacity:
            self._start += 1
        self.total_appended += 1

    def view(self) -> NDArray[Any]:
        """The live rows, oldest first, as a read-only view (no copy)."""
        v = self._data[self._start : self._end]
        v.flags.writeable = False
        return v

    def last(self, k: int = 1) -> NDArray[Any]:
        """The newest ``k`` rows (fewer if the buffer holds fewer), oldest first."""
        return self.view()[max(0, len(self) - k) :]

    def __getitem__(self, i: int) -> Any:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for a buffer of {n} rows")
        return self._data[self._start + (i % n)]

    def clear(self) -> None:
        """Drop every row (``total_appended`` is kept)."""
        self._start = self._end = 0


class TimeWindowSums:
    """Per-column sums over any recent time window in O(log n).

    Rows arrive with non-decreasing timestamps. Inclusive prefix sums are
    stored beside the rows, so the sum over the rows with timestamp ``>= t0``
    is one binary search and one subtraction. When the buffer compacts, the
    prefix sums are rebased to the first live row, so their magnitude stays
    bounded by ``capacity`` rows and precision does not decay over long runs.

    Parameters
    ----------
    capacity : int
        Most rows kept.
    width : int
        Number of value columns.
    initial : int, default 16
        Rows allocated at first; the storage doubles as rows arrive, up to
        ``2 * capacity`` (amortised O(1) per append).

    Examples
    --------
    >>> w = TimeWindowSums(capacity=100, width=2)
    >>> for t in range(10):
    ...     w.append(float(t), [t, 2.0 * t])
    >>> w.window_mean(since=7.0)
    (3, array([ 8., 16.]))
    """

    def __init__(self, capacity: int, width: int, *, initial: int = 16) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1; got {capacity!r}.")
        self.capacity = int(capacity)
        self.width = int(width)
        n = min(2 * self.capacity, max(1, int(initial)))
        self._t = np.zeros(n)
        self._v = np.zeros((n, self.width))
        self._p = np.zeros((n, self.width))  # inclusive prefix sums from self._start's base
        self._start = 0
        self._end = 0

    def __len__(self) -> int:
        return self._end - self._start

    @property
    def last_time(self) -> float | None:
        """Timestamp of the newest row, or None when empty."""
        return float(self._t[self._end - 1]) if self._end > self._start else None

    @property
    def nbytes(self) -> int:
        """Bytes of storage allocated now (at most ``2 * capacity`` rows)."""
        return int(self._t.nbytes + self._v.nbytes + self._p.nbytes)

    def _grow(self) -> None:
        """Double the storage (up to ``2 * capacity`` rows), keeping the live rows at the front."""
        n = self._end - self._start
        size = min(2 * self.capacity, 2 * self._t.shape[0])
        t, v, p = np.zeros(size), np.zeros((size, self.width)), np.zeros((size, self.width))
        t[:n] = self._t[self._start : self._end]
        v[:n] = self._v[self._start : self._end]
        if n:  # rebase the prefix sums to the first live row, as _compact does
            p[:n] = self._p[self._start : self._end] - (self._p[self._start] - self._v[self._start])
        self._t, self._v, self._p = t, v, p
        self._start, self._end = 0, n

    def _compact(self) -> None:
        keep = self.capacity - 1
        if keep > 0:
            lo = self._end - keep
            # Rebase: subtract the exclusive prefix of the first kept row.
            base = self._p[lo] - self._v[lo]
            self._t[:keep] = self._t[lo : self._end]
            self._v[:keep] = self._v[lo : self._end]
            self._p[:keep] = self._p[lo : self._end] - base
        self._start, self._end = 0, keep

    def append(self, t: float, row: ArrayLike) -> None:
        """Append a row observed at time ``t`` (must not precede the last row)."""
        if self._end > self._start and t < self._t[self._end - 1]:
            raise ValueError(f"t must be >= the last time {self._t[self._end - 1]!r}; got {t!r}.")
        if self._end == self._t.shape[0]:
            if self._t.shape[0] < 2 * self.capacity:
                self._grow()
            else:
                self._compact()
        i = self._end
        self._t[i] = t
        self._v[i] = row
        self._p[i] = (self._p[i - 1] if i > 0 else 0.0) + self._v[i]
        self._end += 1
        if self._end - self._start > self.capacity:
            self._start += 1

    def window_sum(self, since: float) -> tuple[int, np.ndarray]:
        """``(count, column sums)`` over the live rows with timestamp ``>= since``."""
        if self._end == self._start:
            return 0, np.zeros(self.width)
        t = self._t[self._start : self._end]
        i = self._start + int(np.searchsorted(t, since, side="left"))
        j = self._end - 1
        if i > j:
            return 0, np.zeros(self.width)
        return j - i + 1, self._p[j] - self._p[i] + self._v[i]

    def window_mean(self, since: float) -> tuple[int, np.ndarray | None]:
        """``(count, column means)`` over the rows with timestamp ``>= since``; means None if empty."""
        count, total = self.window_sum(since)
        if count == 0:
            return 0, None
        return count, total / count

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """``(times, values)`` of the live rows as read-only views."""
        t = self._t[self._start : self._end]
        v = self._v[self._start : self._end]
        t.flags.writeable = False
        v.flags.writeable = False
        return t, v
