"""Exponentially weighted streaming statistics (river's ``update``/``get`` shape).

Both statistics weight the ``k``-th most recent observation by
``(1 - alpha) ** k`` and *normalise* by the total weight, so they are
unbiased from the first observation on (no warm-up towards an arbitrary
initial value).

The variance uses West's weighted incremental update (West 1979, "Updating
mean and variance estimates: an improved method", CACM 22(9)), which stays
accurate for a large mean and small spread and can never go negative, unlike
the textbook ``E[x^2] - E[x]^2``.
"""

from __future__ import annotations

import math

__all__ = ["EWMean", "EWVar"]


def _check_alpha(alpha: float) -> float:
    if not (isinstance(alpha, (int, float)) and 0.0 < alpha <= 1.0):
        raise ValueError(f"alpha must be a number in (0, 1]; got {alpha!r}.")
    return float(alpha)


class EWMean:
    """Exponentially weighted mean with normalised weights.

    Parameters
    ----------
    alpha : float
        Weight of the newest observation relative to the total, in (0, 1].

    Examples
    --------
    >>> m = EWMean(alpha=0.5)
    >>> for x in [1.0, 0.0, 1.0]:
    ...     _ = m.update(x)
    >>> round(m.get(), 6)   # (1*1 + 0.5*0 + 0.25*1) / (1 + 0.5 + 0.25)
    0.714286
    >>> m.n
    3
    """

    __slots__ = ("_decay", "_den", "_num", "alpha", "n")

    def __init__(self, alpha: float = 0.1) -> None:
        self.alpha = _check_alpha(alpha)
        self._decay = 1.0 - self.alpha
        self._num = 0.0
        self._den = 0.0
        self.n = 0

    def update(self, x: float) -> EWMean:
        """Fold in one observation and return self."""
        self._num = self._decay * self._num + x
        self._den = self._decay * self._den + 1.0
        self.n += 1
        return self

    def get(self) -> float:
        """The current mean (NaN before the first observation)."""
        return self._num / self._den if self._den else math.nan


class EWVar:
    """Exponentially weighted mean and variance (West's algorithm).

    Parameters
    ----------
    alpha : float
        Forgetting rate in (0, 1]: each update multiplies older weights by
        ``1 - alpha``.

    Examples
    --------
    >>> v = EWVar(alpha=0.01)
    >>> for x in [1e9 + 1, 1e9 + 2, 1e9 + 3]:
    ...     _ = v.update(x)
    >>> v.get() > 0
    True
    """

    __slots__ = ("_decay", "_mean", "_s", "_w", "alpha", "n")

    def __init__(self, alpha: float = 0.1) -> None:
        self.alpha = _check_alpha(alpha)
        self._decay = 1.0 - self.alpha
        self._w = 0.0
        self._mean = 0.0
        self._s = 0.0
        self.n = 0

    def update(self, x: float) -> EWVar:
        """Fold in one observation and return self."""
        self._w = self._decay * self._w + 1.0
        delta = x - self._mean
        self._mean += delta / self._w
        self._s = self._decay * self._s + delta * (x - self._mean)
        self.n += 1
        return self

    @property
    def mean(self) -> float:
        """The weighted mean (NaN before the first observation)."""
        return self._mean if self.n else math.nan

    def get(self) -> float:
        """The weighted (population) variance, >= 0 (NaN before the first observation)."""
        return max(self._s / self._w, 0.0) if self.n else math.nan
