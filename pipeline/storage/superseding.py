"""One accepted statement per mission and meeting: the one before it is superseded.

Both the worker (filing an accepted message) and the desk (accepting one by hand) make a
submission the mission's current one for its meeting; this is where the accepted one
before it steps aside. The audit event is the caller's: the worker and the desk word it
differently, and write it at different points of their transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from pipeline.storage import models as m


@dataclass(frozen=True)
class Superseding:
    """What `supersede_current` found: at most one of the two is set."""

    superseded: m.Submission | None = None
    """The accepted submission that is now superseded."""
    newer: m.Submission | None = None
    """The accepted submission that stays current: it was received after the new one."""


def supersede_current(
    session: Session,
    *,
    meeting_id: int,
    mission_id: int,
    successor_id: int | None,
    received_at: datetime | None = None,
) -> Superseding:
    """Mark the mission's accepted submission for the meeting superseded, and flush.

    `successor_id` is the submission taking its place, if it has an id already (it is
    never its own predecessor). With `received_at` (the worker), an accepted submission
    received later than that stays current and is returned as `newer`: a message that
    reached the server earlier but was filed later never replaces a newer statement.
    Without it (the desk), the accepted one is superseded whatever its date.

    The flush lets the partial unique index on accepted submissions see it gone before
    the successor is accepted.
    """
    current = session.exec(
        select(m.Submission).where(
            m.Submission.meeting_id == meeting_id,
            m.Submission.mission_id == mission_id,
            m.Submission.status == m.SubmissionStatus.ACCEPTED,
            m.Submission.id != (successor_id if successor_id is not None else -1),
        )
    ).first()
    if current is None:
        return Superseding()
    if received_at is not None and current.received_at > received_at:
        return Superseding(newer=current)
    current.status = m.SubmissionStatus.SUPERSEDED
    current.updated_at = m.utcnow()
    session.add(current)
    session.flush()
    return Superseding(superseded=current)
