"""The configuration schema: one TOML file, secrets optionally from the environment.

Every key has a default that suits a single machine with the embedded database, so
that a minimal file (a mailbox, an SMTP server and one meeting) is enough to run.
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator

from pipeline.domain import Action
from pipeline.logformat import LogFormat
from pipeline.missions.registry import find_mission
from pipeline.resources import TEMPLATES, packaged
from pipeline.settings.base import Port, Strict
from pipeline.settings.desk import DeskSettings, WebSettings
from pipeline.settings.directory import AuthPolicy, MeetingSettings, MissionSettings


class Security(StrEnum):
    """How a connection to the mail servers is protected."""

    SSL = "ssl"
    STARTTLS = "starttls"
    NONE = "none"


class PathsSettings(Strict):
    data_dir: Path = Path("data")


class DatabaseSettings(Strict):
    # None means: a SQLite file `intake.db` in the data directory.
    url: str | None = None
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not re.match(r"^(sqlite|postgresql(\+psycopg)?)://", value):
            raise ValueError(
                "must start with sqlite:/// or postgresql+psycopg:// "
                f"(got {value.split(':', 1)[0]!r})"
            )
        if value.startswith("postgresql://"):
            # psycopg 3 is the driver we ship; the bare scheme would ask for psycopg2.
            value = "postgresql+psycopg://" + value[len("postgresql://") :]
        return value


class StorageSettings(Strict):
    # None means: `files/` in the data directory.
    path: Path | None = None


class FolderSettings(Strict):
    """Where handled messages go; `/` separates levels whatever the server's delimiter."""

    accepted: str = "Intake/Accepted"
    rejected: str = "Intake/Rejected"
    held: str = "Intake/Held"
    ignored: str = "Intake/Ignored"


class MailboxSettings(Strict):
    host: str = "127.0.0.1"
    port: Port = 993
    security: Security = Security.SSL
    username: str = ""
    password: SecretStr = SecretStr("")
    folder: str = "INBOX"
    timeout: float = Field(default=30.0, gt=0)
    batch_size: int = Field(default=50, ge=1, le=1000)
    ca_file: Path | None = None
    folders: FolderSettings = FolderSettings()


class SmtpSettings(Strict):
    host: str = "127.0.0.1"
    port: Port = 587
    security: Security = Security.STARTTLS
    username: str = ""
    password: SecretStr = SecretStr("")
    sender: str = "submissions@example.org"
    sender_name: str = "Security Council written statements"
    timeout: float = Field(default=30.0, gt=0)
    ca_file: Path | None = None
    max_attempts: int = Field(default=8, ge=1)

    @field_validator("sender")
    @classmethod
    def _looks_like_address(cls, value: str) -> str:
        if not re.fullmatch(r"[^@\s]+@[^@\s]+", value):
            raise ValueError(f"{value!r} is not an email address")
        if not value.isascii():
            # It names every reply's Message-ID domain, which must be plain ASCII.
            raise ValueError(
                f"{value!r}: use the ASCII form of the address (an IDN domain as xn--...)"
            )
        return value.lower()


class ContactSettings(Strict):
    """Where delegations turn; quoted in every reply."""

    service_desk: str = "the service desk (reply to this message)"
    secretariat: str = "the Security Council secretariat"


class RepliesSettings(Strict):
    templates_dir: Path | None = None
    language: str = "en"
    # Send a "held for review" notice when a message is held for the desk.
    notify_held: bool = True
    # Within this many hours (0: no limit), at most one rejection per registered sender,
    # meeting and set of reasons, and one per unregistered address whatever it is about:
    # a mail loop or a flood of bad messages never becomes a flood of replies.
    rejection_window_hours: int = Field(default=24, ge=0)
    # Within the same window (0 here: no such limit), at most this many rejections and
    # "under review" notices to one address, whatever their meetings and reasons.
    max_rejections_per_address: int = Field(default=5, ge=0)
    # At most this many automatic rejections and "under review" notices in any hour, to
    # all addresses together (0: no cap); the rest are filed without one, for the desk.
    max_rejections_per_hour: int = Field(default=100, ge=0)


class LimitsSettings(Strict):
    """Limits on incoming mail, checked before (size) or while (the rest) it is read."""

    max_message_mb: int = Field(default=30, ge=1)  # from RFC822.SIZE, before downloading
    max_parts: int = Field(default=200, ge=2)  # MIME parts in one message
    max_depth: int = Field(default=10, ge=2)  # nesting of multiparts and attached messages
    max_header_kb: int = Field(default=256, ge=8)  # the whole header block
    max_header_line_kb: int = Field(default=16, ge=1)  # any one header


