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

import contextlib
import inspect
import numbers
import sys
from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "check_str",
    "check_callable",
    "check_enum",
    "check_id",
    "check_int",
    "check_limit",
    "check_random_state",
    "check_real",
    "check_size",
    "MAX_SIZE",
    "check_sync_callable",
    "close_awaitable",
    "describe_exception",
    "is_async_callable",
    "safe_repr",
    "safe_str",
    "SeedLike",
]

_REPR_LIMIT = 120


def safe_repr(value: Any, limit: int = _REPR_LIMIT) -> str:
    """``repr(value)`` for an error message: never raises, and at most ``limit`` characters.

    An int too long to print in full (``10**400``) is described by its size,
    and an object whose ``__repr__`` raises by its type and the error.

    Examples
    --------
    >>> safe_repr(10**400)
    'an int of 1329 bits'
    >>> safe_repr("x" * 200)[-5:]
    "x...'"
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an int of {value.bit_length()} bits"
    try:
        text = repr(value)
    except Exception as exc:
        return f"<{type(value).__name__} whose repr raised {type(exc).__name__}: {exc}>"
    return text if len(text) <= limit else f"{text[: limit - 4]}...{text[-1]}"


E = TypeVar("E", bound=Enum)

SeedLike = int | np.random.Generator | np.random.SeedSequence | None


def safe_str(value: Any) -> str:
    """``str(value)``, or a description of the value when its ``__str__`` raises."""
    try:
        return str(value)
    except Exception as exc:
        try:
            detail = f": {exc}"
        except Exception:
            detail = ""
        return f"<{type(value).__name__} whose str() raised {type(exc).__name__}{detail}>"


def describe_exception(exc: BaseException) -> str:
    """``"<Type>: <message>"`` for recording a failure of user code; never raises."""
    return f"{type(exc).__name__}: {safe_str(exc)}"


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
    if type(value) is float:  # the common case, without the ABC check
        x = value
    else:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(
                f"{name} must be a real number{_interval(low, high, low_open, high_open)}; "
                f"got {safe_repr(value)} of type {type(value).__name__}."
            )
        try:
            x = float(value)
        except OverflowError:  # an int beyond float's range
            raise ValueError(
                f"{name} must be a finite number{_interval(low, high, low_open, high_open)}; "
                f"got {safe_repr(value)}, too large for a float."
            ) from None
    if (
        x - x != 0.0  # NaN or infinite
        or (low is not None and (x < low or (low_open and x == low)))
        or (high is not None and (x > high or (high_open and x == high)))
    ):
        raise ValueError(
            f"{name} must be a finite number{_interval(low, high, low_open, high_open)}; got {safe_repr(value)}."
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
    if type(value) is int:
        n = value
    elif isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an int{_interval(low, high, False, False)}; "
            f"got {safe_repr(value)} of type {type(value).__name__}."
        )
    else:
        n = int(value)
    if (low is not None and n < low) or (high is not None and n > high):
        raise ValueError(f"{name} must be an int{_interval(low, high, False, False)}; got {safe_repr(n)}.")
    return n


MAX_SIZE = 2**40
"""Largest value of a size parameter (a history length, a window, a cap): about 10^12.

Structures grow with the data, so a large size allocates nothing up front; the bound only keeps
sizes within what a deque, NumPy and a float can hold.
"""


def check_size(value: Any, name: str, *, low: int = 1, high: int = MAX_SIZE) -> int:
    """A size parameter: an int in ``[low, high]`` (``high`` defaults to :data:`MAX_SIZE`)."""
    return check_int(value, name, low=low, high=high)


def check_limit(value: Any, name: str) -> int:
    """A ``limit=`` argument: an int >= 0, where any value past the data means "all".

    Returns ``value`` capped at :data:`sys.maxsize`, so ``limit=10**30`` is
    safe to hand to :func:`itertools.islice`.
    """
    return min(check_int(value, name, low=0), sys.maxsize)


def check_id(value: Any, name: str) -> str:
    """An identifier argument: any ``str`` (an unknown one is the caller's business).

    The library's one rule for ids: an id of the wrong type (None, an int,
    an unhashable object...) raises :class:`TypeError` here, in every method.
    What an *unknown* id gives depends on the method (see the README).

    Raises
    ------
    TypeError
        If ``value`` is not a ``str``.
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str; got {safe_repr(value)} of type {type(value).__name__}.")
    return value


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
        raise TypeError(
            f"{name} must be a non-empty str; got {safe_repr(value)} of type {type(value).__name__}."
        )
    if not value.strip():
        raise ValueError(f"{name} must be a non-empty str; got {value!r}.")
    return value


def check_callable(value: Any, name: str) -> Callable[..., Any]:
    """Return ``value`` if it is callable, else raise :class:`TypeError`."""
    if not callable(value):
        raise TypeError(f"{name} must be callable; got {safe_repr(value)} of type {type(value).__name__}.")
    return value


def is_async_callable(fn: Any) -> bool:
    """Whether calling ``fn`` returns a coroutine: a coroutine function, a partial of one, or an
    object whose ``__call__`` is one."""
    if inspect.iscoroutinefunction(fn):
        return True
    call = None if isinstance(fn, type) else inspect.getattr_static(type(fn), "__call__", None)
    return inspect.iscoroutinefunction(call)


def check_sync_callable(value: Any, name: str) -> Callable[..., Any]:
    """Return ``value`` if it is a callable that is not a coroutine function.

    The synchronous drivers (the scheduler's ``run_pending``, remediation
    handlers, load handlers, rule conditions) call user code in the caller's
    thread and never run an event loop, so an ``async def`` there would
    "succeed" without running. It is refused at registration.

    Raises
    ------
    TypeError
        If ``value`` is not callable, or is a coroutine function.
    """
    check_callable(value, name)
    if is_async_callable(value):
        raise TypeError(
            f"{name} must be a plain (synchronous) callable; got the coroutine function "
            f"{getattr(value, '__qualname__', safe_repr(value))}, which this synchronous driver cannot await; pass a synchronous function."
        )
    return value


def close_awaitable(value: Any) -> str | None:
    """If ``value`` is awaitable, close it (a coroutine) and return why it is refused; else None.

    A synchronous callable that returns a coroutine (``lambda: fn()`` with an
    ``async def fn``) did not do its work. Closing the coroutine stops Python's
    "coroutine was never awaited" warning; the caller records the message as a failure.
    """
    if not inspect.isawaitable(value):
        return None
    close = getattr(value, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):  # a foreign awaitable's close(); the refusal stands either way
            close()
    return (
        f"returned an awaitable ({type(value).__name__}) that a synchronous call cannot await; "
        "the work did not run"
    )


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
