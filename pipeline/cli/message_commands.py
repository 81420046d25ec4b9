"""Messages in the ledger on the command line: `intake messages retry` (messages held
after an error run through the checks again, from the stored original), `intake messages
ignored` (the mail filed without a reply, and why) and `intake messages source ID` (a
message as it arrived, control characters made visible).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from sqlmodel import Session

from pipeline.cli import common as cli
from pipeline.cli.desk_common import JsonOption, database, new_table, print_json, send_replies
from pipeline.console import safe
from pipeline.desk import actions, views
from pipeline.mailbox.imap import Mailbox, MailboxError
from pipeline.printable import visible
from pipeline.replies.templates import load_templates
from pipeline.resources.reason_labels import reason_label
from pipeline.settings.models import Settings
from pipeline.storage import models as m
from pipeline.storage.blobs import BlobStore
from pipeline.storage.directory import Directory
from pipeline.worker.context import build_context, folder_for
from pipeline.worker.refiling import refile_message

__all__ = ["messages_app"]

messages_app = typer.Typer(
    help="Messages in the ledger: retry those held after an error, see the mail filed "
    "without a reply and any message's source."
)


@messages_app.command("ignored")
def messages_ignored(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="The newest N.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Mail filed without a reply (out-of-office replies, bounces, mailing lists,
    duplicates), newest first, with why; `intake messages source ID` shows one."""
    with database() as (_current, engine), Session(engine) as session:
        rows = views.ignored_messages(session, limit=limit)
    if as_json:
        print_json([row.as_json() for row in rows])
        return
    table = new_table(
        f"Filed without a reply ({len(rows)})", "Id", "Received", "From", "Subject", "Why"
    )
    for row in rows:
        table.add_row(
            str(row.id),
            f"{row.received_at:%d %b %Y %H:%M %Z}",
            safe(row.sender or "-"),
            safe(row.subject or "-"),
            reason_label(row.reason) if row.reason else "-",
        )
    cli.out.print(table, soft_wrap=False)


@messages_app.command("source")
def messages_source(
    message: Annotated[
        int, typer.Argument(help="The message's id (`intake messages ignored`, the ledger).")
    ],
) -> None:
    """Print a message exactly as it arrived, control characters made visible."""
    with database() as (current, engine), Session(engine) as session:
        record = views.find_message(session, message)
        raw = BlobStore(current.storage_path).get(record.raw_sha256)
    sys.stdout.write(visible(raw.decode("utf-8", errors="replace"), lines=True))


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
