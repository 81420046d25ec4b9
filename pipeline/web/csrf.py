"""CSRF tokens: each session holds a random one; every form carries it in a hidden field,
and every POST is refused (403) unless it matches.

The login form gets one too, from a session that exists before anyone signs in.
"""

from __future__ import annotations

import secrets
from collections.abc import MutableMapping
from typing import Any

CSRF_FIELD = "csrf_token"
SESSION_CSRF = "csrf"


def csrf_token(session: MutableMapping[str, Any]) -> str:
    """The session's CSRF token, created on first use (also before login)."""
    token = session.get(SESSION_CSRF)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_CSRF] = token
    return token


def csrf_valid(session: MutableMapping[str, Any], submitted: object) -> bool:
    expected = session.get(SESSION_CSRF)
    if not isinstance(expected, str) or not expected or not isinstance(submitted, str):
        return False
    return secrets.compare_digest(expected.encode(), submitted.encode())
