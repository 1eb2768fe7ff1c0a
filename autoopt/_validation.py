"""Input validation at the library boundary.

Every check names the field and the offending value, in the spirit of
scikit-learn's parameter validation::

    LoadMetrics.cpu_usage must be a finite number in [0, 100]; got nan.

Checks raise :class:`TypeError` for a value of the wrong kind and
:class:`ValueError` for a value of the right kind but out of range, and they
never mutate anything, so a caller that validates first records nothing on
bad input.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "check_str",
    "check_callable",
    "check_enum",
    "check_int",
    "check_random_state",
    "check_real",
    "SeedLike",
]

E = TypeVar("E", bound=Enum)

SeedLike = int | np.random.Generator | np.random.SeedSequence | None


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is None and high is None:
        return ""
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    left = "(" if low_open or low is None else "["
    right = ")" if high_open or high is None else "]"
    return f" in {left}{lo}, {hi}{right}"


def check_real(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite ``float`` within the given bounds.

    Parameters
    ----------
    value : object
        The value to check. Any real number except ``bool`` is accepted.
    name : str
        The qualified field name used in messages, e.g. ``"LoadMetrics.cpu_usage"``.
    low, high : float, optional
        Bounds; ``None`` means unbounded.
    low_open, high_open : bool
        Whether the corresponding bound is excluded.

    Raises
    ------
    TypeError
        If ``value`` is not a real number.
    ValueError
        If ``value`` is NaN, infinite or outside the bounds.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number{_interval(low, high, low_open, high_open)}; "
            f"got {value!r} of type {type(value).__name__}."
        )
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(
            f"{name} must be a finite number{_interval(low, high, low_open, high_open)}; got {value!r}."
        )
    if low is not None and (x < low or (low_open and x == low)):
        raise ValueError(
            f"{name} must be a finite number{_interval(low, high, low_open, high_open)}; got {value!r}."
        )
    if high is not None and (x > high or (high_open and x == high)):
        raise ValueError(
            f"{name} must be a finite number{_interval(low, high, low_open, high_open)}; got {value!r}."
        )
    return x


def check_int(
    value: Any,
    name: str,
    *,
    low: int | None = None,
    high: int | None = None,
) -> int:
    """Return ``value`` as an ``int`` within ``[low, high]``.

    Integral floats are rejected on purpose: ``max_retries=2.5`` is a bug in
    the caller, and ``2.0`` almost always is too.

    Raises
    ------
    TypeError
        If ``value`` is not an integer (``bool`` is not accepted).
    ValueError
        If ``value`` is outside ``[low, high]``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an int{_interval(low, high, False, False)}; "
            f"got {value!r} of type {type(value).__name__}."
        )
    n = int(value)
    if (low is not None and n < low) or (high is not None and n > high):
        raise ValueError(f"{name} must be an int{_interval(low, high, False, False)}; got {n!r}.")
    return n


def check_enum(value: Any, enum_cls: type[E], name: str) -> E:
    """Return ``value`` as a member of ``enum_cls``, accepting its string value.

    Raises
    ------
    TypeError
        If ``value`` is neither a member nor a string.
    ValueError
        If ``value`` is a string that names no member.
    """
    if isinstance(value, enum_cls):
        return value
    if isinstance(value, str):
        try:
            return enum_cls(value)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in enum_cls)
            raise ValueError(f"{name} must be one of {allowed}; got {value!r}.") from None
    raise TypeError(
        f"{name} must be a {enum_cls.__name__} or its string value; "
        f"got {value!r} of type {type(value).__name__}."
    )


def check_str(value: Any, name: str) -> str:
    """Return ``value`` if it is a string with a non-blank character.

    Raises
    ------
    TypeError
        If ``value`` is not a ``str``.
    ValueError
        If it is empty or only whitespace.
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a non-empty str; got {value!r} of type {type(value).__name__}.")
    if not value.strip():
        raise ValueError(f"{name} must be a non-empty str; got {value!r}.")
    return value


def check_callable(value: Any, name: str) -> Callable[..., Any]:
    """Return ``value`` if it is callable, else raise :class:`TypeError`."""
    if not callable(value):
        raise TypeError(f"{name} must be callable; got {value!r} of type {type(value).__name__}.")
    return value


def check_random_state(seed: SeedLike, name: str = "seed") -> np.random.Generator:
    """Turn ``seed`` into a :class:`numpy.random.Generator`.

    ``None`` gives fresh OS entropy, an int or :class:`~numpy.random.SeedSequence`
    a reproducible generator, and a Generator is returned as is (shared).
    """
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if int(seed) < 0:
            raise ValueError(f"{name} must be a non-negative int; got {seed!r}.")
        return np.random.default_rng(int(seed))
    raise TypeError(
        f"{name} must be None, an int, a numpy SeedSequence or Generator; "
        f"got {seed!r} of type {type(seed).__name__}."
    )
