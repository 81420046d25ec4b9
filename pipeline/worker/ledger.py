"""The ledger entry of a fetched message (`MessageRecord`): unique on mailbox,
UIDVALIDITY and UID, written in the transaction that files the message."""

from __future__ import annotations

from sqlmodel import Session, select

from pipeline.mailbox.imap import FetchedMessage
from pipeline.message.parsed import ParsedMessage
from pipeline.storage import attempts
from pipeline.storage import models as m
from pipeline.worker.context import RunContext, folder_for


def ledger_entry(
    ctx: RunContext,
    fetched: FetchedMessage,
    raw_sha256: str,
    parsed: ParsedMessage | None,
    outcome: m.MessageOutcome,
    reason: str | None,
) -> m.MessageRecord:
    """The entry of `fetched`, not yet added to a session."""
    return m.MessageRecord(
        mailbox=ctx.mailbox,
        uidvalidity=ctx.uidvalidity,
        uid=fetched.uid,
        message_id=parsed.message_id if parsed else None,
        raw_sha256=raw_sha256,
        size=fetched.size,
        received_at=fetched.internaldate,
        sender=parsed.sender if parsed else None,
        subject=parsed.subject[:998] if parsed else None,
        outcome=outcome,
        reason=reason,
        target_folder=folder_for(ctx.settings, outcome),
    )


def held_entry(
    ctx: RunContext,
    session: Session,
    fetched: FetchedMessage,
    raw_sha256: str,
    parsed: ParsedMessage | None,
    reason: str,
    stage: m.Stage,
    error: str,
) -> m.MessageRecord:
    """The ledger entry of a message held because processing failed at `stage`, flushed
    (it has its id), with the crash counter cleared in the same transaction."""
    record = ledger_entry(ctx, fetched, raw_sha256, parsed, m.MessageOutcome.HELD, reason)
    record.failed_stage = stage
    record.error = error
    session.add(record)
    session.flush()
    assert record.id is not None
    attempts.clear(session, ctx.key(fetched.uid))
    return record


def already_filed(ctx: RunContext, fetched: FetchedMessage) -> m.MessageRecord | None:
    """The entry another worker wrote for `fetched`, if any."""
    with Session(ctx.engine) as session:
        return session.exec(
            select(m.MessageRecord).where(
                m.MessageRecord.mailbox == ctx.mailbox,
                m.MessageRecord.uidvalidity == ctx.uidvalidity,
                m.MessageRecord.uid == fetched.uid,
            )
        ).first()


def follow_renumbered_original(ctx: RunContext, session: Session, record: m.MessageRecord) -> None:
    """A duplicate of a message filed here but never moved, under another UIDVALIDITY, is
    that same mail renumbered by the server (a rebuilt index, a migrated mailbox): it goes
    where the original was going, so the mailbox agrees with what was filed and answered.
    Mail delivered twice stays a duplicate, moved to the ignored folder."""
    if record.duplicate_of_id is None:
        return
    original = session.get(m.MessageRecord, record.duplicate_of_id)
    if (
        original is not None
        and original.moved_at is None
        and original.mailbox == ctx.mailbox
        and original.uidvalidity != ctx.uidvalidity
    ):
        record.target_folder = original.target_folder
