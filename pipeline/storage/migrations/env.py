"""The Alembic environment: how a migration script reaches the database.

Alembic runs this file for every command. Intake always passes an open connection in
`config.attributes["connection"]`, already inside a transaction that holds the start-up
lock (`pipeline.storage.db.schema_transaction`); the migrations join that transaction
instead of opening their own, so the lock covers them and, on PostgreSQL, a failure
rolls everything back. There is no offline (`--sql`) mode: the scripts use batch
operations that need to read the live table on SQLite.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from pipeline.storage import models  # noqa: F401  (registers the tables)
from pipeline.storage.migrations import MigrationError, context_options


def run() -> None:
    """Run the migrations Alembic selected, inside the caller's transaction."""
    connection = context.config.attributes.get("connection")
    if context.is_offline_mode() or connection is None:
        raise MigrationError(
            "migrations run through Intake (`intake db upgrade`), which provides the "
            "connection and the lock; Alembic's own command line and --sql are not used"
        )
    context.configure(connection=connection, target_metadata=SQLModel.metadata, **context_options())
    with context.begin_transaction():
        context.run_migrations()


run()
