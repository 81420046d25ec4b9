"""Operations' stories: the worker hears about new mail at once (IMAP IDLE).

A delegation that emails its statement should have the acknowledgement within seconds,
not at the next poll. `intake worker` watches the submissions folder with IMAP IDLE
(`pipeline.mailbox.idle`) and starts a run as soon as the server announces new mail;
the polls go on as the safety net. Each story starts the real `intake worker` against
the throwaway Dovecot, delivers mail the way an MTA does (LMTP) and waits for what the
delegation would see: the reply. The polls are an hour apart, so a reply within the
generous waits below can only have come from the watcher.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.demo import samples
from pipeline.devservers.dovecot import ThrowawayDovecot
from pipeline.mailbox.idle import IdleWatcher
from pipeline.settings.models import MailboxSettings
from tests.conftest import PKO_SAFETY, SUBMISSIONS, Intake, text_of
from tests.helpers.runs import wait_until_frozen

pytestmark = pytest.mark.slow

AN_HOUR = 3600
# Generous: IDLE answers in about a second; this only bounds a broken test.
PROMPTLY = 30.0
# Mail that arrived while the watcher was busy: announced by Dovecot only at its next
# keepalive (up to two minutes) unless the watcher asks (NOOP). Shorter than PROMPTLY so
# that a watcher which forgot to ask is caught, still far above the second it takes.
SOON = 15.0
# How long a worker without IDLE is watched not answering (the poll is an hour away).
A_FEW_SECONDS = 4.0
WATCHING = "IDLE: watching"
FIRST_POLL = "poll:"

DELEGATIONS = {
    "France": "france@un.int",
    "Ghana": "ghana@un.int",
    "Japan": "japan@un.int",
    "Brazil": "brazil@un.int",
}


class Worker:
    """`intake -v worker` in the background, its log lines collected as they come."""

    def __init__(self, config: Path, *, fault: str | None = None) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
        if fault is not None:
            environment["INTAKE_FAULT"] = fault
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "--config", str(config), "-v", "worker"],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self._lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    @property
    def log(self) -> str:
        with self._changed:
            return "\n".join(self._lines)

    def said(self, text: str) -> int:
        with self._changed:
            return sum(text in line for line in self._lines)

    def wait_for(self, text: str, *, times: int = 1, timeout: float = PROMPTLY) -> None:
        """Until the worker has logged a line containing `text` (`times` such lines)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while sum(text in line for line in self._lines) < times:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None:
                    raise AssertionError(f"the worker never said {text!r}:\n{self.log}")
                self._changed.wait(min(remaining, 0.5))

    def ready(self) -> None:
        """Until the first poll is done and, with IDLE, the watcher is waiting for mail."""
        self.wait_for(FIRST_POLL)
        self.wait_for(WATCHING)

    def stop(self) -> int:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)  # in case a fault froze it
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self._reader.join(timeout=10)
        return code


@pytest.fixture
def start_worker(intake: Intake) -> Iterator[Any]:
    """Starts `intake worker` with polls an hour apart; every worker is stopped (SIGTERM)
    at the end, and must have stopped cleanly."""
    workers: list[Worker] = []
    meeting = {**PKO_SAFETY, "date": (date.today() + timedelta(days=30)).isoformat()}

    def start(*, idle: bool = True, fault: str | None = None) -> Worker:
        config = intake.write_config(
            worker={"poll_interval": AN_HOUR, "outbox_interval": AN_HOUR, "idle": idle},
            meetings=[meeting],
        )
        worker = Worker(config, fault=fault)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        code = worker.stop()
        assert code == 0, worker.log
        assert "worker stopped" in worker.log


