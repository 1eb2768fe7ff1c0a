"""The tuning records of the data model: :class:`TuningParameter` and :class:`TuningSession` (re-exported by
:mod:`autoopt.models`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from autoopt._clock import utcnow
from autoopt._model_records import record_dict
from autoopt._validation import (
    check_enum,
    check_random_state,
    check_real,
)
from autoopt.enums import (
    TuningStatus,
    TuningStrategy,
)

# ------------------------------------------------------------------------ tuning


@dataclass
class TuningParameter:
    """One tuned parameter: its bounds, its current and best values and its history.

    A parameter whose bounds and initial value are all ints is an integer
    parameter (``is_integer``); its values are then ints. Scores follow the
    rule *higher is better*. ``log`` marks a parameter searched on a log
    scale (``step_size`` is then a step of ``log(value)``). A categorical
    parameter has ``choices``; its values are the choices themselves and
    ``min_value``/``max_value`` index them (0 and ``len(choices) - 1``).

    Examples
    --------
    >>> from autoopt import TuningParameter, TuningStrategy
    >>> p = TuningParameter.from_bounds("batch_size", (16, 128, 32))
    >>> p.is_integer, p.step_size
    (True, 11)
    >>> p.record(32, 0.5); p.record(64, 0.7)
    >>> p.best_value, p.best_score
    (64, 0.7)
    >>> p.get_next_value(TuningStrategy.GRID_SEARCH)   # the grid point after 64: 16 + 5 * 11
    71
    """

    name: str
    current_value: float
    min_value: float
    max_value: float
    step_size: float
    best_value: float | None = None
    best_score: float | None = None
    history: list[tuple[float, float]] = field(default_factory=list)
    is_integer: bool = False
    log: bool = False
    choices: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        where = f"TuningParameter({self.name!r})"
        lo = check_real(self.min_value, f"{where}.min_value")
        hi = check_real(self.max_value, f"{where}.max_value")
        if lo > hi:
            raise ValueError(f"{where}.min_value ({lo!r}) must be <= max_value ({hi!r}).")
        if self.choices is not None:
            self.choices = tuple(self.choices)
            if self.current_value not in self.choices:
                raise ValueError(
                    f"{where}.current_value {self.current_value!r} is not one of {self.choices!r}."
                )
            return
        check_real(self.current_value, f"{where}.current_value", low=lo, high=hi)
        check_real(self.step_size, f"{where}.step_size", low=0.0, low_open=hi > lo)

    @classmethod
    def from_bounds(cls, name: str, bounds: tuple[float, float, float]) -> TuningParameter:
        """Build a parameter from the seed's ``(min, max, initial)`` tuple.

        The step size is a tenth of the range (at least 1 for integers).

        Raises
        ------
        ValueError
            If ``min > max`` or the initial value lies outside ``[min, max]``.
        TypeError
            If ``bounds`` is not a 3-tuple of real numbers.
        """
        if not isinstance(bounds, (tuple, list)) or len(bounds) != 3:
            raise TypeError(f"parameters[{name!r}] must be a (min, max, initial) tuple; got {bounds!r}.")
        lo, hi, init = bounds
        for label, v in (("min", lo), ("max", hi), ("initial", init)):
            check_real(v, f"parameters[{name!r}] {label}")
        if lo > hi:
            raise ValueError(f"parameters[{name!r}]: min ({lo!r}) must be <= max ({hi!r}).")
        if not lo <= init <= hi:
            raise ValueError(f"parameters[{name!r}]: initial value {init!r} is outside [{lo!r}, {hi!r}].")
        is_int = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in bounds)
        if is_int:
            step: float = max(1, (int(hi) - int(lo)) // 10)
            return cls(name, int(init), int(lo), int(hi), step, is_integer=True)
        return cls(name, float(init), float(lo), float(hi), (float(hi) - float(lo)) / 10.0)

    def _clip(self, value: float) -> float:
        value = min(max(value, self.min_value), self.max_value)
        return round(value) if self.is_integer else float(value)

    def record(self, value: float, score: float, *, maximize: bool = True) -> None:
        """Append ``(value, score)`` to the history and update current and best.

        The best is the highest score, or the lowest with ``maximize=False``
        (a session created with ``direction="minimize"``).
        """
        self.history.append((value, score))
        self.current_value = value
        if self.best_score is None or (score > self.best_score if maximize else score < self.best_score):
            self.best_score = score
            self.best_value = value

    def get_next_value(self, strategy: TuningStrategy, rng: Any = None) -> float:
        """Propose this parameter's next value on its own, one-dimensionally.

        This is the per-parameter heuristic of the data model; the
        :class:`~autoopt.SelfTuner` searches all parameters jointly with
        Optuna instead. The rules are:

        - ``RANDOM_SEARCH``: uniform in the bounds;
        - ``GRID_SEARCH``: the next point of the grid ``min + k * step_size``,
          wrapping to ``min``;
        - ``GRADIENT_DESCENT``: one step of ``step_size`` in the direction of
          the finite-difference slope of the last two distinct recorded values
          (upwards when there is no slope yet);
        - ``BAYESIAN``, ``GENETIC``, ``ADAPTIVE``: a Gaussian mutation of the
          best value so far (or the current one) with standard deviation
          ``step_size``.

        Parameters
        ----------
        strategy : TuningStrategy
        rng : int, numpy.random.Generator or None
            Randomness for the stochastic rules.
        """
        strategy = check_enum(strategy, TuningStrategy, "strategy")
        if self.choices is not None:
            if strategy is TuningStrategy.GRID_SEARCH:
                return self.choices[(self.choices.index(self.current_value) + 1) % len(self.choices)]
            return self.choices[int(check_random_state(rng, "rng").integers(len(self.choices)))]
        if self.max_value == self.min_value:
            return self._clip(self.min_value)
        # Log parameters follow the same rules on log(value), where step_size lives.
        fwd: Callable[[float], float] = math.log if self.log else float
        lo, hi, cur = fwd(self.min_value), fwd(self.max_value), fwd(self.current_value)
        if strategy is TuningStrategy.GRID_SEARCH:
            k = math.floor((cur - lo) / self.step_size + 1e-9) + 1
            nxt = lo + k * self.step_size
            return self._clip_unit(nxt if nxt <= hi + 1e-12 else lo)
        if strategy is TuningStrategy.GRADIENT_DESCENT:
            direction = 1.0
            for (v1, s1), (v0, s0) in zip(
                reversed(self.history), list(reversed(self.history))[1:], strict=False
            ):
                if v1 != v0:
                    slope = (s1 - s0) / (fwd(v1) - fwd(v0))
                    direction = 1.0 if slope >= 0 else -1.0
                    break
            return self._clip_unit(cur + direction * self.step_size)
        gen = check_random_state(rng, "rng")
        if strategy is TuningStrategy.RANDOM_SEARCH:
            if self.is_integer and not self.log:
                return int(gen.integers(int(self.min_value), int(self.max_value) + 1))
            return self._clip_unit(float(gen.uniform(lo, hi)))
        centre = fwd(self.best_value if self.best_value is not None else self.current_value)
        return self._clip_unit(float(gen.normal(centre, self.step_size)))

    def _clip_unit(self, v: float) -> float:
        # ``v`` is on the search scale (log(value) for log parameters).
        return self._clip(math.exp(v) if self.log else v)

    def to_dict(self) -> dict[str, Any]:
        """The parameter as JSON-serialisable data."""
        return record_dict(self)


@dataclass
class TuningSession:
    """A tuning session of the :class:`~autoopt.SelfTuner`.

    ``iterations`` counts the results recorded so far; the session stops
    proposing values once it reaches ``max_iterations`` or converges.
    ``direction`` says whether a higher (``"maximize"``, the default) or a
    lower score is better. ``strategy`` is ``None`` for a session searching
    with a user's own Optuna sampler, which ``sampler_name`` names (its
    class name).
    """

    session_id: str
    parameters: dict[str, TuningParameter]
    strategy: TuningStrategy | None
    status: TuningStatus = TuningStatus.IDLE
    objective_fn: Callable[..., float] | None = None
    iterations: int = 0
    max_iterations: int = 100
    convergence_threshold: float = 1e-4
    started_at: datetime = field(default_factory=utcnow)
    completed_at: datetime | None = None
    best_score: float | None = None
    best_parameters: dict[str, float] | None = None
    direction: str = "maximize"
    sampler_name: str | None = None
    _trials_source: Callable[[], Any] | None = field(default=None, repr=False, compare=False, kw_only=True)

    def trials_dataframe(self) -> Any:
        """One row per trial of the session, as a pandas DataFrame.

        Columns: ``number``, ``state``, ``score``, ``datetime_start``,
        ``datetime_complete``, ``duration_s``, ``params_<name>`` per
        parameter, ``message`` (why a trial failed), ``last_intermediate``
        (the last value reported by a pruned trial) and ``best_score`` (the
        running best). See :func:`autoopt.tuning.trials_frame`.

        Raises
        ------
        RuntimeError
            If the session was not created by a :class:`~autoopt.SelfTuner`.
        """
        if self._trials_source is None:
            raise RuntimeError(
                f"TuningSession {self.session_id!r} was not created by a SelfTuner; it has no trials to show."
            )
        return self._trials_source()

    def to_dict(self) -> dict[str, Any]:
        """The session as JSON-serialisable data."""
        return record_dict(self, exclude=("_trials_source",))
