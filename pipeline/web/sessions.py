"""Server-side sessions: the `WebSession` rows that a session cookie must match.

The cookie carries a random token; the database keeps its SHA-256, the user's name, a
digest of the password the session was opened with, and when. Every request asks
`session_valid`: a session signed out (`sign_out`), older than `web.session_minutes`, or
of a user removed or given a new password (`end_sessions_of`) is refused, so a copy of
the cookie made before is worth nothing, and so is a cookie forged with a leaked key.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

from pipeline.settings.models import Settings
from pipeline.storage.db import session_scope
from pipeline.storage.models import AuditEvent, AuditKind, LoginAttempt, WebSession
from pipeline.web import clock
from pipeline.web.throttling import Attempt
from pipeline.web.users import password_hash_of


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def login_succeeded(settings: Settings, engine: Engine, attempt: Attempt) -> str | None:
    """The right password: a server-side session, whose token goes into the cookie (the
    database keeps its SHA-256); the attempt is no failure. None if the user was removed
    or given a new password in the meantime."""
    token = new_token()
    moment = clock.moment()
    oldest = moment - timedelta(minutes=settings.web.session_minutes)
    current = password_hash_of(settings, engine, attempt.name)
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
    age = clock.now() - row.created_at.timestamp()
    current = password_hash_of(settings, engine, name)
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


def end_sessions_of(session: Session, name: str) -> int:
    """End every session of a user at once; how many there were."""
    rows = list(session.exec(select(WebSession).where(WebSession.user_name == name)))
    for row in rows:
        session.delete(row)
    return len(rows)