def deliver(intake: Intake, mission: str) -> str:
    """The mission's statement reaches the mailbox through LMTP, like from an MTA; returns
    its Message-ID."""
    message_id = f"<{uuid.uuid4().hex}@{DELEGATIONS[mission].split('@')[1]}>"
    raw = samples.submission_email(
        mission_name=mission, sender=DELEGATIONS[mission], to=SUBMISSIONS, message_id=message_id
    )
    intake.dovecot.deliver_lmtp(intake.user, raw, sender=DELEGATIONS[mission])
    return message_id


def answered(intake: Intake) -> dict[str, str]:
    """In-Reply-To of each reply sent so far, with the reply's text."""
    return {str(r.message["In-Reply-To"]): text_of(r) for r in intake.replies()}


def test_a_statement_delivered_to_a_watching_worker_is_acknowledged_within_seconds(
    intake: Intake, start_worker: Any
) -> None:
    """GIVEN a worker watching the mailbox with IMAP IDLE, polling once an hour, that has
    finished its first poll; WHEN France's statement is delivered; THEN France has its
    acknowledgement long before the next poll, the mail is filed under Intake/Accepted
    and the submission is in the desk's queue."""
    worker = start_worker()
    worker.ready()

    message_id = deliver(intake, "France")

    [reply] = intake.replies(1, timeout=PROMPTLY)
    assert reply.rcpt_tos == ("france@un.int",)
    assert str(reply.message["In-Reply-To"]) == message_id
    assert "accepted" in text_of(reply)
    assert intake.inbox == []
    assert len(intake.folder("Intake/Accepted")) == 1
    assert [row.mission for row in intake.queue()] == ["FRA"]


@pytest.fixture(scope="module")
def dovecot_without_idle() -> Iterator[ThrowawayDovecot]:
    with ThrowawayDovecot(capabilities_without=("IDLE",)) as server:
        yield server


@pytest.mark.parametrize("without", ["idle = false", "a server without IDLE"])
def test_without_idle_a_delivered_statement_waits_for_the_next_poll(
    intake: Intake, start_worker: Any, request: pytest.FixtureRequest, without: str
) -> None:
    """GIVEN a worker polling once an hour, with `[worker] idle = false` or against a
    server that does not offer IDLE, that has finished its first poll; WHEN Ghana's
    statement is delivered; THEN a few seconds later it is still waiting in the inbox,
    unanswered and not in the queue: the poll interval governs, as before IDLE."""
    if without == "a server without IDLE":
        server: ThrowawayDovecot = request.getfixturevalue("dovecot_without_idle")
        user = f"noidle-{uuid.uuid4().hex[:8]}"
        server.add_user(user, "pw")
        intake.dovecot, intake.user, intake.password = server, user, "pw"
        intake.reconfigure(mailbox={"port": server.port, "username": user, "password": "pw"})
    worker = start_worker(idle=without != "idle = false")
    worker.wait_for(FIRST_POLL)
    if without == "a server without IDLE":
        worker.wait_for("does not offer IDLE")

    deliver(intake, "Ghana")
    time.sleep(A_FEW_SECONDS)

    assert intake.replies() == []
    assert len(intake.inbox) == 1
    assert intake.queue() == []
    assert worker.said(WATCHING) == 0


def test_after_the_mail_server_restarts_the_watcher_reconnects_and_answers_at_once(
    intake: Intake, start_worker: Any
) -> None:
    """GIVEN a watching worker, polling once an hour; WHEN the mail server restarts (every
    connection dropped) and Japan's statement is delivered afterwards; THEN the worker says
    once that it lost the mailbox and reconnects, and Japan is acknowledged within
    seconds, without waiting for the poll."""
    worker = start_worker()
    worker.ready()

    intake.dovecot.restart()
    worker.wait_for("IDLE: reconnected")
    message_id = deliver(intake, "Japan")

    [reply] = intake.replies(1, timeout=PROMPTLY)
    assert str(reply.message["In-Reply-To"]) == message_id
    assert "accepted" in text_of(reply)
    assert intake.inbox == []
    assert [row.mission for row in intake.queue()] == ["JPN"]
    assert worker.said("reconnecting in 1 s") == 1


