"""What the service desk's commands share: the configured database, JSON output, the
`--json` and `--by` options, and sending the replies a decision queued.

Actions record who did them: `--by NAME`, else INTAKE_DESK_USER, else the login name.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.engine import Engine

from pipeline.cli import common as cli
from pipeline.console import json_text
from pipeline.replies.outbox import SendReport, send_pending
from pipeline.settings.models import Settings
from pipeline.storage.prepare import prepare

JsonOption = Annotated[bool, typer.Option("--json", help="JSON instead of a table.")]
ByOption = Annotated[
    str | None,
    typer.Option("--by", help="Who decides (recorded). Default: INTAKE_DESK_USER or your login."),
]


@contextmanager
def database() -> Iterator[tuple[Settings, Engine]]:
    """The configuration and a prepared database, closed afterwards. A database that
    cannot be used, an unknown reference or a refused action reach `cli.IntakeGroup`."""
    current = cli.settings()
    engine = prepare(current)
    try:
        yield current, engine
    finally:
        engine.dispose()


def print_json(data: Any) -> None:
    sys.stdout.write(json_text(data) + "\n")


def send_replies(engine: Engine, current: Settings) -> SendReport:
    """Send what the desk's action queued; an unreachable server is a note, not a failure:
    the reply stays queued for the worker's next run."""
    report = send_pending(engine, current)
    if report.error:
        cli.err.print(
            f"intake: note: {report.error}; the reply stays queued and goes out with the next run",
            markup=False,
        )
    return report


def new_table(title: str, *columns: str) -> Table:
    """A table for the terminal: its title at the left, long values folded, never cut."""
    result = Table(title=title, title_justify="left")
    for column in columns:
        result.add_column(column, overflow="fold")
    return result
