"""A meeting's list of speakers on the command line: `intake speakers import|list`.

The list is what `intake missing` checks submissions against once a meeting has one.
Importing replaces the whole list, or changes nothing when a row names no mission.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from pipeline.cli import common as cli
from pipeline.cli.common import actor
from pipeline.cli.desk_common import ByOption, JsonOption, database, new_table, print_json
from pipeline.console import safe
from pipeline.desk.errors import ActionError
from pipeline.desk.speakers import UnknownSpeakers, import_speakers, list_speakers

__all__ = ["speakers_app"]

speakers_app = typer.Typer(help="A meeting's list of speakers: who is expected to submit.")


@speakers_app.command("import")
def speakers_import(
    meeting: Annotated[str, typer.Argument(help="The meeting's code.")],
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV (UTF-8) or Excel (.xlsx): one mission per row, by ISO alpha-3 code "
            "or its name in a UN language."
        ),
    ],
    by: ByOption = None,
) -> None:
    """Replace the meeting's list of speakers with the file's; a file with a row that
    names no mission imports nothing and names the rows."""
    try:
        content = file.read_bytes()
    except OSError as error:
        raise ActionError(f"cannot read {file}: {error.strerror or error}") from None
    with database() as (_current, engine):
        try:
            result = import_speakers(
                engine, meeting_code=meeting, filename=file.name, content=content, actor=actor(by)
            )
        except UnknownSpeakers as error:
            for number, text in error.rows:
                cli.err.print(f"  row {number}: {text}", markup=False)
            raise
    replaced = f", replacing a list of {result.replaced}" if result.replaced else ""
    cli.out.print(
        f"intake: {result.count} speakers imported for {result.meeting}{replaced}", markup=False
    )
    for number, code in result.repeated:
        cli.out.print(f"  row {number}: {code} again, kept once", markup=False)


@speakers_app.command("list")
def speakers_list(
    meeting: Annotated[str, typer.Argument(help="The meeting's code.")],
    as_json: JsonOption = False,
) -> None:
    """The meeting's list of speakers in order, with each one's accepted statement."""
    with database() as (_current, engine), Session(engine) as session:
        rows = list_speakers(session, meeting)
    if as_json:
        print_json([row.as_json() for row in rows])
        return
    if not rows:
        cli.out.print(
            f"intake: {meeting.upper()} has no list of speakers "
            "(`intake speakers import MEETING FILE`)",
            markup=False,
        )
        return
    submitted = sum(1 for row in rows if row.accepted)
    table = new_table(
        f"Speakers for {meeting.upper()} ({len(rows)}, {submitted} submitted)",
        "#",
        "Code",
        "Mission",
        "Accepted statement",
    )
    # Codes and references are read whole: long names fold instead.
    table.columns[1].min_width, table.columns[3].min_width = 4, 15
    for row in rows:
        table.add_row(str(row.position), row.code, safe(row.name), row.accepted or "-")
    cli.out.print(table, soft_wrap=False)
