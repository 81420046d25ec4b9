"""The service desk's morning and the operator's check: the daily digest and `intake health`.

Real Dovecot, real SMTP server, both databases. The mix of submissions is filed by real
runs; the digest is read as the desk receives it, from the test SMTP server.
`ops_command` runs the real `intake` command in a subprocess.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine

from pipeline.configuration import parse_settings
from pipeline.demo import samples
from pipeline.desk.digest import DigestResult, send_digest
from pipeline.desk.health import check_health
from pipeline.mailbox.imap import MailboxLoginFailed
from pipeline.replies.smtp import SmtpUnavailable
from pipeline.resources.reason_labels import reason_text
from pipeline.storage import models as m
from pipeline.storage.db import describe_url, make_engine
from pipeline.storage.prepare import prepare
from pipeline.worker.scheduler import build_scheduler
from tests.conftest import NEW_YORK, PKO_SAFETY, SUBMISSIONS, Intake, ny, text_of
from tests.helpers.commands import one_line

DESK = "servicedesk@intake.example"
ON_TIME = ny(2021, 5, 20, 10, 0)
UPCOMING = "UPCOMING-DEBATE"


def ops_command(
    *args: str, config: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real `intake` command, in a subprocess."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
    )


def submission(mission: str, sender: str, **kwargs: Any) -> bytes:
    return samples.submission_email(mission_name=mission, sender=sender, to=SUBMISSIONS, **kwargs)


def with_desk(intake: Intake, **desk: Any) -> None:
    """The desk's address, and a second open meeting whose deadline is tomorrow night."""
    tomorrow = (datetime.now(NEW_YORK) + timedelta(days=1)).date()
    intake.reconfigure(
        desk={"address": DESK, **desk},
        meetings=[
            dict(PKO_SAFETY),
            {"code": UPCOMING, "title": "An upcoming open debate", "date": tomorrow.isoformat()},
        ],
    )


def file_a_mix(intake: Intake) -> None:
    """Two runs: accepted, superseded, rejected, held; then one whose reply is refused."""
    intake.deliver(submission("France", "france@un.int", words=300), at=ny(2021, 5, 20, 9, 0))
    intake.deliver(submission("Ghana", "ghana@un.int", cover_letter=None), at=ON_TIME)
    intake.deliver(submission("Japan", "japan@un.int", subject="Our statement"), at=ON_TIME)
    intake.deliver(submission("France", "france@un.int", words=420), at=ny(2021, 5, 21, 9, 0))
    intake.run()
    intake.replies(4)
    intake.deliver(submission("Brazil", "brazil@un.int"), at=ON_TIME)
    intake.smtp.reject_with = (554, "5.7.1 Relay access denied")
    report = intake.run()
    intake.smtp.reject_with = None
    assert report.replies.failed == 1
    intake.smtp.clear()


def engine_for(intake: Intake) -> Engine:
    """The engine a worker uses: tables created, configuration loaded."""
    return prepare(intake.settings)


def send(intake: Intake) -> DigestResult:
    engine = engine_for(intake)
    try:
        return send_digest(engine, intake.settings)
    finally:
        engine.dispose()


def mail_to_desk(intake: Intake) -> list[Any]:
    return intake.replies_to(DESK)


# -- the digest -------------------------------------------------------------------------


