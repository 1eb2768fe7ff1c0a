"""One tuning session: its Optuna study, ask/tell bookkeeping and the convergence state machine.

:class:`Session` is what :class:`~autoopt.tuning.SelfTuner` keeps per
session id. The tuner validates arguments and looks sessions up; everything
that happens to one session (an ask, a tell, a stop, a budget extension, the
replay of stored trials) is a method here, and every tell, whether from
:meth:`~autoopt.tuning.SelfTuner.record_result`,
:meth:`~autoopt.tuning.SelfTuner.record_failure` or the ``optimize`` loop,
goes through :meth:`Session._tell_locked`.

Lock discipline: ``Session.lock`` guards the session's record and counters.
Methods named ``*_locked`` expect it held; the others take it. Optuna's
samplers run under it (they are not user code); objectives and callbacks
never do. The ``registry`` hook, called when the session finishes or
reopens, takes the tuner's lock: a session lock may be held while taking the
tuner's, never the other way round.

Hot path: in memory, an ask or a tell adds O(d) work to Optuna's (d =
number of parameters): a dict lookup, a canonical key and a deque. Nothing
scans the trials. With a shared storage each ask also writes the trial's
owner, and counts the trials before it once its number reaches the budget.

This module imports Optuna; :mod:`autoopt.tuning` loads it lazily.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

from autoopt._clock import Clock, to_datetime, utcnow
from autoopt.enums import TuningStatus
from autoopt.models import TuningSession
from autoopt.tuning import _storage
from autoopt.tuning._driver import Outcome, TrialResult
from autoopt.tuning._optuna_private import asked_params
from autoopt.tuning._registry import FINISHED
from autoopt.tuning._storage import FAILURE_ATTR

__all__ = ["Session"]

logger = logging.getLogger(__name__)

_MAX_FAILURE_MESSAGES = 100
_Key = tuple[Any, ...]
_Kind = Literal["ok", "error", "pruned"]


@dataclass(eq=False, slots=True)
class Session:
    """A session's record plus the machinery behind it; guarded by ``lock``."""

    session: TuningSession
    study: optuna.Study
    sampler: BaseSampler
    distributions: dict[str, BaseDistribution]
    names: tuple[str, ...]
    initial_key: _Key | None
    n_startup: int
    patience: int | None  # None: no early stopping
    grid_size: int | None
    location: str | None  # the storage's path or URL when given as one (for worker processes)
    persistent: bool
    maximize: bool
    clock: Clock
    registry: Callable[[str, bool], None]  # the tuner's hook: (session_id, finished)
    casts: tuple[Callable[[Any], Any], ...]
    checks: tuple[Callable[[Any, str], Any], ...]
    ownerless_grace: float = _storage.OWNERLESS_GRACE_S
    lock: threading.Lock = field(default_factory=threading.Lock)
    pending: dict[_Key, deque[tuple[optuna.Trial, dict[str, Any]]]] = field(default_factory=dict)
    n_pending: int = 0
    n_complete: int = 0
    n_failed: int = 0
    n_pruned: int = 0
    initial_asked: bool = False
    n_proposed: int = 0  # trials proposed by the sampler (all but the initial one)
    reference_score: float | None = None  # best score at the last significant improvement
    since_improvement: int = 0
    patience_floor: int = 0  # no early stop before this many trials: optimize(n_trials=k) runs all k
    shared_budget_spent: bool = False
    failures: deque[str] = field(default_factory=lambda: deque(maxlen=_MAX_FAILURE_MESSAGES))
    labels: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def grid_exhausted(self) -> bool:
        return self.grid_size is not None and self.initial_asked and self.n_proposed >= self.grid_size

    def _better(self, score: float, than: float) -> bool:
        return score > than if self.maximize else score < than

    # ------------------------------------------------------------ life cycle

    def start_locked(self) -> None:
        self.session.status = TuningStatus.EXPLORING
        self.session.started_at = utcnow(self.clock)
        logger.debug("Tuning session %s started.", self.session.session_id)

    def finish_locked(self, reason: str, *, warn: bool = False) -> None:
        s = self.session
        if self.persistent:
            self.sync_best_locked()
        s.status = (
            TuningStatus.CONVERGED if self.n_complete or s.best_score is not None else TuningStatus.FAILED
        )
        s.completed_at = utcnow(self.clock)
        self.registry(s.session_id, True)
        (logger.warning if warn else logger.info)(
            "Tuning session %s %s (%s) after %d results, %d failures and %d pruned; best score %r.",
            s.session_id,
            s.status.value,
            reason,
            self.n_complete,
            self.n_failed,
            self.n_pruned,
            s.best_score,
        )

    def sync_best_locked(self) -> None:
        """Adopt the study's best trial: other processes sharing the storage may have found better points."""
        try:
            best = self.study.best_trial
        except ValueError:  # no complete trial anywhere
            return
        s = self.session
        if best.value is not None and (s.best_score is None or self._better(best.value, s.best_score)):
            s.best_score = float(best.value)
            s.best_parameters = {n: best.params[n] for n in self.names}

    def advance_locked(self) -> None:
        """The state machine's transitions after a tell (see the SelfTuner's *Life cycle*)."""
        s = self.session
        if s.status in FINISHED:
            return
        if s.status is TuningStatus.EXPLORING and self.n_complete >= self.n_startup:
            s.status = TuningStatus.EXPLOITING
        if s.iterations >= s.max_iterations:
            self.finish_locked("budget exhausted")
        elif (
            self.patience is not None
            and self.n_complete
            and self.since_improvement >= self.patience
            and s.iterations >= self.patience_floor
        ):
            self.finish_locked(
                f"stopped early: no improvement over {s.convergence_threshold} in {self.patience} results "
                f"(patience={self.patience}), {s.max_iterations - s.iterations} of the budget left",
                warn=True,
            )
        elif self.n_pending == 0 and (self.grid_exhausted or self.shared_budget_spent):
            self.finish_locked("grid exhausted" if self.grid_exhausted else "shared budget spent")

    def stop(self) -> bool:
        """Finish now, failing the trials still pending; False if already finished."""
        with self.lock:
            if self.session.status in FINISHED:
                return False
            reason = "cancelled: the session was stopped"
            for entries in self.pending.values():
                for trial, _ in entries:
                    trial.set_user_attr(FAILURE_ATTR, reason)
                    if self.persistent:
                        _storage.void_trial(self.study, trial, reason)
                    else:
                        self.study.tell(trial, state=TrialState.FAIL)
            self.pending.clear()
            self.n_pending = 0
            self.finish_locked("stopped")
            return True

    def extend_for(self, k: int) -> None:
        """Make room for exactly ``k`` more trials: grow the budget if needed, and reopen a finished session.

        A persistent session stores the new ``max_iterations`` in its study, where every process
        sharing it reads it before voiding a trial as surplus. A grid that is used up stays finished.
        """
        with self.lock:
            s = self.session
            need = s.iterations + self.n_pending + k
            self.patience_floor = need
            meta = dict(self.study.user_attrs.get(_storage.META_KEY) or {}) if self.persistent else {}
            stored = meta.get("max_iterations")
            if isinstance(stored, int) and stored > s.max_iterations:  # another process extended it
                s.max_iterations = stored
                self.shared_budget_spent = False
            if need > s.max_iterations:
                logger.info("Tuning session %s: budget %d -> %d for %d more trials.", s.session_id,
                            s.max_iterations, need, k)  # fmt: skip
                s.max_iterations = need
                self.shared_budget_spent = False
                if self.persistent:  # never lowered: the largest budget any process asked for
                    meta["max_iterations"] = need
                    self.study.set_user_attr(_storage.META_KEY, meta)
            if s.status in FINISHED and not self.grid_exhausted:
                s.status = (
                    TuningStatus.EXPLOITING if self.n_complete >= self.n_startup else TuningStatus.EXPLORING
                )
                s.completed_at = None
                self.since_improvement = 0
                self.registry(s.session_id, False)
                logger.info("Tuning session %s reopened for %d more trials.", s.session_id, k)

    # ------------------------------------------------------------------- ask

    def ask(self) -> tuple[dict[str, Any], optuna.Trial] | None:
        """The next values and their trial (starting an ``IDLE`` session), or None when nothing is left."""
        with self.lock:
            s = self.session
            if s.status in FINISHED:
                return None
            if s.status is TuningStatus.IDLE:
                self.start_locked()
            return self._ask_locked()

    def _ask_locked(self) -> tuple[dict[str, Any], optuna.Trial] | None:
        s = self.session
        while s.iterations + self.n_pending < s.max_iterations and not self.shared_budget_spent:
            if self.grid_exhausted:
                if self.n_pending == 0:
                    self.finish_locked("grid exhausted")
                return None
            trial = self.study.ask(self.distributions)
            if self.persistent and not self._claim_shared_slot_locked(trial):
                return None
            params = asked_params(trial)
            values = {n: cast(params[n]) for n, cast in zip(self.names, self.casts, strict=True)}
            key = tuple(values[n] for n in self.names)
            if self.initial_asked:
                self.n_proposed += 1
                if self.grid_size is not None and key == self.initial_key:
                    # The initial point lies on the grid and was evaluated first: skip its repeat.
                    trial.set_user_attr("skipped", "repeat of the initial point")
                    self.study.tell(trial, state=TrialState.PRUNED)
                    continue
            self.initial_asked = True
            self.pending.setdefault(key, deque()).append((trial, values))
            self.n_pending += 1
            return values, trial
        return None

    def _claim_shared_slot_locked(self, trial: optuna.Trial) -> bool:
        """Whether ``trial`` is within the budget of a session shared through a storage.

        Trial numbers are assigned atomically by the storage, so the trials
        numbered below this one are exactly those started before it; if
        ``max_iterations`` of them count, this one is surplus and is voided.
        Before that verdict, trials left ownerless by a process killed
        between its ask and its owner write are reclaimed (voided) once they
        are older than the grace period.
        """
        trial.set_user_attr(_storage.OWNER_KEY, _storage.owner_token())
        s = self.session
        if trial.number < s.max_iterations:
            return True  # fewer trials than the budget came before it, counting or not: no need to read them
        stored = self.study.user_attrs.get(_storage.META_KEY, {}).get("max_iterations")
        if isinstance(stored, int) and stored > s.max_iterations:  # another process extended it
            s.max_iterations = stored
            if trial.number < stored:
                return True
        before = [
            t
            for t in self.study.get_trials(deepcopy=False)
            if t.number < trial.number and _storage.VOID_KEY not in t.user_attrs
        ]
        counting = len(before)
        if counting >= s.max_iterations:
            counting -= self._reclaim_locked(before, stale_after=None)
        if counting < s.max_iterations:
            return True
        _storage.void_trial(self.study, trial, "surplus: the shared budget is spent")
        self.shared_budget_spent = True
        if self.n_pending == 0:
            self.finish_locked("shared budget spent")
        return False

    def _reclaim_locked(self, trials: list[FrozenTrial], stale_after: float | None) -> int:
        """Void the stale ``RUNNING`` trials among ``trials`` (see :func:`_storage.is_stale`); how many."""
        now = to_datetime(self.clock())
        n_void = 0
        for t in trials:
            if t.state != TrialState.RUNNING or _storage.VOID_KEY in t.user_attrs:
                continue
            reason = _storage.is_stale(
                t, stale_after=stale_after, now=now, ownerless_grace=self.ownerless_grace
            )
            if reason is not None and _storage.void_trial(self.study, t, reason):
                n_void += 1
                logger.warning(
                    "Tuning session %s: trial %d voided (%s).", self.session.session_id, t.number, reason
                )
        return n_void

    # ------------------------------------------------------------------ tell

    def canonical(self, values: Any, where: str) -> tuple[_Key, dict[str, Any]]:
        """Validated values (raising ``TypeError``/``ValueError`` naming the value) and their key."""
        if not isinstance(values, Mapping):
            raise TypeError(
                f"{where} argument 'values' must be a dict of parameter values; "
                f"got {values!r} of type {type(values).__name__}."
            )
        if len(values) != len(self.names) or any(n not in values for n in self.names):
            missing = [n for n in self.names if n not in values]
            unknown = [n for n in values if n not in self.session.parameters]
            raise ValueError(
                f"{where} argument 'values' must give exactly the parameters {list(self.names)!r}; "
                f"missing {missing!r}, unknown {unknown!r}."
            )
        labels = self.labels.get(where)
        if labels is None:  # cached once the values passed (a refused call changes nothing)
            labels = tuple(f"{where} argument 'values'[{n!r}]" for n in self.names)
        out = {
            n: check(values[n], label)
            for n, check, label in zip(self.names, self.checks, labels, strict=True)
        }
        self.labels.setdefault(where, labels)
        return tuple(out.values()), out

    def _pop_pending_locked(
        self, key: _Key, trial: optuna.Trial | None = None
    ) -> tuple[optuna.Trial, dict[str, Any]] | None:
        """The pending trial handed out with values ``key`` (that ``trial``, if given) and its values."""
        entries = self.pending.get(key)
        if not entries:
            return None
        if trial is None:
            entry = entries.popleft()
        else:
            found = [e for e in entries if e[0] is trial]
            if not found:
                return None
            entry = found[0]
            entries.remove(entry)
        if not entries:
            del self.pending[key]
        self.n_pending -= 1
        return entry

    def _handed_out_key(self, values: Any) -> _Key | None:
        """The key of ``values`` if it can be looked up among the pending trials as it is, else ``None``."""
        if type(values) is not dict or len(values) != len(self.names):
            return None
        try:
            key = tuple([values[n] for n in self.names])
            hash(key)
        except (KeyError, TypeError):
            return None
        return key

    def _accepts_foreign_locked(self, method: str) -> bool:
        s = self.session
        if s.status in FINISHED:
            logger.debug("%s(): session %s has %s; values not handed out are refused.", method, s.session_id,
                         s.status.value)  # fmt: skip
            return False
        if s.iterations + self.n_pending >= s.max_iterations:
            logger.debug(
                "%s(): session %s has no budget left for values not handed out.", method, s.session_id
            )
            return False
        if s.status is TuningStatus.IDLE:
            self.start_locked()
        return True

    def record(self, values: Any, kind: _Kind, payload: Any, method: str) -> bool:
        """``record_result`` (kind ``"ok"``, the score) and ``record_failure`` (``"error"``, the message).

        ``values`` handed out by an ask tell their pending trial; others are
        validated and added as a finished trial, budget permitting.
        """
        fast = self._handed_out_key(values) if kind == "ok" else None
        if fast is not None:  # values handed out by step(): the pending trial holds them, already validated
            with self.lock:
                entry = self._pop_pending_locked(fast)
                if entry is not None:
                    self._tell_locked(entry[0], entry[1], kind, payload)
                    return True
        key, vals = self.canonical(values, f"{method}()")
        with self.lock:
            entry = self._pop_pending_locked(key)
            if entry is not None:
                self._tell_locked(entry[0], entry[1], kind, payload)
                return True
            if not self._accepts_foreign_locked(method):
                return False
            self._tell_locked(None, vals, kind, payload)
            return True

    def tell_outcome(self, values: dict[str, Any], trial: optuna.Trial, outcome: Outcome) -> TrialResult:
        """Tell the outcome of a trial this session handed out to the ``optimize`` loop."""
        kind, payload = outcome
        if kind != "ok":
            log = logger.info if kind == "pruned" else logger.warning
            log("Tuning session %s, trial %d: %s (values %r).", self.session.session_id, trial.number, payload,
                values)  # fmt: skip
        key = tuple(values[n] for n in self.names)
        with self.lock:
            if self._pop_pending_locked(key, trial) is None:
                # Told meanwhile by stop_session(): the result is refused.
                return TrialResult(trial.number, values, "failed", None, "cancelled: the session was stopped")
            self._tell_locked(trial, values, "error" if kind == "fatal" else kind, payload)
        state: Literal["complete", "failed", "pruned"] = (
            "complete" if kind == "ok" else "pruned" if kind == "pruned" else "failed"
        )
        return TrialResult(trial.number, values, state, payload if kind == "ok" else None,
                           None if kind == "ok" else payload)  # fmt: skip

    def release(self, values: dict[str, Any], trial: optuna.Trial, reason: str) -> None:
        """Give back a trial that was asked but never evaluated: failed and voided, it does not count."""
        key = tuple(values[n] for n in self.names)
        with self.lock:
            if self._pop_pending_locked(key, trial) is None:
                return
            trial.set_user_attr(FAILURE_ATTR, reason)
            _storage.void_trial(self.study, trial, reason)
            logger.warning("Tuning session %s: trial %d released, not evaluated (%s).", self.session.session_id,
                           trial.number, reason)  # fmt: skip
            self.advance_locked()  # the last pending trial of a used-up grid or shared budget: finish

    def _tell_locked(
        self, trial: optuna.Trial | None, vals: dict[str, Any], kind: _Kind, payload: Any
    ) -> None:
        """The one tell: to the study (``trial``, or a new finished trial for values not handed out), then
        the bookkeeping. ``payload`` is the score for ``"ok"``, else the message."""
        if trial is None:
            self.study.add_trial(
                optuna.trial.create_trial(
                    params=vals,
                    distributions=self.distributions,
                    value=payload if kind == "ok" else None,
                    state=_STATES[kind],
                    user_attrs={} if kind == "ok" else {FAILURE_ATTR: payload},
                )
            )
        elif kind == "ok":
            self.study.tell(trial, payload)
        else:
            trial.set_user_attr(FAILURE_ATTR, payload)
            self.study.tell(trial, state=_STATES[kind])
        if kind == "ok":
            self.on_result_locked(vals, payload)
        elif kind == "pruned":
            self.on_pruned_locked()
        else:
            self.on_failure_locked(payload)

    def on_result_locked(self, vals: dict[str, Any], score: float) -> None:
        s = self.session
        s.iterations += 1
        self.n_complete += 1
        for name, value in vals.items():
            s.parameters[name].record(value, score, maximize=self.maximize)
        if s.best_score is None or self._better(score, s.best_score):
            s.best_score = score
            s.best_parameters = dict(vals)
        threshold = s.convergence_threshold
        ref = self.reference_score
        if ref is None or self._better(score, ref + threshold if self.maximize else ref - threshold):
            self.reference_score = score
            self.since_improvement = 0
        else:
            self.since_improvement += 1
        self.advance_locked()

    def on_failure_locked(self, message: str) -> None:
        self.session.iterations += 1
        self.n_failed += 1
        self.failures.append(message)
        self.advance_locked()

    def on_pruned_locked(self) -> None:
        self.session.iterations += 1
        self.n_pruned += 1
        self.advance_locked()

    # ---------------------------------------------------------------- resume

    def replay(self, trials: list[FrozenTrial], stale_after: float | None) -> int:
        """Rebuild the bookkeeping from a stored session's trials; void the stale ones. How many were voided."""
        n_counted = 0
        with self.lock:
            n_void = self._reclaim_locked(trials, stale_after)
            for t in trials:
                if _storage.VOID_KEY in t.user_attrs or t.state in (TrialState.RUNNING, TrialState.WAITING):
                    continue  # voided, running in a live process (it counts when told), or enqueued
                n_counted += 1
                if self.session.status is TuningStatus.IDLE:
                    self.start_locked()
                vals = {n: t.params[n] for n in self.names if n in t.params}
                if t.state == TrialState.COMPLETE and t.value is not None and len(vals) == len(self.names):
                    self.on_result_locked(vals, float(t.value))
                elif t.state == TrialState.PRUNED:
                    self.on_pruned_locked()
                else:
                    self.on_failure_locked(str(t.user_attrs.get(FAILURE_ATTR, "failed")))
            had_initial = not self.initial_asked  # an initial point was enqueued at creation
            self.initial_asked = self.initial_asked or n_counted > 0
            self.n_proposed = max(0, n_counted - (1 if had_initial else 0))
        return n_void

    def failure_messages(self) -> list[str]:
        with self.lock:
            return list(self.failures)

    def note_failure(self, message: str) -> None:
        with self.lock:
            self.failures.append(message)


_STATES = {"ok": TrialState.COMPLETE, "error": TrialState.FAIL, "pruned": TrialState.PRUNED}
