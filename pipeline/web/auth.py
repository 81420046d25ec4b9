"""Who may use the dashboard, and how a browser proves it on every request.

- **Users** come from the configuration file (`[[desk.users]]`, argon2 hashes made with
  `intake users hash`) and from the `DeskUser` table (`intake users add`). A name in the
  file wins over the same name in the database, so an operator can always lock a user
  down from the file. Passwords are checked with argon2; an unknown name is checked
  against a dummy hash so that the answer takes as long as for a real user (no user
  enumeration by timing).
- **Sessions** live on the server (`WebSession` rows): the cookie, signed by Starlette
  (itsdangerous), carries a random session token, and every request checks that the
  database still has it, for that user, opened with the user's current password and less
  than `web.session_minutes` ago. Signing out deletes the row, `intake users passwd` and
  `intake users remove` delete the user's rows: a copy of the cookie made before is
  refused at its next request, and so is a cookie forged with a leaked key. The key must
  be random (`secret_key_problem` in the settings refuses a weak one).
- **Password guessing**: every attempt is counted in the database (`LoginAttempt`, per
  user name tried and per address, shared by every dashboard process); after
  `web.login_failures_per_user` failures for a name, or `login_failures_per_address` from
  an address, within `login_failure_window_minutes`, that name or address is refused for
  `login_lockout_minutes`, with the same message whether the account exists or not. At
  most `PASSWORD_CHECK_SLOTS` argon2 verifications run at once in a process
  (`PasswordChecks`): the others wait in the event loop, not in the thread pool, so
  signed-in users' pages are still served. Logins, failures, lockouts and sign-outs go
  to the audit log.
- **CSRF**: each session holds a random token; every form carries it in a hidden field
  and every POST is refused (403) unless it matches. The login form gets one too, from a
  session that exists before anyone logs in; logging in replaces the whole session (no
  session fixation).
- **Security headers** go on every response, error pages included.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import math
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.settings.models import MAKE_SECRET_KEY, Settings
from pipeline.storage.db import session_scope
from pipeline.storage.models import AuditEvent, AuditKind, DeskUser, LoginAttempt, WebSession

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 10
# A failed login waits this long before answering: guessing gets slow, people don't notice.
FAILED_LOGIN_DELAY = 0.5
CSRF_FIELD = "csrf_token"
SESSION_USER = "user"
SESSION_LOGIN_AT = "login_at"
SESSION_CSRF = "csrf"
SESSION_ID = "sid"
# argon2 verifications at once in one dashboard process: each takes a core and 64 MiB.
PASSWORD_CHECK_SLOTS = 2
# Placeholder text of deploy/intake.env.example: a key everybody can read.
PLACEHOLDER = "CHANGE-ME"
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
T = TypeVar("T")


def now() -> float:
    """The clock sessions are judged by (seconds since the epoch); one place to read it."""
    return time.time()


def _moment(seconds: float | None = None) -> datetime:
    return datetime.fromtimestamp(now() if seconds is None else seconds, UTC)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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


def add_user(engine: Engine, name: str, password: str, *, actor: str = "intake") -> None:
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
            session.add(
                AuditEvent(actor=actor, kind=AuditKind.DESK_USER_ADDED, detail={"user": cleaned})
            )
    except IntegrityError:
        # Someone added the same name between our check and our insert.
        raise ValueError(f"a desk user named {cleaned!r} exists already") from None


class ConfiguredUser(ValueError):
    """The user is defined in the configuration file, which the database cannot change."""


def _database_user(settings: Settings, session: Session, name: str, doing: str) -> DeskUser:
    if any(user.name == name for user in settings.desk.users):
        raise ConfiguredUser(
            f"{name} is defined in the configuration file ([[desk.users]]), which "
            f"`intake users` cannot change: {doing} there and restart the dashboard"
        )
    row = session.exec(select(DeskUser).where(DeskUser.name == name)).first()
    if row is None:
        raise ValueError(f"there is no desk user named {name!r} in the database")
    return row


def end_sessions_of(session: Session, name: str) -> int:
    """End every session of a user at once; how many there were."""
    rows = list(session.exec(select(WebSession).where(WebSession.user_name == name)))
    for row in rows:
        session.delete(row)
    return len(rows)


def remove_user(settings: Settings, engine: Engine, name: str, *, actor: str) -> int:
    """Remove a desk user from the database and end their sessions (how many). Raises
    ConfiguredUser for a user of the configuration file, ValueError for an unknown one."""
    cleaned = validate_user_name(name)
    with session_scope(engine) as session:
        row = _database_user(settings, session, cleaned, "delete its entry")
        session.delete(row)
        ended = end_sessions_of(session, cleaned)
        session.add(
            AuditEvent(
                actor=actor,
                kind=AuditKind.DESK_USER_REMOVED,
                detail={"user": cleaned, "sessions_ended": ended},
            )
        )
    return ended


def change_password(
    settings: Settings, engine: Engine, name: str, password: str, *, actor: str
) -> int:
    """Give a database user a new password and end their sessions (how many): a cookie
    copied before the change stops working with it. The failures recorded for the name
    are forgotten (they were guesses at the old password): a lockout of the name ends."""
    cleaned = validate_user_name(name)
    validate_password(password)
    hashed = hash_password(password)
    with session_scope(engine) as session:
        row = _database_user(
            settings, session, cleaned, "put a new password_hash from `intake users hash`"
        )
        row.password_hash = hashed
        session.add(row)
        ended = end_sessions_of(session, cleaned)
        session.exec(
            delete(LoginAttempt).where(
                col(LoginAttempt.user_key) == _user_key(cleaned),
                col(LoginAttempt.failed).is_(True),
            )
        )
        session.add(
            AuditEvent(
                actor=actor,
                kind=AuditKind.DESK_PASSWORD_CHANGED,
                detail={"user": cleaned, "sessions_ended": ended},
            )
        )
    return ended


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


def check_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches `password_hash` (the user's, None for an unknown name).

    An unknown name still costs one argon2 verification (against a dummy hash), so the
    time taken does not tell whether the name exists.
    """
    if password_hash is None:
        _verify(_dummy(), password)
        return False
    return _verify(password_hash, password)