def test_the_desk_receives_a_digest_of_what_was_filed_held_and_failed(intake: Intake) -> None:
    with_desk(intake)
    file_a_mix(intake)
    [held_row] = intake.queue(status=m.SubmissionStatus.HELD)

    result = send(intake)

    [mail] = intake.replies(1)
    assert mail.rcpt_tos == (DESK,)
    assert SUBMISSIONS in mail.message["From"]
    assert mail.message["To"] == DESK
    assert mail.message["Auto-Submitted"] == "auto-generated"
    assert mail.message["Message-ID"] == result.message_id
    assert mail.message["Subject"].endswith(": 5 new, 1 held, 1 failed reply")
    digest = result.digest
    [pko, unrouted] = digest.new
    assert (pko.meeting, pko.accepted, pko.rejected, pko.held, pko.superseded) == (
        "PKO-SAFETY",
        2,
        1,
        0,
        1,
    )
    assert (unrouted.meeting, unrouted.held, unrouted.held_references) == (
        None,
        1,
        [held_row.reference],
    )
    [held] = digest.held
    assert (held.reference, held.mission, held.sender) == (
        held_row.reference,
        "JPN",
        held_row.sender,
    )
    assert held.reasons == held_row.reasons != []
    [failed] = digest.failed_replies
    assert (failed.to, failed.kind) == ("brazil@un.int", "acknowledgement")
    assert [d.meeting for d in digest.deadlines] == [UPCOMING]
    assert [(n.meeting, n.missing, n.registered) for n in digest.not_submitted] == [
        (UPCOMING, 7, 7)
    ]

    body = str(mail.message.get_content())
    assert "Period: " in body
    assert not any(line.startswith((">", "From ")) for line in body.splitlines())
    text = text_of(mail)
    assert "New submissions since the last digest: 5" in text
    assert "accepted 2, rejected 1, held 0, superseded 1" in text
    assert f"held: {held_row.reference}" in text
    assert "Held for a decision by the desk: 1" in text
    assert f"{held_row.reference} JPN Japan <{held_row.sender}>" in text
    assert "; ".join(reason_text(held_row.reasons)) in text  # in words, not codes
    # It opens with what needs attention, each item with its next step.
    attention = text.split("New submissions since")[0]
    assert f"{held_row.reference} · Japan" in attention
    assert f"next: intake submissions accept {held_row.reference} --meeting CODE" in attention
    assert "Failed after 1 attempt(s): the SMTP server refused the message: 554" in attention
    assert "next: intake replies resend" in attention
    assert "Replies that failed to send: 1" in text
    assert "acknowledgement to brazil@un.int, 1 attempt(s)" in text
    assert "554" in text
    assert f"{UPCOMING} 7 of 7 registered missions" in text
    assert "New York time" in text

    as_json = json.loads(json.dumps(digest.as_json()))
    assert (as_json["new_total"], len(as_json["held"]), len(as_json["failed_replies"])) == (5, 1, 1)

    [run] = intake.rows(m.DigestRun)
    assert run.sent_to == DESK
    assert run.period_end - run.period_start == timedelta(hours=24)
    [event] = [e for e in intake.rows(m.AuditEvent) if e.kind is m.AuditKind.DIGEST_SENT]
    assert event.detail["message_id"] == result.message_id
    assert event.detail["new"] == 5


def test_a_second_digest_covers_only_what_is_new_but_still_lists_what_waits(
    intake: Intake,
) -> None:
    with_desk(intake)
    file_a_mix(intake)
    first = send(intake)

    second = send(intake)

    assert second.period_start == first.period_end
    assert second.digest.new_total == 0
    assert len(second.digest.held) == 1
    assert len(second.digest.failed_replies) == 1
    assert second.message_id != first.message_id
    _, mail = intake.replies(2)
    text = text_of(mail)
    assert "New submissions since the last digest: 0" in text
    assert "Held for a decision by the desk: 1" in text
    assert "Replies that failed to send: 1" in text
    assert len(intake.rows(m.DigestRun)) == 2


def test_a_digest_that_could_not_be_sent_is_not_recorded_and_the_next_covers_it_all(
    intake: Intake,
) -> None:
    with_desk(intake)
    intake.deliver(submission("France", "france@un.int"), at=ON_TIME)
    intake.run()
    intake.smtp.clear()
    first = send(intake)
    intake.deliver(submission("Ghana", "ghana@un.int", cover_letter=None), at=ON_TIME)
    intake.run()
    intake.smtp.stop()

    with pytest.raises(SmtpUnavailable, match="cannot reach the SMTP server"):
        send(intake)

    assert len(intake.rows(m.DigestRun)) == 1
    digests_sent = [e for e in intake.rows(m.AuditEvent) if e.kind is m.AuditKind.DIGEST_SENT]
    assert len(digests_sent) == 1
    intake.deliver(submission("Japan", "japan@un.int"), at=ON_TIME)
    intake.run()  # filed; its reply waits for the SMTP server

    intake.smtp.start()
    again = send(intake)

    assert again.period_start == first.period_end
    [pko] = again.digest.new
    assert (pko.accepted, pko.rejected) == (1, 1)
    assert len(intake.rows(m.DigestRun)) == 2
    assert len(mail_to_desk(intake)) == 2


def test_intake_digest_dry_run_prints_the_text_and_sends_nothing(intake: Intake) -> None:
    with_desk(intake)
    intake.deliver(submission("France", "france@un.int"), at=ON_TIME)
    intake.run()
    config = intake.write_config()

    result = ops_command("digest", "--dry-run", config=config)

    assert result.returncode == 0, result.stderr
    assert f"To: {DESK}" in result.stdout
    assert "Subject: Intake digest, " in result.stdout
    assert "accepted 1, rejected 0, held 0, superseded 0" in result.stdout
    assert "New York time" in result.stdout
    assert mail_to_desk(intake) == []
    assert intake.rows(m.DigestRun) == []

    sent = ops_command("digest", config=config)

    assert sent.returncode == 0, sent.stderr
    assert f"digest sent to {DESK}" in sent.stdout
    [mail] = mail_to_desk(intake)
    assert "accepted 1, rejected 0, held 0, superseded 0" in text_of(mail)
    assert len(intake.rows(m.DigestRun)) == 1