class AuthenticationSettings(Strict):
    """Sender authentication from our own receiving server's Authentication-Results."""

    # The authserv-id our receiving MTA writes (e.g. "mx.example.org"); any other
    # Authentication-Results header was added by someone else and is ignored.
    authserv_id: str | None = None
    policy: AuthPolicy = AuthPolicy.OFF


DEFAULT_DECISION_TABLE: dict[str, Action] = {
    # Traffic that must never be answered.
    "auto_reply": Action.IGNORE,
    "bounce": Action.IGNORE,
    "mailing_list": Action.IGNORE,
    "own_address": Action.IGNORE,
    "duplicate": Action.IGNORE,
    # Routing: a human decides when the meeting cannot be told.
    "no_open_meeting": Action.HOLD,
    "ambiguous_meeting": Action.HOLD,
    "meeting_closed": Action.REJECT,
    "internal_error": Action.HOLD,
    "quarantined": Action.HOLD,
    # Sender authentication ([authentication] policy): never an automatic reply, since the
    # From may be forged. "require" rejects, "hold" sends it to the desk.
    "forged_sender": Action.REJECT,
    "unauthenticated_sender": Action.HOLD,
    # What the delegation can fix.
    "unknown_sender": Action.REJECT,
    "late": Action.REJECT,
    "no_statement": Action.REJECT,
    "tnef_without_files": Action.REJECT,
    "several_statements": Action.REJECT,
    "statement_not_word": Action.REJECT,
    "statement_legacy_word": Action.REJECT,
    "statement_unreadable": Action.REJECT,
    "statement_empty": Action.REJECT,
    "statement_has_macros": Action.REJECT,
    "statement_encrypted": Action.REJECT,
    "statement_template": Action.REJECT,
    "statement_unsafe": Action.REJECT,
    "too_long": Action.REJECT,
    "message_too_large": Action.REJECT,
    "message_too_complex": Action.REJECT,
    "no_cover_letter": Action.REJECT,
    "cover_letter_unreadable": Action.REJECT,
    "cover_letter_not_addressed": Action.REJECT,
    "cover_letter_not_signed": Action.REJECT,
    # Accepted, with a remark in the acknowledgement (and flagged for the desk).
    "over_word_limit": Action.NOTE,
    # A scanned letter without a text layer cannot be checked; "hold" sends it to the desk.
    "cover_letter_unverified": Action.NOTE,
}

DEFAULT_CHECKS: list[str] = [
    "automatic_traffic",
    "own_address",
    "duplicate",
    "message_limits",
    "known_sender",
    "sender_authentication",
    "open_meeting",
    "deadline",
    "statement",
    "cover_letter",
    "word_limit",
]


class DocumentSettings(Strict):
    """How statements and cover letters are read; limits that keep hostile files harmless."""

    # Legacy .doc, .rtf and .odt statements are converted to .docx with LibreOffice, in a
    # bubblewrap sandbox (no network, no data folder, no secrets; docs/security.md).
    convert_legacy: bool = True
    libreoffice: str | None = None  # path to soffice; default: found on PATH
    conversion_timeout: float = Field(default=20.0, gt=0)
    bwrap: str | None = None  # path to bubblewrap; default: found on PATH
    # Without a working sandbox legacy files are not converted (the reply asks for a
    # .docx), unless this is true: then LibreOffice runs with the network and every file
    # the worker can read. Only where a document's links cannot reach anything.
    allow_unsandboxed_conversion: bool = False
    # Address space (and largest file written) of one LibreOffice run, in MiB.
    conversion_memory_mb: int = Field(default=1024, ge=512)
    # The largest legacy file LibreOffice is given: a .doc or .rtf as sent, an .odt
    # once unpacked. Anything larger is refused unopened (statement_unsafe).
    max_legacy_mb: int = Field(default=20, ge=1)
    # Limits checked before any parser opens a .docx (a zip): sizes once unpacked.
    max_unpacked_mb: int = Field(default=200, ge=1)
    max_member_mb: int = Field(default=100, ge=1)
    max_compression_ratio: float = Field(default=200.0, ge=2)
    max_members: int = Field(default=2000, ge=10)
    max_pdf_mb: int = Field(default=50, ge=1)
    # Length: alphabetic scripts count words; Chinese and Japanese count characters. A
    # language's limit is word_limits[lang] when set, otherwise the meeting's word_limit,
    # times cjk_characters_per_word for Chinese and Japanese (500 words -> 900 characters).
    word_limits: dict[str, int] = Field(default_factory=dict)
    cjk_characters_per_word: float = Field(default=1.8, gt=0)
    # Over the limit by at most this fraction is not reported at all.
    length_tolerance: float = Field(default=0.10, ge=0, le=1)


class LoggingSettings(Strict):
    # "json": one event per line (time, level, logger, message, reference, message_id)
    # for a log collector; `--log-format` on the command line wins.
    format: LogFormat = LogFormat.TEXT


