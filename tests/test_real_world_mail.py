"""Real-world broken mail and Word files nobody here wrote: every one ends in a recorded
outcome, none crashes a run or stops the others.

The corpus lives outside the project (`../shared/corpus/`, see its README); these tests
skip when it is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.demo import samples
from pipeline.demo.letters import cover_letter_pdf
from pipeline.demo.mail import Attachment, build_email
from pipeline.documents.convert import find_libreoffice
from pipeline.storage import models as m
from tests.conftest import SUBMISSIONS, Intake, ny
from tests.helpers.corpus import CORPUS, needs_corpus


def corpus_mail() -> list[Path]:
    return sorted((CORPUS / "mail").rglob("*.eml")) if CORPUS.is_dir() else []


def corpus_word() -> list[Path]:
    """Every file of the Word corpus, whatever its name says: the bytes decide."""
    return sorted(p for p in (CORPUS / "word").rglob("*") if p.is_file()) if CORPUS.is_dir() else []


def as_from_registered_mission(raw: bytes, sender: str) -> bytes:
    """The same broken mail, as if a registered mission had sent it: its From header
    (first header block only) is replaced, everything else is left as broken as it was."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        head, found, body = raw.partition(separator)
        if found:
            break
    else:
        head, found, body = raw, b"", b""
    newline = b"\r\n" if b"\r\n" in head else b"\n"
    lines = head.split(newline)
    kept: list[bytes] = []
    skipping = False
    for line in lines:
        if line[:1] in (b" ", b"\t") and skipping:
            continue
        skipping = line.lower().startswith(b"from:")
        if not skipping:
            kept.append(line)
    return newline.join([b"From: Ghana <" + sender.encode() + b">", *kept]) + found + body


@needs_corpus
@pytest.mark.slow
def test_every_real_world_mail_from_a_mission_gets_a_recorded_outcome(intake: Intake) -> None:
    """Broken MIME, odd encodings, bounces, reports: about 140 real messages, each sent in
    the name of a registered mission, end filed with an outcome and a specific reason."""
    files = corpus_mail()
    assert len(files) > 100
    for path in files:
        raw = as_from_registered_mission(path.read_bytes(), "ghana@un.int")
        intake.deliver(raw, at=ny(2021, 5, 20, 10, 0))
    intake.deliver(
        samples.submission_email(mission_name="France", sender="france@un.int", to=SUBMISSIONS),
        at=ny(2021, 5, 20, 11, 0),
    )

    report = intake.run()

    ledger = intake.ledger()
    assert len(ledger) == len(files) + 1
    assert report.processed == len(files) + 1
    assert intake.inbox == []
    assert all(r.moved_at is not None for r in ledger)
    # Nothing needed a human because the code broke.
    assert [r.uid for r in ledger if r.failed_stage is not None] == []
    # Every rejection says why, with a specific reason.
    queue = intake.queue()
    assert all(row.reasons for row in queue if row.status == "rejected")
    # Most of them are statements from Ghana that lack a Word file and a cover letter.
    ghana = [row for row in queue if row.mission == "GHA"]
    assert len(ghana) > 80
    assert all(row.status in ("rejected", "superseded", "accepted") for row in ghana)
    # The good submission among them is filed as usual.
    france = [row for row in queue if row.mission == "FRA"]
    assert [row.status for row in france] == ["accepted"]


@needs_corpus
@pytest.mark.slow
def test_every_real_world_word_file_as_a_statement_gets_a_specific_outcome(
    intake: Intake,
) -> None:
    """Legacy, macro-enabled, encrypted, template, corrupt and odd files from Apache POI.

    It runs once, on SQLite: it tests the documents stage, and converting the legacy files
    takes about a minute."""
    if not intake.settings.database_url.startswith("sqlite"):
        pytest.skip("the Word corpus runs once, on SQLite (it tests documents, not storage)")
    files = corpus_word()
    assert len(files) > 150
    letter = Attachment(
        filename="Cover letter.pdf",
        content=cover_letter_pdf("Ghana"),
        content_type="application/pdf",
    )
    for index, path in enumerate(files):
        attachment = Attachment(
            filename=path.name, content=path.read_bytes(), content_type="application/msword"
        )
        raw = build_email(
            sender="ghana@un.int",
            to=SUBMISSIONS,
            subject=f"PKO-SAFETY statement {index}",
            attachments=[attachment, letter],
            message_id=f"<poi-{index}@un.int>",
        )
        intake.deliver(raw, at=ny(2021, 5, 20, 10, 0))

    intake.run()

    records = intake.ledger()
    assert len(records) == len(files)
    assert intake.inbox == []
    assert [r.uid for r in records if r.failed_stage is not None] == []
    queue = intake.queue()
    assert {row.status for row in queue} <= {"accepted", "rejected", "superseded"}
    assert all(row.reasons for row in queue if row.status == "rejected")
    reasons = {reason for row in queue for reason in row.reasons}
    for expected in (
        "statement_has_macros",
        "statement_encrypted",
        "statement_template",
        "statement_empty",
        "statement_unreadable",
    ):
        assert expected in reasons
    # Legacy .doc files were converted (LibreOffice) or the reply asks for .docx.
    if find_libreoffice() is not None:
        converted = intake.rows(m.Document)
        assert sum(d.role is m.DocumentRole.CONVERTED_STATEMENT for d in converted) > 50
    else:
        assert "statement_legacy_word" in reasons
