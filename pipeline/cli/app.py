"""The `intake` command.

Every failure a user can cause or meet (configuration, unreachable servers, refused
logins) ends in one sentence on stderr and a non-zero exit code: 2 for a configuration
or usage problem, 1 for a run that could not be done.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlmodel import Session

from pipeline.cli import compile_commands as _compile
from pipeline.cli import db_commands as _db
from pipeline.cli import desk as _desk
from pipeline.cli import ops as _ops
from pipeline.cli import texts_commands as _texts
from pipeline.cli import web_commands as _web
from pipeline.cli.common import (
    EXIT_CONFIG,
    err,
    fail,
    out,
    settings,
    state,
)
from pipeline.console import json_text, submissions_table
from pipeline.mailbox.imap import MailboxError
from pipeline.printable import visible
from pipeline.replies.templates import TemplateError
from pipeline.storage.db import DatabaseError, init_schema, make_engine
from pipeline.storage.models import SubmissionStatus
from pipeline.storage.queries import list_submissions
from pipeline.storage.sync import SyncError

app = typer.Typer(
    name="intake",
    help=(
        "Intake: receives written statements from UN delegations by email, checks them, "
        "files them and answers every sender."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
submissions_app = typer.Typer(help="The queue of submissions, as the service desk sees it.")
app.add_typer(submissions_app, name="submissions")
config_app = typer.Typer(help="Check the configuration file.")
app.add_typer(config_app, name="config")


class _VisibleFormatter(logging.Formatter):
    """Log lines (and their tracebacks) with control characters made visible: a log
    message may quote an address or a file name from mail."""

    def format(self, record: logging.LogRecord) -> str:
        return visible(super().format(record), lines=True)


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_VisibleFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])


@app.callback()
def main_options(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            envvar="INTAKE_CONFIG",
            help="The configuration file (TOML). Also read from INTAKE_CONFIG.",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv for debug).")
    ] = 0,
) -> None:
    state.config = config
    _setup_logging(verbose)


@app.command("run-once")
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

    current = settings()
    try:
        with progress_reporter() as progress:
            report = run_once(current, send=send, progress=progress)
    except TemplateError as error:
        fail(str(error), EXIT_CONFIG)
    except (MailboxError, DatabaseError, SyncError) as error:
        fail(str(error))
    out.print(f"intake: {report.summary()}", markup=False)
    if report.replies.error:
        fail(f"{report.replies.error}; the replies stay queued and go out on the next run")


@contextmanager
def progress_reporter() -> Iterator[Callable[[int, int], None]]:
    """A progress bar on a terminal; a plain line every 100 messages otherwise (cron logs)."""
    if err.is_terminal:
        with Progress(
            TextColumn("filing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task("filing", total=None)

            def update(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            yield update
        return

    def lines(done: int, total: int) -> None:
        if total >= 100 and (done % 100 == 0 or done == total):
            out.print(f"intake: filed {done} of {total}", markup=False)

    yield lines


@app.command("worker")
def worker_command() -> None:
    """Run continuously: poll the mailbox and flush the outbox on the configured intervals.

    Stops cleanly on SIGTERM or Ctrl-C, after the message in hand is filed.
    """
    from pipeline.worker.scheduler import run_worker

    current = settings()
    try:
        run_worker(current)
    except TemplateError as error:
        fail(str(error), EXIT_CONFIG)
    except (DatabaseError, SyncError) as error:
        fail(str(error))


class StatusChoice(StrEnum):
    accepted = "accepted"
    rejected = "rejected"
    held = "held"
    superseded = "superseded"


@submissions_app.command("list")
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
    current = settings()
    try:
        engine = make_engine(current.database_url)
        init_schema(engine)
        with Session(engine) as session:
            rows = list_submissions(
                session,
                meeting=meeting,
                status=SubmissionStatus(status.value) if status else None,
                limit=limit,
            )
    except DatabaseError as error:
        fail(str(error))
    if meeting is not None and current.meeting(meeting) is None and not rows:
        known = ", ".join(m.code for m in current.meetings) or "none configured"
        fail(f"no meeting with the code {meeting!r} (known: {known})", EXIT_CONFIG)
    if as_json:
        sys.stdout.write(json_text([row.as_json() for row in rows]) + "\n")
        return
    out.print(submissions_table(rows), soft_wrap=False)


@config_app.command("check")
def config_check() -> None:
    """Validate the configuration file and the reply templates, without connecting anywhere."""
    from pipeline.replies.templates import load_templates

    current = settings()
    try:
        load_templates(current)
    except TemplateError as error:
        fail(str(error), EXIT_CONFIG)
    senders = sum(len(mission.senders) for mission in current.missions.values())
    out.print(
        f"intake: {current.source}: OK: {len(current.meetings)} meeting(s), "
        f"{len(current.missions)} mission(s) with {senders} sender address(es), "
        f"database {current.database_url.split('://', 1)[0]}",
        markup=False,
    )
    from pipeline.documents.reading import describe_conversion

    fine, conversion = describe_conversion(current.documents)
    (out if fine else err).print(f"intake: {'' if fine else 'warning: '}{conversion}", markup=False)


@app.command("demo")
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
    from pipeline.demo.demo import DemoError, run_demo

    try:
        run_demo(out, keep=keep)
    except DemoError as error:
        fail(str(error))


# The options of `intake` itself that people also type after the command
# (`intake run-once --config PATH`); they take a value unless listed as flags.
_GLOBAL_OPTIONS = {"--config": True, "-c": True, "--verbose": False, "-v": False, "-vv": False}


def global_options_first(args: list[str]) -> list[str]:
    """Move `--config PATH` (and `-v`) found after the command to the front, where the
    command line parser expects them: `intake run-once --config F` means
    `intake --config F run-once`. Nothing after a `--` is touched."""
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest += args[index:]
            break
        name = arg.split("=", 1)[0]
        if name in _GLOBAL_OPTIONS:
            takes_value = _GLOBAL_OPTIONS[name] and "=" not in arg
            front.append(arg)
            if takes_value and index + 1 < len(args):
                front.append(args[index + 1])
                index += 1
        else:
            rest.append(arg)
        index += 1
    return front + rest


# Files and folders Intake creates are for its own user alone: the database (with the
# desk's password hashes) and SQLite's -wal and -shm beside it, the stored mail, the web
# secret, compilations. Set before anything is opened; the systemd units say it too.
PRIVATE_UMASK = 0o077


def main() -> None:
    os.umask(PRIVATE_UMASK)
    app(args=global_options_first(sys.argv[1:]), prog_name="intake")


# The command groups live in their own modules; registering them here keeps one `intake`.
_desk.register(app, submissions_app)
_ops.register(app)
_web.register(app)
_compile.register(app)
_db.register(app)
_texts.register(app)
