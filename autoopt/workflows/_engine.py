"""Running workflows durably: :func:`execute`, :func:`resume` and :func:`cancel`.

One driver (the calling thread) runs a run: it submits each step whose
dependencies succeeded to the executor, records every start and end in the
:class:`~autoopt.workflows.RunStore` before it moves on, and holds the run by
a lease it renews (see :mod:`autoopt.workflows._store` for the fencing).

**Steps.** A step that fails or passes its ``timeout`` is retried
``retry_count`` times, after :func:`autoopt.core.backoff.backoff_delay`
waits. When the retries are spent it ends ``FAILED`` or ``TIMED_OUT``, and
every step depending on it ends ``SKIPPED`` with the reason. A timeout
hard-stops the step on a process executor (``Executor.stoppable``: the step
runs in a child process the worker kills, its timeout counted from the
child's start, so the pool's start-up is not held against it; the driver
keeps a later backstop); an async step is cancelled on
its event loop; on threads, inline and dask the late result is discarded
(the call itself runs on).

**Critical failures and compensation (saga).** When a ``critical`` step
fails for good, nothing new starts; the steps still running finish; then
the ``compensate`` actions of the steps that succeeded run one at a time,
in reverse completion order, and the run ends ``FAILED`` with the cause. A
compensation that fails is recorded beside the cause, and the others still
run. The run is ``COMPENSATING`` meanwhile, so a resumed run carries on
with the compensations not yet done. The driver renews the lease before
each compensation and while it waits for one. A compensation that passes
its step's ``timeout`` is recorded ``FAILED`` (timed out), but it is not
stopped, and the next one starts only once it has ended: the driver waits
until the executor's future is done (inline, threads and processes: the
call returned or raised; dask: the cluster reports the task ended, which a
client that lost its scheduler cannot vouch for).

**Resume.** :func:`resume` takes the lease at the next epoch (a run held by
a live driver is refused), checks the workflow's SHA-256 and that every
action is registered, and keeps finished steps. A step that was running
is run again: the attempt cut short counts in ``attempts`` but not against
``retry_count`` (its outcome is unknown, not a failure); later failures
are retried by the step's policy. Every
attempt of a step gets the same idempotency key, ``"<run_id>/<step_id>"``
(``".../compensate"`` for its compensation).

**Secrets.** Parameters marked ``secret`` are stored as ``***``; their
values are redacted from outputs (inside the output's strings, before it
is turned into JSON) and errors before they are stored or logged.
:func:`resume` needs them passed again.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from autoopt._validation import check_callable, check_real, describe_exception, safe_repr, safe_str
from autoopt.core.backoff import backoff_delay
from autoopt.execution import Executor, InlineExecutor
from autoopt.execution._base import settle
from autoopt.execution._stop import call_in_child
from autoopt.workflows._actions import Actions
from autoopt.workflows._record import REDACTED, WorkflowRun, redact
from autoopt.workflows._refs import render
from autoopt.workflows._spec import RunbookError, Step, Workflow
from autoopt.workflows._store import DEFAULT_STORE, FencedError, Lease, RunStore

__all__ = ["cancel", "execute", "open_store", "resume"]

logger = logging.getLogger(__name__)


def open_store(store: RunStore | str | None) -> RunStore:
    """``store`` as a :class:`RunStore`: itself, one opened from a URL or path, or :data:`DEFAULT_STORE`."""
    if store is None:
        return RunStore(DEFAULT_STORE)
    if isinstance(store, RunStore):
        return store
    if isinstance(store, str):
        return RunStore(store)
    raise TypeError(f"store must be a RunStore, a URL or a path; got {store!r:.80}")


@dataclass(frozen=True)
class _Settings:
    lease_seconds: float
    retry_delay: float
    retry_multiplier: float
    max_retry_delay: float
    poll_interval: float
    clock: Callable[[], float]
    sleep: Callable[[float], None]


def _settings(**kw: Any) -> _Settings:
    for name in ("lease_seconds", "retry_delay", "max_retry_delay", "poll_interval"):
        check_real(kw[name], f"argument {name!r}", low=0.0, low_open=name != "retry_delay")
    check_real(kw["retry_multiplier"], "argument 'retry_multiplier'", low=1.0)
    for name in ("clock", "sleep"):
        check_callable(kw[name], f"argument {name!r}")
    return _Settings(**kw)


def execute(
    workflow: Workflow,
    params: Mapping[str, Any] | None = None,
    *,
    actions: Actions,
    executor: Executor | None = None,
    store: RunStore | str | None = None,
    run_id: str | None = None,
    lease_seconds: float = 30.0,
    retry_delay: float = 1.0,
    retry_multiplier: float = 2.0,
    max_retry_delay: float = 60.0,
    poll_interval: float = 0.25,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> WorkflowRun:
    """Run ``workflow`` with ``params`` to the end and return the run as recorded.

    Everything is checked before anything runs or is stored: the run
    parameters, that every python action (and compensation) is registered in
    ``actions``, that http steps call only its ``allowed_hosts`` and that
    command steps are allowed. Steps run on ``executor`` (inline by default),
    at most ``executor.max_workers`` at once; the run is recorded in
    ``store`` (:data:`DEFAULT_STORE` by default). ``run_id`` defaults to a
    fresh UUID. ``lease_seconds`` is how long the run stays held after the
    driver's last renewal. It renews every third of it, between steps and
    while it waits for running steps and compensations: an *inline* step
    or compensation longer than ``lease_seconds`` lets the lease lapse, so
    give long ones a thread or process executor, or a longer lease. Retries wait
    ``min(max_retry_delay, retry_delay * retry_multiplier ** (k - 1))``
    before retry ``k``. ``poll_interval`` is how often a cancel from another
    process is looked for. ``clock`` (seconds since the epoch) and ``sleep``
    are injectable for tests.

    The run parameters are stored as JSON, so each one (secrets aside: they
    are never stored) must be JSON-serialisable: ``TypeError`` naming it
    otherwise.

    Raises :class:`FencedError` if another driver takes the run over while
    this one runs it.
    """
    opts = _settings(
        lease_seconds=lease_seconds, retry_delay=retry_delay, retry_multiplier=retry_multiplier,
        max_retry_delay=max_retry_delay, poll_interval=poll_interval, clock=clock, sleep=sleep,
    )  # fmt: skip
    if not isinstance(workflow, Workflow):
        raise TypeError(f"execute() argument 'workflow' must be a Workflow; got {workflow!r:.80}")
    check_actions(workflow, actions, "execute")
    values = workflow.check_params(params or {})
    if run_id is None:
        run_id = uuid.uuid4().hex
    elif not isinstance(run_id, str) or not run_id or len(run_id) > 64:
        raise ValueError(
            f"execute() argument 'run_id' must be a non-empty str of <= 64 chars; got {run_id!r}"
        )
    secrets = workflow.secrets()
    stored = {k: REDACTED if k in secrets else v for k, v in values.items()}
    for k, v in stored.items():
        try:
            json.dumps(v)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"execute() argument 'params': parameter {k!r} must be JSON-serialisable (a run stores "
                f"its parameters); got {safe_repr(v)} ({safe_str(exc)})"
            ) from None
    runs = open_store(store)
    lease = runs.create_run(
        run_id, workflow=workflow.name, digest=workflow.digest(), spec=workflow.to_dict(), params=stored,
        steps={s.id: f"{run_id}/{s.id}" for s in workflow.steps}, lease_seconds=opts.lease_seconds,
        now=opts.clock(),
    )  # fmt: skip
    logger.info("workflow %r: run %s started (%d steps)", workflow.name, run_id, len(workflow.steps))
    return _Driver(workflow, values, actions, executor or InlineExecutor(), runs, lease, opts).run()


def resume(
    run_id: str,
    *,
    actions: Actions,
    store: RunStore | str | None = None,
    workflow: Workflow | None = None,
    params: Mapping[str, Any] | None = None,
    executor: Executor | None = None,
    lease_seconds: float = 30.0,
    retry_delay: float = 1.0,
    retry_multiplier: float = 2.0,
    max_retry_delay: float = 60.0,
    poll_interval: float = 0.25,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> WorkflowRun:
    """Carry on with run ``run_id`` (after its driver died) and return it once it ends.

    A run that already ended is returned as it is. ``workflow``, when
    given, must be the one the run started with (same SHA-256); by default
    the workflow stored with the run is used. ``params`` supplies the secret
    parameters again (they are never stored); nothing else may change. The
    other arguments are :func:`execute`'s.

    Raises :class:`LeaseHeldError` while a live driver holds the run (on
    this host a dead holder is detected at once; elsewhere its lease must
    expire), and ``ValueError`` when the workflow changed or an action is
    not registered.
    """
    opts = _settings(
        lease_seconds=lease_seconds, retry_delay=retry_delay, retry_multiplier=retry_multiplier,
        max_retry_delay=max_retry_delay, poll_interval=poll_interval, clock=clock, sleep=sleep,
    )  # fmt: skip
    runs = open_store(store)
    row = runs.load(run_id)
    stored = Workflow.from_dict(row["spec"])
    if stored.digest() != row["digest"]:
        raise ValueError(f"run {run_id!r}: the stored workflow does not match its recorded SHA-256")
    if workflow is not None and workflow.digest() != row["digest"]:
        raise ValueError(
            f"run {run_id!r} started workflow {row['workflow']!r} with SHA-256 {row['digest'][:12]}...; "
            f"the workflow given has {workflow.digest()[:12]}...: a run resumes only what it started"
        )
    if row["state"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
        return WorkflowRun.from_row(row, stored.order())
    check_actions(stored, actions, "resume")
    values = dict(row["params"])
    extra = dict(params or {})
    secrets = stored.secrets()
    for k, v in extra.items():
        if k not in secrets:
            raise ValueError(
                f"resume() argument 'params': {k!r} is not a secret parameter; only secrets are passed again"
            )
        values[k] = v
    missing = sorted(k for k in secrets if values.get(k) == REDACTED)
    if missing:
        raise ValueError(
            f"run {run_id!r}: pass the secret parameters {missing} again (params=...); they are never stored"
        )
    lease = runs.acquire(run_id, lease_seconds=opts.lease_seconds, now=opts.clock())
    try:  # read again under the lease: the previous driver may have written after the read above
        row = runs.load(run_id)
    except BaseException:
        with contextlib.suppress(FencedError):
            runs.release(lease, now=opts.clock())
        raise
    if row["state"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
        runs.release(lease, now=opts.clock())
        return WorkflowRun.from_row(runs.load(run_id), stored.order())
    logger.info("workflow %r: run %s resumed at epoch %d", stored.name, run_id, lease.epoch)
    driver = _Driver(stored, values, actions, executor or InlineExecutor(), runs, lease, opts, row)
    return driver.run()


def cancel(run_id: str, *, store: RunStore | str | None = None) -> None:
    """Ask the driver of ``run_id`` to cancel it: nothing new starts, running steps are discarded
    (``CANCELLED``), the rest are ``SKIPPED``, and the run ends ``CANCELLED``. Any thread or process may ask."""
    open_store(store).request_cancel(run_id)


def check_actions(workflow: Workflow, actions: Actions, where: str) -> None:
    """What a run needs from ``actions``: every python action registered, http hosts allowed, commands on."""
    if not isinstance(actions, Actions):
        raise TypeError(f"{where}() argument 'actions' must be an Actions registry; got {actions!r:.80}")
    missing = actions.missing(workflow.steps)
    if missing:
        raise ValueError(
            f"workflow {workflow.name!r}: actions {missing} are not registered; register them "
            f"(Actions.register) before {'resuming' if where == 'resume' else 'running'}"
        )
    if any(s.action_type in ("http", "api") for s in workflow.steps):
        workflow.check_hosts(actions.allowed_hosts)
    commands = [s.id for s in workflow.steps if s.action_type == "command"]
    if commands and not actions.allow_commands:
        raise RunbookError(
            f"workflow {workflow.name!r}: steps {commands} run commands, which are off; "
            "Actions(allow_commands=True) allows them"
        )


def _call_step(
    actions: Actions, step: Step, parameters: Any, action: Any, key: str, timeout: float | None, hard: bool
) -> Any:
    """What runs on the worker: the step's action, hard-stopped in a child process or cancelled if async."""
    if hard and timeout is not None:
        return call_in_child(actions.run, (step, parameters, action, key), timeout=timeout)
    return settle(actions.run(step, parameters, action, key), timeout)


