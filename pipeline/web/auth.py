"""Who may use the dashboard, and how a browser proves it on every request.

- **Users** come from the configuration file (`[[desk.users]]`, argon2 hashes made with
  `intake users hash`) and from the `DeskUser` table (`intake users add`). A name in the
  file wins over the same name in the database, so an operator can always lock a user
  down from the file. Passwords are checked with argon2; an unknown name is checked
  against a dummy hash so that the answer takes as long as for a real user (no user
  enumeration by timing).
- **Sessions** are Starlette's signed cookie (itsdangerous). The cookie's own age is
  renewed whenever the session changes (a flash message, a new token), so it cannot be
  the expiry: the login time is kept in the session and checked here on every request,
  and a session is refused `web.session_minutes` after the login, whatever the cookie says.
- **CSRF**: each session holds a random token; every form carries it in a hidden field
  and every POST is refused (403) unless it matches. The login form gets one too, from a
  session that exists before anyone logs in; logging in replaces the whole session (no
  session fixation).
- **Security headers** go on every response, error pages included.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import secrets
import tempfile
import time
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from starlette.datastructures import MutableHeaders
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.settings.models import Settings
from pipeline.storage.db import session_scope
from pipeline.storage.models import DeskUser

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 10
# A failed login waits this long before answering: guessing gets slow, people don't notice.
FAILED_LOGIN_DELAY = 0.5
CSRF_FIELD = "csrf_token"
SESSION_USER = "user"
SESSION_LOGIN_AT = "login_at"
SESSION_CSRF = "csrf"
SECRET_FILE = "web-secret"  # noqa: S105  (a file name, not a secret)

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    # default-src does not cover where forms post, who may frame us or <base>: say so.
    "Content-Security-Policy": (
        "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}

_USER_NAME = re.compile(r"[\w.@+-]{1,120}")
_hasher = PasswordHasher()


def now() -> float:
    """The clock sessions are judged by (seconds since the epoch); one place to read it."""
    return time.time()


# -- passwords and users ------------------------------------------------------------------


def validate_password(password: str) -> None:
    """Refuse passwords a desk account must not have, with a sentence saying why."""
    if not password:
        raise ValueError("the password is empty")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(
            f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters "
            f"(it has {len(password)})"
        )


def validate_user_name(name: str) -> str:
    """A user name is what the audit log records as the actor: short and unambiguous."""
    cleaned = name.strip()
    if not _USER_NAME.fullmatch(cleaned):
        raise ValueError(
            f"{name!r} is not a usable user name: 1-120 letters, digits or . _ @ + - (no spaces)"
        )
    return cleaned


def hash_password(password: str) -> str:
    """An argon2id hash for the configuration file or the DeskUser table."""
    hashed: str = _hasher.hash(password)
    return hashed


def add_user(engine: Engine, name: str, password: str) -> None:
    """Store a desk user in the database. Raises ValueError with a clear message."""
    cleaned = validate_user_name(name)
    validate_password(password)
    hashed = hash_password(password)
    try:
        with session_scope(engine) as session:
            existing = session.exec(select(DeskUser).where(DeskUser.name == cleaned)).first()
            if existing is not None:
                raise ValueError(f"a desk user named {cleaned!r} exists already")
            session.add(DeskUser(name=cleaned, password_hash=hashed))
    except IntegrityError:
        # Someone added the same name between our check and our insert.
        raise ValueError(f"a desk user named {cleaned!r} exists already") from None


def list_users(settings: Settings, engine: Engine) -> list[tuple[str, str]]:
    """(name, where it is defined), the file's users first; shadowed database rows are
    listed as such so that an operator sees why a password does not work."""
    users = [(user.name, "config") for user in settings.desk.users]
    configured = {user.name for user in settings.desk.users}
    with Session(engine) as session:
        for row in session.exec(select(DeskUser).order_by(col(DeskUser.name))):
            source = "database (shadowed by config)" if row.name in configured else "database"
            users.append((row.name, source))
    return users


def _password_hash(settings: Settings, engine: Engine, name: str) -> str | None:
    for user in settings.desk.users:
        if user.name == name:
            return user.password_hash
    with Session(engine) as session:
        row = session.exec(select(DeskUser).where(DeskUser.name == name)).first()
    return row.password_hash if row is not None else None


def user_exists(settings: Settings, engine: Engine, name: str) -> bool:
    """A session outlives nothing: a user removed from the file or table is logged out."""
    return _password_hash(settings, engine, name) is not None


def _verify(password_hash: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash, password))
    except VerifyMismatchError:
        return False
    except (InvalidHashError, VerificationError):
        log.error("a desk user's password hash is not a valid argon2 hash; use intake users hash")
        return False


@functools.cache
def _dummy() -> str:
    """Made once, on first use: hashing is deliberately slow."""
    return hash_password(secrets.token_urlsafe(16))


def authenticate(settings: Settings, engine: Engine, name: str, password: str) -> bool:
    """True when the name and password belong to a desk user.

    An unknown name still costs one argon2 verification (against a dummy hash), so the
    time taken does not tell whether the name exists.
    """
    password_hash = _password_hash(settings, engine, name) if name else None
    if password_hash is None:
        _verify(_dummy(), password)
        return False
    return _verify(password_hash, password)


# -- the session ----------------------------------------------------------------------------


def load_secret_key(settings: Settings) -> str:
    """The key that signs session cookies: the configured one, else one made once and kept
    in `<data_dir>/web-secret` (mode 0600), so sessions survive a restart."""
    if settings.web.secret_key is not None and settings.web.secret_key.get_secret_value():
        key = settings.web.secret_key.get_secret_value()
        if len(key) < 32:
            log.warning("[web] secret_key is short (%d characters); use 32 or more", len(key))
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


def new_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(session: MutableMapping[str, Any]) -> str:
    """The session's CSRF token, created on first use (also before login)."""
    token = session.get(SESSION_CSRF)
    if not isinstance(token, str) or not token:
        token = new_token()
        session[SESSION_CSRF] = token
    return token


