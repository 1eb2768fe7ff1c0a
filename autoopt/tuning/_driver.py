"""Running objectives for :meth:`~autoopt.tuning.SelfTuner.optimize`: trial handles, executors, outcomes.

The loop itself lives in the tuner (a thin driver over ``step`` and
``record_*``); this module holds what the loop hands to user code and how it
is run: inline, on a thread pool, or on joblib's (loky) process pool.

This module imports Optuna; :mod:`autoopt.tuning` loads it lazily.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import optuna

from autoopt._validation import check_int, check_real
from autoopt.exceptions import TrialPruned
from autoopt.execution import Executor, InlineExecutor, ProcessExecutor, ThreadExecutor, run_call
from autoopt.tuning._optuna_private import reopen_trial

__all__ = [
    "Outcome",
    "TrialHandle",
    "TrialResult",
    "call_objective",
    "make_executor",
    "make_pruner",
    "wants_trial",
]

logger = logging.getLogger(__name__)

Outcome = tuple[Literal["ok", "error", "pruned", "fatal"], Any]
"""``("ok", score)``, ``("error", message)``, ``("pruned", message)`` or ``("fatal", (message, exc))``."""

PROGRAMMER_ERRORS: tuple[type[Exception], ...] = (NameError, AttributeError, ImportError, TypeError)
"""Exceptions that mean the objective's code is wrong, not that a trial went badly: ``optimize``
fails the trial and re-raises them unless ``catch=`` lists them."""


def make_pruner(pruner: Any, where: str) -> optuna.pruners.BasePruner:
    """The pruner for a ``pruner`` argument: None (no pruning), "median", "hyperband" or an optuna pruner."""
    if pruner is None:
        return optuna.pruners.NopPruner()  # Optuna's own default (None) would be a MedianPruner
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    if pruner == "median":
        return optuna.pruners.MedianPruner()
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    raise ValueError(f"{where} must be None, 'median', 'hyperband' or an optuna pruner; got {pruner!r}.")


def check_catch(catch: Any) -> tuple[type[Exception], ...]:
    """``catch=`` as a tuple of exception classes (one class, or an iterable of them)."""
    items = (catch,) if isinstance(catch, type) else catch
    try:
        out = tuple(items)
    except TypeError:
        raise TypeError(
            f"optimize() argument 'catch' must be exception classes; got {catch!r:.80}."
        ) from None
    for i, c in enumerate(out):
        if not (isinstance(c, type) and issubclass(c, Exception)):
            raise TypeError(f"optimize() argument 'catch'[{i}] must be an Exception subclass; got {c!r:.80}.")
    return out


def fatal_errors(catch: tuple[type[Exception], ...]) -> tuple[type[Exception], ...]:
    """The programmer errors ``catch`` does not list (a listed base class covers its subclasses)."""
    return tuple(e for e in PROGRAMMER_ERRORS if not issubclass(e, catch))


def check_signature(fn: Callable[..., Any], names: tuple[str, ...], with_handle: bool) -> None:
    """Raise TypeError now if ``fn`` cannot be called with the space's parameters (and ``trial``)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without a signature: nothing to check
        return
    keys = dict.fromkeys(names)
    if with_handle:
        keys["trial"] = None
    try:
        sig.bind(**keys)
    except TypeError as exc:
        shown = getattr(fn, "__qualname__", repr(fn))
        raise TypeError(
            f"optimize(): the objective {shown}{sig} cannot be called with the space's parameters "
            f"({', '.join(names)}{', trial' if with_handle else ''}): {exc}."
        ) from None


@dataclass(frozen=True, slots=True)
class TrialResult:
    """What the callbacks of :meth:`~autoopt.tuning.SelfTuner.optimize` receive about one trial.

    Attributes
    ----------
    number : int
        The trial's number in the session's study.
    values : dict
        The parameter values evaluated.
    state : {"complete", "failed", "pruned"}
    score : float or None
        The score, for complete trials.
    message : str or None
        Why the trial failed or was pruned.
    """

    number: int
    values: dict[str, Any]
    state: Literal["complete", "failed", "pruned"]
    score: float | None = None
    message: str | None = None


