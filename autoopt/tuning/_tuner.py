"""The :class:`SelfTuner`: tuning sessions driven by Optuna's ask-and-tell interface."""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from autoopt._clock import Clock, system_clock, utcnow
from autoopt._validation import (
    SeedLike,
    check_callable,
    check_enum,
    check_id,
    check_int,
    check_random_state,
    check_real,
    check_size,
    check_sync_callable,
)
from autoopt.config import AutomationConfig, check_config
from autoopt.enums import TuningStatus, TuningStrategy
from autoopt.exceptions import UnknownIdError
from autoopt.models import TuningParameter, TuningSession, new_id

if TYPE_CHECKING:
    import optuna
    import pandas as pd
    from optuna.distributions import BaseDistribution
    from optuna.pruners import BasePruner
    from optuna.samplers import BaseSampler

    from autoopt.tuning._driver import Outcome, TrialHandle, TrialResult

__all__ = ["SelfTuner"]

logger = logging.getLogger(__name__)

_STUDY_PREFIX = "autoopt-tuning-"
_FAILURE_ATTR = "failure"
_MAX_FAILURE_MESSAGES = 100
_FINISHED = (TuningStatus.CONVERGED, TuningStatus.FAILED)
_Key = tuple[Any, ...]
Callback = Callable[[TuningSession, "TrialResult"], None]


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


def _make_pruner(pruner: Any, where: str) -> BasePruner:
    import optuna

    if pruner is None:
        return optuna.pruners.NopPruner()  # Optuna's own default (None) would be a MedianPruner

    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    if pruner == "median":
        return optuna.pruners.MedianPruner()
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    raise ValueError(f"{where} must be None, 'median', 'hyperband' or an optuna pruner; got {pruner!r}.")


# ------------------------------------------------------------------ sessions


@dataclass(eq=False, slots=True)
class _Session:
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
    casts: tuple[Callable[[Any], Any], ...] = ()
    checks: tuple[Callable[[Any, str], Any], ...] = ()
    labels: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def grid_exhausted(self) -> bool:
        return self.grid_size is not None and self.initial_asked and self.n_proposed >= self.grid_size


def _trials_frame(study: optuna.Study, names: tuple[str, ...]) -> pd.DataFrame:
    from autoopt.tuning._results import trials_frame

    return trials_frame(study, names)


