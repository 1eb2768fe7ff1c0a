"""Search-space specs: :class:`FloatParam`, :class:`IntParam` and :class:`CategoricalParam`.

A session's ``parameters`` map each name to one of:

- the seed's ``(min, max, initial)`` tuple (all ints make an integer
  parameter);
- a :class:`FloatParam`, :class:`IntParam` or :class:`CategoricalParam`;
- an Optuna distribution (``FloatDistribution``, ``IntDistribution``,
  ``CategoricalDistribution``).

:func:`parse_parameter` turns any of them into the pair the tuner works with:
a :class:`~autoopt.models.TuningParameter` (the seed's record of bounds,
current and best values) and the Optuna distribution the samplers see.
This module does not import Optuna at import time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from autoopt._validation import check_real
from autoopt.models import TuningParameter

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

__all__ = [
    "CategoricalParam",
    "FloatParam",
    "IntParam",
    "ParamSpec",
    "caster",
    "checker",
    "parse_parameter",
    "parse_parameters",
]


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


@dataclass(frozen=True, slots=True)
class FloatParam:
    """A real parameter in ``[low, high]``, searched linearly or on a log scale.

    Parameters
    ----------
    low, high : float
        Bounds, ``low <= high``; both > 0 when ``log``.
    log : bool
        Search ``log(x)`` uniformly: for learning rates, regularisation
        strengths and other scale parameters.
    step : float, optional
        Restrict values to ``low + k * step`` (not with ``log``).
    initial : float, optional
        Evaluated as the session's first trial. Without it the strategy
        picks the first point.

    Examples
    --------
    >>> FloatParam(1e-4, 1.0, log=True).to_distribution()
    FloatDistribution(high=1.0, log=True, low=0.0001, step=None)
    """

    low: float
    high: float
    log: bool = False
    step: float | None = None
    initial: float | None = None

    def __post_init__(self) -> None:
        where = "FloatParam()"
        lo = check_real(self.low, f"{where} argument 'low'")
        hi = check_real(self.high, f"{where} argument 'high'")
        if lo > hi:
            raise ValueError(f"{where} argument 'low' ({lo!r}) must be <= 'high' ({hi!r}).")
        if not isinstance(self.log, bool):
            raise TypeError(f"{where} argument 'log' must be a bool; got {self.log!r}.")
        if self.log and lo <= 0:
            raise ValueError(f"{where} argument 'low' must be > 0 when log=True; got {lo!r}.")
        if self.step is not None:
            check_real(self.step, f"{where} argument 'step'", low=0.0, low_open=True)
            if self.log:
                raise ValueError(f"{where}: 'step' and log=True cannot be combined.")
        if self.initial is not None:
            start = check_real(self.initial, f"{where} argument 'initial'", low=lo, high=hi)
            if self.step is not None:
                k = (start - lo) / float(self.step)
                if abs(k - round(k)) > 1e-8:  # Optuna's own tolerance for a stepped float
                    raise ValueError(
                        f"{where} argument 'initial' ({start!r}) must be one of low + k * step "
                        f"({lo!r} + k * {self.step!r}); the nearest are {lo + math.floor(k) * self.step!r} "
                        f"and {lo + math.ceil(k) * self.step!r}."
                    )

    def to_distribution(self) -> BaseDistribution:
        """The equivalent ``optuna.distributions.FloatDistribution``."""
        from optuna.distributions import FloatDistribution

        return FloatDistribution(float(self.low), float(self.high), log=self.log, step=self.step)


@dataclass(frozen=True, slots=True)
class IntParam:
    """An integer parameter in ``[low, high]`` on the grid ``low + k * step``.

    Parameters
    ----------
    low, high : int
        Bounds, ``low <= high``; ``low >= 1`` when ``log``.
    step : int
        Spacing of the allowed values (1 with ``log``).
    log : bool
        Search on a log scale (for sizes spanning decades).
    initial : int, optional
        Evaluated as the session's first trial.

    Examples
    --------
    >>> IntParam(16, 512, log=True).to_distribution()
    IntDistribution(high=512, log=True, low=16, step=1)
    """

    low: int
    high: int
    step: int = 1
    log: bool = False
    initial: int | None = None

    def __post_init__(self) -> None:
        where = "IntParam()"
        for name in ("low", "high", "step"):
            v = getattr(self, name)
            if not _is_int(v):
                raise TypeError(
                    f"{where} argument {name!r} must be an int; got {v!r} of type {type(v).__name__}."
                )
        if self.low > self.high:
            raise ValueError(f"{where} argument 'low' ({self.low!r}) must be <= 'high' ({self.high!r}).")
        if self.step < 1:
            raise ValueError(f"{where} argument 'step' must be >= 1; got {self.step!r}.")
        if not isinstance(self.log, bool):
            raise TypeError(f"{where} argument 'log' must be a bool; got {self.log!r}.")
        if self.log and (self.low < 1 or self.step != 1):
            raise ValueError(
                f"{where}: log=True needs low >= 1 and step == 1; got low={self.low!r}, step={self.step!r}."
            )
        if self.initial is not None:
            if not _is_int(self.initial):
                raise TypeError(f"{where} argument 'initial' must be an int; got {self.initial!r}.")
            if not self.low <= self.initial <= self.high or (self.initial - self.low) % self.step:
                raise ValueError(
                    f"{where} argument 'initial' ({self.initial!r}) must be one of low + k * step in "
                    f"[{self.low!r}, {self.high!r}]."
                )

    def to_distribution(self) -> BaseDistribution:
        """The equivalent ``optuna.distributions.IntDistribution``.

        ``high`` is lowered onto the grid, as Optuna does.
        """
        from optuna.distributions import IntDistribution

        return IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step))


@dataclass(frozen=True, slots=True)
class CategoricalParam:
    """A parameter taking one of ``choices`` (``None``, bools, ints, floats or strings).

    Parameters
    ----------
    choices : sequence
        At least one choice, no duplicates.
    initial : optional
        One of the choices, evaluated as the session's first trial.

    Examples
    --------
    >>> CategoricalParam(["adam", "sgd"], initial="sgd").to_distribution()
    CategoricalDistribution(choices=('adam', 'sgd'))
    """

    choices: Sequence[Any]
    initial: Any = None

    def __post_init__(self) -> None:
        where = "CategoricalParam()"
        if isinstance(self.choices, (str, bytes)) or not isinstance(self.choices, Sequence):
            raise TypeError(f"{where} argument 'choices' must be a sequence; got {self.choices!r}.")
        choices = tuple(self.choices)
        object.__setattr__(self, "choices", choices)
        if not choices:
            raise ValueError(f"{where} argument 'choices' must not be empty.")
        for c in choices:
            if c is not None and not isinstance(c, (bool, int, float, str)):
                raise TypeError(
                    f"{where} argument 'choices' may hold None, bool, int, float or str; got {c!r} "
                    f"of type {type(c).__name__}."
                )
            if isinstance(c, float) and not math.isfinite(c):
                raise ValueError(f"{where} argument 'choices' must not hold {c!r}.")
        if len(set(map(_choice_key, choices))) != len(choices):
            raise ValueError(f"{where} argument 'choices' has duplicates: {choices!r}.")
        if self.initial is not None and _choice_key(self.initial) not in set(map(_choice_key, choices)):
            raise ValueError(f"{where} argument 'initial' ({self.initial!r}) is not one of {choices!r}.")

    def to_distribution(self) -> BaseDistribution:
        """The equivalent ``optuna.distributions.CategoricalDistribution``."""
        from optuna.distributions import CategoricalDistribution

        return CategoricalDistribution(self.choices)


def _choice_key(c: Any) -> tuple[str, Any]:
    # True == 1 == 1.0 in Python; choices of different types are different choices.
    return (type(c).__name__, c)


ParamSpec = tuple[float, float, float] | FloatParam | IntParam | CategoricalParam | Any
"""What a session's ``parameters`` may map a name to (``Any``: an Optuna distribution)."""


