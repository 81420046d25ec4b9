"""Operations' stories: several workers share one database and one mailbox.

Three `intake worker` processes poll the same mailbox and flush the same outbox. One of
them at a time reads the mailbox (a session-level advisory lock on PostgreSQL, a lock
file next to a SQLite database); the others send replies, each claimed with
`FOR UPDATE SKIP LOCKED`. The one reading is killed with SIGKILL in the middle of 1,000
messages: the server releases its lock with its connection, another worker takes over
at its next poll, and in the end every message is filed once and answered once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from pipeline.storage import models as m
from tests.conftest import PG_ADMIN, PKO_SAFETY, Intake, Report
from tests.helpers.commands import intake_command
from tests.helpers.mixed_mail import mixed_messages, seed
from tests.helpers.runs import assert_everything_once, start_run, wait_until_frozen
from tests.helpers.worlds import CHILDREN, World, folder_contents, world

pytestmark = pytest.mark.slow

POSTGRESQL_ONLY = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)

MESSAGES = int(os.environ.get("INTAKE_WORKERS_MESSAGES", "1000"))
WORKERS = 3
DEADLINE_S = 240
DRAIN_LOCK_SPACE = 0x1A7A  # pipeline.worker.run._DRAIN_LOCK_SPACE


def start_worker(config: Path) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--config", str(config), "worker"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def reading_the_mailbox(database: str) -> str | None:
    """The application_name of the connection holding the mailbox's drain lock."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        row = admin.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s "
            "AND l.objsubid = 2 AND a.datname = %s",
            (DRAIN_LOCK_SPACE, database),
        ).fetchone()
    return str(row[0]) if row else None


def counts(w: World) -> tuple[int, int, int]:
    """Messages filed, replies still to send, replies sent."""
    engine = w.engine()
    try:
        with Session(engine) as session:
            filed = len(list(session.exec(select(m.MessageRecord.id))))
            statuses = Counter(r for r in session.exec(select(m.Reply.status)))
    except sa.exc.ProgrammingError:
        return 0, 0, 0  # the workers have not made the tables yet
    finally:
        engine.dispose()
    waiting = statuses[m.ReplyStatus.PENDING] + statuses[m.ReplyStatus.SENDING]
    return filed, waiting, statuses[m.ReplyStatus.SENT]


def in_flight(w: World, pid: int) -> set[str]:
    """The Message-IDs of the replies a (dead) worker process held claimed for sending:
    the only ones that may have reached the SMTP server without being recorded as sent
    (docs/reliability.md, "the one open window")."""
    engine = w.engine()
    try:
        with Session(engine) as session:
            rows = session.exec(
                select(m.Reply).where(
                    m.Reply.status == m.ReplyStatus.SENDING,
                    col(m.Reply.claimed_by).endswith(f":{pid}"),
                )
            )
            return {row.message_id for row in rows}
    finally:
        engine.dispose()


def test_one_run_at_a_time_reads_the_mailbox_and_a_killed_ones_turn_passes_at_once(
    intake: Intake, report_figures: Report
) -> None:
    """GIVEN a run frozen in the middle of reading the mailbox, WHEN cron starts another,
    THEN the second leaves the mailbox alone ("mailbox busy"), sends the replies already
    filed and exits 0; WHEN the first is SIGKILLed, THEN its lock dies with it and the
    next run files the rest: every message once, every reply once."""
    seeded = mixed_messages(20, tag="lock")
    with world(
        intake, "lock", mailbox={"batch_size": 5}, meetings=[dict(PKO_SAFETY), dict(CHILDREN)]
    ) as w:
        seed(intake.dovecot, w.user, w.password, seeded)
        first = start_run(w.config, "stop:after_commit:3")
        wait_until_frozen(first)

        second = intake_command("run-once", config=w.config)

        assert second.returncode == 0, second.stderr
        assert second.stdout.startswith("intake: mailbox busy (another worker is reading it)")
        assert "3 replies sent" in second.stdout

        first.kill()
        first.communicate(timeout=30)
        third = intake_command("run-once", config=w.config)

        assert third.returncode == 0, third.stderr
        assert third.stdout.startswith("intake: 20 waiting")
        assert_everything_once(
            intake, w.user, w.password, w.database_url, seeded, report_figures, "mailbox lock"
        )