def test_intake_digest_says_in_one_line_when_it_cannot_send(intake: Intake) -> None:
    no_address = intake.write_config(intake.tmp_path / "no-desk.toml")
    with_desk(intake)
    intake.deliver(submission("France", "france@un.int"), at=ON_TIME)
    intake.run()
    config = intake.write_config()
    intake.smtp.stop()

    down = ops_command("digest", config=config)

    assert down.returncode == 1
    line = one_line(down.stderr)
    assert "cannot reach the SMTP server" in line
    assert "the next one covers this period" in line
    assert intake.rows(m.DigestRun) == []

    unconfigured = ops_command("digest", config=no_address)

    assert unconfigured.returncode == 2
    assert "set [desk] address" in one_line(unconfigured.stderr)


# -- the worker --------------------------------------------------------------------------


def test_the_worker_schedules_the_digest_at_the_desks_time_in_its_zone(tmp_path: Path) -> None:
    data: dict[str, Any] = {
        "database": {"url": f"sqlite:///{tmp_path / 'intake.db'}"},
        "desk": {"address": DESK, "digest_time": "06:45", "digest_timezone": "Europe/Zurich"},
    }
    engine = make_engine(data["database"]["url"])
    try:
        scheduler = build_scheduler(parse_settings(data, environ={}), engine)
        without = build_scheduler(parse_settings({**data, "desk": {}}, environ={}), engine)
    finally:
        engine.dispose()

    assert {job.id for job in scheduler.get_jobs()} == {"poll", "outbox", "digest"}
    trigger = scheduler.get_job("digest").trigger
    fields = {f.name: str(f) for f in trigger.fields}
    assert (fields["hour"], fields["minute"], fields["second"]) == ("6", "45", "0")
    assert trigger.timezone == ZoneInfo("Europe/Zurich")
    after = datetime(2021, 5, 20, 12, 0, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, after) == datetime(
        2021, 5, 21, 6, 45, tzinfo=ZoneInfo("Europe/Zurich")
    )
    assert {job.id for job in without.get_jobs()} == {"poll", "outbox"}


