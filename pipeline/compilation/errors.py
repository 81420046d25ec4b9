"""Why a compilation could not be made. Each message is one sentence for the desk.

One base class, so the command line catches one type; the subclasses let it choose the
exit code (a wrong meeting code or output path is a usage problem, a missing file in the
store is a failure) and let tests say which problem they expect.
"""

from __future__ import annotations

from typing import ClassVar

from pipeline.errors import EXIT_CONFIG, IntakeError


class CompilationError(IntakeError):
    """The compilation cannot be made as asked; the message says why and what to do."""


class CompilationTemplateError(CompilationError):
    """A compilation template is missing or broken; the message names the file and key."""

    exit_code: ClassVar[int] = EXIT_CONFIG


class UnknownMeeting(CompilationError):
    """No meeting has this code."""

    exit_code: ClassVar[int] = EXIT_CONFIG


class NoAcceptedStatements(CompilationError):
    """The meeting has no accepted statement yet: there is nothing to compile."""


class OutputFolderMissing(CompilationError):
    """The folder the compilation should be written to does not exist."""

    exit_code: ClassVar[int] = EXIT_CONFIG


class StatementFileMissing(CompilationError):
    """A statement's file is recorded in the database but absent from the file store."""


class StatementUnusable(CompilationError):
    """A statement's file cannot be copied: not a .docx, unsafe or damaged, or ambiguous."""
