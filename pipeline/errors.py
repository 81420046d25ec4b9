"""Turning low-level network errors into words an operator understands."""

from __future__ import annotations

import socket


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
