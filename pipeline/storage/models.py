"""The tables. Every place a duplicate could appear has the unique key that forbids it.

- a mail is recorded once per (mailbox, UIDVALIDITY, UID): the ledger;
- a ledger entry becomes at most one submission;
- a decision is answered by at most one reply, and a reply has one Message-ID;
- a mission is on a meeting's list of speakers at most once;
- a meeting has at most one *accepted* submission per mission (a partial unique index):
  a newer one supersedes the older in the same transaction.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from pipeline.domain import Action, LengthPolicy, MeetingFormat, MeetingStatus
from pipeline.missions.registry import MissionKind


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC without a zone (SQLite has none) and always returns aware datetimes."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002  (part of the TypeDecorator interface)
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002
    ) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def _enum(kind: type[StrEnum]) -> sa.Enum:
    # Stored as plain strings (no PostgreSQL enum types to migrate); values, not names.
    return sa.Enum(
        kind,
        native_enum=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class MessageOutcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    HELD = "held"
    IGNORED = "ignored"


class SubmissionStatus(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    HELD = "held"
    SUPERSEDED = "superseded"


class DocumentRole(StrEnum):
    STATEMENT = "statement"
    COVER_LETTER = "cover_letter"
    # A legacy statement (.doc, .rtf, .odt) converted to .docx: what later stages read.
    CONVERTED_STATEMENT = "converted_statement"
    OTHER = "other"


class ReplyKind(StrEnum):
    ACKNOWLEDGEMENT = "acknowledgement"
    REJECTION = "rejection"
    HELD = "held"


class ReplyStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    # Never to be sent: a later decision replaced the one it announced, or the desk
    # cancelled it (`Reply.cancel_reason` says why).
    CANCELLED = "cancelled"


# Not sent yet, and still to be sent unless cancelled: what a new decision cancels.
UNSENT_STATUSES = (ReplyStatus.PENDING, ReplyStatus.FAILED)


class Stage(StrEnum):
    """Where a message was when something went wrong; recorded for the desk."""

    FETCH = "fetch"
    PARSE = "parse"
    CHECK = "check"
    STORE = "store"
    MOVE = "move"
    SEND = "send"


class AuditKind(StrEnum):
    MESSAGE_RECEIVED = "message_received"
    MESSAGE_IGNORED = "message_ignored"
    MESSAGE_DUPLICATE = "message_duplicate"
    MESSAGE_MOVED = "message_moved"
    PROCESSING_FAILED = "processing_failed"
    SUBMISSION_FILED = "submission_filed"
    SUBMISSION_SUPERSEDED = "submission_superseded"
    DECISION = "decision"
    REPLY_QUEUED = "reply_queued"
    REPLY_SUPPRESSED = "reply_suppressed"
    REPLY_SENT = "reply_sent"
    REPLY_FAILED = "reply_failed"
    REPLY_RESENT = "reply_resent"
    REPLY_CANCELLED = "reply_cancelled"
    CLAIM_RELEASED = "claim_released"
    DESK_DECISION = "desk_decision"
    MESSAGE_RETRIED = "message_retried"
    SENDER_ADDED = "sender_added"
    SENDER_REMOVED = "sender_removed"
    MEETING_ADDED = "meeting_added"
    MEETING_CLOSED = "meeting_closed"
    MEETING_EDITED = "meeting_edited"
    SPEAKERS_IMPORTED = "speakers_imported"
    DIGEST_SENT = "digest_sent"
    RUN_FINISHED = "run_finished"
    # The dashboard's doors (actor: the desk user; "intake" for a failure or a lockout,
    # whose detail names the user name tried and the address).
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGIN_LOCKED = "login_locked"
    LOGOUT = "logout"
    DESK_USER_ADDED = "desk_user_added"
    DESK_USER_REMOVED = "desk_user_removed"
    DESK_PASSWORD_CHANGED = "desk_password_changed"  # noqa: S105  (an event, not a secret)


class Meeting(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True, index=True)
    title: str
    date: date
    timezone: str = Field(max_length=64)
    deadline: datetime = Field(sa_type=UTCDateTime)
    word_limit: int = 500
    length_policy: LengthPolicy = Field(default=LengthPolicy.NOTE, sa_type=_enum(LengthPolicy))
    status: MeetingStatus = Field(default=MeetingStatus.OPEN, sa_type=_enum(MeetingStatus))
    president: str | None = None
    presidency: str | None = Field(default=None, max_length=8)
    # The settings' `format`, under its former name (migration 0005 changed its values).
    meeting_format: MeetingFormat = Field(
        default=MeetingFormat.IN_PERSON, sa_type=_enum(MeetingFormat)
    )
    briefers: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    procedure: str | None = Field(default=None, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Mission(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=8, unique=True, index=True)
    name: str
    kind: MissionKind = Field(sa_type=_enum(MissionKind))
    names: dict[str, str] = Field(default_factory=dict, sa_type=sa.JSON)


class SenderAddress(SQLModel, table=True):
    """An address (`a@b.org`) or a whole domain (`@b.org`) allowed to speak for a mission."""

    id: int | None = Field(default=None, primary_key=True)
    mission_id: int = Field(foreign_key="mission.id", index=True)
    address: str = Field(max_length=320, unique=True)
    source: str = Field(default="config", max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Speaker(SQLModel, table=True):
    """A mission inscribed on a meeting's list of speakers: what `intake missing` checks
    submissions against once the list exists. Imported as a whole (`intake speakers
    import`), so a list is never half one file and half another."""

    __table_args__ = (sa.UniqueConstraint("meeting_id", "mission_id", name="uq_speaker_mission"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    mission_id: int = Field(foreign_key="mission.id")
    position: int  # the row's order on the list, from 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MessageRecord(SQLModel, table=True):
    """The ledger: one row per mail seen in the mailbox, whatever became of it."""

    __table_args__ = (
        sa.UniqueConstraint("mailbox", "uidvalidity", "uid", name="uq_message_mailbox_uid"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mailbox: str = Field(max_length=400)
    uidvalidity: int = Field(sa_type=sa.BigInteger)
    uid: int = Field(sa_type=sa.BigInteger)
    message_id: str | None = Field(default=None, max_length=998, index=True)
    raw_sha256: str = Field(max_length=64, index=True)
    size: int
    received_at: datetime = Field(sa_type=UTCDateTime)
    sender: str | None = Field(default=None, max_length=320)
    subject: str | None = None
    outcome: MessageOutcome = Field(sa_type=_enum(MessageOutcome))
    reason: str | None = Field(default=None, max_length=64)
    target_folder: str = Field(max_length=400)
    moved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    processed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    failed_stage: Stage | None = Field(default=None, sa_type=_enum(Stage))
    error: str | None = None
    duplicate_of_id: int | None = Field(default=None, foreign_key="messagerecord.id")


class Submission(SQLModel, table=True):
    __table_args__ = (
        sa.Index(
            "uq_submission_current_accepted",
            "meeting_id",
            "mission_id",
            unique=True,
            sqlite_where=sa.text("status = 'accepted'"),
            postgresql_where=sa.text("status = 'accepted'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=64, unique=True, index=True)
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id", index=True)
    mission_id: int | None = Field(default=None, foreign_key="mission.id", index=True)
    message_record_id: int = Field(foreign_key="messagerecord.id", unique=True)
    sender: str | None = Field(default=None, max_length=320)
    received_at: datetime = Field(sa_type=UTCDateTime)
    status: SubmissionStatus = Field(sa_type=_enum(SubmissionStatus), index=True)
    supersedes_id: int | None = Field(default=None, foreign_key="submission.id")
    # What later stages need, read once from the statement and the cover letter.
    word_count: int | None = None
    length_unit: str | None = Field(default=None, max_length=16)  # "words" or "characters"
    statement_language: str | None = Field(default=None, max_length=8)
    statement_title: str | None = None
    statement_pages: int | None = None
    letter_mission_name: str | None = None
    letter_signatory: str | None = Field(default=None, max_length=32)
    letter_verified: bool | None = None  # None: a scan, to be verified by a person
    letter_pages: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Document(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("submission_id", "safe_name", name="uq_document_name"),)

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    role: DocumentRole = Field(sa_type=_enum(DocumentRole))
    filename: str
    safe_name: str = Field(max_length=255)
    sha256: str = Field(max_length=64)
    size: int
    declared_type: str | None = Field(default=None, max_length=255)
    detected_type: str = Field(max_length=32)
    converted_from_id: int | None = Field(default=None, foreign_key="document.id")
    conversion_tool: str | None = Field(default=None, max_length=120)


class Decision(SQLModel, table=True):
    """Every decision is kept: the automatic one and each desk override after it."""

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    status: SubmissionStatus = Field(sa_type=_enum(SubmissionStatus))
    decided_by: str = Field(default="intake", max_length=120)
    note: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DecisionReason(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("decision_id", "code", name="uq_reason_per_decision"),)

    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    code: str = Field(max_length=64)
    action: Action = Field(sa_type=_enum(Action))
    params: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class Reply(SQLModel, table=True):
    """The outbox. Rows are written in the message's transaction and sent after the commit."""

    id: int | None = Field(default=None, primary_key=True)
    message_record_id: int = Field(foreign_key="messagerecord.id", index=True)
    submission_id: int | None = Field(default=None, foreign_key="submission.id", index=True)
    decision_id: int | None = Field(default=None, foreign_key="decision.id", unique=True)
    kind: ReplyKind = Field(sa_type=_enum(ReplyKind))
    to_address: str = Field(max_length=320)
    subject: str
    body: str
    message_id: str = Field(max_length=255, unique=True)
    in_reply_to: str | None = Field(default=None, max_length=998)
    references: str | None = None
    status: ReplyStatus = Field(default=ReplyStatus.PENDING, sa_type=_enum(ReplyStatus), index=True)
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_by: str | None = Field(default=None, max_length=120)
    # Who holds the claim, in a form another process can test for life
    # (`pipeline.replies.claims`): a dead claimant's replies are taken over at once.
    claim_token: str | None = Field(default=None, max_length=200)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancel_reason: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AuditEvent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(default="intake", max_length=120)
    kind: AuditKind = Field(sa_type=_enum(AuditKind))
    submission_id: int | None = Field(default=None, foreign_key="submission.id", index=True)
    message_record_id: int | None = Field(default=None, foreign_key="messagerecord.id")
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class ReferenceCounter(SQLModel, table=True):
    """Numbers references per meeting; incremented under a row lock, so never reused."""

    prefix: str = Field(primary_key=True, max_length=40)
    last: int = 0


