"""The desk's one error type: an action that cannot be done as asked."""

from __future__ import annotations


class ActionError(Exception):
    """The action cannot be done as asked; the message says why and what to do."""
