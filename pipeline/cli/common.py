"""What every `intake` command shares: the configuration it runs with, where it prints,
how it fails (one sentence, an exit code), and who is running it.

Command modules import this module, never `cli.app`: `app` builds the `intake` command
from the command modules' functions and groups, so nothing imports back up to it.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from pipeline.configuration import load_settings
from pipeline.console import safe_console
from pipeline.errors import EXIT_CONFIG, EXIT_RUN_FAILED, IntakeError
from pipeline.logformat import LogFormat, configure_logging
from pipeline.settings import Settings

__all__ = [
    "EXIT_CONFIG",
    "EXIT_RUN_FAILED",
    "IntakeGroup",
    "actor",
    "err",
    "fail",
    "out",
    "settings",
    "state",
]

# Everything printed goes through these, which never let a control character from mail
# reach the terminal (`pipeline.console.safe_console`).
err = safe_console(stderr=True, highlight=False, soft_wrap=True)
# Piped or logged output has no width: rich would assume 80 columns and crop the tables.
_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
out = safe_console(highlight=False, soft_wrap=True, width=_WIDTH)


class State:
    config: Path | None = None
    verbose: int = 0
    log_format: LogFormat | None = None  # from the command line; None: the file decides


state = State()


def fail(message: str, code: int = EXIT_RUN_FAILED) -> NoReturn:
    err.print(f"intake: error: {message}", markup=False)
    raise typer.Exit(code)


class IntakeGroup(TyperGroup):
    """The `intake` command's group: any `IntakeError` a command lets through, from any
    depth of subcommand, ends as its one sentence on stderr and its exit code. Commands
    catch only what they can add words to."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except IntakeError as error:
            fail(str(error), error.exit_code)


def settings() -> Settings:
    """The configuration of this run; a `ConfigError` reaches `IntakeGroup` (exit 2).
    Its `[logging] format` applies from here on unless `--log-format` was given."""
    current = load_settings(state.config)
    if state.log_format is None and current.logging.format is not LogFormat.TEXT:
        configure_logging(state.verbose, current.logging.format)
    return current


def actor(by: str | None) -> str:
    """Who is acting, for the audit log: `--by`, else INTAKE_DESK_USER, else the login."""
    return by or os.environ.get("INTAKE_DESK_USER") or getpass.getuser()
