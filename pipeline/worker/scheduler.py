"""The long-running worker: APScheduler runs the poll and the outbox flush on intervals,
and the desk's daily digest at a fixed time of day.

One thread runs the jobs, so a poll, an outbox flush and the digest never overlap within
a worker; `max_instances=1` and `coalesce` make a slow poll delay the next one instead of
stacking them. SIGTERM and SIGINT stop the scheduler after the job in hand has finished:
a message being filed is always completed or rolled back, never cut in half.

The scheduler is built by `build_scheduler` (without starting it) so that what the
worker will run, and when, can be checked without waiting for it.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.engine import Engine

from pipeline.desk.digest import DigestError, scheduled_slot, send_scheduled_digest
from pipeline.mailbox.imap import MailboxError
from pipeline.replies.smtp import SmtpError
from pipeline.settings.models import Settings
from pipeline.storage.db import DatabaseError
from pipeline.worker.run import flush_outbox, prepare, run_once

log = logging.getLogger(__name__)


def run_worker(settings: Settings) -> None:
    engine = prepare(settings)
    scheduler = build_scheduler(settings, engine)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.warning("received %s: stopping after the current job", signal.Signals(signum).name)
        if scheduler.running:
            scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.warning(
        "worker started: polling every %ss, outbox every %ss, %s",
        settings.worker.poll_interval,
        settings.worker.outbox_interval,
        (
            f"digest to {settings.desk.address} daily at {settings.desk.digest_time} "
            f"{settings.desk.digest_timezone}"
            if settings.desk.address
            else "no digest (set [desk] address)"
        ),
    )
    scheduler.start()
    log.warning("worker stopped")


def build_scheduler(settings: Settings, engine: Engine) -> BlockingScheduler:
    """The worker's jobs on one thread, not started: poll, outbox and (with a [desk]
    address) the daily digest. A failing job logs one line and the worker goes on."""

    def poll() -> None:
        try:
            report = run_once(settings, engine=engine)
        except (MailboxError, DatabaseError) as error:
            log.error("poll failed: %s", error)
            return
        log.info("poll: %s", report.summary())
        if report.replies.error:
            log.error("replies queued: %s", report.replies.error)

    def outbox() -> None:
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
            _digest_job(settings, engine),
            "cron",
            hour=hour,
            minute=minute,
            timezone=ZoneInfo(settings.desk.digest_timezone),
            id="digest",
        )
    return scheduler


def _digest_job(settings: Settings, engine: Engine) -> Callable[[], None]:
    def digest() -> None:
        # The slot is taken when the job starts, so a digest delayed by a long poll still
        # belongs to today's digest_time, and another worker's digest for it counts.
        slot = scheduled_slot(settings)
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
