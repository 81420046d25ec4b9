"""What the daily digest says: its facts, and the plain-text mail and JSON made of them.

The sections come in the order the desk acts on them (new submissions, held ones,
failed replies, deadlines, missions that have not submitted), every time with its zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.desk.views import Attention, time_span
from pipeline.replies.templates import format_local, zone_label
from pipeline.resources.reason_labels import reason_text
from pipeline.storage import models as m

# Long SMTP errors are cut in the digest; the full text is in `intake submissions show`.
MAX_ERROR_CHARS = 160


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
    """Registered missions (with a sender address) without an accepted statement; or,
    when the meeting has a list of speakers, the inscribed ones (`inscribed`)."""

    meeting: str
    title: str
    deadline: datetime  # in the meeting's own zone
    missing: int
    registered: int  # out of how many: registered missions, or inscribed speakers
    inscribed: bool = False


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
    # The same list as the dashboard's overview and `intake queue`.
    attention: Attention = field(default_factory=Attention)

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

        lines += ["", *_attention_lines(self.attention, zone)]

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
            reasons = "; ".join(reason_text(item.reasons)) or "no reason recorded"
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
                f"  {row.meeting}  {row.missing} of {row.registered} "
                f"{'inscribed speakers' if row.inscribed else 'registered missions'} "
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
            "attention": self.attention.as_json()["items"],
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


def _attention_lines(attention: Attention, zone: ZoneInfo) -> list[str]:
    """Each item: where, who, since when; what is wrong; the next step."""
    lines = [_heading(f"Needs attention: {len(attention.items)}")]
    if not attention.items:
        lines.append("  Nothing.")
    for _kind, title, items in attention.groups:
        lines.append(f"  {title} ({len(items)})")
        for item in items:
            when = _short(item.since, zone) if item.since else ""
            head = " · ".join(p for p in (item.reference or item.meeting, item.who, when) if p)
            lines.append(f"    {head}")
            lines.append(f"      {_cut(item.what)}")
            lines.append(f"      next: {item.command}")
    return lines


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
