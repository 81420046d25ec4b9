"""The guidance note's rules for files: one Word statement of about the right length that
opens safely, and a cover letter addressed to the President of the Security Council,
signed by the Permanent Representative or the Chargé d'affaires.

Files nobody opened are judged only by what their names and types tell for certain: a
message whose sender checks failed (a stranger, a forged registered address, automatic
mail) has its files kept closed (`Facts.documents_opened`), so its reply may say that no
statement or no cover letter came (nothing could be one), but never what a file holds,
nor that there are several statements (reading could show one of them is the letter).
"""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import Reason, Verdict
from pipeline.checks.facts import Facts
from pipeline.documents.language import LANGUAGE_NAMES
from pipeline.documents.reading import StatementProblem
from pipeline.domain import LengthPolicy

# How the replies name a file's real type.
_FORMAT_NAMES = {
    "doc": "Word 97-2003 (.doc)",
    "rtf": "Rich Text (.rtf)",
    "odt": "OpenDocument Text (.odt)",
}
_KIND_NAMES = {
    "pdf": "a PDF file",
    "image": "an image",
    "zip": "a ZIP archive",
    "ole": "another Microsoft Office format (not Word)",
    "text": "a plain text file",
    "empty": "an empty file",
    "rtf": "a Rich Text (.rtf) file",
    "odt": "an OpenDocument Text (.odt) file",
    "other": "not a document we recognise",
}


class Statement:
    name: ClassVar[str] = "statement"
    description: ClassVar[str] = "exactly one statement in Word format that opens and has text"
    reasons: ClassVar[tuple[str, ...]] = (
        "no_statement",
        "tnef_without_files",
        "several_statements",
        *(problem.value for problem in StatementProblem),
    )

    def check(self, facts: Facts) -> Verdict:
        statements = facts.documents.statements
        if not statements:
            # Outlook put the files in a winmail.dat and nothing could be taken from it:
            # the fix is to send ordinary attachments, not to "attach a statement".
            empty = [w for w in facts.message.winmail if not w.files]
            if empty:
                return Verdict.fail("tnef_without_files", filename=empty[0].name)
            return Verdict.fail("no_statement")
        if not facts.documents_opened:
            return Verdict.ok()
        if len(statements) > 1:
            return Verdict.fail(
                "several_statements", filenames=[d.name or "(unnamed)" for d in statements]
            )
        reading = facts.statement
        if reading is None or reading.problem is None:
            return Verdict.ok()
        document = statements[0]
        return Verdict.fail(
            reading.problem.value,
            filename=document.name or "(unnamed)",
            detected=document.file_type.value,
            format=_FORMAT_NAMES.get(document.file_type.value, document.file_type.value),
            kind=_KIND_NAMES.get(document.file_type.value, document.file_type.value),
            detail=reading.detail or "",
        )


class CoverLetter:
    name: ClassVar[str] = "cover_letter"
    description: ClassVar[str] = (
        "a cover letter addressed to the President of the Security Council and signed by "
        "the Permanent Representative or the Chargé d'affaires"
    )
    reasons: ClassVar[tuple[str, ...]] = (
        "no_cover_letter",
        "cover_letter_unreadable",
        "cover_letter_unverified",
        "cover_letter_not_addressed",
        "cover_letter_not_signed",
    )

    def check(self, facts: Facts) -> Verdict:
        document = facts.documents.cover_letter
        if not facts.documents_opened:
            # Unread, a second document might have been the letter; with one at most,
            # something is missing whatever it holds.
            if document is None and len(facts.documents.statements) <= 1:
                return Verdict.fail("no_cover_letter")
            return Verdict.ok()
        letter = facts.letter
        if document is None or letter is None:
            return Verdict.fail("no_cover_letter")
        filename = document.name or "(unnamed)"
        if letter.unreadable is not None:
            return Verdict.fail(
                "cover_letter_unreadable", filename=filename, detail=letter.unreadable
            )
        if not letter.check.verifiable:
            return Verdict.fail("cover_letter_unverified", filename=filename)
        reasons: list[Reason] = []
        if not letter.check.addressed_to_president:
            reasons.extend(Verdict.fail("cover_letter_not_addressed", filename=filename).reasons)
        if letter.check.signatory is None:
            reasons.extend(Verdict.fail("cover_letter_not_signed", filename=filename).reasons)
        return Verdict(tuple(reasons))


class WordLimit:
    name: ClassVar[str] = "word_limit"
    description: ClassVar[str] = (
        "the statement keeps to the meeting's length limit in its language, within a tolerance"
    )
    reasons: ClassVar[tuple[str, ...]] = ("over_word_limit", "too_long")

    def check(self, facts: Facts) -> Verdict:
        meeting, reading, limit = facts.meeting, facts.statement, facts.length_limit
        if (
            not facts.documents_opened
            or meeting is None
            or reading is None
            or limit is None
            or reading.measured is None
        ):
            return Verdict.ok()
        measured = reading.measured
        if measured <= limit * (1 + facts.length_tolerance):
            return Verdict.ok()
        code = "too_long" if meeting.length_policy is LengthPolicy.REJECT else "over_word_limit"
        return Verdict.fail(
            code,
            words=measured,
            unit=reading.unit,
            limit=limit,
            language=LANGUAGE_NAMES.get(reading.language or "", "the statement's language"),
        )
