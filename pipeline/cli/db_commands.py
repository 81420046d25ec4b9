"""`intake db upgrade` and `intake db current`: the database schema, for operations.

Every command already brings the schema up to date when it starts (`init_schema`), so a
forgotten step never leaves code and schema apart. These two exist for the upgrade
procedure (docs/runbook.md): stop the workers, `intake db upgrade`, start them again, so
that a migration runs once, in front of the operator, with its outcome on the screen,
rather than inside whichever worker or cron job happens to start first. `intake db
current` tells where a database stands without changing it.

What every command shares is `cli/common.py`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer

from pipeline.cli import common as cli

__all__ = ["current_command", "db_app", "upgrade_command"]

db_app = typer.Typer(
    help="The database schema: where it stands, and upgrading it.", no_args_is_help=True
)


@db_app.command("upgrade")
def upgrade_command() -> None:
    """Apply the schema migrations this version of Intake brings (none: nothing happens).

    Run it after installing a new version, with the workers and cron jobs stopped. It
    creates the schema in an empty database and adopts a database made before migrations
    existed. On PostgreSQL the whole upgrade is one transaction: if it fails, nothing has
    changed. Exit 1 with one line when the database cannot be used or upgraded.
    """
    from pipeline.storage import migrations
    from pipeline.storage.db import describe_url, make_engine, schema_state
    from pipeline.storage.db import upgrade_schema as upgrade

    current = cli.settings()
    where = describe_url(current.database_url)
    engine = make_engine(current.database_url)
    try:
        before = schema_state(engine)
        change = upgrade(engine)
    finally:
        engine.dispose()
    if not change.changed:
        cli.out.print(
            f"intake: {where} is up to date (schema revision {_revisions(change.after)})",
            markup=False,
        )
        return
    if change.adopted:
        cli.out.print(
            f"intake: {where} was made before schema migrations; recorded as revision "
            f"{migrations.BASELINE}",
            markup=False,
        )
    for revision in before.pending:
        cli.out.print(f"intake: applied {migrations.title(revision)}", markup=False)
    cli.out.print(f"intake: {where} is at schema revision {_revisions(change.after)}", markup=False)


@db_app.command("current")
def current_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON object instead of a line.")
    ] = False,
) -> None:
    """Show the database's schema revision and the migrations still to apply; changes nothing.

    Exit 0 whatever the revision; 1 when the database cannot be reached or was upgraded
    by a newer Intake than this one.
    """
    from pipeline.storage import migrations
    from pipeline.storage.db import describe_url, make_engine, schema_state

    current = cli.settings()
    where = describe_url(current.database_url)
    if _missing_sqlite_file(current.database_url):
        state = migrations.empty_state()  # connecting would create the file
    else:
        engine = make_engine(current.database_url)
        try:
            state = schema_state(engine)
        finally:
            engine.dispose()
    if as_json:
        payload = {
            "database": where,
            "current": list(state.current),
            "heads": list(state.heads),
            "pending": [
                {"revision": revision, "title": migrations.title(revision)}
                for revision in state.pending
            ],
            "legacy": state.legacy,
            "up_to_date": state.up_to_date,
        }
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        return
    if state.up_to_date:
        cli.out.print(
            f"intake: {where}: schema revision {_revisions(state.current)} (up to date)",
            markup=False,
        )
        return
    if state.legacy:
        status = "made before schema migrations (no revision recorded)"
    elif state.current:
        status = f"schema revision {_revisions(state.current)}"
    else:
        status = "empty (no schema yet)"
    cli.out.print(f"intake: {where}: {status}", markup=False)
    for revision in state.pending:
        cli.out.print(f"  to apply: {migrations.title(revision)}", markup=False)
    cli.out.print("  run `intake db upgrade` (with the workers stopped)", markup=False)


def _missing_sqlite_file(url: str) -> bool:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return False
    return not Path(parsed.database).exists()


def _revisions(revisions: tuple[str, ...]) -> str:
    return ", ".join(revisions) or "none"
