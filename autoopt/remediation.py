"""Handler-based automatic remediation with optional retries.

:class:`AutoRemediation` dispatches a :class:`~autoopt.enums.RemediationAction`
to the handler registered for it and records every attempt as a
:class:`~autoopt.models.Remediation`.

Retries follow tenacity's shape: the decision is the pure function
:func:`retry_delay` (attempt number and outcome in, "retry after x seconds"
or "stop" out) and :meth:`AutoRemediation.execute_remediation` is a thin
synchronous driver that calls the handler, asks :func:`retry_delay` and
sleeps with the injected ``sleep``.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from autoopt._clock import Clock, system_clock, to_datetime
from autoopt._remediation_runbook import BackgroundRuns
from autoopt._validation import (
    check_enum,
    check_int,
    check_limit,
    check_real,
    check_size,
    check_str,
    check_sync_callable,
    close_awaitable,
    describe_exception,
    safe_repr,
    safe_str,
)
from autoopt.config import AutomationConfig, check_config
from autoopt.core.backoff import backoff_delay
from autoopt.enums import RemediationAction
from autoopt.models import Remediation, new_id

if TYPE_CHECKING:
    from autoopt._remediation_runbook import RunbookBinding
    from autoopt.execution import Executor
    from autoopt.workflows import Actions, RunStore, Workflow

__all__ = ["AutoRemediation", "retry_delay"]

logger = logging.getLogger(__name__)

RemediationHandler = Callable[[str, dict[str, Any]], Any]


def retry_delay(
    attempt: int,
    succeeded: bool,
    *,
    max_attempts: int,
    backoff_seconds: float,
    multiplier: float = 2.0,
    max_backoff_seconds: float = math.inf,
) -> float | None:
    """Decide what follows attempt number ``attempt``: ``None`` to stop, or seconds to wait before retrying.

    Stop after a success or once ``max_attempts`` attempts have been made;
    otherwise wait ``backoff_seconds * multiplier ** (attempt - 1)``, capped at
    ``max_backoff_seconds`` (exponential backoff: 1, 2, 4, ... for the
    defaults with ``backoff_seconds=1``; :func:`autoopt.core.backoff.backoff_delay`,
    with these arguments checked). A pure function: no clock, no sleep.

    Parameters
    ----------
    attempt : int
        The attempt just made, counting from 1.
    succeeded : bool
        Its outcome.
    max_attempts : int
        Most attempts in all (>= 1).
    backoff_seconds : float
        Wait after the first failed attempt (>= 0).
    multiplier : float
        Growth factor of the wait per further failure (>= 1).
    max_backoff_seconds : float
        Upper bound on any single wait.

    Examples
    --------
    >>> from autoopt.remediation import retry_delay
    >>> [retry_delay(k, False, max_attempts=4, backoff_seconds=0.5) for k in (1, 2, 3, 4)]
    [0.5, 1.0, 2.0, None]
    >>> retry_delay(1, True, max_attempts=4, backoff_seconds=0.5) is None
    True
    """
    k = check_int(attempt, "retry_delay() argument 'attempt'", low=1)
    n = check_int(max_attempts, "retry_delay() argument 'max_attempts'", low=1)
    base = check_real(backoff_seconds, "retry_delay() argument 'backoff_seconds'", low=0.0)
    mult = check_real(multiplier, "retry_delay() argument 'multiplier'", low=1.0)
    if not (isinstance(max_backoff_seconds, (int, float)) and max_backoff_seconds >= 0):
        raise ValueError(
            f"retry_delay() argument 'max_backoff_seconds' must be a number >= 0; got {max_backoff_seconds!r}."
        )
    if succeeded or k >= n:
        return None
    return backoff_delay(k, base, mult, float(max_backoff_seconds))


@dataclass
class _ActionStats:
    count: int = 0
    successes: int = 0
    total_duration_ms: float = 0.0
    last_result: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "successes": self.successes,
            "failures": self.count - self.successes,
            "success_rate": self.successes / self.count if self.count else None,
            "mean_duration_ms": self.total_duration_ms / self.count if self.count else None,
            "last_result": self.last_result,
        }


def _handler_name(handler: Callable[..., Any]) -> str:
    name = getattr(handler, "__qualname__", None)
    return name if isinstance(name, str) else safe_repr(handler)


class AutoRemediation:
    """Dispatches remediation actions to registered handlers and records every attempt.

    A handler is called as ``handler(target, parameters)`` and reports
    success by returning a truthy value. The outcome of each attempt is
    recorded in a :class:`~autoopt.models.Remediation`:

    ===============================  =======  ============================================
    handler ...                      success  result
    ===============================  =======  ============================================
    returns ``True``                 True     ``"handler returned True"``
    returns another truthy value v   True     ``str(v)``
    returns a falsy value v          False    ``f"handler returned {v!r}"``
    raises ``e``                     False    ``f"{type(e).__name__}: {e}"`` (also logged)
    returns an awaitable             False    why it was refused (it is closed, never run)
    is not registered                False    ``"no handler registered for action 'restart'"``
    ===============================  =======  ============================================

    A value whose ``str()``/``repr()`` raises is described by its type and
    the error instead, so recording an outcome never raises.

    (``numpy.True_`` counts as ``True``.) When ``max_attempts > 1`` the
    result ends with ``" (attempt k/n)"``.

    Parameters
    ----------
    config : AutomationConfig, optional
        Kept as :attr:`config`. Its ``auto_remediation_enabled`` switch is
        consulted by the hub before it asks for a remediation; an explicit
        :meth:`execute_remediation` call always runs.
    clock : callable
        POSIX time for the records' ``timestamp``.
    timer : callable
        Monotonic seconds used to measure each handler call (``duration_ms``).
    history_size : int
        Most attempts kept in the history (and, separately, most successful
        ones); statistics count every attempt ever made.
    sleep : callable
        Called with the backoff in seconds between retries; pass a fake in
        tests.

    Attributes
    ----------
    config : AutomationConfig
    history_size : int

    Notes
    -----
    *Retries.* ``execute_remediation(..., max_attempts=n, backoff_seconds=b)``
    calls the handler up to ``n`` times, sleeping as :func:`retry_delay`
    decides (``b``, ``2b``, ``4b``, ... capped at ``max_backoff_seconds``) and
    stopping at the first success. Each attempt is its own record in the
    history and the statistics (the result then ends with
    ``" (attempt k/n)"``); the last attempt's record is returned. A missing
    handler is not retried. With the default ``max_attempts=1`` nothing
    sleeps.

    Thread safety
    -------------
    Every public method is safe to call from any thread. One lock guards the
    handler table, the histories and the counters; handlers are looked up
    under it but called, timed and retried after it is released, so a slow
    handler does not block other remediations and may itself call back into
    this object.

    Examples
    --------
    >>> from autoopt.enums import RemediationAction
    >>> from autoopt.remediation import AutoRemediation
    >>> rem = AutoRemediation()
    >>> rem.register_handler(RemediationAction.RESTART, lambda target, params: True)
    >>> r = rem.execute_remediation(RemediationAction.RESTART, "api", "error rate 12%")
    >>> r.success, r.result
    (True, 'handler returned True')
    >>> rem.execute_remediation("rollback", "api", "bad deploy").result
    "no handler registered for action 'rollback'"
    >>> stats = rem.get_remediation_stats()
    >>> stats["total_remediations"], stats["success_rate"]
    (2, 0.5)
    """

    def __init__(
        self,
        config: AutomationConfig | None = None,
        *,
        clock: Clock = system_clock,
        timer: Callable[[], float] = time.perf_counter,
        history_size: int = 1000,
        sleep: Callable[[float], Any] = time.sleep,
        max_backoff_seconds: float = 300.0,
    ) -> None:
        self.config = check_config(config, "AutoRemediation()")
        self._clock = check_sync_callable(clock, "AutoRemediation() argument 'clock'")
        self._timer = check_sync_callable(timer, "AutoRemediation() argument 'timer'")
        self._sleep = check_sync_callable(sleep, "AutoRemediation() argument 'sleep'")
        self.history_size = check_size(history_size, "AutoRemediation() argument 'history_size'")
        self.max_backoff_seconds = check_real(
            max_backoff_seconds, "AutoRemediation() argument 'max_backoff_seconds'", low=0.0
        )

        self._lock = threading.Lock()
        self._handlers: dict[RemediationAction, RemediationHandler] = {}
        self._runbooks: dict[RemediationAction, RunbookBinding] = {}
        self._background = BackgroundRuns()
        self._history: deque[Remediation] = deque(maxlen=self.history_size)
        self._successes: deque[Remediation] = deque(maxlen=self.history_size)
        self._stats: dict[RemediationAction, _ActionStats] = {}
        self._total = 0
        self._total_successes = 0
        self._retries = 0

    # ------------------------------------------------------------------ handlers

    def register_handler(
        self, action: RemediationAction, handler: Callable[[str, dict[str, Any]], Any]
    ) -> None:
        """Use ``handler(target, parameters)`` for ``action``, replacing any previous handler.

        The handler signals success with a truthy return value (the seed
        types it ``-> bool``; any value is accepted, see the class table).
        Handlers run synchronously in the caller's thread, so a coroutine
        function is refused.

        Raises
        ------
        ValueError, TypeError
            If ``action`` is not a :class:`RemediationAction` (or its value)
            or ``handler`` is not a synchronous callable.
        """
        act = check_enum(action, RemediationAction, "register_handler() argument 'action'")
        check_sync_callable(handler, "register_handler() argument 'handler'")
        with self._lock:
            previous = self._handlers.get(act) or self._runbooks.pop(act, None)
            self._handlers[act] = handler
        if previous is not None:
            logger.debug("register_handler: replaced the handler for action %r", act.value)

    def unregister_handler(self, action: RemediationAction) -> bool:
        """Remove the handler for ``action``; return whether there was one."""
        act = check_enum(action, RemediationAction, "unregister_handler() argument 'action'")
        with self._lock:
            removed = self._handlers.pop(act, None) or self._runbooks.pop(act, None)
        if removed is None:
            logger.debug("unregister_handler: no handler registered for action %r", act.value)
            return False
        return True

    def has_handler(self, action: RemediationAction) -> bool:
        """Whether a handler (or a runbook) is registered for ``action``."""
        act = check_enum(action, RemediationAction, "has_handler() argument 'action'")
        with self._lock:
            return act in self._handlers or act in self._runbooks

    def register_runbook(
        self,
        action: RemediationAction,
        workflow: Workflow,
        *,
        actions: Actions,
        store: RunStore | str | None = None,
        executor: Executor | None = None,
    ) -> None:
        """Run ``workflow`` in the background for ``action``, replacing any handler or runbook for it.

        :meth:`execute_remediation` then checks the run parameters (the
        remediation's ``parameters`` plus ``target`` and ``reason``, kept to
        those the workflow declares), starts
        :func:`autoopt.workflows.execute` on a background thread and returns
        at once a record with ``pending=True`` and the run's ``run_id``. When
        the run ends the record is filled in (``success`` is whether it
        SUCCEEDED; ``result`` names its state and cause), it counts in the
        statistics, and the listeners (:meth:`add_listener`) are called with
        it. The run is durable in ``store`` (see
        :func:`autoopt.workflows.resume` after a crash). Everything a run
        needs is checked here: actions registered, hosts allowed.
        """
        from autoopt._remediation_runbook import RunbookBinding
        from autoopt.workflows import Workflow, open_store
        from autoopt.workflows._engine import check_actions

        act = check_enum(action, RemediationAction, "register_runbook() argument 'action'")
        if not isinstance(workflow, Workflow):
            raise TypeError(
                f"register_runbook() argument 'workflow' must be a Workflow; got {workflow!r:.80}"
            )
        check_actions(workflow, actions, "register_runbook")
        binding = RunbookBinding(workflow, actions, open_store(store), executor)
        with self._lock:
            self._handlers.pop(act, None)
            self._runbooks[act] = binding

    def add_listener(self, listener: Callable[[Remediation], Any]) -> None:
        """Call ``listener(record)`` when a background (runbook) remediation ends, on its thread.

        A listener that raises is logged and the others still run.
        """
        check_sync_callable(listener, "add_listener() argument 'listener'")
        self._background.add_listener(listener)

    def wait_for_runbooks(self, timeout: float | None = None) -> bool:
        """Wait until no runbook remediation is running (at most ``timeout`` s); return whether none is."""
        if timeout is not None:
            check_real(timeout, "wait_for_runbooks() argument 'timeout'", low=0.0)
        return self._background.wait(timeout)

    # ------------------------------------------------------------------- execute

    def execute_remediation(
        self,
        action: RemediationAction,
        target: str,
        reason: str,
        parameters: dict[str, Any] | None = None,
        *,
        max_attempts: int = 1,
        backoff_seconds: float = 1.0,
    ) -> Remediation:
        """Run the handler for ``action`` on ``target`` and record the outcome.

        When a runbook is registered for ``action`` (:meth:`register_runbook`),
        it is started in the background instead and a *pending* record
        (``pending=True``, with the run's ``run_id``) comes back at once; the
        record is filled in when the run ends (see :meth:`add_listener`).
        ``max_attempts`` and ``backoff_seconds`` do not apply then: the
        runbook's steps have their own retry policies.

        Parameters
        ----------
        action : RemediationAction or str
        target : str
            What to remediate (non-empty).
        reason : str
            Why; kept in the record.
        parameters : dict, optional
            Passed to the handler (a fresh shallow copy per attempt) and kept
            in the record.
        max_attempts : int
            Most handler calls (>= 1); see *Retries* in the class notes.
        backoff_seconds : float
            Wait after the first failed attempt (>= 0); doubles after each
            further failure.

        Returns
        -------
        Remediation
            The record of the last attempt, or for a runbook the pending record
            of the run just started. Handler failures and exceptions are
            reported in it, never raised.

        Raises
        ------
        ValueError, TypeError
            On invalid arguments; nothing is called or recorded then.
        """
        act = check_enum(action, RemediationAction, "execute_remediation() argument 'action'")
        check_str(target, "execute_remediation() argument 'target'")
        if not isinstance(reason, str):
            raise TypeError(
                f"execute_remediation() argument 'reason' must be a str; "
                f"got {reason!r} of type {type(reason).__name__}."
            )
        if parameters is not None and not isinstance(parameters, Mapping):
            raise TypeError(
                f"execute_remediation() argument 'parameters' must be a dict or None; "
                f"got {parameters!r} of type {type(parameters).__name__}."
            )
        attempts = check_int(max_attempts, "execute_remediation() argument 'max_attempts'", low=1)
        backoff = check_real(backoff_seconds, "execute_remediation() argument 'backoff_seconds'", low=0.0)
        params: dict[str, Any] = dict(parameters) if parameters is not None else {}
        with self._lock:
            binding = self._runbooks.get(act)
        if binding is not None:
            return self._start_runbook(binding, act, target, reason, params)

        attempt = 1
        while True:
            with self._lock:
                handler = self._handlers.get(act)
            if handler is None:
                logger.debug("execute_remediation: no handler registered for action %r", act.value)
                return self._record(
                    act,
                    target,
                    reason,
                    params,
                    False,
                    f"no handler registered for action {act.value!r}",
                    0.0,
                    retry=attempt > 1,
                )
            success, result, duration_ms = self._call(handler, act, target, params)
            if attempts > 1:
                result = f"{result} (attempt {attempt}/{attempts})"
            record = self._record(
                act, target, reason, params, success, result, duration_ms, retry=attempt > 1
            )
            delay = retry_delay(
                attempt,
                success,
                max_attempts=attempts,
                backoff_seconds=backoff,
                max_backoff_seconds=self.max_backoff_seconds,
            )
            if delay is None:
                return record
            logger.info(
                "remediation %r on %r failed (attempt %d/%d); retrying in %.3g s",
                act.value,
                target,
                attempt,
                attempts,
                delay,
            )
            self._sleep(delay)
            attempt += 1

    def _start_runbook(
        self,
        binding: RunbookBinding,
        act: RemediationAction,
        target: str,
        reason: str,
        params: dict[str, Any],
    ) -> Remediation:
        run_params = binding.run_params(target, reason, params)  # RunbookError (ValueError): nothing starts
        record = Remediation(
            remediation_id=new_id(), action=act, target=target, reason=reason, parameters=dict(params),
            timestamp=to_datetime(float(self._clock())), success=False,
            result=f"runbook {binding.workflow.name!r} running", run_id=new_id(), pending=True,
        )  # fmt: skip
        with self._lock:
            self._history.append(record)
        name = f"autoopt-runbook-{binding.workflow.name}"
        self._background.start(self._run_runbook, (binding, record, run_params), name)
        logger.info("remediation %r on %r: runbook %r started (run %s)", act.value, target,
                    binding.workflow.name, record.run_id)  # fmt: skip
        return record

    def _run_runbook(self, binding: RunbookBinding, record: Remediation, run_params: dict[str, Any]) -> None:
        start = self._timer()
        success, result = binding.run(run_params, str(record.run_id))
        with self._lock:
            record.success, record.result = success, result
            record.duration_ms = (self._timer() - start) * 1000.0
            record.pending = False
            self._count(record, retry=False)
        self._background.notify(record)

    def _call(
        self, handler: RemediationHandler, act: RemediationAction, target: str, params: dict[str, Any]
    ) -> tuple[bool, str, float]:
        start = self._timer()
        try:
            value = handler(target, dict(params))
            refused = close_awaitable(value)
            ok = refused is None and bool(value)
        except Exception as exc:
            duration_ms = (self._timer() - start) * 1000.0
            message = describe_exception(exc)
            logger.exception(
                "remediation handler %s for action %r on %r raised: %s",
                _handler_name(handler),
                act.value,
                target,
                message,
            )
            return False, message, duration_ms
        duration_ms = (self._timer() - start) * 1000.0
        if refused is not None:
            logger.error("remediation handler %s %s", _handler_name(handler), refused)
            return False, f"handler {refused}", duration_ms
        if not ok:
            return False, f"handler returned {safe_repr(value)}", duration_ms
        if isinstance(value, (bool, np.bool_)):
            return True, "handler returned True", duration_ms
        return True, safe_str(value), duration_ms

    def _record(
        self,
        act: RemediationAction,
        target: str,
        reason: str,
        params: dict[str, Any],
        success: bool,
        result: str,
        duration_ms: float,
        *,
        retry: bool,
    ) -> Remediation:
        record = Remediation(
            remediation_id=new_id(),
            action=act,
            target=target,
            reason=reason,
            parameters=dict(params),
            timestamp=to_datetime(float(self._clock())),
            success=success,
            result=result,
            duration_ms=float(duration_ms),
        )
        with self._lock:
            self._history.append(record)
            self._count(record, retry=retry)
        return record

    def _count(self, record: Remediation, *, retry: bool) -> None:
        """Add a finished attempt to the statistics (the caller holds the lock)."""
        stats = self._stats.get(record.action)
        if stats is None:
            stats = self._stats[record.action] = _ActionStats()
        stats.count += 1
        stats.total_duration_ms += record.duration_ms
        stats.last_result = record.result
        self._total += 1
        if retry:
            self._retries += 1
        if record.success:
            self._successes.append(record)
            stats.successes += 1
            self._total_successes += 1

    # ------------------------------------------------------------------ queries

    def get_remediation_history(self, limit: int = 100, success_only: bool = False) -> list[Remediation]:
        """The newest ``limit`` attempts (only successful ones if ``success_only``), oldest first. O(limit)."""
        n = check_limit(limit, "get_remediation_history() argument 'limit'")
        if not isinstance(success_only, bool):
            raise TypeError(
                f"get_remediation_history() argument 'success_only' must be a bool; got {success_only!r}."
            )
        with self._lock:
            source = self._successes if success_only else self._history
            newest = list(itertools.islice(reversed(source), n))
        newest.reverse()
        return newest

    def get_remediation_stats(self) -> dict[str, Any]:
        """Running statistics over every attempt ever made (no scan of the history).

        Keys: ``total_remediations``, ``successful``, ``failed``,
        ``success_rate`` (None before the first attempt), ``retries``
        (attempts after the first of a call), ``history_size`` (records
        held), ``registered_actions`` (sorted action values) and
        ``by_action``: action value -> ``count``, ``successes``,
        ``failures``, ``success_rate``, ``mean_duration_ms``, ``last_result``.
        """
        with self._lock:
            total = self._total
            ok = self._total_successes
            by_action = {act.value: s.as_dict() for act, s in self._stats.items()}
            registered = sorted(act.value for act in {*self._handlers, *self._runbooks})
            held = len(self._history)
            retries = self._retries
        return {
            "total_remediations": total,
            "successful": ok,
            "failed": total - ok,
            "success_rate": ok / total if total else None,
            "retries": retries,
            "history_size": held,
            "registered_actions": registered,
            "by_action": by_action,
        }
