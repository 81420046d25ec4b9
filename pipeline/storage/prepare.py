"""Bring a database up to use: the schema migrated, the configuration's missions and
meetings loaded into it. Every command that touches the database starts here (the worker,
the desk's commands, the dashboard)."""

from __future__ import annotations

import weakref

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from pipeline.settings.models import Settings
from pipeline.storage.db import DatabaseError, describe_url, init_schema, make_engine, session_scope
from pipeline.storage.sync import sync_reference_data

# Engines whose schema this process already brought up to date: a long-running worker
# checks the migrations once, not before every poll (about 150 ms each).
_migrated: weakref.WeakSet[Engine] = weakref.WeakSet()


def prepare(settings: Settings, engine: Engine | None = None) -> Engine:
    """Open the database, create missing tables and load the configuration into it."""
    engine = engine or make_engine(settings.database_url, echo=settings.database.echo)
    if engine not in _migrated:
        init_schema(engine)
        _migrated.add(engine)
    try:
        with session_scope(engine) as session:
            sync_reference_data(session, settings)
    except OperationalError as error:
        raise DatabaseError(
            f"cannot use the database at {describe_url(settings.database_url)}: "
            f"{str(error.orig).strip().splitlines()[0]}"
        ) from None
    return engine
