"""The desk's meeting actions: add a meeting without editing the configuration, close one.

A meeting added here carries what the compilation letter says (format, president,
presidency, briefers, procedure), checked by the same rules as a [[meetings]] entry.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time
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

__all__ = ["add_meeting", "close_meeting"]


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
    letter = _letter_settings(meeting_format, president, presidency, briefers, procedure)
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9-]{1,38}[A-Z0-9]", code):
        raise ActionError(f"{code!r}: a meeting code is 3-40 letters, digits or hyphens")
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


def close_meeting(engine: Engine, *, code: str, actor: str) -> m.Meeting:
    with session_scope(engine) as session:
        meeting = find_meeting(session, code)
        meeting.status = MeetingStatus.CLOSED
        session.add(meeting)
        session.add(
            m.AuditEvent(actor=actor, kind=m.AuditKind.MEETING_CLOSED, detail={"meeting": code})
        )
        return meeting
