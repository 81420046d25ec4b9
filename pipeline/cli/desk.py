"""The service desk on the command line: the queue, one submission, decisions, replies,
retries, missions, meetings and who is still missing. Every listing also prints JSON.

Actions record who did them: `--by NAME`, else INTAKE_DESK_USER, else the login name.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.engine import Engine
from sqlmodel import Session

from pipeline.cli import common as cli
from pipeline.cli.common import actor
from pipeline.console import STATUS_COLOURS, json_text, safe, submissions_table
from pipeline.desk import actions, views
from pipeline.desk.actions import ActionError
from pipeline.desk.views import NotFound, countdown
from pipeline.mailbox.imap import Mailbox, MailboxError
from pipeline.printable import visible
from pipeline.replies.outbox import SendReport, send_pending
from pipeline.replies.templates import TemplateError, load_templates
from pipeline.settings.models import LengthPolicy, Settings
from pipeline.storage import models as m
from pipeline.storage.blobs import BlobStore
from pipeline.storage.db import DatabaseError
from pipeline.storage.directory import Directory
from pipeline.storage.prepare import prepare
from pipeline.worker.context import build_context, folder_for
from pipeline.worker.refiling import refile_message

replies_app = typer.Typer(
    help="Replies to delegations: list them, show one as sent, send one again, cancel one."
)
messages_app = typer.Typer(help="Messages in the ledger: retry those held after an error.")
missions_app = typer.Typer(help="Missions and the addresses that may speak for them.")
meetings_app = typer.Typer(help="Meetings that take written statements.")

JsonOption = Annotated[bool, typer.Option("--json", help="JSON instead of a table.")]
ByOption = Annotated[
    str | None,
    typer.Option("--by", help="Who decides (recorded). Default: INTAKE_DESK_USER or your login."),
]


@contextmanager
def database() -> Iterator[tuple[Settings, Engine]]:
    """The configuration and a prepared database; errors become one line."""
    current = cli.settings()
    try:
        engine = prepare(current)
    except DatabaseError as error:
        cli.fail(str(error))
    try:
        yield current, engine
    except (NotFound, ActionError) as error:
        cli.fail(str(error))
    finally:
        engine.dispose()


def print_json(data: Any) -> None:
    sys.stdout.write(json_text(data) + "\n")


def _send(engine: Engine, current: Settings) -> SendReport:
    report = send_pending(engine, current)
    if report.error:
        cli.err.print(
            f"intake: note: {report.error}; the reply stays queued and goes out with the next run",
            markup=False,
        )
    return report


# -- intake queue ------------------------------------------------------------------------


def queue_command(as_json: JsonOption = False) -> None:
    """Per open meeting: counts by status, time left, held items, failed replies, newest."""
    with database() as (_current, engine), Session(engine) as session:
        overview = views.queue_overview(session, now=m.utcnow())
    if as_json:
        print_json(overview.as_json())
        return
    if not overview.meetings:
        cli.out.print("No open meeting. `intake meetings list` shows them all.")
    for meeting in overview.meetings:
        counts = "  ".join(
            f"[{STATUS_COLOURS[status]}]{count} {status}[/]"
            for status, count in meeting.counts.items()
        )
        cli.out.print(
            f"\n[bold]{safe(meeting.code)}[/]  {safe(meeting.title)}\n"
            f"  deadline {meeting.deadline:%a %d %b %Y %H:%M %Z} "
            f"([bold]{countdown(meeting.time_left)}[/])\n  {counts}"
        )
        if meeting.held:
            cli.out.print(
                submissions_table(meeting.held, title="  Held for a human"), soft_wrap=False
            )
        if meeting.failed_replies:
            table = Table(title="  Replies that failed to send", title_justify="left")
            for column in ("Reply", "Reference", "To", "Error"):
                table.add_column(column, overflow="fold")
            for reply in meeting.failed_replies:
                table.add_row(
                    str(reply["id"]),
                    safe(reply["reference"] or ""),
                    safe(reply["to"]),
                    safe(reply["last_error"] or ""),
                )
            cli.out.print(table, soft_wrap=False)
        if meeting.newest:
            cli.out.print(
                submissions_table(meeting.newest, title="  Newest arrivals"), soft_wrap=False
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
                overview.unrouted_held, title="Held, no meeting (accept with --meeting CODE)"
            ),
            soft_wrap=False,
        )


# -- intake submissions show|accept|reject|hold -------------------------------------------


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
        ("Received", f"{detail.received_at:%a %d %b %Y %H:%M %Z}"),
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

    files = Table(title="Files", title_justify="left")
    for column in ("Role", "Name", "Type", "Size", "Stored at"):
        files.add_column(column, overflow="fold")
    for doc in detail.documents:
        files.add_row(
            doc.role, safe(doc.filename), doc.detected_type, f"{doc.size:,}", str(doc.path)
        )
    o.print(files, soft_wrap=False)

    decisions = Table(title="Decisions", title_justify="left")
    for column in ("When", "By", "Status", "Reasons / note"):
        decisions.add_column(column, overflow="fold")
    for decision in detail.decisions:
        reasons = ", ".join(f"{r['code']} ({r['action']})" for r in decision.reasons)
        note = "; ".join(x for x in (reasons, decision.note or "") if x)
        decisions.add_row(
            f"{decision.created_at:%d %b %H:%M}",
            safe(decision.decided_by),
            decision.status,
            safe(note),
        )
    o.print(decisions, soft_wrap=False)

    replies = Table(title="Replies", title_justify="left")
    for column in ("Id", "Kind", "Status", "To", "Subject", "Attempts", "Error"):
        replies.add_column(column, overflow="fold")
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

    timeline = Table(title="Timeline", title_justify="left")
    for column in ("When", "Who", "What", "Detail"):
        timeline.add_column(column, overflow="fold")
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
            try:
                templates = load_templates(current)
            except TemplateError as error:
                cli.fail(str(error), cli.EXIT_CONFIG)
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
            sent = _send(engine, current) if result.reply_id is not None else None
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


# -- replies, messages -------------------------------------------------------------------


@replies_app.command("list")
def replies_list(
    status: Annotated[
        str | None,
        typer.Option("--status", help="pending, sending, sent, failed or cancelled."),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1)] = None,
    as_json: JsonOption = False,
) -> None:
    """Replies to delegations, oldest first, with their status and last error."""
    try:
        wanted = m.ReplyStatus(status) if status else None
    except ValueError:
        cli.fail(f"--status must be one of {', '.join(s.value for s in m.ReplyStatus)}", 2)
    with database() as (_current, engine), Session(engine) as session:
        rows = views.list_replies(session, status=wanted, limit=limit)
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"Replies ({len(rows)})", title_justify="left")
    for column in ("Id", "Reference", "Kind", "Status", "To", "Attempts", "Error"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            str(row["id"]),
            safe(row["reference"] or ""),
            row["kind"],
            row["status"],
            safe(row["to"]),
            str(row["attempts"]),
            safe(row["last_error"] or ""),
        )
    cli.out.print(table, soft_wrap=False)


@replies_app.command("resend")
def replies_resend(
    target: Annotated[str, typer.Argument(help="A reply id, or a reference (its latest reply).")],
    by: ByOption = None,
) -> None:
    """Send a reply again, unchanged (same text, same Message-ID)."""
    with database() as (current, engine):
        if target.isdigit():
            reply_id = int(target)
        else:
            replies = actions.replies_of(engine, target)
            if not replies:
                cli.fail(f"{target} has no reply to resend")
            reply_id = replies[-1].id or 0
        actions.resend_reply(engine, reply_id=reply_id, actor=actor(by))
        report = _send(engine, current)
    state = "sent" if reply_id in report.sent_ids else "queued"
    cli.out.print(f"intake: reply {reply_id} {state}", markup=False)


@replies_app.command("cancel")
def replies_cancel(
    reply_id: Annotated[int, typer.Argument(help="The reply's id (`intake replies list`).")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (recorded in the audit log).")],
    by: ByOption = None,
) -> None:
    """Stop a reply that has not gone out yet (waiting, deferred or failed): it is never
    sent. A reply that was sent cannot be recalled."""
    with database() as (_current, engine):
        reply = actions.cancel_reply(engine, reply_id=reply_id, reason=reason, actor=actor(by))
    cli.out.print(
        f"intake: reply {reply_id} ({reply.kind.value} to {reply.to_address}) cancelled; "
        "it will not be sent",
        markup=False,
    )


@replies_app.command("show")
def replies_show(
    reply_id: Annotated[int, typer.Argument(help="The reply's id (`intake replies list`).")],
) -> None:
    """Print a reply exactly as it will be, or was, sent: its headers and its text
    (where it stands, on stderr)."""
    from pipeline.replies.outbox import build_email

    with database() as (current, engine), Session(engine) as session:
        reply = session.get(m.Reply, reply_id)
        if reply is None:
            raise NotFound(f"no reply with the id {reply_id} (`intake replies list`)")
        state = views.reply_state(reply)
        message = build_email(reply, current.smtp)
    # The header exactly as it goes to the SMTP server; the text as the delegation reads
    # it (the wire form may be quoted-printable).
    head = message.as_string().split("\n\n", 1)[0]
    body = str(message.get_content())
    cli.err.print(f"intake: reply {reply_id}: {state}", markup=False)
    # Written as it is, but for control characters (made visible): a reply filed before
    # addresses were checked may name one with ESC sequences.
    text = f"{head}\n\n{body}" + ("" if body.endswith("\n") else "\n")
    sys.stdout.write(visible(text, lines=True))


@messages_app.command("retry")
def messages_retry(
    references: Annotated[
        list[str] | None,
        typer.Argument(help="References to retry. Default: every message held after an error."),
    ] = None,
) -> None:
    """Run held messages through the checks again (from the stored original), after a
    fix or a configuration change; replies go out and the mail moves to its new folder."""
    with database() as (current, engine):
        try:
            templates = load_templates(current)
        except TemplateError as error:
            cli.fail(str(error), cli.EXIT_CONFIG)
        records = actions.retryable(engine, references or None)
        if not records:
            cli.out.print("intake: nothing to retry", markup=False)
            return
        with Session(engine) as session:
            directory = Directory.load(session)
        moves: list[tuple[str, str]] = []
        for record in records:
            assert record.id is not None
            ctx = build_context(
                current,
                engine,
                templates,
                mailbox=record.mailbox,
                uidvalidity=record.uidvalidity,
                directory=directory,
            )
            try:
                filed = refile_message(ctx, record.id)
            except Exception as error:  # the message stays held; say why and go on
                cli.err.print(f"intake: {record.id}: still failing: {error}", markup=False)
                continue
            cli.out.print(f"intake: {filed.reference}: {filed.outcome.value}", markup=False)
            if record.message_id and filed.target_folder != record.target_folder:
                moves.append((record.message_id, filed.target_folder))
        _send(engine, current)
        _relocate(current, moves)


def _relocate(current: Settings, moves: list[tuple[str, str]]) -> None:
    if not moves:
        return
    held = folder_for(current, m.MessageOutcome.HELD)
    try:
        with Mailbox(current.mailbox) as mailbox:
            for message_id, target in moves:
                mailbox.relocate(message_id, held, target)
    except MailboxError as error:
        cli.err.print(
            f"intake: note: {error}; the decisions are filed, the mail stays in {held}",
            markup=False,
        )


# -- missions ----------------------------------------------------------------------------


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
    table = Table(title=f"Missions ({len(rows)})", title_justify="left")
    for column in ("Code", "Name", "Kind", "Sender addresses"):
        table.add_column(column, overflow="fold")
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
    cli.out.print(submissions_table(detail.submissions), soft_wrap=False)


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


# -- meetings ----------------------------------------------------------------------------


@meetings_app.command("list")
def meetings_list(as_json: JsonOption = False) -> None:
    """Every meeting, open or closed, with its deadline and number of submissions."""
    with database() as (_current, engine), Session(engine) as session:
        rows = views.list_meetings(session)
    if as_json:
        print_json([row.as_json() for row in rows])
        return
    table = Table(title=f"Meetings ({len(rows)})", title_justify="left")
    for column in ("Code", "Title", "Date", "Deadline", "Limit", "Status", "Submissions"):
        table.add_column(column, overflow="fold")
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
    deadline: Annotated[
        datetime | None,
        typer.Option(
            "--deadline",
            formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
            help="Local time; default: the end of the meeting day.",
        ),
    ] = None,
    word_limit: Annotated[int, typer.Option("--word-limit", min=1)] = 500,
    length_policy: Annotated[LengthPolicy, typer.Option("--length-policy")] = LengthPolicy.NOTE,
    by: ByOption = None,
) -> None:
    """Open a new meeting for written statements (without editing the configuration)."""
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
        )
    cli.out.print(
        f"intake: meeting {meeting.code} added; deadline {meeting.deadline.isoformat()}",
        markup=False,
    )


@meetings_app.command("close")
def meetings_close(
    code: Annotated[str, typer.Argument(help="The meeting's code.")],
    by: ByOption = None,
) -> None:
    """Close a meeting: later statements for it are rejected as meeting_closed."""
    with database() as (_current, engine):
        meeting = actions.close_meeting(engine, code=code, actor=actor(by))
    cli.out.print(f"intake: meeting {meeting.code} closed", markup=False)


# -- intake missing ----------------------------------------------------------------------


def missing_command(
    meeting: Annotated[str, typer.Argument(help="The meeting's code.")],
    as_json: JsonOption = False,
) -> None:
    """Registered missions that have no accepted statement for the meeting yet."""
    with database() as (_current, engine), Session(engine) as session:
        rows = views.missing_missions(session, meeting)
    if as_json:
        print_json([row.as_json() for row in rows])
        return
    table = Table(
        title=f"Not yet submitted for {meeting.upper()} ({len(rows)})", title_justify="left"
    )
    for column in ("Code", "Mission", "Sender addresses", "Sent so far"):
        table.add_column(column, overflow="fold")
    for row in rows:
        sent = ", ".join(f"{s['reference']} ({s['status']})" for s in row.submissions)
        table.add_row(row.code, safe(row.name), safe(", ".join(row.senders)), sent or "-")
    cli.out.print(table, soft_wrap=False)


def register(app: typer.Typer, submissions: typer.Typer) -> None:
    app.command("queue")(queue_command)
    app.command("missing")(missing_command)
    submissions.command("show")(show_command)
    for status, name in (
        (m.SubmissionStatus.ACCEPTED, "accept"),
        (m.SubmissionStatus.REJECTED, "reject"),
        (m.SubmissionStatus.HELD, "hold"),
    ):
        submissions.command(name)(_decide(status))
    app.add_typer(replies_app, name="replies")
    app.add_typer(messages_app, name="messages")
    app.add_typer(missions_app, name="missions")
    app.add_typer(meetings_app, name="meetings")
