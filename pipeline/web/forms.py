"""What a browser sent, read safely: form fields, row ids in URLs, where to go next, and
the browser's address."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request

# Ids are PostgreSQL `integer`s: a larger number in a URL names no row (and would make the
# database, or SQLite's driver, fail instead of answering "not found").
MAX_ROW_ID = 2**31 - 1


def text(form: FormData, name: str) -> str:
    """A text field of the form; "" when it is missing or a file."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def row_id(request: Request) -> int | None:
    """The `{id:int}` of the URL, or None when no row can have it."""
    value: int = request.path_params["id"]
    return value if 0 < value <= MAX_ROW_ID else None


def safe_next(value: str | None, default: str = "/") -> str:
    """Where to go after login: only a path on this site, never another host."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def address(request: Request) -> str:
    """The browser's address, for the audit log and the lockouts."""
    # Behind the reverse proxy uvicorn puts the browser's address here (X-Forwarded-For
    # from 127.0.0.1, the proxy: docs/deployment.md).
    return request.client.host if request.client else "?"
