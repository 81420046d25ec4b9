"""The daily digest: one plain-text email that tells the service desk what needs it.

The desk should not have to open the queue to learn that something is waiting: the
digest lists what was filed since the last digest, everything still held for a person,
every reply that could not be delivered, the deadlines of the next two days and how
many registered missions have still not submitted.

Sending is at-least-once, never silently lost: a `DigestRun` is written only after the
SMTP server accepted the mail, so a digest that could not be sent leaves no trace and
the next one covers the whole period since the last digest that did go out. Workers that
share a database take a lock around the send, so a scheduled digest goes out once per
day however many workers fire at 07:00 (`send_scheduled_digest`).

What the digest says is in digest_content.py, how its facts are read in digest_build.py.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from pipeline.desk.digest_build import build_digest
from pipeline.desk.digest_content import Digest
from pipeline.errors import IntakeUsageError
from pipeline.replies.smtp import SmtpSender
from pipeline.settings.models import Settings
from pipeline.storage import models as m
from pipeline.storage.db import DatabaseError, describe_url, session_scope

log = logging.getLogger(__name__)

# The first digest, with no earlier one to start from, covers the last day.
FIRST_PERIOD = timedelta(hours=24)
# Serialises digests between workers sharing PostgreSQL (any constant unique to this use).
_DIGEST_LOCK_KEY = 0x1A7A4F


class DigestError(IntakeUsageError):
    """The digest cannot be sent as configured; the message says which setting to change."""


def last_digest(session: Session) -> m.DigestRun | None:
    """The newest digest that reached the SMTP server."""
    return session.exec(
        select(m.DigestRun).order_by(col(m.DigestRun.period_end).desc(), col(m.DigestRun.id).desc())
    ).first()


def prepare_digest(engine: Engine, settings: Settings, *, now: datetime | None = None) -> Digest:
    """The digest as it would be sent now, without sending or recording anything."""
    now = now or m.utcnow()
    try:
        with Session(engine) as session:
            return _digest_for_now(session, settings, now)
    except SQLAlchemyError as error:
        raise _database_error(settings, error) from None


def _digest_for_now(session: Session, settings: Settings, now: datetime) -> Digest:
    previous = last_digest(session)
    since = previous.period_end if previous is not None else now - FIRST_PERIOD
    return build_digest(session, since=since, now=now, zone=ZoneInfo(settings.desk.digest_timezone))


@dataclass(frozen=True)
class DigestResult:
    recipient: str
    message_id: str
    period_start: datetime
    period_end: datetime
    digest: Digest


def digest_message_id(period_start: datetime, period_end: datetime, sender: str) -> str:
    """Derived from the period, so the same digest always carries the same Message-ID."""
    domain = sender.rsplit("@", 1)[-1]
    stamp = "%Y%m%dT%H%M%S"
    start = period_start.astimezone(UTC).strftime(stamp)
    end = period_end.astimezone(UTC).strftime(stamp)
    return f"<intake.digest.{start}Z-{end}Z@{domain}>"


def build_digest_email(digest: Digest, settings: Settings, *, message_id: str) -> EmailMessage:
    """The mail itself: marked auto-generated (RFC 3834), so nobody's robot answers it."""
    address = desk_address(settings)
    message = EmailMessage()
    message["From"] = formataddr((settings.smtp.sender_name, settings.smtp.sender))
    message["To"] = address
    message["Subject"] = digest.subject
    message["Date"] = format_datetime(digest.now.astimezone(UTC))
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(digest.render_text(), charset="utf-8")
    return message


def send_digest(engine: Engine, settings: Settings, *, now: datetime | None = None) -> DigestResult:
    """Send the digest for the period since the last one and record it once delivered.

    Raises DigestError when no desk address is configured, SmtpUnavailable or SmtpRejected
    when the mail could not be handed over (nothing is recorded, so the next digest
    covers this period too), DatabaseError when the database cannot be used.
    """
    result = _send(engine, settings, now=now, unless_sent_since=None)
    assert result is not None
    return result


def send_scheduled_digest(
    engine: Engine, settings: Settings, *, slot: datetime, now: datetime | None = None
) -> DigestResult | None:
    """The worker's daily job: send unless a digest already went out since `slot`.

    Every worker sharing the database fires at the same minute; the first one sends,
    the others find its `DigestRun` (they wait for its lock) and return None.
    """
    return _send(engine, settings, now=now, unless_sent_since=slot)


def scheduled_slot(settings: Settings, now: datetime | None = None) -> datetime:
    """The most recent `digest_time` in the desk's zone at or before `now`."""
    zone = ZoneInfo(settings.desk.digest_timezone)
    local = (now or m.utcnow()).astimezone(zone)
    hour, minute = (int(part) for part in settings.desk.digest_time.split(":"))
    slot = datetime.combine(local.date(), time(hour, minute), tzinfo=zone)
    if slot > local:
        slot = datetime.combine(local.date() - timedelta(days=1), time(hour, minute), tzinfo=zone)
    return slot


def desk_address(settings: Settings) -> str:
    if not settings.desk.address:
        raise DigestError(
            "no address for the digest: set [desk] address (or INTAKE_DESK__ADDRESS) "
            "to the service desk's email address"
        )
    return settings.desk.address


def _send(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime | None,
    unless_sent_since: datetime | None,
) -> DigestResult | None:
    address = desk_address(settings)
    try:
        with _digest_lock(engine):
            # Read "now" inside the lock: a digest that waited for another worker starts
            # where that one ended, never before it.
            moment = now or m.utcnow()
            with Session(engine) as session:
                previous = last_digest(session)
                if (
                    unless_sent_since is not None
                    and previous is not None
                    and previous.period_end >= unless_sent_since
                ):
                    log.info("digest: already sent at %s", previous.period_end.isoformat())
                    return None
                digest = _digest_for_now(session, settings, moment)
            assert digest.since is not None
            message_id = digest_message_id(digest.since, moment, settings.smtp.sender)
            message = build_digest_email(digest, settings, message_id=message_id)
            with SmtpSender(settings.smtp) as smtp:
                smtp.send(message, recipient=address)
            # Only now, after the SMTP server said yes.
            with session_scope(engine) as session:
                session.add(
                    m.DigestRun(period_start=digest.since, period_end=moment, sent_to=address)
                )
                session.add(
                    m.AuditEvent(
                        kind=m.AuditKind.DIGEST_SENT,
                        detail={
                            "to": address,
                            "message_id": message_id,
                            "period_start": digest.since.isoformat(),
                            "period_end": moment.isoformat(),
                            "new": digest.new_total,
                            "held": len(digest.held),
                            "failed_replies": len(digest.failed_replies),
                        },
                    )
                )
            log.info("digest sent to %s: %s", address, digest.subject)
            return DigestResult(
                recipient=address,
                message_id=message_id,
                period_start=digest.since,
                period_end=moment,
                digest=digest,
            )
    except SQLAlchemyError as error:
        raise _database_error(settings, error) from None


def _database_error(settings: Settings, error: SQLAlchemyError) -> DatabaseError:
    text = str(getattr(error, "orig", None) or error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    return DatabaseError(
        f"cannot use the database at {describe_url(settings.database_url)}: {first}"
    )


@contextmanager
def _digest_lock(engine: Engine) -> Iterator[None]:
    """One digest at a time across processes: an advisory lock on PostgreSQL, a lock file
    beside the SQLite database. Held across the send; released if the process dies."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _DIGEST_LOCK_KEY})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(
                    sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _DIGEST_LOCK_KEY}
                )
                connection.commit()
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".digest.lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
