"""Replies and messages on the command line: `intake replies list|show|resend|cancel`
(what the delegations receive) and `intake messages retry` (messages held after an error
run through the checks again, from the stored original).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
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
from pipeline.console import safe
from pipeline.desk import actions, views
from pipeline.desk.views import NotFound
from pipeline.mailbox.imap import Mailbox, MailboxError
from pipeline.printable import visible
from pipeline.replies.templates import load_templates
from pipeline.settings.models import Settings
from pipeline.storage import models as m
from pipeline.storage.directory import Directory
from pipeline.worker.context import build_context, folder_for
from pipeline.worker.refiling import refile_message

__all__ = ["messages_app", "replies_app"]

replies_app = typer.Typer(
    help="Replies to delegations: list them, show one as sent, send one again, cancel one."
)
messages_app = typer.Typer(help="Messages in the ledger: retry those held after an error.")


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
    table = new_table(
        f"Replies ({len(rows)})", "Id", "Reference", "Kind", "Status", "To", "Attempts", "Error"
    )
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
        report = send_replies(engine, current)
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
    from pipeline.replies.outbox import reply_text

    with database() as (current, engine), Session(engine) as session:
        reply = session.get(m.Reply, reply_id)
        if reply is None:
            raise NotFound(f"no reply with the id {reply_id} (`intake replies list`)")
        state = views.reply_state(reply)
        text = reply_text(reply, current.smtp)
    cli.err.print(f"intake: reply {reply_id}: {state}", markup=False)
    # Written as it is, but for control characters (made visible): a reply filed before
    # addresses were checked may name one with ESC sequences.
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
        templates = load_templates(current)
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
        send_replies(engine, current)
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