def parse_parameter(name: str, spec: Any) -> tuple[TuningParameter, BaseDistribution, Any]:
    """``(record, distribution, initial)`` for one entry of a session's ``parameters``.

    ``initial`` is ``None`` when the spec gives none. The record's
    ``step_size`` is the grid step of ``GRID_SEARCH``: the spec's step, or a
    tenth of the range (a tenth of the log-range for ``log`` parameters).

    Raises
    ------
    TypeError, ValueError
        A malformed spec, naming the parameter.

    Examples
    --------
    >>> rec, dist, init = parse_parameter("lr", FloatParam(1e-3, 1e-1, log=True))
    >>> rec.log, rec.min_value, init
    (True, 0.001, None)
    >>> rec, dist, init = parse_parameter("n", (1, 9, 2))
    >>> rec.is_integer, dist, init
    (True, IntDistribution(high=9, log=False, low=1, step=1), 2)
    """
    from optuna.distributions import (
        BaseDistribution,
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    where = f"parameters[{name!r}]"
    if isinstance(spec, (tuple, list)):
        record = TuningParameter.from_bounds(name, spec)  # type: ignore[arg-type]
        if record.is_integer:
            dist: BaseDistribution = IntDistribution(int(record.min_value), int(record.max_value))
        else:
            dist = FloatDistribution(float(record.min_value), float(record.max_value))
        return record, dist, record.current_value
    initial: Any = None
    if isinstance(spec, (FloatParam, IntParam, CategoricalParam)):
        initial = spec.initial
        dist = spec.to_distribution()
    elif isinstance(spec, BaseDistribution):
        dist = spec
    else:
        raise TypeError(
            f"{where} must be a (min, max, initial) tuple, a FloatParam, IntParam or CategoricalParam, "
            f"or an optuna distribution; got {spec!r} of type {type(spec).__name__}."
        )
    if isinstance(dist, CategoricalDistribution):
        choices = tuple(dist.choices)
        if not choices:
            raise ValueError(f"{where}: a categorical needs at least one choice.")
        current: Any = choices[0] if initial is None else initial
        record = TuningParameter(name, current, 0, len(choices) - 1, 1, is_integer=True, choices=choices)
        return record, dist, initial
    if isinstance(dist, (FloatDistribution, IntDistribution)):
        lo, hi = dist.low, dist.high
        is_int = isinstance(dist, IntDistribution)
        if dist.log:
            step: float = (math.log(hi) - math.log(lo)) / 10.0 if hi > lo else 1.0
        elif dist.step is not None:
            # About ten steps per range, on the parameter's own lattice.
            lattice = dist.step
            step = lattice * max(1, math.floor((hi - lo) / lattice / 10.0 + 1e-9))
            step = int(step) if is_int else float(step)
        else:
            step = (hi - lo) / 10.0 if hi > lo else 1.0
        current = lo if initial is None else initial
        record = TuningParameter(
            name,
            int(current) if is_int else float(current),
            int(lo) if is_int else float(lo),
            int(hi) if is_int else float(hi),
            step if step > 0 else 1.0,
            is_integer=is_int,
            log=bool(dist.log),
        )
        return record, dist, initial
    raise TypeError(f"{where}: unsupported optuna distribution {dist!r}.")


def parse_parameters(
    parameters: Any, where: str = "create_session() argument 'parameters'"
) -> tuple[dict[str, TuningParameter], dict[str, BaseDistribution], dict[str, Any]]:
    """A whole space: ``(records, distributions, initial values)`` keyed by name, in order."""
    if not isinstance(parameters, Mapping):
        raise TypeError(
            f"{where} must be a dict of name -> (min, max, initial) or parameter spec; "
            f"got {parameters!r} of type {type(parameters).__name__}."
        )
    if not parameters:
        raise ValueError(f"{where} must name at least one parameter; got {parameters!r}.")
    records: dict[str, TuningParameter] = {}
    distributions: dict[str, BaseDistribution] = {}
    initial: dict[str, Any] = {}
    for name, spec in parameters.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"{where} keys must be non-empty strings; got {name!r}.")
        try:
            records[name], distributions[name], initial[name] = parse_parameter(name, spec)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{where}: {exc}") from None
    return records, distributions, initial


