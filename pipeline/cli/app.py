"""The `intake` command: its global options, and every command and group in one table.

Each command module holds its commands, and each group its own `typer.Typer()`; this
module adds them from the top (nothing imports back up to it). Every failure a user can
cause or meet ends in one sentence on stderr and a non-zero exit code, through one
handler (`common.IntakeGroup`): 2 for a configuration or usage problem, 1 for a run
that could not be done.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli import (
    compile_commands,
    config_commands,
    db_commands,
    directory_commands,
    message_commands,
    ops,
    reply_commands,
    run_commands,
    speaker_commands,
    submission_commands,
    texts_commands,
    web_commands,
)
from pipeline.cli.common import IntakeGroup, state
from pipeline.logformat import LogFormat, configure_logging

app = typer.Typer(
    name="intake",
    cls=IntakeGroup,
    help=(
        "Intake: receives written statements from UN delegations by email, checks them, "
        "files them and answers every sender."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# The command tree, in the order `intake --help` lists it.
app.command("run-once")(run_commands.run_once_command)
app.command("worker")(run_commands.worker_command)
app.add_typer(submission_commands.submissions_app, name="submissions")
app.add_typer(config_commands.config_app, name="config")
app.command("demo")(run_commands.demo_command)
app.command("queue")(submission_commands.queue_command)
app.command("missing")(submission_commands.missing_command)
app.add_typer(reply_commands.replies_app, name="replies")
app.add_typer(message_commands.messages_app, name="messages")
app.add_typer(directory_commands.missions_app, name="missions")
app.add_typer(directory_commands.meetings_app, name="meetings")
app.add_typer(speaker_commands.speakers_app, name="speakers")
app.command("digest")(ops.digest_command)
app.command("health")(ops.health_command)
app.command("web")(web_commands.web_command)
app.add_typer(web_commands.users_app, name="users")
app.command("compile")(compile_commands.compile_command)
app.add_typer(db_commands.db_app, name="db")
app.add_typer(texts_commands.texts_app, name="texts")


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
    log_format: Annotated[
        LogFormat | None,
        typer.Option(
            "--log-format",
            envvar="INTAKE_LOG_FORMAT",
            help="text, or json: one event per line for a log collector. Default: [logging] "
            "format in the configuration file, else text.",
            show_default=False,
        ),
    ] = None,
) -> None:
    state.config = config
    state.verbose = verbose
    state.log_format = log_format
    configure_logging(verbose, log_format or LogFormat.TEXT)


# The options of `intake` itself that people also type after the command
# (`intake run-once --config PATH`); they take a value unless listed as flags.
_GLOBAL_OPTIONS = {
    "--config": True,
    "-c": True,
    "--log-format": True,
    "--verbose": False,
    "-v": False,
    "-vv": False,
}


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