class SelfTuner:
    """Tune parameters by maximising a score, one Optuna study per session.

    A session searches a space of parameters, each given as the seed's
    ``(min, max, initial)`` tuple (all ints make an integer parameter), a
    :class:`~autoopt.tuning.FloatParam` (linear or log),
    :class:`~autoopt.tuning.IntParam` (with a step, or log) or
    :class:`~autoopt.tuning.CategoricalParam`, or an Optuna distribution.
    A *higher score is better*. :meth:`step` proposes values (Optuna's
    ``ask``) and :meth:`record_result` / :meth:`record_failure` report how
    they did (``tell``); :meth:`optimize` is a thin loop over the two that
    can run trials on threads or processes. When the parameters give
    initial values, the first trial evaluates them.

    Parameters
    ----------
    config : AutomationConfig, optional
        The hub's configuration, kept as :attr:`config`. While its
        ``tuning_enabled`` is False, :meth:`step` proposes nothing.
    seed : int, numpy.random.Generator or None
        Seeds every session created without a seed of its own, so two tuners
        with the same seed propose the same values given the same results.
    clock : Clock
        Source of ``started_at`` / ``completed_at`` and of the
        ``timeout`` of :meth:`optimize`.
    max_sessions : int
        Most sessions kept. Creating one more evicts the oldest finished
        session; if none has finished, :meth:`create_session` raises
        :class:`RuntimeError`.

    Attributes
    ----------
    config : AutomationConfig or None

    Notes
    -----
    **Strategies** (``TuningStrategy``), each an Optuna sampler; see
    :mod:`autoopt.tuning._strategies` for when to use which.
    ``RANDOM_SEARCH`` scrambled Sobol'; ``GRID_SEARCH`` a grid from the
    bounds and steps (the session converges when every grid point has
    been proposed; an initial point on the grid is not proposed twice);
    ``BAYESIAN`` a Gaussian process (PyTorch installed, <= 300 trials)
    or multivariate TPE; ``GENETIC`` CMA-ES for numeric spaces, NSGA-II
    with categoricals; ``GRADIENT_DESCENT`` SPSA from the initial values,
    for smooth objectives; ``ADAPTIVE`` a portfolio: Sobol', then the GP,
    then TPE or CMA-ES (:func:`~autoopt.tuning.adaptive_portfolio`).

    **Life cycle** of ``session.status``:

    - ``IDLE`` after :meth:`create_session`;
    - ``EXPLORING`` after :meth:`start_session`, or implicitly at the first
      :meth:`step` or recorded result;
    - ``EXPLOITING`` once ``n_startup`` results are recorded, where
      ``n_startup = min(10, max(2, max_iterations // 5))`` is the length of
      the strategy's exploration phase (the model's startup trials, the
      Sobol' phase of ``ADAPTIVE``; a nominal phase for the others);
    - ``CONVERGED`` when (a) ``max_iterations`` trials are recorded
      (results, failures and pruned trials), or (b) the grid of
      ``GRID_SEARCH`` is exhausted, or (c) :meth:`stop_session`, or (d)
      only with ``patience=`` given (early stopping is off by default):
      the best score has not improved by more than
      ``convergence_threshold`` over the last ``patience`` recorded results
      (improvements are measured from the best score at the last
      significant improvement, so slow steady progress still counts); this
      stop is logged at WARNING;
    - ``FAILED`` instead of ``CONVERGED`` when that happens and no trial
      succeeded.

    ``completed_at`` is set when the session converges or fails. From then
    on :meth:`step` returns ``None``; results of trials handed out before
    are still recorded.

    **Budget.** Trials handed out but not yet told are *pending*.
    :meth:`step` returns ``None`` once ``iterations + pending >=
    max_iterations``, so concurrent askers never overshoot the budget, and
    :meth:`record_result` refuses (returns ``False``) a result for values
    that were not handed out when no budget is left. A session in a shared
    storage counts the trials of every process: a trial whose number shows
    that ``max_iterations`` counting trials came before it is voided, so
    the study ends with exactly ``max_iterations`` of them.

    **Persistence.** ``create_session(..., storage=...)`` keeps the
    session in an Optuna storage (journal file, SQLite, PostgreSQL; see
    :mod:`autoopt.tuning._storage` for which to use when) and
    :meth:`load_session` resumes it, in this process or another. Every
    result is written when it is recorded, so a killed process loses no
    completed trial; its trials left ``RUNNING`` are voided on resume.

    **Hot path.** In memory, :meth:`step` and :meth:`record_result` add
    O(d) work to Optuna's ask and tell (d = number of parameters): a dict
    lookup, a canonical key and a deque. Nothing scans the trials. With a
    shared storage each ask also writes the trial's owner and counts the
    trials before it.

    Thread safety
    -------------
    All methods may be called from any thread. A tuner-level lock guards
    the table of sessions; each session has its own lock around its ask,
    tell and bookkeeping, so unrelated sessions never wait on each other.
    Optuna's samplers run under the session lock (they are not user code);
    objectives and callbacks are always called with no lock held.
    A session lock may be held while taking the tuner lock, never the
    other way round. The :class:`~autoopt.TuningSession` records handed
    out are live: read them, do not modify them.

    Examples
    --------
    >>> from autoopt.tuning import SelfTuner
    >>> tuner = SelfTuner(seed=0)
    >>> session = tuner.create_session(
    ...     {"x": (-5.0, 5.0, 4.0), "n": (1, 9, 2)}, strategy="random_search", max_iterations=30, patience=30)
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

    Richer spaces, and a look at the trials:

    >>> from autoopt.tuning import CategoricalParam, FloatParam, IntParam
    >>> space = {
    ...     "lr": FloatParam(1e-4, 1.0, log=True),
    ...     "layers": IntParam(1, 8),
    ...     "act": CategoricalParam(["relu", "tanh"]),
    ... }
    >>> s = tuner.create_session(space, strategy="genetic", max_iterations=20)
    >>> _ = tuner.optimize(s.session_id, lambda lr, layers, act: -abs(lr - 0.01) - layers)
    >>> frame = s.trials_dataframe()
    >>> len(frame), list(frame.columns[6:9])
    (20, ['params_lr', 'params_layers', 'params_act'])
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
        self._clock = check_sync_callable(clock, "SelfTuner() argument 'clock'")
        self._max_sessions = check_size(max_sessions, "SelfTuner() argument 'max_sessions'")
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    # ------------------------------------------------------------- creation

    def create_session(
        self,
        parameters: Mapping[str, Any],
        strategy: TuningStrategy | str = TuningStrategy.ADAPTIVE,
        objective_fn: Callable[..., float] | None = None,
        max_iterations: int = 100,
        *,
        convergence_threshold: float = 1e-4,
        patience: int | None = None,
        seed: SeedLike = None,
        storage: Any = None,
        session_name: str | None = None,
        pruner: Any = None,
        load_if_exists: bool = False,
    ) -> TuningSession:
        """Create a tuning session (status ``IDLE``).

        Parameters
        ----------
        parameters : dict
            ``name -> spec``: a ``(min, max, initial)`` tuple (all-int tuples
            make integer parameters), a :class:`~autoopt.tuning.FloatParam`,
            :class:`~autoopt.tuning.IntParam` or
            :class:`~autoopt.tuning.CategoricalParam`, or an Optuna
            distribution.
        strategy : TuningStrategy or str
            The search strategy (the enum or its value).
        objective_fn : callable, optional
            ``objective_fn(**values) -> score``, used by :meth:`optimize`.
        max_iterations : int
            Budget: the most trials recorded (results, failures, pruned), >= 1.
        convergence_threshold : float
            Smallest improvement of the best score that counts, >= 0.
        patience : int, optional
            Stop early after this many results without an improvement
            greater than ``convergence_threshold`` (logged at WARNING).
            ``None`` (the default) runs the whole budget.
        seed : int, numpy.random.Generator or None
            Seed of this session's sampler; drawn from the tuner's seed when
            omitted.
        storage : None, str, path or optuna storage
            Where the session lives: in memory (``None``), a journal file
            path, a database URL (``"sqlite:///x.db"``,
            ``"postgresql://..."``) or an Optuna storage object.
        session_name : str, optional
            The study's name in the storage, which :meth:`load_session`
            takes; ``"autoopt-tuning-<session_id>"`` when omitted.
        pruner : None, "median", "hyperband" or optuna pruner
            Decides :meth:`TrialHandle.should_prune
            <autoopt.tuning.TrialHandle.should_prune>` for objectives that
            report intermediate scores.
        load_if_exists : bool
            When ``storage`` already holds ``session_name``, resume it
            (:meth:`load_session`) instead of raising, as Optuna's
            ``create_study(load_if_exists=True)``. The stored session's
            parameter space, strategy and ``max_iterations`` must equal the
            ones given here; a difference raises ``ValueError`` naming it.

        Raises
        ------
        ValueError
            Empty or malformed ``parameters``, an unknown strategy,
            ``max_iterations < 1``, a negative ``convergence_threshold``,
            ``patience < 1``, an unknown pruner, a storage that cannot be
            opened, or a ``session_name`` already in the storage.
        TypeError
            Arguments of the wrong type.
        RuntimeError
            ``max_sessions`` sessions exist and none has finished.
        """
        where = "create_session() argument"
        records, distributions, initial = self._parse_parameters(parameters)
        kind = check_enum(strategy, TuningStrategy, f"{where} 'strategy'")
        if objective_fn is not None:
            check_callable(objective_fn, f"{where} 'objective_fn'")
        max_iterations = check_size(max_iterations, f"{where} 'max_iterations'")
        threshold = check_real(convergence_threshold, f"{where} 'convergence_threshold'", low=0.0)
        if patience is not None:  # early stopping only when asked for: the budget is honoured by default
            patience = check_size(patience, f"{where} 'patience'", low=1)
        session_rng = None if seed is None else check_random_state(seed, f"{where} 'seed'")
        if session_name is not None and (not isinstance(session_name, str) or not session_name):
            raise TypeError(f"{where} 'session_name' must be a non-empty str; got {session_name!r}.")
        pruner_obj = _make_pruner(pruner, f"{where} 'pruner'")
        if not isinstance(load_if_exists, bool):
            raise TypeError(f"{where} 'load_if_exists' must be a bool; got {load_if_exists!r}.")

        from autoopt.tuning import _storage, _strategies  # imports optuna

        if load_if_exists and session_name is not None and _storage.storage_kind(storage) != "memory":
            stored = _storage.stored_meta(storage, session_name, f"{where} 'storage'")
            if stored is not None:
                wanted = {
                    "parameters": distributions,
                    "strategy": kind.value,
                    "max_iterations": max_iterations,
                }
                have = {"parameters": stored.distributions, "strategy": stored.strategy,
                        "max_iterations": stored.max_iterations}  # fmt: skip
                for field_name, value in wanted.items():
                    if have[field_name] != value:
                        raise ValueError(
                            f"create_session(load_if_exists=True): the stored session {session_name!r} has "
                            f"{field_name}={have[field_name]!r:.200}, not {value!r:.200}."
                        )
                return self.load_session(
                    session_name, storage, objective_fn=objective_fn, seed=seed, pruner=pruner
                )

        if kind is TuningStrategy.GRID_SEARCH:
            try:
                _strategies.parameter_grids(records)
            except ValueError as exc:
                raise ValueError(f"{where} 'parameters': {exc}") from None
        backend = _storage.open_storage(storage, f"{where} 'storage'")
        with self._lock:
            self._check_capacity_locked()
            rng = self._rng if session_rng is None else session_rng
            int_seed = int(rng.integers(2**31 - 1))

        session_id = new_id()
        meta = _storage.SessionMeta(
            session_id, kind.value, distributions, initial, max_iterations, threshold, patience, int_seed
        )
        name = session_name or _STUDY_PREFIX + session_id
        persistent = _storage.storage_kind(storage) != "memory"
        plan = _strategies.build_plan(
            kind, _strategies.SearchSpec(records, distributions, initial, max_iterations, int_seed)
        )
        study = self._new_study(backend, name, plan.sampler, pruner_obj, persistent, where)
        if persistent:
            study.set_user_attr(_storage.META_KEY, meta.to_json())
        given = {n: v for n, v in initial.items() if v is not None}
        if given:
            study.enqueue_trial(given)
        st = self._make_state(
            meta,
            records,
            study,
            plan,
            objective_fn,
            persistent,
            storage if isinstance(storage, (str, os.PathLike)) else None,
        )
        self._register(st)
        logger.debug(
            "Created tuning session %s: strategy=%s, parameters=%s, max_iterations=%d, storage=%s.",
            session_id,
            kind.value,
            list(st.names),
            max_iterations,
            _storage.storage_kind(storage),
        )
        return st.session

    @staticmethod
    def _new_study(
        backend: Any, name: str, sampler: BaseSampler, pruner: BasePruner, persistent: bool, where: str
    ) -> optuna.Study:
        import optuna

        if not persistent:
            _quiet_own_study_creation()
            backend.create_new_study([optuna.study.StudyDirection.MAXIMIZE], study_name=name)
            return optuna.Study(study_name=name, storage=backend, sampler=sampler, pruner=pruner)
        try:
            return optuna.create_study(
                storage=backend, study_name=name, direction="maximize", sampler=sampler, pruner=pruner
            )
        except optuna.exceptions.DuplicatedStudyError:
            raise ValueError(
                f"{where} 'session_name': the storage already holds a study named {name!r}; "
                "resume it with SelfTuner.load_session() or pick another name."
            ) from None

    def _make_state(
        self,
        meta: Any,
        records: dict[str, TuningParameter],
        study: optuna.Study,
        plan: Any,
        objective_fn: Callable[..., float] | None,
        persistent: bool,
        location: Any,
    ) -> _Session:
        names = tuple(records)
        initial = meta.initial
        full_initial = all(initial.get(n) is not None for n in names)
        session = TuningSession(
            session_id=meta.session_id,
            parameters=records,
            strategy=TuningStrategy(meta.strategy),
            status=TuningStatus.IDLE,
            objective_fn=objective_fn,
            max_iterations=meta.max_iterations,
            convergence_threshold=meta.convergence_threshold,
            started_at=utcnow(self._clock),
            _trials_source=lambda: _trials_frame(study, names),
        )
        return _Session(
            session=session,
            study=study,
            sampler=plan.sampler,
            distributions=dict(meta.distributions),
            names=names,
            initial_key=tuple(initial[n] for n in names) if full_initial else None,
            n_startup=plan.n_startup,
            patience=meta.patience,
            grid_size=plan.grid_size,
            location=None if location is None else os.fspath(location),
            persistent=persistent,
            # Without an enqueued initial point, the very first trial is the sampler's own.
            initial_asked=all(initial.get(n) is None for n in names),
            casts=tuple(_caster(meta.distributions[n]) for n in names),
            checks=tuple(_checker(meta.distributions[n]) for n in names),
        )

    def _register(self, st: _Session) -> None:
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
            if st.session.status in _FINISHED:
                self._finished[session_id] = None

    def _check_capacity_locked(self) -> None:
        # Room is there if a slot is free or a finished session can be evicted.
        if len(self._sessions) - len(self._finished) >= self._max_sessions:
            raise RuntimeError(
                f"SelfTuner holds max_sessions={self._max_sessions} sessions and none has finished; "
                "stop or remove one first."
            )

    @staticmethod
    def _parse_parameters(
        parameters: Any,
    ) -> tuple[dict[str, TuningParameter], dict[str, BaseDistribution], dict[str, Any]]:
        from autoopt.tuning._params import parse_parameter

        where = "create_session() argument 'parameters'"
        if not isinstance(parameters, Mapping):
            raise TypeError(
                f"{where} must be a dict of name -> (min, max, initial) or parameter spec; "
                f"got {parameters!r} of type {type(parameters).__name__}."
            )
        if not parameters:
            raise ValueError(f"{where} must name at least one parameter; got {parameters!r}.")
        records: dict[str, TuningParameter] = {}
        distributions: dict[str, BaseDistribution] = {}
        initial: dict[str, Any] = {}
        for name, spec in parameters.items():
            if not isinstance(name, str) or not name:
                raise TypeError(f"{where} keys must be non-empty strings; got {name!r}.")
            try:
                records[name], distributions[name], initial[name] = parse_parameter(name, spec)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"{where}: {exc}") from None
        return records, distributions, initial

    # --------------------------------------------------------------- resume

    def load_session(
        self,
        name: str,
        storage: Any,
        *,
        objective_fn: Callable[..., float] | None = None,
        seed: SeedLike = None,
        pruner: Any = None,
        stale_after: float | None = None,
    ) -> TuningSession:
        """Resume the session stored as ``name`` in ``storage`` (created with ``storage=``).

        The session is rebuilt from the storage: its parameters, strategy,
        budget and every recorded trial (best score, histories, failures,
        convergence state). Trials still ``RUNNING`` whose process is gone
        (on this host), or, with ``stale_after``, that started more than
        ``stale_after`` seconds ago (any host), are voided: marked
        ``"autoopt:void"`` and failed, and do not count toward the budget.
        Trials running in live processes keep counting. Several processes
        may load the same session and tune it together. Loading a session
        this tuner already holds returns it.

        Parameters
        ----------
        name : str
            The ``session_name`` given at creation (or the generated
            ``"autoopt-tuning-<session_id>"``).
        storage : str, path or optuna storage
            As for :meth:`create_session`.
        objective_fn : callable, optional
            The objective (callables are not stored).
        seed : int, numpy.random.Generator or None
            Seed of this process's sampler. When omitted it is derived from
            the stored seed, the trials done so far and this process's id,
            so processes sharing a session do not propose the same points.
        pruner : None, "median", "hyperband" or optuna pruner
            As for :meth:`create_session` (pruners are not stored).
        stale_after : float, optional
            Seconds after which a ``RUNNING`` trial of another host counts
            as stale.

        Raises
        ------
        ValueError
            No such session in the storage, a study not created by a
            SelfTuner, or bad arguments.
        TypeError
            Arguments of the wrong type.
        """
        where = "load_session() argument"
        if not isinstance(name, str) or not name:
            raise TypeError(f"{where} 'name' must be a non-empty str; got {name!r}.")
        if storage is None:
            raise ValueError(f"{where} 'storage' must name a storage; in-memory sessions cannot be loaded.")
        if objective_fn is not None:
            check_callable(objective_fn, f"{where} 'objective_fn'")
        if stale_after is not None:
            stale_after = check_real(stale_after, f"{where} 'stale_after'", low=0.0)
        pruner_obj = _make_pruner(pruner, f"{where} 'pruner'")
        import numpy as np
        import optuna

        from autoopt.tuning import _storage, _strategies

        backend = _storage.open_storage(storage, f"{where} 'storage'", must_exist=True)
        try:
            probe = optuna.load_study(study_name=name, storage=backend)
        except KeyError:
            raise ValueError(
                f"{where} 'name': the storage {storage!r} holds no session named {name!r}."
            ) from None
        meta = _storage.SessionMeta.from_json(
            probe.user_attrs.get(_storage.META_KEY), f"load_session({name!r})"
        )
        with self._lock:
            existing = self._sessions.get(meta.session_id)
        if existing is not None:
            return existing.session
        records = {}
        from autoopt.tuning._params import parse_parameter

        for pname, dist in meta.distributions.items():
            rec, _, _ = parse_parameter(pname, dist)
            if meta.initial.get(pname) is not None:
                rec.current_value = meta.initial[pname]
            records[pname] = rec
        trials = probe.get_trials(deepcopy=False)
        if seed is None:
            entropy = [meta.seed, len(trials), os.getpid()]
            int_seed = int(np.random.default_rng(entropy).integers(2**31 - 1))
        else:
            int_seed = int(check_random_state(seed, f"{where} 'seed'").integers(2**31 - 1))
        plan = _strategies.build_plan(
            TuningStrategy(meta.strategy),
            _strategies.SearchSpec(records, meta.distributions, meta.initial, meta.max_iterations, int_seed),
        )
        study = optuna.load_study(study_name=name, storage=backend, sampler=plan.sampler, pruner=pruner_obj)
        location = storage if isinstance(storage, (str, os.PathLike)) else None
        st = self._make_state(meta, records, study, plan, objective_fn, True, location)
        n_void = self._replay(st, trials, stale_after)
        self._register(st)
        logger.info(
            "Loaded tuning session %s (%r): %d results, %d failures, %d pruned; %d stale trials voided; %s.",
            meta.session_id,
            name,
            st.n_complete,
            st.n_failed,
            st.n_pruned,
            n_void,
            st.session.status.value,
        )
        return st.session

    def _replay(self, st: _Session, trials: list[optuna.trial.FrozenTrial], stale_after: float | None) -> int:
        from optuna.trial import TrialState

        from autoopt.tuning import _storage

        n_void = 0
        n_counted = 0
        with st.lock:
            for t in trials:
                if _storage.VOID_KEY in t.user_attrs:
                    continue
                if t.state == TrialState.RUNNING:
                    reason = _storage.is_stale(t, stale_after=stale_after)
                    if reason is not None and _storage.void_trial(st.study, t, reason):
                        n_void += 1
                        logger.warning(
                            "Tuning session %s: trial %d voided (%s).",
                            st.session.session_id,
                            t.number,
                            reason,
                        )
                    continue
                if t.state == TrialState.WAITING:
                    continue
                n_counted += 1
                if st.session.status is TuningStatus.IDLE:
                    self._start_locked(st)
                vals = {n: t.params[n] for n in st.names if n in t.params}
                if t.state == TrialState.COMPLETE and t.value is not None and len(vals) == len(st.names):
                    self._on_result_locked(st, vals, float(t.value))
                elif t.state == TrialState.PRUNED:
                    self._on_pruned_locked(st)
                else:
                    self._on_failure_locked(st, str(t.user_attrs.get(_FAILURE_ATTR, "failed")))
            had_initial = not st.initial_asked  # an initial point was enqueued at creation
            st.initial_asked = st.initial_asked or n_counted > 0
            st.n_proposed = max(0, n_counted - (1 if had_initial else 0))
        return n_void

    # --------------------------------------------------------------- lookup

    def _get(self, session_id: Any, method: str) -> _Session | None:
        """Under the registry lock: a seed method's lookup (None for an unknown id, as the seed returns)."""
        check_id(session_id, f"{method}() argument 'session_id'")
        st = self._sessions.get(session_id)
        if st is None:
            logger.debug("%s(): unknown tuning session %r.", method, session_id)
        return st

    def _require(self, session_id: Any, method: str) -> _Session:
        """Under the registry lock: a lookup outside the seed API, which raises for an unknown id."""
        st = self._get(session_id, method)
        if st is None:
            raise UnknownIdError(f"{method}() argument 'session_id': unknown tuning session {session_id!r}.")
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
        with st.lock:
            return list(st.failures)

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
            if status in _FINISHED:
                logger.debug("start_session(): session %s has already %s.", session_id, status.value)
                return False
            if status is TuningStatus.IDLE:
                self._start_locked(st)
            return True

    def stop_session(self, session_id: str) -> bool:
        """Finish a session now: ``CONVERGED`` if a result was recorded, else ``FAILED``.

        Trials still pending are told failed in the study (they count
        neither as iterations nor as failures; in a shared storage they are
        voided) and results for them are refused afterwards. Returns
        ``False`` for a session already finished, and raises
        :class:`~autoopt.UnknownIdError` for an unknown id.
        """
        import optuna

        from autoopt.tuning import _storage

        with self._lock:
            st = self._require(session_id, "stop_session")
        with st.lock:
            if st.session.status in _FINISHED:
                return False
            for entries in st.pending.values():
                for trial, _ in entries:
                    trial.set_user_attr(_FAILURE_ATTR, "cancelled: the session was stopped")
                    if st.persistent:
                        _storage.void_trial(st.study, trial, "cancelled: the session was stopped")
                    else:
                        st.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            st.pending.clear()
            st.n_pending = 0
            self._finish_locked(st, "stopped")
            return True

    def _start_locked(self, st: _Session) -> None:
        st.session.status = TuningStatus.EXPLORING
        st.session.started_at = utcnow(self._clock)
        logger.debug("Tuning session %s started.", st.session.session_id)

    def _finish_locked(self, st: _Session, reason: str, *, warn: bool = False) -> None:
        s = st.session
        if st.persistent:
            self._sync_best_locked(st)
        s.status = (
            TuningStatus.CONVERGED if st.n_complete or s.best_score is not None else TuningStatus.FAILED
        )
        s.completed_at = utcnow(self._clock)
        with self._lock:
            if s.session_id in self._sessions:
                self._finished[s.session_id] = None
        (logger.warning if warn else logger.info)(
            "Tuning session %s %s (%s) after %d results, %d failures and %d pruned; best score %r.",
            s.session_id,
            s.status.value,
            reason,
            st.n_complete,
            st.n_failed,
            st.n_pruned,
            s.best_score,
        )

    @staticmethod
    def _sync_best_locked(st: _Session) -> None:
        # Other processes sharing the storage may have found better points.
        try:
            best = st.study.best_trial
        except ValueError:  # no complete trial anywhere
            return
        s = st.session
        if best.value is not None and (s.best_score is None or best.value > s.best_score):
            s.best_score = float(best.value)
            s.best_parameters = {n: best.params[n] for n in st.names}

    def _advance_locked(self, st: _Session) -> None:
        s = st.session
        if s.status in _FINISHED:
            return
        if s.status is TuningStatus.EXPLORING and st.n_complete >= st.n_startup:
            s.status = TuningStatus.EXPLOITING
        if s.iterations >= s.max_iterations:
            self._finish_locked(st, "budget exhausted")
        elif (
            st.patience is not None
            and st.n_complete
            and st.since_improvement >= st.patience
            and s.iterations >= st.patience_floor
        ):
            self._finish_locked(
                st,
                f"stopped early: no improvement over {s.convergence_threshold} in {st.patience} results "
                f"(patience={st.patience}), {s.max_iterations - s.iterations} of the budget left",
                warn=True,
            )
        elif st.n_pending == 0 and (st.grid_exhausted or st.shared_budget_spent):
            self._finish_locked(st, "grid exhausted" if st.grid_exhausted else "shared budget spent")

    # ------------------------------------------------------------- ask/tell

    def step(self, session_id: str) -> dict[str, Any] | None:
        """Propose the next values to evaluate (Optuna's ``ask``).

        Starts an ``IDLE`` session. Returns ``None`` for an unknown id, a
        finished session, when the budget (counting pending trials) or the
        grid is used up, or while ``config.tuning_enabled`` is False (the
        kill switch: nothing new is proposed; the session is left as it is
        and resumes when tuning is enabled again).
        """
        asked = self._ask(session_id, "step")
        return None if asked is None else asked[0]

    def _ask(self, session_id: str, method: str) -> tuple[dict[str, Any], optuna.Trial] | None:
        with self._lock:
            st = self._get(session_id, method)
        if st is None:
            return None
        if self.config is not None and not self.config.tuning_enabled:
            logger.debug(
                "%s(): tuning is disabled by the config; session %s proposes nothing.", method, session_id
            )
            return None
        with st.lock:
            s = st.session
            if s.status in _FINISHED:
                return None
            if s.status is TuningStatus.IDLE:
                self._start_locked(st)
            return self._ask_locked(st)

    def _ask_locked(self, st: _Session) -> tuple[dict[str, Any], optuna.Trial] | None:
        import optuna

        s = st.session
        while s.iterations + st.n_pending < s.max_iterations and not st.shared_budget_spent:
            if st.grid_exhausted:
                if st.n_pending == 0:
                    self._finish_locked(st, "grid exhausted")
                return None
            trial = st.study.ask(st.distributions)
            if st.persistent and not self._claim_shared_slot_locked(st, trial):
                return None
            # The trial's own record, not ``trial.params`` (a deep copy per call); values are new objects.
            frozen = getattr(trial, "_cached_frozen_trial", None)
            params = frozen.params if frozen is not None else trial.params
            values = {n: cast(params[n]) for n, cast in zip(st.names, st.casts, strict=True)}
            key = tuple(values[n] for n in st.names)
            if st.initial_asked:
                st.n_proposed += 1
                if st.grid_size is not None and key == st.initial_key:
                    # The initial point lies on the grid and was evaluated first: skip its repeat.
                    trial.set_user_attr("skipped", "repeat of the initial point")
                    st.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    continue
            st.initial_asked = True
            st.pending.setdefault(key, deque()).append((trial, values))
            st.n_pending += 1
            return values, trial
        return None

    def _claim_shared_slot_locked(self, st: _Session, trial: optuna.Trial) -> bool:
        """Whether ``trial`` is within the budget of a session shared through a storage.

        Trial numbers are assigned atomically by the storage, so the trials
        numbered below this one are exactly those started before it; if
        ``max_iterations`` of them count, this one is surplus and is voided.
        """
        from autoopt.tuning import _storage

        trial.set_user_attr(_storage.OWNER_KEY, _storage.owner_token())
        if trial.number < st.session.max_iterations:
            return True  # fewer trials than the budget came before it, counting or not: no need to read them
        stored = st.study.user_attrs.get(_storage.META_KEY, {}).get("max_iterations")
        if isinstance(stored, int) and stored > st.session.max_iterations:  # another process extended it
            st.session.max_iterations = stored
            if trial.number < stored:
                return True
        before = sum(
            1
            for t in st.study.get_trials(deepcopy=False)
            if t.number < trial.number and _storage.VOID_KEY not in t.user_attrs
        )
        if before < st.session.max_iterations:
            return True
        _storage.void_trial(st.study, trial, "surplus: the shared budget is spent")
        st.shared_budget_spent = True
        if st.n_pending == 0:
            self._finish_locked(st, "shared budget spent")
        return False

    def _canonical(self, st: _Session, values: Any, where: str) -> tuple[_Key, dict[str, Any]]:
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
        labels = st.labels.get(where)
        if labels is None:  # cached once the values passed (a refused call changes nothing)
            labels = tuple(f"{where} argument 'values'[{n!r}]" for n in st.names)
        out = {
            n: check(values[n], label) for n, check, label in zip(st.names, st.checks, labels, strict=True)
        }
        st.labels.setdefault(where, labels)
        return tuple(out.values()), out

    def _pop_pending_locked(
        self, st: _Session, key: _Key, trial: optuna.Trial | None = None
    ) -> tuple[optuna.Trial, dict[str, Any]] | None:
        """The pending trial handed out with values ``key`` (that ``trial``, if given) and its values."""
        entries = st.pending.get(key)
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
            del st.pending[key]
        st.n_pending -= 1
        return entry

    @staticmethod
    def _handed_out_key(st: _Session, values: Any) -> _Key | None:
        """The key of ``values`` if it can be looked up among the pending trials as it is, else ``None``."""
        if type(values) is not dict or len(values) != len(st.names):
            return None
        try:
            key = tuple([values[n] for n in st.names])
            hash(key)
        except (KeyError, TypeError):
            return None
        return key

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

    def record_result(self, session_id: str, values: dict[str, Any], score: float) -> bool:
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
            values out of bounds or off their step (nothing is recorded).
        TypeError
            A score or value of the wrong type.
        """
        with self._lock:
            st = self._get(session_id, "record_result")
        if st is None:
            return False
        score = check_real(score, "record_result() argument 'score'")
        fast = self._handed_out_key(st, values)
        if fast is not None:
            # Values handed out by step(): the pending trial holds them, already validated.
            with st.lock:
                entry = self._pop_pending_locked(st, fast)
                if entry is not None:
                    st.study.tell(entry[0], score)
                    self._on_result_locked(st, entry[1], score)
                    return True
        key, vals = self._canonical(st, values, "record_result()")
        with st.lock:
            entry = self._pop_pending_locked(st, key)
            if entry is not None:
                st.study.tell(entry[0], score)
                vals = entry[1]
            else:
                if not self._accepts_foreign_locked(st, "record_result"):
                    return False
                import optuna

                st.study.add_trial(
                    optuna.trial.create_trial(params=vals, distributions=st.distributions, value=score)
                )
            self._on_result_locked(st, vals, score)
            return True

    def _on_result_locked(self, st: _Session, vals: dict[str, Any], score: float) -> None:
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

    def _on_failure_locked(self, st: _Session, message: str) -> None:
        st.session.iterations += 1
        st.n_failed += 1
        st.failures.append(message)
        self._advance_locked(st)

    def _on_pruned_locked(self, st: _Session) -> None:
        st.session.iterations += 1
        st.n_pruned += 1
        self._advance_locked(st)

    def record_failure(self, session_id: str, values: dict[str, Any], message: str) -> bool:
        """Report that evaluating ``values`` failed (Optuna ``TrialState.FAIL``).

        The failure counts toward the budget (``iterations``) but never
        toward the best score; ``message`` is kept as the trial's user
        attribute ``"failure"`` and in :meth:`get_failures`. Values that
        were not handed out are accepted as for :meth:`record_result`.

        Returns
        -------
        bool
            ``True`` if recorded, ``False`` as for :meth:`record_result`
            (but an unknown id raises :class:`~autoopt.UnknownIdError`).

        Raises
        ------
        TypeError
            ``message`` is not a string, or a value of the wrong type.
        ValueError
            Missing or unknown parameter names, or values out of bounds.
        """
        import optuna

        with self._lock:
            st = self._require(session_id, "record_failure")
        if not isinstance(message, str):
            raise TypeError(
                f"record_failure() argument 'message' must be a str; "
                f"got {message!r} of type {type(message).__name__}."
            )
        key, vals = self._canonical(st, values, "record_failure()")
        with st.lock:
            entry = self._pop_pending_locked(st, key)
            if entry is not None:
                trial = entry[0]
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
            self._on_failure_locked(st, message)
            return True

    # --------------------------------------------------------------- driver

    def optimize(
        self,
        session_id: str,
        objective: Callable[..., float] | None = None,
        n_trials: int | None = None,
        *,
        timeout: float | None = None,
        n_jobs: int = 1,
        backend: Literal["threads", "processes"] = "threads",
        callbacks: Iterable[Callback] = (),
        show_progress_bar: bool = False,
        catch: Iterable[type[Exception]] | type[Exception] = (),
    ) -> TuningSession:
        """Run the session: ``step()``, evaluate, record; repeat.

        A thin loop over :meth:`step` and the ``record_*`` methods. The
        objective is called with no lock held, as ``objective(**values)``,
        or ``objective(trial=handle, **values)`` when it declares a
        ``trial`` parameter (a :class:`~autoopt.tuning.TrialHandle`, for
        intermediate reports and pruning). One that raises, or returns
        something other than a finite real, marks that trial failed (with
        its message recorded and a warning logged) and the loop goes on;
        raising :class:`~autoopt.TrialPruned` marks it pruned.

        Programmer errors are not a bad trial: the objective's signature is
        bound to the space's parameters before the first trial (a mismatch
        raises :class:`TypeError` at once), and a ``NameError``,
        ``AttributeError``, ``ImportError`` or ``TypeError`` raised inside
        the objective fails its trial and is then re-raised, unless
        ``catch`` lists it (as Optuna's ``catch=``).

        Parameters
        ----------
        session_id : str
        objective : callable, optional
            The session's ``objective_fn`` when omitted.
        n_trials : int, optional
            Trials to run now: exactly this many (fewer only on a used-up
            grid, a timeout or a kill switch). When the budget left is
            smaller, ``max_iterations`` grows to fit them (stored with a
            persistent session, so every process sharing it sees it), and a
            converged or stopped session reopens (status back to
            ``EXPLOITING``); ``patience`` does not cut these trials short.
            A process that shares the session and runs out of its own
            budget reads the stored one before voiding a trial as surplus.
            ``None`` runs until :meth:`step` returns
            ``None`` (budget spent, converged or grid exhausted).
        timeout : float, optional
            Seconds (of the tuner's clock) after which no new trial starts;
            running ones finish.
        n_jobs : int
            Trials evaluated at once; ``-1`` for one per CPU. With 1 (the
            default) trials run in this thread and a seeded session is
            reproducible.
        backend : {"threads", "processes"}
            Where parallel trials run: a thread pool (objectives that
            release the GIL: NumPy, scikit-learn, I/O) or joblib's loky
            process pool (pure-Python objectives; the objective must be
            picklable, and pruning needs a storage given as a path or URL).
            Sampling always happens in this process.
        callbacks : iterable of callables
            ``callback(session, result)`` after each trial, with a
            :class:`~autoopt.tuning.TrialResult`. One that raises is logged
            and recorded in :meth:`get_failures`; the run goes on.
        show_progress_bar : bool
            Show a tqdm progress bar (on stderr).
        catch : exception class or iterable of them
            Programmer errors (see above) to treat as failed trials, as
            every other exception is.

        Returns
        -------
        TuningSession
            The (live) session record.

        Raises
        ------
        UnknownIdError
            Unknown session id (a :class:`KeyError`).
        ValueError
            No objective, bad ``n_trials``, ``timeout``, ``n_jobs`` or
            ``backend``, or pruning on processes without a storage path.
        TypeError
            Arguments of the wrong type.
        """
        from autoopt.tuning import _driver

        with self._lock:
            st = self._require(session_id, "optimize")
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
            raise ValueError(
                f"optimize() argument 'backend' must be 'threads' or 'processes'; got {backend!r}."
            )
        if callable(callbacks) or isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, Iterable):
            raise TypeError(
                f"optimize() argument 'callbacks' must be an iterable of callables (a list); got {callbacks!r:.80}."
            )
        cbs = list(callbacks)
        for i, cb in enumerate(cbs):
            check_callable(cb, f"optimize() argument 'callbacks'[{i}]")
        fatal = _driver.fatal_errors(_driver.check_catch(catch))
        remote = backend == "processes" and n_jobs > 1
        with_handle = _driver.wants_trial(fn)
        _driver.check_signature(fn, st.names, with_handle)
        if with_handle and remote and st.location is None:
            raise ValueError(
                "optimize(): an objective taking 'trial' runs on processes only for a session stored in a "
                "storage given as a path or URL (the workers reopen it); use backend='threads'."
            )

        if n_trials:
            self._extend_for(st, n_trials)
        deadline = None if timeout is None else self._clock() + timeout
        with st.lock:  # without n_trials the bar's total is the budget left
            left = max(0, st.session.max_iterations - st.session.iterations - st.n_pending)
        bar = _progress_bar(
            n_trials if n_trials is not None else left, show_progress_bar, st.session.session_id
        )
        executor, owned = _driver.make_executor(n_jobs, backend)
        in_flight: dict[cf.Future[Outcome], tuple[dict[str, Any], optuna.Trial]] = {}
        started = 0
        try:
            while True:
                while (
                    len(in_flight) < n_jobs
                    and (n_trials is None or started < n_trials)
                    and (deadline is None or self._clock() < deadline)
                ):
                    asked = self._ask(session_id, "optimize")
                    if asked is None:
                        break
                    values, trial = asked
                    handle = self._handle(st, trial, values, remote) if with_handle else None
                    started += 1
                    in_flight[executor.submit(_driver.call_objective, fn, values, handle, fatal)] = (
                        values,
                        trial,
                    )
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
                        self._tell_outcome(st, values, trial, ("error", _interrupted(exc)))
                        raise
                    if outcome[0] == "fatal":  # the objective's code is wrong: fail the trial, then raise
                        message, error = outcome[1]
                        self._tell_outcome(st, values, trial, ("error", message))
                        raise error
                    result = self._tell_outcome(st, values, trial, outcome)
                    if bar is not None:
                        bar.update(1)
                    self._run_callbacks(st, cbs, result)
        except BaseException as exc:
            # KeyboardInterrupt and co.: release the trials still out, then propagate.
            for future, (values, trial) in in_flight.items():
                future.cancel()
                self._tell_outcome(st, values, trial, ("error", _interrupted(exc)))
            raise
        finally:
            if owned:
                executor.shutdown(wait=False, cancel_futures=True)
            if bar is not None:
                bar.close()
        return st.session

    def _extend_for(self, st: _Session, k: int) -> None:
        """Make room for exactly ``k`` more trials: grow the budget if needed, and reopen a finished session.

        A persistent session stores the new ``max_iterations`` in its study, where every process
        sharing it reads it before voiding a trial as surplus. A grid that is used up stays finished.
        """
        from autoopt.tuning import _storage

        with st.lock:
            s = st.session
            need = s.iterations + st.n_pending + k
            st.patience_floor = need
            meta = dict(st.study.user_attrs.get(_storage.META_KEY) or {}) if st.persistent else {}
            stored = meta.get("max_iterations")
            if isinstance(stored, int) and stored > s.max_iterations:  # another process extended it
                s.max_iterations = stored
                st.shared_budget_spent = False
            if need > s.max_iterations:
                logger.info("Tuning session %s: budget %d -> %d for %d more trials.", s.session_id,
                            s.max_iterations, need, k)  # fmt: skip
                s.max_iterations = need
                st.shared_budget_spent = False
                if st.persistent:  # never lowered: the largest budget any process asked for
                    meta["max_iterations"] = need
                    st.study.set_user_attr(_storage.META_KEY, meta)
            if s.status in _FINISHED and not st.grid_exhausted:
                s.status = (
                    TuningStatus.EXPLOITING if st.n_complete >= st.n_startup else TuningStatus.EXPLORING
                )
                s.completed_at = None
                st.since_improvement = 0
                with self._lock:
                    self._finished.pop(s.session_id, None)
                logger.info("Tuning session %s reopened for %d more trials.", s.session_id, k)

    @staticmethod
    def _handle(st: _Session, trial: optuna.Trial, values: dict[str, Any], remote: bool) -> TrialHandle:
        from autoopt.tuning import _driver

        if remote:
            assert st.location is not None
            return _driver.RemoteTrialHandle(
                st.location, st.study.study_name, st.study.pruner, trial._trial_id, trial.number, values
            )
        return _driver.TrialHandle(trial, trial.number, values)

    def _tell_outcome(
        self, st: _Session, values: dict[str, Any], trial: optuna.Trial, outcome: Outcome
    ) -> TrialResult:
        import optuna

        from autoopt.tuning._driver import TrialResult

        kind, payload = outcome
        sid = st.session.session_id
        if kind != "ok":
            log = logger.info if kind == "pruned" else logger.warning
            log("Tuning session %s, trial %d: %s (values %r).", sid, trial.number, payload, values)
        key = tuple(values[n] for n in st.names)
        with st.lock:
            if self._pop_pending_locked(st, key, trial) is None:
                # Told meanwhile by stop_session(): the result is refused.
                return TrialResult(trial.number, values, "failed", None, "cancelled: the session was stopped")
            if kind == "ok":
                st.study.tell(trial, payload)
                self._on_result_locked(st, values, payload)
                return TrialResult(trial.number, values, "complete", payload)
            if kind == "pruned":
                trial.set_user_attr(_FAILURE_ATTR, payload)
                st.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                self._on_pruned_locked(st)
                return TrialResult(trial.number, values, "pruned", None, payload)
            trial.set_user_attr(_FAILURE_ATTR, payload)
            st.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            self._on_failure_locked(st, payload)
            return TrialResult(trial.number, values, "failed", None, payload)

    @staticmethod
    def _run_callbacks(st: _Session, callbacks: list[Callback], result: TrialResult) -> None:
        for cb in callbacks:
            try:
                cb(st.session, result)
            except Exception as exc:
                name = getattr(cb, "__qualname__", repr(cb))
                message = f"callback {name} raised {type(exc).__name__}: {exc}"
                logger.exception("Tuning session %s: %s", st.session.session_id, message)
                with st.lock:
                    st.failures.append(message)


# ------------------------------------------------------------------ values


def _identity(value: Any) -> Any:
    return value


def _caster(dist: BaseDistribution) -> Callable[[Any], Any]:
    """How a sampled value is handed to users: ``int`` for int distributions, ``float`` for float ones."""
    from optuna.distributions import FloatDistribution, IntDistribution

    if isinstance(dist, IntDistribution):
        return int
    if isinstance(dist, FloatDistribution):
        return float
    return _identity


def _checker(dist: BaseDistribution) -> Callable[[Any, str], Any]:
    """A validator ``check(value, where)`` for ``dist``, returning the canonical value.

    Built once per session so the per-call work is the comparison itself.
    """
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        choices = tuple(dist.choices)

        def check_choice(value: Any, where: str) -> Any:
            for choice in choices:
                if type(choice) is type(value) and choice == value:
                    return choice  # the choice object itself: True is not 1, 1 is not 1.0
            raise ValueError(f"{where} must be one of {list(choices)!r}; got {value!r}.")

        return check_choice
    low, high = float(dist.low), float(dist.high)  # type: ignore[attr-defined]
    if isinstance(dist, IntDistribution):
        int_low, int_step = dist.low, dist.step

        def check_int_value(value: Any, where: str) -> Any:
            v = check_real(value, where, low=low, high=high)
            if not v.is_integer():
                raise ValueError(f"{where} must be an integer; got {value!r}.")
            if (int(v) - int_low) % int_step:
                raise ValueError(f"{where} must be {int_low} + k * {int_step}; got {value!r}.")
            return int(v)

        return check_int_value
    step = dist.step  # type: ignore[attr-defined]

    def check_float_value(value: Any, where: str) -> Any:
        v = check_real(value, where, low=low, high=high)
        if step is not None:
            k = (v - low) / step
            if abs(k - round(k)) > 1e-8 * max(1.0, abs(k)):
                raise ValueError(f"{where} must be {low!r} + k * {step!r}; got {value!r}.")
        return v

    return check_float_value


def _interrupted(exc: BaseException) -> str:
    return f"objective interrupted by {type(exc).__name__}"


def _progress_bar(total: int | None, show: bool, session_id: str) -> Any:
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"tuning {session_id[:8]}", unit="trial")
