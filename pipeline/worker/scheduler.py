"""The long-running worker: APScheduler runs the poll and the outbox flush on intervals.

One thread runs the jobs, so a poll and an outbox flush never overlap within a worker;
`max_instances=1` and `coalesce` make a slow poll delay the next one instead of stacking
them. SIGTERM and SIGINT stop the scheduler after the job in hand has finished: a message
being filed is always completed or rolled back, never cut in half.
"""

from __future__ import annotations

import logging
import signal
from datetime import UTC, datetime
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler

from pipeline.mailbox.imap import MailboxError
from pipeline.settings.models import Settings
from pipeline.storage.db import DatabaseError
from pipeline.worker.run import flush_outbox, prepare, run_once

log = logging.getLogger(__name__)


def run_worker(settings: Settings) -> None:
    engine = prepare(settings)

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

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.warning("received %s: stopping after the current job", signal.Signals(signum).name)
        if scheduler.running:
            scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.warning(
        "worker started: polling every %ss, outbox every %ss",
        settings.worker.poll_interval,
        settings.worker.outbox_interval,
    )
    scheduler.start()
    log.warning("worker stopped")
