"""Operations' stories: the servers Intake depends on go away, and come back.

Each story runs the real `intake run-once` against the real servers and takes one of
them away at a chosen moment: the run is frozen at a fault point (`stop:POINT`, see
`pipeline.faults`), the server is restarted or cut off, and the run resumes. The
promise holds throughout: the run ends with one clear line (or carries on), nothing is
lost, and the next run finishes the job without filing or answering anything twice.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from datetime import timedelta

import psycopg
import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from pipeline.demo import samples
from pipeline.devservers.ports import free_port
from pipeline.storage import models as m
from pipeline.storage.db import make_engine
from tests.conftest import PG_ADMIN, PKO_SAFETY, SUBMISSIONS, Intake, Report, ny
from tests.helpers.commands import intake_command
from tests.helpers.mixed_mail import mixed_messages, seed
from tests.helpers.runs import (
    assert_everything_once,
    ledger,
    resume,
    start_run,
    wait_until_frozen,
)
from tests.helpers.worlds import CHILDREN, folder_contents, world

pytestmark = pytest.mark.slow

TWO_MEETINGS = [dict(PKO_SAFETY), dict(CHILDREN)]


def error_lines(stderr: str) -> list[str]:
    """What the run said on stderr, without the fault injector's own line."""
    return [
        line
        for line in stderr.strip().splitlines()
        if line.strip() and not line.startswith("intake: fault injected")
    ]


# -- the mailbox -------------------------------------------------------------------------------


def test_the_mailbox_server_restarting_in_the_middle_of_a_batch_loses_nothing(
    intake: Intake, report_figures: Report
) -> None:
    """GIVEN 60 messages, WHEN Dovecot restarts while a run is between filing a message and
    moving its batch, THEN the run ends with one line naming the mailbox, and the next run
    moves what was filed and files the rest, each message once, each reply once."""
    seeded = mixed_messages(60, tag="imap-restart")
    with world(intake, "imap", mailbox={"batch_size": 10}, meetings=TWO_MEETINGS) as w:
        seed(intake.dovecot, w.user, w.password, seeded)
        run = start_run(w.config, "stop:after_commit:15")
        wait_until_frozen(run)
        intake.dovecot.restart()
        _out, err = resume(run)

        assert run.returncode == 1, err
        [line] = error_lines(err)
        assert line.startswith("intake: error: lost the mailbox at")
        assert 15 <= len(ledger(w.database_url)) < 60

        again = intake_command("run-once", config=w.config)

        assert again.returncode == 0, again.stderr
        assert_everything_once(
            intake, w.user, w.password, w.database_url, seeded, report_figures, "IMAP restart"
        )


