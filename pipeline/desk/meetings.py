"""The desk's meeting actions: add a meeting without editing the configuration, edit one
the desk added, close one.

A meeting added here carries what the compilation letter says (format, president,
presidency, briefers, procedure), checked by the same rules as a [[meetings]] entry. A
meeting of the configuration file is edited there: the file is read again at every start
(`storage/sync.py`) and would undo an edit made here.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import select

from pipeline.desk.errors import ActionError
from pipeline.desk.views import find_meeting
from pipeline.domain import LengthPolicy, MeetingFormat, MeetingStatus
from pipeline.settings.directory import MeetingSettings
from pipeline.storage import models as m
from pipeline.storage.db import session_scope

__all__ = [
    "MeetingChanges",
    "MeetingEdit",
    "add_meeting",
    "check_editable",
    "close_meeting",
    "deadline_warning",
    "edit_meeting",
]


def add_meeting(
    engine: Engine,
    *,
    code: str,
    title: str,
    day: date,
    actor: str,
    timezone: str = "America/New_York",
    deadline: datetime | None = None,
    word_limit: int = 500,
    length_policy: LengthPolicy = LengthPolicy.NOTE,
    meeting_format: MeetingFormat = MeetingFormat.IN_PERSON,
    president: str | None = None,
    presidency: str | None = None,
    briefers: Sequence[str] = (),
    procedure: str | None = None,
) -> m.Meeting:
    """Add a meeting; the last five arguments are what the compilation letter says
    (checked as in a [[meetings]] entry: a presidency is an ISO alpha-3 code, a
    procedure a document symbol such as S/2020/372)."""
    code = code.strip().upper()
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9-]{1,38}[A-Z0-9]", code):
        raise ActionError(f"{code!r}: a meeting code is 3-40 letters, digits or hyphens")
    title = _title(title)
    word_limit = _word_limit(word_limit)
    letter = _letter_settings(meeting_format, president, presidency, briefers, procedure)
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ActionError(f"unknown time zone {timezone!r} (use an IANA name)") from None
    if deadline is None:
        deadline = datetime.combine(day, time(23, 59, 59), tzinfo=zone)
    elif deadline.tzinfo is None:
        deadline = deadline.replace(tzinfo=zone)
    with session_scope(engine) as session:
        if session.exec(select(m.Meeting).where(m.Meeting.code == code)).first():
            raise ActionError(f"a meeting with the code {code} exists already")
        meeting = m.Meeting(
            code=code,
            title=title.strip(),
            date=day,
            timezone=timezone,
            deadline=deadline,
            word_limit=word_limit,
            length_policy=length_policy,
            meeting_format=letter.format,
            president=letter.president,
            presidency=letter.presidency,
            briefers=list(letter.briefers),
            procedure=letter.procedure,
        )
        session.add(meeting)
        session.add(
            m.AuditEvent(
                actor=actor,
                kind=m.AuditKind.MEETING_ADDED,
                detail={"meeting": code, "deadline": deadline.isoformat()},
            )
        )
        return meeting


def _letter_settings(
    meeting_format: MeetingFormat,
    president: str | None,
    presidency: str | None,
    briefers: Sequence[str],
    procedure: str | None,
) -> MeetingSettings:
    """The letter's fields checked by the configuration's own rules, one sentence if wrong."""
    try:
        return MeetingSettings(
            code="CHECK",
            title="-",
            date=date(2000, 1, 1),
            format=meeting_format,
            president=" ".join(president.split()) if president else None,
            presidency=presidency,
            briefers=list(briefers),
            procedure=procedure,
        )
    except ValidationError as error:
        first = error.errors()[0]
        field = first["loc"][-1] if first["loc"] else "meeting"
        problem = str(first["msg"]).removeprefix("Value error, ")
        raise ActionError(f"{field}: {problem}") from None


def _title(title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise ActionError("give the meeting a title (--title TEXT), as the letter names it")
    return title


def _word_limit(word_limit: int) -> int:
    if word_limit < 1:
        raise ActionError(f"the word limit must be a positive number, not {word_limit}")
    return word_limit


def deadline_warning(meeting: m.Meeting, now: datetime | None = None) -> str | None:
    """One sentence when the meeting's deadline is already past (an edit or an addition
    the desk may not have meant), else None."""
    now = now or m.utcnow()
    if meeting.deadline > now:
        return None
    local = meeting.deadline.astimezone(ZoneInfo(meeting.timezone))
    return (
        f"the deadline of {meeting.code} ({local:%d %b %Y %H:%M %Z}) has already passed: "
        "statements sent now are rejected as late"
    )


@dataclass(frozen=True)
class MeetingChanges:
    """What the desk asked to change; None leaves a field as it is. An empty president,
    presidency or procedure clears it; briefers replace the list."""

    title: str | None = None
    day: date | None = None
    deadline: datetime | None = None
    word_limit: int | None = None
    president: str | None = None
    presidency: str | None = None
    meeting_format: MeetingFormat | None = None
    briefers: Sequence[str] | None = None
    procedure: str | None = None

    def empty(self) -> bool:
        return all(value is None for value in vars(self).values())


@dataclass(frozen=True)
class MeetingEdit:
    meeting: m.Meeting
    # field -> [before, after], as recorded in the audit log; empty when nothing differed.
    changed: dict[str, list[Any]]


def _cleared(value: str | None, current: str | None) -> str | None:
    if value is None:
        return current
    return " ".join(value.split()) or None


def check_editable(code: str, configured: Collection[str]) -> None:
    """Refuse to edit a meeting of the configuration file, in one sentence."""
    if code.strip().upper() in configured:
        raise ActionError(
            f"{code.strip().upper()} comes from the configuration file: edit its [[meetings]] "
            "entry there (the file is read again at every start and would undo a change "
            "made here)"
        )


def edit_meeting(
    engine: Engine,
    *,
    code: str,
    changes: MeetingChanges,
    actor: str,
    configured: Collection[str] = (),
) -> MeetingEdit:
    """Change what is given of a meeting the desk added (`configured`: the codes of the
    configuration file's meetings, which are edited there). A new date moves a deadline
    that was the end of the old day to the end of the new one."""
    if changes.empty():
        raise ActionError(
            "nothing to change: give at least one of --title, --date, --deadline, "
            "--word-limit, --president, --presidency, --format, --briefer, --procedure"
        )
    with session_scope(engine) as session:
        meeting = find_meeting(session, code)
        check_editable(meeting.code, configured)
        zone = ZoneInfo(meeting.timezone)
        letter = _letter_settings(
            changes.meeting_format or meeting.meeting_format,
            _cleared(changes.president, meeting.president),
            _cleared(changes.presidency, meeting.presidency),
            [b for b in changes.briefers if b.strip()]
            if changes.briefers is not None
            else meeting.briefers,
            _cleared(changes.procedure, meeting.procedure),
        )
        wanted: dict[str, Any] = {
            "title": _title(changes.title) if changes.title is not None else meeting.title,
            "date": changes.day or meeting.date,
            "deadline": _new_deadline(meeting, changes, zone),
            "word_limit": _word_limit(changes.word_limit)
            if changes.word_limit is not None
            else meeting.word_limit,
            "president": letter.president,
            "presidency": letter.presidency,
            "meeting_format": letter.format,
            "briefers": list(letter.briefers),
            "procedure": letter.procedure,
        }
        changed: dict[str, list[Any]] = {}
        for name, value in wanted.items():
            before = getattr(meeting, name)
            if before != value:
                changed[name] = [_recorded(before), _recorded(value)]
                setattr(meeting, name, value)
        if changed:
            session.add(meeting)
            session.add(
                m.AuditEvent(
                    actor=actor,
                    kind=m.AuditKind.MEETING_EDITED,
                    detail={"meeting": meeting.code, "changed": changed},
                )
            )
        return MeetingEdit(meeting=meeting, changed=changed)


def _new_deadline(meeting: m.Meeting, changes: MeetingChanges, zone: ZoneInfo) -> datetime:
    if changes.deadline is not None:
        deadline = changes.deadline
        return deadline if deadline.tzinfo else deadline.replace(tzinfo=zone)
    end_of_day = datetime.combine(meeting.date, time(23, 59, 59), tzinfo=zone)
    if changes.day is not None and meeting.deadline == end_of_day:
        return datetime.combine(changes.day, time(23, 59, 59), tzinfo=zone)
    return meeting.deadline


def _recorded(value: Any) -> Any:
    """A value as the audit log's JSON holds it."""
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, MeetingFormat):
        return value.value
    return value


def close_meeting(engine: Engine, *, code: str, actor: str) -> m.Meeting:
    with session_scope(engine) as session:
        meeting = find_meeting(session, code)
        meeting.status = MeetingStatus.CLOSED
        session.add(meeting)
        session.add(
            m.AuditEvent(actor=actor, kind=m.AuditKind.MEETING_CLOSED, detail={"meeting": code})
        )
        return meeting
