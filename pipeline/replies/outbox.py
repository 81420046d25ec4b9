"""The outbox: replies are rows written in the message's transaction, sent after commit.

Sending claims a row first, so two workers never send the same reply: on PostgreSQL with
`SELECT ... FOR UPDATE SKIP LOCKED` (concurrent workers take different rows), on SQLite
with a conditional UPDATE that only one worker can win. A worker that dies holding a
claim leaves the row in `sending`; the next pass of any worker sees that the claimant is
dead and takes the claim over at once (`pipeline.replies.claims`; a claimant that cannot
be judged, after `worker.stale_claim`). The reply keeps its Message-ID, so in the one
window that cannot be closed (the server said 250, the worker died before recording it)
a duplicate is recognisable as such by any mail client.

Replies of one submission go out in the order they were created: a reply is not claimed
while an earlier one of the same submission waits or is being sent. Just before sending,
each reply is checked against the submission's current decision
(`pipeline.replies.cancel`): a reply a later decision replaced is cancelled, never sent.

A reply that cannot be sent (refused for now, or the server unreachable) waits with a
backoff; after `smtp.max_attempts` attempts, or at once when refused for good, it is
marked failed with an audit event: the desk's queue and digest list it, and
`intake replies resend` sends it again with the same Message-ID.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pipeline import faults
from pipeline.faults import checkpoint
from pipeline.replies.cancel import SendVerdict, check_before_sending
from pipeline.replies.claims import Claimant, claimant, release_dead_claims, worker_label
from pipeline.replies.compose import unusable_address
from pipeline.replies.headers import add_threading_headers
from pipeline.replies.smtp import SmtpRejected, SmtpSender, SmtpUnavailable
from pipeline.settings.models import Settings, SmtpSettings
from pipeline.storage.db import session_scope
from pipeline.storage.models import AuditEvent, AuditKind, Reply, ReplyStatus, utcnow

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

log = logging.getLogger(__name__)

BACKOFF_START = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)


def worker_id() -> str:
    """`host:pid` of this process, as the audit log names workers."""
    return worker_label()


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
    # The original's id exactly as it came, on one line, or left out (never encoded).
    add_threading_headers(message, in_reply_to=reply.in_reply_to, references=reply.references)
    # RFC 3834: an automatic reply; Outlook's own header keeps its out-of-office quiet.
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(reply.body, charset="utf-8")
    return message


def reply_text(reply: Reply, settings: SmtpSettings) -> str:
    """The reply as the desk is shown it (`intake replies show`, the dashboard's reply
    page): the header exactly as it goes to the SMTP server, a blank line, and the text as
    the delegation reads it (the wire form may be quoted-printable)."""
    message = build_email(reply, settings)
    head = message.as_string().split("\n\n", 1)[0]
    body = str(message.get_content())
    return f"{head}\n\n{body}" + ("" if body.endswith("\n") else "\n")


def _backoff(attempts: int) -> timedelta:
    """How long a reply waits after its `attempts`-th failure: the first retry is the next
    run (most failures are blips), then 1, 2, 4 ... minutes, at most an hour."""
    if attempts <= 1:
        return timedelta(0)
    delay: timedelta = BACKOFF_START * (2 ** (attempts - 2))
    return min(delay, BACKOFF_MAX)


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    cancelled: int = 0
    error: str | None = None
    sent_ids: list[int] = field(default_factory=list)

    def add(self, other: SendReport) -> None:
        """Count another pass of the same run in this report."""
        self.sent += other.sent
        self.failed += other.failed
        self.deferred += other.deferred
        self.cancelled += other.cancelled
        self.error = other.error or self.error
        self.sent_ids.extend(other.sent_ids)


def _due(now: datetime) -> sa.ColumnElement[bool]:
    """Pending and due, with no earlier reply of the same submission still to go out
    (waiting, deferred or being sent): replies of a submission leave in order.
    Abandoned claims were made pending again before (`release_dead_claims`)."""
    replies = Reply.__table__  # type: ignore[attr-defined]
    earlier = replies.alias("earlier")
    blocked = (
        sa.select(earlier.c.id)
        .where(earlier.c.submission_id == replies.c.submission_id)
        .where(earlier.c.id < replies.c.id)
        .where(earlier.c.status.in_([ReplyStatus.PENDING, ReplyStatus.SENDING]))
        .exists()
    )
    return sa.and_(
        col(Reply.status) == ReplyStatus.PENDING,
        col(Reply.next_attempt_at) <= now,
        sa.not_(blocked),
    )


# Rows claimed per statement: one round trip instead of one per reply. A worker that dies
# holding claims delays at most this many replies by `worker.stale_claim`.
CLAIM_CHUNK = 20


def _claim_chunk(engine: Engine, now: datetime, me: Claimant) -> list[int]:
    """Claim up to CLAIM_CHUNK due rows, oldest first, in one transaction.

    PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED`, so concurrent workers take different
    rows instead of queueing on the same ones. SQLite: one `UPDATE ... WHERE id IN
    (SELECT ...)` under BEGIN IMMEDIATE; of two workers, the second sees the rows taken.
    """
    table = Reply.__table__  # type: ignore[attr-defined]
    due = select(Reply.id).where(_due(now)).order_by(col(Reply.id)).limit(CLAIM_CHUNK)
    claim = {
        "status": ReplyStatus.SENDING.value,
        "claimed_at": now,
        "claimed_by": me.label,
        "claim_token": me.token,
    }
    with session_scope(engine) as session:
        if engine.dialect.name == "postgresql":
            ids = [int(i) for i in session.exec(due.with_for_update(skip_locked=True)) if i]
            if not ids:
                return []
            session.execute(sa.update(table).where(table.c.id.in_(ids)).values(**claim))
            return ids
        claimed = session.execute(
            sa.update(table)
            .where(table.c.id.in_(due.scalar_subquery()))
            .values(**claim)
            .returning(table.c.id)
        )
        return sorted(int(row[0]) for row in claimed)


def _anything_due(engine: Engine, now: datetime) -> bool:
    with Session(engine) as session:
        return session.exec(select(Reply.id).where(_due(now)).limit(1)).first() is not None


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
        worker = reply.claimed_by
        reply.attempts += 1
        reply.status = status
        reply.last_error = error
        reply.claimed_at = None
        reply.claimed_by = None
        reply.claim_token = None
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
        if worker:
            detail["worker"] = worker  # which process sent it, for several workers
        if error:
            detail["error"] = error
            detail["will_retry"] = status is ReplyStatus.PENDING
            detail["attempts"] = reply.attempts
        session.add(
            AuditEvent(
                kind=kind,
                submission_id=reply.submission_id,
                message_record_id=reply.message_record_id,
                detail=detail,
            )
        )


def _failed_attempt(
    engine: Engine, reply_id: int, attempts: int, settings: Settings, error: str, *, permanent: bool
) -> bool:
    """Record a failed attempt: pending again after the backoff, or failed for good after
    `smtp.max_attempts` (or a permanent refusal). True when it failed for good: the
    audit event then shows it to the desk (queue, digest, `intake replies list`)."""
    final = permanent or attempts + 1 >= settings.smtp.max_attempts
    _finish(
        engine,
        reply_id,
        status=ReplyStatus.FAILED if final else ReplyStatus.PENDING,
        error=error,
        next_attempt=None if final else utcnow() + _backoff(attempts + 1),
    )
    if final:
        log.error("reply %s failed for good after %s attempt(s): %s", reply_id, attempts + 1, error)
    return final


def _connect(settings: Settings) -> SmtpSender:
    smtp = SmtpSender(settings.smtp)
    smtp.connect()
    if faults.armed("in_smtp"):
        _checkpoint_before_data(smtp)
    return smtp


def _checkpoint_before_data(smtp: SmtpSender) -> None:
    """Crash tests only: reach the `in_smtp` checkpoint after MAIL FROM and RCPT TO were
    accepted and before DATA, i.e. in the middle of the SMTP conversation."""
    client = smtp._client
    if client is None:
        return
    data = client.data

    def data_with_checkpoint(msg: ReadableBuffer | str) -> tuple[int, bytes]:
        checkpoint("in_smtp", message_id=_sending.in_reply_to)
        return data(msg)

    client.data = data_with_checkpoint  # type: ignore[method-assign]


class _Sending:
    """The original's Message-ID of the reply being sent, for the `@MESSAGE-ID` faults."""

    in_reply_to: str | None = None


_sending = _Sending()


def send_pending(engine: Engine, settings: Settings, *, limit: int | None = None) -> SendReport:
    """Send every reply that is due. SMTP being down is reported, never raised.

    When the server cannot be reached, each due reply still counts an attempt (and waits
    its backoff): a server down for hours ends in failed replies the desk sees, not in
    replies queued forever.
    """
    with claimant(engine) as me:
        return _send_pass(engine, settings, me, limit)


def _send_pass(engine: Engine, settings: Settings, me: Claimant, limit: int | None) -> SendReport:
    report = SendReport()
    now = utcnow()
    release_dead_claims(engine, me, now=now, stale_before=now - settings.worker.stale_claim)
    if not _anything_due(engine, now):
        return report
    smtp: SmtpSender | None = None
    try:
        smtp = _connect(settings)
    except SmtpUnavailable as error:
        report.error = str(error)
    try:
        handled = 0
        while (limit is None or handled < limit) and (chunk := _claim_chunk(engine, now, me)):
            with Session(engine) as session:
                rows = {
                    r.id: r for r in session.exec(select(Reply).where(col(Reply.id).in_(chunk)))
                }
            waiting = [rows[i] for i in chunk if i in rows]
            try:
                while waiting and (limit is None or handled < limit):
                    reply = waiting.pop(0)
                    handled += 1
                    smtp = _send_one(engine, settings, smtp, reply, report, me)
            finally:
                if waiting:  # over the limit, or an unexpected error: due again at once
                    _release(engine, [r.id for r in waiting if r.id is not None], me)
    finally:
        _sending.in_reply_to = None
        if smtp is not None:
            smtp.close()
    return report


def _send_one(
    engine: Engine,
    settings: Settings,
    smtp: SmtpSender | None,
    reply: Reply,
    report: SendReport,
    me: Claimant,
) -> SmtpSender | None:
    """Send one claimed reply and record the outcome; the connection to go on with (None
    once the server went away: the rest of the pass counts an attempt each).

    First, in the same breath, the reply is checked: still claimed by this pass, and
    still announcing the submission's current decision (else it is cancelled)."""
    assert reply.id is not None
    _sending.in_reply_to = reply.in_reply_to
    with engine.begin() as connection:
        verdict = check_before_sending(connection, reply, me.token)
    if verdict is SendVerdict.CANCELLED:
        log.info("reply %s not sent: a later decision replaced the one it announced", reply.id)
        report.cancelled += 1
        return smtp
    if verdict is SendVerdict.SKIP:
        return smtp
    unusable = unusable_address(reply.to_address)
    if unusable is not None:
        # Filed before addresses were checked, or written by hand: never sent, failed
        # for good at once so the desk sees it (`intake replies list --status failed`).
        report.failed += _failed_attempt(
            engine, reply.id, reply.attempts, settings, f"not sent: {unusable}", permanent=True
        )
        return smtp
    if smtp is None:
        assert report.error is not None
        final = _failed_attempt(
            engine, reply.id, reply.attempts, settings, report.error, permanent=False
        )
        report.failed += final
        report.deferred += not final
        return None
    try:
        smtp.send(build_email(reply, settings.smtp), recipient=reply.to_address)
    except (SmtpRejected, SmtpUnavailable) as error:
        if isinstance(error, SmtpUnavailable):
            report.error = str(error)
            smtp.close()
            smtp = None
        permanent = isinstance(error, SmtpRejected) and error.permanent
        final = _failed_attempt(
            engine, reply.id, reply.attempts, settings, str(error), permanent=permanent
        )
        report.failed += final
        report.deferred += not final
        return smtp
    checkpoint("after_250", message_id=_sending.in_reply_to)
    _mark_sent(engine, reply, me)
    report.sent += 1
    report.sent_ids.append(reply.id)
    return smtp


def _mark_sent(engine: Engine, reply: Reply, me: Claimant) -> None:
    """Sent: the row and its audit event in one short transaction, without loading the
    row again (this runs once per reply)."""
    replies = Reply.__table__  # type: ignore[attr-defined]
    events = AuditEvent.__table__  # type: ignore[attr-defined]
    now = utcnow()
    with engine.begin() as connection:
        connection.execute(
            sa.update(replies)
            .where(replies.c.id == reply.id)
            .values(
                attempts=replies.c.attempts + 1,
                status=ReplyStatus.SENT,
                last_error=None,
                claimed_at=None,
                claimed_by=None,
                claim_token=None,
                sent_at=now,
            )
        )
        connection.execute(
            sa.insert(events).values(
                at=now,
                actor="intake",
                kind=AuditKind.REPLY_SENT,
                submission_id=reply.submission_id,
                message_record_id=reply.message_record_id,
                detail={"reply_id": reply.id, "to": reply.to_address, "worker": me.label},
            )
        )


def _release(engine: Engine, reply_ids: list[int], me: Claimant) -> None:
    """Give back claims this pass will not use: due again at once."""
    table = Reply.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        connection.execute(
            sa.update(table)
            .where(table.c.id.in_(reply_ids))
            .where(table.c.status == ReplyStatus.SENDING)
            .where(table.c.claim_token == me.token)
            .values(status=ReplyStatus.PENDING, claimed_at=None, claimed_by=None, claim_token=None)
        )
