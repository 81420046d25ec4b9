"""The real `intake run-once` frozen at a fault point (`INTAKE_FAULT`, `pipeline.faults`)
and resumed, and the promise that must hold after: every message filed once, in one
folder, every reply delivered once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from sqlmodel import Session, col, select

from pipeline.storage import models as m
from pipeline.storage.db import make_engine
from tests.conftest import Intake, Report
from tests.helpers.mixed_mail import Seeded
from tests.helpers.worlds import folder_contents


def start_run(config: Path, fault: str) -> subprocess.Popen[str]:
    """`intake run-once` in the background, carrying a fault."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    environment["INTAKE_FAULT"] = fault
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--config", str(config), "run-once"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until_frozen(process: subprocess.Popen[str], timeout: float = 120) -> None:
    """Until the process stopped itself at its fault point (state T in /proc)."""
    deadline = time.monotonic() + timeout
    stat = Path(f"/proc/{process.pid}/stat")
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the run ended before its fault: {process.communicate()}")
        fields = stat.read_text().rsplit(")", 1)[1].split()
        if fields[0] == "T":
            return
        time.sleep(0.05)
    raise AssertionError("the run never reached its fault point")


def resume(process: subprocess.Popen[str]) -> tuple[str, str]:
    os.kill(process.pid, signal.SIGCONT)
    return process.communicate(timeout=120)


def ledger(url: str) -> list[m.MessageRecord]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(m.MessageRecord).order_by(col(m.MessageRecord.id))))
    finally:
        engine.dispose()


def assert_everything_once(
    intake: Intake,
    user: str,
    password: str,
    url: str,
    seeded: Sequence[Seeded],
    report: Report,
    label: str,
    *,
    inbox: str = "INBOX",
) -> None:
    """Every message filed once, out of the inbox and in one Intake folder; every reply
    that should exist delivered once. The figures go to the run's summary."""
    records = ledger(url)
    filed = Counter(r.message_id for r in records)
    _delimiter, folders = folder_contents(intake.dovecot, user, password)
    placed = sum(len(uids) for name, uids in folders.items() if name != inbox)
    time.sleep(0.3)  # a duplicate would arrive right after
    replies = intake.smtp.messages
    expected = {s.message_id for s in seeded if s.answered}
    answered = Counter(str(r.message["In-Reply-To"]) for r in replies)
    duplicates = sum(c - 1 for c in filed.values()) + sum(c - 1 for c in answered.values())
    lost = (
        len({s.message_id for s in seeded} - set(filed))
        + len(folders[inbox])
        + len(expected - set(answered))
    )
    report(
        f"{label}: {len(seeded)} messages, {len(records)} filed, {len(replies)} of "
        f"{len(expected)} replies delivered; duplicates {duplicates}, lost {lost}"
    )
    assert filed == Counter(s.message_id for s in seeded)
    assert folders[inbox] == []
    assert placed == len(seeded)
    assert answered == Counter(expected)
    assert len({str(r.message["Message-ID"]) for r in replies}) == len(replies)
