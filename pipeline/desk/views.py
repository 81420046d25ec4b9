"""What the service desk looks at: the queue per meeting, one submission in full, who is
missing, the replies, the audit log. Read-only; shared by the CLI and the dashboard.

Every view is a plain dataclass with `as_json()`, so the CLI's `--json` and the web pages
show the same facts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from pipeline.errors import IntakeError
from pipeline.settings.models import MeetingStatus
from pipeline.storage import models as m
from pipeline.storage.blobs import BlobStore
from pipeline.storage.queries import SubmissionRow, list_submissions

DEFAULT_ZONE = ZoneInfo("America/New_York")


class NotFound(IntakeError):
    """The reference, meeting or mission does not exist; the message says which."""


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


class JsonView:
    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = _json(asdict(self))  # type: ignore[call-overload]
        return data


# -- the queue -------------------------------------------------------------------------


def time_span(span: timedelta) -> str:
    """A span as the desk reads it: '2 days 4 h', '3 h 10 min', '5 min' (never negative).
    The one wording of the CLI, the dashboard and the digest; the dashboard's
    `static/countdown.js` refreshes it in the same words."""
    minutes = max(int(span.total_seconds()) // 60, 0)
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def countdown(left: timedelta) -> str:
    """'2 days 4 h left', '3 h 10 min left', 'deadline passed': what the desk needs to know."""
    if left.total_seconds() <= 0:
        return "deadline passed"
    return f"{time_span(left)} left"


@dataclass(frozen=True)
class MeetingOverview(JsonView):
    code: str
    title: str
    date: str
    deadline: datetime
    time_left: timedelta
    status: str
    counts: dict[str, int]
    held: list[SubmissionRow]
    failed_replies: list[dict[str, Any]]
    newest: list[SubmissionRow]

    @property
    def deadline_passed(self) -> bool:
        return self.time_left.total_seconds() <= 0


@dataclass(frozen=True)
class QueueOverview(JsonView):
    now: datetime
    meetings: list[MeetingOverview]
    unrouted_held: list[SubmissionRow] = field(default_factory=list)
    # Automatic replies withheld in the last `WITHHELD_SPAN`, by why ("hourly_cap", ...).
    withheld_replies: dict[str, int] = field(default_factory=dict)


WITHHELD_SPAN = timedelta(hours=24)


def withheld_replies(session: Session, *, since: datetime) -> dict[str, int]:
    """How many automatic replies were withheld since then (`reply_suppressed`), by why."""
    events = session.exec(
        select(m.AuditEvent).where(
            m.AuditEvent.kind == m.AuditKind.REPLY_SUPPRESSED, col(m.AuditEvent.at) >= since
        )
    )
    return dict(Counter(str(event.detail.get("why", "?")) for event in events))


def failed_replies(session: Session, meeting_id: int | None = None) -> list[dict[str, Any]]:
    query = select(m.Reply, m.Submission).join(
        m.Submission, col(m.Reply.submission_id) == col(m.Submission.id), isouter=True
    )
    query = query.where(m.Reply.status == m.ReplyStatus.FAILED).order_by(col(m.Reply.id))
    rows = []
    for reply, submission in session.exec(query):
        if meeting_id is not None and (submission is None or submission.meeting_id != meeting_id):
            continue
        rows.append(_reply_json(reply, submission))
    return rows


def _reply_json(reply: m.Reply, submission: m.Submission | None) -> dict[str, Any]:
    return {
        "id": reply.id,
        "reference": submission.reference if submission else None,
        "kind": reply.kind.value,
        "status": reply.status.value,
        "to": reply.to_address,
        "subject": reply.subject,
        "attempts": reply.attempts,
        "last_error": reply.last_error,
        "created_at": reply.created_at,
        "sent_at": reply.sent_at,
        "cancelled_at": reply.cancelled_at,
        "cancel_reason": reply.cancel_reason,
        "message_id": reply.message_id,
        "cancellable": reply.status in m.UNSENT_STATUSES,
    }


def reply_state(reply: m.Reply) -> str:
    """One line on where a reply stands, for people: sent when, waiting since, why
    cancelled."""
    if reply.status is m.ReplyStatus.SENT and reply.sent_at is not None:
        return f"sent {reply.sent_at.isoformat(timespec='seconds')} (UTC)"
    if reply.status is m.ReplyStatus.CANCELLED:
        return f"cancelled, never sent: {reply.cancel_reason or 'no reason recorded'}"
    if reply.status is m.ReplyStatus.FAILED:
        return f"failed after {reply.attempts} attempt(s): {reply.last_error or '?'}"
    if reply.status is m.ReplyStatus.SENDING:
        return f"being sent by {reply.claimed_by or 'a worker'}"
    if reply.attempts:
        return (
            f"waiting, to be tried again from {reply.next_attempt_at.isoformat(timespec='seconds')}"
            f" (UTC) after {reply.attempts} attempt(s): {reply.last_error or '?'}"
        )
    return "waiting to be sent"


def queue_overview(session: Session, *, now: datetime, newest: int = 5) -> QueueOverview:
    meetings = list(
        session.exec(
            select(m.Meeting)
            .where(m.Meeting.status == MeetingStatus.OPEN)
            .order_by(col(m.Meeting.deadline))
        )
    )
    overviews = []
    for meeting in meetings:
        assert meeting.id is not None
        rows = list_submissions(session, meeting=meeting.code)
        counts = Counter(row.status for row in rows)
        overviews.append(
            MeetingOverview(
                code=meeting.code,
                title=meeting.title,
                date=meeting.date.isoformat(),
                deadline=meeting.deadline.astimezone(ZoneInfo(meeting.timezone)),
                time_left=meeting.deadline - now,
                status=meeting.status.value,
                counts={s.value: counts.get(s.value, 0) for s in m.SubmissionStatus},
                held=[row for row in rows if row.status == m.SubmissionStatus.HELD.value],
                failed_replies=failed_replies(session, meeting.id),
                newest=sorted(rows, key=lambda r: r.received_at, reverse=True)[:newest],
            )
        )
    unrouted = [
        row
        for row in list_submissions(session, status=m.SubmissionStatus.HELD)
        if row.meeting is None
    ]
    return QueueOverview(
        now=now,
        meetings=overviews,
        unrouted_held=unrouted,
        withheld_replies=withheld_replies(session, since=now - WITHHELD_SPAN),
    )


# -- one submission ----------------------------------------------------------------------


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
        _reply_json(reply, submission)
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


# -- missions, meetings, replies, audit ---------------------------------------------------


@dataclass(frozen=True)
class MissionRow(JsonView):
    code: str
    name: str
    kind: str
    senders: list[str]


def list_missions(session: Session, *, registered_only: bool = False) -> list[MissionRow]:
    senders: dict[int, list[str]] = {}
    for address in session.exec(select(m.SenderAddress).order_by(col(m.SenderAddress.address))):
        senders.setdefault(address.mission_id, []).append(address.address)
    rows = [
        MissionRow(
            code=mission.code,
            name=mission.name,
            kind=mission.kind.value,
            senders=senders.get(mission.id or 0, []),
        )
        for mission in session.exec(select(m.Mission).order_by(col(m.Mission.name)))
    ]
    return [r for r in rows if r.senders] if registered_only else rows


def find_mission_row(session: Session, code: str) -> m.Mission:
    mission = session.exec(select(m.Mission).where(m.Mission.code == code.strip().upper())).first()
    if mission is None:
        raise NotFound(
            f"no mission with the code {code!r} (an ISO alpha-3 code; `intake missions list`)"
        )
    return mission


@dataclass(frozen=True)
class MissionDetail(JsonView):
    code: str
    name: str
    kind: str
    names: dict[str, str]
    senders: list[dict[str, str]]
    submissions: list[SubmissionRow]


def mission_detail(session: Session, code: str) -> MissionDetail:
    mission = find_mission_row(session, code)
    senders = [
        {"address": a.address, "source": a.source}
        for a in session.exec(
            select(m.SenderAddress)
            .where(m.SenderAddress.mission_id == mission.id)
            .order_by(col(m.SenderAddress.address))
        )
    ]
    rows = [r for r in list_submissions(session) if r.mission == mission.code]
    return MissionDetail(
        code=mission.code,
        name=mission.name,
        kind=mission.kind.value,
        names=dict(mission.names),
        senders=senders,
        submissions=rows,
    )


@dataclass(frozen=True)
class MeetingRow(JsonView):
    code: str
    title: str
    date: str
    timezone: str
    deadline: datetime
    word_limit: int
    length_policy: str
    status: str
    submissions: int


def list_meetings(session: Session) -> list[MeetingRow]:
    counts = Counter(
        s.meeting_id for s in session.exec(select(m.Submission)) if s.meeting_id is not None
    )
    return [
        MeetingRow(
            code=meeting.code,
            title=meeting.title,
            date=meeting.date.isoformat(),
            timezone=meeting.timezone,
            deadline=meeting.deadline.astimezone(ZoneInfo(meeting.timezone)),
            word_limit=meeting.word_limit,
            length_policy=meeting.length_policy.value,
            status=meeting.status.value,
            submissions=counts.get(meeting.id or 0, 0),
        )
        for meeting in session.exec(select(m.Meeting).order_by(col(m.Meeting.date)))
    ]


def find_meeting(session: Session, code: str) -> m.Meeting:
    meeting = session.exec(select(m.Meeting).where(m.Meeting.code == code.strip().upper())).first()
    if meeting is None:
        known = ", ".join(row.code for row in session.exec(select(m.Meeting))) or "none"
        raise NotFound(f"no meeting with the code {code!r} (known: {known})")
    return meeting


@dataclass(frozen=True)
class MissingMission(JsonView):
    code: str
    name: str
    senders: list[str]
    # What the mission did send, if anything (rejected or held submissions).
    submissions: list[dict[str, str]]


def missing_missions(session: Session, meeting_code: str) -> list[MissingMission]:
    """Registered missions (with at least one sender address) with no accepted statement."""
    meeting = find_meeting(session, meeting_code)
    submitted: dict[int, list[dict[str, str]]] = {}
    accepted: set[int] = set()
    for submission in session.exec(
        select(m.Submission).where(m.Submission.meeting_id == meeting.id)
    ):
        if submission.mission_id is None:
            continue
        if submission.status is m.SubmissionStatus.ACCEPTED:
            accepted.add(submission.mission_id)
        submitted.setdefault(submission.mission_id, []).append(
            {"reference": submission.reference, "status": submission.status.value}
        )
    missions = {mi.code: mi for mi in session.exec(select(m.Mission))}
    rows = []
    for row in list_missions(session, registered_only=True):
        mission = missions[row.code]
        if mission.id in accepted:
            continue
        rows.append(
            MissingMission(
                code=row.code,
                name=row.name,
                senders=row.senders,
                submissions=submitted.get(mission.id or 0, []),
            )
        )
    return rows


def list_replies(
    session: Session, *, status: m.ReplyStatus | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    query = select(m.Reply, m.Submission).join(
        m.Submission, col(m.Reply.submission_id) == col(m.Submission.id), isouter=True
    )
    if status is not None:
        query = query.where(m.Reply.status == status)
    rows = [
        _reply_json(reply, submission)
        for reply, submission in session.exec(query.order_by(col(m.Reply.id)))
    ]
    return rows[-limit:] if limit else rows


def audit_log(session: Session, *, limit: int = 200) -> list[dict[str, Any]]:
    references = {s.id: s.reference for s in session.exec(select(m.Submission))}
    events = session.exec(select(m.AuditEvent).order_by(col(m.AuditEvent.id).desc()).limit(limit))
    return [
        {
            "at": e.at,
            "actor": e.actor,
            "kind": e.kind.value,
            "reference": references.get(e.submission_id) if e.submission_id else None,
            "detail": e.detail,
        }
        for e in events
    ]
