"""The :class:`SelfTuner`: tuning sessions driven by Optuna's ask-and-tell interface."""

from __future__ import annotations

import logging
import math
import numbers
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from autoopt._clock import Clock, system_clock, utcnow
from autoopt._validation import (
    SeedLike,
    check_callable,
    check_enum,
    check_int,
    check_random_state,
    check_real,
)
from autoopt.config import AutomationConfig, check_config
from autoopt.enums import TuningStatus, TuningStrategy
from autoopt.models import TuningParameter, TuningSession, new_id

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution
    from optuna.samplers import BaseSampler

__all__ = ["SelfTuner"]

logger = logging.getLogger(__name__)

_STUDY_PREFIX = "autoopt-tuning-"
_FAILURE_ATTR = "failure"
_MAX_FAILURE_MESSAGES = 100
_FINISHED = (TuningStatus.CONVERGED, TuningStatus.FAILED)
_Key = tuple[float | int, ...]


# ------------------------------------------------------------ optuna plumbing


class _OwnStudyCreatedFilter(logging.Filter):
    """Drop Optuna's INFO line "A new study created in memory ..." for the tuner's own studies only."""

    _PREFIX = "A new study created in memory with name: " + _STUDY_PREFIX

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self._PREFIX)


_filter_lock = threading.Lock()
_filter_installed = False


def _quiet_own_study_creation() -> None:
    # InMemoryStorage.create_new_study logs one INFO line per study. Rather than
    # lowering Optuna's verbosity (global state the user owns), filter out just
    # the lines naming our studies, on the one logger that emits them.
    global _filter_installed
    with _filter_lock:
        if not _filter_installed:
            logging.getLogger("optuna.storages._in_memory").addFilter(_OwnStudyCreatedFilter())
            _filter_installed = True


def _new_study(session_id: str, sampler: BaseSampler) -> optuna.Study:
    import optuna

    _quiet_own_study_creation()
    name = _STUDY_PREFIX + session_id
    storage = optuna.storages.InMemoryStorage()
    storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], study_name=name)
    return optuna.Study(study_name=name, storage=storage, sampler=sampler)


# ------------------------------------------------------------------ sessions


@dataclass(eq=False, slots=True)
class _Session:
    """A session's record plus the machinery behind it; guarded by ``lock``."""

    session: TuningSession
    study: optuna.Study
    sampler: BaseSampler
    distributions: dict[str, BaseDistribution]
    names: tuple[str, ...]
    is_int: tuple[bool, ...]
    lows: tuple[float, ...]
    highs: tuple[float, ...]
    initial_key: _Key
    n_startup: int
    patience: int
    grid_size: int | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    pending: dict[_Key, deque[optuna.Trial]] = field(default_factory=dict)
    n_pending: int = 0
    n_complete: int = 0
    n_failed: int = 0
    initial_asked: bool = False
    n_proposed: int = 0  # trials proposed by the sampler (all but the initial one)
    reference_score: float | None = None  # best score at the last significant improvement
    since_improvement: int = 0
    failures: deque[str] = field(default_factory=lambda: deque(maxlen=_MAX_FAILURE_MESSAGES))

    @property
    def grid_exhausted(self) -> bool:
        return self.grid_size is not None and self.initial_asked and self.n_proposed >= self.grid_size


def _objective_score(raw: Any) -> tuple[float, str | None]:
    """``(score, None)`` for a finite real, else ``(nan, reason)``."""
    if isinstance(raw, bool) or not isinstance(raw, numbers.Real):
        return math.nan, f"objective returned {raw!r} of type {type(raw).__name__}, not a real number"
    score = float(raw)
    if not math.isfinite(score):
        return math.nan, f"objective returned the non-finite score {raw!r}"
    return score, None


