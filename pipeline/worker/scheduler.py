"""The long-running worker: APScheduler runs the poll and the outbox flush on intervals,
and the desk's daily digest at a fixed time of day; with `[worker] idle` and a server
that offers it, an IMAP IDLE watcher (`pipeline.mailbox.idle`) starts a run as soon as
new mail arrives, and the polls stay on as the safety net.

Nothing overlaps within a worker: every job, and every run the watcher starts, takes its
turn under one lock (`Turns`). A wake-up cannot be lost: the watcher does not ask the
scheduler for a run (APScheduler skips a run while the job is still running), it waits
for its turn and runs itself, after whatever held the lock. `max_instances=1` and
`coalesce` make a slow poll delay the next one instead of stacking them. SIGTERM and
SIGINT stop the scheduler and the watcher after the job in hand has finished: a message
being filed is always completed or rolled back, never cut in half.

Any number of workers may run against one database and one mailbox: each poll takes the
mailbox's drain lock (`pipeline.worker.run.drain_lock`) or, when another worker holds
it, only sends its share of the outbox; a worker killed mid-poll releases the lock with
its database connection, and the next poll of another worker carries on.

The scheduler is built by `build_scheduler` (without starting it) so that what the
worker will run, and when, can be checked without waiting for it.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.engine import Engine

from pipeline.desk.digest import DigestError, scheduled_slot, send_scheduled_digest
from pipeline.mailbox.idle import IdleWatcher
from pipeline.mailbox.imap import MailboxError
from pipeline.replies.smtp import SmtpError
from pipeline.settings.models import Settings
from pipeline.storage.db import DatabaseError
from pipeline.storage.prepare import prepare
from pipeline.worker.run import flush_outbox, run_once

log = logging.getLogger(__name__)


@dataclass
class Turns:
    """One piece of work at a time within a worker: the scheduled jobs and the runs the
    IDLE watcher starts each take `turn()`. Once `stopping` is set, a job whose turn
    comes does nothing."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    @contextmanager
    def turn(self) -> Iterator[bool]:
        """Wait for the turn; yields False when the worker is stopping meanwhile."""
        with self.lock:
            yield not self.stopping.is_set()


def run_worker(settings: Settings) -> None:
    engine = prepare(settings)
    turns = Turns()
    scheduler = build_scheduler(settings, engine, turns)
    watcher = (
        IdleWatcher(settings.mailbox, _run_job(settings, engine, turns, "new mail"))
        if settings.worker.idle
        else None
    )

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.warning("received %s: stopping after the current job", signal.Signals(signum).name)
        turns.stopping.set()
        if watcher is not None:
            watcher.stop(wait=False)
        if scheduler.running:
            scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.warning(
        "worker started: polling every %ss%s, outbox every %ss, %s",
        settings.worker.poll_interval,
        " and IMAP IDLE where the server offers it" if watcher is not None else "",
        settings.worker.outbox_interval,
        (
            f"digest to {settings.desk.address} daily at {settings.desk.digest_time} "
            f"{settings.desk.digest_timezone}"
            if settings.desk.address
            else "no digest (set [desk] address)"
        ),
    )
    if watcher is not None:
        watcher.start()
    try:
        scheduler.start()
    finally:
        turns.stopping.set()
        if watcher is not None:
            watcher.stop()  # waits for a run in hand to finish
    log.warning("worker stopped")


def build_scheduler(
    settings: Settings, engine: Engine, turns: Turns | None = None
) -> BlockingScheduler:
    """The worker's jobs on one thread, not started: poll, outbox and (with a [desk]
    address) the daily digest, each in its turn (`turns`, shared with the IDLE watcher).
    A failing job logs one line and the worker goes on."""
    turns = turns or Turns()
    poll = _run_job(settings, engine, turns, "poll")

    def outbox() -> None:
        with turns.turn() as ours:
            if not ours:
                return
            try:
                report = flush_outbox(settings, engine)
            except DatabaseError as error:
                log.error("outbox flush failed: %s", error)
                return
        if report.sent or report.failed:
            log.info("outbox: %s sent, %s failed", report.sent, report.failed)
        if report.error:
            log.error("outbox: %s", report.error)

    scheduler = BlockingScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
    # The first poll starts at once rather than after a whole interval.
    scheduler.add_job(
        poll,
        "interval",
        seconds=settings.worker.poll_interval,
        id="poll",
        next_run_time=datetime.now(UTC),
    )
    scheduler.add_job(outbox, "interval", seconds=settings.worker.outbox_interval, id="outbox")
    if settings.desk.address:
        hour, minute = (int(part) for part in settings.desk.digest_time.split(":"))
        scheduler.add_job(
            _digest_job(settings, engine, turns),
            "cron",
            hour=hour,
            minute=minute,
            timezone=ZoneInfo(settings.desk.digest_timezone),
            id="digest",
        )
    return scheduler


def _run_job(settings: Settings, engine: Engine, turns: Turns, name: str) -> Callable[[], None]:
    """A whole run (drain the mailbox, send the outbox) in its turn: the scheduled poll,
    and what the IDLE watcher calls on new mail."""

    def run() -> None:
        with turns.turn() as ours:
            if not ours:
                return
            try:
                report = run_once(settings, engine=engine)
            except (MailboxError, DatabaseError) as error:
                log.error("%s failed: %s", name, error)
                return
        log.info("%s: %s", name, report.summary())
        if report.replies.error:
            log.error("replies queued: %s", report.replies.error)

    return run


def _digest_job(settings: Settings, engine: Engine, turns: Turns) -> Callable[[], None]:
    def digest() -> None:
        # The slot is taken when the job starts, so a digest delayed by a long poll still
        # belongs to today's digest_time, and another worker's digest for it counts.
        slot = scheduled_slot(settings)
        with turns.turn() as ours:
            if not ours:
                return
            try:
                result = send_scheduled_digest(engine, settings, slot=slot)
            except (SmtpError, DatabaseError, DigestError) as error:
                log.error("digest not sent (the next one covers this period): %s", error)
                return
            except Exception:
                log.exception("digest not sent (the next one covers this period)")
                return
        if result is None:
            log.info("digest: another worker already sent today's digest")
        else:
            log.info("digest sent to %s: %s", result.recipient, result.digest.subject)

    return digest
