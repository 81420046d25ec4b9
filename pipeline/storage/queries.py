"""Read-only views for the desk: the queue as people talk about it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from pipeline.storage import models as m

DEFAULT_ZONE = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class SubmissionRow:
    reference: str
    meeting: str | None
    mission: str | None
    mission_name: str | None
    sender: str | None
    received_at: datetime
    status: str
    reasons: list[str]
    statement_filename: str | None
    cover_letter_filename: str | None
    word_count: int | None
    reply: str | None
    # Why no automatic reply went out (`reply_suppressed`: "hourly_cap", ...), when none did.
    reply_withheld: str | None = None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["received_at"] = self.received_at.isoformat()
        return data


def list_submissions(
    session: Session,
    *,
    meeting: str | None = None,
    status: m.SubmissionStatus | None = None,
    limit: int | None = None,
) -> list[SubmissionRow]:
    query = select(m.Submission).order_by(col(m.Submission.received_at), col(m.Submission.id))
    meetings = {mt.id: mt for mt in session.exec(select(m.Meeting))}
    if meeting is not None:
        wanted = [mt.id for mt in meetings.values() if mt.code == meeting.upper()]
        query = query.where(col(m.Submission.meeting_id).in_(wanted))
    if status is not None:
        query = query.where(m.Submission.status == status)
    submissions = list(session.exec(query))
    if limit is not None:
        submissions = submissions[-limit:]
    ids = [s.id for s in submissions]
    missions = {mi.id: mi for mi in session.exec(select(m.Mission))}

    documents: dict[int, dict[m.DocumentRole, str]] = {}
    for document in session.exec(select(m.Document).where(col(m.Document.submission_id).in_(ids))):
        documents.setdefault(document.submission_id, {}).setdefault(
            document.role, document.filename
        )

    latest: dict[int, m.Decision] = {}
    for decision in session.exec(
        select(m.Decision)
        .where(col(m.Decision.submission_id).in_(ids))
        .order_by(col(m.Decision.id))
    ):
        latest[decision.submission_id] = decision
    reasons: dict[int, list[str]] = {}
    decision_ids = [d.id for d in latest.values()]
    for reason in session.exec(
        select(m.DecisionReason)
        .where(col(m.DecisionReason.decision_id).in_(decision_ids))
        .order_by(col(m.DecisionReason.id))
    ):
        reasons.setdefault(reason.decision_id, []).append(reason.code)

    replies: dict[int, str] = {}
    for reply in session.exec(
        select(m.Reply).where(col(m.Reply.submission_id).in_(ids)).order_by(col(m.Reply.id))
    ):
        if reply.submission_id is not None:
            replies[reply.submission_id] = f"{reply.kind.value} {reply.status.value}"
    withheld: dict[int, str] = {}
    for event in session.exec(
        select(m.AuditEvent)
        .where(
            col(m.AuditEvent.submission_id).in_(ids),
            m.AuditEvent.kind == m.AuditKind.REPLY_SUPPRESSED,
        )
        .order_by(col(m.AuditEvent.id))
    ):
        if event.submission_id is not None:
            withheld[event.submission_id] = str(event.detail.get("why", "?"))

    rows: list[SubmissionRow] = []
    for submission in submissions:
        assert submission.id is not None
        meeting_row = meetings.get(submission.meeting_id)
        mission_row = missions.get(submission.mission_id)
        zone = ZoneInfo(meeting_row.timezone) if meeting_row else DEFAULT_ZONE
        last = latest.get(submission.id)
        files = documents.get(submission.id, {})
        rows.append(
            SubmissionRow(
                reference=submission.reference,
                meeting=meeting_row.code if meeting_row else None,
                mission=mission_row.code if mission_row else None,
                mission_name=mission_row.name if mission_row else None,
                sender=submission.sender,
                received_at=submission.received_at.astimezone(zone),
                status=submission.status.value,
                reasons=reasons.get(last.id, []) if last and last.id else [],
                statement_filename=files.get(m.DocumentRole.STATEMENT),
                cover_letter_filename=files.get(m.DocumentRole.COVER_LETTER),
                word_count=submission.word_count,
                reply=replies.get(submission.id),
                reply_withheld=None if submission.id in replies else withheld.get(submission.id),
            )
        )
    return rows
