"""A read-only snapshot of missions, sender addresses and meetings for one run.

Loaded once per run so that checking a message needs no database round trip; the desk's
changes (a new sender address, a closed meeting) take effect at the next run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from pipeline.domain import LengthPolicy, MeetingStatus
from pipeline.missions.registry import MissionKind
from pipeline.storage.models import Meeting, Mission, SenderAddress


@dataclass(frozen=True)
class MissionRef:
    id: int
    code: str
    name: str
    kind: MissionKind


@dataclass(frozen=True)
class MeetingRef:
    id: int
    code: str
    title: str
    date: date
    timezone: str
    deadline: datetime
    word_limit: int
    status: MeetingStatus
    length_policy: LengthPolicy = LengthPolicy.NOTE

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_open(self) -> bool:
        return self.status is MeetingStatus.OPEN


@dataclass(frozen=True)
class Directory:
    by_address: dict[str, MissionRef] = field(default_factory=dict)
    by_domain: dict[str, MissionRef] = field(default_factory=dict)
    meetings: tuple[MeetingRef, ...] = ()

    def mission_for(self, address: str | None) -> MissionRef | None:
        """The mission an address speaks for: an exact address first, then its domain."""
        if not address or "@" not in address:
            return None
        address = address.lower()
        exact = self.by_address.get(address)
        if exact is not None:
            return exact
        return self.by_domain.get("@" + address.rsplit("@", 1)[1])

    def open_meetings(self) -> tuple[MeetingRef, ...]:
        return tuple(m for m in self.meetings if m.is_open)

    @classmethod
    def load(cls, session: Session) -> Directory:
        missions = {
            m.id: MissionRef(id=m.id, code=m.code, name=m.name, kind=m.kind)
            for m in session.exec(select(Mission))
            if m.id is not None
        }
        by_address: dict[str, MissionRef] = {}
        by_domain: dict[str, MissionRef] = {}
        for sender in session.exec(select(SenderAddress)):
            mission = missions.get(sender.mission_id)
            if mission is None:
                continue
            target = by_domain if sender.address.startswith("@") else by_address
            target[sender.address] = mission
        meetings = tuple(
            MeetingRef(
                id=m.id,
                code=m.code,
                title=m.title,
                date=m.date,
                timezone=m.timezone,
                deadline=m.deadline,
                word_limit=m.word_limit,
                status=m.status,
                length_policy=m.length_policy,
            )
            for m in session.exec(select(Meeting).order_by(Meeting.code))
            if m.id is not None
        )
        return cls(by_address=by_address, by_domain=by_domain, meetings=meetings)
