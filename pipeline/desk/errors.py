"""The desk's one error type: an action that cannot be done as asked."""

from __future__ import annotations

from pipeline.errors import IntakeError


class ActionError(IntakeError):
    """The action cannot be done as asked; the message says why and what to do."""
