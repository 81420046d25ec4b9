"""Running Intake: `intake run-once` (one poll, for cron), `intake worker` (continuous,
for systemd) and `intake demo` (the whole flow on a throwaway mailbox).

Exit 0 when a run completed (rejections are a normal outcome); a mailbox, database or
SMTP server that cannot be used ends in one line and exit 1 (`cli.common.IntakeGroup`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli import common as cli
from pipeline.cli.progress import progress

__all__ = ["demo_command", "run_once_command", "worker_command"]


def run_once_command(
    send: Annotated[
        bool, typer.Option("--send/--no-send", help="Send the replies after filing.")
    ] = True,
) -> None:
    """Poll the mailbox once, file every waiting message, move it, send the replies.

    Meant for cron. Exit 0 when the run completed (rejections are a normal outcome);
    1 with one line when the mailbox, database or SMTP server cannot be used.
    """
    from pipeline.worker.run import run_once

    current = cli.settings()
    with progress(
        "filing", every=100, line=lambda done, total: f"intake: filed {done} of {total}"
    ) as update:
        report = run_once(current, send=send, progress=update)
    cli.out.print(f"intake: {report.summary()}", markup=False)
    if report.replies.error:
        cli.fail(f"{report.replies.error}; the replies stay queued and go out on the next run")


def worker_command() -> None:
    """Run continuously: poll the mailbox and flush the outbox on the configured intervals.

    Stops cleanly on SIGTERM or Ctrl-C, after the message in hand is filed.
    """
    from pipeline.worker.scheduler import run_worker

    run_worker(cli.settings())


def demo_command(
    keep: Annotated[
        Path | None,
        typer.Option(
            "--keep", help="Keep the demo's data (database, files, config) in this folder."
        ),
    ] = None,
) -> None:
    """Show the whole flow with a throwaway mailbox and sample submissions.

    Starts a private Dovecot and a test SMTP server, seeds messages from several
    delegations, runs Intake once and prints the queue and the replies the delegations
    receive. Needs Dovecot (apt-get install dovecot-imapd dovecot-lmtpd); no
    configuration file is needed.
    """
    from pipeline.demo.demo import run_demo

    run_demo(cli.out, keep=keep)
