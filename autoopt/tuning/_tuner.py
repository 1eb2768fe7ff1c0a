"""The :class:`SelfTuner`: the registry of tuning sessions and the public API.

The parts behind it, each in its own module:

- :mod:`._params`: parameter specs and value validation;
- :mod:`._build`: building new sessions and resuming stored ones;
- :mod:`._session`: one session's ask/tell bookkeeping and convergence state machine;
- :mod:`._optimize`: the ``optimize`` loop;
- :mod:`._driver`: trial handles, executors and outcomes for user objectives;
- :mod:`._storage`: Optuna storages, the stored session record, stale trials;
- :mod:`.samplers`: the strategies' samplers;
- :mod:`._optuna_private`: the only uses of Optuna's private API.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from autoopt._validation import (
    SeedLike,
    check_callable,
    check_random_state,
    check_real,
    check_size,
)
from autoopt.enums import TuningStrategy
from autoopt.models import TuningSession, new_id
from autoopt.tuning._registry import SessionRegistry

if TYPE_CHECKING:
    import optuna
    from optuna.samplers import BaseSampler

    from autoopt.tuning._driver import TrialResult

__all__ = ["SelfTuner"]

logger = logging.getLogger(__name__)

Callback = Callable[[TuningSession, "TrialResult"], None]


class SelfTuner(SessionRegistry):
    """Tune parameters by maximising (or minimising) a score, one Optuna study per session.

    A session searches a space of parameters, each given as the seed's
    ``(min, max, initial)`` tuple (all ints make an integer parameter), a
    :class:`~autoopt.tuning.FloatParam` (linear or log),
    :class:`~autoopt.tuning.IntParam` (with a step, or log) or
    :class:`~autoopt.tuning.CategoricalParam`, or an Optuna distribution.
    A *higher score is better* unless the session is created with
    ``direction="minimize"``. :meth:`step` proposes values (Optuna's
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
        Source of ``started_at`` / ``completed_at``, of the ``timeout`` of
        :meth:`optimize` and of the age of ownerless trials.
    max_sessions : int
        Most sessions kept. Creating one more evicts the oldest finished
        session; if none has finished, :meth:`create_session` raises
        :class:`RuntimeError`.

    Attributes
    ----------
    config : AutomationConfig or None

    Notes
    -----
    **Strategies**: a ``TuningStrategy``, each an Optuna sampler chosen
    for the space and budget (:mod:`autoopt.tuning.samplers._strategies`
    says which, and when to use which), or any Optuna ``BaseSampler``.

    **Life cycle** of ``session.status``:

    - ``IDLE`` after :meth:`create_session`;
    - ``EXPLORING`` after :meth:`start_session`, or implicitly at the first
      :meth:`step` or recorded result;
    - ``EXPLOITING`` once ``n_startup = min(10, max(2, max_iterations //
      5))`` results are recorded (the strategy's exploration phase);
    - ``CONVERGED`` when (a) ``max_iterations`` trials are recorded
      (results, failures and pruned trials), or (b) the grid of
      ``GRID_SEARCH`` is exhausted, or (c) :meth:`stop_session`, or (d)
      only with ``patience=`` given (early stopping is off by default):
      the best score has not improved by more than
      ``convergence_threshold`` over the last ``patience`` recorded results
      (measured from the best score at the last significant improvement,
      so slow steady progress still counts); this stop is logged at
      WARNING;
    - ``FAILED`` instead of ``CONVERGED`` when that happens and no trial
      succeeded.

    ``completed_at`` is set when the session converges or fails. From then
    on :meth:`step` returns ``None``; results of trials handed out before
    are still recorded. ``optimize(n_trials=k)`` reopens a finished session
    for exactly ``k`` more trials.

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
    completed trial; its trials left ``RUNNING`` are voided on resume, and
    so is a trial left without an owner (a process killed between its ask
    and its owner write) once ``ownerless_grace`` seconds old.

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

    # ------------------------------------------------------------- creation

    def create_session(
        self,
        parameters: Mapping[str, Any],
        strategy: TuningStrategy | str | BaseSampler = TuningStrategy.ADAPTIVE,
        objective_fn: Callable[..., float] | None = None,
        max_iterations: int = 100,
        *,
        direction: Literal["maximize", "minimize"] = "maximize",
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
        strategy : TuningStrategy, str or optuna BaseSampler
            The search strategy (the enum or its value), or an Optuna
            sampler instance: the session then records its class name in
            ``session.sampler_name`` (``session.strategy`` is ``None``), and
            :meth:`load_session` needs the sampler passed again.
        objective_fn : callable, optional
            ``objective_fn(**values) -> score``, used by :meth:`optimize`.
        max_iterations : int
            Budget: the most trials recorded (results, failures, pruned), >= 1.
        direction : {"maximize", "minimize"}
            Whether a higher score (the default, as the seed's) or a lower
            one is better; the study's direction, as in Optuna.
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
            parameter space, strategy, direction and ``max_iterations`` must
            equal the ones given here; a difference raises ``ValueError``
            naming it.

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
        from autoopt.tuning._params import parse_parameters

        records, distributions, initial = parse_parameters(parameters)
        from autoopt.tuning import _build, _driver, _storage  # imports optuna

        spec = _build.check_strategy(strategy, f"{where} 'strategy'")
        direction = _build.check_direction(direction, f"{where} 'direction'")  # type: ignore[assignment]
        if objective_fn is not None:
            check_callable(objective_fn, f"{where} 'objective_fn'")
        max_iterations = check_size(max_iterations, f"{where} 'max_iterations'")
        threshold = check_real(convergence_threshold, f"{where} 'convergence_threshold'", low=0.0)
        if patience is not None:  # early stopping only when asked for: the budget is honoured by default
            patience = check_size(patience, f"{where} 'patience'", low=1)
        session_rng = None if seed is None else check_random_state(seed, f"{where} 'seed'")
        if session_name is not None and (not isinstance(session_name, str) or not session_name):
            raise TypeError(f"{where} 'session_name' must be a non-empty str; got {session_name!r}.")
        pruner_obj = _driver.make_pruner(pruner, f"{where} 'pruner'")
        if not isinstance(load_if_exists, bool):
            raise TypeError(f"{where} 'load_if_exists' must be a bool; got {load_if_exists!r}.")

        if load_if_exists and _build.stored_matches(
            storage, session_name, spec, distributions, direction, max_iterations, where
        ):
            assert session_name is not None
            return self.load_session(
                session_name, storage, objective_fn=objective_fn, seed=seed, pruner=pruner, sampler=spec[1]
            )

        with self._lock:
            self._check_capacity_locked()
            rng = self._rng if session_rng is None else session_rng
            int_seed = int(rng.integers(2**31 - 1))
        st = _build.build(
            records=records,
            distributions=distributions,
            initial=initial,
            spec=spec,
            direction=direction,
            max_iterations=max_iterations,
            threshold=threshold,
            patience=patience,
            seed=int_seed,
            storage=storage,
            session_id=new_id(),
            session_name=session_name,
            pruner=pruner_obj,
            objective_fn=objective_fn,
            clock=self._clock,
            registry=self._on_finished,
            where=where,
        )
        self._register(st)
        logger.debug(
            "Created tuning session %s: strategy=%s, direction=%s, parameters=%s, max_iterations=%d, storage=%s.",
            st.session.session_id,
            st.session.sampler_name or spec[0],
            direction,
            list(st.names),
            max_iterations,
            _storage.storage_kind(storage),
        )
        return st.session

    # --------------------------------------------------------------- resume

    def load_session(
        self,
        name: str,
        storage: Any,
        *,
        objective_fn: Callable[..., float] | None = None,
        seed: SeedLike = None,
        pruner: Any = None,
        sampler: BaseSampler | None = None,
        stale_after: float | None = None,
        ownerless_grace: float | None = None,
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
        sampler : optuna BaseSampler, optional
            The sampler of a session created with one as its ``strategy``
            (required then, and of the same class; refused otherwise).
        stale_after : float, optional
            Seconds after which a ``RUNNING`` trial of another host counts
            as stale.
        ownerless_grace : float, optional
            Seconds after which a ``RUNNING`` trial with no owner recorded
            (its process was killed between Optuna's ask and the tuner's
            owner write) counts as stale, on this tuner's clock; long
            enough that a live process still sampling it is never voided.
            :data:`autoopt.tuning._storage.OWNERLESS_GRACE_S` (60 s) when
            omitted.

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
        from autoopt.tuning import _build, _driver, _storage  # imports optuna

        ownerless_grace = (
            _storage.OWNERLESS_GRACE_S
            if ownerless_grace is None
            else check_real(ownerless_grace, f"{where} 'ownerless_grace'", low=0.0)
        )

        pruner_obj = _driver.make_pruner(pruner, f"{where} 'pruner'")
        if sampler is not None and not isinstance(sampler, _build.BaseSampler):
            raise TypeError(f"{where} 'sampler' must be an optuna BaseSampler instance; got {sampler!r:.80}.")
        backend, meta = _build.stored(storage, name, where)
        with self._lock:
            existing = self._sessions.get(meta.session_id)
        if existing is not None:
            return existing.session
        st, n_void = _build.load(
            backend=backend,
            meta=meta,
            name=name,
            storage=storage,
            sampler=sampler,
            seed=seed,
            pruner=pruner_obj,
            objective_fn=objective_fn,
            stale_after=stale_after,
            ownerless_grace=ownerless_grace,
            clock=self._clock,
            registry=self._on_finished,
            where=where,
        )
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
        return st.ask()

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
        return st.record(values, "ok", score, "record_result")

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
        with self._lock:
            st = self._require(session_id, "record_failure")
        if not isinstance(message, str):
            raise TypeError(
                f"record_failure() argument 'message' must be a str; "
                f"got {message!r} of type {type(message).__name__}."
            )
        return st.record(values, "error", message, "record_failure")

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
        from autoopt.tuning import _optimize

        with self._lock:
            st = self._require(session_id, "optimize")
        args = _optimize.check_args(
            st, objective, n_trials, timeout, n_jobs, backend, callbacks, show_progress_bar, catch
        )
        _optimize.run(st, args, lambda: self._ask(session_id, "optimize"), self._clock)
        return st.session