def authenticate(settings: Settings, engine: Engine, name: str, password: str) -> bool:
    """True when the name and password belong to a desk user (one verification)."""
    return check_password(_password_hash(settings, engine, name) if name else None, password)


class PasswordChecks:
    """At most `slots` password verifications at once in this process.

    argon2 is slow and hungry on purpose (a core and 64 MiB for a third of a second): 40
    guesses at once took every thread of the pool and every core, and the desk's pages
    waited 16 times longer. Here a guess waits for a slot in the event loop (an asyncio
    semaphore, made in the loop on first use), holding no thread; the verification then
    runs in the thread pool.

    The counters are changed in the event loop's thread only: `running` and `waiting`
    now, `peak` (the most ever running at once) and `checks` (verifications done).
    """

    def __init__(self, slots: int = PASSWORD_CHECK_SLOTS) -> None:
        self.slots = slots
        self.running = 0
        self.waiting = 0
        self.peak = 0
        self.checks = 0
        self._semaphore: asyncio.Semaphore | None = None

    async def run(self, work: Callable[[], T]) -> T:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.slots)
        self.waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            # A cancelled request still waits for its thread (anyio does not abandon
            # it): the slot is freed when the hashing really ends.
            return await run_in_threadpool(work)
        finally:
            self.running -= 1
            self.checks += 1
            self._semaphore.release()


# -- password guessing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Lock:
    """Sign-ins refused until `until`: for the name tried (`by` "user") or the address."""

    until: datetime
    by: str

    def seconds_left(self) -> int:
        return max(1, math.ceil((self.until - _moment()).total_seconds()))


