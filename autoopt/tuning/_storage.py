"""Where tuning sessions live: Optuna storages, the session record kept in them, stale trials.

Three kinds of storage, chosen by the ``storage`` argument of
:meth:`~autoopt.tuning.SelfTuner.create_session`:

==========================  ===================================================
``storage``                 use it for
==========================  ===================================================
``None``                    one process; nothing survives it. No I/O at all:
                            the fastest, the default.
a file path                 Optuna's journal file (``JournalFileBackend``):
                            crash-safe appends, several processes on one
                            machine (or a shared file system with working
                            ``flock``/``open(O_EXCL)`` locks). ~3 ms per trial
                            here (``benchmarks/bench_storage.py``). A process
                            killed while it holds the journal's lock file
                            stalls the others until Optuna breaks the lock
                            (its ``grace_period``, 30 s by default; pass a
                            ``JournalStorage`` built with your own lock to
                            change it).
``"sqlite:///x.db"``        a single file readable with SQL tools; one writer
                            at a time; ~21 ms per trial here.
``"postgresql://..."``      several machines tuning one session; survives any
                            one of them; ~30 ms per trial on loopback.
an Optuna storage object    anything else Optuna supports.
==========================  ===================================================

The session's own description (parameters, strategy, budget, seed) is kept
as the study's user attribute ``"autoopt"``, so
:meth:`~autoopt.tuning.SelfTuner.load_session` can rebuild it from the
storage alone. Every trial a tuner hands out carries the user attribute
``"autoopt:owner"`` (host, process id and the process's start time); a
trial still ``RUNNING`` whose owner process is gone is *stale*. Trials the
tuner created but that do not count (stale ones failed on resume, surplus
asks beyond the budget by concurrent processes) carry ``"autoopt:void"``
with the reason.

This module imports Optuna; :mod:`autoopt.tuning` loads it lazily.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, distribution_to_json, json_to_distribution
from optuna.storages import BaseStorage, InMemoryStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from autoopt.core.owner import owner_alive, owner_token
from autoopt.tuning._optuna_private import set_frozen_trial_user_attr

__all__ = [
    "FAILURE_ATTR",
    "META_KEY",
    "OWNERLESS_GRACE_S",
    "OWNER_KEY",
    "STUDY_PREFIX",
    "VOID_KEY",
    "SessionMeta",
    "is_stale",
    "new_study",
    "open_storage",
    "owner_token",
    "storage_kind",
    "stored_meta",
    "void_trial",
]

logger = logging.getLogger(__name__)

META_KEY = "autoopt"
OWNER_KEY = "autoopt:owner"
VOID_KEY = "autoopt:void"
FAILURE_ATTR = "failure"  # the user attribute holding a failed or pruned trial's message
STUDY_PREFIX = "autoopt-tuning-"
_META_VERSION = 1

OWNERLESS_GRACE_S = 60.0
"""Seconds after its start before a ``RUNNING`` trial with no owner recorded counts as stale.

