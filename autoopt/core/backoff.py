"""Exponential backoff: the one formula autoopt's retries use (the scheduler's, remediation's, workflows').

A pure function: no clock, no sleep, no validation (callers check their
parameters and name them in their own messages).
"""

from __future__ import annotations

import math

__all__ = ["backoff_delay"]


def backoff_delay(retry: int, base: float, multiplier: float = 2.0, cap: float = math.inf) -> float:
    """The wait before retry number ``retry`` (1 = the first): ``min(cap, base * multiplier ** (retry - 1))``.

    Never overflows: a power beyond the float range gives ``cap``.

    Parameters
    ----------
    retry : int
        The retry about to be made, counting from 1.
    base : float
        The wait before the first retry (>= 0).
    multiplier : float
        Growth of the wait per further retry (>= 1).
    cap : float
        Upper bound on any wait.

    Examples
    --------
    >>> [backoff_delay(k, 0.5) for k in (1, 2, 3, 4)]
    [0.5, 1.0, 2.0, 4.0]
    >>> backoff_delay(10_000, 1.0, cap=300.0)
    300.0
    """
    if base == 0.0:
        return 0.0
    try:
        return min(cap, base * multiplier ** (retry - 1))
    except OverflowError:
        return cap
