"""Where workflow runs are kept: the run, its steps and an event log, in SQLite or PostgreSQL.

Three tables (SQLAlchemy Core, so the same statements run on both) and a
fourth holding the schema version:

``autoopt_wf_runs``
    one row per run: the workflow (its runbook JSON and SHA-256), the run
    parameters with secrets redacted, the state and cause, and the lease:
    ``epoch``, ``owner`` (host, pid, start time) and ``lease_until``.
``autoopt_wf_steps``
    one row per step: state, attempts, idempotency key, times, output
    (JSON), error, completion order, and the state of its compensation.
``autoopt_wf_events``
    an append-only log of every transition, with the attempt and the epoch
    of the driver that wrote it.

**Fencing.** Every write a driver makes runs in one transaction that first
updates the run's row *where its epoch is still the driver's*; when another
driver has taken the run (a higher epoch) the update matches nothing and the
write raises :class:`FencedError`, changing nothing. The row update also
serialises the write against a concurrent take-over (PostgreSQL's row lock;
SQLite's database lock). A step's end is recorded only while that attempt is
the step's running one, so a late or repeated completion records nothing.

Times are seconds since the epoch from the driver's clock; leases compare
them across hosts, so drivers on several machines need synchronised clocks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from autoopt.core.owner import owner_alive, owner_token

__all__ = ["DEFAULT_STORE", "SCHEMA_VERSION", "FencedError", "Lease", "LeaseHeldError", "RunStore"]

logger = logging.getLogger(__name__)

DEFAULT_STORE = "sqlite:///autoopt_workflows.db"
"""Where runs are kept when no store is given: an SQLite file in the working directory."""

SCHEMA_VERSION = 1
"""Version of the tables' layout; a store written by another version is refused, never guessed at."""

