"""Shared fixtures: where the project's real data lives, a PostgreSQL server when one is reachable, and one
dask LocalCluster (2 worker processes of one thread, each declaring 2 'cpu') for the executor tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from benchmarks._shared import find_shared_data


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = find_shared_data()
    if path is None:
        pytest.skip(
            "the shared real-data folder was not found; set AUTOOPT_SHARED_DATA to the folder holding "
            "traces/ and nab/ (it lives at ../shared/data beside the repository)"
        )
    return path


POSTGRES_URL_VAR = "AUTOOPT_TEST_POSTGRES_URL"
POSTGRES_REQUIRED_VAR = "AUTOOPT_TEST_POSTGRES_REQUIRED"
NO_POSTGRES = (
    "no PostgreSQL server reachable: set AUTOOPT_TEST_POSTGRES_URL "
    "(e.g. postgresql+psycopg2://user:password@127.0.0.1:5432/database); .ci/run starts one, "
    "and `.ci/postgres.sh COMMAND` runs COMMAND with a throwaway server"
)


@dataclass(frozen=True)
class PostgresServer:
    url: str
    can_create_databases: bool


def _no_postgres(detail: str) -> NoReturn:
    """Skip, or fail when the CI set-up promised a server (AUTOOPT_TEST_POSTGRES_REQUIRED=1)."""
    reason = f"{NO_POSTGRES} ({detail})"
    if os.environ.get(POSTGRES_REQUIRED_VAR) == "1":
        pytest.fail(f"{POSTGRES_REQUIRED_VAR}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    url = os.environ.get(POSTGRES_URL_VAR, "").strip()
    if not url:
        _no_postgres(f"{POSTGRES_URL_VAR} is not set")
    try:
        import sqlalchemy as sa
    except ImportError as exc:
        _no_postgres(f"SQLAlchemy is not installed: {exc}")
    try:
        shown = repr(sa.engine.make_url(url))  # the password masked
    except Exception as exc:
        _no_postgres(f"{POSTGRES_URL_VAR} is not a database URL: {exc}")
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3}, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            can_create = bool(
                conn.execute(
                    sa.text("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user")
                ).scalar()
            )
        engine.dispose()
    except Exception as exc:  # any driver or connection error means "not reachable"
        cause = getattr(exc, "orig", None) or exc  # the driver's own error, without SQLAlchemy's wrapping
        _no_postgres(f"connecting to {shown} failed: {type(cause).__name__}: {' '.join(str(cause).split())}")
    return PostgresServer(url=url, can_create_databases=can_create)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A SQLAlchemy URL of a reachable PostgreSQL database, for ``optuna.storages.RDBStorage``.

    When the role may create databases (the server that ``.ci/postgres.sh`` starts), every test gets a
    fresh, empty database, dropped afterwards. Otherwise the test gets the database of
    ``AUTOOPT_TEST_POSTGRES_URL`` itself, shared with other tests. Either way, tests must use unique
    study names. Dropping the database uses ``WITH (FORCE)`` (PostgreSQL 13 or later).
    """
    if not postgres_server.can_create_databases:
        yield postgres_server.url
        return
    import sqlalchemy as sa

    base = sa.engine.make_url(postgres_server.url)
    name = f"autoopt_test_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(base, connect_args={"connect_timeout": 3}, poolclass=sa.pool.NullPool)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    """A client of the session's LocalCluster, started on first use."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            resources={"cpu": 2},
            dashboard_address=":0",
            silence_logs=40,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