def _call_compensation(actions: Actions, step: Step, parameters: Any, output: Any, key: str) -> Any:
    return settle(actions.compensate(step, parameters, output, key))


@dataclass
class _Attempt:
    step: Step
    number: int
    started: float
    deadline: float | None
    parameters: Any = None


@dataclass
class _State:
    """The driver's view of the steps (the store is the record; this mirrors it)."""

    state: dict[str, str]
    attempts: dict[str, int]
    outputs: dict[str, Any]
    seq: dict[str, int]
    compensation: dict[str, str | None]
    retry_at: dict[str, float] = field(default_factory=dict)


class _Driver:
    def __init__(
        self, workflow: Workflow, params: dict[str, Any], actions: Actions, executor: Executor,
        store: RunStore, lease: Lease, opts: _Settings, row: Mapping[str, Any] | None = None,
    ) -> None:  # fmt: skip
        self.wf, self.params, self.actions, self.executor = workflow, params, actions, executor
        self.store, self.lease, self.opts = store, lease, opts
        self.order = workflow.order()
        self.steps = {s.id: s for s in workflow.steps}
        self.secrets = [str(params[k]) for k in workflow.secrets() if params.get(k) is not None]
        self.hard = executor.stoppable
        self.running: dict[cf.Future[Any], _Attempt] = {}
        self.cause: str | None = None
        self.phase = "run"
        self.renewed = opts.clock()
        self.polled = self.renewed
        self.resumed = row
        self.interrupted: dict[str, int] = {}  # attempts cut short by a driver's death: not failures
        rows = row["steps"] if row is not None else {}
        self.st = _State(
            state={s: rows[s]["state"] if s in rows else "PENDING" for s in self.order},
            attempts={s: rows[s]["attempts"] if s in rows else 0 for s in self.order},
            outputs={s: json.loads(r["output"]) for s, r in rows.items() if r["state"] == "SUCCEEDED"},
            seq={s: r["seq"] for s, r in rows.items() if r["seq"] is not None},
            compensation={s: rows[s]["comp_state"] if s in rows else None for s in self.order},
        )
        self.completed = max(self.st.seq.values(), default=0)  # the last completion number given out

    def now(self) -> float:
        return self.opts.clock()

    # ------------------------------------------------------------------ the loop

    def run(self) -> WorkflowRun:
        try:
            if self.resumed is not None and self.resumed["state"] == "COMPENSATING":
                self.cause = self.resumed["cause"]
                self.phase = "drain"
            else:
                self._pick_up()
                if self._loop():
                    return self._result()
            if self.cause is not None:
                self._compensate()
                self.store.set_state(self.lease, "FAILED", now=self.now(), cause=self.cause)
                logger.warning("workflow %r: run %s failed: %s", self.wf.name, self.lease.run_id, self.cause)
            else:
                self.store.set_state(self.lease, "SUCCEEDED", now=self.now())
                logger.info("workflow %r: run %s succeeded", self.wf.name, self.lease.run_id)
        except FencedError:
            for fut in self.running:
                fut.cancel()
            raise
        finally:
            with contextlib.suppress(FencedError):
                self.store.release(self.lease, now=self.now())
        return self._result()

    def _result(self) -> WorkflowRun:
        return WorkflowRun.from_row(self.store.load(self.lease.run_id), self.order)

    def _pick_up(self) -> None:
        """On resume: an attempt cut short is run again (not a failure: its outcome is unknown, and the
        idempotency key makes a second call safe); a retry that was due keeps its backoff."""
        if self.resumed is None:
            return
        now = self.now()
        self.interrupted.update(self.store.interruptions(self.lease.run_id))
        for sid in self.order:
            step, rec = self.steps[sid], self.resumed["steps"][sid]
            if rec["state"] == "RUNNING":
                # the row was read under this driver's lease, so the attempt is still the running one
                if self.store.step_interrupted(self.lease, sid, rec["attempts"], now=now):
                    self.interrupted[sid] = self.interrupted.get(sid, 0) + 1
                self.st.state[sid] = "PENDING"
                logger.info("workflow %r: step %r attempt %d was cut short by its driver's death; running it again",
                            self.wf.name, sid, rec["attempts"])  # fmt: skip
            elif rec["state"] in ("FAILED", "TIMED_OUT") and step.critical and self.cause is None:
                self.cause = f"critical step {sid!r} {rec['state'].lower()}: {rec['error']}"
                self.phase = "drain"
            elif rec["state"] == "PENDING" and rec["attempts"] > 0 and rec["ended"] is not None:
                self.st.retry_at[sid] = rec["ended"] + self._delay(rec["attempts"])

    def _loop(self) -> bool:
        """Run steps until none is running or can start; True when the run was cancelled."""
        while True:
            now = self.now()
            self._renew(now)
            if self.phase == "run" and self._cancel_asked(now):
                self._cancel(now)
                return True
            self._expire(now)
            if self.phase == "run":
                self._skip_blocked(now)
                self._submit_ready(now)
            if not self.running:
                waits = [t for s, t in self.st.retry_at.items() if self.st.state[s] == "PENDING"]
                if self.phase == "run" and waits:
                    self.opts.sleep(max(0.0, min(min(waits) - now, self.opts.poll_interval,
                                                 self.opts.lease_seconds / 3)))  # fmt: skip
                    continue
                break
            done, _ = cf.wait(list(self.running), timeout=self._wait_for(now), return_when=cf.FIRST_COMPLETED)
            for fut in done:
                self._finish(fut, self.now())
        for sid in self.order:  # what never started: blocked by a failure, or the run failed
            if self.st.state[sid] == "PENDING":
                reason = f"not run: {self.cause}" if self.cause else "not run"
                self._final(sid, "SKIPPED", reason, self.now())
        return False

    def _wait_for(self, now: float) -> float:
        marks = [a.deadline for a in self.running.values() if a.deadline is not None]
        marks += [t for s, t in self.st.retry_at.items() if self.st.state[s] == "PENDING"]
        marks += [self.renewed + self.opts.lease_seconds / 3, self.polled + self.opts.poll_interval]
        return max(0.0, min(marks) - now)

    def _renew(self, now: float, *, force: bool = False) -> None:
        if force or now - self.renewed >= self.opts.lease_seconds / 3:
            self.store.renew(self.lease, lease_seconds=self.opts.lease_seconds, now=now)
            self.renewed = now

    def _cancel_asked(self, now: float) -> bool:
        if now - self.polled < self.opts.poll_interval:
            return False
        self.polled = now
        return self.store.cancel_requested(self.lease.run_id)

    def _cancel(self, now: float) -> None:
        for fut, att in list(self.running.items()):
            fut.cancel()
            self._final(
                att.step.id, "CANCELLED", "the run was cancelled while it ran; its result is discarded", now
            )
        self.running.clear()
        for sid in self.order:
            if self.st.state[sid] == "PENDING":
                self._final(sid, "SKIPPED", "not run: the run was cancelled", now)
        self.store.set_state(self.lease, "CANCELLED", now=now, cause="cancelled")
        logger.info("workflow %r: run %s cancelled", self.wf.name, self.lease.run_id)

    # ------------------------------------------------------------------ steps

    def _skip_blocked(self, now: float) -> None:
        for sid in self.order:
            if self.st.state[sid] != "PENDING":
                continue
            for dep in self.steps[sid].dependencies:
                if self.st.state[dep] in ("FAILED", "TIMED_OUT", "SKIPPED", "CANCELLED"):
                    self._final(sid, "SKIPPED", f"dependency {dep!r} {self.st.state[dep].lower()}", now)
                    break

    def _submit_ready(self, now: float) -> None:
        room = self.executor.max_workers - len(self.running)
        for sid in self.order:
            if room <= 0:
                return
            step = self.steps[sid]
            if self.st.state[sid] != "PENDING" or self.st.retry_at.get(sid, now) > now:
                continue
            if any(self.st.state[d] != "SUCCEEDED" for d in step.dependencies):
                continue
            room -= 1
            self._start(step, now)
            if self.phase != "run":
                return

    def _start(self, step: Step, now: float) -> None:
        n = self.st.attempts[step.id] + 1
        self.st.attempts[step.id] = n
        self.st.state[step.id] = "RUNNING"
        self.store.step_started(self.lease, step.id, n, now=now)
        deadline = None
        if step.timeout is not None:
            # A stoppable executor's worker kills the step at its timeout, counted from the step's start;
            # the driver's deadline is then only a backstop (worker start-up and queueing are not the step's).
            deadline = now + step.timeout * (2.0 if self.hard else 1.0) + (1.0 if self.hard else 0.0)
        att = _Attempt(step, n, now, deadline)
        try:
            att.parameters = render(dict(step.parameters), self.params, self.st.outputs)
            action = render(step.action, self.params, self.st.outputs)
        except KeyError as exc:  # an output key the step names is missing: deterministic, not retried
            error = self._hide(safe_str(exc))
            self.store.step_ended(self.lease, step.id, n, "FAILED", now=now, error=error)
            self._after_failure(step, n, "FAILED", error, now, retry=False)
            return
        key = f"{self.lease.run_id}/{step.id}"
        logger.debug("workflow %r: step %r attempt %d started", self.wf.name, step.id, n)
        fut = self.executor.submit(
            _call_step, self.actions, step, att.parameters, action, key, step.timeout, self.hard
        )
        self.running[fut] = att

    def _finish(self, fut: cf.Future[Any], now: float) -> None:
        att = self.running.pop(fut, None)
        if att is None:
            return
        step = att.step
        try:
            value = fut.result()
        except TimeoutError as exc:
            if step.timeout is not None:  # the step's own deadline (a killed process, a cancelled coroutine)
                self._failed(
                    att, "TIMED_OUT", f"passed its {step.timeout:g} s timeout ({safe_str(exc)})", now
                )
                return
            self._failed(att, "FAILED", describe_exception(exc), now)  # the action's own timeout
            return
        except (KeyboardInterrupt, SystemExit):  # the process is asked to stop: not the step's failure
            raise
        except BaseException as exc:  # the action's failure: recorded, never raised
            self._failed(att, "FAILED", describe_exception(exc), now)
            return
        if att.deadline is not None and now > att.deadline:
            self._failed(
                att, "TIMED_OUT", f"passed its {step.timeout:g} s timeout; its late result was discarded", now
            )
            return
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            self._failed(
                att, "FAILED", f"its output is not JSON-serialisable, which a durable run needs ({exc})", now
            )
            return
        if self.secrets:  # redacted in the (plain JSON) value, never in its text
            text = json.dumps(redact(json.loads(text), self.secrets))
        seq = self.completed + 1
        if self.store.step_ended(self.lease, step.id, att.number, "SUCCEEDED", now=now, output=text, seq=seq):
            self.completed = seq
            self.st.state[step.id] = "SUCCEEDED"
            self.st.outputs[step.id] = json.loads(text)
            self.st.seq[step.id] = seq
            logger.debug("workflow %r: step %r succeeded", self.wf.name, step.id)

    def _expire(self, now: float) -> None:
        for fut, att in list(self.running.items()):
            if att.deadline is not None and now >= att.deadline and not fut.done():
                fut.cancel()
                del self.running[fut]
                how = "its process was killed" if self.hard else "its late result will be discarded"
                self._failed(att, "TIMED_OUT", f"passed its {att.step.timeout:g} s timeout; {how}", now)

    def _failed(self, att: _Attempt, state: str, error: str, now: float) -> None:
        error = self._hide(error)
        if self.store.step_ended(self.lease, att.step.id, att.number, state, now=now, error=error):
            self._after_failure(att.step, att.number, state, error, now)

    def _after_failure(
        self, step: Step, attempt: int, state: str, error: str, now: float, *, retry: bool = True
    ) -> None:
        """Retry the step if its policy allows (and ``retry``), else it ends ``state``; ``error`` is redacted."""
        if retry and self.phase == "run" and attempt - self.interrupted.get(step.id, 0) <= step.retry_count:
            delay = self._delay(attempt)
            self.store.step_pending(self.lease, step.id, now=now,
                                    detail=f"retry {attempt} of {step.retry_count} in {delay:.3g} s")  # fmt: skip
            self.st.state[step.id] = "PENDING"
            self.st.retry_at[step.id] = now + delay
            logger.info("workflow %r: step %r attempt %d %s (%s); retrying in %.3g s",
                        self.wf.name, step.id, attempt, state.lower(), error, delay)  # fmt: skip
            return
        self.st.state[step.id] = state
        logger.warning("workflow %r: step %r %s: %s", self.wf.name, step.id, state.lower(), error)
        if step.critical and self.cause is None:
            self.cause = f"critical step {step.id!r} {state.lower()}: {error}"
            self.phase = "drain"

    def _delay(self, retry: int) -> float:
        o = self.opts
        return backoff_delay(retry, o.retry_delay, o.retry_multiplier, o.max_retry_delay)

    def _final(self, sid: str, state: str, reason: str, now: float) -> None:
        self.st.state[sid] = state
        self.store.step_final(self.lease, sid, state, reason, now=now)

    def _hide(self, text: str) -> str:
        return str(redact(text, self.secrets))

    # ------------------------------------------------------------------ compensation

    def _compensate(self) -> None:
        """The compensations of the succeeded steps, one at a time, latest completion first."""
        self.store.set_state(self.lease, "COMPENSATING", now=self.now(), cause=self.cause)
        todo = [s for s in self.order if self.st.state[s] == "SUCCEEDED" and self.steps[s].compensate
                and self.st.compensation[s] in (None, "RUNNING")]  # fmt: skip
        todo.sort(key=lambda s: self.st.seq.get(s, 0), reverse=True)
        for sid in todo:
            self._renew(self.now(), force=True)
            self.store.compensation(self.lease, sid, "RUNNING", now=self.now())
            error = self._run_compensation(self.steps[sid])
            if error is None:
                self.store.compensation(self.lease, sid, "SUCCEEDED", now=self.now())
                continue
            error = self._hide(error)  # recorded beside the cause; the other compensations still run
            self.store.compensation(self.lease, sid, "FAILED", now=self.now(), error=error)
            logger.error("workflow %r: compensation of step %r failed: %s", self.wf.name, sid, error)

    def _run_compensation(self, step: Step) -> str | None:
        """Run ``step``'s compensation and wait until it has ended, renewing the lease meanwhile (in
        steps of a third of it); its failure, or None. Past the step's timeout it counts as failed, but
        it is waited for all the same: the next compensation never runs beside it."""
        deadline = None if step.timeout is None else self.now() + step.timeout
        try:
            parameters = render(dict(step.parameters), self.params, self.st.outputs)
            fut = self.executor.submit(_call_compensation, self.actions, step, parameters,
                                       self.st.outputs.get(step.id), f"{self.lease.run_id}/{step.id}/compensate")  # fmt: skip
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            return describe_exception(exc)
        late = False  # past the timeout and still running
        while True:
            wait = self.opts.lease_seconds / 3
            if deadline is not None and not late:
                wait = min(wait, max(0.0, deadline - self.now()))
            done, _ = cf.wait([fut], timeout=wait)
            now = self.now()
            self._renew(now)
            if done:
                break
            if deadline is not None and now >= deadline and not late:
                late = True
                logger.warning("workflow %r: compensation of step %r passed its %g s timeout; waiting for it "
                               "to end before the next one", self.wf.name, step.id, step.timeout)  # fmt: skip
        late = late or (deadline is not None and self.now() > deadline)
        try:
            fut.result()
            outcome = None
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            outcome = describe_exception(exc)
        if late:
            return f"passed its {step.timeout:g} s timeout; it ran on to its end" + (
                f" and failed ({outcome})" if outcome else ""
            )
        return outcome
