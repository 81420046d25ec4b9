"""The daily digest: one plain-text email that tells the service desk what needs it.

The desk should not have to open the queue to learn that something is waiting: the
digest lists what was filed since the last digest, everything still held for a person,
every reply that could not be delivered, the deadlines of the next two days and how
many registered missions have still not submitted.

Sending is at-least-once, never silently lost: a `DigestRun` is written only after the
SMTP server accepted the mail, so a digest that could not be sent leaves no trace and
the next one covers the whole period since the last digest that did go out. Workers that
share a database take a lock around the send, so a scheduled digest goes out once per
day however many workers fire at 07:00 (`send_scheduled_digest`).
"""

from __future__ import annotations

import fcntl
import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from pipeline.desk.views import failed_replies, list_missions, missing_missions, time_span
from pipeline.replies.smtp import SmtpSender
from pipeline.replies.templates import format_local, zone_label
from pipeline.settings.models import MeetingStatus, Settings
from pipeline.storage import models as m
from pipeline.storage.db import DatabaseError, describe_url, session_scope
from pipeline.storage.queries import list_submissions

log = logging.getLogger(__name__)

# The first digest, with no earlier one to start from, covers the last day.
FIRST_PERIOD = timedelta(hours=24)
# "Deadlines coming up" looks this far ahead.
DEADLINE_HORIZON = timedelta(hours=48)
# Long SMTP errors are cut in the digest; the full text is in `intake submissions show`.
MAX_ERROR_CHARS = 160
# Serialises digests between workers sharing PostgreSQL (any constant unique to this use).
_DIGEST_LOCK_KEY = 0x1A7A4F


class DigestError(Exception):
    """The digest cannot be sent as configured; the message says which setting to change."""


# -- what the digest says -------------------------------------------------------------------


@dataclass(frozen=True)
class MeetingActivity:
    """Submissions filed in the period for one meeting (or none: held, meeting unknown)."""

    meeting: str | None
    title: str | None
    accepted: int
    rejected: int
    held: int
    superseded: int
    held_references: list[str]

    @property
    def total(self) -> int:
        return self.accepted + self.rejected + self.held + self.superseded


@dataclass(frozen=True)
class HeldItem:
    reference: str
    meeting: str | None
    mission: str | None
    mission_name: str | None
    sender: str | None
    received_at: datetime
    reasons: list[str]


@dataclass(frozen=True)
class FailedReply:
    reference: str | None
    kind: str
    to: str
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class UpcomingDeadline:
    meeting: str
    title: str
    deadline: datetime  # in the meeting's own zone
    time_left: timedelta


@dataclass(frozen=True)
class NotYetSubmitted:
    """Registered missions (with a sender address) without an accepted statement."""

    meeting: str
    title: str
    deadline: datetime  # in the meeting's own zone
    missing: int
    registered: int