class TrialHandle:
    """The ``trial`` argument of an objective that wants one: intermediate reports and pruning.

    An objective declaring a parameter named ``trial`` is called as
    ``objective(trial=handle, **values)``. It reports intermediate scores
    (higher is better) with :meth:`report` and stops early when
    :meth:`should_prune` says so, by raising :class:`~autoopt.TrialPruned`
    (or Optuna's ``TrialPruned``). The decision is the session's pruner's
    (``create_session(..., pruner="median" | "hyperband" | a pruner)``);
    without a pruner :meth:`should_prune` is always False.

    :meth:`report` takes ``(value, step)``, in the order of Optuna's
    ``Trial.report``. (Before this release it took ``(step, value)``; a
    float ``step`` now raises :class:`TypeError` with a hint.)

    Attributes
    ----------
    number : int
        The trial's number in the session's study.
    params : dict
        The values being evaluated.
    """

    def __init__(self, trial: optuna.Trial | None, number: int, params: Mapping[str, Any]) -> None:
        self._trial = trial
        self.number = number
        self.params = dict(params)

    def _optuna_trial(self) -> optuna.Trial:
        assert self._trial is not None
        return self._trial

    def report(self, value: float, step: int) -> None:
        """Report the intermediate score ``value`` at ``step`` (an int >= 0), as Optuna's ``Trial.report``.

        Raises
        ------
        TypeError
            A step that is not an int (the message hints at the argument order, which was
            ``(step, value)`` before this release), or a value that is not a real.
        ValueError
            A negative step, or a value that is not finite.
        """
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
            raise TypeError(
                f"TrialHandle.report(value, step) takes the value first, as optuna's Trial.report does; "
                f"got step={step!r:.40}, not an int. autoopt 0.1.0 took (step, value): "
                f"write trial.report({step!r:.20}, {value!r:.20})."
            )
        step = check_int(step, "TrialHandle.report() argument 'step'", low=0)
        value = check_real(value, "TrialHandle.report() argument 'value'")
        self._optuna_trial().report(value, step)

    def set_user_attr(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON-serialisable) under ``key`` on the trial, as Optuna's ``Trial.set_user_attr``.

        Keys starting with ``"autoopt"`` are the tuner's own and are refused.
        """
        if not isinstance(key, str) or not key:
            raise TypeError(
                f"TrialHandle.set_user_attr() argument 'key' must be a non-empty str; got {key!r:.40}."
            )
        if key.startswith("autoopt"):
            raise ValueError(
                f"TrialHandle.set_user_attr() argument 'key' {key!r}: keys 'autoopt*' are reserved."
            )
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"TrialHandle.set_user_attr() argument 'value' must be JSON-serialisable: {exc}"
            ) from None
        self._optuna_trial().set_user_attr(key, value)

    def should_prune(self) -> bool:
        """Whether the pruner would stop this trial now, given what it reported."""
        return bool(self._optuna_trial().should_prune())

    def __repr__(self) -> str:
        return f"TrialHandle(number={self.number}, params={self.params!r})"


class RemoteTrialHandle(TrialHandle):
    """A :class:`TrialHandle` that travels to a worker process and reopens the study's storage there."""

    def __init__(
        self,
        location: str,
        study_name: str,
        pruner: Any,
        trial_id: int,
        number: int,
        params: Mapping[str, Any],
    ) -> None:
        super().__init__(None, number, params)
        self._location = location
        self._study_name = study_name
        self._pruner = pruner
        self._trial_id = trial_id

    def _optuna_trial(self) -> optuna.Trial:
        if self._trial is None:
            from autoopt.tuning._storage import open_storage

            storage = open_storage(self._location, "RemoteTrialHandle")
            study = optuna.load_study(study_name=self._study_name, storage=storage, pruner=self._pruner)
            self._trial = reopen_trial(study, self._trial_id)
        return self._trial

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_trial"} | {"_trial": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


def wants_trial(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` declares a parameter named ``trial`` (keyword-passable)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
    p = params.get("trial")
    return p is not None and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)


def _is_pruned(exc: BaseException) -> bool:
    return isinstance(exc, (TrialPruned, optuna.TrialPruned))


def call_objective(
    fn: Callable[..., Any],
    values: Mapping[str, Any],
    handle: TrialHandle | None,
    fatal: tuple[type[Exception], ...] = (),
) -> Outcome:
    """Run the objective once and classify what happened; never raises an ``Exception``.

    Runs in the worker (thread or process), so it is module level and the
    outcome is plain data. An exception of a ``fatal`` class comes back as
    ``("fatal", (message, exc))``, for the driver to re-raise.
    """
    try:
        raw = run_call(fn, (), values if handle is None else {"trial": handle, **values})  # awaits async ones
    except Exception as exc:
        if _is_pruned(exc):
            return "pruned", f"pruned: {exc}" if str(exc) else "pruned"
        message = f"objective raised {type(exc).__name__}: {exc}"
        if fatal and isinstance(exc, fatal):
            return "fatal", (message, exc)
        return "error", message
    if isinstance(raw, bool) or not isinstance(raw, numbers.Real):
        return "error", f"objective returned {raw!r} of type {type(raw).__name__}, not a real number"
    score = float(raw)
    if not math.isfinite(score):
        return "error", f"objective returned the non-finite score {raw!r}"
    return "ok", score


def make_executor(n_jobs: int, backend: str) -> Executor:
    """Inline for one job, else threads or joblib's loky processes (:mod:`autoopt.execution`).

    ``shutdown`` is safe on each: loky's reusable pool stays up for the next call.
    """
    if n_jobs == 1:
        return InlineExecutor()
    if backend == "threads":
        return ThreadExecutor(n_jobs, thread_name_prefix="autoopt-tuning")
    return ProcessExecutor(n_jobs)