def test_workers_firing_at_the_same_time_send_one_digest(intake: Intake) -> None:
    """Several workers share the database; each has the job; the desk gets one mail."""
    with_desk(intake)
    intake.deliver(submission("France", "france@un.int"), at=ON_TIME)
    intake.run()
    engines = [engine_for(intake) for _ in range(3)]
    jobs = [build_scheduler(intake.settings, e).get_job("digest").func for e in engines]
    try:
        threads = [threading.Thread(target=job) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for engine in engines:
            engine.dispose()

    assert len(intake.rows(m.DigestRun)) == 1
    assert len(mail_to_desk(intake)) == 1


def test_a_failing_digest_job_logs_one_line_and_does_not_stop_the_worker(
    intake: Intake, caplog: pytest.LogCaptureFixture
) -> None:
    with_desk(intake)
    engine = engine_for(intake)
    job = build_scheduler(intake.settings, engine).get_job("digest").func
    intake.smtp.stop()
    try:
        with caplog.at_level(logging.ERROR, logger="pipeline.worker.scheduler"):
            job()  # returns: the scheduler keeps running
    finally:
        engine.dispose()

    [record] = [r for r in caplog.records if r.name == "pipeline.worker.scheduler"]
    assert "digest not sent" in record.getMessage()
    assert "cannot reach the SMTP server" in record.getMessage()
    assert intake.rows(m.DigestRun) == []


# -- intake health -------------------------------------------------------------------------


def health_lines(stdout: str) -> dict[str, tuple[str, str]]:
    """{name: (verdict, detail)} from `intake health`'s lines."""
    rows = {}
    for line in stdout.strip().splitlines():
        name, verdict, detail = line.split(maxsplit=2)
        rows[name] = (verdict, detail)
    return rows


def test_intake_health_is_ok_against_the_real_servers_after_a_run(intake: Intake) -> None:
    intake.deliver(submission("France", "france@un.int"), at=ON_TIME)
    intake.run()
    config = intake.write_config()

    result = ops_command("health", config=config)

    assert result.returncode == 0, result.stdout + result.stderr
    rows = health_lines(result.stdout)
    assert list(rows) == ["database", "imap", "smtp", "worker"]
    assert all(verdict == "ok" for verdict, _ in rows.values()), result.stdout
    assert rows["database"][1] == describe_url(intake.settings.database_url)
    assert intake.user in rows["imap"][1]
    assert rows["worker"][1].startswith("last successful run 0 min ago (")
    assert rows["worker"][1].endswith(" UTC)")

    as_json = ops_command("health", "--json", config=config)

    assert as_json.returncode == 0
    payload = json.loads(as_json.stdout)
    assert payload["ok"] is True
    assert [c["name"] for c in payload["components"]] == ["database", "imap", "smtp", "worker"]
    assert all(c["ok"] for c in payload["components"])


def test_intake_health_names_the_mailbox_when_its_password_is_wrong(intake: Intake) -> None:
    intake.deliver(submission("France", "france@un.int"), at=ON_TIME)
    intake.run()
    config = intake.write_config(mailbox={"password": "wrong"})

    result = ops_command("health", config=config)

    assert result.returncode == 1
    rows = health_lines(result.stdout)
    assert rows["imap"][0] == "FAIL"
    assert "refused the login" in rows["imap"][1]
    assert [name for name, (verdict, _) in rows.items() if verdict != "ok"] == ["imap"]

    as_json = ops_command("health", "--json", config=config)

    assert as_json.returncode == 1
    payload = json.loads(as_json.stdout)
    assert payload["ok"] is False
    assert {c["name"]: c["ok"] for c in payload["components"]} == {
        "database": True,
        "imap": False,
        "smtp": True,
        "worker": True,
    }


def test_intake_health_names_the_smtp_server_when_it_is_down(intake: Intake) -> None:
    intake.deliver(submission("France", "france@un.int"), at=ON_TIME)
    intake.run()
    config = intake.write_config()
    intake.smtp.stop()

    result = ops_command("health", config=config)

    assert result.returncode == 1
    rows = health_lines(result.stdout)
    assert rows["smtp"][0] == "FAIL"
    assert "cannot reach the SMTP server" in rows["smtp"][1]
    assert [name for name, (verdict, _) in rows.items() if verdict != "ok"] == ["smtp"]


def test_intake_health_names_the_worker_when_no_run_has_succeeded(intake: Intake) -> None:
    """The service was installed with a wrong password: the first run failed."""
    intake.reconfigure(mailbox={"password": "wrong"})
    with pytest.raises(MailboxLoginFailed):
        intake.run()
    intake.reconfigure(mailbox={"password": intake.password})
    config = intake.write_config()

    result = ops_command("health", config=config)

    assert result.returncode == 1
    rows = health_lines(result.stdout)
    assert [name for name, (verdict, _) in rows.items() if verdict != "ok"] == ["worker"]
    assert rows["worker"][1].startswith("no successful run recorded yet; the latest run failed")
    assert "refused the login" in rows["worker"][1]


def test_a_fresh_installation_is_not_healthy(intake: Intake) -> None:
    health = {c.name: c for c in check_health(intake.settings)}

    if intake.settings.database_url.startswith("sqlite"):
        # Reported, not created: the health check writes nothing.
        assert not health["database"].ok
        assert health["database"].detail.startswith("no database file at ")
        assert health["worker"].detail == "cannot tell: the database cannot be read"
        assert not Path(intake.settings.database_url.removeprefix("sqlite:///")).exists()
    else:
        assert health["database"].ok
        assert health["worker"].detail == "no run recorded yet (the database is empty)"
    assert not health["worker"].ok
    assert health["imap"].ok
    assert health["smtp"].ok


def test_the_worker_is_unhealthy_when_its_last_good_run_is_too_old(intake: Intake) -> None:
    intake.run()
    [run] = intake.rows(m.WorkerRun)
    assert run.finished_at is not None
    limit = intake.settings.desk.max_run_age_minutes

    recent = check_health(intake.settings, now=run.finished_at + timedelta(minutes=5))
    stale = check_health(intake.settings, now=run.finished_at + timedelta(minutes=limit + 1))

    [recent_worker] = [c for c in recent if c.name == "worker"]
    [stale_worker] = [c for c in stale if c.name == "worker"]
    assert recent_worker.ok
    assert recent_worker.detail.startswith("last successful run 5 min ago")
    assert not stale_worker.ok
    assert f"{limit + 1} min ago" in stale_worker.detail
    assert f"more than {limit} min" in stale_worker.detail
