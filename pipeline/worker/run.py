"""One complete run: poll the mailbox, file every waiting message, move it, send replies.

The order is what makes a crash harmless anywhere:
1. a message is filed in one transaction (ledger unique on mailbox, UIDVALIDITY, UID);
2. only then is it moved out of the inbox; a run that stopped before the move finds the
   message still there, sees it in the ledger and only moves it;
3. only then are replies sent from the outbox, each claimed before it is sent.

Any number of runs and workers may share one database and one mailbox. One of them at a
time reads a given mailbox (`drain_lock`: a PostgreSQL advisory lock, or a lock file
next to a SQLite database); the others skip the mailbox and only send their share of
the outbox. The lock belongs to a database session (or an open file), so a worker that
dies releases it with its connection: nobody has to clean up after a crash.

Messages that already killed a worker once are taken last in a run, after all the others:
a poison message delays nobody (see `pipeline.storage.attempts`).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import socket
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from pipeline import faults
from pipeline.faults import checkpoint
from pipeline.mailbox.imap import Mailbox
from pipeline.replies.outbox import SendReport, send_pending
from pipeline.replies.templates import load_templates
from pipeline.settings.models import Settings
from pipeline.storage import attempts
from pipeline.storage import models as m
from pipeline.storage.db import DatabaseError, describe_url, init_schema, make_engine, session_scope
from pipeline.storage.prepare import prepare
from pipeline.worker.context import MEGABYTE, Filed, RunContext, build_context
from pipeline.worker.process import process_message

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (done, total) as messages are filed."""


@dataclass
class RunReport:
    waiting: int = 0
    filed: Counter[str] = field(default_factory=Counter)
    already_filed: int = 0
    moved: int = 0
    replies: SendReport = field(default_factory=SendReport)
    # Another worker was reading the mailbox: this run only sent replies.
    busy: bool = False

    @property
    def processed(self) -> int:
        return sum(self.filed.values())

    def summary(self) -> str:
        parts = [
            "mailbox busy (another worker is reading it)"
            if self.busy
            else f"{self.waiting} waiting"
        ]
        parts += [f"{count} {outcome}" for outcome, count in sorted(self.filed.items())]
        if self.already_filed:
            parts.append(f"{self.already_filed} already filed")
        parts.append(f"{self.replies.sent} replies sent")
        if self.replies.failed:
            parts.append(f"{self.replies.failed} replies failed")
        if self.replies.deferred:
            parts.append(f"{self.replies.deferred} replies queued for later")
        return ", ".join(parts)


def run_once(
    settings: Settings,
    *,
    engine: Engine | None = None,
    progress: Progress | None = None,
    send: bool = True,
) -> RunReport:
    """Raises MailboxError or DatabaseError when the run cannot be done at all."""
    faults.plan()  # a malformed INTAKE_FAULT fails here, before any work
    engine = prepare(settings, engine)
    templates = load_templates(settings)
    run = _start_run(engine)
    report = RunReport()
    try:
        mailbox = Mailbox(
            settings.mailbox, max_message_bytes=settings.limits.max_message_mb * MEGABYTE
        )
        with drain_lock(engine, mailbox.identity) as ours:
            if ours:
                with mailbox:
                    ctx = build_context(
                        settings,
                        engine,
                        templates,
                        mailbox=mailbox.identity,
                        uidvalidity=mailbox.uidvalidity,
                    )
                    suspects = _drain(ctx, mailbox, report, progress, send=send)
                    if suspects:
                        # Everyone else is answered before a suspect can take us down.
                        _send(ctx, report, send=send)
                        _file_batch(ctx, mailbox, report, suspects, batch_size=1)
            else:
                report.busy = True
                log.info("another worker is reading %s: only sending replies", mailbox.identity)
        if send and report.replies.error is None:
            # (After the first pass found the SMTP server down, the rest waits for the
            # next run rather than counting a second failed attempt within seconds.)
            report.replies.add(send_pending(engine, settings))
    except SQLAlchemyError as error:
        _end_run(engine, run, report, error=str(error))
        raise DatabaseError(
            f"lost the database at {describe_url(settings.database_url)}: "
            f"{str(error).strip().splitlines()[0]}"
        ) from None
    except Exception as error:
        _end_run(engine, run, report, error=str(error))
        raise
    _end_run(engine, run, report, error=report.replies.error)
    return report


