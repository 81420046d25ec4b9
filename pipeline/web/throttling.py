"""Password guessing made slow and then refused: sign-in attempts counted in the database.

Every attempt is a `LoginAttempt` row (per user name tried and per address, shared by
every dashboard process); after `web.login_failures_per_user` failures for a name, or
`login_failures_per_address` from an address, within `login_failure_window_minutes`,
that name or address is refused for `login_lockout_minutes`, with the same message
whether the account exists or not. Failures and lockouts go to the audit log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

from pipeline.settings.models import Settings
from pipeline.storage.db import session_scope
from pipeline.storage.models import AuditEvent, AuditKind, LoginAttempt
from pipeline.web import clock
from pipeline.web.users import password_hash_of, user_key

# A failed login waits this long before answering: guessing gets slow, people don't notice.
FAILED_LOGIN_DELAY = 0.5


@dataclass(frozen=True)
class Lock:
    """Sign-ins refused until `until`: for the name tried (`by` "user") or the address."""

    until: datetime
    by: str

    def seconds_left(self) -> int:
        return max(1, math.ceil((self.until - clock.moment()).total_seconds()))


@dataclass(frozen=True)
class Attempt:
    """A sign-in under way: its row counts as a failure until it succeeds."""

    row_id: int
    name: str
    address: str
    password_hash: str | None  # the user's; None for a name that does not exist


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
    moment = clock.moment()
    since = moment - window - lockout
    found: Lock | None = None
    for by, column, value, limit in (
        ("user", col(LoginAttempt.user_key), user_key(name), web.login_failures_per_user),
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
    moment = clock.moment()
    oldest = moment - timedelta(
        minutes=settings.web.login_failure_window_minutes + settings.web.login_lockout_minutes
    )
    with session_scope(engine) as session:
        session.exec(delete(LoginAttempt).where(col(LoginAttempt.at) < oldest))
        row = LoginAttempt(at=moment, user_key=user_key(name), address=address)
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
    password_hash = password_hash_of(settings, engine, name) if name else None
    return Attempt(row_id=row_id, name=name, address=address, password_hash=password_hash)


# Any constant: the key of the PostgreSQL advisory lock that orders recorded failures.
_FAILURES_LOCK_KEY = 0x1A7A6E


def _one_failure_at_a_time(session: Session) -> None:
    """Record failed sign-ins one after the other. Otherwise, on PostgreSQL, ten failures
    at once can each count the others before they commit: the address ends up locked
    but no transaction saw the lock begin, so the audit log never says so. (SQLite
    already lets one writer at a time in.) Failures are rare; the wait is nothing."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _FAILURES_LOCK_KEY})


def login_failed(settings: Settings, engine: Engine, attempt: Attempt) -> Lock | None:
    """A wrong password: the attempt's row stays, as a failure, and goes to the audit
    log; returns the lockout this failure started, if it did (also in the audit log)."""
    detail = {"user": attempt.name[:120], "address": attempt.address}
    with session_scope(engine) as session:
        _one_failure_at_a_time(session)
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
