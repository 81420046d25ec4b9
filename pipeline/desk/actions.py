"""What a desk officer does: override a decision, resend a reply, retry a held message,
register a sender, add or close a meeting. Shared by the CLI and the dashboard.

Each action is one transaction that records who did it and why (a `Decision` row and an
audit event); replies go through the outbox like every other reply, sent after the
commit by the caller (`pipeline.replies.outbox.send_pending`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

# Re-exported: callers (the command line, the dashboard) import them from here.
from pipeline.desk.errors import ActionError as ActionError
from pipeline.desk.meetings import add_meeting as add_meeting
from pipeline.desk.meetings import close_meeting as close_meeting
from pipeline.desk.views import NotFound, find_meeting, find_mission_row, find_submission
from pipeline.replies.cancel import cancel_reply_row, cancel_unsent
from pipeline.replies.compose import NOT_QUOTED
from pipeline.replies.dates import format_date, format_local
from pipeline.replies.outbox import reply_message_id
from pipeline.replies.templates import ReplyTexts
from pipeline.settings.models import Settings
from pipeline.storage import models as m
from pipeline.storage.db import session_scope
from pipeline.storage.superseding import supersede_current

DESK_STATUSES = (m.SubmissionStatus.ACCEPTED, m.SubmissionStatus.REJECTED, m.SubmissionStatus.HELD)
_REPLY_KIND = {
    m.SubmissionStatus.ACCEPTED: (m.ReplyKind.ACKNOWLEDGEMENT, "desk_accepted"),
    m.SubmissionStatus.REJECTED: (m.ReplyKind.REJECTION, "desk_rejected"),
    m.SubmissionStatus.HELD: (m.ReplyKind.HELD, "desk_held"),
}


@dataclass(frozen=True)
class DeskDecisionResult:
    reference: str
    previous: str
    status: str
    reply_id: int | None
    superseded: str | None
    cancelled: tuple[int, ...] = ()


def decide_submission(
    engine: Engine,
    settings: Settings,
    templates: ReplyTexts,
    *,
    reference: str,
    status: m.SubmissionStatus,
    reason: str,
    actor: str,
    notify: bool = True,
    meeting_code: str | None = None,
    mission_code: str | None = None,
) -> DeskDecisionResult:
    """A desk decision overrides the automatic one; the delegation is told by default.

    Accepting makes the submission the mission's current one for its meeting (the
    accepted one before it is marked superseded). A held message with no meeting or no
    known mission needs `meeting_code` / `mission_code` to be accepted.
    """
    if status not in DESK_STATUSES:
        raise ActionError(f"a desk decision is accept, reject or hold, not {status.value}")
    reason = " ".join(reason.split())
    if not reason:
        raise ActionError("give a reason (--reason TEXT): it is recorded and sent to the sender")
    with session_scope(engine) as session:
        submission = find_submission(session, reference)
        assert submission.id is not None
        previous = submission.status
        if meeting_code is not None:
            submission.meeting_id = find_meeting(session, meeting_code).id
        if mission_code is not None:
            submission.mission_id = find_mission_row(session, mission_code).id
        superseded: m.Submission | None = None
        if status is m.SubmissionStatus.ACCEPTED:
            if submission.meeting_id is None:
                raise ActionError(
                    f"{submission.reference} is not routed to a meeting: accept it with "
                    "--meeting CODE"
                )
            if submission.mission_id is None:
                raise ActionError(
                    f"{submission.reference} comes from an unregistered sender: accept it with "
                    "--mission CODE (and consider `intake missions add-sender`)"
                )
            superseded = supersede_current(
                session,
                meeting_id=submission.meeting_id,
                mission_id=submission.mission_id,
                successor_id=submission.id,
            ).superseded
            if superseded is not None:
                session.add(
                    m.AuditEvent(
                        actor=actor,
                        kind=m.AuditKind.SUBMISSION_SUPERSEDED,
                        submission_id=superseded.id,
                        message_record_id=superseded.message_record_id,
                        detail={"superseded_by": submission.reference, "by_desk": True},
                    )
                )
        submission.status = status
        submission.updated_at = m.utcnow()
        session.add(submission)
        decision = m.Decision(
            submission_id=submission.id, status=status, decided_by=actor, note=reason
        )
        session.add(decision)
        session.flush()
        assert decision.id is not None
        # Only the reply of the decision that stands may reach the delegation.
        cancelled = cancel_unsent(
            session,
            submission.id,
            why=f"replaced by the desk's decision ({status.value}, by {actor})",
            actor=actor,
            decision=status.value,
        )
        session.add(
            m.AuditEvent(
                actor=actor,
                kind=m.AuditKind.DESK_DECISION,
                submission_id=submission.id,
                message_record_id=submission.message_record_id,
                detail={
                    "from": previous.value,
                    "to": status.value,
                    "reason": reason,
                    "notify": notify,
                },
            )
        )
        reply_id = None
        if notify:
            reply_id = _queue_desk_reply(
                session,
                settings,
                templates,
                submission,
                decision,
                reason,
                actor,
                superseded=superseded,
            )
        return DeskDecisionResult(
            reference=submission.reference,
            previous=previous.value,
            status=status.value,
            reply_id=reply_id,
            superseded=superseded.reference if superseded else None,
            cancelled=tuple(cancelled),
        )


def _queue_desk_reply(
    session: Session,
    settings: Settings,
    templates: ReplyTexts,
    submission: m.Submission,
    decision: m.Decision,
    reason: str,
    actor: str,
    *,
    superseded: m.Submission | None,
) -> int | None:
    record = session.get(m.MessageRecord, submission.message_record_id)
    original = _original_reply(session, submission)
    to_address = original.to_address if original is not None else submission.sender
    if record is None or not to_address or to_address == settings.smtp.sender:
        return None
    meeting = session.get(m.Meeting, submission.meeting_id) if submission.meeting_id else None
    mission = session.get(m.Mission, submission.mission_id) if submission.mission_id else None
    zone = ZoneInfo(meeting.timezone) if meeting else ZoneInfo("America/New_York")
    kind, template = _REPLY_KIND[submission.status]
    # The language the automatic reply chose: the statement's, else the mission's.
    language = templates.language_for(
        statement_language=submission.statement_language,
        mission_code=mission.code if mission else None,
    )
    context: dict[str, Any] = {
        "reference": submission.reference,
        "meeting": meeting,
        "meeting_date": format_date(meeting.date, language) if meeting else "",
        "deadline": format_local(meeting.deadline, zone, language) if meeting else "",
        "deadline_passed": meeting is not None and meeting.deadline < m.utcnow(),
        "mission_name": mission.name if mission else (submission.sender or ""),
        "received_at": format_local(submission.received_at, zone, language),
        # Nothing the sender wrote is quoted to an address no mission registered.
        "quote": mission is not None,
        "original_subject": (record.subject or "(no subject)") if mission else NOT_QUOTED,
        "reason": reason,
        "supersedes": superseded.reference if superseded else None,
        "contacts": settings.contacts,
    }
    rendered = templates.in_language(language).render(template, context)
    assert record.id is not None
    assert decision.id is not None
    reply = m.Reply(
        message_record_id=record.id,
        submission_id=submission.id,
        decision_id=decision.id,
        kind=kind,
        to_address=to_address,
        subject=rendered.subject,
        body=rendered.body,
        message_id=reply_message_id(
            kind=f"desk-{kind.value}",
            record_id=record.id,
            decision_id=decision.id,
            domain=settings.smtp.sender.rsplit("@", 1)[1],
        ),
        in_reply_to=record.message_id,
        references=record.message_id,
    )
    session.add(reply)
    session.flush()
    session.add(
        m.AuditEvent(
            actor=actor,
            kind=m.AuditKind.REPLY_QUEUED,
            submission_id=submission.id,
            message_record_id=record.id,
            detail={"kind": kind.value, "to": to_address, "by_desk": True},
        )
    )
    return reply.id


def _original_reply(session: Session, submission: m.Submission) -> m.Reply | None:
    """The first reply to this message: it went to the Reply-To or From, so do we."""
    return session.exec(
        select(m.Reply).where(m.Reply.submission_id == submission.id).order_by(m.Reply.id)  # type: ignore[arg-type]
    ).first()


def resend_reply(engine: Engine, *, reply_id: int, actor: str) -> m.Reply:
    """Queue a reply again, as it was (same text, same Message-ID): a failed one, or one
    the delegation says it never received."""
    with session_scope(engine) as session:
        reply = session.get(m.Reply, reply_id)
        if reply is None:
            raise NotFound(f"no reply with the id {reply_id} (`intake replies list`)")
        if reply.status is m.ReplyStatus.SENDING:
            raise ActionError(f"reply {reply_id} is being sent right now; try again in a minute")
        replaced = _replaced_by(session, reply)
        if replaced is not None:
            raise ActionError(
                f"reply {reply_id} announced an earlier decision; the submission is "
                f"{replaced.status.value} now (decided by {replaced.decided_by}): resending it "
                "would contradict that decision"
            )
        previous = reply.status
        reply.status = m.ReplyStatus.PENDING
        reply.next_attempt_at = m.utcnow()
        reply.last_error = None
        session.add(reply)
        session.add(
            m.AuditEvent(
                actor=actor,
                kind=m.AuditKind.REPLY_RESENT,
                submission_id=reply.submission_id,
                message_record_id=reply.message_record_id,
                detail={"reply_id": reply_id, "was": previous.value, "to": reply.to_address},
            )
        )
        return reply


def _replaced_by(session: Session, reply: m.Reply) -> m.Decision | None:
    """The submission's current decision, when it is not the one this reply announced."""
    if reply.submission_id is None or reply.decision_id is None:
        return None
    current = session.exec(
        select(m.Decision)
        .where(m.Decision.submission_id == reply.submission_id)
        .order_by(col(m.Decision.id).desc())
    ).first()
    if current is None or current.id == reply.decision_id:
        return None
    return current