def test_a_new_uidvalidity_with_filed_but_unmoved_messages_files_and_answers_nothing_twice(
    intake: Intake,
) -> None:
    """GIVEN a run killed after filing three messages of a batch and before moving them,
    WHEN the server renumbers the folder (new UIDVALIDITY: the folder is deleted and made
    again with the same messages), THEN the next run recognises the three by their bytes:
    no second submission, no second reply, and each message ends in the folder of its
    first filing."""
    seeded = mixed_messages(20, tag="uidvalidity")
    folder = "Submissions"
    with world(
        intake,
        "uidvalidity",
        mailbox={"batch_size": 5, "folder": folder},
        meetings=TWO_MEETINGS,
    ) as w:
        seed(intake.dovecot, w.user, w.password, seeded, folder=folder)
        killed = intake_command("run-once", config=w.config, env={"INTAKE_FAULT": "after_commit:8"})
        assert killed.returncode == -signal.SIGKILL
        first = ledger(w.database_url)
        unmoved = [r for r in first if r.moved_at is None]
        assert len(first) == 8
        assert len(unmoved) == 3

        with intake.dovecot.imap_client(w.user, w.password) as client:
            before = client.select_folder(folder)[b"UIDVALIDITY"]
            uids = client.search("ALL")
            left = client.fetch(uids, ["BODY.PEEK[]", "INTERNALDATE"])
            client.unselect_folder()
            client.delete_folder(folder)
            client.create_folder(folder)
            for uid in sorted(left):
                client.append(folder, left[uid][b"BODY[]"], msg_time=left[uid][b"INTERNALDATE"])
            after = client.select_folder(folder)[b"UIDVALIDITY"]
        assert after != before

        again = intake_command("run-once", config=w.config)

        assert again.returncode == 0, again.stderr
        records = ledger(w.database_url)
        assert len(records) == 8 + (20 - 5)  # the three unmoved ones seen a second time
        engine = make_engine(w.database_url)
        with Session(engine) as session:
            submissions = list(session.exec(select(m.Submission)))
        engine.dispose()
        by_record = {r.id: r.message_id for r in records}
        assert max(Counter(by_record[s.message_record_id] for s in submissions).values()) == 1
        seen_again = [r for r in records if r.duplicate_of_id is not None]
        assert sorted(r.duplicate_of_id or 0 for r in seen_again) == sorted(
            r.id or 0 for r in unmoved
        )
        for renumbered in seen_again:
            original = next(r for r in records if r.id == renumbered.duplicate_of_id)
            assert renumbered.target_folder == original.target_folder
        # The runs have exited: the capture server stored every reply before answering 250.
        replies = intake.smtp.messages
        in_reply_to = Counter(str(r.message["In-Reply-To"]) for r in replies)
        assert in_reply_to == Counter(s.message_id for s in seeded if s.answered)
        _delimiter, folders = folder_contents(intake.dovecot, w.user, w.password)
        assert folders[folder] == []
        placed = sum(len(uids) for name, uids in folders.items() if name.startswith("Intake"))
        assert placed == 20


def test_the_same_mail_delivered_twice_over_lmtp_is_filed_and_answered_once(
    intake: Intake,
) -> None:
    """GIVEN the MTA delivers France's statement twice (a retry after a lost 250): two
    UIDs, the same Message-ID, WHEN Intake runs (and again after a third copy), THEN it
    is filed once, the copies are recorded as duplicates in the ignored folder, and
    France gets one reply (a rejection: LMTP stamps today's date, after the deadline)."""
    raw = samples.submission_email(
        mission_name="France",
        sender="france@un.int",
        to=SUBMISSIONS,
        words=50,
        message_id="<twice@diplomatie.gouv.fr>",
    )
    intake.dovecot.deliver_lmtp(intake.user, raw, sender="france@un.int")
    intake.dovecot.deliver_lmtp(intake.user, raw, sender="france@un.int")

    first = intake.run()
    intake.dovecot.deliver_lmtp(intake.user, raw, sender="france@un.int")
    second = intake.run()

    assert (dict(first.filed), dict(second.filed)) == (
        {"rejected": 1, "ignored": 1},
        {"ignored": 1},
    )
    records = intake.ledger()
    assert [r.outcome for r in records] == [
        m.MessageOutcome.REJECTED,
        m.MessageOutcome.IGNORED,
        m.MessageOutcome.IGNORED,
    ]
    assert {r.duplicate_of_id for r in records[1:]} == {records[0].id}
    assert len(intake.queue()) == 1
    assert len(intake.folder("Intake/Ignored")) == 2
    assert len(intake.replies(1)) == 1
    assert len(intake.delivered()) == 1


# -- the SMTP server ----------------------------------------------------------------------------


