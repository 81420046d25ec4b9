"""A meeting's list of speakers: imported from the secretariat's file, all or nothing.

The list is what the desk checks submissions against (`intake missing`): once a meeting
has one, the missing are the inscribed missions without an accepted statement. Importing
again replaces the whole list in one transaction, recorded in the audit log; a file with
a row that names no mission changes nothing, and the error names every such row.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

from pipeline.desk.errors import ActionError
from pipeline.desk.speaker_files import match_rows, read_rows
from pipeline.desk.view_base import JsonView
from pipeline.desk.views import find_meeting
from pipeline.storage import models as m
from pipeline.storage.db import session_scope

__all__ = [
    "SpeakerRow",
    "SpeakersImport",
    "UnknownSpeakers",
    "import_speakers",
    "list_speakers",
]

MAX_FILE_BYTES = 2 * 1024 * 1024


class UnknownSpeakers(ActionError):
    """Rows of the file name no mission; nothing was imported. `rows` lists them."""

    def __init__(self, rows: list[tuple[int, str]]) -> None:
        self.rows = rows
        numbers = ", ".join(str(number) for number, _ in rows[:20])
        more = f" and {len(rows) - 20} more" if len(rows) > 20 else ""
        plural = "s" if len(rows) != 1 else ""
        super().__init__(
            f"{len(rows)} row{plural} name{'' if plural else 's'} no mission (row{plural} "
            f"{numbers}{more}): nothing was imported; write an ISO alpha-3 code or the "
            "mission's name in one of the six UN languages there, and import the file again"
        )


@dataclass(frozen=True)
class SpeakersImport:
    meeting: str
    count: int
    replaced: int  # how many the list held before
    repeated: list[tuple[int, str]]  # (row, code) named again, kept once


def import_speakers(
    engine: Engine, *, meeting_code: str, filename: str, content: bytes, actor: str
) -> SpeakersImport:
    """Replace the meeting's list of speakers with the file's, or change nothing."""
    if len(content) > MAX_FILE_BYTES:
        raise ActionError(
            f"{filename} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB: a list of "
            "speakers is one mission per row"
        )
    matched = match_rows(read_rows(content))
    if matched.unknown:
        raise UnknownSpeakers(matched.unknown)
    if not matched.codes:
        raise ActionError(f"{filename} names no mission: one mission per row, by code or name")
    with session_scope(engine) as session:
        meeting = find_meeting(session, meeting_code)
        assert meeting.id is not None
        missions = {
            mission.code: mission.id
            for mission in session.exec(
                select(m.Mission).where(col(m.Mission.code).in_(matched.codes))
            )
        }
        before = session.exec(select(m.Speaker).where(m.Speaker.meeting_id == meeting.id)).all()
        session.exec(delete(m.Speaker).where(col(m.Speaker.meeting_id) == meeting.id))
        for position, code in enumerate(matched.codes, start=1):
            mission_id = missions.get(code)
            if mission_id is None:  # the registry knows it, the database not yet
                raise ActionError(f"{code} is not in the database yet: run `intake db upgrade`")
            session.add(m.Speaker(meeting_id=meeting.id, mission_id=mission_id, position=position))
        session.add(
            m.AuditEvent(
                actor=actor,
                kind=m.AuditKind.SPEAKERS_IMPORTED,
                detail={
                    "meeting": meeting.code,
                    "file": filename,
                    "speakers": len(matched.codes),
                    "replaced": len(before),
                },
            )
        )
        return SpeakersImport(
            meeting=meeting.code,
            count=len(matched.codes),
            replaced=len(before),
            repeated=matched.repeated,
        )


@dataclass(frozen=True)
class SpeakerRow(JsonView):
    position: int
    code: str
    name: str
    # The mission's accepted statement for the meeting, if any.
    accepted: str | None


def list_speakers(session: Session, meeting_code: str) -> list[SpeakerRow]:
    """The meeting's list of speakers in order, each with its accepted statement."""
    meeting = find_meeting(session, meeting_code)
    accepted = {
        submission.mission_id: submission.reference
        for submission in session.exec(
            select(m.Submission).where(
                m.Submission.meeting_id == meeting.id,
                m.Submission.status == m.SubmissionStatus.ACCEPTED,
            )
        )
    }
    rows = session.exec(
        select(m.Speaker, m.Mission)
        .join(m.Mission, col(m.Speaker.mission_id) == col(m.Mission.id))
        .where(m.Speaker.meeting_id == meeting.id)
        .order_by(col(m.Speaker.position))
    )
    return [
        SpeakerRow(
            position=speaker.position,
            code=mission.code,
            name=mission.name,
            accepted=accepted.get(mission.id),
        )
        for speaker, mission in rows
    ]
