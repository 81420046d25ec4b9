"""The words of the domain that both the configuration and the database use: what a
failed check leads to, what an over-long statement leads to, how a meeting was held and
whether it takes statements. One place, so `settings` and `storage` agree by
construction and neither imports the other for a vocabulary."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Action", "LengthPolicy", "MeetingFormat", "MeetingStatus"]


class Action(StrEnum):
    """What a failed check leads to, in the decision table."""

    REJECT = "reject"
    HOLD = "hold"
    IGNORE = "ignore"
    NOTE = "note"


class LengthPolicy(StrEnum):
    """What a statement over its meeting's length limit leads to."""

    NOTE = "note"  # accepted, with a remark in the acknowledgement
    REJECT = "reject"  # rejected as too_long


class MeetingFormat(StrEnum):
    """How the Council met: the compilation letter says "videoconference open debate"
    for one, "open debate" for the other. In person is the default."""

    IN_PERSON = "in_person"
    VIDEOCONFERENCE = "videoconference"


class MeetingStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
