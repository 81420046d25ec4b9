"""Database engines for SQLite (the embedded default) and PostgreSQL.

SQLite runs in WAL mode and every transaction starts with BEGIN IMMEDIATE: two processes
then queue for the write lock instead of failing with "database is locked" when a read
transaction tries to become a write transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import Session, SQLModel

from pipeline.storage import models  # noqa: F401  (registers the tables)


class DatabaseError(Exception):
    """The database cannot be reached or used; the message is one sentence for the operator."""


SQLITE_BUSY_TIMEOUT_S = 60


def make_engine(url: str, *, echo: bool = False) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url, echo=echo)
    return sa.create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    database = sa.engine.make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
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


# Serialises start-up work (creating tables, loading the configuration) between workers
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
    """Create missing tables. Raises DatabaseError with one clear sentence."""
    try:
        with engine.begin() as connection:
            startup_lock(connection)
            SQLModel.metadata.create_all(connection)
    except OperationalError as error:
        raise DatabaseError(
            f"cannot use the database at {describe_url(str(engine.url))}: "
            f"{_first_line(error.orig)}; check [database] url"
        ) from None
    except SQLAlchemyError as error:
        raise DatabaseError(
            f"the database at {describe_url(str(engine.url))} refused the schema: "
            f"{_first_line(error)}"
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
