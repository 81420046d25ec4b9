"""Operations commands: `intake digest` and `intake health`.

They follow the `intake` conventions: one line on stderr and exit 2 for a configuration
problem, 1 for something that could not be done (`cli.common.IntakeGroup`).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from pipeline.cli import common as cli
from pipeline.desk.digest import (
    build_digest_email,
    desk_address,
    digest_message_id,
)
from pipeline.desk.digest import prepare_digest as _prepare_digest
from pipeline.desk.digest import send_digest as _send_digest
from pipeline.desk.health import ComponentHealth, check_health
from pipeline.replies.smtp import SmtpError
from pipeline.storage.db import DatabaseError
from pipeline.storage.sync import SyncError


def digest_command(
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the digest instead of sending it; nothing is recorded."
        ),
    ] = False,
) -> None:
    """Send the service desk's digest now, to the address set as desk.address.

    It covers what was filed since the last digest sent (the last 24 hours for the
    first), everything still held, replies that failed, deadlines of the next 48 hours
    and missions that have not submitted. Exit 1 with one line when the SMTP server or
    the database cannot be used; nothing is recorded then, so the next digest covers
    this period too.
    """
    from pipeline.storage.prepare import prepare

    current = cli.settings()
    try:
        if not dry_run:
            desk_address(current)  # before touching the database: a configuration problem

        engine = prepare(current)
        if dry_run:
            digest = _prepare_digest(engine, current)
            if current.desk.address:
                assert digest.since is not None
                message = build_digest_email(
                    digest,
                    current,
                    message_id=digest_message_id(digest.since, digest.now, current.smtp.sender),
                )
                sys.stdout.write(f"To: {message['To']}\nSubject: {message['Subject']}\n\n")
            else:
                sys.stdout.write(f"To: (no [desk] address set)\nSubject: {digest.subject}\n\n")
            sys.stdout.write(digest.render_text())
            return
        result = _send_digest(engine, current)
    except (SmtpError, DatabaseError, SyncError) as error:
        cli.fail(f"{error}; the digest was not sent, the next one covers this period")
    cli.out.print(
        f"intake: digest sent to {result.recipient}: {result.digest.subject}",
        markup=False,
    )


def health_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON object instead of lines.")
    ] = False,
) -> None:
    """Check the database, the mailbox, the SMTP server and the worker's last good run.

    One line per component; exit 0 when all are ok, 1 otherwise (for monitoring).
    """
    current = cli.settings()
    now = datetime.now(UTC)
    results = check_health(current, now=now)
    healthy = all(result.ok for result in results)
    if as_json:
        payload = {
            "ok": healthy,
            "checked_at": now.isoformat(),
            "components": [result.as_json() for result in results],
        }
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    else:
        for line in health_lines(results):
            cli.out.print(line, markup=False)
    if not healthy:
        raise typer.Exit(1)


def health_lines(results: list[ComponentHealth]) -> list[str]:
    """`database  ok    sqlite:///...`: names and verdicts aligned, so a FAIL stands out."""
    width = max((len(result.name) for result in results), default=0)
    return [
        f"{result.name:<{width}}  {'ok' if result.ok else 'FAIL':<4}  {result.detail}"
        for result in results
    ]
