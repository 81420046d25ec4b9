"""Bring the database in line with the registry and the configuration at start-up.

The registry adds missions that are missing; the configuration adds meetings and sender
addresses. Addresses the desk added (source "desk") are left alone; addresses that came
from the configuration and are no longer in it are removed. A meeting the desk closed
stays closed even if the file still says open: the file sets a meeting's status only
when the meeting is first created.
"""

from __future__ import annotations

from sqlmodel import Session, select

from pipeline.errors import IntakeError
from pipeline.missions.registry import load_registry
from pipeline.settings.models import Settings
from pipeline.storage.db import startup_lock
from pipeline.storage.models import Meeting, Mission, SenderAddress


class SyncError(IntakeError):
    """The configuration contradicts what the database holds."""


def sync_reference_data(session: Session, settings: Settings) -> None:
    startup_lock(session)
    missions = {m.code: m for m in session.exec(select(Mission))}
    for info in load_registry().values():
        mission = missions.get(info.code)
        if mission is None:
            mission = Mission(
                code=info.code, name=info.name, kind=info.kind, names=dict(info.names)
            )
            session.add(mission)
            missions[info.code] = mission
        elif (mission.name, mission.kind, mission.names) != (
            info.name,
            info.kind,
            dict(info.names),
        ):
            mission.name, mission.kind, mission.names = info.name, info.kind, dict(info.names)
            session.add(mission)
    session.flush()

    existing = {a.address: a for a in session.exec(select(SenderAddress))}
    wanted: dict[str, int] = {}
    for code, mission_settings in settings.missions.items():
        mission_id = missions[code].id
        assert mission_id is not None
        for address in mission_settings.senders:
            wanted[address] = mission_id
    for address, mission_id in wanted.items():
        current = existing.get(address)
        if current is None:
            session.add(SenderAddress(mission_id=mission_id, address=address, source="config"))
        elif current.mission_id != mission_id:
            if current.source != "config":
                raise SyncError(
                    f"{address} is configured for another mission than the desk registered it "
                    "for; remove it from one of them"
                )
            current.mission_id = mission_id
            session.add(current)
    for address, current in existing.items():
        if current.source == "config" and address not in wanted:
            session.delete(current)

    meetings = {m.code: m for m in session.exec(select(Meeting))}
    for configured in settings.meetings:
        meeting = meetings.get(configured.code)
        if meeting is None:
            meeting = Meeting(
                code=configured.code,
                title=configured.title,
                date=configured.date,
                timezone=configured.timezone,
                deadline=configured.deadline_at(),
                word_limit=configured.word_limit,
                length_policy=configured.length_policy,
                status=configured.status,
                president=configured.president,
                presidency=configured.presidency,
                meeting_format=configured.format,
                briefers=list(configured.briefers),
                procedure=configured.procedure,
            )
        else:
            meeting.title = configured.title
            meeting.date = configured.date
            meeting.timezone = configured.timezone
            meeting.deadline = configured.deadline_at()
            meeting.word_limit = configured.word_limit
            meeting.length_policy = configured.length_policy
            meeting.president = configured.president
            meeting.presidency = configured.presidency
            meeting.meeting_format = configured.format
            meeting.briefers = list(configured.briefers)
            meeting.procedure = configured.procedure
        session.add(meeting)
    session.flush()