@dataclass(frozen=True)
class Digest:
    since: datetime | None
    now: datetime
    zone: ZoneInfo
    new: list[MeetingActivity]
    ignored: int
    held: list[HeldItem]
    failed_replies: list[FailedReply]
    deadlines: list[UpcomingDeadline]
    not_submitted: list[NotYetSubmitted] = field(default_factory=list)

    @property
    def new_total(self) -> int:
        return sum(activity.total for activity in self.new)

    def new_count(self, status: m.SubmissionStatus) -> int:
        """New submissions with this status, over all meetings."""
        return sum(getattr(activity, status.value) for activity in self.new)

    @property
    def subject(self) -> str:
        day = self.now.astimezone(self.zone)
        parts = [f"{self.new_total} new", f"{len(self.held)} held"]
        failed = len(self.failed_replies)
        parts.append(f"{failed} failed {'reply' if failed == 1 else 'replies'}")
        return f"Intake digest, {day.day} {day:%B %Y}: " + ", ".join(parts)

    def render_text(self) -> str:
        """The email body: sections in the order the desk acts on them, times with zones."""
        zone = self.zone
        lines = ["Intake daily digest for the service desk", ""]
        # No line may start with "From ": mail storage would turn it into ">From".
        if self.since is None:
            lines.append(f"Period: everything up to {format_local(self.now, zone)}.")
        else:
            lines.append(f"Period: {format_local(self.since, zone)}")
            lines.append(f"    to {format_local(self.now, zone)}.")

        lines += ["", _heading(f"New submissions since the last digest: {self.new_total}")]
        if not self.new:
            lines.append("  None.")
        for activity in self.new:
            name = activity.meeting or "No meeting (held until the desk routes it)"
            lines.append(f"  {name}" + (f": {activity.title}" if activity.title else ""))
            lines.append(
                f"    accepted {activity.accepted}, rejected {activity.rejected}, "
                f"held {activity.held}, superseded {activity.superseded}"
            )
            if activity.held_references:
                lines.append(f"    held: {', '.join(activity.held_references)}")
        if self.ignored:
            lines.append(
                f"  Also {self.ignored} message(s) filed without a reply "
                "(automatic replies, bounces, duplicates)."
            )

        lines += ["", _heading(f"Held for a decision by the desk: {len(self.held)}")]
        if not self.held:
            lines.append("  None.")
        for item in self.held:
            who = " ".join(p for p in (item.mission, item.mission_name) if p) or "unknown mission"
            sender = f" <{item.sender}>" if item.sender else ""
            reasons = ", ".join(item.reasons) or "no reason recorded"
            lines.append(f"  {item.reference}  {who}{sender}")
            lines.append(
                f"    received {_short(item.received_at, zone)}; "
                f"meeting {item.meeting or 'unknown'}; reasons: {reasons}"
            )

        lines += ["", _heading(f"Replies that failed to send: {len(self.failed_replies)}")]
        if not self.failed_replies:
            lines.append("  None.")
        for reply in self.failed_replies:
            lines.append(
                f"  {reply.reference or 'no reference'}  {reply.kind} to {reply.to}, "
                f"{reply.attempts} attempt(s)"
            )
            if reply.last_error:
                lines.append(f"    {_cut(reply.last_error)}")

        lines += ["", _heading("Deadlines in the next 48 hours")]
        if not self.deadlines:
            lines.append("  None.")
        for deadline in self.deadlines:
            lines.append(
                f"  {deadline.meeting}  {format_local(deadline.deadline, _zone_of(deadline))}, "
                f"in {time_span(deadline.time_left)}"
            )

        lines += ["", _heading("Registered missions that have not submitted yet")]
        if not self.not_submitted:
            lines.append("  No open meeting with a deadline ahead.")
        for row in self.not_submitted:
            lines.append(
                f"  {row.meeting}  {row.missing} of {row.registered} registered missions "
                f"(deadline {_short(row.deadline, _zone_of(row))})"
            )
        lines += [
            "",
            "-- ",
            "Sent by Intake. The queue in full: intake submissions list",
        ]
        return "\n".join(lines) + "\n"

    def as_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "now": self.now.isoformat(),
            "timezone": self.zone.key,
            "subject": self.subject,
            "new_total": self.new_total,
            "new": [
                {
                    "meeting": a.meeting,
                    "accepted": a.accepted,
                    "rejected": a.rejected,
                    "held": a.held,
                    "superseded": a.superseded,
                    "held_references": a.held_references,
                }
                for a in self.new
            ],
            "ignored": self.ignored,
            "held": [
                {
                    "reference": h.reference,
                    "meeting": h.meeting,
                    "mission": h.mission,
                    "sender": h.sender,
                    "received_at": h.received_at.isoformat(),
                    "reasons": h.reasons,
                }
                for h in self.held
            ],
            "failed_replies": [
                {
                    "reference": f.reference,
                    "kind": f.kind,
                    "to": f.to,
                    "attempts": f.attempts,
                    "last_error": f.last_error,
                }
                for f in self.failed_replies
            ],
            "deadlines": [
                {
                    "meeting": d.meeting,
                    "deadline": d.deadline.isoformat(),
                    "seconds_left": int(d.time_left.total_seconds()),
                }
                for d in self.deadlines
            ],
            "not_submitted": [
                {"meeting": n.meeting, "missing": n.missing, "registered": n.registered}
                for n in self.not_submitted
            ],
        }


def _heading(text: str) -> str:
    return f"{text}\n" + "-" * len(text)


def _zone_of(row: UpcomingDeadline | NotYetSubmitted) -> ZoneInfo:
    tz = row.deadline.tzinfo
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo("UTC")


def _short(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local.day} {local:%b %Y %H:%M} {zone_label(zone)}"