class WorkerRun(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ok: bool = False
    host: str = Field(default="", max_length=255)
    messages: int = 0
    replies_sent: int = 0
    error: str | None = None


class DeskUser(SQLModel, table=True):
    """A service-desk user of the dashboard; the password is stored as an argon2 hash."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True, index=True)
    password_hash: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WebSession(SQLModel, table=True):
    """A signed-in dashboard session: the cookie carries a random token, the database only
    its SHA-256 (a copy of the database signs nobody in). The row is the session: deleting
    it (sign-out, `intake users passwd`, `intake users remove`) ends it at the next request,
    whatever the cookie says."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_name: str = Field(max_length=120, index=True)
    # SHA-256 of the password hash the user signed in with: a new password, in the
    # database or in the configuration file, ends the sessions opened with the old one.
    credential: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class LoginAttempt(SQLModel, table=True):
    """A sign-in that failed, or is being checked (until it succeeds, it counts as a
    failure): counted per user name and per address to lock out password guessing, by
    every dashboard process that shares the database (`pipeline.web.throttling`). Rows older
    than the failure window plus the lockout are deleted as new attempts come."""

    __table_args__ = (
        sa.Index("ix_loginattempt_user_key_at", "user_key", "at"),
        sa.Index("ix_loginattempt_address_at", "address", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    user_key: str = Field(max_length=120)  # the name tried, lower case, existing or not
    address: str = Field(max_length=64)
    # False while the password is being checked: such a row already counts against a
    # lockout, but only failures decide when the audit log says one began.
    failed: bool = False


class DigestRun(SQLModel, table=True):
    """Each daily digest sent: the next one covers what happened since this one."""

    id: int | None = Field(default=None, primary_key=True)
    period_start: datetime = Field(sa_type=UTCDateTime)
    period_end: datetime = Field(sa_type=UTCDateTime, index=True)
    sent_to: str = Field(max_length=320)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
