"""Which meeting a message is for.

A message names its meeting by the meeting's code in the subject (any case) or in a
plus-address (`submissions+PKO-SAFETY@...`). When exactly one meeting is open, every
message goes to it: delegations rarely quote codes, and one open debate is the usual case.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.message.parsed import ParsedMessage
from pipeline.storage.directory import MeetingRef


@dataclass(frozen=True)
class Routing:
    meeting: MeetingRef | None
    named: tuple[MeetingRef, ...]
    """Meetings the message names, open or not."""

    @property
    def named_open(self) -> tuple[MeetingRef, ...]:
        return tuple(m for m in self.named if m.is_open)

    @property
    def named_closed(self) -> tuple[MeetingRef, ...]:
        return tuple(m for m in self.named if not m.is_open)


def _names(message: ParsedMessage, meeting: MeetingRef) -> bool:
    code = re.escape(meeting.code)
    if re.search(rf"(?<![A-Za-z0-9]){code}(?![A-Za-z0-9])", message.subject, re.IGNORECASE):
        return True
    for recipient in message.recipients:
        local = recipient.split("@", 1)[0]
        if "+" in local and local.split("+", 1)[1].lower() == meeting.code.lower():
            return True
    return False


def route(message: ParsedMessage, meetings: Sequence[MeetingRef]) -> Routing:
    named = tuple(m for m in meetings if _names(message, m))
    named_open = [m for m in named if m.is_open]
    if len(named_open) == 1:
        return Routing(meeting=named_open[0], named=named)
    if not named:
        open_meetings = [m for m in meetings if m.is_open]
        if len(open_meetings) == 1:
            return Routing(meeting=open_meetings[0], named=named)
    return Routing(meeting=None, named=named)
