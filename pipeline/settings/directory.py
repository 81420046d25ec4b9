"""What takes statements and who may send them: `[[meetings]]` (with what the
compilation letter says about each) and `[missions.<ISO3>]` (sender addresses, an
authentication policy of its own), and the authentication policies."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from pipeline.domain import LengthPolicy, MeetingFormat, MeetingStatus
from pipeline.missions.registry import find_mission
from pipeline.settings.base import Strict

# The values of the former `meeting_format` key, still read (docs/configuration.md).
LEGACY_MEETING_FORMATS = {
    "video-teleconference": MeetingFormat.VIDEOCONFERENCE,
    "meeting": MeetingFormat.IN_PERSON,
}


class MeetingSettings(Strict):
    code: str
    title: str
    date: date
    timezone: str = "America/New_York"
    # A naive datetime is read in the meeting's time zone.
    deadline: datetime | None = None
    word_limit: int = Field(default=500, ge=1)
    # Over the limit by more than [documents] length_tolerance: a note or a rejection.
    length_policy: LengthPolicy = LengthPolicy.NOTE
    status: MeetingStatus = MeetingStatus.OPEN
    # For the compilation letter: who presides, for which member, how the meeting met
    # (`format`), who briefed the Council, and for a videoconference the symbol of the
    # letter that set out its procedure (S/2020/372 for the 2020-2021 videoconferences).
    president: str | None = None  # e.g. "Zhang Jun"
    presidency: str | None = None  # the Council member holding the presidency, e.g. "CHN"
    format: MeetingFormat = MeetingFormat.IN_PERSON
    briefers: list[str] = Field(
        default_factory=list
    )  # e.g. ["Jean-Pierre Lacroix, Under-Secretary-General ..."]
    procedure: str | None = None  # e.g. "S/2020/372"

    @model_validator(mode="before")
    @classmethod
    def _legacy_format(cls, data: Any) -> Any:
        """`meeting_format = "video-teleconference"` (before `format`) keeps working."""
        if not isinstance(data, dict) or "meeting_format" not in data:
            return data
        data = dict(data)
        legacy = data.pop("meeting_format")
        if "format" in data:
            raise ValueError("give either format or meeting_format (its former name), not both")
        if legacy not in LEGACY_MEETING_FORMATS:
            raise ValueError(
                f'meeting_format {legacy!r} is not known: write format = "videoconference" '
                'or format = "in_person"'
            )
        data["format"] = LEGACY_MEETING_FORMATS[legacy]
        return data

    @field_validator("procedure")
    @classmethod
    def _symbol(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"S/\d{4}/\d{1,4}", value.strip()):
            raise ValueError(
                f"{value!r} must be a document symbol such as S/2020/372 (the letter that "
                "set out the procedure)"
            )
        return None if value is None else value.strip()

    @field_validator("briefers")
    @classmethod
    def _briefers(cls, value: list[str]) -> list[str]:
        cleaned = [" ".join(name.split()) for name in value]
        if not all(cleaned):
            raise ValueError("a briefer cannot be an empty text")
        return cleaned

    @field_validator("code")
    @classmethod
    def _code_shape(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{1,38}[A-Za-z0-9]", value):
            raise ValueError(
                f"{value!r} must be 3-40 letters, digits or hyphens (it appears in subjects "
                "and plus-addresses)"
            )
        return value.upper()

    @field_validator("presidency")
    @classmethod
    def _member(cls, value: str | None) -> str | None:
        if value is None:
            return None
        info = find_mission(value)
        if info is None:
            raise ValueError(f"unknown mission code {value!r} (an ISO alpha-3 code such as CHN)")
        return info.code

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def deadline_at(self) -> datetime:
        """The deadline as an aware datetime: by default the end of the meeting day, local."""
        if self.deadline is None:
            return datetime.combine(self.date, time(23, 59, 59), tzinfo=self.zone)
        if self.deadline.tzinfo is None:
            return self.deadline.replace(tzinfo=self.zone)
        return self.deadline


class AuthPolicy(StrEnum):
    """What a message from a registered mission needs from our receiving server's
    SPF/DKIM/DMARC verdicts (Authentication-Results) to be accepted."""

    REQUIRE = "require"  # no pass: rejected (forged_sender)
    HOLD = "hold"  # no pass: held for the desk
    OFF = "off"  # not checked


class MissionSettings(Strict):
    senders: list[str] = Field(default_factory=list)
    # Overrides [authentication] policy for this mission (a ministry without DKIM, say).
    authentication: AuthPolicy | None = None
    # The language of its replies when the statement's own language has no templates (or
    # there is no statement): one that has reply templates (`load_templates` checks).
    language: str | None = None

    @field_validator("language")
    @classmethod
    def _language_code(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().lower()
        if not re.fullmatch(r"[a-z]{2,3}", code):
            raise ValueError(
                f'{value!r} is not a language code: write one such as "fr" or "es", '
                "a language the reply templates exist for"
            )
        return code

    @field_validator("senders")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        cleaned = []
        for value in values:
            entry = value.strip().lower()
            if entry.startswith("@"):
                if not re.fullmatch(r"@[a-z0-9-]+(\.[a-z0-9-]+)+", entry):
                    raise ValueError(f"{value!r} is not a domain like '@example.org'")
            elif not re.fullmatch(r"[^@\s]+@[a-z0-9-]+(\.[a-z0-9-]+)+", entry):
                raise ValueError(f"{value!r} is not an email address or '@domain'")
            cleaned.append(entry)
        return cleaned
