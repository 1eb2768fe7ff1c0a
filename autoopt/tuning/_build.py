"""Building sessions: new ones, and stored ones resumed from an Optuna storage (persistence and replay).

:class:`~autoopt.tuning.SelfTuner` validates its arguments and registers
what these functions return; the state of a built session lives in
:class:`~autoopt.tuning._session.Session`.

This module imports Optuna; :mod:`autoopt.tuning` loads it lazily.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.pruners import BasePruner
from optuna.samplers import BaseSampler

from autoopt._clock import Clock, utcnow
from autoopt._validation import SeedLike, check_enum, check_random_state
from autoopt.enums import TuningStatus, TuningStrategy
from autoopt.models import TuningParameter, TuningSession
from autoopt.tuning import _storage
from autoopt.tuning._params import caster, checker, parse_parameter
from autoopt.tuning._session import Session
from autoopt.tuning.samplers import _strategies

__all__ = ["CUSTOM", "Spec", "build", "check_direction", "check_strategy", "load", "stored", "stored_matches"]

logger = logging.getLogger(__name__)

CUSTOM = "custom"
"""The stored ``strategy`` of a session searching with a user's Optuna sampler."""

Spec = tuple[TuningStrategy | None, BaseSampler | None]
"""A ``strategy`` argument resolved: the enum, or ``(None, the user's sampler)``."""

Registry = Callable[[str, bool], None]


def check_strategy(strategy: Any, where: str) -> Spec:
    """A ``TuningStrategy`` (or its value), or any Optuna ``BaseSampler`` instance."""
    if isinstance(strategy, BaseSampler):
        return None, strategy
    if isinstance(strategy, type) and issubclass(strategy, BaseSampler):
        raise TypeError(f"{where} takes a sampler instance, not the class: write {strategy.__name__}().")
    try:
        return check_enum(strategy, TuningStrategy, where), None
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{exc} An optuna BaseSampler instance is accepted too.") from None


def check_direction(direction: Any, where: str) -> str:
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"{where} must be 'maximize' or 'minimize'; got {direction!r:.40}.")
    return str(direction)


def sampler_name(sampler: BaseSampler) -> str:
    return type(sampler).__name__


def _plan(meta: _storage.SessionMeta, records: dict[str, TuningParameter], sampler: BaseSampler | None,
          seed: int) -> _strategies.StrategyPlan:  # fmt: skip
    if sampler is not None:
        return _strategies.StrategyPlan(sampler, _strategies.default_n_startup(meta.max_iterations))
    spec = _strategies.SearchSpec(records, meta.distributions, meta.initial, meta.max_iterations, seed)
    return _strategies.build_plan(TuningStrategy(meta.strategy), spec)


def _session(
    meta: _storage.SessionMeta,
    records: dict[str, TuningParameter],
    study: optuna.Study,
    plan: _strategies.StrategyPlan,
    objective_fn: Callable[..., float] | None,
    persistent: bool,
    location: Any,
    clock: Clock,
    registry: Registry,
    ownerless_grace: float,
) -> Session:
    from autoopt.tuning._results import trials_frame

    names = tuple(records)
    initial = meta.initial
    full_initial = all(initial.get(n) is not None for n in names)
    session = TuningSession(
        session_id=meta.session_id,
        parameters=records,
        strategy=None if meta.strategy == CUSTOM else TuningStrategy(meta.strategy),
        status=TuningStatus.IDLE,
        objective_fn=objective_fn,
        max_iterations=meta.max_iterations,
        convergence_threshold=meta.convergence_threshold,
        started_at=utcnow(clock),
        direction=meta.direction,
        sampler_name=meta.sampler_name,
        _trials_source=lambda: trials_frame(study, names),
    )
    return Session(
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
        maximize=meta.direction == "maximize",
        clock=clock,
        registry=registry,
        casts=tuple(caster(meta.distributions[n]) for n in names),
        checks=tuple(checker(meta.distributions[n]) for n in names),
        ownerless_grace=ownerless_grace,
        # Without an enqueued initial point, the very first trial is the sampler's own.
        initial_asked=all(initial.get(n) is None for n in names),
    )


def build(
    *,
    records: dict[str, TuningParameter],
    distributions: dict[str, BaseDistribution],
    initial: dict[str, Any],
    spec: Spec,
    direction: str,
    max_iterations: int,
    threshold: float,
    patience: int | None,
    seed: int,
    storage: Any,
    session_id: str,
    session_name: str | None,
    pruner: BasePruner,
    objective_fn: Callable[..., float] | None,
    clock: Clock,
    registry: Registry,
    where: str,
) -> Session:
    """A new session: its study created in ``storage``, the initial point enqueued."""
    kind, user_sampler = spec
    if kind is TuningStrategy.GRID_SEARCH:
        try:
            _strategies.parameter_grids(records)
        except ValueError as exc:
            raise ValueError(f"{where} 'parameters': {exc}") from None
    backend = _storage.open_storage(storage, f"{where} 'storage'")
    meta = _storage.SessionMeta(
        session_id,
        CUSTOM if kind is None else kind.value,
        distributions,
        initial,
        max_iterations,
        threshold,
        patience,
        seed,
        direction=direction,
        sampler_name=None if user_sampler is None else sampler_name(user_sampler),
    )
    name = session_name or _storage.STUDY_PREFIX + session_id
    persistent = _storage.storage_kind(storage) != "memory"
    plan = _plan(meta, records, user_sampler, seed)
    study = _storage.new_study(backend, name, direction, plan.sampler, pruner, where)
    if persistent:
        study.set_user_attr(_storage.META_KEY, meta.to_json())
    given = {n: v for n, v in initial.items() if v is not None}
    if given:
        study.enqueue_trial(given)
    location = storage if isinstance(storage, (str, os.PathLike)) else None
    return _session(meta, records, study, plan, objective_fn, persistent, location, clock, registry,
                    _storage.OWNERLESS_GRACE_S)  # fmt: skip


