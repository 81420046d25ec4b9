"""Real-world broken mail and Word files nobody here wrote: every one ends in a recorded
outcome, none crashes a run or stops the others.

The corpus lives outside the project (`../shared/corpus/`, see its README); these tests
skip when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.demo import samples
from pipeline.storage import models as m
from tests.conftest import SUBMISSIONS, Intake, ny


def _find_corpus() -> Path:
    """INTAKE_TEST_CORPUS, else ../shared/corpus beside the checkout, else the workplace's."""
    candidates = [
        os.environ.get("INTAKE_TEST_CORPUS", ""),
        str(Path(__file__).resolve().parents[2] / "shared" / "corpus"),
        "/work/shared/corpus",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return Path(candidates[1])


CORPUS = _find_corpus()
needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"the shared test corpus is not at {CORPUS}"
)


def corpus_mail() -> list[Path]:
    return sorted((CORPUS / "mail").rglob("*.eml")) if CORPUS.is_dir() else []


def corpus_word() -> list[Path]:
    return (
        sorted(
            p
            for p in (CORPUS / "word").rglob("*")
            if p.is_file()
            and p.suffix.lower() in (".doc", ".docx", ".docm", ".dotx", ".dot", ".rtf")
        )
        if CORPUS.is_dir()
        else []
    )


@needs_corpus
@pytest.mark.slow
def test_every_real_world_mail_gets_a_recorded_outcome(intake: Intake) -> None:
    files = corpus_mail()
    assert len(files) > 100
    for path in files:
        intake.deliver(path.read_bytes(), at=ny(2021, 5, 20, 10, 0))
    intake.deliver(
        samples.submission_email(mission_name="France", sender="france@un.int", to=SUBMISSIONS),
        at=ny(2021, 5, 20, 11, 0),
    )

    report = intake.run()

    ledger = intake.ledger()
    assert len(ledger) == len(files) + 1
    assert intake.inbox == []
    assert all(r.moved_at is not None for r in ledger)
    # The good submission among them is filed as usual.
    france = [row for row in intake.queue() if row.mission == "FRA"]
    assert [row.status for row in france] == ["accepted"]
    assert report.processed == len(files) + 1
    # Nothing needed a human because the code broke.
    assert [r for r in ledger if r.failed_stage is not None] == []


@needs_corpus
@pytest.mark.slow
def test_real_world_word_files_as_statements_never_break_the_run(intake: Intake) -> None:
    """Legacy, macro-enabled, encrypted, corrupt and odd .docx files from Apache POI."""
    files = corpus_word()
    assert len(files) > 100
    for index, path in enumerate(files):
        attachment = samples.Attachment(
            filename=path.name, content=path.read_bytes(), content_type="application/msword"
        )
        letter = samples.Attachment(
            filename="Cover letter.pdf",
            content=samples.cover_letter_pdf("Ghana"),
            content_type="application/pdf",
        )
        raw = samples.build_email(
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
    assert [r for r in records if r.failed_stage is not None] == []
    statuses = {row.status for row in intake.queue()}
    assert statuses <= {"accepted", "rejected", "superseded"}
    reasons = {reason for row in intake.queue() for reason in row.reasons}
    assert "statement_legacy_word" in reasons
    assert "statement_not_word" in reasons or "statement_unreadable" in reasons
    assert all(r.outcome is not m.MessageOutcome.HELD for r in records)
