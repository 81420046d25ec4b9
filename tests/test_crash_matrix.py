"""The crash matrix: the real `intake run-once`, killed at every point in turn.

Operations' promise is that a message is never dropped, never filed twice and never
answered twice, whatever crashes where. Here 300 mixed messages (accepted, rejected,
held for the desk, auto-replies and bounces) wait in a real Dovecot; for each point of
`pipeline.faults` the real command is SIGKILLed there twice (at the 50th, then at
the 5th time the point is reached), then run without a fault until the mailbox is
drained and the outbox is empty. Then every message must have exactly one ledger entry
and at most one submission, sit in exactly one Intake folder, and every reply must have
been delivered exactly once. The one window no outbox can close, between the SMTP
server's 250 and recording it, may give a duplicate: it then carries the same Message-ID,
so the recipient's mail client shows it once.

The figures per scenario are printed (`pytest -s`) and written to
test-output/crash-matrix.txt.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from pipeline.demo import samples
from pipeline.demo.automatic import auto_reply_email
from pipeline.demo.mail import Attachment
from pipeline.devservers.smtp import CapturedMessage
from pipeline.faults import POINTS, Fault, FaultAction, FaultSpecError, parse_fault
from pipeline.storage import models as m
from pipeline.storage.blobs import BlobStore
from tests.conftest import PKO_SAFETY, SUBMISSIONS, Intake, Report, ny
from tests.helpers.commands import intake_command
from tests.helpers.mixed_mail import OUR_SERVER, Seeded, mixed_messages, seed
from tests.helpers.worlds import CHILDREN, EVERY_REPLY, World, folder_contents, world

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "test-output" / "crash-matrix.txt"

# Smaller or fewer for a quick look while working on the worker, e.g.
# INTAKE_CRASH_MESSAGES=60 INTAKE_CRASH_POINTS=after_commit,after_250.
MESSAGES = int(os.environ.get("INTAKE_CRASH_MESSAGES", "300"))
POINTS_TO_CRASH = os.environ.get("INTAKE_CRASH_POINTS", ",".join(POINTS)).split(",")
KILL_AT = (50, 5)  # the first faulty run dies at the 50th passage, the second at the 5th
STALE_CLAIM_S = 1
KILLED = -signal.SIGKILL


def open_replies(world: World) -> int:
    """Replies still to send: pending, or claimed and not finished."""
    engine = world.engine()
    try:
        with Session(engine) as session:
            rows = session.exec(
                select(m.Reply.id).where(
                    col(m.Reply.status).in_([m.ReplyStatus.PENDING, m.ReplyStatus.SENDING])
                )
            )
            return len(list(rows))
    finally:
        engine.dispose()


def run_until_drained(
    world: World, *, max_runs: int = 15
) -> list[subprocess.CompletedProcess[str]]:
    """`intake run-once` without a fault until a run finds nothing waiting and nothing
    is left to send (a claim left by a killed run is taken over after stale_claim)."""
    runs: list[subprocess.CompletedProcess[str]] = []
    for _ in range(max_runs):
        result = intake_command("run-once", config=world.config, timeout=300)
        runs.append(result)
        assert result.returncode == 0, result.stderr
        if result.stdout.startswith("intake: 0 waiting") and open_replies(world) == 0:
            return runs
        time.sleep(STALE_CLAIM_S)
    raise AssertionError(f"still not drained after {max_runs} runs: {runs[-1].stdout}")


# -- what must hold after any crash ----------------------------------------------------------


@dataclass
class Figures:
    point: str
    messages: int = 0
    kills: int = 0
    runs: int = 0
    ledger: int = 0
    filed_twice: int = 0
    submitted_twice: int = 0
    replies_expected: int = 0
    replies_delivered: int = 0
    duplicates: int = 0
    lost: int = 0
    seconds: float = 0.0

    HEADER = (
        f"{'point':<15} {'messages':>8} {'kills':>5} {'runs':>4} {'ledger':>6} "
        f"{'filed 2x':>8} {'subm. 2x':>8} {'replies':>7} {'delivered':>9} "
        f"{'duplicates':>10} {'lost':>4} {'seconds':>7}"
    )

    def line(self) -> str:
        return (
            f"{self.point:<15} {self.messages:>8} {self.kills:>5} {self.runs:>4} "
            f"{self.ledger:>6} {self.filed_twice:>8} {self.submitted_twice:>8} "
            f"{self.replies_expected:>7} {self.replies_delivered:>9} {self.duplicates:>10} "
            f"{self.lost:>4} {self.seconds:>7.1f}"
        )


def check_promise(
    world: World,
    seeded: Sequence[Seeded],
    replies: Sequence[CapturedMessage],
    figures: Figures,
    *,
    duplicates_allowed: int = 0,
) -> None:
    """Nothing dropped, nothing filed twice, nothing answered twice (but for a duplicate
    of the same Message-ID, where `duplicates_allowed`)."""
    by_id = {s.message_id: s for s in seeded}
    engine = world.engine()
    try:
        with Session(engine) as session:
            ledger = list(session.exec(select(m.MessageRecord)))
            submissions = list(session.exec(select(m.Submission)))
            reply_rows = list(session.exec(select(m.Reply)))
    finally:
        engine.dispose()

    figures.messages = len(seeded)
    figures.ledger = len(ledger)
    per_message = Counter(record.message_id for record in ledger)
    figures.filed_twice = sum(count - 1 for count in per_message.values() if count > 1)
    unfiled = [mid for mid in by_id if per_message[mid] == 0]
    record_message = {record.id: record.message_id for record in ledger}
    submitted = Counter(record_message[s.message_record_id] for s in submissions)
    figures.submitted_twice = sum(count - 1 for count in submitted.values() if count > 1)

    # Mailbox: nothing left in the inbox, every message in exactly one Intake folder.
    delimiter, folders = world.folders()
    in_folders = sum(len(uids) for name, uids in folders.items() if name != "INBOX")

    # Replies: each expected one delivered once (a same-Message-ID duplicate allowed).
    expected = {s.message_id for s in seeded if s.answered}
    figures.replies_expected = len(expected)
    delivered = Counter(str(r.message["Message-ID"]) for r in replies)
    figures.replies_delivered = len(delivered)
    figures.duplicates = sum(count - 1 for count in delivered.values() if count > 1)
    answered = Counter(
        (r.rcpt_tos, str(r.message["In-Reply-To"])) for r in replies
    )  # one thread per message
    ids_per_thread: dict[tuple[tuple[str, ...], str], set[str]] = {}
    for r in replies:
        key = (r.rcpt_tos, str(r.message["In-Reply-To"]))
        ids_per_thread.setdefault(key, set()).add(str(r.message["Message-ID"]))
    unanswered = expected - {in_reply_to for _rcpt, in_reply_to in answered}
    undelivered = [row for row in reply_rows if row.message_id not in delivered]
    figures.lost = len(unfiled) + len(unanswered) + len(undelivered) + len(seeded) - in_folders

    assert unfiled == []
    assert figures.filed_twice == 0
    assert figures.ledger == len(seeded)
    assert figures.submitted_twice == 0
    assert {record.message_id: record.outcome for record in ledger} == {
        s.message_id: s.outcome for s in seeded
    }
    assert all(record.moved_at is not None for record in ledger)
    assert folders.get("INBOX") == []
    assert in_folders == len(seeded)
    per_folder = Counter(record.target_folder.replace("/", delimiter) for record in ledger)
    assert {name: len(uids) for name, uids in folders.items() if uids} == dict(per_folder)
    accepted = Counter(
        (s.meeting_id, s.mission_id) for s in submissions if s.status is m.SubmissionStatus.ACCEPTED
    )
    assert all(count == 1 for count in accepted.values())
    assert len(reply_rows) == len(expected)
    assert all(row.status is m.ReplyStatus.SENT for row in reply_rows)
    assert undelivered == []
    assert unanswered == set()
    assert all(len(ids) == 1 for ids in ids_per_thread.values()), "a reply changed Message-ID"
    assert figures.duplicates <= duplicates_allowed
    assert figures.lost == 0


def record_figures(database: str, header: Sequence[str], point: str, line: str) -> None:
    """Keep this point's line in this database's table in test-output/crash-matrix.txt,
    every other line and table as it is. The points run in several test workers at once:
    the file is rewritten under a lock, and its lines follow the order of the points."""
    FIGURES.parent.mkdir(exist_ok=True)
    with FIGURES.with_suffix(".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        tables: dict[str, tuple[list[str], dict[str, str]]] = {}
        if FIGURES.exists():
            for block in FIGURES.read_text(encoding="utf-8").split("\n## ")[1:]:
                name, _, body = block.partition("\n")
                lines = body.rstrip("\n").split("\n")
                tables[name.strip()] = (lines[:2], {row.split()[0]: row for row in lines[2:]})
        rows = tables.get(database, ([], {}))[1]
        rows[point] = line
        tables[database] = (list(header), rows)
        text = "# Crash matrix (tests/test_crash_matrix.py)\n"
        for name in sorted(tables):
            head, by_point = tables[name]
            ordered = sorted(
                by_point, key=lambda p: POINTS.index(p) if p in POINTS else len(POINTS)
            )
            text += f"\n## {name}\n" + "\n".join([*head, *(by_point[p] for p in ordered)]) + "\n"
        FIGURES.write_text(text, encoding="utf-8")


# -- the matrix ------------------------------------------------------------------------------


# One test per point, each in its own xdist group: the points run side by side in the
# test workers rather than one after the other (tests/conftest.py, deploy/test.sh).
@pytest.mark.parametrize(
    "point",
    [pytest.param(p, marks=pytest.mark.xdist_group(f"crash-matrix-{p}")) for p in POINTS_TO_CRASH],
)
def test_a_run_killed_anywhere_loses_nothing_and_files_and_answers_everything_once(
    intake: Intake, report_figures: Report, point: str
) -> None:
    """GIVEN 300 mixed messages in the mailbox, WHEN `intake run-once` is SIGKILLed at this
    point (twice), then run again until done, THEN every message is filed once, moved
    once and answered once."""
    seeded = mixed_messages(MESSAGES)
    database = "postgresql" if intake.settings.database_url.startswith("postgresql") else "sqlite"
    header = [
        f"{MESSAGES} messages, batch_size 10, killed at passage {KILL_AT[0]} then {KILL_AT[1]}",
        Figures.HEADER,
    ]
    report_figures(f"crash matrix on {database}: {header[0]}")
    report_figures(Figures.HEADER)
    figures = Figures(point)
    started = time.monotonic()
    intake.smtp.clear()
    with world(
        intake,
        point.replace("_", ""),
        mailbox={"batch_size": 10},
        worker={"stale_claim": STALE_CLAIM_S},
        meetings=[dict(PKO_SAFETY), dict(CHILDREN)],
    ) as w:
        seed(intake.dovecot, w.user, w.password, seeded)
        for occurrence in KILL_AT:
            faulty = intake_command(
                "run-once",
                config=w.config,
                env={"INTAKE_FAULT": f"{point}:{occurrence}"},
                timeout=300,
            )
            figures.runs += 1
            if faulty.returncode == KILLED:
                figures.kills += 1
                assert f"fault injected: SIGKILL at {point}" in faulty.stderr
            else:
                assert faulty.returncode == 0, faulty.stderr
        figures.runs += len(run_until_drained(w))
        # The runs have exited: the capture server stored every reply before answering 250.
        replies = intake.smtp.messages
        figures.seconds = time.monotonic() - started
        check_promise(
            w,
            seeded,
            replies,
            figures,
            duplicates_allowed=figures.kills if point == "after_250" else 0,
        )
    assert figures.kills >= 1, f"{point} was never reached"
    report_figures(figures.line())
    record_figures(database, header, point, figures.line())


def test_the_figures_file_keeps_each_databases_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each point of each database replaces only its own line, whatever order the
    workers finish in; the lines follow the order of the points."""
    target = tmp_path / "crash-matrix.txt"
    monkeypatch.setattr(sys.modules[__name__], "FIGURES", target)
    head = ["300 messages", "point messages"]

    record_figures("sqlite", head, "after_250", "after_250 first")
    record_figures("postgresql", head, "after_fetch", "after_fetch pg")
    record_figures("sqlite", head, "after_fetch", "after_fetch sqlite")
    record_figures("sqlite", head, "after_250", "after_250 again")

    text = target.read_text(encoding="utf-8")
    assert text.split("\n## ")[1:] == [
        "postgresql\n300 messages\npoint messages\nafter_fetch pg\n",
        "sqlite\n300 messages\npoint messages\nafter_fetch sqlite\nafter_250 again\n",
    ]


