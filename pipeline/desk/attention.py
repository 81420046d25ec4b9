"""What needs the desk's attention, in one list: held submissions (with the desk's own
reason when it held them), quarantined messages, replies waiting with an error, cover
letters that are scans to verify by eye, and meetings whose deadline is near with
missions still missing. Each item says what to do next: a command and a page.

The one source of the dashboard's overview, `intake queue` and the daily digest, so the
three never disagree on what is waiting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from pipeline.desk.directory_view import list_missions, missing_missions
from pipeline.desk.view_base import DEFAULT_ZONE, JsonView, reply_json
from pipeline.domain import MeetingStatus
from pipeline.resources.reason_labels import reason_text
from pipeline.storage import models as m

# "Deadline near" looks this far ahead.
DEADLINE_HORIZON = timedelta(hours=48)
# Who files the automatic decisions; any other name is a person at the desk.
AUTOMATIC = "intake"
# Reasons whose cure is running the message again once the cause is fixed.
RETRY_REASONS = frozenset({"quarantined", "internal_error"})


class AttentionKind(StrEnum):
    """What kind of thing waits, in the order the desk acts on them."""

    QUARANTINED = "quarantined"
    HELD = "held"
    REPLY_ERROR = "reply_error"
    UNVERIFIED_LETTER = "unverified_letter"
    DEADLINE_NEAR = "deadline_near"


KIND_TITLES = {
    AttentionKind.QUARANTINED: "Quarantined messages",
    AttentionKind.HELD: "Held for a decision",
    AttentionKind.REPLY_ERROR: "Replies waiting with errors",
    AttentionKind.UNVERIFIED_LETTER: "Cover letters to verify by eye",
    AttentionKind.DEADLINE_NEAR: "Deadlines within 48 hours, missions missing",
}


@dataclass(frozen=True)
class AttentionItem(JsonView):
    kind: AttentionKind
    # What it is about: a submission's reference, a reply's number, a meeting's code.
    reference: str | None
    meeting: str | None
    who: str
    # What is wrong, in plain words (reason labels, an SMTP error, a count).
    what: str
    # The reason codes behind it, for scripts (`--json`).
    reasons: list[str]
    # The desk's own words when a person held it, and who.
    note: str | None
    noted_by: str | None
    since: datetime | None
    # What to do next: the command, and the dashboard page.
    command: str
    link: str
    reply: dict[str, Any] | None = None


@dataclass(frozen=True)
class Attention(JsonView):
    items: list[AttentionItem] = field(default_factory=list)

    def of(self, kind: AttentionKind) -> list[AttentionItem]:
        return [item for item in self.items if item.kind is kind]

    @property
    def groups(self) -> list[tuple[AttentionKind, str, list[AttentionItem]]]:
        """(kind, title, items) for each kind with items, in the order of `AttentionKind`."""
        return [(k, KIND_TITLES[k], self.of(k)) for k in AttentionKind if self.of(k)]


def attention(session: Session, *, now: datetime) -> Attention:
    items = _submission_items(session)
    items += _reply_items(session)
    items += _deadline_items(session, now)
    order = list(AttentionKind)
    return Attention(items=sorted(items, key=lambda item: order.index(item.kind)))


def _page(reference: str) -> str:
    return f"/submissions/{reference}"


def _submission_items(session: Session) -> list[AttentionItem]:
    wanted = (m.SubmissionStatus.HELD, m.SubmissionStatus.ACCEPTED)
    submissions = list(
        session.exec(
            select(m.Submission)
            .where(col(m.Submission.status).in_(wanted))
            .order_by(col(m.Submission.received_at), col(m.Submission.id))
        )
    )
    ids = [s.id for s in submissions]
    latest: dict[int, m.Decision] = {}
    for decision in session.exec(
        select(m.Decision)
        .where(col(m.Decision.submission_id).in_(ids))
        .order_by(col(m.Decision.id))
    ):
        latest[decision.submission_id] = decision
    # The reasons of the last automatic decision: a desk decision records none.
    automatic: dict[int, m.Decision] = {}
    for decision in session.exec(
        select(m.Decision)
        .where(col(m.Decision.submission_id).in_(ids), m.Decision.decided_by == AUTOMATIC)
        .order_by(col(m.Decision.id))
    ):
        automatic[decision.submission_id] = decision
    reasons: dict[int, list[str]] = {}
    for reason in session.exec(
        select(m.DecisionReason)
        .where(col(m.DecisionReason.decision_id).in_([d.id for d in automatic.values()]))
        .order_by(col(m.DecisionReason.id))
    ):
        reasons.setdefault(reason.decision_id, []).append(reason.code)
    letters = set(
        session.exec(
            select(m.Document.submission_id).where(
                col(m.Document.submission_id).in_(ids),
                m.Document.role == m.DocumentRole.COVER_LETTER,
            )
        )
    )
    meetings = {mt.id: mt.code for mt in session.exec(select(m.Meeting))}
    zones = {mt.id: ZoneInfo(mt.timezone) for mt in session.exec(select(m.Meeting))}
    missions = {mi.id: mi.name for mi in session.exec(select(m.Mission))}
    records = {
        r.id: r
        for r in session.exec(
            select(m.MessageRecord).where(
                col(m.MessageRecord.id).in_([s.message_record_id for s in submissions])
            )
        )
    }

    items = []
    for submission in submissions:
        assert submission.id is not None
        last = latest.get(submission.id)
        auto = automatic.get(submission.id)
        codes = reasons.get(auto.id or 0, []) if auto else []
        by_desk = last is not None and last.decided_by != AUTOMATIC
        record = records.get(submission.message_record_id)
        if record is not None and record.reason in RETRY_REASONS and record.reason not in codes:
            codes = [record.reason, *codes]
        meeting = meetings.get(submission.meeting_id)
        who = missions.get(submission.mission_id) or submission.sender or "unknown sender"
        ref = submission.reference
        common: dict[str, Any] = {
            "reference": ref,
            "meeting": meeting,
            "who": who,
            # In the meeting's zone, as the queue shows it (New York without a meeting).
            "since": submission.received_at.astimezone(
                zones.get(submission.meeting_id, DEFAULT_ZONE)
            ),
            "link": _page(ref),
        }
        if submission.status is m.SubmissionStatus.HELD:
            note = last.note if by_desk and last is not None else None
            noted_by = last.decided_by if by_desk and last is not None else None
            if "quarantined" in codes and not by_desk:
                stage = record.failed_stage.value if record and record.failed_stage else "?"
                items.append(
                    AttentionItem(
                        kind=AttentionKind.QUARANTINED,
                        what=f"Stopped the worker repeatedly (during {stage}); "
                        "fix the cause, then run it again",
                        reasons=codes,
                        note=None,
                        noted_by=None,
                        command=f"intake messages retry {ref}",
                        **common,
                    )
                )
                continue
            what = "; ".join(reason_text(codes)) if codes else "Held"
            if by_desk:
                what = f"Held by {noted_by}: {note or 'no reason given'}"
                if codes:
                    what += f" (automatic: {'; '.join(reason_text(codes))})"
            items.append(
                AttentionItem(
                    kind=AttentionKind.HELD,
                    what=what,
                    reasons=codes,
                    note=note,
                    noted_by=noted_by,
                    command=_held_command(ref, meeting, codes, by_desk=by_desk),
                    **common,
                )
            )
        elif not by_desk and _unverified(submission, codes, submission.id in letters):
            items.append(
                AttentionItem(
                    kind=AttentionKind.UNVERIFIED_LETTER,
                    what="Cover letter is a scan: check the addressee and signature by eye, "
                    "then accept it again (--no-notify) or reject it with a reason",
                    reasons=codes,
                    note=None,
                    noted_by=None,
                    command=f"intake submissions show {ref}",
                    **common,
                )
            )
    return items


def _unverified(submission: m.Submission, codes: list[str], has_letter: bool) -> bool:
    """A letter nobody has read: a scan (`cover_letter_unverified`, or no verdict on a
    letter that is there) or one the reading found wanting, on an automatic decision."""
    if "cover_letter_unverified" in codes or submission.letter_verified is False:
        return True
    return has_letter and submission.letter_verified is None


def _held_command(ref: str, meeting: str | None, codes: list[str], *, by_desk: bool) -> str:
    if not by_desk and RETRY_REASONS.intersection(codes):
        return f"intake messages retry {ref}"
    if meeting is None:
        return f'intake submissions accept {ref} --meeting CODE --reason "..."'
    return f'intake submissions accept|reject {ref} --reason "..."'


def erroneous_replies(session: Session) -> list[tuple[m.Reply, m.Submission | None]]:
    """Failed replies, and replies still waiting (pending, being sent) after an error,
    with their submissions: what "Failed replies (0)" used to hide."""
    query = (
        select(m.Reply, m.Submission)
        .join(m.Submission, col(m.Reply.submission_id) == col(m.Submission.id), isouter=True)
        .where(
            sa.or_(
                col(m.Reply.status) == m.ReplyStatus.FAILED,
                sa.and_(
                    col(m.Reply.status).in_([m.ReplyStatus.PENDING, m.ReplyStatus.SENDING]),
                    col(m.Reply.last_error).is_not(None),
                ),
            )
        )
        .order_by(col(m.Reply.id))
    )
    return [(reply, submission) for reply, submission in session.exec(query)]


def _reply_items(session: Session) -> list[AttentionItem]:
    meetings = {mt.id: mt.code for mt in session.exec(select(m.Meeting))}
    items = []
    for reply, submission in erroneous_replies(session):
        data = reply_json(reply, submission)
        error = reply.last_error or "no error recorded"
        if reply.status is m.ReplyStatus.FAILED:
            what = f"Failed after {reply.attempts} attempt(s): {error}"
            command = f"intake replies resend {reply.id}"
        else:
            what = (
                f"Still waiting after {reply.attempts} attempt(s), tried again by itself: "
                f"{error}; is the mail server up (intake health)?"
            )
            command = f"intake replies show {reply.id}"
        items.append(
            AttentionItem(
                kind=AttentionKind.REPLY_ERROR,
                reference=data["reference"],
                meeting=meetings.get(submission.meeting_id) if submission else None,
                who=f"{reply.kind.value} to {reply.to_address}",
                what=what,
                reasons=[],
                note=None,
                noted_by=None,
                since=reply.created_at.astimezone(DEFAULT_ZONE),
                command=command,
                link="/replies?" + urlencode({"status": reply.status.value}),
                reply=data,
            )
        )
    return items


def _deadline_items(session: Session, now: datetime) -> list[AttentionItem]:
    meetings = session.exec(
        select(m.Meeting)
        .where(m.Meeting.status == MeetingStatus.OPEN)
        .order_by(col(m.Meeting.deadline), col(m.Meeting.code))
    )
    registered = len(list_missions(session, registered_only=True))
    items = []
    for meeting in meetings:
        if not now < meeting.deadline <= now + DEADLINE_HORIZON:
            continue
        missing = missing_missions(session, meeting.code)
        if not missing:
            continue
        names = ", ".join(row.name for row in missing[:5]) + (" …" if len(missing) > 5 else "")
        items.append(
            AttentionItem(
                kind=AttentionKind.DEADLINE_NEAR,
                reference=None,
                meeting=meeting.code,
                who=meeting.title,
                what=f"{len(missing)} of {registered} registered missions have no accepted "
                f"statement yet: {names}",
                reasons=[],
                note=None,
                noted_by=None,
                since=meeting.deadline.astimezone(ZoneInfo(meeting.timezone)),
                command=f"intake missing {meeting.code}",
                link="/missing?" + urlencode({"meeting": meeting.code}),
            )
        )
    return items
