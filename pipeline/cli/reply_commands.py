"""Replies on the command line: `intake replies list|show|resend|cancel`, what the
delegations receive."""

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
from pipeline.printable import visible
from pipeline.storage import models as m

__all__ = ["replies_app"]

replies_app = typer.Typer(
    help="Replies to delegations: list them, show one as sent, send one again, cancel one."
)


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
