"""Exceptions raised by autoopt."""

from __future__ import annotations

import math

__all__ = ["LoadShedError", "TrialPruned", "UnknownIdError"]


class LoadShedError(RuntimeError):
    """A call was refused before reaching the model because load is being shed.

    Raised by :class:`~autoopt.AutomatedProvider` (and so by
    :class:`~autoopt.AutomatedVisionProvider`) for the share of calls given by
    :meth:`~autoopt.LoadManager.get_throttle_percentage` while
    :meth:`~autoopt.LoadManager.should_shed_load` is true.

    Attributes
    ----------
    throttle_percentage : float
        The throttle in force when the call was shed, in [0, 100].
    retry_after : float or None
        Seconds after which a retry has a fair chance (None: no estimate);
        :attr:`retry_after_header` is it as HTTP's ``Retry-After``.
    """

    def __init__(self, message: str, throttle_percentage: float, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.throttle_percentage = throttle_percentage
        self.retry_after = retry_after

    @property
    def retry_after_header(self) -> str:
        """:attr:`retry_after` in whole seconds, rounded up, at least 1 (1 without an estimate)."""
        return str(max(1, math.ceil(self.retry_after or 0.0)))


class TrialPruned(Exception):
    """Raised by an objective to stop a trial its pruner has given up on.

    An objective of :meth:`~autoopt.SelfTuner.optimize` that takes a
    ``trial`` handle raises it when ``trial.should_prune()`` is true; the
    trial is recorded as pruned. Optuna's own ``optuna.TrialPruned`` works
    too.
    """


class UnknownIdError(KeyError):
    """An id names nothing this component holds (never created, removed, or evicted).

    The library's one rule for ids:

    - the seed API's methods keep the seed's return types for an unknown id:
      one returning ``Optional[...]`` gives ``None``, one returning ``bool``
      gives ``False``;
    - every other method raises this :class:`KeyError` subclass;
    - an id of the wrong type (None, an int, an unhashable object) raises
      :class:`TypeError` in every method.

    Examples
    --------
    >>> from autoopt import DecisionEngine, UnknownIdError
    >>> try:
    ...     DecisionEngine().set_rule_enabled("nope", False)
    ... except UnknownIdError as exc:
    ...     print(exc)
    set_rule_enabled() argument 'rule_id': unknown rule id 'nope'.
    """

    def __str__(self) -> str:  # KeyError's str() quotes its message; this one reads as a sentence
        return str(self.args[0]) if self.args else ""