# -- messages that would take the worker down with them ------------------------------------


def test_a_message_that_kills_every_worker_is_quarantined_and_the_others_flow(
    intake: Intake,
) -> None:
    """GIVEN 20 messages, one of which kills any worker that parses it, WHEN cron keeps
    running `intake run-once`, THEN the others are filed and answered by the second run,
    the poison message is quarantined (held, reason `quarantined`, failed stage `parse`)
    after `worker.max_crashes` (3) deaths and its sender told it is under review; AND
    once the cause is fixed, `intake messages retry` files it, answers it and moves it."""
    seeded = mixed_messages(20, tag="poison")
    poison = seeded[6]
    assert poison.outcome is m.MessageOutcome.ACCEPTED
    seed(intake.dovecot, intake.user, intake.password, seeded)
    config = intake.write_config(
        mailbox={"batch_size": 5},
        replies=EVERY_REPLY,
        authentication={"authserv_id": OUR_SERVER},
        meetings=[dict(PKO_SAFETY), dict(CHILDREN)],
    )
    fault = {"INTAKE_FAULT": f"after_parse@{poison.message_id}"}

    first = intake_command("run-once", config=config, env=fault)
    second = intake_command("run-once", config=config, env=fault)

    assert (first.returncode, second.returncode) == (KILLED, KILLED)
    filed = {record.message_id for record in intake.ledger()}
    assert filed == {s.message_id for s in seeded} - {poison.message_id}
    assert len(intake.inbox) == 1  # only the poison message is left
    others = {s.message_id for s in seeded if s.answered and s is not poison}
    answered = {str(r.message["In-Reply-To"]) for r in intake.replies(len(others))}
    assert answered == others

    third = intake_command("run-once", config=config, env=fault)
    fourth = intake_command("run-once", config=config, env=fault)

    assert third.returncode == KILLED
    assert fourth.returncode == 0, fourth.stderr
    assert "1 waiting, 1 held" in fourth.stdout
    [record] = [r for r in intake.ledger() if r.message_id == poison.message_id]
    assert (record.outcome, record.reason, record.failed_stage) == (
        m.MessageOutcome.HELD,
        "quarantined",
        m.Stage.PARSE,
    )
    assert record.error is not None
    assert "3 attempts stopped the worker" in record.error
    assert intake.inbox == []
    assert len(intake.folder("Intake/Held")) == 1 + sum(
        1 for s in seeded if s.outcome is m.MessageOutcome.HELD
    )
    [notice] = [r for r in intake.replies() if r.message["In-Reply-To"] == poison.message_id]
    assert "could not process the message automatically" in " ".join(
        str(notice.message.get_content()).split()
    )
    [row] = [q for q in intake.queue() if q.reasons == ["quarantined"]]

    retried = intake_command("messages", "retry", config=config)

    assert retried.returncode == 0, retried.stderr
    assert f"{row.reference}: accepted" in retried.stdout
    answers = [r for r in intake.replies() if r.message["In-Reply-To"] == poison.message_id]
    assert len(answers) == 2
    assert str(answers[1].message["Subject"]).strip().startswith("Accepted:")
    delimiter, folders = folder_contents(intake.dovecot, intake.user, intake.password)
    held = folders[f"Intake{delimiter}Held"]
    assert len(held) == sum(1 for s in seeded if s.outcome is m.MessageOutcome.HELD)
    assert len(intake.ledger()) == len(seeded)