@POSTGRESQL_ONLY
def test_three_workers_one_killed_midway_file_and_answer_a_thousand_messages_once(
    intake: Intake, report_figures: Report
) -> None:
    """GIVEN 1,000 messages and three workers on one database and one mailbox, WHEN the
    one reading the mailbox is SIGKILLed midway, THEN another takes over and at the end
    every message is filed once, moved once, and answered once (by Message-ID and by
    recipient + In-Reply-To): 0 duplicates, 0 lost."""
    seeded = mixed_messages(MESSAGES, tag="workers")
    expected_replies = {s.message_id for s in seeded if s.answered}
    started = time.monotonic()
    with world(
        intake,
        "workers",
        mailbox={"batch_size": 25},
        worker={"poll_interval": 5, "outbox_interval": 5},
        replies={"rejection_window_hours": 0},
        meetings=[dict(PKO_SAFETY), dict(CHILDREN)],
    ) as w:
        database = sa.engine.make_url(w.database_url).database
        assert database is not None
        seed(intake.dovecot, w.user, w.password, seeded)
        configs = [
            w.variant(
                w.config.with_name(f"worker-{n}.toml"),
                database={"url": f"{w.database_url}?application_name=worker-{n}"},
            )
            for n in range(WORKERS)
        ]
        workers = {f"worker-{n}": start_worker(config) for n, config in enumerate(configs)}
        killed: str | None = None
        window: set[str] = set()
        filed_at_kill = 0
        outputs: dict[str, tuple[str, str]] = {}
        try:
            while time.monotonic() - started < DEADLINE_S:
                filed, waiting, sent = counts(w)
                if killed is None and filed >= MESSAGES // 3:
                    killed = reading_the_mailbox(database)
                    assert killed is not None, "nobody holds the mailbox's lock midway"
                    # Frozen first, so that what it holds can be read before it dies
                    # (its database session, and so its claims, live until the kill).
                    workers[killed].send_signal(signal.SIGSTOP)
                    window = in_flight(w, workers[killed].pid)
                    workers[killed].send_signal(signal.SIGKILL)
                    filed_at_kill = filed
                if filed == MESSAGES and waiting == 0 and sent == len(expected_replies):
                    break
                # The runs have exited: the capture server stored every reply before answering 250.
            else:
                raise AssertionError(f"not done in {DEADLINE_S}s: {counts(w)}")
        finally:
            for name, worker in workers.items():
                if worker.poll() is None:
                    worker.send_signal(signal.SIGTERM)
                outputs[name] = worker.communicate(timeout=60)
        elapsed = time.monotonic() - started
        assert killed is not None
        assert workers[killed].returncode == -signal.SIGKILL
        for name, worker in workers.items():
            if name != killed:
                assert worker.returncode == 0, outputs[name][1]
                assert "worker stopped" in outputs[name][1]

        # The runs have exited: the capture server stored every reply before answering 250.
        replies = intake.smtp.messages
        engine = w.engine()
        with Session(engine) as session:
            ledger = list(session.exec(select(m.MessageRecord)))
            submissions = list(session.exec(select(m.Submission)))
            senders = Counter(
                str(event.detail.get("worker", "?")).rsplit(":", 1)[-1]
                for event in session.exec(
                    select(m.AuditEvent).where(m.AuditEvent.kind == m.AuditKind.REPLY_SENT)
                )
            )
        engine.dispose()
        per_message = Counter(r.message_id for r in ledger)
        record_message = {r.id: r.message_id for r in ledger}
        per_submission = Counter(record_message[s.message_record_id] for s in submissions)
        by_id = Counter(str(r.message["Message-ID"]) for r in replies)
        by_thread = Counter((r.rcpt_tos, str(r.message["In-Reply-To"])) for r in replies)
        _delimiter, folders = folder_contents(intake.dovecot, w.user, w.password)
        in_folders = sum(len(uids) for name, uids in folders.items() if name != "INBOX")
        duplicates = (
            sum(c - 1 for c in per_message.values())
            + sum(c - 1 for c in per_submission.values())
            + sum(c - 1 for c in by_id.values())
            + sum(c - 1 for c in by_thread.values())
        )
        # A reply the killed worker was sending may have reached the SMTP server
        # unrecorded: sent again by another, with the same Message-ID (counted once by
        # Message-ID and once by thread). Nothing else may arrive twice.
        replayed = sum(1 for mid, c in by_id.items() if mid in window and c == 2)
        lost = (
            len({s.message_id for s in seeded} - set(per_message))
            + len(expected_replies - {in_reply_to for _to, in_reply_to in by_thread})
            + (MESSAGES - in_folders)
        )
        report_figures(
            f"several workers: {MESSAGES} messages, {WORKERS} workers, {killed} killed "
            f"(SIGKILL) after {filed_at_kill} filed; {len(ledger)} filed, "
            f"{len(replies)} replies delivered of {len(expected_replies)}; "
            f"duplicates {duplicates - 2 * replayed} (+{replayed} in the open window, "
            f"same Message-ID), lost {lost}; {elapsed:.0f} s; "
            f"replies sent per worker process: {sorted(senders.values(), reverse=True)}"
        )
        assert duplicates - 2 * replayed == 0
        assert replayed <= len(window) <= 1
        assert lost == 0
        assert len(ledger) == MESSAGES
        assert folders["INBOX"] == []
        assert len(replies) == len(expected_replies) + replayed
        assert len(senders) >= 2  # the outbox was shared, not sent by one process
