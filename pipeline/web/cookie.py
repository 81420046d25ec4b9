"""The session cookie: its name, the key that signs it, and what it holds.

Starlette's `SessionMiddleware` signs the cookie (itsdangerous). It holds the user's
name, when they signed in, the token of their server-side session (`sessions`) and the
CSRF token (`csrf`). What the cookie says is only a claim: `access` believes it after
the server has its session. Signing in replaces the whole cookie (no session fixation).
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import MutableMapping
from typing import Any

from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware

from pipeline.settings.desk import MAKE_SECRET_KEY
from pipeline.settings.models import Settings
from pipeline.web import clock
from pipeline.web.csrf import SESSION_CSRF
from pipeline.web.sessions import new_token

SESSION_COOKIE = "intake_session"
SESSION_USER = "user"
SESSION_LOGIN_AT = "login_at"
SESSION_ID = "sid"
# Placeholder text of deploy/intake.env.example: a key everybody can read.
PLACEHOLDER = "CHANGE-ME"
SECRET_FILE = "web-secret"  # noqa: S105  (a file name, not a secret)


def load_secret_key(settings: Settings) -> str:
    """The key that signs session cookies: the configured one, else one made once and kept
    in `<data_dir>/web-secret` (mode 0600), so sessions survive a restart."""
    if settings.web.secret_key is not None and settings.web.secret_key.get_secret_value():
        # The settings refused a weak key already (`secret_key_problem`).
        key = settings.web.secret_key.get_secret_value()
        if PLACEHOLDER in key:
            raise ValueError(
                "[web] secret_key (INTAKE_WEB__SECRET_KEY) is still the placeholder of "
                f"intake.env.example: replace it with the output of {MAKE_SECRET_KEY}"
            )
        return key
    path = settings.data_dir / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".web-secret-")  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            # link() never replaces: when two processes start at once, the first key wins
            # and both use it.
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise ValueError(f"{path} does not hold a usable key; delete it and a new one is made")
    return key


def cookie_middleware(settings: Settings) -> Middleware:
    """The middleware that reads and writes the signed cookie. Raises ValueError for an
    unusable secret key."""
    web = settings.web
    return Middleware(
        SessionMiddleware,
        secret_key=load_secret_key(settings),
        session_cookie=SESSION_COOKIE,
        max_age=web.session_minutes * 60,
        same_site="lax",
        https_only=web.secure_cookies,
    )


def start_session(session: MutableMapping[str, Any], name: str, token: str) -> None:
    """A fresh cookie for a user who just logged in (`token`: their server-side session,
    from `login_succeeded`): nothing carried over but nothing."""
    session.clear()
    session[SESSION_USER] = name
    session[SESSION_LOGIN_AT] = clock.now()
    session[SESSION_ID] = token
    session[SESSION_CSRF] = new_token()


def claims_user(session: MutableMapping[str, Any]) -> bool:
    """Does the cookie name a user at all (believed or not)?"""
    return bool(session.get(SESSION_USER))


def claimed_user(session: MutableMapping[str, Any]) -> str | None:
    """The user the cookie names, if it names one in a usable way; not believed yet."""
    user = session.get(SESSION_USER)
    return user if isinstance(user, str) and user else None


def cookie_expired(session: MutableMapping[str, Any], session_minutes: int) -> bool:
    """Did the cookie's sign-in happen more than `session_minutes` ago (or not at all)?
    Only a first sieve: the server's session decides (`sessions.session_valid`)."""
    login_at = session.get(SESSION_LOGIN_AT)
    age = clock.now() - login_at if isinstance(login_at, int | float) else None
    # A login time in the future (beyond clock jitter) is as suspect as an old one.
    return age is None or age > session_minutes * 60 or age < -60


def session_token(session: MutableMapping[str, Any]) -> str | None:
    """The token of the server-side session the cookie names."""
    token = session.get(SESSION_ID)
    return token if isinstance(token, str) and token else None