def csrf_valid(session: MutableMapping[str, Any], submitted: object) -> bool:
    expected = session.get(SESSION_CSRF)
    if not isinstance(expected, str) or not expected or not isinstance(submitted, str):
        return False
    return secrets.compare_digest(expected.encode(), submitted.encode())


def start_session(session: MutableMapping[str, Any], name: str) -> None:
    """A fresh session for a user who just logged in: nothing carried over but nothing."""
    session.clear()
    session[SESSION_USER] = name
    session[SESSION_LOGIN_AT] = now()
    session[SESSION_CSRF] = new_token()


def session_user(session: MutableMapping[str, Any], session_minutes: int) -> str | None:
    """The logged-in user, or None; a session older than `session_minutes` is emptied."""
    user = session.get(SESSION_USER)
    if not isinstance(user, str) or not user:
        return None
    login_at = session.get(SESSION_LOGIN_AT)
    age = now() - login_at if isinstance(login_at, int | float) else None
    # A login time in the future (beyond clock jitter) is as suspect as an old one.
    if age is None or age > session_minutes * 60 or age < -60:
        session.clear()
        return None
    return user


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


# -- headers --------------------------------------------------------------------------------

_ERROR_PAGE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Error</title>"
    "<link rel='stylesheet' href='/static/style.css'></head><body><main class='narrow'>"
    "<h1>Something went wrong</h1><p>The error was logged. Go back to the "
    "<a href='/'>overview</a> and try again.</p></main></body></html>"
)


class SecurityHeadersMiddleware:
    """Adds the security headers to every response, and answers an unexpected error with
    a plain page that carries them too (then re-raises, so the server logs it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        private = not str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if private:
                    # Pages show delegations' data: never kept in a shared cache.
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if not started:
                await HTMLResponse(_ERROR_PAGE, status_code=500)(scope, receive, send_with_headers)
            raise
