"""A remediation action bound to a workflow runbook: the run parameters it gets, and the run itself.

:class:`~autoopt.remediation.AutoRemediation` keeps the bindings and the
background threads; this module holds what runs in them. It imports
:mod:`autoopt.workflows` (and so SQLAlchemy) only when a runbook is bound.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autoopt._validation import describe_exception

if TYPE_CHECKING:
    from autoopt.execution import Executor
    from autoopt.workflows import Actions, RunStore, Workflow

__all__ = ["BackgroundRuns", "RunbookBinding"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunbookBinding:
    """A workflow to run for a remediation action, with what it runs against and where it is recorded."""

    workflow: Workflow
    actions: Actions
    store: RunStore
    executor: Executor | None

    def run_params(self, target: str, reason: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
        """The run parameters: the remediation's ``parameters`` plus ``target`` and ``reason``, kept to the
        ones the workflow declares (all of them when it declares none), checked (``RunbookError``)."""
        values = {**parameters, "target": target, "reason": reason}
        declared = self.workflow.parameters
        if declared is not None:
            values = {k: v for k, v in values.items() if k in declared}
        return self.workflow.check_params(values)

    def run(self, params: Mapping[str, Any], run_id: str) -> tuple[bool, str]:
        """Run the workflow to its end: (whether it SUCCEEDED, a one-line result). Never raises."""
        from autoopt.workflows import execute

        name = self.workflow.name
        try:
            run = execute(self.workflow, params, actions=self.actions, executor=self.executor,
                          store=self.store, run_id=run_id)  # fmt: skip
        except Exception as exc:  # recorded in the Remediation, never raised into the background thread
            logger.exception("runbook %r (run %s) could not run", name, run_id)
            return False, f"runbook {name!r} run {run_id} could not run: {describe_exception(exc)}"
        result = f"runbook {name!r} run {run_id} {run.state}"
        if run.cause:
            result += f": {run.cause}"
        return run.state == "SUCCEEDED", result


class BackgroundRuns:
    """The threads running runbooks, and the listeners told when one ends.

    One lock guards the thread set and the listener list; listeners are
    called after it is released, each isolated (a raising one is logged).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[threading.Thread] = set()
        self._listeners: list[Callable[[Any], Any]] = []

    def add_listener(self, listener: Callable[[Any], Any]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def start(self, target: Callable[..., None], args: tuple[Any, ...], name: str) -> None:
        """Run ``target(*args)`` on a daemon thread, tracked until it returns."""

        def body() -> None:
            try:
                target(*args)
            finally:
                with self._lock:
                    self._running.discard(thread)

        thread = threading.Thread(target=body, daemon=True, name=name)
        with self._lock:
            self._running.add(thread)
        thread.start()

    def notify(self, record: Any) -> None:
        """Tell every listener that ``record`` ended."""
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(record)
            except Exception as exc:  # isolated: logged, the other listeners still run
                name = getattr(listener, "__qualname__", type(listener).__name__)
                logger.exception("remediation listener %s raised: %s", name, describe_exception(exc))

    def wait(self, timeout: float | None) -> bool:
        """Wait until no thread runs (at most ``timeout`` s); return whether none does."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                running = next(iter(self._running), None)
            if running is None:
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            running.join(left)
