"""A reply never contradicts the decision that stands.

A reply announces one decision (`Reply.decision_id`). When a submission gets a new
decision (the desk accepts, rejects or holds it; a held message is run through the checks
again), every reply of that submission that has not gone out yet (waiting, deferred after
an SMTP failure, or failed) is cancelled in the same transaction, with why and an audit
event: only the new decision's reply may reach the delegation. The outbox checks again
just before it sends (`check_before_sending`): a reply whose decision is no longer the
submission's newest is cancelled instead of sent. The desk can also cancel one reply by
hand (`pipeline.desk.actions.cancel_reply`).

A reply already handed to the SMTP server cannot be recalled: if a decision is changed
in the moment between the outbox's check and the server's answer, the older reply goes
out, and the new one follows it (replies of one submission go out in the order they were
created; see `pipeline.replies.outbox`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from pipeline.storage.models import (
    UNSENT_STATUSES,
    AuditEvent,
    AuditKind,
    Decision,
    Reply,
    ReplyStatus,
    utcnow,
)

# Why a reply was cancelled, as recorded (`Reply.cancel_reason`) and shown to the desk.
REPLACED = "replaced by a later decision"


def cancel_unsent(
    session: Session, submission_id: int, *, why: str, actor: str, decision: str
) -> list[int]:
    """Cancel every reply of the submission that has not been sent (pending, deferred,
    failed), in the caller's transaction: a new decision (`decision`: its status) is
    being recorded. Returns the ids cancelled."""
    waiting = list(
        session.exec(
            select(Reply)
            .where(Reply.submission_id == submission_id)
            .where(col(Reply.status).in_(UNSENT_STATUSES))
            .order_by(col(Reply.id))
        )
    )
    for reply in waiting:
        cancel_reply_row(session, reply, why=why, actor=actor, new_decision=decision)
    return [reply.id for reply in waiting if reply.id is not None]


def cancel_reply_row(
    session: Session, reply: Reply, *, why: str, actor: str, **detail: object
) -> None:
    """Mark one unsent reply cancelled, with why, and record it in the audit log
    (`detail` adds to the event: the new decision, or that the desk did it)."""
    was = reply.status
    reply.status = ReplyStatus.CANCELLED
    reply.cancelled_at = utcnow()
    reply.cancel_reason = why
    session.add(reply)
    session.add(
        AuditEvent(
            actor=actor,
            kind=AuditKind.REPLY_CANCELLED,
            submission_id=reply.submission_id,
            message_record_id=reply.message_record_id,
            detail={
                "reply_id": reply.id,
                "kind": reply.kind.value,
                "to": reply.to_address,
                "was": was.value,
                "why": why,
                **detail,
            },
        )
    )


class SendVerdict(StrEnum):
    SEND = "send"
    SKIP = "skip"  # no longer this claimant's to send (cancelled, taken over)
    CANCELLED = "cancelled"  # its decision was replaced: cancelled now, never sent


@dataclass(frozen=True)
class _Claimed:
    status: ReplyStatus
    claim_token: str | None
    decision_id: int | None
    current_decision_id: int | None


def check_before_sending(connection: Connection, reply: Reply, claim_token: str) -> SendVerdict:
    """Just before a claimed reply goes to the SMTP server: is it still ours to send, and
    does it still announce the submission's current decision? A reply whose decision was
    replaced is cancelled here, in the caller's transaction, with an audit event."""
    replies = Reply.__table__  # type: ignore[attr-defined]
    decisions = Decision.__table__  # type: ignore[attr-defined]
    newest = (
        sa.select(sa.func.max(decisions.c.id))
        .where(decisions.c.submission_id == replies.c.submission_id)
        .scalar_subquery()
    )
    row = connection.execute(
        sa.select(replies.c.status, replies.c.claim_token, replies.c.decision_id, newest).where(
            replies.c.id == reply.id
        )
    ).first()
    if row is None:
        return SendVerdict.SKIP
    claimed = _Claimed(ReplyStatus(row[0]), row[1], row[2], row[3])
    if claimed.status is not ReplyStatus.SENDING or claimed.claim_token != claim_token:
        return SendVerdict.SKIP
    if (
        claimed.decision_id is None
        or claimed.current_decision_id is None
        or claimed.decision_id == claimed.current_decision_id
    ):
        return SendVerdict.SEND
    now = utcnow()
    connection.execute(
        sa.update(replies)
        .where(replies.c.id == reply.id)
        .values(
            status=ReplyStatus.CANCELLED,
            cancelled_at=now,
            cancel_reason=REPLACED,
            claimed_at=None,
            claimed_by=None,
            claim_token=None,
        )
    )
    events = AuditEvent.__table__  # type: ignore[attr-defined]
    connection.execute(
        sa.insert(events).values(
            at=now,
            actor="intake",
            kind=AuditKind.REPLY_CANCELLED,
            submission_id=reply.submission_id,
            message_record_id=reply.message_record_id,
            detail={
                "reply_id": reply.id,
                "kind": reply.kind.value,
                "to": reply.to_address,
                "was": ReplyStatus.SENDING.value,
                "why": REPLACED,
                "found_by": "outbox",
            },
        )
    )
    return SendVerdict.CANCELLED
