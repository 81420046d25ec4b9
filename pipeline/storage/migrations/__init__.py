"""Schema migrations with Alembic, run by Intake itself.

Why it looks like this:

- An installed `intake` must migrate its own database from any working directory, so the
  Alembic configuration is built here in code (no alembic.ini): the scripts ship inside
  the package (`versions/`), beside the environment (`env.py`).
- Migrations never open their own connection. `pipeline.storage.db.schema_transaction`
  hands them one inside a transaction that holds the start-up lock: two workers never
  migrate at once, and on PostgreSQL a migration that fails leaves nothing half done.
- Databases made by `create_all` before migrations existed (tables, no `alembic_version`)
  are recognised, checked against the baseline (`0001`) and stamped there, so they are
  upgraded like any other.
- New migrations are written by autogenerate (`python -m pipeline.storage.migrations
  revision -m "what changed"`, see `__main__.py`); `render_item` makes the project's own
  column types come out as plain SQLAlchemy types, so scripts never import the models.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from pipeline.errors import IntakeError
from pipeline.storage import models  # noqa: F401  (registers the tables)
from pipeline.storage.models import UTCDateTime

MIGRATIONS_DIR = Path(__file__).resolve().parent
VERSIONS_DIR = MIGRATIONS_DIR / "versions"
VERSION_TABLE = "alembic_version"
# The schema as it was when migrations were introduced: what `create_all` used to make.
BASELINE = "0001"

NEW_MIGRATION_COMMAND = '.venv/bin/python -m pipeline.storage.migrations revision -m "what changed"'


class MigrationError(IntakeError):
    """The schema cannot be brought up to date; the message is one sentence for the operator."""


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands against the migration scripts this Intake ships."""

    current: tuple[str, ...]  # the revision(s) recorded in the database; () when none
    heads: tuple[str, ...]  # the newest revision(s) known to this Intake
    pending: tuple[str, ...]  # what an upgrade would apply, oldest first
    legacy: bool  # tables made before migrations existed, not yet stamped

    @property
    def up_to_date(self) -> bool:
        return not self.pending and not self.legacy and set(self.current) == set(self.heads)


@dataclass(frozen=True)
class SchemaChange:
    """What an upgrade or downgrade did."""

    before: tuple[str, ...]
    after: tuple[str, ...]
    adopted: bool = False  # a pre-migration database was stamped at the baseline first

    @property
    def changed(self) -> bool:
        return self.adopted or self.before != self.after


def alembic_config(
    connection: sa.Connection | None = None, *, version_locations: Sequence[Path] = ()
) -> Config:
    """Alembic's configuration, in code. `version_locations` adds directories of scripts
    (the tests use it for a migration of their own); the package's come first."""
    config = Config()
    locations = [VERSIONS_DIR, *version_locations]
    config.set_main_option("script_location", _escape(str(MIGRATIONS_DIR)))
    config.set_main_option("path_separator", "os")
    config.set_main_option(
        "version_locations", os.pathsep.join(_escape(str(path)) for path in locations)
    )
    # 0002_add_crash_attempts.py: the number is the revision id (see __main__.py).
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.set_main_option("truncate_slug_length", "40")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _escape(value: str) -> str:
    # ConfigParser interpolation: a literal % is written %%.
    return value.replace("%", "%%")


@functools.cache
def _scripts(locations: tuple[Path, ...]) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(version_locations=locations))


def script_directory(version_locations: Sequence[Path] = ()) -> ScriptDirectory:
    """The migration scripts, read once per process (every command checks the schema)."""
    return _scripts(tuple(version_locations))


def title(revision: str, *, version_locations: Sequence[Path] = ()) -> str:
    """`0002 add crash attempts`: a revision with the first line of its docstring."""
    script = script_directory(version_locations).get_revision(revision)
    doc = " ".join((script.doc if script is not None else "").split())
    return f"{revision} {doc}".strip()


def context_options() -> dict[str, Any]:
    """How Alembic compares and renders; shared by env.py and `drift` so that the drift
    test sees exactly what autogenerate would write."""
    return {
        # SQLite cannot ALTER most things: batch operations copy the table and swap it.
        # Scripts are rendered that way whichever database they were generated against;
        # on PostgreSQL a batch operation is a plain ALTER.
        "render_as_batch": True,
        "compare_type": True,
        "render_item": render_item,
    }


def render_item(
    type_: str,
    obj: Any,
    autogen_context: AutogenContext,  # noqa: ARG001  (part of Alembic's hook interface)
) -> str | Literal[False]:
    """Plain SQLAlchemy types in scripts: a migration must not import the models (they
    change; the script must keep describing the schema of its day).

    - `UTCDateTime` is a `DateTime` without a zone (the conversion is in Python);
    - enums are stored as strings of 32 (`native_enum=False`, no CHECK constraint): a
      new enum member needs no migration;
    - SQLModel's `AutoString` is a `String`.
    """
    if type_ != "type":
        return False
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    if isinstance(obj, sa.Enum) and not obj.native_enum:
        return f"sa.String(length={obj.length})"
    if isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def empty_state(version_locations: Sequence[Path] = ()) -> SchemaState:
    """Where a database that does not exist yet stands: everything to apply."""
    scripts = script_directory(version_locations)
    pending = tuple(script.revision for script in reversed(list(scripts.walk_revisions())))
    return SchemaState(current=(), heads=tuple(scripts.get_heads()), pending=pending, legacy=False)