_md = sa.MetaData()
_meta = sa.Table(
    "autoopt_wf_meta",
    _md,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
)
_runs = sa.Table(
    "autoopt_wf_runs",
    _md,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("workflow", sa.String(255), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("cause", sa.Text),
    sa.Column("epoch", sa.Integer, nullable=False),
    sa.Column("owner", sa.Text),
    sa.Column("lease_until", sa.Float, nullable=False),
    sa.Column("cancel_requested", sa.Boolean, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
)
_steps = sa.Table(
    "autoopt_wf_steps",
    _md,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("step_id", sa.String(255), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("key", sa.String(320), nullable=False),
    sa.Column("started", sa.Float),
    sa.Column("ended", sa.Float),
    sa.Column("output", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("seq", sa.Integer),
    sa.Column("comp_state", sa.String(16)),
    sa.Column("comp_error", sa.Text),
)
_events = sa.Table(
    "autoopt_wf_events",
    _md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False, index=True),
    sa.Column("step_id", sa.String(255)),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("attempt", sa.Integer),
    sa.Column("epoch", sa.Integer, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("detail", sa.Text),
)


class FencedError(RuntimeError):
    """A driver wrote to a run it no longer holds: another driver took the lease (a higher epoch)."""


class LeaseHeldError(RuntimeError):
    """The run's lease is held by a live driver; two drivers never run one run at once."""


@dataclass(frozen=True)
class Lease:
    """A driver's hold on a run: the run and the epoch it was granted (the fencing token)."""

    run_id: str
    epoch: int


class RunStore:
    """The durable record of workflow runs, in SQLite or PostgreSQL.

    Parameters
    ----------
    url : str, default :data:`DEFAULT_STORE`
        An SQLAlchemy URL (``"sqlite:///runs.db"``,
        ``"postgresql+psycopg2://user:pw@host/db"``) or a file path, read as
        an SQLite database. ``"sqlite://"`` is an in-memory database: one
        process, nothing survives it (tests).

    Examples
    --------
    >>> store = RunStore("sqlite://")
    >>> store.schema_version
    1
    >>> store.run_ids()
    []
    """

    def __init__(self, url: str = DEFAULT_STORE) -> None:
        if not isinstance(url, str) or not url:
            raise TypeError(f"RunStore() argument 'url' must be a non-empty str; got {url!r}")
        if "://" not in url:
            url = f"sqlite:///{url}"
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 60.0, "check_same_thread": False}
            if url in ("sqlite://", "sqlite:///:memory:"):
                kwargs["poolclass"] = sa.pool.StaticPool
        self.url = url
        self.engine = sa.create_engine(url, **kwargs)
        self.schema_version = self._init_schema()

    def __repr__(self) -> str:
        return f"RunStore({self.engine.url.render_as_string(hide_password=True)!r})"

    def _init_schema(self) -> int:
        _md.create_all(self.engine, checkfirst=True)
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(_meta.c.value).where(_meta.c.key == "schema_version")).first()
            if row is None:
                try:
                    conn.execute(sa.insert(_meta).values(key="schema_version", value=str(SCHEMA_VERSION)))
                except sa.exc.IntegrityError:  # another process wrote it first
                    conn.rollback()
                    return self._init_schema()
                return SCHEMA_VERSION
        found = int(row[0])
        if found != SCHEMA_VERSION:
            raise RuntimeError(
                f"RunStore({self.url!r}) holds workflow runs in schema version {found}; this autoopt "
                f"reads version {SCHEMA_VERSION}"
            )
        return found

    # ------------------------------------------------------------------ leases

    def create_run(
        self,
        run_id: str,
        *,
        workflow: str,
        digest: str,
        spec: Mapping[str, Any],
        params: Mapping[str, Any],
        steps: Mapping[str, str],
        lease_seconds: float,
        now: float,
    ) -> Lease:
        """Record a new run (every step PENDING, ``steps`` maps ids to idempotency keys) held at epoch 1.

        ``params`` must be JSON-serialisable (``TypeError`` otherwise; :func:`execute` checks them first).
        """
        owner = json.dumps(owner_token())
        with self.engine.begin() as conn:
            try:
                conn.execute(
                    sa.insert(_runs).values(
                        run_id=run_id, workflow=workflow, digest=digest, spec=json.dumps(spec),
                        params=json.dumps(params), state="RUNNING", cause=None, epoch=1,
                        owner=owner, lease_until=now + lease_seconds, cancel_requested=False,
                        created=now, updated=now,
                    )
                )  # fmt: skip
            except sa.exc.IntegrityError:
                raise ValueError(f"run_id {run_id!r} is already in {self!r}") from None
            conn.execute(
                sa.insert(_steps),
                [{"run_id": run_id, "step_id": s, "state": "PENDING", "attempts": 0, "key": k}
                 for s, k in steps.items()],
            )  # fmt: skip
            self._event(conn, run_id, None, "created", None, 1, now, None)
        return Lease(run_id, 1)

    def acquire(self, run_id: str, *, lease_seconds: float, now: float) -> Lease:
        """Take the run's lease at the next epoch; :class:`LeaseHeldError` while a live driver holds it.

        The lease can be taken when it was released, when it expired, or
        when its holder ran on this host and that process is gone (a driver
        killed with ``kill -9`` need not be waited out).
        """
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(_runs.c.epoch, _runs.c.owner, _runs.c.lease_until).where(_runs.c.run_id == run_id)
            ).first()
            if row is None:
                raise KeyError(f"run_id {run_id!r} is not in {self!r}")
            epoch, owner_text, until = row
            owner = json.loads(owner_text) if owner_text else None
            if owner is not None and until > now:
                here = owner_token()
                gone = owner.get("host") == here["host"] and not owner_alive(owner)
                if owner == here or not gone:
                    raise LeaseHeldError(
                        f"run {run_id!r} is held by process {owner.get('pid')} on {owner.get('host')} "
                        f"(epoch {epoch}) for {until - now:.1f} s more; two drivers never run one run"
                    )
            done = conn.execute(
                sa.update(_runs)
                .where(_runs.c.run_id == run_id, _runs.c.epoch == epoch)
                .values(epoch=epoch + 1, owner=json.dumps(owner_token()), lease_until=now + lease_seconds,
                        updated=now)
            )  # fmt: skip
            if done.rowcount != 1:
                raise LeaseHeldError(f"run {run_id!r} was taken by another driver at the same moment")
            self._event(conn, run_id, None, "acquired", None, epoch + 1, now, None)
        return Lease(run_id, epoch + 1)

    @contextmanager
    def _fenced(self, lease: Lease, now: float, **values: Any) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            done = conn.execute(
                sa.update(_runs)
                .where(_runs.c.run_id == lease.run_id, _runs.c.epoch == lease.epoch)
                .values(updated=now, **values)
            )
            if done.rowcount != 1:
                raise FencedError(
                    f"run {lease.run_id!r}: this driver's lease (epoch {lease.epoch}) was taken over; "
                    "its writes are rejected"
                )
            yield conn

    def renew(self, lease: Lease, *, lease_seconds: float, now: float) -> None:
        """Extend the lease to ``now + lease_seconds`` (:class:`FencedError` when it was taken over)."""
        with self._fenced(lease, now, lease_until=now + lease_seconds):
            pass

    def release(self, lease: Lease, *, now: float) -> None:
        """Give the lease up, so another driver may take the run at once."""
        with self._fenced(lease, now, owner=None, lease_until=0.0):
            pass

    # ------------------------------------------------------------------ fenced writes

    def set_state(self, lease: Lease, state: str, *, now: float, cause: str | None = None) -> None:
        """Set the run's state (and its cause, when given)."""
        values: dict[str, Any] = {"state": state}
        if cause is not None:
            values["cause"] = cause
        with self._fenced(lease, now, **values) as conn:
            self._event(conn, lease.run_id, None, f"run_{state.lower()}", None, lease.epoch, now, cause)

    def step_started(self, lease: Lease, step_id: str, attempt: int, *, now: float) -> None:
        """Record attempt ``attempt`` (1 = the first) of ``step_id`` as RUNNING."""
        with self._fenced(lease, now) as conn:
            conn.execute(
                sa.update(_steps)
                .where(_steps.c.run_id == lease.run_id, _steps.c.step_id == step_id)
                .values(state="RUNNING", attempts=attempt, started=now, ended=None, error=None)
            )
            self._event(conn, lease.run_id, step_id, "started", attempt, lease.epoch, now, None)

    def step_ended(
        self,
        lease: Lease,
        step_id: str,
        attempt: int,
        state: str,
        *,
        now: float,
        output: str | None = None,
        error: str | None = None,
        seq: int | None = None,
    ) -> bool:
        """Record how attempt ``attempt`` ended; False (nothing written) unless it is the step's running attempt.

        ``state`` is ``SUCCEEDED`` (``output`` is its JSON and ``seq`` its
        completion number, 1 for the run's first step to succeed: the driver
        counts them), ``FAILED`` or ``TIMED_OUT``; the driver sets a step
        that will be retried back to ``PENDING``.
        """
        values: dict[str, Any] = {"state": state, "ended": now, "error": error}
        if state == "SUCCEEDED":
            if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
                raise ValueError(
                    f"step_ended() argument 'seq' must be an int >= 1 for SUCCEEDED; got {seq!r}"
                )
            values.update(output=output, seq=seq)
        with self._fenced(lease, now) as conn:
            done = conn.execute(
                sa.update(_steps)
                .where(_steps.c.run_id == lease.run_id, _steps.c.step_id == step_id,
                       _steps.c.state == "RUNNING", _steps.c.attempts == attempt)
                .values(**values)
            )  # fmt: skip
            if done.rowcount != 1:
                return False
            self._event(conn, lease.run_id, step_id, state.lower(), attempt, lease.epoch, now, error)
        return True

    def step_pending(self, lease: Lease, step_id: str, *, now: float, detail: str | None = None) -> None:
        """Put a step back to PENDING (a retry is due, or a resumed run re-runs an interrupted attempt)."""
        with self._fenced(lease, now) as conn:
            conn.execute(
                sa.update(_steps)
                .where(_steps.c.run_id == lease.run_id, _steps.c.step_id == step_id)
                .values(state="PENDING")
            )
            self._event(conn, lease.run_id, step_id, "pending", None, lease.epoch, now, detail)

    def step_interrupted(self, lease: Lease, step_id: str, attempt: int, *, now: float) -> bool:
        """A resumed run found ``attempt`` of ``step_id`` RUNNING (its driver died): back to PENDING, and
        an ``interrupted`` event, so the attempt is run again without counting as a failure.

        Returns False, writing nothing, when that attempt is no longer the step's running one.
        """
        with self._fenced(lease, now) as conn:
            done = conn.execute(
                sa.update(_steps)
                .where(_steps.c.run_id == lease.run_id, _steps.c.step_id == step_id,
                       _steps.c.state == "RUNNING", _steps.c.attempts == attempt)
                .values(state="PENDING", error=None)
            )  # fmt: skip
            if done.rowcount != 1:
                return False
            self._event(conn, lease.run_id, step_id, "interrupted", attempt, lease.epoch, now, None)
        return True

    def interruptions(self, run_id: str) -> dict[str, int]:
        """How many attempts of each step were cut short by a driver's death (``interrupted`` events)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(_events.c.step_id, sa.func.count())
                .where(_events.c.run_id == run_id, _events.c.event == "interrupted")
                .group_by(_events.c.step_id)
            )
            return {r[0]: int(r[1]) for r in rows}

    def step_final(self, lease: Lease, step_id: str, state: str, reason: str, *, now: float) -> None:
        """Mark a step that will not run (``SKIPPED``, ``CANCELLED``) or can't be retried (``FAILED``)."""
        with self._fenced(lease, now) as conn:
            conn.execute(
                sa.update(_steps)
                .where(_steps.c.run_id == lease.run_id, _steps.c.step_id == step_id)
                .values(state=state, error=reason, ended=now)
            )
            self._event(conn, lease.run_id, step_id, state.lower(), None, lease.epoch, now, reason)

    def compensation(
        self, lease: Lease, step_id: str, state: str, *, now: float, error: str | None = None
    ) -> None:
        """Record the state of ``step_id``'s compensation (``RUNNING``, ``SUCCEEDED`` or ``FAILED``)."""
        with self._fenced(lease, now) as conn:
            conn.execute(
                sa.update(_steps)
                .where(_steps.c.run_id == lease.run_id, _steps.c.step_id == step_id)
                .values(comp_state=state, comp_error=error)
            )
            event = "compensation_" + state.lower()
            self._event(conn, lease.run_id, step_id, event, None, lease.epoch, now, error)

    def request_cancel(self, run_id: str) -> None:
        """Ask the driver of ``run_id`` to cancel it (it checks between steps); any process may ask."""
        with self.engine.begin() as conn:
            done = conn.execute(
                sa.update(_runs).where(_runs.c.run_id == run_id).values(cancel_requested=True)
            )
            if done.rowcount != 1:
                raise KeyError(f"run_id {run_id!r} is not in {self!r}")

    def cancel_requested(self, run_id: str) -> bool:
        """Whether a cancel was asked for."""
        with self.engine.connect() as conn:
            return bool(
                conn.execute(sa.select(_runs.c.cancel_requested).where(_runs.c.run_id == run_id)).scalar_one()
            )

    @staticmethod
    def _event(
        conn: sa.Connection, run_id: str, step_id: str | None, event: str, attempt: int | None,
        epoch: int, at: float, detail: str | None,
    ) -> None:  # fmt: skip
        conn.execute(
            sa.insert(_events).values(
                run_id=run_id, step_id=step_id, event=event, attempt=attempt, epoch=epoch, at=at,
                detail=detail,
            )
        )  # fmt: skip

    # ------------------------------------------------------------------ reads

    def load(self, run_id: str) -> dict[str, Any]:
        """The run's row and its steps' rows, as plain dicts (``KeyError`` for an unknown run)."""
        with self.engine.connect() as conn:
            run = conn.execute(sa.select(_runs).where(_runs.c.run_id == run_id)).mappings().first()
            if run is None:
                raise KeyError(f"run_id {run_id!r} is not in {self!r}")
            steps = conn.execute(sa.select(_steps).where(_steps.c.run_id == run_id)).mappings().all()
        out = dict(run)
        out["spec"] = json.loads(out["spec"])
        out["params"] = json.loads(out["params"])
        out["owner"] = json.loads(out["owner"]) if out["owner"] else None
        out["steps"] = {s["step_id"]: dict(s) for s in steps}
        return out

    def events(self, run_id: str) -> list[dict[str, Any]]:
        """The run's event log, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(_events).where(_events.c.run_id == run_id).order_by(_events.c.id)
            ).mappings()
            return [dict(r) for r in rows]

    def run_ids(self) -> list[str]:
        """Every run in the store, oldest first."""
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(sa.select(_runs.c.run_id).order_by(_runs.c.created))]
