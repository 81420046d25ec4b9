"""The queue per open meeting (`intake queue`, the dashboard's overview): counts, time
left, what is held, replies that failed, wait with an error or were withheld, the newest
arrivals, and what needs attention (`attention.py`); and the one countdown wording the
CLI, the dashboard and the digest use."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from pipeline.desk.attention import Attention, attention, erroneous_replies
from pipeline.desk.view_base import (
    JsonView,
    reply_json,
)
from pipeline.domain import MeetingStatus
from pipeline.storage import models as m
from pipeline.storage.queries import SubmissionRow, list_submissions


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
    # Failed, or still waiting after an error (an SMTP server that refuses, say).
    reply_errors: list[dict[str, Any]] = field(default_factory=list)

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
    attention: Attention = field(default_factory=Attention)

    @property
    def open_meetings(self) -> list[MeetingOverview]:
        """Open meetings whose deadline is still ahead."""
        return [mt for mt in self.meetings if not mt.deadline_passed]

    @property
    def passed_meetings(self) -> list[MeetingOverview]:
        """Meetings not closed yet whose deadline has passed (the compilation's time)."""
        return [mt for mt in self.meetings if mt.deadline_passed]


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
        rows.append(reply_json(reply, submission))
    return rows


def replies_with_errors(session: Session, meeting_id: int | None = None) -> list[dict[str, Any]]:
    """Failed replies, and those still waiting (pending, being sent) after an error."""
    return [
        reply_json(reply, submission)
        for reply, submission in erroneous_replies(session)
        if meeting_id is None or (submission is not None and submission.meeting_id == meeting_id)
    ]


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
                reply_errors=replies_with_errors(session, meeting.id),
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
        attention=attention(session, now=now),
    )