@dataclass(frozen=True)
class Attempt:
    """A sign-in under way: its row counts as a failure until it succeeds."""

    row_id: int
    name: str
    address: str
    password_hash: str | None  # the user's; None for a name that does not exist


def _user_key(name: str) -> str:
    return name.strip().lower()[:120]


def _lock_end(
    times: list[datetime], limit: int, window: timedelta, lockout: timedelta
) -> datetime | None:
    """When the last lockout that these failures started ends: `limit` failures within
    `window` start one, which lasts `lockout` from the last of them."""
    ordered = sorted(times)
    end: datetime | None = None
    for last in range(limit - 1, len(ordered)):
        if ordered[last] - ordered[last - limit + 1] <= window:
            candidate = ordered[last] + lockout
            end = candidate if end is None or candidate > end else end
    return end


def _lock(
    settings: Settings,
    session: Session,
    name: str,
    address: str,
    *,
    mine: int | None = None,
    failures_only: bool = False,
) -> Lock | None:
    """The lockout a sign-in for `name` from `address` meets now, counting every attempt
    recorded but the caller's own (`mine`): those under way too, unless `failures_only`."""
    web = settings.web
    window = timedelta(minutes=web.login_failure_window_minutes)
    lockout = timedelta(minutes=web.login_lockout_minutes)
    moment = _moment()
    since = moment - window - lockout
    found: Lock | None = None
    for by, column, value, limit in (
        ("user", col(LoginAttempt.user_key), _user_key(name), web.login_failures_per_user),
        ("address", col(LoginAttempt.address), address, web.login_failures_per_address),
    ):
        query = select(LoginAttempt.at).where(column == value, col(LoginAttempt.at) > since)
        if mine is not None:
            query = query.where(col(LoginAttempt.id) != mine)
        if failures_only:
            query = query.where(col(LoginAttempt.failed).is_(True))
        # Refused attempts leave no row, so a few limits' worth of rows is all there is.
        times = list(session.exec(query.order_by(col(LoginAttempt.at).desc()).limit(50 * limit)))
        end = _lock_end(times, limit, window, lockout)
        if end is not None and end > moment and (found is None or end > found.until):
            found = Lock(until=end, by=by)
    return found


def begin_login(settings: Settings, engine: Engine, name: str, address: str) -> Attempt | Lock:
    """Before a password is checked: the lockout it meets, or the attempt, recorded (in
    its own transaction, so that every process counts it while its password is checked).

    The lockout is judged twice: before recording (a refused guess leaves no row: guesses
    against a locked account cannot make the table grow) and after, without the attempt's
    own row, so that attempts made at the same moment in several processes never get more
    than the limit of guesses between them (they may get fewer)."""
    address = address[:64]
    with Session(engine) as session:
        lock = _lock(settings, session, name, address)
    if lock is not None:
        return lock
    moment = _moment()
    oldest = moment - timedelta(
        minutes=settings.web.login_failure_window_minutes + settings.web.login_lockout_minutes
    )
    with session_scope(engine) as session:
        session.exec(delete(LoginAttempt).where(col(LoginAttempt.at) < oldest))
        row = LoginAttempt(at=moment, user_key=_user_key(name), address=address)
        session.add(row)
        session.flush()
        assert row.id is not None
        row_id = row.id
    with Session(engine) as session:
        lock = _lock(settings, session, name, address, mine=row_id)
    if lock is not None:
        with session_scope(engine) as session:
            session.exec(delete(LoginAttempt).where(col(LoginAttempt.id) == row_id))
        return lock
    password_hash = _password_hash(settings, engine, name) if name else None
    return Attempt(row_id=row_id, name=name, address=address, password_hash=password_hash)