``study.ask()`` writes the trial (and samples it: a Gaussian process fit can
take seconds) before the tuner writes the owner, so a trial seen without an
owner may belong to a live process that is still between the two writes; one
that stays ownerless this long belongs to a process killed in that window."""


def storage_kind(storage: Any) -> str:
    """``"memory"``, ``"journal"``, ``"rdb"`` or ``"custom"`` for a ``storage`` argument."""
    if storage is None:
        return "memory"
    if isinstance(storage, BaseStorage):
        return "memory" if isinstance(storage, InMemoryStorage) else "custom"
    return "rdb" if "://" in os.fspath(storage) else "journal"


def open_storage(storage: Any, where: str, *, must_exist: bool = False) -> BaseStorage:
    """The Optuna storage for a ``storage`` argument (see the module docstring).

    With ``must_exist`` (loading, not creating), a journal file or SQLite database that does not
    exist is an error, and nothing is created; other database URLs are opened as given.

    Raises
    ------
    TypeError
        ``storage`` is not None, a string, a path or an Optuna storage.
    ValueError
        The URL cannot be opened (the message says why), or with ``must_exist`` the file is missing.
    """
    if storage is None:
        return InMemoryStorage()
    if isinstance(storage, BaseStorage):
        return storage
    if not isinstance(storage, (str, os.PathLike)):
        raise TypeError(
            f"{where} must be None, a journal file path, a database URL or an optuna storage; "
            f"got {storage!r} of type {type(storage).__name__}."
        )
    location = os.fspath(storage)
    if not location:
        raise ValueError(f"{where} must not be empty.")
    if must_exist:
        path = _file_of(location)
        if path is not None and not os.path.exists(path):
            raise ValueError(
                f"{where}: {path!r} does not exist; nothing was created (create_session makes it)."
            )
    try:
        if "://" in location:
            return RDBStorage(location)
        return JournalStorage(JournalFileBackend(location))
    except Exception as exc:  # the driver's or SQLAlchemy's error, with the location named
        raise ValueError(
            f"{where}: cannot open the storage {location!r}: {type(exc).__name__}: {exc}"
        ) from exc


def _file_of(location: str) -> str | None:
    """The file a journal path or a ``sqlite:///`` URL names (None for in-memory SQLite and servers)."""
    if "://" not in location:
        return location
    scheme, _, rest = location.partition("://")
    if scheme.split("+")[0] != "sqlite":
        return None
    path = rest[1:] if rest.startswith("/") else rest  # sqlite:///relative, sqlite:////absolute
    path = path.split("?")[0]
    return None if path in ("", ":memory:") else path


class _OwnStudyCreatedFilter(logging.Filter):
    """Drop Optuna's INFO line "A new study created in memory ..." for the tuner's own studies only."""

    _PREFIX = "A new study created in memory with name: " + STUDY_PREFIX

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self._PREFIX)


@functools.cache
def _quiet_own_study_creation() -> None:
    # InMemoryStorage.create_new_study logs one INFO line per study. Rather than lowering Optuna's
    # verbosity (global state the user owns), filter out just the lines naming our studies, on the
    # one logger that emits them; functools.cache makes this run once (it is thread-safe enough:
    # a second filter would be harmless).
    logging.getLogger("optuna.storages._in_memory").addFilter(_OwnStudyCreatedFilter())


def new_study(
    backend: BaseStorage,
    name: str,
    direction: str,
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
    where: str,
) -> optuna.Study:
    """A new study ``name`` in ``backend``; ``ValueError`` naming ``session_name`` if it exists."""
    if isinstance(backend, InMemoryStorage):
        _quiet_own_study_creation()
    try:
        return optuna.create_study(
            storage=backend,
            study_name=name,
            direction="minimize" if direction == "minimize" else "maximize",
            sampler=sampler,
            pruner=pruner,
        )
    except optuna.exceptions.DuplicatedStudyError:
        raise ValueError(
            f"{where} 'session_name': the storage already holds a study named {name!r}; "
            "resume it with SelfTuner.load_session() or pick another name."
        ) from None


# ------------------------------------------------------------ session record


