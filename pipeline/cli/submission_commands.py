"""The service desk's view of the queue on the command line: `intake queue` (per open
meeting), `intake submissions list|show|accept|reject|hold` and `intake missing`. Every
listing also prints JSON.

Decisions record who made them: `--by NAME`, else INTAKE_DESK_USER, else the login name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

import typer
from rich.padding import Padding
from sqlmodel import Session

from pipeline.cli import common as cli
from pipeline.cli.common import actor
from pipeline.cli.desk_common import (
    ByOption,
    JsonOption,
    database,
    new_table,
    print_json,
    send_replies,
)
from pipeline.console import STATUS_COLOURS, safe, stamp, submissions_table
from pipeline.desk import actions, views
from pipeline.desk.views import countdown
from pipeline.replies.templates import load_templates
from pipeline.resources.reason_labels import reason_label
from pipeline.storage import models as m
from pipeline.storage.blobs import BlobStore
from pipeline.storage.db import init_schema, make_engine
from pipeline.storage.queries import list_submissions

__all__ = ["missing_command", "queue_command", "submissions_app"]

submissions_app = typer.Typer(help="The queue of submissions, as the service desk sees it.")


def print_attention(attention: views.Attention) -> None:
    """What needs the desk, kind by kind: each item, what is wrong, and the next step."""
    if not attention.items:
        cli.out.print("[bold]Needs attention:[/] nothing.")
        return
    cli.out.print(f"[bold]Needs attention ({len(attention.items)})[/]")
    for _kind, title, items in attention.groups:
        cli.out.print(f"\n  [bold]{title} ({len(items)})[/]")
        for item in items:
            head = " · ".join(
                part
                for part in (
                    item.reference or item.meeting,
                    item.who,
                    stamp(item.since) if item.since else None,
                )
                if part
            )
            # Wrapped at the terminal's width, continuation lines indented.
            cli.out.print(Padding(safe(head), (0, 0, 0, 2)), soft_wrap=False)
            cli.out.print(Padding(safe(item.what), (0, 0, 0, 4)), soft_wrap=False)
            cli.out.print(
                Padding(f"[dim]next:[/] {safe(item.command)}", (0, 0, 0, 4)), soft_wrap=False
            )


def queue_command(as_json: JsonOption = False) -> None:
    """What needs attention first (held, quarantined, replies with errors, scans to verify,
    deadlines near); then per open meeting: counts, time left, held items, newest."""
    with database() as (_current, engine), Session(engine) as session:
        overview = views.queue_overview(session, now=m.utcnow())
    if as_json:
        print_json(overview.as_json())
        return
    print_attention(overview.attention)
    if not overview.meetings:
        cli.out.print("No open meeting. `intake meetings list` shows them all.")
    for meeting in overview.meetings:
        counts = "  ".join(
            f"[{STATUS_COLOURS[status]}]{count} {status}[/]"
            for status, count in meeting.counts.items()
        )
        cli.out.print(
            f"\n[bold]{safe(meeting.code)}[/]  {safe(meeting.title)}\n"
            f"  deadline {stamp(meeting.deadline, year=True)} "
            f"([bold]{countdown(meeting.time_left)}[/])\n  {counts}"
        )
        if meeting.held:
            cli.out.print(
                submissions_table(meeting.held, title="  Held for a human", width=cli.out.width),
                soft_wrap=False,
            )
        if meeting.reply_errors:
            table = new_table(
                "  Replies failed or waiting with an error", "Reply", "Reference", "To", "Error"
            )
            for reply in meeting.reply_errors:
                table.add_row(
                    f"{reply['id']} {reply['status']}",
                    safe(reply["reference"] or ""),
                    safe(reply["to"]),
                    safe(reply["last_error"] or ""),
                )
            cli.out.print(table, soft_wrap=False)
        if meeting.newest:
            cli.out.print(
                submissions_table(meeting.newest, title="  Newest arrivals", width=cli.out.width),
                soft_wrap=False,
            )
    if overview.withheld_replies:
        total = sum(overview.withheld_replies.values())
        whys = ", ".join(f"{why}: {count}" for why, count in overview.withheld_replies.items())
        cli.out.print(
            f"\n[bold]{total} automatic {'reply' if total == 1 else 'replies'} withheld[/] "
            f"in the last 24 hours ({safe(whys)}); `intake submissions show REF` says why",
        )
    if overview.unrouted_held:
        cli.out.print(
            submissions_table(
                overview.unrouted_held,
                title="Held, no meeting (accept with --meeting CODE)",
                width=cli.out.width,
            ),
            soft_wrap=False,
        )


class StatusChoice(StrEnum):
    accepted = "accepted"
    rejected = "rejected"
    held = "held"
    superseded = "superseded"


def submissions_list(
    meeting: Annotated[
        str | None, typer.Option("--meeting", "-m", help="Only this meeting (its code).")
    ] = None,
    status: Annotated[
        StatusChoice | None, typer.Option("--status", "-s", help="Only this status.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON array instead of a table.")
    ] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", help="Only the newest N.", min=1)
    ] = None,
) -> None:
    """The queue: every submission with its status, reasons and files."""
    current = cli.settings()
    engine = make_engine(current.database_url)
    try:
        init_schema(engine)
        with Session(engine) as session:
            rows = list_submissions(
                session,
                meeting=meeting,
                status=m.SubmissionStatus(status.value) if status else None,
                limit=limit,
            )
    finally:
        engine.dispose()
    if meeting is not None and current.meeting(meeting) is None and not rows:
        known = ", ".join(item.code for item in current.meetings) or "none configured"
        cli.fail(f"no meeting with the code {meeting!r} (known: {known})", cli.EXIT_CONFIG)
    if as_json:
        print_json([row.as_json() for row in rows])
        return
    cli.out.print(submissions_table(rows, width=cli.out.width), soft_wrap=False)


def show_command(
    reference: Annotated[str, typer.Argument(help="The reference, e.g. PKO-SAFETY-0007.")],
    as_json: JsonOption = False,
) -> None:
    """Everything about one submission: files, checks, decisions, replies, timeline."""
    with database() as (current, engine), Session(engine) as session:
        detail = views.submission_detail(session, reference, BlobStore(current.storage_path))
    if as_json:
        print_json(detail.as_json())
        return
    o = cli.out
    colour = STATUS_COLOURS.get(detail.status, "white")
    o.print(f"[bold]{safe(detail.reference)}[/]  [{colour}]{detail.status}[/]")
    rows = [
        ("Meeting", f"{detail.meeting or '-'}  {detail.meeting_title or ''}"),
        ("Mission", f"{detail.mission_name or '(unregistered)'} ({detail.mission or '-'})"),
        ("Sender", detail.sender or "-"),
        ("Subject", detail.subject or "-"),
        ("Received", stamp(detail.received_at, year=True)),
        ("Message-ID", detail.message_id or "-"),
        ("Original mail", str(detail.raw_message_path or "-")),
    ]
    if detail.statement_language or detail.word_count is not None:
        rows.append(
            (
                "Statement",
                f"{detail.statement_title or ''} [{detail.statement_language or '?'}] "
                f"{detail.word_count or 0} {detail.length_unit or 'words'}, "
                f"{detail.statement_pages or '?'} page(s)",
            )
        )
    if detail.letter_signatory or detail.letter_verified is not None:
        verified = {True: "verified", False: "NOT verified", None: "to be verified"}
        rows.append(
            (
                "Cover letter",
                f"{verified[detail.letter_verified]}; signed by "
                f"{detail.letter_signatory or '?'}; mission as written: "
                f"{detail.letter_mission_name or '?'}",
            )
        )
    if detail.supersedes:
        rows.append(("Replaces", detail.supersedes))
    if detail.superseded_by:
        rows.append(("Replaced by", detail.superseded_by))
    if detail.failed_stage:
        rows.append(("Failed at", f"{detail.failed_stage}: {(detail.error or '').strip()}"))
    for label, value in rows:
        o.print(f"  [dim]{label:<14}[/] {safe(value)}")

    files = new_table("Files", "Role", "Name", "Type", "Size", "Stored at")
    for doc in detail.documents:
        files.add_row(
            doc.role, safe(doc.filename), doc.detected_type, f"{doc.size:,}", str(doc.path)
        )
    o.print(files, soft_wrap=False)

    decisions = new_table("Decisions", "When", "By", "Status", "Reasons / note")
    for decision in detail.decisions:
        reasons = ", ".join(
            f"{reason_label(r['code'])} ({r['code']}: {r['action']})" for r in decision.reasons
        )
        note = "; ".join(x for x in (reasons, decision.note or "") if x)
        decisions.add_row(
            stamp(decision.created_at),
            safe(decision.decided_by),
            decision.status,
            safe(note),
        )
    o.print(decisions, soft_wrap=False)

    replies = new_table("Replies", "Id", "Kind", "Status", "To", "Subject", "Attempts", "Error")
    for reply in detail.replies:
        replies.add_row(
            str(reply["id"]),
            reply["kind"],
            reply["status"],
            safe(reply["to"]),
            safe(reply["subject"]),
            str(reply["attempts"]),
            safe(reply["last_error"] or ""),
        )
    o.print(replies, soft_wrap=False)

    timeline = new_table("Timeline", "When", "Who", "What", "Detail")
    for event in detail.timeline:
        timeline.add_row(
            f"{event.at:%d %b %H:%M:%S}",
            safe(event.actor),
            event.kind,
            safe(json.dumps(event.detail, ensure_ascii=False, default=str)),
        )
    o.print(timeline, soft_wrap=False)


def _decide(status: m.SubmissionStatus) -> Callable[..., None]:
    def command(
        reference: Annotated[str, typer.Argument(help="The reference, e.g. PKO-SAFETY-0007.")],
        reason: Annotated[
            str, typer.Option("--reason", "-r", help="Why (recorded, and sent to the sender).")
        ],
        notify: Annotated[
            bool,
            typer.Option("--notify/--no-notify", help="Send the delegation the matching reply."),
        ] = True,
        meeting: Annotated[
            str | None, typer.Option("--meeting", help="Assign to this meeting (held, unrouted).")
        ] = None,
        mission: Annotated[
            str | None, typer.Option("--mission", help="Assign to this mission (ISO alpha-3).")
        ] = None,
        by: ByOption = None,
    ) -> None:
        with database() as (current, engine):
            templates = load_templates(current)
            result = actions.decide_submission(
                engine,
                current,
                templates,
                reference=reference,
                status=status,
                reason=reason,
                actor=actor(by),
                notify=notify,
                meeting_code=meeting,
                mission_code=mission,
            )
            sent = send_replies(engine, current) if result.reply_id is not None else None
        line = f"intake: {result.reference}: {result.previous} -> {result.status}"
        if result.superseded:
            line += f"; {result.superseded} is now superseded"
        if result.cancelled:
            ids = ", ".join(str(i) for i in result.cancelled)
            line += f"; cancelled the earlier reply that had not gone out ({ids})"
        if result.reply_id is None:
            line += "; no reply sent" if not notify else "; no address to reply to"
        elif sent is not None and result.reply_id in sent.sent_ids:
            line += "; reply sent"
        else:
            line += "; reply queued"
        cli.out.print(line, markup=False)

    verb = {"accepted": "Accept", "rejected": "Reject", "held": "Hold"}[status.value]
    command.__doc__ = (
        f"{verb} a submission: the desk's decision overrides the automatic one, records who "
        "and why, and (by default) sends the delegation the matching reply."
    )
    return command


def missing_command(
    meeting: Annotated[str, typer.Argument(help="The meeting's code.")],
    as_json: JsonOption = False,
) -> None:
    """Who has no accepted statement for the meeting yet: the inscribed speakers once the
    meeting has a list of speakers (`intake speakers import`), else every registered
    mission."""
    with database() as (_current, engine), Session(engine) as session:
        report = views.missing_report(session, meeting)
    if as_json:
        print_json([row.as_json() for row in report.rows])
        return
    table = new_table(
        report.summary()[:1].upper() + report.summary()[1:],
        "Code",
        "Mission",
        "Sender addresses",
        "Sent so far",
    )
    for row in report.rows:
        sent = ", ".join(f"{s['reference']} ({s['status']})" for s in row.submissions)
        senders = ", ".join(row.senders) or "none registered"
        table.add_row(row.code, safe(row.name), safe(senders), sent or "-")
    cli.out.print(table, soft_wrap=False)


submissions_app.command("list")(submissions_list)
submissions_app.command("show")(show_command)
submissions_app.command("accept")(_decide(m.SubmissionStatus.ACCEPTED))
submissions_app.command("reject")(_decide(m.SubmissionStatus.REJECTED))
submissions_app.command("hold")(_decide(m.SubmissionStatus.HELD))
