"""A service desk's day, filed straight into a database: one of each thing that needs
the desk, next to things that do not, for fast tests of what the desk sees (the
attention list, `intake queue`, the digest, the dashboard). No mail server: the rows
are written as the pipeline would have written them (tests/test_core_stories.py and
friends cover how they get there).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pipeline.configuration import parse_settings
from pipeline.domain import Action
from pipeline.settings.models import Settings
from pipeline.settings.toml_writer import to_toml
from pipeline.storage import models as m
from pipeline.storage.db import session_scope
from pipeline.storage.prepare import prepare

NEW_YORK = ZoneInfo("America/New_York")
DESK_NOTE = "Checking the signature with the mission by phone"
STUCK_ERROR = "421 4.7.0 Try again later, closing connection"
FAILED_ERROR = "550 5.1.1 Mailbox unavailable"
LONG_SENDER = "someone.with.a.long.name@ministry.gov.example"
MISSIONS: dict[str, dict[str, list[str]]] = {
    "FRA": {"senders": ["france@un.int"]},
    "CIV": {"senders": ["cotedivoire@un.int"]},
    "GHA": {"senders": ["ghana@un.int"]},
    "JPN": {"senders": ["japan@un.int"]},
    "BRA": {"senders": ["brazil@un.int"]},
    "VCT": {"senders": ["stvincent@un.int"]},
    "VEN": {"senders": ["venezuela@un.int"]},
}


@dataclass(frozen=True)
class DeskDay:
    settings: Settings
    config: Path
    now: datetime
    refs: dict[str, str]  # what each filed item is -> its reference

    def engine(self) -> Engine:
        return prepare(self.settings)


def _meeting(code: str, title: str, deadline: datetime) -> dict[str, Any]:
    local = deadline.astimezone(NEW_YORK)
    return {
        "code": code,
        "title": title,
        "date": local.date().isoformat(),
        "deadline": local.replace(tzinfo=None).isoformat(timespec="minutes"),
    }


def desk_day(folder: Path, *, now: datetime | None = None, **changes: Any) -> DeskDay:
    """A database and its configuration file in `folder`: NEAR (deadline in 10 hours,
    missions missing), LATER (in 5 days) and PKO-SAFETY (2021: the deadline passed)."""
    now = now or datetime.now(UTC)
    config: dict[str, Any] = {
        "paths": {"data_dir": str(folder / "data")},
        "database": {"url": f"sqlite:///{folder / 'intake.db'}"},
        "meetings": [
            _meeting(
                "NEAR", "Protection of civilians in armed conflict", now + timedelta(hours=10)
            ),
            _meeting("LATER", "Children and armed conflict", now + timedelta(days=5)),
            {
                "code": "PKO-SAFETY",
                "title": "United Nations peacekeeping operations",
                "date": "2021-05-24",
            },
        ],
        "missions": MISSIONS,
        **changes,
    }
    settings = parse_settings(config, environ={})
    path = folder / "intake.toml"
    path.write_text(to_toml(config), encoding="utf-8")
    engine = prepare(settings)
    try:
        refs = _file_the_day(engine, now)
    finally:
        engine.dispose()
    return DeskDay(settings, path, now, refs)


class _Filer:
    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now
        self.meetings = {mt.code: mt for mt in session.exec(select(m.Meeting))}
        self.missions = {mi.code: mi for mi in session.exec(select(m.Mission))}
        self.uid = 0

    def submission(
        self,
        reference: str,
        *,
        meeting: str | None,
        mission: str | None,
        status: m.SubmissionStatus,
        reasons: tuple[tuple[str, Action], ...] = (),
        sender: str | None = None,
        record_reason: str | None = None,
        failed_stage: m.Stage | None = None,
        words: int | None = 480,
    ) -> m.Submission:
        self.uid += 1
        received = self.now - timedelta(hours=30 - self.uid)
        outcome = {
            m.SubmissionStatus.ACCEPTED: m.MessageOutcome.ACCEPTED,
            m.SubmissionStatus.REJECTED: m.MessageOutcome.REJECTED,
        }.get(status, m.MessageOutcome.HELD)
        address = sender or (MISSIONS[mission]["senders"][0] if mission else None)
        record = m.MessageRecord(
            mailbox="INBOX",
            uidvalidity=1,
            uid=self.uid,
            raw_sha256=f"{self.uid:064x}",
            size=1000,
            received_at=received,
            sender=address,
            outcome=outcome,
            reason=record_reason,
            target_folder=f"Intake/{outcome.value.capitalize()}",
            failed_stage=failed_stage,
            error=f"quarantined: 3 attempts stopped the worker (the last one during {failed_stage})"
            if failed_stage
            else None,
        )
        self.session.add(record)
        self.session.flush()
        assert record.id is not None
        submission = m.Submission(
            reference=reference,
            meeting_id=self.meetings[meeting].id if meeting else None,
            mission_id=self.missions[mission].id if mission else None,
            message_record_id=record.id,
            sender=address,
            received_at=received,
            status=status,
            word_count=words,
        )
        self.session.add(submission)
        self.session.flush()
        self.decide(submission, status, reasons=reasons)
        return submission

    def decide(
        self,
        submission: m.Submission,
        status: m.SubmissionStatus,
        *,
        reasons: tuple[tuple[str, Action], ...] = (),
        by: str = "intake",
        note: str | None = None,
    ) -> None:
        assert submission.id is not None
        decision = m.Decision(submission_id=submission.id, status=status, decided_by=by, note=note)
        self.session.add(decision)
        self.session.flush()
        assert decision.id is not None
        for code, action in reasons:
            self.session.add(m.DecisionReason(decision_id=decision.id, code=code, action=action))
        submission.status = status
        self.session.add(submission)

    def reply(
        self,
        submission: m.Submission,
        kind: m.ReplyKind,
        status: m.ReplyStatus,
        *,
        error: str | None = None,
        attempts: int = 0,
    ) -> m.Reply:
        assert submission.id is not None
        assert submission.sender is not None
        reply = m.Reply(
            message_record_id=submission.message_record_id,
            submission_id=submission.id,
            kind=kind,
            to_address=submission.sender,
            subject=f"Re: Written statement for the open debate ({submission.reference}), "
            "a long subject line as delegations write them",
            body="...",
            message_id=f"<{submission.reference}.{kind.value}@intake.example>",
            status=status,
            attempts=attempts,
            last_error=error,
            sent_at=self.now if status is m.ReplyStatus.SENT else None,
        )
        self.session.add(reply)
        self.session.flush()
        return reply


def _file_the_day(engine: Engine, now: datetime) -> dict[str, str]:
    held = m.SubmissionStatus.HELD
    accepted = m.SubmissionStatus.ACCEPTED
    rejected = m.SubmissionStatus.REJECTED
    ack, rejection = m.ReplyKind.ACKNOWLEDGEMENT, m.ReplyKind.REJECTION
    with session_scope(engine) as session:
        f = _Filer(session, now)
        scan = f.submission(
            "NEAR-0001",
            meeting="NEAR",
            mission="FRA",
            status=accepted,
            reasons=(("cover_letter_unverified", Action.NOTE),),
        )
        f.reply(scan, ack, m.ReplyStatus.SENT)
        desk_held = f.submission("NEAR-0002", meeting="NEAR", mission="CIV", status=accepted)
        f.decide(desk_held, held, by="jane.doe", note=DESK_NOTE)
        stuck = f.submission(
            "NEAR-0003",
            meeting="NEAR",
            mission="GHA",
            status=rejected,
            reasons=(("no_cover_letter", Action.REJECT),),
        )
        f.reply(stuck, rejection, m.ReplyStatus.PENDING, error=STUCK_ERROR, attempts=2)
        verified = f.submission(
            "NEAR-0004",
            meeting="NEAR",
            mission="JPN",
            status=accepted,
            reasons=(("cover_letter_unverified", Action.NOTE),),
        )
        f.decide(verified, accepted, by="jane.doe", note="Signature verified by phone")
        failed = f.submission(
            "PKO-SAFETY-0001", meeting="PKO-SAFETY", mission="BRA", status=accepted
        )
        f.reply(failed, ack, m.ReplyStatus.FAILED, error=FAILED_ERROR, attempts=5)
        f.submission(
            "INTAKE-0001",
            meeting=None,
            mission=None,
            status=held,
            sender="unknown@example.org",
            reasons=(("quarantined", Action.HOLD),),
            record_reason="quarantined",
            failed_stage=m.Stage.PARSE,
            words=None,
        )
        f.submission(
            "INTAKE-0002",
            meeting=None,
            mission=None,
            status=held,
            sender=LONG_SENDER,
            reasons=(("no_open_meeting", Action.HOLD), ("unknown_sender", Action.HOLD)),
            words=None,
        )
        calm = f.submission("LATER-0001", meeting="LATER", mission="VCT", status=accepted)
        f.reply(calm, ack, m.ReplyStatus.SENT)
        f.submission(
            "LATER-0002",
            meeting="LATER",
            mission="VEN",
            status=rejected,
            reasons=(("late", Action.REJECT), ("statement_not_word", Action.REJECT)),
            words=12345,
        )
    return {
        "scan": "NEAR-0001",
        "desk_held": "NEAR-0002",
        "stuck_reply": "NEAR-0003",
        "verified_scan": "NEAR-0004",
        "failed_reply": "PKO-SAFETY-0001",
        "quarantined": "INTAKE-0001",
        "no_meeting": "INTAKE-0002",
        "long_name": "LATER-0001",
        "longer_name": "LATER-0002",
    }
