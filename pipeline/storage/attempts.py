"""Processing attempts: how a worker knows that a message killed an earlier worker.

A crash leaves no trace in the message's own transaction (it rolls back), so the attempt
is recorded *before* the work, in a transaction of its own: one row per mail (mailbox,
UIDVALIDITY, UID) with the number of attempts started and the stage the last one was
last seen at (an attempt that follows a crash notes every stage it reaches; a first
attempt only its start, to keep the common path at one write). Filing the message
deletes the row in the filing transaction, so a row that
exists when a message is picked up again means that every earlier attempt died without
finishing. After `worker.max_crashes` of those the message is quarantined instead of
being tried again (`pipeline.worker.process`): one poison message never blocks the
mailbox, as in Mailman's switchboard.

The rows are hints, not records: on PostgreSQL they are committed without waiting for
the WAL flush (`synchronous_commit = off`), which costs a crash of the *database server*
at most one uncounted attempt and spares every message a disk flush.

The table belongs to the schema like every other (migration 0002).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlmodel import SQLModel

from pipeline.storage.models import Stage, UTCDateTime, utcnow

metadata = SQLModel.metadata

attempts_table = sa.Table(
    "processingattempt",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("mailbox", sa.String(400), nullable=False),
    sa.Column("uidvalidity", sa.BigInteger, nullable=False),
    sa.Column("uid", sa.BigInteger, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    # Where the last attempt was when it was last heard of (a `Stage` value).
    sa.Column("stage", sa.String(32), nullable=False),
    sa.Column("worker", sa.String(120), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("mailbox", "uidvalidity", "uid", name="uq_attempt_message"),
)


@dataclass(frozen=True)
class MessageKey:
    """A mail as the ledger knows it."""

    mailbox: str
    uidvalidity: int
    uid: int


@dataclass(frozen=True)
class Attempt:
    number: int  # 1 for the first attempt
    last_stage: Stage | None  # where the previous attempt was last seen; None on the first

    @property
    def crashes(self) -> int:
        """Earlier attempts that never finished: each one took its worker down."""
        return self.number - 1


def _relaxed(connection: sa.Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")


def _matches(key: MessageKey) -> sa.ColumnElement[bool]:
    t = attempts_table.c
    return sa.and_(t.mailbox == key.mailbox, t.uidvalidity == key.uidvalidity, t.uid == key.uid)


def begin(engine: Engine, key: MessageKey, *, stage: Stage, worker: str) -> Attempt:
    """Count one more attempt at this message, committed before any work is done."""
    now = utcnow()
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(attempts_table)
        .values(
            mailbox=key.mailbox,
            uidvalidity=key.uidvalidity,
            uid=key.uid,
            attempts=1,
            stage=stage.value,
            worker=worker,
            started_at=now,
            updated_at=now,
        )
        .on_conflict_do_update(
            index_elements=["mailbox", "uidvalidity", "uid"],
            set_={
                "attempts": attempts_table.c.attempts + 1,
                "worker": worker,
                "updated_at": now,
            },
        )
        .returning(attempts_table.c.attempts, attempts_table.c.stage)
    )
    with engine.begin() as connection:
        _relaxed(connection)
        number, last = connection.execute(statement).one()
        if number > 1:
            connection.execute(
                sa.update(attempts_table).where(_matches(key)).values(stage=stage.value)
            )
    return Attempt(number=int(number), last_stage=Stage(last) if number > 1 else None)


def advance(engine: Engine, key: MessageKey, stage: Stage) -> None:
    """Note the stage the attempt has reached, so a quarantine can say where it died."""
    with engine.begin() as connection:
        _relaxed(connection)
        connection.execute(
            sa.update(attempts_table)
            .where(_matches(key))
            .values(stage=stage.value, updated_at=utcnow())
        )


def clear(connection: sa.Connection | Session, key: MessageKey) -> None:
    """The message is filed: called inside the filing transaction, so both or neither."""
    connection.execute(sa.delete(attempts_table).where(_matches(key)))


def suspects(engine: Engine, mailbox: str, uidvalidity: int, uids: list[int]) -> set[int]:
    """UIDs among `uids` with an unfinished attempt: each of them killed a worker once."""
    found: set[int] = set()
    t = attempts_table.c
    with engine.connect() as connection:
        for start in range(0, len(uids), 500):
            chunk = uids[start : start + 500]
            rows = connection.execute(
                sa.select(t.uid).where(
                    t.mailbox == mailbox, t.uidvalidity == uidvalidity, t.uid.in_(chunk)
                )
            )
            found.update(int(row[0]) for row in rows)
    return found