def _send(ctx: RunContext, report: RunReport, *, send: bool) -> None:
    """Send the replies due now, unless this run found the SMTP server down already (the
    rest waits for the next run rather than counting another failed attempt within
    seconds)."""
    if send and report.replies.error is None:
        report.replies.add(send_pending(ctx.engine, ctx.settings))


def _drain(
    ctx: RunContext,
    mailbox: Mailbox,
    report: RunReport,
    progress: Progress | None = None,
    *,
    send: bool = False,
) -> list[int]:
    """File and move what is waiting, except the suspects: messages an earlier attempt
    never finished (each killed a worker). Returns those, for the caller to take last.
    With `send`, each batch's replies go out once it is moved: during a long backlog a
    delegation hears back in seconds, not when the whole mailbox is drained."""
    waiting = mailbox.waiting_uids()
    report.waiting = len(waiting)
    filed_before = _ledger(ctx, waiting)
    # Finish what an earlier run filed but could not move.
    leftovers: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for uid, (record_id, folder) in filed_before.items():
        leftovers[folder].append((uid, record_id))
    _move(ctx, mailbox, leftovers, report)
    report.already_filed = len(filed_before)

    new = [uid for uid in waiting if uid not in filed_before]
    suspects = attempts.suspects(ctx.engine, ctx.mailbox, ctx.uidvalidity, new)
    _file_batch(
        ctx,
        mailbox,
        report,
        [uid for uid in new if uid not in suspects],
        batch_size=ctx.settings.mailbox.batch_size,
        progress=progress,
        send=send,
    )
    return sorted(suspects)


def _file_batch(
    ctx: RunContext,
    mailbox: Mailbox,
    report: RunReport,
    uids: Sequence[int],
    *,
    batch_size: int,
    progress: Progress | None = None,
    send: bool = False,
) -> None:
    """Fetch, file and move, `batch_size` messages at a time (moves go per batch; with
    `send`, so do the replies)."""
    total, done = len(uids), 0
    for start in range(0, total, batch_size):
        batch = uids[start : start + batch_size]
        moves: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for fetched in mailbox.fetch(batch):
            filed: Filed | None = process_message(ctx, fetched)
            done += 1
            if progress is not None:
                progress(done, total)
            if filed is None:
                report.already_filed += 1
                continue
            checkpoint("after_commit", message_id=filed.message_id)
            report.filed[filed.outcome.value] += 1
            moves[filed.target_folder].append((fetched.uid, filed.record_id))
            log.info(
                "UID %s: %s%s",
                fetched.uid,
                filed.outcome.value,
                f" as {filed.reference}" if filed.reference else "",
                extra={
                    "uid": fetched.uid,
                    "reference": filed.reference,
                    "message_id": filed.message_id,
                },
            )
        _move(ctx, mailbox, moves, report)
        if moves:
            _send(ctx, report, send=send)


def _ledger(ctx: RunContext, uids: Sequence[int]) -> dict[int, tuple[int, str]]:
    if not uids:
        return {}
    found: dict[int, tuple[int, str]] = {}
    with Session(ctx.engine) as session:
        for start in range(0, len(uids), 500):
            chunk = list(uids[start : start + 500])
            rows = session.exec(
                select(m.MessageRecord).where(
                    m.MessageRecord.mailbox == ctx.mailbox,
                    m.MessageRecord.uidvalidity == ctx.uidvalidity,
                    col(m.MessageRecord.uid).in_(chunk),
                )
            )
            for row in rows:
                assert row.id is not None
                found[row.uid] = (row.id, row.target_folder)
    return found