class WorkerSettings(Strict):
    poll_interval: int = Field(default=60, ge=5, description="seconds between mailbox polls")
    outbox_interval: int = Field(default=30, ge=5, description="seconds between outbox flushes")
    # A reply claimed by a worker that died is retried after this long.
    stale_claim: timedelta = timedelta(minutes=10)
    # A message whose processing killed the worker this many times is quarantined.
    max_crashes: int = Field(default=3, ge=1)
    # Use IMAP IDLE when the server has it: new mail is handled within seconds.
    idle: bool = True


class Settings(Strict):
    paths: PathsSettings = PathsSettings()
    database: DatabaseSettings = DatabaseSettings()
    storage: StorageSettings = StorageSettings()
    mailbox: MailboxSettings = MailboxSettings()
    smtp: SmtpSettings = SmtpSettings()
    contacts: ContactSettings = ContactSettings()
    replies: RepliesSettings = RepliesSettings()
    worker: WorkerSettings = WorkerSettings()
    logging: LoggingSettings = LoggingSettings()
    documents: DocumentSettings = DocumentSettings()
    desk: DeskSettings = DeskSettings()
    web: WebSettings = WebSettings()
    limits: LimitsSettings = LimitsSettings()
    authentication: AuthenticationSettings = AuthenticationSettings()
    meetings: list[MeetingSettings] = Field(default_factory=list)
    missions: dict[str, MissionSettings] = Field(default_factory=dict)
    checks: list[str] = Field(default_factory=lambda: list(DEFAULT_CHECKS))
    decision: dict[str, Action] = Field(default_factory=lambda: dict(DEFAULT_DECISION_TABLE))
    # Where the file was read from; relative paths are resolved against the CWD.
    source: Path | None = None

    @field_validator("missions")
    @classmethod
    def _known_missions(cls, value: dict[str, MissionSettings]) -> dict[str, MissionSettings]:
        normalised: dict[str, MissionSettings] = {}
        for code, mission in value.items():
            info = find_mission(code)
            if info is None:
                raise ValueError(
                    f"unknown mission code {code!r}: use an ISO alpha-3 code such as FRA "
                    "(`intake missions list` shows them all)"
                )
            normalised[info.code] = mission
        return normalised

    @field_validator("decision", mode="before")
    @classmethod
    def _merge_decision(cls, value: Any) -> Any:
        # The file lists only what it changes; the rest keeps the shipped table.
        if isinstance(value, dict):
            merged: dict[str, Any] = dict(DEFAULT_DECISION_TABLE)
            merged.update(value)
            return merged
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        codes = [m.code for m in self.meetings]
        for code in codes:
            if codes.count(code) > 1:
                raise ValueError(f"meetings: the code {code!r} is used twice")
        owners: dict[str, str] = {}
        for mission_code, mission in self.missions.items():
            for sender in mission.senders:
                other = owners.get(sender)
                if other is not None and other != mission_code:
                    raise ValueError(
                        f"missions.{mission_code}.senders: {sender!r} is already allowed for "
                        f"{other}; one address or domain can speak for one mission only"
                    )
                owners[sender] = mission_code
        if not self.authentication.authserv_id:
            if self.authentication.policy is not AuthPolicy.OFF:
                raise ValueError(
                    f"authentication.policy is {self.authentication.policy.value!r} but "
                    "authentication.authserv_id is not set: name your receiving mail "
                    'server\'s authserv-id (e.g. "mx.example.org") or set policy = "off"'
                )
            for mission_code, mission in self.missions.items():
                if mission.authentication not in (None, AuthPolicy.OFF):
                    raise ValueError(
                        f"missions.{mission_code}.authentication is "
                        f"{mission.authentication.value!r} but authentication.authserv_id is "
                        "not set: name your receiving mail server's authserv-id"
                    )
        return self

    @property
    def data_dir(self) -> Path:
        return self.paths.data_dir

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.data_dir / 'intake.db').absolute()}"

    @property
    def storage_path(self) -> Path:
        return self.storage.path if self.storage.path is not None else self.data_dir / "files"

    @property
    def template_roots(self) -> list[Path]:
        """Where reply templates are searched, file by file, in this order: `templates/`
        beside the configuration file, `[replies] templates_dir`, the packaged texts."""
        roots: list[Path] = []
        if self.source is not None:
            beside = self.source.parent / "templates"
            if beside.is_dir():
                roots.append(beside)
        if self.replies.templates_dir is not None:
            roots.append(self.replies.templates_dir)
        roots.append(packaged(TEMPLATES))
        return roots

    def meeting(self, code: str) -> MeetingSettings | None:
        for meeting in self.meetings:
            if meeting.code == code.upper():
                return meeting
        return None