def cancel_reply(engine: Engine, *, reply_id: int, reason: str, actor: str) -> m.Reply:
    """The desk stops one reply that has not gone out (waiting, deferred or failed): it
    is never sent, and the audit log says who stopped it and why."""
    reason = " ".join(reason.split())
    if not reason:
        raise ActionError("give a reason (--reason TEXT): it is recorded in the audit log")
    with session_scope(engine) as session:
        reply = session.get(m.Reply, reply_id)
        if reply is None:
            raise NotFound(f"no reply with the id {reply_id} (`intake replies list`)")
        if reply.status is m.ReplyStatus.SENDING:
            raise ActionError(
                f"reply {reply_id} is being sent right now and cannot be stopped; "
                "`intake replies show` tells in a minute whether it went"
            )
        if reply.status is m.ReplyStatus.SENT:
            sent = reply.sent_at.isoformat(timespec="seconds") if reply.sent_at else "already"
            raise ActionError(f"reply {reply_id} was sent ({sent} UTC): it cannot be recalled")
        if reply.status is m.ReplyStatus.CANCELLED:
            raise ActionError(f"reply {reply_id} is cancelled already ({reply.cancel_reason})")
        cancel_reply_row(
            session, reply, why=f"cancelled by {actor}: {reason}", actor=actor, by_desk=True
        )
        return reply


