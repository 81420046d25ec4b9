"""The dashboard's meeting form (add and edit): the fields as the browser sends them, read
into what `desk/meetings.py` takes, with one sentence for a value that cannot be read.

An edit passes on only the fields the desk changed (compared with what the form showed),
as `intake meetings edit` passes only the options given: a deadline left as shown stays
to the second, and moves with a new date when it was the end of the old day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData

from pipeline.desk.errors import ActionError
from pipeline.desk.meetings import MeetingChanges
from pipeline.domain import MeetingFormat
from pipeline.storage import models as m
from pipeline.web import forms

__all__ = ["FIELDS", "MeetingForm", "changes_from", "shown", "values_of"]

FIELDS = (
    "code",
    "title",
    "date",
    "deadline",
    "word_limit",
    "format",
    "president",
    "presidency",
    "briefers",
    "procedure",
)
FORMATS = [(f.value, f.value.replace("_", " ")) for f in MeetingFormat]


def values_of(form: FormData) -> dict[str, str]:
    """The form's fields as typed, to show them again next to an error."""
    return {name: forms.text(form, name).strip() for name in FIELDS}


def shown(meeting: m.Meeting) -> dict[str, str]:
    """A meeting's fields as the edit form shows them."""
    local = meeting.deadline.astimezone(ZoneInfo(meeting.timezone))
    return {
        "code": meeting.code,
        "title": meeting.title,
        "date": meeting.date.isoformat(),
        "deadline": local.strftime("%Y-%m-%dT%H:%M"),
        "word_limit": str(meeting.word_limit),
        "format": meeting.meeting_format.value,
        "president": meeting.president or "",
        "presidency": meeting.presidency or "",
        "briefers": "\n".join(meeting.briefers),
        "procedure": meeting.procedure or "",
    }


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ActionError(f"date: {text!r} is not a day: write it as 2021-05-24") from None


def _deadline(text: str) -> datetime:
    try:
        return datetime.strptime(text.replace(" ", "T"), "%Y-%m-%dT%H:%M")
    except ValueError:
        raise ActionError(
            f"deadline: {text!r} is not a date and time: write it as 2021-05-24T23:59"
        ) from None


def _word_limit(text: str) -> int:
    if not text.isdigit():
        raise ActionError(f"word limit: {text!r} is not a whole number of words such as 500")
    return int(text)


def _format(text: str) -> MeetingFormat:
    try:
        return MeetingFormat(text)
    except ValueError:
        raise ActionError("format: choose in person or videoconference") from None


@dataclass(frozen=True)
class MeetingForm:
    """What the add form asks `add_meeting` for."""

    code: str
    title: str
    day: date
    deadline: datetime | None
    word_limit: int
    meeting_format: MeetingFormat
    president: str | None
    presidency: str | None
    briefers: list[str]
    procedure: str | None

    @classmethod
    def read(cls, values: dict[str, str]) -> MeetingForm:
        if not values["code"]:
            raise ActionError("code: give the meeting a code, such as WPS-2021")
        if not values["date"]:
            raise ActionError("date: give the meeting day, such as 2021-05-24")
        return cls(
            code=values["code"],
            title=values["title"],
            day=_day(values["date"]),
            deadline=_deadline(values["deadline"]) if values["deadline"] else None,
            word_limit=_word_limit(values["word_limit"] or "500"),
            meeting_format=_format(values["format"] or MeetingFormat.IN_PERSON.value),
            president=values["president"] or None,
            presidency=values["presidency"] or None,
            briefers=_briefers(values["briefers"]),
            procedure=values["procedure"] or None,
        )

    def arguments(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "title": self.title,
            "day": self.day,
            "deadline": self.deadline,
            "word_limit": self.word_limit,
            "meeting_format": self.meeting_format,
            "president": self.president,
            "presidency": self.presidency,
            "briefers": self.briefers,
            "procedure": self.procedure,
        }


def _briefers(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def changes_from(values: dict[str, str], before: dict[str, str]) -> MeetingChanges:
    """What the desk changed in the edit form: the fields that differ from `before`."""

    def given(name: str) -> str | None:
        value = values[name]
        if name == "briefers":
            same = _briefers(value) == _briefers(before[name])
        else:
            same = value == before[name]
        return None if same else value

    title, day, deadline = given("title"), given("date"), given("deadline")
    word_limit, meeting_format, briefers = given("word_limit"), given("format"), given("briefers")
    if deadline == "":
        raise ActionError("deadline: a meeting keeps a deadline; write it as 2021-05-24T23:59")
    return MeetingChanges(
        title=title,
        day=_day(day) if day is not None else None,
        deadline=_deadline(deadline) if deadline is not None else None,
        word_limit=_word_limit(word_limit) if word_limit is not None else None,
        president=given("president"),
        presidency=given("presidency"),
        meeting_format=_format(meeting_format) if meeting_format is not None else None,
        briefers=_briefers(briefers) if briefers is not None else None,
        procedure=given("procedure"),
    )
