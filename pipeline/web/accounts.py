"""Changing desk users, as `intake users` does: add, list, remove, new password.

Only the `DeskUser` table can be changed (a user of the configuration file is changed
there: `ConfiguredUser` says so). Removing a user or giving a new password ends their
sessions, so a cookie copied before stops working; a new password also forgets the
failures recorded for the name (they were guesses at the old one).
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from pipeline.settings.models import Settings
from pipeline.storage.db import session_scope
from pipeline.storage.models import AuditEvent, AuditKind, DeskUser, LoginAttempt
from pipeline.web.passwords import hash_password, validate_password
from pipeline.web.sessions import end_sessions_of
from pipeline.web.users import user_key, validate_user_name


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
                col(LoginAttempt.user_key) == user_key(cleaned),
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
