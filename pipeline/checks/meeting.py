"""Is the message for a meeting that takes submissions, and did it arrive in time?

Time of receipt is the mail server's INTERNALDATE, judged in the meeting's time zone;
the sender's Date: header is never trusted.
"""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import Verdict
from pipeline.checks.facts import Facts


class OpenMeeting:
    name: ClassVar[str] = "open_meeting"
    description: ClassVar[str] = "the message is routed to exactly one open meeting"
    reasons: ClassVar[tuple[str, ...]] = ("no_open_meeting", "ambiguous_meeting", "meeting_closed")

    def check(self, facts: Facts) -> Verdict:
        routing = facts.routing
        if routing.meeting is not None:
            return Verdict.ok()
        if len(routing.named_open) > 1:
            return Verdict.fail("ambiguous_meeting", codes=[m.code for m in routing.named_open])
        if routing.named_closed:
            closed = routing.named_closed[0]
            return Verdict.fail("meeting_closed", meeting=closed.code, title=closed.title)
        return Verdict.fail("no_open_meeting")


class Deadline:
    name: ClassVar[str] = "deadline"
    description: ClassVar[str] = "received by the mail server no later than the deadline"
    reasons: ClassVar[tuple[str, ...]] = ("late",)

    def check(self, facts: Facts) -> Verdict:
        meeting = facts.meeting
        if meeting is None:
            return Verdict.ok()
        if facts.received_at > meeting.deadline:
            late_by = facts.received_at - meeting.deadline
            return Verdict.fail(
                "late",
                received_at=facts.received_at.isoformat(),
                deadline=meeting.deadline.isoformat(),
                late_by_seconds=int(late_by.total_seconds()),
            )
        return Verdict.ok()
