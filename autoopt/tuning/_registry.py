"""The table of a :class:`~autoopt.tuning.SelfTuner`'s sessions: lookups, start, stop and removal.

:class:`SessionRegistry` is the tuner's base: it owns the tuner lock, the
``max_sessions`` eviction of finished sessions and the id rules (an unknown id
is ``None``/``False`` for the seed's methods and
:class:`~autoopt.UnknownIdError` for the others). Creating, resuming and
running sessions is the tuner's (:mod:`autoopt.tuning._tuner`).

This module does not import Optuna at import time.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from autoopt._clock import Clock, system_clock
from autoopt._validation import SeedLike, check_id, check_random_state, check_size, check_sync_callable
from autoopt.config import AutomationConfig, check_config
from autoopt.enums import TuningStatus
from autoopt.exceptions import UnknownIdError
from autoopt.models import TuningSession

if TYPE_CHECKING:
    import optuna

    from autoopt.tuning._session import Session

__all__ = ["FINISHED", "SessionRegistry"]

logger = logging.getLogger(__name__)

FINISHED = (TuningStatus.CONVERGED, TuningStatus.FAILED)
"""The statuses of a session that has finished."""


class SessionRegistry:
    """The sessions of a tuner by id, oldest first; see :class:`~autoopt.tuning.SelfTuner` (its subclass)."""

    def __init__(
        self,
        config: AutomationConfig | None = None,
        *,
        seed: SeedLike = None,
        clock: Clock = system_clock,
        max_sessions: int = 1000,
    ) -> None:
        self.config = None if config is None else check_config(config, "SelfTuner()")
        self._rng = check_random_state(seed, "SelfTuner() argument 'seed'")
        self._clock = check_sync_callable(clock, "SelfTuner() argument 'clock'")
        self._max_sessions = check_size(max_sessions, "SelfTuner() argument 'max_sessions'")
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    # ------------------------------------------------------------- registry

    def _register(self, st: Session) -> None:
        session_id = st.session.session_id
        with self._lock:
            self._check_capacity_locked()  # again: other threads may have created sessions meanwhile
            while len(self._sessions) >= self._max_sessions:
                evicted, _ = self._finished.popitem(last=False)
                self._sessions.pop(evicted, None)
                logger.debug(
                    "Evicted finished tuning session %s (max_sessions=%d).", evicted, self._max_sessions
                )
            self._sessions[session_id] = st
            if st.session.status in FINISHED:
                self._finished[session_id] = None

    def _on_finished(self, session_id: str, finished: bool) -> None:
        """The sessions' hook (called under a session lock): a finished session may be evicted."""
        with self._lock:
            if not finished:
                self._finished.pop(session_id, None)
            elif session_id in self._sessions:
                self._finished[session_id] = None

    def _check_capacity_locked(self) -> None:
        # Room is there if a slot is free or a finished session can be evicted.
        if len(self._sessions) - len(self._finished) >= self._max_sessions:
            raise RuntimeError(
                f"SelfTuner holds max_sessions={self._max_sessions} sessions and none has finished; "
                "stop or remove one first."
            )

    def _get(self, session_id: Any, method: str) -> Session | None:
        """Under the registry lock: a seed method's lookup (None for an unknown id, as the seed returns)."""
        check_id(session_id, f"{method}() argument 'session_id'")
        st = self._sessions.get(session_id)
        if st is None:
            logger.debug("%s(): unknown tuning session %r.", method, session_id)
        return st

    def _require(self, session_id: Any, method: str) -> Session:
        """Under the registry lock: a lookup outside the seed API, which raises for an unknown id."""
        st = self._get(session_id, method)
        if st is None:
            raise UnknownIdError(f"{method}() argument 'session_id': unknown tuning session {session_id!r}.")
        return st

    # --------------------------------------------------------------- lookup

    def get_session(self, session_id: str) -> TuningSession | None:
        """The live session record, or ``None`` for an unknown id."""
        with self._lock:
            st = self._get(session_id, "get_session")
        return None if st is None else st.session

    def list_sessions(self) -> list[TuningSession]:
        """All sessions, oldest first."""
        with self._lock:
            return [st.session for st in self._sessions.values()]

    def get_best_parameters(self, session_id: str) -> dict[str, Any] | None:
        """A copy of the best values recorded so far; ``None`` if none yet or for an unknown id."""
        with self._lock:
            st = self._get(session_id, "get_best_parameters")
        if st is None:
            return None
        with st.lock:
            best = st.session.best_parameters
            return None if best is None else dict(best)

    def get_study(self, session_id: str) -> optuna.Study:
        """The session's Optuna study, for Optuna's analysis and visualisation tools.

        Read it only: asking or telling on it directly bypasses the session's
        bookkeeping and lock. :class:`~autoopt.UnknownIdError` for an unknown id.
        """
        with self._lock:
            st = self._require(session_id, "get_study")
        return st.study

    def get_param_importances(self, session_id: str, *, seed: int | None = 0) -> dict[str, float]:
        """fANOVA importance of each parameter (summing to 1, largest first).

        Raises
        ------
        UnknownIdError
            For an unknown session id.
        ValueError
            Fewer than two complete trials.
        """
        with self._lock:
            st = self._require(session_id, "get_param_importances")
        from autoopt.tuning._results import param_importances

        return param_importances(st.study, seed=seed)

    def get_failures(self, session_id: str) -> list[str]:
        """The most recent failure messages (up to 100), oldest first.

        They include failed objectives and callbacks that raised.
        :class:`~autoopt.UnknownIdError` for an unknown id.
        """
        with self._lock:
            st = self._require(session_id, "get_failures")
        return st.failure_messages()

    def remove_session(self, session_id: str) -> bool:
        """Forget a session (finished or not; a stored one stays in its storage); returns True.

        :class:`~autoopt.UnknownIdError` for an unknown id.
        """
        check_id(session_id, "remove_session() argument 'session_id'")
        with self._lock:
            st = self._sessions.pop(session_id, None)
            self._finished.pop(session_id, None)
        if st is None:
            raise UnknownIdError(
                f"remove_session() argument 'session_id': unknown tuning session {session_id!r}."
            )
        return True

    # ------------------------------------------------------------ life cycle

    def start_session(self, session_id: str) -> bool:
        """Start an ``IDLE`` session (status ``EXPLORING``).

        Returns ``True`` if the session is running afterwards (starting a
        running session is a no-op), ``False`` for an unknown id or a
        session that has already converged or failed.
        """
        with self._lock:
            st = self._get(session_id, "start_session")
        if st is None:
            return False
        with st.lock:
            status = st.session.status
            if status in FINISHED:
                logger.debug("start_session(): session %s has already %s.", session_id, status.value)
                return False
            if status is TuningStatus.IDLE:
                st.start_locked()
            return True

    def stop_session(self, session_id: str) -> bool:
        """Finish a session now: ``CONVERGED`` if a result was recorded, else ``FAILED``.

        Trials still pending are told failed in the study (they count
        neither as iterations nor as failures; in a shared storage they are
        voided) and results for them are refused afterwards. Returns
        ``False`` for a session already finished, and raises
        :class:`~autoopt.UnknownIdError` for an unknown id.
        """
        with self._lock:
            st = self._require(session_id, "stop_session")
        return st.stop()
