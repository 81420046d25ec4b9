"""What every failure a user can meet shares: one base class with the exit code the
`intake` command ends with, and low-level network errors turned into words an operator
understands.

Every error meant for a person (configuration, servers, a desk action asked wrongly)
derives from `IntakeError`; its message is one sentence that says what and how to fix
it. The command line has one handler for all of them (`cli.common.IntakeGroup`).
"""

from __future__ import annotations

import socket
from typing import ClassVar

# The exit codes of `intake`: a run that could not be done, or something the user must
# change first (configuration, usage, a file).
EXIT_RUN_FAILED = 1
EXIT_CONFIG = 2


class IntakeError(Exception):
    """A failure explained in one sentence; `exit_code` is what `intake` exits with."""

    exit_code: ClassVar[int] = EXIT_RUN_FAILED


class IntakeUsageError(IntakeError):
    """Something the user must change before trying again: the configuration, a text
    file, an option. `intake` exits 2."""

    exit_code: ClassVar[int] = EXIT_CONFIG


def describe_error(error: BaseException) -> str:
    """A short phrase: "connection refused", "timed out", or the error's first line."""
    if isinstance(error, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return "unknown host"
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
