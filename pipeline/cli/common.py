"""What every `intake` command shares: the configuration it runs with, where it prints,
how it fails (one sentence, an exit code), and who is running it.

Command modules import this module, never `cli.app`: `app` builds the `intake` command
from the command groups (`register(app)` in each), so nothing imports back up to it.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import NoReturn

import typer

from pipeline.configuration import ConfigError, load_settings
from pipeline.console import safe_console
from pipeline.settings import Settings

# Everything printed goes through these, which never let a control character from mail
# reach the terminal (`pipeline.console.safe_console`).
err = safe_console(stderr=True, highlight=False, soft_wrap=True)
# Piped or logged output has no width: rich would assume 80 columns and crop the tables.
_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
out = safe_console(highlight=False, soft_wrap=True, width=_WIDTH)

EXIT_RUN_FAILED = 1
EXIT_CONFIG = 2


class State:
    config: Path | None = None


state = State()


def fail(message: str, code: int = EXIT_RUN_FAILED) -> NoReturn:
    err.print(f"intake: error: {message}", markup=False)
    raise typer.Exit(code)


def settings() -> Settings:
    try:
        return load_settings(state.config)
    except ConfigError as error:
        fail(str(error), EXIT_CONFIG)


def actor(by: str | None) -> str:
    """Who is acting, for the audit log: `--by`, else INTAKE_DESK_USER, else the login."""
    return by or os.environ.get("INTAKE_DESK_USER") or getpass.getuser()