def test_statements_arriving_while_one_is_being_filed_are_answered_without_the_poll(
    intake: Intake, start_worker: Any
) -> None:
    """GIVEN a watching worker, polling once an hour, filing France's statement (frozen
    just after the commit); WHEN Ghana's and Brazil's statements arrive meanwhile (the
    watcher is not in IDLE then: it is processing); THEN as soon as France's run is over
    all three are acknowledged, filed and in the queue, without waiting for the poll."""
    worker = start_worker(fault="stop:after_commit:1")
    worker.ready()
    france = deliver(intake, "France")
    wait_until_frozen(worker.process, timeout=PROMPTLY)

    ghana = deliver(intake, "Ghana")
    brazil = deliver(intake, "Brazil")
    os.kill(worker.process.pid, signal.SIGCONT)

    intake.replies(3, timeout=SOON)
    replies = answered(intake)
    assert set(replies) == {france, ghana, brazil}
    assert all("accepted" in text for text in replies.values())
    assert intake.inbox == []
    assert len(intake.folder("Intake/Accepted")) == 3
    assert sorted(str(row.mission) for row in intake.queue()) == ["BRA", "FRA", "GHA"]


def test_the_first_poll_and_the_watcher_take_turns_and_never_read_the_mailbox_at_once(
    intake: Intake, start_worker: Any
) -> None:
    """GIVEN France's statement waiting when the worker starts, and the worker's first run
    frozen just after filing it (the watcher, connecting meanwhile, wants its own run);
    WHEN Ghana's statement arrives and the worker goes on; THEN both are acknowledged
    without waiting for the poll, and the worker never found its own mailbox "busy": its
    runs took turns instead of overlapping."""
    france = deliver(intake, "France")
    worker = start_worker(fault="stop:after_commit:1")
    wait_until_frozen(worker.process, timeout=PROMPTLY)

    ghana = deliver(intake, "Ghana")
    os.kill(worker.process.pid, signal.SIGCONT)

    intake.replies(2, timeout=PROMPTLY)
    assert set(answered(intake)) == {france, ghana}
    assert sorted(str(row.mission) for row in intake.queue()) == ["FRA", "GHA"]
    worker.wait_for(WATCHING)
    assert worker.said("mailbox busy") == 0


def test_the_watcher_renews_its_idle_and_still_hears_new_mail(
    dovecot: ThrowawayDovecot, caplog: pytest.LogCaptureFixture
) -> None:
    """GIVEN a watcher that renews its IDLE every half second (a real worker: every five
    minutes, as RFC 2177 asks before the server's 30-minute limit); WHEN it has renewed a
    few times and mail is then delivered; THEN it still hears about the mail at once."""
    user = f"renewal-{uuid.uuid4().hex[:8]}"
    dovecot.add_user(user, "pw")
    mailbox = MailboxSettings.model_validate(
        {
            "host": dovecot.host,
            "port": dovecot.port,
            "security": "none",
            "username": user,
            "password": "pw",
            "timeout": 10,
        }
    )
    heard = threading.Semaphore(0)
    watcher = IdleWatcher(mailbox, heard.release, renew_after=0.5, check_every=0.1)
    with caplog.at_level(logging.DEBUG, logger="imapclient"):
        watcher.start()
        try:
            assert heard.acquire(timeout=PROMPTLY)  # the catch-up when it connects
            deadline = time.monotonic() + PROMPTLY
            while _idle_renewals(caplog) < 3 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _idle_renewals(caplog) >= 3

            dovecot.deliver_lmtp(user, b"Subject: hello\r\n\r\nstatement\r\n")

            assert heard.acquire(timeout=PROMPTLY)
        finally:
            watcher.stop()


def _idle_renewals(caplog: pytest.LogCaptureFixture) -> int:
    return sum(record.getMessage() == "< DONE" for record in caplog.records)
