"""One scenario's world: a mailbox, a database and a configuration file of its own, on
the test's servers, so a scenario can run the real command without touching another's."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from pipeline.devservers.dovecot import ThrowawayDovecot
from pipeline.storage.db import make_engine
from tests.conftest import PG_ADMIN, Intake
from tests.helpers.mixed_mail import OUR_SERVER

# A second meeting, for scenarios with more than one open.
CHILDREN = {"code": "CAAC", "title": "Children and armed conflict", "date": "2021-06-28"}
# Every reply is due: no rejection is a repeat, no hour is over its cap.
EVERY_REPLY = {"rejection_window_hours": 0, "max_rejections_per_hour": 0}


@dataclass
class World:
    intake: Intake
    user: str
    password: str
    database_url: str
    config: Path
    changes: dict[str, Any]

    def variant(self, path: Path, **more: Any) -> Path:
        """This world's configuration with more changes, in another file."""
        return self.intake.write_config(path, **_merged(self.changes, more))

    def engine(self) -> sa.Engine:
        return make_engine(self.database_url)

    def folders(self) -> tuple[str, dict[str, list[int]]]:
        """The server's hierarchy delimiter, and the UIDs in each folder of this mailbox."""
        return folder_contents(self.intake.dovecot, self.user, self.password)


def folder_contents(
    dovecot: ThrowawayDovecot, user: str, password: str
) -> tuple[str, dict[str, list[int]]]:
    """The server's hierarchy delimiter, and the UIDs in each selectable folder."""
    found: dict[str, list[int]] = {}
    delimiter = "/"
    with dovecot.imap_client(user, password) as client:
        for flags, separator, name in client.list_folders():
            if separator:
                delimiter = separator.decode() if isinstance(separator, bytes) else separator
            if b"\\Noselect" in flags or b"\\NonExistent" in flags:
                continue
            client.select_folder(name, readonly=True)
            found[str(name)] = sorted(int(uid) for uid in client.search("ALL"))
    return delimiter, found


_worlds = iter(range(1, 1_000_000))


def _database_name() -> str:
    return f"intake_crash_{os.getpid()}_{next(_worlds)}"


def _merged(base: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in more.items():
        old = merged.get(key)
        merged[key] = (
            {**old, **value} if isinstance(value, dict) and isinstance(old, dict) else value
        )
    return merged


@contextmanager
def world(intake: Intake, name: str, **config: Any) -> Iterator[World]:
    """A mailbox and a database of their own, on the test's servers, for one scenario."""
    number = next(_worlds)
    user = f"{name}-{number}-{intake.user}"
    password = "correct horse"
    intake.dovecot.add_user(user, password)
    directory = intake.tmp_path / f"{name}-{number}"
    directory.mkdir()
    postgres = intake.settings.database_url.startswith("postgresql")
    if postgres:
        database = _database_name()
        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{database}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
    else:
        url = f"sqlite:///{directory / 'intake.db'}"
    changes: dict[str, Any] = {
        "paths": {"data_dir": str(directory / "data")},
        "database": {"url": url},
        "mailbox": {"username": user, "password": password},
        "replies": EVERY_REPLY,
        "authentication": {"authserv_id": OUR_SERVER},
    }
    changes = _merged(changes, config)
    path = intake.write_config(directory / "intake.toml", **changes)
    try:
        yield World(intake, user, password, url, path, changes)
    finally:
        if postgres:
            with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
