"""The mail Intake filed without answering (out-of-office replies, bounces, mailing
lists, duplicates, its own messages): listed for the desk with why, so that what was not
answered can be seen and, where it was wrong, acted on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from pipeline.desk.view_base import JsonView, NotFound
from pipeline.storage import models as m

__all__ = ["IgnoredMessage", "find_message", "ignored_messages"]


@dataclass(frozen=True)
class IgnoredMessage(JsonView):
    id: int
    received_at: datetime
    sender: str | None
    subject: str | None
    reason: str | None
    message_id: str | None
    size: int
    folder: str


def ignored_messages(session: Session, *, limit: int = 200) -> list[IgnoredMessage]:
    """The newest `limit` messages filed as ignored, newest first."""
    records = session.exec(
        select(m.MessageRecord)
        .where(m.MessageRecord.outcome == m.MessageOutcome.IGNORED)
        .order_by(col(m.MessageRecord.received_at).desc(), col(m.MessageRecord.id).desc())
        .limit(limit)
    )
    return [
        IgnoredMessage(
            id=record.id or 0,
            received_at=record.received_at,
            sender=record.sender,
            subject=record.subject,
            reason=record.reason,
            message_id=record.message_id,
            size=record.size,
            folder=record.target_folder,
        )
        for record in records
    ]


def find_message(session: Session, record_id: int) -> m.MessageRecord:
    record = session.get(m.MessageRecord, record_id)
    if record is None:
        raise NotFound(f"There is no message {record_id} in the ledger.")
    return record
