"""One submission in full (`intake submissions show`, the submission page): files with
their stored paths, decisions with reasons, replies, the audit timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from pipeline.desk.view_base import (
    DEFAULT_ZONE,
    JsonView,
    NotFound,
    reply_json,
)
from pipeline.storage import models as m
from pipeline.storage.blobs import BlobStore


@dataclass(frozen=True)
class DocumentView(JsonView):
    id: int
    role: str
    filename: str
    safe_name: str
    size: int
    detected_type: str
    declared_type: str | None
    sha256: str
    path: Path
    converted_from_id: int | None
    conversion_tool: str | None


@dataclass(frozen=True)
class DecisionView(JsonView):
    id: int
    status: str
    decided_by: str
    note: str | None
    created_at: datetime
    reasons: list[dict[str, Any]]


@dataclass(frozen=True)
class EventView(JsonView):
    at: datetime
    actor: str
    kind: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class SubmissionDetail(JsonView):
    reference: str
    status: str
    meeting: str | None
    meeting_title: str | None
    mission: str | None
    mission_name: str | None
    sender: str | None
    subject: str | None
    message_id: str | None
    received_at: datetime
    statement_language: str | None
    word_count: int | None
    length_unit: str | None
    statement_title: str | None
    statement_pages: int | None
    letter_mission_name: str | None
    letter_signatory: str | None
    letter_verified: bool | None
    supersedes: str | None
    superseded_by: str | None
    raw_message_path: Path | None
    failed_stage: str | None
    error: str | None
    documents: list[DocumentView]
    decisions: list[DecisionView]
    replies: list[dict[str, Any]]
    timeline: list[EventView]

    @property
    def reasons(self) -> list[str]:
        return [r["code"] for r in self.decisions[-1].reasons] if self.decisions else []


def find_submission(session: Session, reference: str) -> m.Submission:
    submission = session.exec(
        select(m.Submission).where(m.Submission.reference == reference.strip().upper())
    ).first()
    if submission is None:
        raise NotFound(f"no submission with the reference {reference!r}")
    return submission


def submission_detail(session: Session, reference: str, blobs: BlobStore) -> SubmissionDetail:
    submission = find_submission(session, reference)
    assert submission.id is not None
    meeting = session.get(m.Meeting, submission.meeting_id) if submission.meeting_id else None
    mission = session.get(m.Mission, submission.mission_id) if submission.mission_id else None
    record = session.get(m.MessageRecord, submission.message_record_id)
    zone = ZoneInfo(meeting.timezone) if meeting else DEFAULT_ZONE
    documents = [
        DocumentView(
            id=d.id or 0,
            role=d.role.value,
            filename=d.filename,
            safe_name=d.safe_name,
            size=d.size,
            detected_type=d.detected_type,
            declared_type=d.declared_type,
            sha256=d.sha256,
            path=blobs.path_for(d.sha256),
            converted_from_id=d.converted_from_id,
            conversion_tool=d.conversion_tool,
        )
        for d in session.exec(
            select(m.Document)
            .where(m.Document.submission_id == submission.id)
            .order_by(col(m.Document.id))
        )
    ]
    decisions = []
    for decision in session.exec(
        select(m.Decision)
        .where(m.Decision.submission_id == submission.id)
        .order_by(col(m.Decision.id))
    ):
        reasons = [
            {"code": r.code, "action": r.action.value, "params": r.params}
            for r in session.exec(
                select(m.DecisionReason)
                .where(m.DecisionReason.decision_id == decision.id)
                .order_by(col(m.DecisionReason.id))
            )
        ]
        decisions.append(
            DecisionView(
                id=decision.id or 0,
                status=decision.status.value,
                decided_by=decision.decided_by,
                note=decision.note,
                created_at=decision.created_at.astimezone(zone),
                reasons=reasons,
            )
        )
    replies = [
        reply_json(reply, submission)
        for reply in session.exec(
            select(m.Reply).where(m.Reply.submission_id == submission.id).order_by(col(m.Reply.id))
        )
    ]
    events = session.exec(
        select(m.AuditEvent)
        .where(
            (col(m.AuditEvent.submission_id) == submission.id)
            | (col(m.AuditEvent.message_record_id) == submission.message_record_id)
        )
        .order_by(col(m.AuditEvent.at), col(m.AuditEvent.id))
    )
    timeline = [
        EventView(at=e.at.astimezone(zone), actor=e.actor, kind=e.kind.value, detail=e.detail)
        for e in events
    ]
    supersedes = (
        session.get(m.Submission, submission.supersedes_id) if submission.supersedes_id else None
    )
    superseded_by = session.exec(
        select(m.Submission).where(m.Submission.supersedes_id == submission.id)
    ).first()
    return SubmissionDetail(
        reference=submission.reference,
        status=submission.status.value,
        meeting=meeting.code if meeting else None,
        meeting_title=meeting.title if meeting else None,
        mission=mission.code if mission else None,
        mission_name=mission.name if mission else None,
        sender=submission.sender,
        subject=record.subject if record else None,
        message_id=record.message_id if record else None,
        received_at=submission.received_at.astimezone(zone),
        statement_language=submission.statement_language,
        word_count=submission.word_count,
        length_unit=submission.length_unit,
        statement_title=submission.statement_title,
        statement_pages=submission.statement_pages,
        letter_mission_name=submission.letter_mission_name,
        letter_signatory=submission.letter_signatory,
        letter_verified=submission.letter_verified,
        supersedes=supersedes.reference if supersedes else None,
        superseded_by=superseded_by.reference if superseded_by else None,
        raw_message_path=blobs.path_for(record.raw_sha256) if record else None,
        failed_stage=record.failed_stage.value if record and record.failed_stage else None,
        error=record.error if record else None,
        documents=documents,
        decisions=decisions,
        replies=replies,
        timeline=timeline,
    )