def _cut(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_ERROR_CHARS else flat[: MAX_ERROR_CHARS - 1] + "…"


# -- building it from the database --------------------------------------------------------


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
        not_submitted.append(
            NotYetSubmitted(
                meeting=meeting.code,
                title=meeting.title,
                deadline=local_deadline,
                missing=len(missing_missions(session, meeting.code)),
                registered=registered,
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
    )


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {moment!r}")


def last_digest(session: Session) -> m.DigestRun | None:
    """The newest digest that reached the SMTP server."""
    return session.exec(
        select(m.DigestRun).order_by(col(m.DigestRun.period_end).desc(), col(m.DigestRun.id).desc())
    ).first()


def prepare_digest(engine: Engine, settings: Settings, *, now: datetime | None = None) -> Digest:
    """The digest as it would be sent now, without sending or recording anything."""
    now = now or m.utcnow()
    try:
        with Session(engine) as session:
            return _digest_for_now(session, settings, now)
    except SQLAlchemyError as error:
        raise _database_error(settings, error) from None


def _digest_for_now(session: Session, settings: Settings, now: datetime) -> Digest:
    previous = last_digest(session)
    since = previous.period_end if previous is not None else now - FIRST_PERIOD
    return build_digest(session, since=since, now=now, zone=ZoneInfo(settings.desk.digest_timezone))


# -- sending it --------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestResult:
    recipient: str
    message_id: str
    period_start: datetime
    period_end: datetime
    digest: Digest


def digest_message_id(period_start: datetime, period_end: datetime, sender: str) -> str:
    """Derived from the period, so the same digest always carries the same Message-ID."""
    domain = sender.rsplit("@", 1)[-1]
    stamp = "%Y%m%dT%H%M%S"
    start = period_start.astimezone(UTC).strftime(stamp)
    end = period_end.astimezone(UTC).strftime(stamp)
    return f"<intake.digest.{start}Z-{end}Z@{domain}>"


def build_digest_email(digest: Digest, settings: Settings, *, message_id: str) -> EmailMessage:
    """The mail itself: marked auto-generated (RFC 3834), so nobody's robot answers it."""
    address = desk_address(settings)
    message = EmailMessage()
    message["From"] = formataddr((settings.smtp.sender_name, settings.smtp.sender))
    message["To"] = address
    message["Subject"] = digest.subject
    message["Date"] = format_datetime(digest.now.astimezone(UTC))
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(digest.render_text(), charset="utf-8")
    return message


def send_digest(engine: Engine, settings: Settings, *, now: datetime | None = None) -> DigestResult:
    """Send the digest for the period since the last one and record it once delivered.

    Raises DigestError when no desk address is configured, SmtpUnavailable or SmtpRejected
    when the mail could not be handed over (nothing is recorded, so the next digest
    covers this period too), DatabaseError when the database cannot be used.
    """
    result = _send(engine, settings, now=now, unless_sent_since=None)
    assert result is not None
    return result


def send_scheduled_digest(
    engine: Engine, settings: Settings, *, slot: datetime, now: datetime | None = None
) -> DigestResult | None:
    """The worker's daily job: send unless a digest already went out since `slot`.

    Every worker sharing the database fires at the same minute; the first one sends,
    the others find its `DigestRun` (they wait for its lock) and return None.
    """
    return _send(engine, settings, now=now, unless_sent_since=slot)


def scheduled_slot(settings: Settings, now: datetime | None = None) -> datetime:
    """The most recent `digest_time` in the desk's zone at or before `now`."""
    zone = ZoneInfo(settings.desk.digest_timezone)
    local = (now or m.utcnow()).astimezone(zone)
    hour, minute = (int(part) for part in settings.desk.digest_time.split(":"))
    slot = datetime.combine(local.date(), time(hour, minute), tzinfo=zone)
    if slot > local:
        slot = datetime.combine(local.date() - timedelta(days=1), time(hour, minute), tzinfo=zone)
    return slot


def desk_address(settings: Settings) -> str:
    if not settings.desk.address:
        raise DigestError(
            "no address for the digest: set [desk] address (or INTAKE_DESK__ADDRESS) "
            "to the service desk's email address"
        )
    return settings.desk.address


def _send(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime | None,
    unless_sent_since: datetime | None,
) -> DigestResult | None:
    address = desk_address(settings)
    try:
        with _digest_lock(engine):
            # Read "now" inside the lock: a digest that waited for another worker starts
            # where that one ended, never before it.
            moment = now or m.utcnow()
            with Session(engine) as session:
                previous = last_digest(session)
                if (
                    unless_sent_since is not None
                    and previous is not None
                    and previous.period_end >= unless_sent_since
                ):
                    log.info("digest: already sent at %s", previous.period_end.isoformat())
                    return None
                digest = _digest_for_now(session, settings, moment)
            assert digest.since is not None
            message_id = digest_message_id(digest.since, moment, settings.smtp.sender)
            message = build_digest_email(digest, settings, message_id=message_id)
            with SmtpSender(settings.smtp) as smtp:
                smtp.send(message, recipient=address)
            # Only now, after the SMTP server said yes.
            with session_scope(engine) as session:
                session.add(
                    m.DigestRun(period_start=digest.since, period_end=moment, sent_to=address)
                )
                session.add(
                    m.AuditEvent(
                        kind=m.AuditKind.DIGEST_SENT,
                        detail={
                            "to": address,
                            "message_id": message_id,
                            "period_start": digest.since.isoformat(),
                            "period_end": moment.isoformat(),
                            "new": digest.new_total,
                            "held": len(digest.held),
                            "failed_replies": len(digest.failed_replies),
                        },
                    )
                )
            log.info("digest sent to %s: %s", address, digest.subject)
            return DigestResult(
                recipient=address,
                message_id=message_id,
                period_start=digest.since,
                period_end=moment,
                digest=digest,
            )
    except SQLAlchemyError as error:
        raise _database_error(settings, error) from None


def _database_error(settings: Settings, error: SQLAlchemyError) -> DatabaseError:
    text = str(getattr(error, "orig", None) or error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    return DatabaseError(
        f"cannot use the database at {describe_url(settings.database_url)}: {first}"
    )


@contextmanager
def _digest_lock(engine: Engine) -> Iterator[None]:
    """One digest at a time across processes: an advisory lock on PostgreSQL, a lock file
    beside the SQLite database. Held across the send; released if the process dies."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _DIGEST_LOCK_KEY})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(
                    sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _DIGEST_LOCK_KEY}
                )
                connection.commit()
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".digest.lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
