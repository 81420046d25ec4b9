"""Developer commands for the schema migrations, from a source checkout.

    .venv/bin/python -m pipeline.storage.migrations revision -m "add crash attempts"
    .venv/bin/python -m pipeline.storage.migrations revision -m "fill x" --empty
    .venv/bin/python -m pipeline.storage.migrations check

`revision` compares the models (`pipeline/storage/models.py`) with a scratch SQLite
database brought to the newest migration, and writes what differs as the next script,
`versions/NNNN_add_crash_attempts.py`, ready to review. A scratch database, not yours:
autogenerate needs a database exactly at head, and the result must not depend on whose
machine wrote it (scripts use batch operations, so they run on PostgreSQL too).
`check` fails when the models have changes no migration describes.

There is no alembic.ini: the configuration is built in code (`alembic_config`), because
an installed `intake` migrates its database from any directory (`intake db upgrade`).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from alembic import command

from pipeline.storage import migrations
from pipeline.storage.db import DatabaseError, make_engine, schema_transaction


def next_revision_id(version_locations: Sequence[Path] = ()) -> str | None:
    """`0002` after `0001`: numbered ids keep the files in order in a listing. None (a
    random id) if someone has used other ids."""
    heads = migrations.script_directory(version_locations).get_heads()
    if not heads:
        return "0001"
    if not all(head.isdigit() for head in heads):
        return None
    return f"{max(int(head) for head in heads) + 1:04d}"


def new_revision(
    message: str, *, empty: bool, versions_dir: Path = migrations.VERSIONS_DIR
) -> Path | None:
    """Write the next migration script; None when the models already match (nothing to do).

    `versions_dir` is for the tests, which write into a directory of their own."""
    extra = () if versions_dir == migrations.VERSIONS_DIR else (versions_dir,)
    with tempfile.TemporaryDirectory(prefix="intake-migrations-") as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'scratch.db'}")
        try:
            with schema_transaction(engine) as connection:
                migrations.upgrade(connection, version_locations=extra)
                if not empty and not migrations.drift(connection):
                    return None
                script = command.revision(
                    migrations.alembic_config(connection, version_locations=extra),
                    message=message,
                    autogenerate=not empty,
                    rev_id=next_revision_id(extra),
                    version_path=str(versions_dir),
                )
        finally:
            engine.dispose()
    assert script is not None
    assert not isinstance(script, list)
    path = Path(script.path)
    _tidy(path)
    return path


def _tidy(path: Path) -> None:
    """Let ruff sort the imports and format the new script, when it is installed."""
    beside = Path(sys.executable).parent / "ruff"
    ruff = str(beside) if beside.exists() else shutil.which("ruff")
    if ruff is None:
        return
    for arguments in (["format", "--quiet"], ["check", "--fix", "--quiet"]):
        subprocess.run([ruff, *arguments, str(path)], check=False)  # noqa: S603


def check() -> int:
    """0 when the models match the migrations; 1, listing the differences, when not."""
    with tempfile.TemporaryDirectory(prefix="intake-migrations-") as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'scratch.db'}")
        try:
            with schema_transaction(engine) as connection:
                migrations.upgrade(connection)
                differences = migrations.drift(connection)
        finally:
            engine.dispose()
    if not differences:
        print("migrations: the models match the newest migration")
        return 0
    print(
        "migrations: the models differ from the newest migration:\n"
        f"{migrations.describe_drift(differences)}\n"
        f"write a migration: {migrations.NEW_MIGRATION_COMMAND}",
        file=sys.stderr,
    )
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.storage.migrations",
        description="Write and check Intake's schema migrations (from a source checkout).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    revision = commands.add_parser(
        "revision", help="write the next migration from the changes in the models"
    )
    revision.add_argument("-m", "--message", required=True, help="what changed, in a few words")
    revision.add_argument(
        "--empty", action="store_true", help="an empty script (for moving data by hand)"
    )
    commands.add_parser("check", help="exit 1 when the models have changes no migration has")
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "check":
            return check()
        path = new_revision(arguments.message, empty=arguments.empty)
    except DatabaseError as error:
        print(f"migrations: error: {error}", file=sys.stderr)
        return 1
    if path is None:
        print(
            "migrations: the models match the newest migration; nothing to write "
            "(--empty gives a script for moving data)"
        )
        return 0
    print(f"migrations: wrote {path}\nreview it, run the tests, and commit it with the models")
    return 0


if __name__ == "__main__":
    sys.exit(main())