# ------------------------------------------------------------------ values


def _identity(value: Any) -> Any:
    return value


def caster(dist: BaseDistribution) -> Callable[[Any], Any]:
    """How a sampled value is handed to users: ``int`` for int distributions, ``float`` for float ones."""
    from optuna.distributions import FloatDistribution, IntDistribution

    if isinstance(dist, IntDistribution):
        return int
    if isinstance(dist, FloatDistribution):
        return float
    return _identity


def checker(dist: BaseDistribution) -> Callable[[Any, str], Any]:
    """A validator ``check(value, where)`` for ``dist``, returning the canonical value.

    Built once per session so the per-call work is the comparison itself.
    """
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        choices = tuple(dist.choices)

        def check_choice(value: Any, where: str) -> Any:
            for choice in choices:
                if type(choice) is type(value) and choice == value:
                    return choice  # the choice object itself: True is not 1, 1 is not 1.0
            raise ValueError(f"{where} must be one of {list(choices)!r}; got {value!r}.")

        return check_choice
    low, high = float(dist.low), float(dist.high)  # type: ignore[attr-defined]
    if isinstance(dist, IntDistribution):
        int_low, int_step = dist.low, dist.step

        def check_int_value(value: Any, where: str) -> Any:
            v = check_real(value, where, low=low, high=high)
            if not v.is_integer():
                raise ValueError(f"{where} must be an integer; got {value!r}.")
            if (int(v) - int_low) % int_step:
                raise ValueError(f"{where} must be {int_low} + k * {int_step}; got {value!r}.")
            return int(v)

        return check_int_value
    step = dist.step  # type: ignore[attr-defined]

    def check_float_value(value: Any, where: str) -> Any:
        v = check_real(value, where, low=low, high=high)
        if step is not None:
            k = (v - low) / step
            if abs(k - round(k)) > 1e-8 * max(1.0, abs(k)):
                raise ValueError(f"{where} must be {low!r} + k * {step!r}; got {value!r}.")
        return v

    return check_float_value
