"""One complete run: poll the mailbox, file every waiting message, move it, send replies.

The order is what makes a crash harmless anywhere:
1. a message is filed in one transaction (ledger unique on mailbox, UIDVALIDITY, UID);
2. only then is it moved out of the inbox; a run that stopped before the move finds the
   message still there, sees it in the ledger and only moves it;
3. only then are replies sent from the outbox, each claimed before it is sent.
"""

from __future__ import annotations

import logging
import socket
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import Session, col, select

from pipeline.checks.registry import KNOWN_REASONS, checks_for
from pipeline.mailbox.imap import Mailbox
from pipeline.replies.outbox import SendReport, send_pending
from pipeline.replies.templates import ReplyTemplates
from pipeline.settings.models import Action, Settings
from pipeline.storage import models as m
from pipeline.storage.blobs import BlobStore
from pipeline.storage.db import DatabaseError, describe_url, init_schema, make_engine, session_scope
from pipeline.storage.directory import Directory
from pipeline.storage.sync import sync_reference_data
from pipeline.worker.process import Filed, RunContext, process_message

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

    @property
    def processed(self) -> int:
        return sum(self.filed.values())

    def summary(self) -> str:
        parts = [f"{self.waiting} waiting"]
        parts += [f"{count} {outcome}" for outcome, count in sorted(self.filed.items())]
        if self.already_filed:
            parts.append(f"{self.already_filed} already filed")
        parts.append(f"{self.replies.sent} replies sent")
        if self.replies.failed:
            parts.append(f"{self.replies.failed} replies failed")
        if self.replies.deferred:
            parts.append(f"{self.replies.deferred} replies queued for later")
        return ", ".join(parts)


def prepare(settings: Settings, engine: Engine | None = None) -> Engine:
    """Open the database, create missing tables and load the configuration into it."""
    engine = engine or make_engine(settings.database_url, echo=settings.database.echo)
    init_schema(engine)
    try:
        with session_scope(engine) as session:
            sync_reference_data(session, settings)
    except OperationalError as error:
        raise DatabaseError(
            f"cannot use the database at {describe_url(settings.database_url)}: "
            f"{str(error.orig).strip().splitlines()[0]}"
        ) from None
    return engine


def load_templates(settings: Settings) -> ReplyTemplates:
    templates = ReplyTemplates(settings.templates_dir, settings.replies.language)
    templates.validate(
        code
        for code in KNOWN_REASONS
        if settings.decision.get(code) in (Action.REJECT, Action.HOLD, Action.NOTE)
    )
    return templates


def run_context(
    settings: Settings, engine: Engine, mailbox: Mailbox, templates: ReplyTemplates
) -> RunContext:
    """What every message of this run shares, read once: missions, meetings, templates."""
    with Session(engine) as session:
        directory = Directory.load(session)
    return RunContext(
        engine=engine,
        settings=settings,
        directory=directory,
        templates=templates,
        checks=checks_for(settings.checks),
        blobs=BlobStore(settings.storage_path),
        mailbox=mailbox.identity,
        uidvalidity=mailbox.uidvalidity,
    )


def run_once(
    settings: Settings,
    *,
    engine: Engine | None = None,
    progress: Progress | None = None,
    send: bool = True,
) -> RunReport:
    """Raises MailboxError or DatabaseError when the run cannot be done at all."""
    engine = prepare(settings, engine)
    templates = load_templates(settings)
    run = _start_run(engine)
    report = RunReport()
    try:
        with Mailbox(settings.mailbox) as mailbox:
            ctx = run_context(settings, engine, mailbox, templates)
            _drain(ctx, mailbox, report, progress)
        if send:
            report.replies = send_pending(engine, settings)
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


def _drain(ctx: RunContext, mailbox: Mailbox, report: RunReport, progress: Progress | None) -> None:
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
    total, done = len(new), 0
    batch_size = ctx.settings.mailbox.batch_size
    for start in range(0, total, batch_size):
        batch = new[start : start + batch_size]
        moves: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for fetched in mailbox.fetch(batch):
            filed: Filed | None = process_message(ctx, fetched)
            done += 1
            if progress is not None:
                progress(done, total)
            if filed is None:
                report.already_filed += 1
                continue
            report.filed[filed.outcome.value] += 1
            moves[filed.target_folder].append((fetched.uid, filed.record_id))
            log.info(
                "UID %s: %s%s",
                fetched.uid,
                filed.outcome.value,
                f" as {filed.reference}" if filed.reference else "",
            )
        _move(ctx, mailbox, moves, report)


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
    except SQLAlchemyError:
        log.warning("could not record the end of the run", exc_info=True)


def flush_outbox(settings: Settings, engine: Engine | None = None) -> SendReport:
    """Send what is due without polling the mailbox (the worker's outbox job)."""
    engine = engine or make_engine(settings.database_url, echo=settings.database.echo)
    init_schema(engine)
    return send_pending(engine, settings)
