"""The :meth:`~autoopt.tuning.SelfTuner.optimize` loop: ask, evaluate with no lock held, tell; repeat.

A thin driver over :meth:`Session.ask <autoopt.tuning._session.Session.ask>`
and :meth:`Session.tell_outcome
<autoopt.tuning._session.Session.tell_outcome>`, the same ask and tell that
:meth:`~autoopt.tuning.SelfTuner.step` and
:meth:`~autoopt.tuning.SelfTuner.record_result` use. :func:`check_args`
validates everything before the first trial; :func:`run` is the loop.

This module imports Optuna; :mod:`autoopt.tuning` loads it lazily.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import optuna

from autoopt._clock import Clock
from autoopt._validation import check_callable, check_int, check_real, check_size
from autoopt.models import TuningSession
from autoopt.tuning import _driver
from autoopt.tuning._optuna_private import trial_id
from autoopt.tuning._session import Session

__all__ = ["Callback", "OptimizeArgs", "check_args", "run"]

logger = logging.getLogger(__name__)

Callback = Callable[[TuningSession, _driver.TrialResult], None]


@dataclass(frozen=True, slots=True)
class OptimizeArgs:
    """``optimize``'s arguments, validated."""

    fn: Callable[..., Any]
    n_trials: int | None
    timeout: float | None
    n_jobs: int
    backend: str
    callbacks: tuple[Callback, ...]
    show_progress_bar: bool
    fatal: tuple[type[Exception], ...]
    with_handle: bool

    @property
    def remote(self) -> bool:
        return self.backend == "processes" and self.n_jobs > 1


def check_args(
    st: Session,
    objective: Any,
    n_trials: Any,
    timeout: Any,
    n_jobs: Any,
    backend: Any,
    callbacks: Any,
    show_progress_bar: Any,
    catch: Any,
) -> OptimizeArgs:
    """Validate ``optimize``'s arguments against the session (``TypeError``/``ValueError`` naming them)."""
    fn = objective if objective is not None else st.session.objective_fn
    if fn is None:
        raise ValueError(
            "optimize() needs an objective: pass 'objective' or create the session with 'objective_fn'."
        )
    check_callable(fn, "optimize() argument 'objective'")
    if n_trials is not None:
        n_trials = check_size(n_trials, "optimize() argument 'n_trials'", low=0)
    if timeout is not None:
        timeout = check_real(timeout, "optimize() argument 'timeout'", low=0.0)
    n_jobs = check_int(n_jobs, "optimize() argument 'n_jobs'", low=-1)
    if n_jobs == -1:
        n_jobs = os.cpu_count() or 1
    elif n_jobs == 0:
        raise ValueError("optimize() argument 'n_jobs' must be >= 1 or -1; got 0.")
    if backend not in ("threads", "processes"):
        raise ValueError(f"optimize() argument 'backend' must be 'threads' or 'processes'; got {backend!r}.")
    if callable(callbacks) or isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, Iterable):
        raise TypeError(
            f"optimize() argument 'callbacks' must be an iterable of callables (a list); got {callbacks!r:.80}."
        )
    cbs = tuple(callbacks)
    for i, cb in enumerate(cbs):
        check_callable(cb, f"optimize() argument 'callbacks'[{i}]")
    if not isinstance(show_progress_bar, bool):
        raise TypeError(
            f"optimize() argument 'show_progress_bar' must be a bool; got {show_progress_bar!r:.40}."
        )
    fatal = _driver.fatal_errors(_driver.check_catch(catch))
    with_handle = _driver.wants_trial(fn)
    _driver.check_signature(fn, st.names, with_handle)
    args = OptimizeArgs(fn, n_trials, timeout, n_jobs, backend, cbs, show_progress_bar, fatal, with_handle)
    if with_handle and args.remote and st.location is None:
        raise ValueError(
            "optimize(): an objective taking 'trial' runs on processes only for a session stored in a "
            "storage given as a path or URL (the workers reopen it); use backend='threads'."
        )
    return args