def state(connection: sa.Connection, *, version_locations: Sequence[Path] = ()) -> SchemaState:
    """Where the database stands; reads only."""
    scripts = script_directory(version_locations)
    current = _current(connection, scripts)
    heads = tuple(scripts.get_heads())
    legacy = not current and _looks_legacy(connection)
    done: set[str] = set()
    for revision in current:
        done.update(script.revision for script in scripts.iterate_revisions(revision, "base"))
    if legacy:
        done.update(script.revision for script in scripts.iterate_revisions(BASELINE, "base"))
    pending = tuple(
        script.revision
        for script in reversed(list(scripts.walk_revisions()))
        if script.revision not in done
    )
    return SchemaState(current=current, heads=heads, pending=pending, legacy=legacy)


def upgrade(
    connection: sa.Connection, target: str = "head", *, version_locations: Sequence[Path] = ()
) -> SchemaChange:
    """Bring the schema to `target`. The caller holds the transaction and the lock.

    A database with tables but no recorded revision was made by `create_all` before
    migrations existed: it is checked against the baseline and stamped there first. A
    version row left behind after the models' tables were dropped means an empty database.
    """
    scripts = script_directory(version_locations)
    tables = set(sa.inspect(connection).get_table_names())
    adopted = False
    if VERSION_TABLE in tables and not tables & set(SQLModel.metadata.tables):
        # `drop_all` of the models (the tests do it) leaves alembic_version behind.
        connection.execute(sa.text("DELETE FROM alembic_version"))
    current = _current(connection, scripts)
    if not current and _looks_legacy(connection):
        _check_legacy(connection)
        _run(command.stamp, connection, BASELINE, version_locations)
        adopted = True
        current = (BASELINE,)
    if target == "head" and set(current) == set(scripts.get_heads()):
        return SchemaChange(before=current, after=current, adopted=adopted)
    _run(command.upgrade, connection, target, version_locations)
    return SchemaChange(before=current, after=_current(connection, scripts), adopted=adopted)


def downgrade(
    connection: sa.Connection, target: str, *, version_locations: Sequence[Path] = ()
) -> SchemaChange:
    """Step the schema back to `target` (a revision, or "base"). For development and tests:
    in production, restore the backup taken before the upgrade instead (docs/runbook.md)."""
    scripts = script_directory(version_locations)
    before = _current(connection, scripts)
    _run(command.downgrade, connection, target, version_locations)
    return SchemaChange(before=before, after=_current(connection, scripts))


def drift(connection: sa.Connection, metadata: sa.MetaData | None = None) -> list[Any]:
    """What autogenerate would put in a new migration: [] when the models and the database
    agree. Run against a database at head, it tells whether a migration is missing."""
    context = MigrationContext.configure(connection, opts=context_options())
    differences: list[Any] = compare_metadata(context, metadata or SQLModel.metadata)
    return differences


def describe_drift(differences: Sequence[Any]) -> str:
    """One line per difference, readable in a test failure or a terminal."""
    lines: list[str] = []
    for difference in differences:
        items = difference if isinstance(difference, list) else [difference]
        for item in items:
            lines.append(" ".join(_short(part) for part in item))
    return "\n".join(lines)


def _short(part: Any) -> str:
    if isinstance(part, sa.Table):
        return f"table {part.name}"
    if isinstance(part, sa.Column):
        return f"column {part.table.name}.{part.name}" if part.table is not None else part.name
    if isinstance(part, sa.Index):
        return f"index {part.name}"
    return str(part)


def _current(connection: sa.Connection, scripts: ScriptDirectory) -> tuple[str, ...]:
    """The revision(s) in alembic_version, each checked to be one this Intake knows."""
    context = MigrationContext.configure(connection)
    current = tuple(context.get_current_heads())
    for revision in current:
        try:
            known = scripts.get_revision(revision)
        except CommandError:
            known = None
        if known is None:
            raise MigrationError(
                f"the database is at schema revision {revision}, which this version of "
                "Intake does not know: a newer Intake has upgraded it; run that version, or "
                "restore the backup taken before the upgrade"
            )
    return current


def _looks_legacy(connection: sa.Connection) -> bool:
    """Tables of Intake's baseline present: the database predates migrations."""
    tables = set(sa.inspect(connection).get_table_names()) - {VERSION_TABLE}
    return bool(tables) and bool(tables & set(_baseline_columns()))


def _check_legacy(connection: sa.Connection) -> None:
    """Refuse to stamp a database older than the baseline: its missing columns would
    fail later, in the middle of filing a message."""
    inspector = sa.inspect(connection)
    existing = set(inspector.get_table_names())
    missing: list[str] = []
    for table, columns in sorted(_baseline_columns().items()):
        if table not in existing:
            missing.append(f"table {table}")
            continue
        present = {column["name"] for column in inspector.get_columns(table)}
        missing.extend(f"{table}.{column}" for column in sorted(columns - present))
    if missing:
        shown = ", ".join(missing[:5]) + (f" (and {len(missing) - 5} more)" if missing[5:] else "")
        raise MigrationError(
            "the database was made by an Intake older than its schema migrations and lacks "
            f"{shown}; add them by hand or move the data into a new database "
            "(docs/runbook.md, 'Upgrading')"
        )


@functools.cache
def _baseline_columns() -> dict[str, frozenset[str]]:
    """The baseline's tables and columns, read from migration 0001 itself (applied to a
    scratch in-memory database), so they are never written down twice."""
    engine = sa.create_engine("sqlite://")
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), BASELINE)
            inspector = sa.inspect(connection)
            return {
                table: frozenset(column["name"] for column in inspector.get_columns(table))
                for table in inspector.get_table_names()
                if table != VERSION_TABLE
            }
    finally:
        engine.dispose()


def _run(
    action: Callable[[Config, str], None],
    connection: sa.Connection,
    target: str,
    version_locations: Sequence[Path],
) -> None:
    try:
        action(alembic_config(connection, version_locations=version_locations), target)
    except CommandError as error:
        raise MigrationError(f"cannot migrate the schema to {target}: {error}") from None
