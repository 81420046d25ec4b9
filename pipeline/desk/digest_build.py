"""Reading the daily digest's facts from the database, for one period."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from pipeline.desk.digest_content import (
    Digest,
    FailedReply,
    HeldItem,
    MeetingActivity,
    NotYetSubmitted,
    UpcomingDeadline,
)
from pipeline.desk.views import (
    attention,
    failed_replies,
    list_missions,
    missing_report,
)
from pipeline.domain import MeetingStatus
from pipeline.storage import models as m
from pipeline.storage.queries import list_submissions

# "Deadlines coming up" looks this far ahead.
DEADLINE_HORIZON = timedelta(hours=48)


def build_digest(
    session: Session, *, since: datetime | None, now: datetime, zone: ZoneInfo
) -> Digest:
    """Read the digest's facts. New means *filed* in (since, now], whatever the receipt
    time: a message that waited in the mailbox is still news to the desk."""
    _require_aware(now, "now")
    if since is not None:
        _require_aware(since, "since")
    meetings = {mt.id: mt for mt in session.exec(select(m.Meeting))}

    window = select(m.Submission).where(col(m.Submission.created_at) <= now)
    if since is not None:
        window = window.where(col(m.Submission.created_at) > since)
    counts: dict[int | None, Counter[m.SubmissionStatus]] = {}
    held_refs: dict[int | None, list[str]] = {}
    for submission in session.exec(window.order_by(col(m.Submission.id))):
        counts.setdefault(submission.meeting_id, Counter())[submission.status] += 1
        if submission.status is m.SubmissionStatus.HELD:
            held_refs.setdefault(submission.meeting_id, []).append(submission.reference)

    def meeting_order(meeting_id: int | None) -> tuple[int, str]:
        meeting = meetings.get(meeting_id)
        return (0, meeting.code) if meeting else (1, "")

    new = []
    for meeting_id in sorted(counts, key=meeting_order):
        meeting = meetings.get(meeting_id)
        tally = counts[meeting_id]
        new.append(
            MeetingActivity(
                meeting=meeting.code if meeting else None,
                title=meeting.title if meeting else None,
                accepted=tally[m.SubmissionStatus.ACCEPTED],
                rejected=tally[m.SubmissionStatus.REJECTED],
                held=tally[m.SubmissionStatus.HELD],
                superseded=tally[m.SubmissionStatus.SUPERSEDED],
                held_references=held_refs.get(meeting_id, []),
            )
        )

    ignored_query = (
        select(sa.func.count())
        .select_from(m.MessageRecord)
        .where(m.MessageRecord.outcome == m.MessageOutcome.IGNORED)
        .where(col(m.MessageRecord.processed_at) <= now)
    )
    if since is not None:
        ignored_query = ignored_query.where(col(m.MessageRecord.processed_at) > since)
    ignored = int(session.exec(ignored_query).one())

    held = [
        HeldItem(
            reference=row.reference,
            meeting=row.meeting,
            mission=row.mission,
            mission_name=row.mission_name,
            sender=row.sender,
            received_at=row.received_at,
            reasons=row.reasons,
        )
        for row in list_submissions(session, status=m.SubmissionStatus.HELD)
    ]
    failed = [
        FailedReply(
            reference=row["reference"],
            kind=row["kind"],
            to=row["to"],
            attempts=row["attempts"],
            last_error=row["last_error"],
        )
        for row in failed_replies(session)
    ]

    deadlines: list[UpcomingDeadline] = []
    not_submitted: list[NotYetSubmitted] = []
    registered = len(list_missions(session, registered_only=True))
    open_meetings = sorted(
        (mt for mt in meetings.values() if mt.status is MeetingStatus.OPEN),
        key=lambda mt: (mt.deadline, mt.code),
    )
    for meeting in open_meetings:
        if meeting.deadline <= now:
            continue
        local_deadline = meeting.deadline.astimezone(ZoneInfo(meeting.timezone))
        if meeting.deadline - now <= DEADLINE_HORIZON:
            deadlines.append(
                UpcomingDeadline(
                    meeting=meeting.code,
                    title=meeting.title,
                    deadline=local_deadline,
                    time_left=meeting.deadline - now,
                )
            )
        report = missing_report(session, meeting.code)
        not_submitted.append(
            NotYetSubmitted(
                meeting=meeting.code,
                title=meeting.title,
                deadline=local_deadline,
                missing=len(report.rows),
                registered=report.inscribed or registered,
                inscribed=report.against_list,
            )
        )
    return Digest(
        since=since,
        now=now,
        zone=zone,
        new=new,
        ignored=ignored,
        held=held,
        failed_replies=failed,
        deadlines=deadlines,
        not_submitted=not_submitted,
        attention=attention(session, now=now),
    )


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {moment!r}")
