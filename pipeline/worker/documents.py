"""A filed submission's documents: one row per attachment under a safe unique name, the
converted statement, and what later stages need from them stored with the submission."""

from __future__ import annotations

from sqlmodel import Session, col, select

from pipeline.checks.facts import Facts
from pipeline.replies.compose import FiledFile
from pipeline.storage import models as m
from pipeline.storage.blobs import safe_filename


def record_details(submission: m.Submission, facts: Facts) -> None:
    """What later stages need from the documents, stored with the submission."""
    reading = facts.statement
    if reading is not None and reading.text is not None:
        submission.word_count = reading.measured
        submission.length_unit = reading.unit
        submission.statement_language = reading.language
        submission.statement_title = reading.text.title
        submission.statement_pages = reading.text.pages
    letter = facts.letter
    if letter is not None:
        check = letter.check
        submission.letter_mission_name = check.mission_name
        submission.letter_signatory = check.signatory
        submission.letter_pages = letter.pages
        submission.letter_verified = (
            (check.addressed_to_president and check.signatory is not None)
            if check.verifiable
            else None
        )


def has_documents(session: Session, submission_id: int) -> bool:
    return (
        session.exec(select(m.Document).where(m.Document.submission_id == submission_id)).first()
        is not None
    )


def filed_files(session: Session, submission_id: int) -> list[FiledFile]:
    """The statement and cover letter stored with a submission before, for its reply."""
    return [
        FiledFile(d.role.value, d.filename)
        for d in session.exec(
            select(m.Document)
            .where(m.Document.submission_id == submission_id)
            .order_by(col(m.Document.id))
        )
        if d.role in (m.DocumentRole.STATEMENT, m.DocumentRole.COVER_LETTER)
    ]


def unique_name(name: str, used: set[str]) -> str:
    """`name`, numbered when a name in `used` (case ignored) has it; added to `used`."""
    unique, counter = name, 1
    while unique.lower() in used:
        counter += 1
        stem, dot, ext = name.rpartition(".")
        unique = f"{stem}-{counter}.{ext}" if dot else f"{name}-{counter}"
    used.add(unique.lower())
    return unique


def store_documents(
    session: Session,
    submission_id: int,
    facts: Facts,
    digests: list[str],
    converted_digest: str | None,
) -> list[FiledFile]:
    """One row per attachment (declared and detected type), plus the converted statement."""
    roles: dict[int, m.DocumentRole] = {}
    for document in facts.documents.statements:
        roles[document.index] = m.DocumentRole.STATEMENT
    for document in facts.documents.cover_letters:
        roles[document.index] = m.DocumentRole.COVER_LETTER
    types = {d.index: d.file_type.value for d in facts.documents.all}
    used: set[str] = set()
    files: list[FiledFile] = []
    rows: dict[int, m.Document] = {}
    for index, (attachment, digest) in enumerate(
        zip(facts.message.attachments, digests, strict=True)
    ):
        role = roles.get(index, m.DocumentRole.OTHER)
        unique = unique_name(safe_filename(attachment.filename, fallback=role.value), used)
        rows[index] = m.Document(
            submission_id=submission_id,
            role=role,
            filename=attachment.filename or unique,
            safe_name=unique,
            sha256=digest,
            size=attachment.size,
            declared_type=attachment.declared_type,
            detected_type=types.get(index, "other"),
        )
        session.add(rows[index])
        if role is not m.DocumentRole.OTHER:
            files.append(FiledFile(role.value, attachment.filename or unique))
    statement = facts.documents.statement
    conversion = facts.statement.conversion if facts.statement else None
    if statement is not None and conversion is not None and converted_digest is not None:
        session.flush()
        original = rows[statement.index]
        stem = original.safe_name.rpartition(".")[0] or original.safe_name
        session.add(
            m.Document(
                submission_id=submission_id,
                role=m.DocumentRole.CONVERTED_STATEMENT,
                filename=f"{stem}.docx",
                safe_name=unique_name(f"{stem}.docx", used),
                sha256=converted_digest,
                size=len(conversion.content),
                declared_type=None,
                detected_type="docx",
                converted_from_id=original.id,
                conversion_tool=conversion.tool,
            )
        )
    files.sort(key=lambda f: 0 if f.role == "statement" else 1)
    return files