def login_failed(settings: Settings, engine: Engine, attempt: Attempt) -> Lock | None:
    """A wrong password: the attempt's row stays, as a failure, and goes to the audit
    log; returns the lockout this failure started, if it did (also in the audit log)."""
    detail = {"user": attempt.name[:120], "address": attempt.address}
    with session_scope(engine) as session:
        row = session.get(LoginAttempt, attempt.row_id)
        if row is not None:
            row.failed = True
            session.add(row)
            session.flush()
        session.add(AuditEvent(kind=AuditKind.LOGIN_FAILED, detail=detail))
        name, address = attempt.name, attempt.address
        before = _lock(settings, session, name, address, mine=attempt.row_id, failures_only=True)
        lock = _lock(settings, session, name, address, failures_only=True)
        if lock is not None and before is None:
            session.add(
                AuditEvent(
                    kind=AuditKind.LOGIN_LOCKED,
                    detail={
                        **detail,
                        "locked": lock.by,
                        "until": lock.until.isoformat(timespec="seconds"),
                    },
                )
            )
    return lock if before is None else None


def login_succeeded(settings: Settings, engine: Engine, attempt: Attempt) -> str | None:
    """The right password: a server-side session, whose token goes into the cookie (the
    database keeps its SHA-256); the attempt is no failure. None if the user was removed
    or given a new password in the meantime."""
    token = new_token()
    moment = _moment()
    oldest = moment - timedelta(minutes=settings.web.session_minutes)
    current = _password_hash(settings, engine, attempt.name)
    with session_scope(engine) as session:
        session.exec(delete(LoginAttempt).where(col(LoginAttempt.id) == attempt.row_id))
        if current is None or current != attempt.password_hash:
            return None
        session.exec(delete(WebSession).where(col(WebSession.created_at) < oldest))
        session.add(
            WebSession(
                token_hash=_digest(token),
                user_name=attempt.name,
                credential=_digest(current),
                created_at=moment,
            )
        )
        session.add(
            AuditEvent(
                actor=attempt.name, kind=AuditKind.LOGIN, detail={"address": attempt.address}
            )
        )
    return token


def session_valid(settings: Settings, engine: Engine, token: str, name: str) -> bool:
    """Is this the token of a session the server opened for `name`, less than
    `session_minutes` ago, with the password the user still has? A session that is not
    valid any more is deleted."""
    with Session(engine) as session:
        query = select(WebSession).where(WebSession.token_hash == _digest(token))
        row = session.exec(query).first()
    if row is None or row.user_name != name:
        return False
    age = now() - row.created_at.timestamp()
    current = _password_hash(settings, engine, name)
    # A start in the future (beyond clock jitter) is as suspect as an old one.
    if (
        -60 <= age <= settings.web.session_minutes * 60
        and current is not None
        and secrets.compare_digest(_digest(current), row.credential)
    ):
        return True
    with session_scope(engine) as session:
        session.exec(delete(WebSession).where(col(WebSession.id) == row.id))
    return False


def sign_out(engine: Engine, token: str | None, name: str, address: str) -> None:
    """End this session (the row goes: a copy of the cookie is worth nothing after)."""
    with session_scope(engine) as session:
        if token:
            session.exec(delete(WebSession).where(col(WebSession.token_hash) == _digest(token)))
        session.add(AuditEvent(actor=name, kind=AuditKind.LOGOUT, detail={"address": address}))


# -- the session ----------------------------------------------------------------------------


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


def start_session(session: MutableMapping[str, Any], name: str, token: str) -> None:
    """A fresh cookie for a user who just logged in (`token`: their server-side session,
    from `login_succeeded`): nothing carried over but nothing."""
    session.clear()
    session[SESSION_USER] = name
    session[SESSION_LOGIN_AT] = now()
    session[SESSION_ID] = token
    session[SESSION_CSRF] = new_token()


def session_user(session: MutableMapping[str, Any], session_minutes: int) -> str | None:
    """The user the cookie claims, or None; a session older than `session_minutes` is
    emptied. Only a first sieve: `session_valid` asks the server."""
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
