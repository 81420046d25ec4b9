"""Operations' stories: running Intake from cron or as a worker, and when things break.

These run the real `intake` command in subprocesses, against the real servers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from pipeline.demo import samples
from pipeline.demo.automatic import auto_reply_email
from pipeline.devservers.dovecot import ThrowawayDovecot
from pipeline.devservers.ports import free_port
from pipeline.mailbox.imap import Mailbox
from pipeline.replies.templates import load_templates
from pipeline.storage import models as m
from pipeline.storage.blobs import BlobStore
from pipeline.storage.db import make_engine
from pipeline.storage.prepare import prepare
from pipeline.worker.context import build_context
from pipeline.worker.process import process_message
from tests.conftest import SUBMISSIONS, Intake, ny, text_of
from tests.helpers.commands import intake_command, one_line

ON_TIME = ny(2021, 5, 20, 10, 0)
MISSIONS = [
    ("France", "france@un.int"),
    ("Côte d'Ivoire", "cotedivoire@un.int"),
    ("Ghana", "ghana@un.int"),
    ("Japan", "japan@un.int"),
    ("Brazil", "brazil@un.int"),
    ("Holy See", "holysee@un.int"),
    ("European Union", "delegation@eeas.europa.eu"),
]


def test_run_once_from_cron_exits_zero_and_says_what_it_did(intake: Intake) -> None:
    intake.deliver(
        samples.submission_email(mission_name="France", sender="france@un.int", to=SUBMISSIONS),
        at=ON_TIME,
    )
    intake.deliver(
        samples.submission_email(
            mission_name="Ghana", sender="ghana@un.int", to=SUBMISSIONS, cover_letter=None
        ),
        at=ON_TIME,
    )
    config = intake.write_config()

    result = intake_command("run-once", config=config)

    assert result.returncode == 0, result.stderr
    assert "2 waiting, 1 accepted, 1 rejected, 2 replies sent" in result.stdout
    assert len(intake.replies(2)) == 2


def test_json_logs_give_one_event_per_line_with_the_reference_and_message_id(
    intake: Intake,
) -> None:
    """GIVEN `[logging] format = "json"` (for a log collector), WHEN cron runs `intake -v
    run-once`, THEN every line on stderr is one JSON object, and the filing event carries
    the reference and the Message-ID an operator searches by; `--log-format text` wins
    over the file."""
    intake.deliver(
        samples.submission_email(
            mission_name="France",
            sender="france@un.int",
            to=SUBMISSIONS,
            message_id="<json-logs@france.example>",
        ),
        at=ON_TIME,
    )
    config = intake.write_config(logging={"format": "json"})

    result = intake_command("-v", "run-once", config=config)
    again = intake_command("-v", "--log-format", "text", "run-once", config=config)

    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert events
    assert all({"time", "level", "logger", "message"} <= set(e) for e in events)
    filed = [e for e in events if e.get("message_id") == "<json-logs@france.example>"]
    assert len(filed) == 1
    assert filed[0]["reference"].startswith("PKO-SAFETY-")
    assert filed[0]["level"] == "info"
    assert again.returncode == 0, again.stderr
    assert again.stderr.strip()
    assert not again.stderr.lstrip().startswith("{")


def test_two_run_once_processes_at_the_same_moment_file_and_answer_each_message_once(
    intake: Intake,
) -> None:
    """Cron on two machines, or a slow run overlapping the next: nothing happens twice."""
    for index in range(24):
        mission, sender = MISSIONS[index % len(MISSIONS)]
        raw = samples.submission_email(
            mission_name=mission,
            sender=sender,
            to=SUBMISSIONS,
            words=200 + index,
            message_id=f"<concurrent-{index}@example.org>",
        )
        intake.deliver(raw, at=ny(2021, 5, 20, 8, index))
    config = intake.write_config(mailbox={"batch_size": 5})
    command = [sys.executable, "-m", "pipeline", "--config", str(config), "run-once"]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}

    first = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    second = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    outputs = [process.communicate(timeout=180) for process in (first, second)]

    assert (first.returncode, second.returncode) == (0, 0), outputs
    ledger = intake.ledger()
    assert len(ledger) == 24
    assert len({(r.uidvalidity, r.uid) for r in ledger}) == 24
    assert len(intake.queue()) == 24
    intake.replies(24)
    replies = intake.delivered()
    assert len(replies) == 24
    assert len({r.message["In-Reply-To"] for r in replies}) == 24
    assert intake.inbox == []


def test_a_wrong_mailbox_password_gives_one_clear_line_and_a_failing_exit(intake: Intake) -> None:
    config = intake.write_config(mailbox={"password": "wrong"})

    result = intake_command("run-once", config=config)

    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "refused the login" in line
    assert intake.user in line
    assert "INTAKE_MAILBOX__PASSWORD" in line


def test_the_password_can_come_from_the_environment(intake: Intake) -> None:
    config = intake.write_config(mailbox={"password": "wrong"})

    result = intake_command(
        "run-once", config=config, env={"INTAKE_MAILBOX__PASSWORD": intake.password}
    )

    assert result.returncode == 0, result.stderr


def test_an_unreachable_mailbox_gives_one_clear_line(intake: Intake) -> None:
    config = intake.write_config(mailbox={"port": free_port(), "timeout": 3})

    result = intake_command("run-once", config=config)

    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "cannot reach the mailbox" in line
    assert "connection refused" in line


def test_an_unreachable_database_gives_one_clear_line(intake: Intake) -> None:
    config = intake.write_config(
        database={"url": f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/intake"}
    )

    result = intake_command("run-once", config=config)

    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "cannot use the database" in line
    assert "[database] url" in line


def test_replies_wait_in_the_outbox_while_the_smtp_server_is_down(intake: Intake) -> None:
    """The mail is filed and moved anyway; the replies go out, once, when SMTP is back."""
    intake.deliver(
        samples.submission_email(mission_name="Japan", sender="japan@un.int", to=SUBMISSIONS),
        at=ON_TIME,
    )
    config = intake.write_config()
    intake.smtp.stop()

    down = intake_command("run-once", config=config)

    assert down.returncode == 1
    line = one_line(down.stderr)
    assert "cannot reach the SMTP server" in line
    assert "stay queued" in line
    assert intake.inbox == []
    assert len(intake.queue()) == 1

    intake.smtp.start()
    back = intake_command("run-once", config=config)
    again = intake_command("run-once", config=config)

    assert back.returncode == 0
    assert again.returncode == 0
    assert "1 replies sent" in back.stdout
    assert len(intake.replies(1)) == 1
    assert len(intake.delivered()) == 1


def test_a_reply_the_smtp_server_refuses_is_recorded_as_failed(intake: Intake) -> None:
    intake.deliver(
        samples.submission_email(mission_name="Japan", sender="japan@un.int", to=SUBMISSIONS),
        at=ON_TIME,
    )
    intake.smtp.reject_with = (554, "5.7.1 Relay access denied")

    report = intake.run()

    assert report.replies.failed == 1
    [reply] = intake.rows(m.Reply)
    assert reply.status is m.ReplyStatus.FAILED
    assert reply.last_error is not None
    assert "554" in reply.last_error
    [row] = intake.queue()
    assert row.reply == "acknowledgement failed"


@pytest.fixture(scope="module")
def dovecot_without_move() -> Iterator[ThrowawayDovecot]:
    with ThrowawayDovecot(capabilities_without=("MOVE",)) as server:
        yield server


def test_without_the_move_capability_messages_are_copied_and_expunged(
    intake: Intake, dovecot_without_move: ThrowawayDovecot
) -> None:
    user = f"nomove-{uuid.uuid4().hex[:8]}"
    dovecot_without_move.add_user(user, "pw")
    intake.dovecot = dovecot_without_move
    intake.user, intake.password = user, "pw"
    intake.reconfigure(
        mailbox={"port": dovecot_without_move.port, "username": user, "password": "pw"}
    )
    intake.deliver(
        samples.submission_email(mission_name="Japan", sender="japan@un.int", to=SUBMISSIONS),
        at=ON_TIME,
    )
    intake.deliver(
        samples.submission_email(
            mission_name="Ghana", sender="ghana@un.int", to=SUBMISSIONS, cover_letter=None
        ),
        at=ON_TIME,
    )

    intake.run()

    assert intake.inbox == []
    assert len(intake.folder("Intake/Accepted")) == 1
    assert len(intake.folder("Intake/Rejected")) == 1


def test_a_run_that_stopped_after_filing_finishes_the_move_without_filing_again(
    intake: Intake,
) -> None:
    """The worker died between the commit and the move: the next run only moves."""
    intake.deliver(
        samples.submission_email(mission_name="France", sender="france@un.int", to=SUBMISSIONS),
        at=ON_TIME,
    )
    settings = intake.settings
    engine = prepare(settings)
    with Mailbox(settings.mailbox) as mailbox:
        ctx = build_context(
            settings,
            engine,
            load_templates(settings),
            mailbox=mailbox.identity,
            uidvalidity=mailbox.uidvalidity,
        )
        [fetched] = list(mailbox.fetch(mailbox.waiting_uids()))
        assert process_message(ctx, fetched) is not None
    engine.dispose()
    assert len(intake.inbox) == 1  # filed, not moved

    report = intake.run()

    assert report.processed == 0
    assert report.already_filed == 1
    assert report.moved == 1
    assert intake.inbox == []
    assert len(intake.folder("Intake/Accepted")) == 1
    assert len(intake.queue()) == 1
    assert len(intake.ledger()) == 1
    assert len(intake.replies(1)) == 1


def test_the_worker_polls_replies_and_stops_cleanly_on_sigterm(intake: Intake) -> None:
    intake.deliver(
        samples.submission_email(mission_name="France", sender="france@un.int", to=SUBMISSIONS),
        at=ON_TIME,
    )
    config = intake.write_config(worker={"poll_interval": 5, "outbox_interval": 5})
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    worker = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--config", str(config), "worker"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        [reply] = intake.replies(1, timeout=30)
        assert "accepted" in text_of(reply)
        intake.deliver(
            samples.submission_email(mission_name="Japan", sender="japan@un.int", to=SUBMISSIONS),
            at=ON_TIME,
        )
        intake.replies(2, timeout=30)
    finally:
        worker.send_signal(signal.SIGTERM)
        _out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert "worker stopped" in err
    assert len(intake.queue()) == 2


def test_the_ledger_keeps_every_message_with_its_outcome(intake: Intake) -> None:
    intake.deliver(
        samples.submission_email(mission_name="France", sender="france@un.int", to=SUBMISSIONS),
        at=ON_TIME,
    )
    intake.deliver(
        auto_reply_email(sender="japan@un.int", to=SUBMISSIONS, original_subject="Hello"),
        at=ON_TIME,
    )

    intake.run()

    records = intake.ledger()
    assert [r.outcome for r in records] == [m.MessageOutcome.ACCEPTED, m.MessageOutcome.IGNORED]
    assert all(r.moved_at is not None for r in records)
    engine = make_engine(intake.settings.database_url)
    blobs = BlobStore(intake.settings.storage_path)
    for record in records:
        assert blobs.get(record.raw_sha256)  # the original message is kept
    engine.dispose()