def _move(
    ctx: RunContext,
    mailbox: Mailbox,
    moves: dict[str, list[tuple[int, int]]],
    report: RunReport,
) -> None:
    for folder, items in moves.items():
        uids = [uid for uid, _ in items]
        mailbox.move(uids, folder)
        record_ids = [record_id for _, record_id in items]
        with session_scope(ctx.engine) as session:
            for record in session.exec(
                select(m.MessageRecord).where(col(m.MessageRecord.id).in_(record_ids))
            ):
                record.moved_at = m.utcnow()
                session.add(record)
        report.moved += len(uids)
        checkpoint("after_move")


def _start_run(engine: Engine) -> m.WorkerRun:
    with session_scope(engine) as session:
        run = m.WorkerRun(host=socket.gethostname())
        session.add(run)
    return run


def _end_run(engine: Engine, run: m.WorkerRun, report: RunReport, *, error: str | None) -> None:
    try:
        with session_scope(engine) as session:
            row = session.get(m.WorkerRun, run.id)
            if row is None:
                return
            row.finished_at = m.utcnow()
            row.ok = error is None
            row.error = error
            row.messages = report.processed
            row.replies_sent = report.replies.sent
            session.add(row)
    except SQLAlchemyError as error:
        # The run's own error (if any) is what the operator needs; this is a footnote.
        log.info("could not record the end of the run: %s", str(error).splitlines()[0])


def flush_outbox(settings: Settings, engine: Engine | None = None) -> SendReport:
    """Send what is due without polling the mailbox (the worker's outbox job)."""
    engine = engine or make_engine(settings.database_url, echo=settings.database.echo)
    init_schema(engine)
    try:
        return send_pending(engine, settings)
    except SQLAlchemyError as error:
        raise DatabaseError(
            f"lost the database at {describe_url(settings.database_url)}: "
            f"{str(error).strip().splitlines()[0]}"
        ) from None


# The advisory lock space for mailbox drains (the two-key form, apart from the start-up
# lock's one-key form in storage/db.py).
_DRAIN_LOCK_SPACE = 0x1A7A


@contextmanager
def drain_lock(engine: Engine, identity: str) -> Iterator[bool]:
    """Yield True when this process may read the mailbox `identity`, False when another
    process is reading it now. Never waits.

    PostgreSQL: a session-level advisory lock on a connection kept open for the drain; the
    server releases it when that connection ends, however the process ended. SQLite: an
    exclusive `flock` on a file next to the database, released by the kernel when the
    process ends. An in-memory SQLite database is private to its process: no lock.
    """
    digest = hashlib.sha256(identity.encode()).digest()
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, int.from_bytes(digest[:4], "big", signed=True)) as ours:
            yield ours
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield True
        return
    path = Path(database)
    with _file_lock(path.with_name(f"{path.name}.drain-{digest.hex()[:12]}.lock")) as ours:
        yield ours


@contextmanager
def _advisory_lock(engine: Engine, key: int) -> Iterator[bool]:
    params = {"space": _DRAIN_LOCK_SPACE, "key": key}
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        ours = bool(
            connection.execute(
                sa.text("SELECT pg_try_advisory_lock(:space, :key)"), params
            ).scalar()
        )
    except BaseException:
        connection.invalidate()
        connection.close()
        raise
    if not ours:
        connection.close()
        yield False
        return
    try:
        yield True
    finally:
        try:
            connection.execute(sa.text("SELECT pg_advisory_unlock(:space, :key)"), params)
        except SQLAlchemyError:
            # The connection is gone or unusable: closing it for good releases the lock.
            connection.invalidate()
        finally:
            connection.close()


@contextmanager
def _file_lock(path: Path) -> Iterator[bool]:
    # The file is never deleted: removing a lock file races with the next process.
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(descriptor)  # releases the lock
