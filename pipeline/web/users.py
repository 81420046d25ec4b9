"""Who the desk users are: the configuration file's `[[desk.users]]`, then the `DeskUser`
table (`intake users add`).

A name in the file wins over the same name in the database, so an operator can always
lock a user down from the file.
"""

from __future__ import annotations

import re

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pipeline.settings.models import Settings
from pipeline.storage.models import DeskUser

_USER_NAME = re.compile(r"[\w.@+-]{1,120}")


def validate_user_name(name: str) -> str:
    """A user name is what the audit log records as the actor: short and unambiguous."""
    cleaned = name.strip()
    if not _USER_NAME.fullmatch(cleaned):
        raise ValueError(
            f"{name!r} is not a usable user name: 1-120 letters, digits or . _ @ + - (no spaces)"
        )
    return cleaned


def user_key(name: str) -> str:
    """The name as login attempts are counted under it: any case, any spacing."""
    return name.strip().lower()[:120]


def password_hash_of(settings: Settings, engine: Engine, name: str) -> str | None:
    """The user's current password hash, None for a name that is no desk user."""
    for user in settings.desk.users:
        if user.name == name:
            return user.password_hash
    with Session(engine) as session:
        row = session.exec(select(DeskUser).where(DeskUser.name == name)).first()
    return row.password_hash if row is not None else None