class SelfTuner:
    """Tune numeric parameters by maximising a score, one Optuna study per session.

    A session searches a box of parameters given as ``(min, max, initial)``
    tuples; a parameter whose three numbers are all ints is an integer
    parameter and every value handed out for it is a Python ``int``. A
    *higher score is better*. :meth:`step` proposes values (Optuna's
    ``ask``) and :meth:`record_result` / :meth:`record_failure` report how
    they did (``tell``); :meth:`optimize` is a thin loop over the two.
    The first trial of every session evaluates the initial values.

    Parameters
    ----------
    config : AutomationConfig, optional
        The hub's configuration, kept as :attr:`config`. While its
        ``tuning_enabled`` is False, :meth:`step` proposes nothing.
    seed : int, numpy.random.Generator or None
        Seeds every session created without a seed of its own, so two tuners
        with the same seed propose the same values given the same results.
    clock : Clock
        Source of ``started_at`` / ``completed_at``.
    max_sessions : int
        Most sessions kept. Creating one more evicts the oldest finished
        session; if none has finished, :meth:`create_session` raises
        :class:`RuntimeError`.

    Attributes
    ----------
    config : AutomationConfig or None

    Notes
    -----
    **Strategies** (``TuningStrategy``), each an Optuna sampler:
    ``RANDOM_SEARCH`` uniform sampling; ``GRID_SEARCH`` the grid
    ``min + k * step_size`` per parameter (coarsened beyond 10,000 points;
    the session converges when every grid point has been proposed; an
    initial point that lies on the grid is not proposed twice);
    ``BAYESIAN`` multivariate TPE with the constant liar; ``GENETIC``
    CMA-ES (NSGA-II with polynomial mutation for a single parameter);
    ``GRADIENT_DESCENT`` SPSA from the initial values, for smooth
    objectives (:class:`~autoopt.tuning.SPSASampler`); ``ADAPTIVE`` a
    portfolio: Sobol', then TPE, then on continuous problems CMA-ES
    (:func:`~autoopt.tuning.adaptive_portfolio`).

    **Life cycle** of ``session.status``:

    - ``IDLE`` after :meth:`create_session`;
    - ``EXPLORING`` after :meth:`start_session`, or implicitly at the first
      :meth:`step` or recorded result;
    - ``EXPLOITING`` once ``n_startup`` results are recorded, where
      ``n_startup = min(10, max(2, max_iterations // 5))`` is the length of
      the strategy's exploration phase (TPE's startup trials, the Sobol'
      phase of ``ADAPTIVE``; a nominal phase for the other strategies);
    - ``CONVERGED`` when (a) the best score has not improved by more than
      ``convergence_threshold`` over the last ``patience`` recorded results
      (improvements are measured from the best score at the last
      significant improvement, so slow steady progress still counts), or
      (b) ``max_iterations`` results and failures are recorded, or (c) the
      grid of ``GRID_SEARCH`` is exhausted, or (d) :meth:`stop_session`;
    - ``FAILED`` instead of ``CONVERGED`` when that happens and no trial
      succeeded.

    ``completed_at`` is set when the session converges or fails. From then
    on :meth:`step` returns ``None``; results of trials handed out before
    are still recorded.

    **Budget.** Trials handed out but not yet told are *pending*.
    :meth:`step` returns ``None`` once ``iterations + pending >=
    max_iterations``, so concurrent askers never overshoot the budget, and
    :meth:`record_result` refuses (returns ``False``) a result for values
    that were not handed out when no budget is left.

    **Hot path.** :meth:`step` and :meth:`record_result` add O(d) work to
    Optuna's ask and tell (d = number of parameters): a dict lookup, a
    canonical key and a deque. Nothing scans the trials.

    Thread safety
    -------------
    All methods may be called from any thread. A tuner-level lock guards
    the table of sessions; each session has its own lock around its ask,
    tell and bookkeeping, so unrelated sessions never wait on each other.
    Optuna's samplers run under the session lock (they are not user code);
    the objective of :meth:`optimize` is always called with no lock held.
    A session lock may be held while taking the tuner lock, never the
    other way round. The :class:`~autoopt.TuningSession` records handed
    out are live: read them, do not modify them.

    Examples
    --------
    >>> from autoopt.tuning import SelfTuner
    >>> tuner = SelfTuner(seed=0)
    >>> session = tuner.create_session(
    ...     {"x": (-5.0, 5.0, 4.0), "n": (1, 9, 2)}, strategy="bayesian", max_iterations=30)
    >>> session.status
    <TuningStatus.IDLE: 'idle'>
    >>> tuner.step(session.session_id)  # the first trial is the initial point
    {'x': 4.0, 'n': 2}
    >>> tuner.record_result(session.session_id, {"x": 4.0, "n": 2}, -16.0 - 9.0)
    True
    >>> _ = tuner.optimize(session.session_id, lambda x, n: -x * x - (n - 5) ** 2)
    >>> session.status, session.iterations
    (<TuningStatus.CONVERGED: 'converged'>, 30)
    >>> best = tuner.get_best_parameters(session.session_id)
    >>> bool(abs(best["x"]) < 2), bool(abs(best["n"] - 5) <= 2), type(best["n"]).__name__
    (True, True, 'int')
    """

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
        self._clock = check_callable(clock, "SelfTuner() argument 'clock'")
        self._max_sessions = check_int(max_sessions, "SelfTuner() argument 'max_sessions'", low=1)
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    # ------------------------------------------------------------- creation

    def create_session(
        self,
        parameters: dict[str, tuple[float, float, float]],
        strategy: TuningStrategy | str = TuningStrategy.ADAPTIVE,
        objective_fn: Callable[..., float] | None = None,
        max_iterations: int = 100,
        *,
        convergence_threshold: float = 1e-4,
        patience: int | None = None,
        seed: SeedLike = None,
    ) -> TuningSession:
        """Create a tuning session (status ``IDLE``).

        Parameters
        ----------
        parameters : dict[str, tuple]
            ``name -> (min, max, initial)``; all-int tuples make integer
            parameters.
        strategy : TuningStrategy or str
            The search strategy (the enum or its value).
        objective_fn : callable, optional
            ``objective_fn(**values) -> score``, used by :meth:`optimize`.
        max_iterations : int
            Budget: the most results and failures recorded, >= 1.
        convergence_threshold : float
            Smallest improvement of the best score that counts, >= 0.
        patience : int, optional
            Results without such an improvement after which the session
            converges; ``max(10, max_iterations // 4)`` when omitted.
        seed : int, numpy.random.Generator or None
            Seed of this session's sampler; drawn from the tuner's seed when
            omitted.

        Raises
        ------
        ValueError
            Empty ``parameters``, ``min > max``, an initial value out of
            bounds, an unknown strategy, ``max_iterations < 1``, a negative
            ``convergence_threshold`` or ``patience < 1``.
        TypeError
            Non-numeric bounds, a non-callable ``objective_fn``, or arguments
            of the wrong type.
        RuntimeError
            ``max_sessions`` sessions exist and none has finished.
        """
        where = "create_session() argument"
        params = self._parse_parameters(parameters)
        kind = check_enum(strategy, TuningStrategy, f"{where} 'strategy'")
        if objective_fn is not None:
            check_callable(objective_fn, f"{where} 'objective_fn'")
        max_iterations = check_int(max_iterations, f"{where} 'max_iterations'", low=1)
        threshold = check_real(convergence_threshold, f"{where} 'convergence_threshold'", low=0.0)
        if patience is None:
            patience = max(10, max_iterations // 4)
        else:
            patience = check_int(patience, f"{where} 'patience'", low=1)
        session_rng = None if seed is None else check_random_state(seed, f"{where} 'seed'")

        from autoopt.tuning import _strategies  # imports optuna

        if kind is TuningStrategy.GRID_SEARCH:
            try:
                _strategies.parameter_grids(params)
            except ValueError as exc:
                raise ValueError(f"{where} 'parameters': {exc}") from None
        with self._lock:
            self._check_capacity_locked()
            rng = self._rng if session_rng is None else session_rng
            int_seed = int(rng.integers(2**31 - 1))

        names = tuple(params)
        initial = {n: p.current_value for n, p in params.items()}
        distributions = _strategies.distributions_for(params)
        session_id = new_id()
        spec = _strategies.SearchSpec(params, distributions, initial, max_iterations, int_seed)
        plan = _strategies.build_plan(kind, spec)
        study = _new_study(session_id, plan.sampler)
        study.enqueue_trial(dict(initial))
        session = TuningSession(
            session_id=session_id,
            parameters=params,
            strategy=kind,
            status=TuningStatus.IDLE,
            objective_fn=objective_fn,
            max_iterations=max_iterations,
            convergence_threshold=threshold,
            started_at=utcnow(self._clock),
        )
        state = _Session(
            session=session,
            study=study,
            sampler=plan.sampler,
            distributions=distributions,
            names=names,
            is_int=tuple(params[n].is_integer for n in names),
            lows=tuple(float(params[n].min_value) for n in names),
            highs=tuple(float(params[n].max_value) for n in names),
            initial_key=tuple(initial[n] for n in names),
            n_startup=plan.n_startup,
            patience=patience,
            grid_size=plan.grid_size,
        )
        with self._lock:
            self._check_capacity_locked()  # again: other threads may have created sessions meanwhile
            while len(self._sessions) >= self._max_sessions:
                evicted, _ = self._finished.popitem(last=False)
                self._sessions.pop(evicted, None)
                logger.debug(
                    "Evicted finished tuning session %s (max_sessions=%d).", evicted, self._max_sessions
                )
            self._sessions[session_id] = state
        logger.debug(
            "Created tuning session %s: strategy=%s, parameters=%s, max_iterations=%d.",
            session_id,
            kind.value,
            list(names),
            max_iterations,
        )
        return session

    def _check_capacity_locked(self) -> None:
        # Room is there if a slot is free or a finished session can be evicted.
        if len(self._sessions) - len(self._finished) >= self._max_sessions:
            raise RuntimeError(
                f"SelfTuner holds max_sessions={self._max_sessions} sessions and none has finished; "
                "stop or remove one first."
            )

    @staticmethod
    def _parse_parameters(parameters: Any) -> dict[str, TuningParameter]:
        where = "create_session() argument 'parameters'"
        if not isinstance(parameters, Mapping):
            raise TypeError(
                f"{where} must be a dict of name -> (min, max, initial); "
                f"got {parameters!r} of type {type(parameters).__name__}."
            )
        if not parameters:
            raise ValueError(f"{where} must name at least one parameter; got {parameters!r}.")
        params: dict[str, TuningParameter] = {}
        for name, bounds in parameters.items():
            if not isinstance(name, str) or not name:
                raise TypeError(f"{where} keys must be non-empty strings; got {name!r}.")
            try:
                params[name] = TuningParameter.from_bounds(name, bounds)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"{where}: {exc}") from None
        return params

    # --------------------------------------------------------------- lookup

    def _get(self, session_id: Any, method: str) -> _Session | None:
        st = self._sessions.get(session_id) if isinstance(session_id, str) else None
        if st is None:
            logger.debug("%s(): unknown tuning session %r.", method, session_id)
        return st

    def get_session(self, session_id: str) -> TuningSession | None:
        """The live session record, or ``None`` for an unknown id."""
        with self._lock:
            st = self._get(session_id, "get_session")
        return None if st is None else st.session

    def list_sessions(self) -> list[TuningSession]:
        """All sessions, oldest first."""
        with self._lock:
            return [st.session for st in self._sessions.values()]

    def get_best_parameters(self, session_id: str) -> dict[str, float] | None:
        """A copy of the best values recorded so far; ``None`` if none yet or for an unknown id."""
        with self._lock:
            st = self._get(session_id, "get_best_parameters")
        if st is None:
            return None
        with st.lock:
            best = st.session.best_parameters
            return None if best is None else dict(best)

    def get_study(self, session_id: str) -> optuna.Study | None:
        """The session's Optuna study, for Optuna's analysis and visualisation tools.

        Read it only: asking or telling on it directly bypasses the session's
        bookkeeping and lock. ``None`` for an unknown id.
        """
        with self._lock:
            st = self._get(session_id, "get_study")
        return None if st is None else st.study

    def get_failures(self, session_id: str) -> list[str] | None:
        """The most recent failure messages (up to 100), oldest first; ``None`` for an unknown id."""
        with self._lock:
            st = self._get(session_id, "get_failures")
        if st is None:
            return None
        with st.lock:
            return list(st.failures)

    def remove_session(self, session_id: str) -> bool:
        """Forget a session (finished or not); ``False`` for an unknown id."""
        st = None
        if isinstance(session_id, str):
            with self._lock:
                st = self._sessions.pop(session_id, None)
                self._finished.pop(session_id, None)
        if st is None:
            logger.debug("remove_session(): unknown tuning session %r.", session_id)
            return False
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
            if status in _FINISHED:
                logger.debug("start_session(): session %s has already %s.", session_id, status.value)
                return False
            if status is TuningStatus.IDLE:
                self._start_locked(st)
            return True

    def stop_session(self, session_id: str) -> bool:
        """Finish a session now: ``CONVERGED`` if a result was recorded, else ``FAILED``.

        Trials still pending are told failed in the study (they count
        neither as iterations nor as failures) and results for them are
        refused afterwards. Returns ``False`` for an unknown id or a session
        already finished.
        """
        import optuna

        with self._lock:
            st = self._get(session_id, "stop_session")
        if st is None:
            return False
        with st.lock:
            if st.session.status in _FINISHED:
                return False
            for trials in st.pending.values():
                for trial in trials:
                    trial.set_user_attr(_FAILURE_ATTR, "cancelled: the session was stopped")
                    st.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            st.pending.clear()
            st.n_pending = 0
            self._finish_locked(st, "stopped")
            return True

    def _start_locked(self, st: _Session) -> None:
        st.session.status = TuningStatus.EXPLORING
        st.session.started_at = utcnow(self._clock)
        logger.debug("Tuning session %s started.", st.session.session_id)

    def _finish_locked(self, st: _Session, reason: str) -> None:
        s = st.session
        s.status = TuningStatus.CONVERGED if st.n_complete else TuningStatus.FAILED
        s.completed_at = utcnow(self._clock)
        with self._lock:
            if s.session_id in self._sessions:
                self._finished[s.session_id] = None
        logger.info(
            "Tuning session %s %s (%s) after %d results and %d failures; best score %r.",
            s.session_id,
            s.status.value,
            reason,
            st.n_complete,
            st.n_failed,
            s.best_score,
        )

    def _advance_locked(self, st: _Session) -> None:
        s = st.session
        if s.status in _FINISHED:
            return
        if s.status is TuningStatus.EXPLORING and st.n_complete >= st.n_startup:
            s.status = TuningStatus.EXPLOITING
        if s.iterations >= s.max_iterations:
            self._finish_locked(st, "budget exhausted")
        elif st.n_complete and st.since_improvement >= st.patience:
            self._finish_locked(st, f"no improvement over {st.patience} results")
        elif st.grid_exhausted and st.n_pending == 0:
            self._finish_locked(st, "grid exhausted")

    # ------------------------------------------------------------- ask/tell

    def step(self, session_id: str) -> dict[str, float] | None:
        """Propose the next values to evaluate (Optuna's ``ask``).

        Starts an ``IDLE`` session. Returns ``None`` for an unknown id, a
        finished session, when the budget (counting pending trials) or the
        grid is used up, or while ``config.tuning_enabled`` is False (the
        kill switch: nothing new is proposed; the session is left as it is
        and resumes when tuning is enabled again).
        """
        with self._lock:
            st = self._get(session_id, "step")
        if st is None:
            return None
        if self.config is not None and not self.config.tuning_enabled:
            logger.debug("step(): tuning is disabled by the config; session %s proposes nothing.", session_id)
            return None
        with st.lock:
            s = st.session
            if s.status in _FINISHED:
                return None
            if s.status is TuningStatus.IDLE:
                self._start_locked(st)
            return self._ask_locked(st)

    def _ask_locked(self, st: _Session) -> dict[str, float] | None:
        import optuna

        s = st.session
        while s.iterations + st.n_pending < s.max_iterations:
            if st.grid_exhausted:
                if st.n_pending == 0:
                    self._finish_locked(st, "grid exhausted")
                return None
            trial = st.study.ask(st.distributions)
            params = trial.params
            values: dict[str, float] = {
                n: (int(params[n]) if is_int else float(params[n]))
                for n, is_int in zip(st.names, st.is_int, strict=True)
            }
            key = tuple(values[n] for n in st.names)
            if st.initial_asked:
                st.n_proposed += 1
                if st.grid_size is not None and key == st.initial_key:
                    # The initial point lies on the grid and was evaluated first: skip its repeat.
                    trial.set_user_attr("skipped", "repeat of the initial point")
                    st.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    continue
            st.initial_asked = True
            st.pending.setdefault(key, deque()).append(trial)
            st.n_pending += 1
            return values
        return None

    def _canonical(self, st: _Session, values: Any, where: str) -> tuple[_Key, dict[str, float]]:
        if not isinstance(values, Mapping):
            raise TypeError(
                f"{where} argument 'values' must be a dict of parameter values; "
                f"got {values!r} of type {type(values).__name__}."
            )
        if len(values) != len(st.names) or any(n not in values for n in st.names):
            missing = [n for n in st.names if n not in values]
            unknown = [n for n in values if n not in st.session.parameters]
            raise ValueError(
                f"{where} argument 'values' must give exactly the parameters {list(st.names)!r}; "
                f"missing {missing!r}, unknown {unknown!r}."
            )
        out: dict[str, float] = {}
        for n, is_int, lo, hi in zip(st.names, st.is_int, st.lows, st.highs, strict=True):
            v = check_real(values[n], f"{where} argument 'values'[{n!r}]", low=lo, high=hi)
            if is_int:
                if not v.is_integer():
                    raise ValueError(
                        f"{where} argument 'values'[{n!r}] must be an integer; got {values[n]!r}."
                    )
                out[n] = int(v)
            else:
                out[n] = v
        return tuple(out.values()), out

    def _pop_pending_locked(self, st: _Session, key: _Key) -> optuna.Trial | None:
        trials = st.pending.get(key)
        if not trials:
            return None
        trial = trials.popleft()
        if not trials:
            del st.pending[key]
        st.n_pending -= 1
        return trial

    def _accepts_foreign_locked(self, st: _Session, method: str) -> bool:
        s = st.session
        if s.status in _FINISHED:
            logger.debug(
                "%s(): session %s has %s; values not handed out are refused.",
                method,
                s.session_id,
                s.status.value,
            )
            return False
        if s.iterations + st.n_pending >= s.max_iterations:
            logger.debug(
                "%s(): session %s has no budget left for values not handed out.", method, s.session_id
            )
            return False
        if s.status is TuningStatus.IDLE:
            self._start_locked(st)
        return True

    def record_result(self, session_id: str, values: dict[str, float], score: float) -> bool:
        """Report the score of ``values`` (Optuna's ``tell``); higher is better.

        ``values`` are matched to the pending trial handed out with exactly
        those values; values that were never handed out (a point the user
        evaluated on their own) are validated and added to the study as a
        completed trial, budget permitting.

        Returns
        -------
        bool
            ``True`` if recorded; ``False`` for an unknown id, or for values
            not handed out when the session has finished or has no budget left.

        Raises
        ------
        ValueError
            A NaN or infinite score, missing or unknown parameter names, or
            values out of bounds (nothing is recorded).
        TypeError
            A score or value that is not a real number.
        """
        with self._lock:
            st = self._get(session_id, "record_result")
        if st is None:
            return False
        score = check_real(score, "record_result() argument 'score'")
        key, vals = self._canonical(st, values, "record_result()")
        with st.lock:
            trial = self._pop_pending_locked(st, key)
            if trial is not None:
                st.study.tell(trial, score)
            else:
                if not self._accepts_foreign_locked(st, "record_result"):
                    return False
                import optuna

                st.study.add_trial(
                    optuna.trial.create_trial(params=vals, distributions=st.distributions, value=score)
                )
            self._on_result_locked(st, vals, score)
            return True

    def _on_result_locked(self, st: _Session, vals: dict[str, float], score: float) -> None:
        s = st.session
        s.iterations += 1
        st.n_complete += 1
        for name, value in vals.items():
            s.parameters[name].record(value, score)
        if s.best_score is None or score > s.best_score:
            s.best_score = score
            s.best_parameters = dict(vals)
        if st.reference_score is None or score > st.reference_score + s.convergence_threshold:
            st.reference_score = score
            st.since_improvement = 0
        else:
            st.since_improvement += 1
        self._advance_locked(st)

    def record_failure(self, session_id: str, values: dict[str, float], message: str) -> bool:
        """Report that evaluating ``values`` failed (Optuna ``TrialState.FAIL``).

        The failure counts toward the budget (``iterations``) but never
        toward the best score; ``message`` is kept as the trial's user
        attribute ``"failure"`` and in :meth:`get_failures`. Values that
        were not handed out are accepted as for :meth:`record_result`.

        Returns
        -------
        bool
            ``True`` if recorded, ``False`` as for :meth:`record_result`.

        Raises
        ------
        TypeError
            ``message`` is not a string, or a value is not a real number.
        ValueError
            Missing or unknown parameter names, or values out of bounds.
        """
        import optuna

        with self._lock:
            st = self._get(session_id, "record_failure")
        if st is None:
            return False
        if not isinstance(message, str):
            raise TypeError(
                f"record_failure() argument 'message' must be a str; "
                f"got {message!r} of type {type(message).__name__}."
            )
        key, vals = self._canonical(st, values, "record_failure()")
        with st.lock:
            trial = self._pop_pending_locked(st, key)
            if trial is not None:
                trial.set_user_attr(_FAILURE_ATTR, message)
                st.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                if not self._accepts_foreign_locked(st, "record_failure"):
                    return False
                st.study.add_trial(
                    optuna.trial.create_trial(
                        params=vals,
                        distributions=st.distributions,
                        state=optuna.trial.TrialState.FAIL,
                        user_attrs={_FAILURE_ATTR: message},
                    )
                )
            st.session.iterations += 1
            st.n_failed += 1
            st.failures.append(message)
            self._advance_locked(st)
            return True

    # --------------------------------------------------------------- driver

    def optimize(
        self,
        session_id: str,
        objective: Callable[..., float] | None = None,
        n_trials: int | None = None,
    ) -> TuningSession:
        """Run the session: ``step()``, ``objective(**values)``, record; repeat.

        The objective is called with no lock held. One that raises, or
        returns something other than a finite real, marks that trial failed
        (:meth:`record_failure`, with a warning logged) and the loop goes on.

        Parameters
        ----------
        session_id : str
        objective : callable, optional
            ``objective(**values) -> score``; the session's ``objective_fn``
            when omitted.
        n_trials : int, optional
            Most trials to run now; ``None`` runs until :meth:`step` returns
            ``None`` (budget spent, converged or grid exhausted).

        Returns
        -------
        TuningSession
            The (live) session record.

        Raises
        ------
        KeyError
            Unknown session id.
        ValueError
            Neither ``objective`` nor the session's ``objective_fn`` is set.
        TypeError
            ``objective`` is not callable or ``n_trials`` not an int.
        """
        with self._lock:
            st = self._get(session_id, "optimize")
        if st is None:
            raise KeyError(f"optimize() argument 'session_id': unknown tuning session {session_id!r}.")
        fn = objective if objective is not None else st.session.objective_fn
        if fn is None:
            raise ValueError(
                "optimize() needs an objective: pass 'objective' or create the session with 'objective_fn'."
            )
        check_callable(fn, "optimize() argument 'objective'")
        if n_trials is not None:
            n_trials = check_int(n_trials, "optimize() argument 'n_trials'", low=0)
        done = 0
        while n_trials is None or done < n_trials:
            values = self.step(session_id)
            if values is None:
                break
            done += 1
            try:
                raw = fn(**values)
            except Exception as exc:
                message = f"objective raised {type(exc).__name__}: {exc}"
                logger.warning("Tuning session %s: %s (values %r).", session_id, message, values)
                self.record_failure(session_id, values, message)
                continue
            except BaseException as exc:  # KeyboardInterrupt and co.: release the trial, then propagate
                self.record_failure(session_id, values, f"objective interrupted by {type(exc).__name__}")
                raise
            score, problem = _objective_score(raw)
            if problem is not None:
                logger.warning("Tuning session %s: %s (values %r).", session_id, problem, values)
                self.record_failure(session_id, values, problem)
                continue
            self.record_result(session_id, values, score)
        return st.session
