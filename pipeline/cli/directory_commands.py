"""The directory on the command line: `intake missions list|show|add-sender|remove-sender`
(who may send for whom) and `intake meetings list|add|edit|close` (what takes statements).

Changes record who made them: `--by NAME`, else INTAKE_DESK_USER, else the login name.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from sqlmodel import Session

from pipeline.cli import common as cli
from pipeline.cli.common import actor
from pipeline.cli.desk_common import ByOption, JsonOption, database, new_table, print_json
from pipeline.console import safe, submissions_table
from pipeline.desk import actions, views
from pipeline.desk.meetings import MeetingChanges, deadline_warning, edit_meeting
from pipeline.domain import LengthPolicy, MeetingFormat
from pipeline.storage import models as m

__all__ = ["meetings_app", "missions_app"]

missions_app = typer.Typer(help="Missions and the addresses that may speak for them.")
meetings_app = typer.Typer(help="Meetings that take written statements.")


DeadlineOption = Annotated[
    datetime | None,
    typer.Option(
        "--deadline",
        formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help="Local time; default: the end of the meeting day.",
    ),
]
FormatHelp = "How the Council meets; named in the compilation letter."
PresidentHelp = "Who signs the compilation letter, e.g. 'Zhang Jun'."
PresidencyHelp = "The presiding member's ISO alpha-3 code, e.g. CHN."
BrieferHelp = "A briefer with their title, as the letter names them (repeat)."
ProcedureHelp = "For a videoconference, the letter setting its procedure, e.g. S/2020/372."


def _warn_if_past(meeting: m.Meeting) -> None:
    warning = deadline_warning(meeting)
    if warning:
        cli.err.print(
            f"intake: warning: {warning} (`intake meetings edit CODE --deadline ...`)",
            markup=False,
        )


@missions_app.command("list")
def missions_list(
    registered: Annotated[
        bool, typer.Option("--registered", help="Only missions with sender addresses.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """All 193 Member States, the observer States and the EU, with their sender addresses."""
    with database() as (_current, engine), Session(engine) as session:
        rows = views.list_missions(session, registered_only=registered)
    if as_json:
        print_json([row.as_json() for row in rows])
        return
    table = new_table(f"Missions ({len(rows)})", "Code", "Name", "Kind", "Sender addresses")
    for row in rows:
        table.add_row(row.code, safe(row.name), row.kind, safe(", ".join(row.senders)))
    cli.out.print(table, soft_wrap=False)


@missions_app.command("show")
def missions_show(
    code: Annotated[str, typer.Argument(help="ISO alpha-3 code, e.g. FRA (EUU for the EU).")],
    as_json: JsonOption = False,
) -> None:
    """One mission: names in the six languages, sender addresses, submissions."""
    with database() as (_current, engine), Session(engine) as session:
        detail = views.mission_detail(session, code)
    if as_json:
        print_json(detail.as_json())
        return
    cli.out.print(f"[bold]{detail.code}[/]  {safe(detail.name)}  ({detail.kind})")
    for language, name in detail.names.items():
        cli.out.print(f"  {language}  {safe(name)}")
    cli.out.print("Sender addresses:")
    for sender in detail.senders:
        cli.out.print(f"  {safe(sender['address'])}  [dim]({sender['source']})[/]")
    if not detail.senders:
        cli.out.print("  none: `intake missions add-sender CODE ADDRESS`")
    cli.out.print(submissions_table(detail.submissions, width=cli.out.width), soft_wrap=False)


@missions_app.command("add-sender")
def missions_add_sender(
    code: Annotated[str, typer.Argument(help="ISO alpha-3 code.")],
    address: Annotated[str, typer.Argument(help="An address, or @domain for a whole domain.")],
    by: ByOption = None,
) -> None:
    """Allow an address (or a whole @domain) to send statements for a mission."""
    with database() as (_current, engine):
        entry = actions.add_sender(engine, mission_code=code, address=address, actor=actor(by))
    cli.out.print(f"intake: {entry} may now send for {code.upper()}", markup=False)


@missions_app.command("remove-sender")
def missions_remove_sender(
    code: Annotated[str, typer.Argument(help="ISO alpha-3 code.")],
    address: Annotated[str, typer.Argument(help="The address or @domain to remove.")],
    by: ByOption = None,
) -> None:
    """Stop accepting statements from an address added by the desk."""
    with database() as (_current, engine):
        entry = actions.remove_sender(engine, mission_code=code, address=address, actor=actor(by))
    cli.out.print(f"intake: {entry} removed from {code.upper()}", markup=False)


@meetings_app.command("list")
def meetings_list(as_json: JsonOption = False) -> None:
    """Every meeting, open or closed, with its deadline and number of submissions."""
    with database() as (_current, engine), Session(engine) as session:
        rows = views.list_meetings(session)
    if as_json:
        print_json([row.as_json() for row in rows])
        return
    table = new_table(
        f"Meetings ({len(rows)})",
        "Code",
        "Title",
        "Date",
        "Deadline",
        "Limit",
        "Status",
        "Submissions",
    )
    for row in rows:
        table.add_row(
            row.code,
            safe(row.title),
            row.date,
            f"{row.deadline:%d %b %Y %H:%M %Z}",
            f"{row.word_limit} ({row.length_policy})",
            row.status,
            str(row.submissions),
        )
    cli.out.print(table, soft_wrap=False)


@meetings_app.command("add")
def meetings_add(
    code: Annotated[str, typer.Argument(help="Code used in subjects, e.g. WPS-2021.")],
    title: Annotated[str, typer.Option("--title", help="The meeting's title.")],
    day: Annotated[datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="The meeting day.")],
    timezone: Annotated[str, typer.Option("--timezone")] = "America/New_York",
    deadline: DeadlineOption = None,
    word_limit: Annotated[int, typer.Option("--word-limit", min=1)] = 500,
    length_policy: Annotated[LengthPolicy, typer.Option("--length-policy")] = LengthPolicy.NOTE,
    meeting_format: Annotated[
        MeetingFormat, typer.Option("--format", help=FormatHelp)
    ] = MeetingFormat.IN_PERSON,
    president: Annotated[str | None, typer.Option("--president", help=PresidentHelp)] = None,
    presidency: Annotated[str | None, typer.Option("--presidency", help=PresidencyHelp)] = None,
    briefers: Annotated[list[str] | None, typer.Option("--briefer", help=BrieferHelp)] = None,
    procedure: Annotated[str | None, typer.Option("--procedure", help=ProcedureHelp)] = None,
    by: ByOption = None,
) -> None:
    """Open a new meeting for written statements (without editing the configuration),
    with what the compilation letter says about it."""
    meeting_day: date = day.date()
    with database() as (_current, engine):
        meeting = actions.add_meeting(
            engine,
            code=code,
            title=title,
            day=meeting_day,
            actor=actor(by),
            timezone=timezone,
            deadline=deadline,
            word_limit=word_limit,
            length_policy=length_policy,
            meeting_format=meeting_format,
            president=president,
            presidency=presidency,
            briefers=briefers or (),
            procedure=procedure,
        )
    cli.out.print(
        f"intake: meeting {meeting.code} added ({meeting.meeting_format.value.replace('_', ' ')}); "
        f"deadline {meeting.deadline.isoformat()}",
        markup=False,
    )
    _warn_if_past(meeting)


@meetings_app.command("edit")
def meetings_edit(
    code: Annotated[str, typer.Argument(help="The meeting's code.")],
    title: Annotated[str | None, typer.Option("--title", help="The meeting's title.")] = None,
    day: Annotated[
        datetime | None,
        typer.Option(
            "--date",
            formats=["%Y-%m-%d"],
            help="The meeting day (a deadline at the end of the old day moves with it).",
        ),
    ] = None,
    deadline: Annotated[
        datetime | None,
        typer.Option(
            "--deadline", formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"], help="Local time."
        ),
    ] = None,
    word_limit: Annotated[int | None, typer.Option("--word-limit", min=1)] = None,
    meeting_format: Annotated[
        MeetingFormat | None, typer.Option("--format", help=FormatHelp)
    ] = None,
    president: Annotated[
        str | None, typer.Option("--president", help=PresidentHelp + " '' clears it.")
    ] = None,
    presidency: Annotated[str | None, typer.Option("--presidency", help=PresidencyHelp)] = None,
    briefers: Annotated[
        list[str] | None,
        typer.Option("--briefer", help=BrieferHelp + " Replaces the list; '' empties it."),
    ] = None,
    procedure: Annotated[str | None, typer.Option("--procedure", help=ProcedureHelp)] = None,
    by: ByOption = None,
) -> None:
    """Change what is given of a meeting added with `intake meetings add` (a meeting of the
    configuration file is edited there); recorded in the audit log."""
    changes = MeetingChanges(
        title=title,
        day=day.date() if day else None,
        deadline=deadline,
        word_limit=word_limit,
        president=president,
        presidency=presidency,
        meeting_format=meeting_format,
        briefers=briefers,
        procedure=procedure,
    )
    with database() as (current, engine):
        edit = edit_meeting(
            engine,
            code=code,
            changes=changes,
            actor=actor(by),
            configured={meeting.code for meeting in current.meetings},
        )
    if edit.changed:
        local = edit.meeting.deadline.astimezone(ZoneInfo(edit.meeting.timezone))
        cli.out.print(
            f"intake: meeting {edit.meeting.code} changed: {', '.join(edit.changed)}; "
            f"deadline {local.isoformat()}",
            markup=False,
        )
    else:
        cli.out.print(
            f"intake: meeting {edit.meeting.code} unchanged: it has those values already",
            markup=False,
        )
    _warn_if_past(edit.meeting)


@meetings_app.command("close")
def meetings_close(
    code: Annotated[str, typer.Argument(help="The meeting's code.")],
    by: ByOption = None,
) -> None:
    """Close a meeting: later statements for it are rejected as meeting_closed."""
    with database() as (_current, engine):
        meeting = actions.close_meeting(engine, code=code, actor=actor(by))
    cli.out.print(f"intake: meeting {meeting.code} closed", markup=False)