def run(
    st: Session,
    args: OptimizeArgs,
    ask: Callable[[], tuple[dict[str, Any], optuna.Trial] | None],
    clock: Clock,
) -> None:
    """Run trials until ``ask`` returns None, ``n_trials`` have started or the timeout passes.

    ``ask`` is the tuner's (it honours the config's kill switch). Programmer
    errors fail their trial and then propagate; so do ``KeyboardInterrupt``
    and co., after the trials still out are told failed. A trial asked but
    never submitted (the process pool broke) is released: it does not count.
    """
    if args.n_trials:
        st.extend_for(args.n_trials)
    deadline = None if args.timeout is None else clock() + args.timeout
    with st.lock:  # without n_trials the bar's total is the budget left
        left = max(0, st.session.max_iterations - st.session.iterations - st.n_pending)
    bar = _progress_bar(args.n_trials if args.n_trials is not None else left, args.show_progress_bar,
                        st.session.session_id)  # fmt: skip
    executor = _driver.make_executor(args.n_jobs, args.backend)
    in_flight: dict[cf.Future[_driver.Outcome], tuple[dict[str, Any], optuna.Trial]] = {}
    started = 0
    try:
        while True:
            while (
                len(in_flight) < args.n_jobs
                and (args.n_trials is None or started < args.n_trials)
                and (deadline is None or clock() < deadline)
            ):
                asked = ask()
                if asked is None:
                    break
                values, trial = asked
                handle = _handle(st, trial, values, args.remote) if args.with_handle else None
                try:
                    future = executor.submit(_driver.call_objective, args.fn, values, handle, args.fatal)
                except BaseException as exc:  # a broken pool (TerminatedWorkerError): the trial never ran
                    st.release(
                        values, trial, f"not evaluated: submitting it failed with {type(exc).__name__}"
                    )
                    raise
                started += 1
                in_flight[future] = (values, trial)
            if not in_flight:
                break
            done, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
            for future in done:
                values, trial = in_flight.pop(future)
                try:
                    outcome = future.result()
                except Exception as exc:  # the worker itself broke (pickling, a crashed process)
                    outcome = ("error", f"the trial's worker failed: {type(exc).__name__}: {exc}")
                except BaseException as exc:  # KeyboardInterrupt in the objective: release its trial
                    st.tell_outcome(values, trial, ("error", _interrupted(exc)))
                    raise
                if outcome[0] == "fatal":  # the objective's code is wrong: fail the trial, then raise
                    message, error = outcome[1]
                    st.tell_outcome(values, trial, ("error", message))
                    raise error
                result = st.tell_outcome(values, trial, outcome)
                if bar is not None:
                    bar.update(1)
                _run_callbacks(st, args.callbacks, result)
    except BaseException as exc:
        # KeyboardInterrupt and co.: release the trials still out, then propagate.
        for future, (values, trial) in in_flight.items():
            future.cancel()
            st.tell_outcome(values, trial, ("error", _interrupted(exc)))
        raise
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
        if bar is not None:
            bar.close()


def _handle(st: Session, trial: optuna.Trial, values: dict[str, Any], remote: bool) -> _driver.TrialHandle:
    if remote:
        assert st.location is not None
        return _driver.RemoteTrialHandle(
            st.location, st.study.study_name, st.study.pruner, trial_id(trial), trial.number, values
        )
    return _driver.TrialHandle(trial, trial.number, values)


def _run_callbacks(st: Session, callbacks: tuple[Callback, ...], result: _driver.TrialResult) -> None:
    for cb in callbacks:
        try:
            cb(st.session, result)
        except Exception as exc:
            name = getattr(cb, "__qualname__", repr(cb))
            message = f"callback {name} raised {type(exc).__name__}: {exc}"
            logger.exception("Tuning session %s: %s", st.session.session_id, message)
            st.note_failure(message)


def _interrupted(exc: BaseException) -> str:
    return f"objective interrupted by {type(exc).__name__}"


def _progress_bar(total: int | None, show: bool, session_id: str) -> Any:
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"tuning {session_id[:8]}", unit="trial")