def test_a_message_over_the_size_limit_is_answered_from_its_header_without_downloading_it(
    intake: Intake,
) -> None:
    """GIVEN `max_message_mb = 1`, WHEN France sends a 2.7 MB message (a 2 MB annex), THEN
    only its header is downloaded, it is rejected (`message_too_large`, with its size and
    the limit) and moved to the rejected folder, France is told so once; an out-of-office
    of the same size is ignored without a reply; a normal statement is accepted."""
    annex = Attachment("annex.bin", os.urandom(2_000_000), "application/octet-stream")
    big = samples.submission_email(
        mission_name="France",
        sender="france@un.int",
        to=SUBMISSIONS,
        words=50,
        extra_attachments=[annex],
        message_id="<big@diplomatie.gouv.fr>",
    )
    big_auto_reply = auto_reply_email(
        sender="japan@un.int",
        to=SUBMISSIONS,
        original_subject="Hello",
        body="Out of office.\n" + "x" * 2_000_000,
        message_id="<big-auto@un.int>",
    )
    normal = samples.submission_email(
        mission_name="Ghana", sender="ghana@un.int", to=SUBMISSIONS, words=50
    )
    for raw in (big, big_auto_reply, normal):
        intake.deliver(raw, at=ny(2021, 5, 20, 10, 0))
    intake.reconfigure(limits={"max_message_mb": 1})

    report = intake.run()

    assert dict(report.filed) == {"accepted": 1, "rejected": 1, "ignored": 1}
    records = {r.message_id: r for r in intake.ledger()}
    rejected = records["<big@diplomatie.gouv.fr>"]
    assert (rejected.outcome, rejected.reason) == (m.MessageOutcome.REJECTED, "message_too_large")
    assert rejected.size > 2_000_000
    stored = BlobStore(intake.settings.storage_path).get(rejected.raw_sha256)
    assert len(stored) < 20_000  # the header, not the message
    assert records["<big-auto@un.int>"].outcome is m.MessageOutcome.IGNORED
    assert intake.inbox == []
    assert len(intake.folder("Intake/Rejected")) == 1
    replies = intake.replies(2)
    assert len(intake.delivered()) == 2
    [rejection] = intake.replies_to("france@un.int")
    text = " ".join(str(rejection.message.get_content()).split())
    assert "The message is 2.7 MB, more than the 1 MB this mailbox accepts" in text
    assert intake.replies_to("japan@un.int") == []
    assert len(replies) == 2


def test_intake_fault_names_a_point_a_count_or_a_message_and_refuses_typos() -> None:
    """The crash tests depend on INTAKE_FAULT meaning what they say: a typo must fail
    loudly, never inject nothing and let a test pass."""
    assert parse_fault("after_commit") == Fault("after_commit", 1)
    assert parse_fault("after_commit:3") == Fault("after_commit", 3)
    assert parse_fault("after_parse@<a:b@example.org>") == Fault(
        "after_parse", None, "<a:b@example.org>"
    )
    assert parse_fault("stop:after_move:2") == Fault("after_move", 2, action=FaultAction.STOP)
    for wrong in ("after_comit:3", "after_commit:0", "after_commit:x", "after_parse@", "pause"):
        with pytest.raises(FaultSpecError):
            parse_fault(wrong)
