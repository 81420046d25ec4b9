"""Missions, meetings, who is missing, the replies and the audit log, as the desk lists
them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from pipeline.desk.view_base import (
    JsonView,
    NotFound,
    reply_json,
)
from pipeline.storage import models as m
from pipeline.storage.queries import SubmissionRow, list_submissions


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


@dataclass(frozen=True)
class MissingReport(JsonView):
    """Who has not submitted, and against what: the meeting's list of speakers when it
    has one (`inscribed` > 0), else every registered mission."""

    meeting: str
    inscribed: int  # missions on the list of speakers; 0 when the meeting has no list
    rows: list[MissingMission]

    @property
    def against_list(self) -> bool:
        return self.inscribed > 0

    def summary(self) -> str:
        """One sentence saying how many are missing, and out of what."""
        if self.against_list:
            return (
                f"{len(self.rows)} of the {self.inscribed} inscribed speakers have not "
                f"submitted an accepted statement for {self.meeting}"
            )
        plural = "s" if len(self.rows) != 1 else ""
        return (
            f"{len(self.rows)} registered mission{plural} without an accepted statement for "
            f"{self.meeting} (no list of speakers: `intake speakers import`)"
        )


def missing_report(session: Session, meeting_code: str) -> MissingReport:
    """With a list of speakers: the inscribed missions with no accepted statement, in the
    list's order, and only those. Without: registered missions (with at least one sender
    address) with no accepted statement."""
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
    senders = {row.code: row.senders for row in list_missions(session)}
    inscribed = [
        mission
        for _speaker, mission in session.exec(
            select(m.Speaker, m.Mission)
            .join(m.Mission, col(m.Speaker.mission_id) == col(m.Mission.id))
            .where(m.Speaker.meeting_id == meeting.id)
            .order_by(col(m.Speaker.position))
        )
    ]
    candidates = inscribed or [
        missions[row.code] for row in list_missions(session, registered_only=True)
    ]
    rows = [
        MissingMission(
            code=mission.code,
            name=mission.name,
            senders=senders.get(mission.code, []),
            submissions=submitted.get(mission.id or 0, []),
        )
        for mission in candidates
        if mission.id not in accepted
    ]
    return MissingReport(meeting=meeting.code, inscribed=len(inscribed), rows=rows)


def missing_missions(session: Session, meeting_code: str) -> list[MissingMission]:
    """The missing of `missing_report`: against the list of speakers when there is one."""
    return missing_report(session, meeting_code).rows


def list_replies(
    session: Session, *, status: m.ReplyStatus | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    query = select(m.Reply, m.Submission).join(
        m.Submission, col(m.Reply.submission_id) == col(m.Submission.id), isouter=True
    )
    if status is not None:
        query = query.where(m.Reply.status == status)
    rows = [
        reply_json(reply, submission)
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
