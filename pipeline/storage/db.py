"""Database engines for SQLite (the embedded default) and PostgreSQL.

SQLite runs in WAL mode and every transaction starts with BEGIN IMMEDIATE: two processes
then queue for the write lock instead of failing with "database is locked" when a read
transaction tries to become a write transaction.

The schema is made and upgraded by the Alembic migrations in `migrations/`, never by
`create_all`: `init_schema`, which every command calls, applies the missing ones in one
transaction under the start-up lock, so a new version's schema arrives with its code.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import Session

from pipeline.errors import IntakeError
from pipeline.storage import (
    migrations,
    models,  # noqa: F401  (registers the tables)
)
from pipeline.storage.migrations import SchemaChange, SchemaState
from pipeline.storage.private import private_file, private_folder


class DatabaseError(IntakeError):
    """The database cannot be reached or used; the message is one sentence for the operator."""


SQLITE_BUSY_TIMEOUT_S = 60


def make_engine(url: str, *, echo: bool = False) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url, echo=echo)
    return sa.create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    database = sa.engine.make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        # For Intake's user alone (0700, 0600): SQLite makes -wal and -shm like the file.
        private_folder(Path(database).parent)
        private_file(Path(database))
    engine = sa.create_engine(
        url,
        echo=echo,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "isolation_level": None},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


# Serialises start-up work (migrating the schema, loading the configuration) between workers
# that share a PostgreSQL database; SQLite's BEGIN IMMEDIATE already does.
_STARTUP_LOCK_KEY = 0x1A7A4E


def startup_lock(connection: sa.Connection | Session) -> None:
    """Hold a transaction-scoped lock so two workers never set up the database at once."""
    bind = connection.get_bind() if isinstance(connection, Session) else connection
    if bind.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _STARTUP_LOCK_KEY}
        )


def init_schema(engine: Engine) -> None:
    """Bring the schema up to date: create it in an empty database, apply the migrations a
    new version brought, adopt a database made before migrations existed. Every command
    calls it, so an upgraded Intake never meets a schema older than its code. Raises
    DatabaseError with one clear sentence."""
    upgrade_schema(engine)


def upgrade_schema(
    engine: Engine, target: str = "head", *, version_locations: Sequence[Path] = ()
) -> SchemaChange:
    """Apply the migrations up to `target`, in one transaction under the start-up lock."""
    with schema_transaction(engine) as connection:
        change = migrations.upgrade(connection, target, version_locations=version_locations)
        if change.changed:
            _check_references(connection)
    return change


def downgrade_schema(
    engine: Engine, target: str, *, version_locations: Sequence[Path] = ()
) -> SchemaChange:
    """Step the schema back (development and tests; production restores a backup)."""
    with schema_transaction(engine) as connection:
        change = migrations.downgrade(connection, target, version_locations=version_locations)
        _check_references(connection)
    return change


def schema_state(engine: Engine, *, version_locations: Sequence[Path] = ()) -> SchemaState:
    """Where the database stands against this Intake's migrations; changes nothing."""
    with _schema_errors(engine), engine.connect() as connection:
        return migrations.state(connection, version_locations=version_locations)


@contextmanager
def schema_transaction(engine: Engine) -> Iterator[sa.Connection]:
    """A connection for changing the schema: one transaction, under the start-up lock.

    On SQLite, foreign keys are off for its duration. Changing a table there means copying
    it and dropping the original (Alembic's batch mode), and with foreign keys on, that
    DROP would fail on, or cascade to, every row that refers to it. The pragma cannot
    change inside a transaction, so it is set before BEGIN and restored after, and
    `_check_references` proves before the commit that the copy kept every reference.
    """
    with _schema_errors(engine), engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _sqlite_foreign_keys(connection, enabled=False)
        try:
            with connection.begin():
                startup_lock(connection)
                yield connection
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, enabled=True)


def _sqlite_foreign_keys(connection: sa.Connection, *, enabled: bool) -> None:
    # Straight to the driver: through SQLAlchemy the statement would open a transaction
    # first (BEGIN IMMEDIATE, see _sqlite_engine), where SQLite ignores this pragma.
    try:
        driver = connection.connection.driver_connection
        assert driver is not None
        driver.execute(f"PRAGMA foreign_keys={'ON' if enabled else 'OFF'}")
    except sqlite3.Error:
        # Never hand a connection without foreign keys back to the pool.
        connection.invalidate()
        if not enabled:
            raise


def _check_references(connection: sa.Connection) -> None:
    if connection.dialect.name != "sqlite":
        return  # PostgreSQL checks every reference as it goes
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise migrations.MigrationError(
            f"the migration broke {len(broken)} reference(s) between tables (first in table "
            f"{broken[0][0]}); nothing was changed"
        )


@contextmanager
def _schema_errors(engine: Engine) -> Iterator[None]:
    """Every failure while checking or changing the schema becomes one DatabaseError."""
    where = describe_url(str(engine.url))
    try:
        yield
    except OperationalError as error:
        raise DatabaseError(
            f"cannot use the database at {where}: {_first_line(error.orig)}; check [database] url"
        ) from None
    except sqlite3.Error as error:  # from the pragmas, sent to the driver directly
        raise DatabaseError(f"cannot use the database at {where}: {_first_line(error)}") from None
    except migrations.MigrationError as error:
        raise DatabaseError(f"the database at {where} cannot be used: {error}") from None
    except SQLAlchemyError as error:
        raise DatabaseError(
            f"the database at {where} refused the schema: {_first_line(error)}"
        ) from None


def _first_line(error: object) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
