"""The guidance note's rules for files: one Word statement that opens, and a cover letter."""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import Verdict
from pipeline.documents.types import FileType
from pipeline.message.facts import Facts


class Statement:
    name: ClassVar[str] = "statement"
    description: ClassVar[str] = "exactly one statement in Word format that opens and has text"
    reasons: ClassVar[tuple[str, ...]] = (
        "no_statement",
        "several_statements",
        "statement_not_word",
        "statement_legacy_word",
        "statement_unreadable",
        "statement_empty",
    )

    def check(self, facts: Facts) -> Verdict:
        statements = facts.documents.statements
        if not statements:
            return Verdict.fail("no_statement")
        if len(statements) > 1:
            return Verdict.fail(
                "several_statements", filenames=[d.name or "(unnamed)" for d in statements]
            )
        document = statements[0]
        filename = document.name or "(unnamed)"
        if document.file_type is FileType.DOC:
            return Verdict.fail("statement_legacy_word", filename=filename)
        if document.file_type is not FileType.DOCX:
            return Verdict.fail(
                "statement_not_word", filename=filename, detected=document.file_type.value
            )
        reading = facts.statement
        if reading is None or reading.text is None:
            detail = reading.error if reading is not None else "not read"
            return Verdict.fail("statement_unreadable", filename=filename, detail=detail)
        if reading.text.word_count == 0:
            return Verdict.fail("statement_empty", filename=filename)
        return Verdict.ok()


class CoverLetter:
    name: ClassVar[str] = "cover_letter"
    description: ClassVar[str] = "a cover letter (PDF or Word) is attached"
    reasons: ClassVar[tuple[str, ...]] = ("no_cover_letter",)

    def check(self, facts: Facts) -> Verdict:
        if facts.documents.cover_letter is None:
            return Verdict.fail("no_cover_letter")
        return Verdict.ok()


class WordLimit:
    name: ClassVar[str] = "word_limit"
    description: ClassVar[str] = "the statement keeps to the meeting's word limit"
    reasons: ClassVar[tuple[str, ...]] = ("over_word_limit",)

    def check(self, facts: Facts) -> Verdict:
        meeting = facts.meeting
        reading = facts.statement
        if meeting is None or reading is None or reading.text is None:
            return Verdict.ok()
        if reading.text.word_count > meeting.word_limit:
            return Verdict.fail(
                "over_word_limit", words=reading.text.word_count, limit=meeting.word_limit
            )
        return Verdict.ok()