@dataclass(frozen=True, slots=True)
class SessionMeta:
    """What a persisted session needs to be rebuilt by another process."""

    session_id: str
    strategy: str
    distributions: dict[str, BaseDistribution]
    initial: dict[str, Any]
    max_iterations: int
    convergence_threshold: float
    patience: int | None
    seed: int
    direction: str = "maximize"
    sampler_name: str | None = (
        None  # a user's Optuna sampler (strategy "custom"); load_session needs it again
    )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": _META_VERSION,
            "session_id": self.session_id,
            "strategy": self.strategy,
            "parameters": {
                name: {"distribution": distribution_to_json(d), "initial": self.initial.get(name)}
                for name, d in self.distributions.items()
            },
            "max_iterations": self.max_iterations,
            "convergence_threshold": self.convergence_threshold,
            "patience": self.patience,
            "seed": self.seed,
            "direction": self.direction,
            "sampler_name": self.sampler_name,
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> SessionMeta:
        if not isinstance(data, Mapping) or data.get("version") != _META_VERSION:
            raise ValueError(
                f"{where}: the study was not created by autoopt's SelfTuner (no session record)."
            )
        params = data["parameters"]
        return cls(
            session_id=str(data["session_id"]),
            strategy=str(data["strategy"]),
            distributions={n: json_to_distribution(p["distribution"]) for n, p in params.items()},
            initial={n: p["initial"] for n, p in params.items()},
            max_iterations=int(data["max_iterations"]),
            convergence_threshold=float(data["convergence_threshold"]),
            patience=None if data["patience"] is None else int(data["patience"]),
            seed=int(data["seed"]),
            direction=str(data.get("direction", "maximize")),  # sessions stored before 'direction' maximise
            sampler_name=None if data.get("sampler_name") is None else str(data["sampler_name"]),
        )


def stored_meta(storage: Any, name: str, where: str) -> SessionMeta | None:
    """The session record of study ``name`` in ``storage``, or None when there is no such study.

    Raises ValueError if the study exists but was not created by a SelfTuner.
    """
    backend = open_storage(storage, where)
    try:
        study = optuna.load_study(study_name=name, storage=backend)
    except KeyError:
        return None
    return SessionMeta.from_json(study.user_attrs.get(META_KEY), f"the study {name!r}")


# ------------------------------------------------------------ trial owners


def is_stale(
    trial: FrozenTrial,
    *,
    stale_after: float | None,
    now: datetime | None = None,
    ownerless_grace: float = OWNERLESS_GRACE_S,
) -> str | None:
    """Why a ``RUNNING`` trial is stale, or ``None`` if it may still be running.

    A trial whose owner ran on this host is stale when that process is gone.
    One with no owner recorded is stale once it started more than
    ``ownerless_grace`` seconds ago (see :data:`OWNERLESS_GRACE_S`), or
    ``stale_after`` if that is shorter. One of another host is stale only
    when it started more than ``stale_after`` seconds ago. ``now`` is the
    tuner's clock (the wall clock when omitted).
    """
    if trial.state != TrialState.RUNNING:
        return None
    owner = trial.user_attrs.get(OWNER_KEY)
    if isinstance(owner, Mapping) and owner.get("host") == owner_token()["host"]:
        if not owner_alive(owner):
            return f"stale: its process {owner.get('pid')} on {owner.get('host')} is gone"
        return None
    if trial.datetime_start is None:
        return None
    start = trial.datetime_start
    if start.tzinfo is None:  # Optuna stores naive local times
        start = start.astimezone(UTC)
    age = ((now or datetime.now(UTC)) - start).total_seconds()
    if not isinstance(owner, Mapping):
        limit = ownerless_grace if stale_after is None else min(ownerless_grace, stale_after)
        if age > limit:
            return f"stale: no owner recorded {age:.0f} s after it started (its process died after the ask)"
        return None
    if stale_after is not None and age > stale_after:
        return f"stale: running for {age:.0f} s > stale_after={stale_after:g} s"
    return None


def void_trial(study: optuna.Study, trial: optuna.Trial | FrozenTrial, reason: str) -> bool:
    """Mark a ``RUNNING`` trial as not counting (user attribute ``VOID_KEY``) and fail it.

    Returns ``False`` when the trial had finished meanwhile (another process
    resuming the same session voided it first).
    """
    try:
        if isinstance(trial, FrozenTrial):
            set_frozen_trial_user_attr(study, trial, VOID_KEY, reason)
        else:
            trial.set_user_attr(VOID_KEY, reason)
        study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
    except optuna.exceptions.UpdateFinishedTrialError:  # finished between our read and our write
        return False
    return True
