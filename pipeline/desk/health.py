"""Is Intake working? One answer per component, for the desk, for monitoring, for cron.

Each check does what the pipeline itself does (connect and log in), bounded by the
configured timeouts, and turns any failure into one sentence: a health check that hangs
or crashes is worse than none. Nothing is written: a missing SQLite file is reported,
not created.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool
from sqlmodel import Session, col, select

from pipeline.errors import describe_error
from pipeline.mailbox.imap import Mailbox, MailboxError
from pipeline.replies.smtp import SmtpError, SmtpSender
from pipeline.settings.models import Security, Settings
from pipeline.storage import models as m
from pipeline.storage.db import describe_url

# The configuration has no database timeout; the probe must not wait for SQLite's 60 s.
DATABASE_TIMEOUT_S = 10


@dataclass(frozen=True)
class ComponentHealth:
    name: str
    ok: bool
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def check_health(
    settings: Settings, *, now: datetime | None = None, engine: Engine | None = None
) -> list[ComponentHealth]:
    """Database, IMAP, SMTP and worker, in that order. Never raises.

    Without `engine`, a short-lived probe engine with its own timeouts is used (and
    disposed); with one, that engine is used as it is.
    """
    now = now or datetime.now(UTC)
    probe = engine
    own_engine = False
    results: list[ComponentHealth] = []
    try:
        if probe is None:
            probe = _probe_engine(settings.database_url)
            own_engine = True
    except Exception as error:
        results.append(ComponentHealth("database", False, _one_line(error)))
    if probe is not None:
        results.append(_guard("database", lambda: _database(settings, probe)))
    results.append(_guard("imap", lambda: _imap(settings)))
    results.append(_guard("smtp", lambda: _smtp(settings)))
    if probe is not None and results[0].ok:
        results.append(_guard("worker", lambda: _worker(settings, probe, now)))
    else:
        results.append(ComponentHealth("worker", False, "cannot tell: the database cannot be read"))
    if own_engine and probe is not None:
        probe.dispose()
    return results


def _guard(name: str, check: Callable[[], ComponentHealth]) -> ComponentHealth:
    try:
        return check()
    except Exception as error:  # a health check reports, it never crashes
        return ComponentHealth(name, False, f"unexpected error: {_one_line(error)}")


def _one_line(error: BaseException) -> str:
    text = describe_error(getattr(error, "orig", None) or error)
    return " ".join(text.split())


class _MissingDatabase(Exception):
    pass


def _probe_engine(url: str) -> Engine:
    """An engine that fails fast and never creates anything."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not Path(database).exists():
            raise _MissingDatabase(
                f"no database file at {database} (the first run creates it); "
                "check [database] url or [paths] data_dir"
            )
        return sa.create_engine(
            url, poolclass=NullPool, connect_args={"timeout": DATABASE_TIMEOUT_S}
        )
    return sa.create_engine(
        url,
        poolclass=NullPool,
        connect_args={
            "connect_timeout": DATABASE_TIMEOUT_S,
            "options": f"-c statement_timeout={DATABASE_TIMEOUT_S * 1000}",
        },
    )


def _database(settings: Settings, engine: Engine) -> ComponentHealth:
    where = describe_url(settings.database_url)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1")).scalar_one()
    except sa.exc.SQLAlchemyError as error:
        return ComponentHealth("database", False, f"cannot use {where}: {_one_line(error)}")
    return ComponentHealth("database", True, where)


def _imap(settings: Settings) -> ComponentHealth:
    s = settings.mailbox
    configured = (s.folders.accepted, s.folders.rejected, s.folders.held, s.folders.ignored)
    try:
        with Mailbox(s) as mailbox:
            # As the server names them (below its personal namespace): nothing is created.
            folders = ", ".join(mailbox.server_folder(folder) for folder in configured)
    except MailboxError as error:
        return ComponentHealth("imap", False, str(error))
    return ComponentHealth(
        "imap", True, f"{s.username}@{s.host}:{s.port}/{s.folder}, filing into {folders}"
    )


def _smtp(settings: Settings) -> ComponentHealth:
    s = settings.smtp
    sender = SmtpSender(s)
    try:
        sender.connect()
    except SmtpError as error:
        return ComponentHealth("smtp", False, str(error))
    sender.close()
    security = "no TLS" if s.security is Security.NONE else s.security.value
    login = f", logged in as {s.username}" if s.username else ""
    return ComponentHealth("smtp", True, f"{s.host}:{s.port} ({security}{login})")


def _worker(settings: Settings, engine: Engine, now: datetime) -> ComponentHealth:
    limit = settings.desk.max_run_age_minutes
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("workerrun"):
            return ComponentHealth("worker", False, "no run recorded yet (the database is empty)")
    finished = col(m.WorkerRun.finished_at)
    with Session(engine) as session:
        last_ok = session.exec(
            select(m.WorkerRun)
            .where(col(m.WorkerRun.ok).is_(True), finished.is_not(None))
            .order_by(finished.desc())
        ).first()
        latest = session.exec(
            select(m.WorkerRun).where(finished.is_not(None)).order_by(finished.desc())
        ).first()
    failing = ""
    if latest is not None and not latest.ok and latest.finished_at is not None:
        error = " ".join((latest.error or "no error recorded").split())[:200]
        failing = f"; the latest run failed {_ago(now - latest.finished_at)}: {error}"
    if last_ok is None or last_ok.finished_at is None:
        return ComponentHealth("worker", False, "no successful run recorded yet" + failing)
    age = now - last_ok.finished_at
    detail = f"last successful run {_ago(age)} ({last_ok.finished_at:%Y-%m-%d %H:%M} UTC)"
    if age > timedelta(minutes=limit):
        return ComponentHealth(
            "worker", False, f"{detail}, more than {limit} min ([desk] max_run_age_minutes)"
        )
    return ComponentHealth("worker", True, detail + failing)


def _ago(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds < 0:
        return "in the future (check the clocks)"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min ago"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min ago"
    return f"{hours // 24} days ago"
