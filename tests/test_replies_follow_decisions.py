"""A delegation only ever hears the decision that stands.

The desk changes its mind while replies still wait in the outbox (the SMTP server is
down, a worker is halfway through sending); a worker dies holding replies. Every story
runs the real `intake` commands against the real Dovecot, SMTP server and database, and
looks at what the delegation received.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from pipeline.demo import samples
from pipeline.storage import models as m
from tests.conftest import SUBMISSIONS, Intake, ny
from tests.helpers.commands import intake_command, one_line
from tests.helpers.runs import resume, start_run, wait_until_frozen

ON_TIME = ny(2021, 5, 20, 10, 0)
GHANA = "ghana@un.int"
JAPAN = "japan@un.int"


def statement_from(mission: str, sender: str, **options: Any) -> bytes:
    return samples.submission_email(mission_name=mission, sender=sender, to=SUBMISSIONS, **options)


def desk(config: Path, *words: str) -> str:
    """A desk command as the desk types it; its one line of output."""
    result = intake_command(*words, "--by", "desk officer", config=config)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def reference_of(intake: Intake, mission: str) -> str:
    [row] = [row for row in intake.queue() if row.mission == mission]
    return row.reference


def subjects_received(intake: Intake, address: str) -> list[str]:
    return [" ".join(str(reply.message["Subject"]).split()) for reply in intake.replies_to(address)]


def replies_of(intake: Intake, reference: str) -> list[m.Reply]:
    [submission] = [s for s in intake.rows(m.Submission) if s.reference == reference]
    return sorted(
        (r for r in intake.rows(m.Reply) if r.submission_id == submission.id), key=lambda r: r.id
    )


def test_a_rejection_waiting_for_smtp_is_never_sent_once_the_desk_accepts(intake: Intake) -> None:
    """The desk rejects while the SMTP server is down, then accepts without notifying:
    the waiting rejection is cancelled, and Ghana never reads "could not be accepted"
    about a statement that is accepted."""
    intake.deliver(statement_from("Ghana", GHANA), at=ON_TIME)
    intake.run()
    assert subjects_received(intake, GHANA)[0].startswith("Accepted:")
    intake.smtp.clear()
    config = intake.write_config()
    reference = reference_of(intake, "GHA")

    intake.smtp.stop()
    rejected = intake_command(
        "submissions", "reject", reference, "--reason", "Signed by another delegation",
        "--by", "desk officer", config=config,
    )  # fmt: skip
    assert rejected.returncode == 0, rejected.stderr
    assert "stays queued" in rejected.stderr
    accepted = desk(
        config, "submissions", "accept", reference, "--reason", "Confirmed by phone", "--no-notify"
    )
    intake.smtp.start()
    intake.run()

    assert "cancelled the earlier reply that had not gone out" in accepted
    assert subjects_received(intake, GHANA) == []
    rejection = replies_of(intake, reference)[-1]
    assert rejection.kind is m.ReplyKind.REJECTION
    assert rejection.status is m.ReplyStatus.CANCELLED
    assert rejection.sent_at is None
    assert rejection.cancel_reason is not None
    assert "desk's decision (accepted, by desk officer)" in rejection.cancel_reason
    events = [e for e in intake.rows(m.AuditEvent) if e.kind is m.AuditKind.REPLY_CANCELLED]
    assert [e.detail["reply_id"] for e in events] == [rejection.id]
    listed = json.loads(
        intake_command("replies", "list", "--status", "cancelled", "--json", config=config).stdout
    )
    assert [row["id"] for row in listed] == [rejection.id]
    assert "desk's decision" in listed[0]["cancel_reason"]


def test_a_submission_held_then_accepted_hears_only_accepted_after_review(
    intake: Intake,
) -> None:
    """SMTP is down all along: the acknowledgement, then the desk's "under review"
    notice, wait in the outbox. The desk accepts after review; when SMTP is back, Japan
    receives that one reply, not the two that no longer hold."""
    config = intake.write_config()
    intake.smtp.stop()
    intake.deliver(statement_from("Japan", JAPAN), at=ON_TIME)
    intake.run()
    reference = reference_of(intake, "JPN")

    desk(config, "submissions", "hold", reference, "--reason", "Checking the signature")
    desk(config, "submissions", "accept", reference, "--reason", "Signature confirmed")
    intake.smtp.start()
    intake.run()

    [subject] = subjects_received(intake, JAPAN)
    assert subject.startswith("Accepted after review:")
    statuses = [(r.kind, r.status) for r in replies_of(intake, reference)]
    assert statuses == [
        (m.ReplyKind.ACKNOWLEDGEMENT, m.ReplyStatus.CANCELLED),
        (m.ReplyKind.HELD, m.ReplyStatus.CANCELLED),
        (m.ReplyKind.ACKNOWLEDGEMENT, m.ReplyStatus.SENT),
    ]


def test_a_held_message_retried_after_a_fix_cancels_its_under_review_notice(
    intake: Intake,
) -> None:
    """Ambiguous until the desk's fix: the automatic refile decides anew, and the
    "under review" notice still waiting for SMTP is not sent after the new answer."""
    intake.reconfigure(
        meetings=[
            intake.config_data["meetings"][0],
            {"code": "WPS-2021", "title": "Women and peace and security", "date": "2021-10-21"},
        ]
    )
    intake.smtp.stop()
    intake.deliver(statement_from("Japan", JAPAN, subject="Our statement"), at=ON_TIME)
    intake.run()
    reference = reference_of(intake, "JPN")
    assert replies_of(intake, reference)[0].kind is m.ReplyKind.HELD

    config = intake.write_config()
    desk(config, "meetings", "close", "WPS-2021")  # the fix: only PKO-SAFETY is open now
    retried = intake_command("messages", "retry", reference, config=config)
    assert retried.returncode == 0, retried.stderr
    intake.smtp.start()
    intake.run()

    [subject] = subjects_received(intake, JAPAN)
    assert subject.startswith("Accepted:")
    assert [r.status for r in replies_of(intake, reference)] == [
        m.ReplyStatus.CANCELLED,
        m.ReplyStatus.SENT,
    ]


def test_the_desk_cancels_one_reply_and_sees_exactly_what_would_have_gone(
    intake: Intake,
) -> None:
    config = intake.write_config()
    intake.smtp.stop()
    intake.deliver(statement_from("Ghana", GHANA), at=ON_TIME)
    intake.run()
    [waiting] = intake.rows(m.Reply)

    shown = intake_command("replies", "show", str(waiting.id), config=config)
    cancelled = desk(config, "replies", "cancel", str(waiting.id), "--reason", "Sent by hand")
    again = intake_command("replies", "cancel", str(waiting.id), "--reason", "twice", config=config)
    intake.smtp.start()
    intake.run()

    assert shown.returncode == 0, shown.stderr
    assert "waiting to be sent" in shown.stderr or "to be tried again" in shown.stderr
    assert f"Message-ID: {waiting.message_id}" in shown.stdout
    assert f"To: {GHANA}" in shown.stdout
    assert f"Subject: {waiting.subject}" in shown.stdout
    assert "Auto-Submitted: auto-replied" in shown.stdout
    assert waiting.body.strip() in shown.stdout
    assert "cancelled; it will not be sent" in cancelled
    assert again.returncode == 1
    assert "is cancelled already" in one_line(again.stderr)
    assert subjects_received(intake, GHANA) == []
    [row] = intake.rows(m.Reply)
    assert row.status is m.ReplyStatus.CANCELLED
    assert row.cancel_reason == "cancelled by desk officer: Sent by hand"
    after = intake_command("replies", "show", str(waiting.id), config=config)
    assert "cancelled, never sent: cancelled by desk officer: Sent by hand" in after.stderr


def test_a_sent_reply_cannot_be_cancelled_and_an_outdated_one_cannot_be_resent(
    intake: Intake,
) -> None:
    intake.deliver(statement_from("Ghana", GHANA), at=ON_TIME)
    intake.run()
    config = intake.write_config()
    reference = reference_of(intake, "GHA")
    [acknowledgement] = intake.rows(m.Reply)
    desk(config, "submissions", "reject", reference, "--reason", "Wrong meeting")

    too_late = intake_command(
        "replies", "cancel", str(acknowledgement.id), "--reason", "oops", config=config
    )
    resent = intake_command("replies", "resend", str(acknowledgement.id), config=config)

    assert too_late.returncode == 1
    assert "was sent" in one_line(too_late.stderr)
    assert "cannot be recalled" in one_line(too_late.stderr)
    assert resent.returncode == 1
    assert "would contradict that decision" in one_line(resent.stderr)
    assert [s.split(":")[0] for s in subjects_received(intake, GHANA)] == [
        "Accepted",
        "Not accepted after review",
    ]


# -- while a worker is halfway through sending -----------------------------------------------


def test_a_reply_claimed_before_the_desk_changed_its_mind_is_cancelled_not_sent(
    intake: Intake,
) -> None:
    """A run has claimed both acknowledgements and is frozen in the middle of sending the
    first. The desk rejects the second submission meanwhile: that acknowledgement is
    not the desk's to cancel (a worker holds it), but the worker checks it again before
    sending and cancels it. Japan receives the rejection only."""
    intake.deliver(statement_from("Ghana", GHANA), at=ON_TIME)
    intake.deliver(statement_from("Japan", JAPAN), at=ON_TIME)
    config = intake.write_config()
    sender = start_run(config, "stop:in_smtp")
    wait_until_frozen(sender)
    reference = reference_of(intake, "JPN")

    desk(config, "submissions", "reject", reference, "--reason", "Not signed by the PR")
    _out, err = resume(sender)
    intake.run()

    assert sender.returncode == 0, err
    assert [s.split(":")[0] for s in subjects_received(intake, GHANA)] == ["Accepted"]
    assert [s.split(":")[0] for s in subjects_received(intake, JAPAN)] == [
        "Not accepted after review"
    ]
    acknowledgement = replies_of(intake, reference)[0]
    assert acknowledgement.status is m.ReplyStatus.CANCELLED
    assert acknowledgement.cancel_reason == "replaced by a later decision"


def test_replies_of_one_submission_leave_in_order_and_a_live_claim_is_never_taken(
    intake: Intake,
) -> None:
    """A run is frozen halfway through sending Ghana's acknowledgement. The desk rejects
    the submission; neither the desk's command nor another run, long after
    `stale_claim`, sends anything while the first run lives. When it resumes, Ghana
    receives the acknowledgement, then the rejection: in the order they were written."""
    intake.deliver(statement_from("Ghana", GHANA), at=ON_TIME)
    config = intake.write_config(worker={"stale_claim": "PT1S"})
    sender = start_run(config, "stop:in_smtp")
    wait_until_frozen(sender)
    reference = reference_of(intake, "GHA")

    decided = desk(config, "submissions", "reject", reference, "--reason", "Wrong meeting")
    time.sleep(1.5)
    other = intake_command("run-once", config=config)
    assert other.returncode == 0, other.stderr
    assert subjects_received(intake, GHANA) == []
    _out, err = resume(sender)
    intake.reconfigure(worker={"stale_claim": "PT1S"})
    intake.run()

    assert "reply queued" in decided
    assert sender.returncode == 0, err
    assert [s.split(":")[0] for s in subjects_received(intake, GHANA)] == [
        "Accepted",
        "Not accepted after review",
    ]


# -- a worker that dies holding replies -------------------------------------------------------


def test_replies_claimed_by_a_killed_run_go_out_with_the_next_run_not_minutes_later(
    intake: Intake,
) -> None:
    """SIGKILL in the middle of the SMTP conversation leaves both replies claimed by a
    process that no longer exists. The next run, a moment later and with the default
    ten-minute `stale_claim`, sees that and sends them: each delegation gets its reply,
    once."""
    intake.deliver(statement_from("Ghana", GHANA), at=ON_TIME)
    intake.deliver(statement_from("Japan", JAPAN), at=ON_TIME)
    config = intake.write_config()
    killed = start_run(config, "in_smtp")
    killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL
    assert {r.status for r in intake.rows(m.Reply)} == {m.ReplyStatus.SENDING}

    for _ in range(20):  # PostgreSQL ends the dead session within moments
        result = intake_command("run-once", config=config)
        assert result.returncode == 0, result.stderr
        if all(r.status is m.ReplyStatus.SENT for r in intake.rows(m.Reply)):
            break
        time.sleep(0.25)

    assert [s.split(":")[0] for s in subjects_received(intake, GHANA)] == ["Accepted"]
    assert [s.split(":")[0] for s in subjects_received(intake, JAPAN)] == ["Accepted"]
    released = [e for e in intake.rows(m.AuditEvent) if e.kind is m.AuditKind.CLAIM_RELEASED]
    assert len(released) == 2
    assert {e.detail["why"] for e in released} == {"claimant_dead"}


def test_a_claim_whose_process_is_gone_is_told_from_one_whose_pid_was_reused(
    tmp_path: Path,
) -> None:
    """The same-host test looks at more than the PID: a new process that happens to get
    the dead claimant's PID does not keep its claims alive."""
    from pipeline.replies import claims

    me = claims._process_token(os.getpid())
    assert me is not None
    host, boot, pid, start = me.rsplit(":", 3)
    other_start = str(int(start) + 1)

    parent = claims._process_token(os.getppid())
    assert parent is not None
    connection: Any = None
    reused_pid = f"local:{host}:{boot}:{os.getppid()}:{other_start}:abc"
    rebooted = f"local:{host}:another-boot:{os.getppid()}:{start}:abc"
    assert claims.alive(f"local:{parent}:abc", connection) is True
    assert claims.alive(reused_pid, connection) is False
    assert claims.alive(rebooted, connection) is False
    assert claims.alive(f"local:another-host:{boot}:{pid}:{start}:abc", connection) is None
    assert claims.alive(f"local:{me}:finished-pass", connection) is False