def test_replies_wait_with_backoff_while_smtp_is_down_then_fail_and_the_desk_sees_them(
    intake: Intake,
) -> None:
    """GIVEN `smtp.max_attempts = 3` and the SMTP server down, WHEN runs keep coming, THEN
    the replies stay queued, retried at the next run and then after a growing delay;
    after the third failed attempt each is marked failed, recorded for the desk
    (`intake queue --json` lists it) and the run says so; `intake replies resend` sends
    it, with its Message-ID, once the server is back."""
    for mission, sender in (("Japan", "japan@un.int"), ("Ghana", "ghana@un.int")):
        intake.deliver(
            samples.submission_email(mission_name=mission, sender=sender, to=SUBMISSIONS),
            at=ny(2021, 5, 20, 10, 0),
        )
    config = intake.write_config(smtp={"max_attempts": 3})
    intake.smtp.stop()

    first = intake_command("run-once", config=config)
    second = intake_command("run-once", config=config)
    after_second = m.utcnow()  # the delay is counted from the second failure
    third = intake_command("run-once", config=config)

    assert (first.returncode, second.returncode) == (1, 1)
    assert "stay queued" in error_lines(first.stderr)[0]
    assert third.returncode == 0, third.stderr  # nothing due yet: nothing tried
    replies = intake.rows(m.Reply)
    assert [(r.status, r.attempts) for r in replies] == [(m.ReplyStatus.PENDING, 2)] * 2
    wait = min(r.next_attempt_at for r in replies) - after_second
    assert timedelta(seconds=45) < wait <= timedelta(minutes=1)

    _time_passes(intake)
    fourth = intake_command("run-once", config=config)

    assert fourth.returncode == 1
    assert "2 replies failed" in fourth.stdout
    replies = intake.rows(m.Reply)
    assert [(r.status, r.attempts) for r in replies] == [(m.ReplyStatus.FAILED, 3)] * 2
    events = [e for e in intake.rows(m.AuditEvent) if e.kind is m.AuditKind.REPLY_FAILED]
    assert sum(1 for e in events if e.detail.get("will_retry") is False) == 2
    queue = intake_command("queue", "--json", config=config)
    [meeting] = json.loads(queue.stdout)["meetings"]
    assert sorted(r["to"] for r in meeting["failed_replies"]) == ["ghana@un.int", "japan@un.int"]
    assert all("cannot reach the SMTP server" in r["last_error"] for r in meeting["failed_replies"])

    intake.smtp.start()
    resent = intake_command("replies", "resend", str(replies[0].id), config=config)

    assert resent.returncode == 0, resent.stderr
    [delivered] = intake.replies(1)
    assert delivered.message["Message-ID"] == replies[0].message_id


def _time_passes(intake: Intake) -> None:
    """The backoff has run out: every waiting reply is due now."""
    engine = make_engine(intake.settings.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.update(m.Reply).values(next_attempt_at=m.utcnow()))
    finally:
        engine.dispose()


# -- the database --------------------------------------------------------------------------------


def test_a_stopped_database_server_at_start_gives_one_line_and_touches_nothing(
    intake: Intake,
) -> None:
    """GIVEN the database server is down, WHEN cron runs Intake, THEN one line says so, the
    exit code is 1, and the mail stays in the inbox for the next run."""
    intake.deliver(
        samples.submission_email(mission_name="Japan", sender="japan@un.int", to=SUBMISSIONS),
        at=ny(2021, 5, 20, 10, 0),
    )
    config = intake.write_config(
        database={"url": f"postgresql+psycopg://intake@127.0.0.1:{free_port()}/intake"}
    )

    result = intake_command("run-once", config=config)

    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert "cannot use the database" in line
    assert len(intake.inbox) == 1
    assert intake.replies() == []


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_the_database_going_away_in_the_middle_of_a_run_loses_nothing(
    intake: Intake, report_figures: Report
) -> None:
    """GIVEN 60 messages and PostgreSQL, WHEN the database refuses connections and drops
    the worker's in the middle of a run, THEN the run ends with one line naming the
    database; nothing was held as broken; once the database is back the next run
    completes: every message filed once, every reply delivered once."""
    seeded = mixed_messages(60, tag="db-cut")
    with world(intake, "dbcut", mailbox={"batch_size": 10}, meetings=TWO_MEETINGS) as w:
        name = sa.engine.make_url(w.database_url).database
        seed(intake.dovecot, w.user, w.password, seeded)
        run = start_run(w.config, "stop:after_commit:15")
        wait_until_frozen(run)
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            try:
                _out, err = resume(run)
            finally:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

        assert run.returncode == 1, err
        [line] = error_lines(err)
        assert line.startswith("intake: error: lost the database at")
        records = ledger(w.database_url)
        assert 15 <= len(records) < 60
        assert not [r for r in records if r.reason == "internal_error"]

        again = intake_command("run-once", config=w.config)

        assert again.returncode == 0, again.stderr
        assert_everything_once(
            intake, w.user, w.password, w.database_url, seeded, report_figures, "database cut"
        )