def stored_matches(
    storage: Any,
    name: str | None,
    spec: Spec,
    distributions: dict[str, BaseDistribution],
    direction: str,
    max_iterations: int,
    where: str,
) -> bool:
    """``create_session(load_if_exists=True)``: whether ``storage`` holds ``name`` to resume.

    Raises ``ValueError`` naming the field when the stored session differs from the one asked for.
    """
    if name is None or _storage.storage_kind(storage) == "memory":
        return False
    meta = _storage.stored_meta(storage, name, f"{where} 'storage'")
    if meta is None:
        return False
    kind, _ = spec
    wanted = {"parameters": distributions, "strategy": CUSTOM if kind is None else kind.value,
              "direction": direction, "max_iterations": max_iterations}  # fmt: skip
    have = {"parameters": meta.distributions, "strategy": meta.strategy, "direction": meta.direction,
            "max_iterations": meta.max_iterations}  # fmt: skip
    for field_name, value in wanted.items():
        if have[field_name] != value:
            raise ValueError(
                f"create_session(load_if_exists=True): the stored session {name!r} has "
                f"{field_name}={have[field_name]!r:.200}, not {value!r:.200}."
            )
    return True


def stored(storage: Any, name: str, where: str) -> tuple[optuna.storages.BaseStorage, _storage.SessionMeta]:
    """The storage and the session record of the stored session ``name`` (``ValueError`` if none)."""
    backend = _storage.open_storage(storage, f"{where} 'storage'", must_exist=True)
    try:
        probe = optuna.load_study(study_name=name, storage=backend)
    except KeyError:
        raise ValueError(
            f"{where} 'name': the storage {storage!r} holds no session named {name!r}."
        ) from None
    return backend, _storage.SessionMeta.from_json(
        probe.user_attrs.get(_storage.META_KEY), f"load_session({name!r})"
    )


def load(
    *,
    backend: optuna.storages.BaseStorage,
    meta: _storage.SessionMeta,
    name: str,
    storage: Any,
    sampler: BaseSampler | None,
    seed: SeedLike,
    pruner: BasePruner,
    objective_fn: Callable[..., float] | None,
    stale_after: float | None,
    ownerless_grace: float,
    clock: Clock,
    registry: Registry,
    where: str,
) -> tuple[Session, int]:
    """A stored session rebuilt, its trials replayed; and how many stale trials were voided."""
    if meta.strategy == CUSTOM:
        if sampler is None:
            raise ValueError(
                f"{where} 'sampler': the session {name!r} searches with a user's sampler "
                f"({meta.sampler_name}), which is not stored; pass it again as sampler=."
            )
        if sampler_name(sampler) != meta.sampler_name:
            raise ValueError(
                f"{where} 'sampler': the session {name!r} was created with a {meta.sampler_name}, "
                f"not a {sampler_name(sampler)}."
            )
    elif sampler is not None:
        raise ValueError(
            f"{where} 'sampler': the session {name!r} uses the strategy {meta.strategy!r}, which builds its own "
            "sampler; pass sampler= only for a session created with an optuna sampler as its strategy."
        )
    records = {}
    for pname, dist in meta.distributions.items():
        rec, _, _ = parse_parameter(pname, dist)
        if meta.initial.get(pname) is not None:
            rec.current_value = meta.initial[pname]
        records[pname] = rec
    probe = optuna.load_study(study_name=name, storage=backend)
    trials = probe.get_trials(deepcopy=False)
    if seed is None:  # distinct per process, so processes sharing a session do not propose the same points
        entropy = [meta.seed, len(trials), os.getpid()]
        int_seed = int(np.random.default_rng(entropy).integers(2**31 - 1))
    else:
        int_seed = int(check_random_state(seed, f"{where} 'seed'").integers(2**31 - 1))
    plan = _plan(meta, records, sampler, int_seed)
    study = optuna.load_study(study_name=name, storage=backend, sampler=plan.sampler, pruner=pruner)
    location = storage if isinstance(storage, (str, os.PathLike)) else None
    st = _session(meta, records, study, plan, objective_fn, True, location, clock, registry, ownerless_grace)
    return st, st.replay(trials, stale_after)