def replies_of(engine: Engine, reference: str) -> list[m.Reply]:
    with Session(engine) as session:
        submission = find_submission(session, reference)
        return list(
            session.exec(
                select(m.Reply).where(m.Reply.submission_id == submission.id).order_by(m.Reply.id)  # type: ignore[arg-type]
            )
        )


def retryable(engine: Engine, references: list[str] | None = None) -> list[m.MessageRecord]:
    """Held messages whose processing failed (a stage is recorded), or those named."""
    with Session(engine) as session:
        if references:
            records = []
            for reference in references:
                submission = find_submission(session, reference)
                record = session.get(m.MessageRecord, submission.message_record_id)
                assert record is not None
                if submission.status is not m.SubmissionStatus.HELD:
                    raise ActionError(
                        f"{submission.reference} is {submission.status.value}, not held: "
                        "use accept, reject or hold to change a decision"
                    )
                records.append(record)
            return records
        return list(
            session.exec(
                select(m.MessageRecord)
                .where(m.MessageRecord.outcome == m.MessageOutcome.HELD)
                .where(m.MessageRecord.failed_stage.is_not(None))  # type: ignore[union-attr]
                .order_by(m.MessageRecord.id)  # type: ignore[arg-type]
            )
        )


# -- missions and meetings ---------------------------------------------------------------

_ADDRESS = re.compile(r"[^@\s]+@[a-z0-9-]+(\.[a-z0-9-]+)+|@[a-z0-9-]+(\.[a-z0-9-]+)+")


def add_sender(engine: Engine, *, mission_code: str, address: str, actor: str) -> str:
    entry = address.strip().lower()
    if not _ADDRESS.fullmatch(entry):
        raise ActionError(f"{address!r} is not an email address or '@domain'")
    with session_scope(engine) as session:
        mission = find_mission_row(session, mission_code)
        existing = session.exec(
            select(m.SenderAddress).where(m.SenderAddress.address == entry)
        ).first()
        if existing is not None:
            owner = session.get(m.Mission, existing.mission_id)
            if existing.mission_id == mission.id:
                return entry
            raise ActionError(
                f"{entry} is already allowed for {owner.code if owner else '?'}; one address "
                "can speak for one mission only"
            )
        assert mission.id is not None
        session.add(m.SenderAddress(mission_id=mission.id, address=entry, source="desk"))
        session.add(
            m.AuditEvent(
                actor=actor,
                kind=m.AuditKind.SENDER_ADDED,
                detail={"mission": mission.code, "address": entry},
            )
        )
    return entry


def remove_sender(engine: Engine, *, mission_code: str, address: str, actor: str) -> str:
    entry = address.strip().lower()
    with session_scope(engine) as session:
        mission = find_mission_row(session, mission_code)
        existing = session.exec(
            select(m.SenderAddress).where(
                m.SenderAddress.address == entry, m.SenderAddress.mission_id == mission.id
            )
        ).first()
        if existing is None:
            raise NotFound(f"{entry} is not a sender address of {mission.code}")
        if existing.source == "config":
            raise ActionError(
                f"{entry} comes from the configuration file: remove it from "
                f"[missions.{mission.code}] senders there, or it returns at the next run"
            )
        session.delete(existing)
        session.add(
            m.AuditEvent(
                actor=actor,
                kind=m.AuditKind.SENDER_REMOVED,
                detail={"mission": mission.code, "address": entry},
            )
        )
    return entry
