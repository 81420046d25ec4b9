"""A debate's accepted statements filed straight into a database and file store.

For tests of the compilation's form, which is about the document, not the mail: no
Dovecot, no worker, just the rows and files `intake compile` reads (the mail stories in
tests/test_compilation.py cover how they get there).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docx
from docx.enum.text import WD_BREAK
from docx.shared import RGBColor
from sqlmodel import select

from pipeline.configuration import parse_settings
from pipeline.settings.models import Settings
from pipeline.storage import models as m
from pipeline.storage.blobs import BlobStore
from pipeline.storage.db import session_scope
from pipeline.storage.prepare import prepare

RECEIVED = datetime(2021, 5, 21, 14, 0, tzinfo=UTC)
MEETING: dict[str, Any] = {
    "code": "PKO-SAFETY",
    "title": "United Nations peacekeeping operations: improving the safety and security of "
    "peacekeepers",
    "date": "2021-05-24",
    "president": "Zhang Jun",
    "presidency": "CHN",
}


@dataclass(frozen=True)
class Filed:
    """A statement as a delegation sent it: its mission, language and text."""

    mission: str  # "CIV"
    language: str  # "fr"
    title: str
    paragraphs: Sequence[str] = field(default_factory=tuple)
    pages: int = 1  # page breaks make a longer statement


def statement_docx(statement: Filed, *, themed_heading: bool = True) -> bytes:
    """A Word file as Word makes it: the title in "Heading 1" (blue by theme, as in
    Word's own template), a red word typed directly, the text, page breaks between pages."""
    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "CONFIDENTIAL DRAFT (the mission's header)"
    heading = document.add_heading(statement.title, 1)
    if not themed_heading:
        heading.style.font.color.rgb = None
    for page in range(statement.pages):
        if page:
            document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        for text in statement.paragraphs:
            paragraph = document.add_paragraph(text)
        emphasis = paragraph.add_run(" Never again.")
        emphasis.font.color.rgb = RGBColor(0xC0, 0x00, 0x00)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def file_debate(
    data_dir: Path, statements: Sequence[Filed], **meeting: Any
) -> tuple[Settings, BlobStore]:
    """A fresh SQLite database and file store holding `statements` as accepted
    submissions of PKO-SAFETY (configured as MEETING updated with `meeting`)."""
    settings = parse_settings(
        {"paths": {"data_dir": str(data_dir)}, "meetings": [{**MEETING, **meeting}]},
        environ={},
    )
    engine = prepare(settings)
    blobs = BlobStore(settings.storage_path)
    try:
        with session_scope(engine) as session:
            row = session.exec(select(m.Meeting)).one()
            missions = {mission.code: mission for mission in session.exec(select(m.Mission))}
            for number, statement in enumerate(statements, start=1):
                content = statement_docx(statement)
                record = m.MessageRecord(
                    mailbox="test",
                    uidvalidity=1,
                    uid=number,
                    raw_sha256=f"{number:064x}",
                    size=len(content),
                    received_at=RECEIVED,
                    outcome=m.MessageOutcome.ACCEPTED,
                    target_folder="Intake/Accepted",
                )
                session.add(record)
                session.flush()
                assert record.id is not None
                submission = m.Submission(
                    reference=f"PKO-SAFETY-{number:04d}",
                    meeting_id=row.id,
                    mission_id=missions[statement.mission].id,
                    message_record_id=record.id,
                    received_at=RECEIVED,
                    status=m.SubmissionStatus.ACCEPTED,
                    statement_language=statement.language,
                )
                session.add(submission)
                session.flush()
                assert submission.id is not None
                session.add(
                    m.Document(
                        submission_id=submission.id,
                        role=m.DocumentRole.STATEMENT,
                        filename="Statement.docx",
                        safe_name="Statement.docx",
                        sha256=blobs.put(content),
                        size=len(content),
                        detected_type="docx",
                    )
                )
    finally:
        engine.dispose()
    return settings, blobs
