"""The outbox: replies are rows written in the message's transaction, sent after commit.

Sending claims a row first (a conditional UPDATE that only one worker can win), so two
workers never send the same reply. A worker that dies holding a claim leaves the row in
`sending`; after `worker.stale_claim` another worker takes it over. The reply keeps its
Message-ID, so in the one window that cannot be closed (the server said 250, the worker
died before recording it) a duplicate is recognisable as such by any mail client.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pipeline.replies.smtp import SmtpRejected, SmtpSender, SmtpUnavailable
from pipeline.settings.models import Settings, SmtpSettings
from pipeline.storage.db import session_scope
from pipeline.storage.models import AuditEvent, AuditKind, Reply, ReplyStatus, utcnow

log = logging.getLogger(__name__)

BACKOFF_START = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)


def worker_id() -> str:
    import os

    return f"{socket.gethostname()}:{os.getpid()}"


def reply_message_id(*, kind: str, record_id: int, decision_id: int | None, domain: str) -> str:
    """Stable: the same decision always yields the same Message-ID, across resends."""
    return f"<intake.{kind}.{record_id}.{decision_id or 0}@{domain}>"


def build_email(reply: Reply, settings: SmtpSettings) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((settings.sender_name, settings.sender))
    message["To"] = reply.to_address
    message["Subject"] = reply.subject
    message["Date"] = format_datetime(reply.created_at)
    message["Message-ID"] = reply.message_id
    if reply.in_reply_to:
        message["In-Reply-To"] = reply.in_reply_to
    if reply.references:
        message["References"] = reply.references
    # RFC 3834: an automatic reply; Outlook's own header keeps its out-of-office quiet.
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(reply.body, charset="utf-8")
    return message


def _backoff(attempts: int) -> timedelta:
    delay: timedelta = BACKOFF_START * (2 ** max(attempts - 1, 0))
    return min(delay, BACKOFF_MAX)


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    error: str | None = None
    sent_ids: list[int] = field(default_factory=list)


def _due_ids(session: Session, now: datetime, stale_before: datetime) -> list[int]:
    pending = sa.and_(col(Reply.status) == ReplyStatus.PENDING, col(Reply.next_attempt_at) <= now)
    abandoned = sa.and_(
        col(Reply.status) == ReplyStatus.SENDING, col(Reply.claimed_at) < stale_before
    )
    rows = session.exec(select(Reply.id).where(sa.or_(pending, abandoned)).order_by(col(Reply.id)))
    return [row for row in rows if row is not None]


def _claim(engine: Engine, reply_id: int, now: datetime, stale_before: datetime, me: str) -> bool:
    table = Reply.__table__  # type: ignore[attr-defined]
    with session_scope(engine) as session:
        result = session.execute(
            sa.update(table)
            .where(table.c.id == reply_id)
            .where(
                sa.or_(
                    table.c.status == ReplyStatus.PENDING.value,
                    sa.and_(
                        table.c.status == ReplyStatus.SENDING.value,
                        table.c.claimed_at < stale_before,
                    ),
                )
            )
            .values(
                status=ReplyStatus.SENDING.value,
                claimed_at=now,
                claimed_by=me,
            )
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _finish(
    engine: Engine,
    reply_id: int,
    *,
    status: ReplyStatus,
    error: str | None,
    next_attempt: datetime | None = None,
) -> None:
    with session_scope(engine) as session:
        reply = session.get(Reply, reply_id)
        if reply is None:
            return
        reply.attempts += 1
        reply.status = status
        reply.last_error = error
        reply.claimed_at = None
        reply.claimed_by = None
        if status is ReplyStatus.SENT:
            reply.sent_at = utcnow()
        if next_attempt is not None:
            reply.next_attempt_at = next_attempt
        session.add(reply)
        kind = {
            ReplyStatus.SENT: AuditKind.REPLY_SENT,
            ReplyStatus.FAILED: AuditKind.REPLY_FAILED,
        }.get(status, AuditKind.REPLY_FAILED)
        detail: dict[str, object] = {"reply_id": reply_id, "to": reply.to_address}
        if error:
            detail["error"] = error
            detail["will_retry"] = status is ReplyStatus.PENDING
        session.add(
            AuditEvent(
                kind=kind,
                submission_id=reply.submission_id,
                message_record_id=reply.message_record_id,
                detail=detail,
            )
        )


def send_pending(engine: Engine, settings: Settings, *, limit: int | None = None) -> SendReport:
    """Send every reply that is due. SMTP being down is reported, never raised."""
    report = SendReport()
    now = utcnow()
    stale_before = now - settings.worker.stale_claim
    with Session(engine) as session:
        due = _due_ids(session, now, stale_before)
    if limit is not None:
        due = due[:limit]
    if not due:
        return report
    me = worker_id()
    try:
        smtp = SmtpSender(settings.smtp)
        smtp.connect()
    except SmtpUnavailable as error:
        report.error = str(error)
        report.deferred = len(due)
        return report
    try:
        for position, reply_id in enumerate(due):
            if not _claim(engine, reply_id, now, stale_before, me):
                continue  # another worker has it
            with Session(engine) as session:
                reply = session.get(Reply, reply_id)
                assert reply is not None
                message = build_email(reply, settings.smtp)
                attempts = reply.attempts
            try:
                smtp.send(message, recipient=reply.to_address)
            except SmtpRejected as error:
                final = error.permanent or attempts + 1 >= settings.smtp.max_attempts
                _finish(
                    engine,
                    reply_id,
                    status=ReplyStatus.FAILED if final else ReplyStatus.PENDING,
                    error=str(error),
                    next_attempt=None if final else utcnow() + _backoff(attempts + 1),
                )
                if final:
                    report.failed += 1
                else:
                    report.deferred += 1
                continue
            except SmtpUnavailable as error:
                _finish(
                    engine,
                    reply_id,
                    status=ReplyStatus.PENDING,
                    error=str(error),
                    next_attempt=utcnow() + _backoff(attempts + 1),
                )
                report.error = str(error)
                report.deferred += len(due) - position
                break
            _finish(engine, reply_id, status=ReplyStatus.SENT, error=None)
            report.sent += 1
            report.sent_ids.append(reply_id)
    finally:
        smtp.close()
    return report
