"""The compilation of a debate's written statements: one Word document, as the UN issues it.

A letter from the President of the Security Council to the Secretary-General and the
members of the Council, listing every delegation that submitted a written statement,
then one annex per statement (Annex I, II, ...) with its heading, its original language
and the statement itself, copied from the file the delegation sent (see merge.py).

Which statement: for each mission, the meeting's *current accepted* submission -- the
partial unique index allows one -- so superseded, rejected and held submissions never
appear, and a desk decision (accepting the superseded one, rejecting one) is picked up
by compiling again. Its file: the converted .docx when the delegation sent a legacy
format, else the .docx it sent.

One bad file does not stop the rest: a statement whose file cannot be used (not a .docx,
two statement files, over the zip limits, XML declarations in any part, python-docx
cannot open it) is left out before the letter is written, and the result's warnings name
it, with why and what to do. Only when none is left does the compilation fail. A file
missing from the store still stops it: the store needs restoring from a backup.

Order: English alphabetical order of the names, "the" ignored and accents folded
(Côte d'Ivoire after Costa Rica, the Holy See under H), States and other entities
together; the annexes follow the list.

Deterministic: the same database rows, files, templates and `created` time give the same
bytes -- rows are sorted explicitly, every id the copy makes is counted, zip entries carry
one fixed date -- so a compilation can be checked by comparing digests; `created` is the
only time in the file (docProps/core.xml, and the letter's default date).
"""

from __future__ import annotations

import io
import logging
import os
import time
import unicodedata
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import docx
from docx.document import Document as DocxDocument
from sqlmodel import Session, col, select

from pipeline.compilation.errors import (
    NoAcceptedStatements,
    OutputFolderMissing,
    StatementFileMissing,
    StatementUnusable,
    UnknownMeeting,
)
from pipeline.compilation.letter import write_letter
from pipeline.compilation.masthead import SYMBOL_PLACEHOLDER, Masthead, write_page_furniture
from pipeline.compilation.merge import DocumentMerger
from pipeline.compilation.styles import ANNEX_HEADING, ANNEX_LABEL, ORIGINAL, new_document
from pipeline.compilation.templates import CompilationTemplates
from pipeline.documents.errors import DocumentError
from pipeline.documents.safety import DEFAULT_LIMITS, ZipLimits, inspect_zip
from pipeline.missions.registry import MissionKind, find_mission
from pipeline.storage import models as m
from pipeline.storage.blobs import BlobStore

log = logging.getLogger(__name__)

__all__ = ["Annex", "CompilationResult", "compile_meeting", "roman_numeral"]

_STATEMENT_ROLES = (m.DocumentRole.STATEMENT, m.DocumentRole.CONVERTED_STATEMENT)
ORIGINAL_LANGUAGE = "en"  # the language the President's letter is drafted in
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can carry

Progress = Callable[[int, int], None]


class Annex(NamedTuple):
    """One annex: its numeral, whose statement, in which language, from which submission."""

    numeral: str  # "IV"
    mission_code: str  # "VAT"
    name: str  # "the Holy See", as the letter writes it
    language: str | None  # "fr", or None when the statement's language is not known
    reference: str  # "PKO-SAFETY-0007"


@dataclass(frozen=True)
class CompilationResult:
    """What was written: the file, its annexes in order, and what the desk should know."""

    path: Path
    annexes: tuple[Annex, ...]
    statements: int
    seconds: float
    # Things the document does not show as the delegation sent them (no original
    # language, content not copied, no president configured): one sentence each.
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Statement:
    submission: m.Submission
    mission: m.Mission
    document: m.Document
    name: str  # with the article, in the compilation's language
    kind: MissionKind
    sort_key: tuple[str, str]


def roman_numeral(number: int) -> str:
    """1 -> "I", 4 -> "IV", 199 -> "CXCIX": annexes are numbered in Roman numerals."""
    if number < 1:
        raise ValueError("annexes are numbered from 1")
    numerals = (
        (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
        (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
    )  # fmt: skip
    out = []
    for value, letters in numerals:
        count, number = divmod(number, value)
        out.append(letters * count)
    return "".join(out)


def sort_key(name: str) -> str:
    """How a name sorts in a UN list: accents folded, case ignored ("Côte" as "cote")."""
    folded = unicodedata.normalize("NFKD", name)
    return "".join(c for c in folded if not unicodedata.combining(c)).casefold()


def compile_meeting(
    session: Session,
    blobs: BlobStore,
    meeting_code: str,
    *,
    templates: CompilationTemplates,
    out: Path,
    progress: Progress | None = None,
    created: datetime | None = None,
    letter_date: date | None = None,
    limits: ZipLimits = DEFAULT_LIMITS,
    symbol: str | None = None,
    job_number: str | None = None,
    keep_styles: bool = False,
) -> CompilationResult:
    """Write the compilation of `meeting_code`'s accepted statements to `out` (.docx).

    `created` (default: now) is the document's creation time in its properties; the
    letter is dated `letter_date`, by default `created`'s day in the meeting's time zone.
    The first page's masthead shows `symbol` ("S/2021/999"; a visible placeholder and a
    warning without one) and the letter's date as the issue date; `job_number` is
    printed at the foot of the pages when given. `keep_styles` keeps the statements'
    theme colours and fonts instead of the document's black Times New Roman.
    `limits` are the hostile-file limits each statement is checked against again before
    it is opened (a desk decision can accept a file the checks refused). A statement whose
    file cannot be used is left out and named in the result's warnings. Raises a
    CompilationError subclass, with a sentence for the desk, when the meeting, the output
    folder or the file store is wrong, or no statement can be used; nothing is written
    then.
    """
    started = time.monotonic()
    created = (created or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    if not out.parent.is_dir():
        raise OutputFolderMissing(f"the folder {out.parent} does not exist: create it first")
    meeting = session.exec(
        select(m.Meeting).where(m.Meeting.code == meeting_code.strip().upper())
    ).first()
    if meeting is None:
        known = ", ".join(session.exec(select(m.Meeting.code).order_by(m.Meeting.code)))
        raise UnknownMeeting(
            f"no meeting with the code {meeting_code!r} (known: {known or 'none'})"
        )
    warnings: list[str] = []
    statements = _statements(session, blobs, meeting, templates, limits, warnings)
    dated = letter_date or created.astimezone(ZoneInfo(meeting.timezone)).date()
    _check_issue(meeting, symbol, dated, given=letter_date is not None, warnings=warnings)
    document = new_document(templates.language)
    write_page_furniture(document, _masthead(templates, symbol, dated, job_number))
    title = write_letter(
        document, meeting, [s.name for s in statements], templates, dated, warnings
    )
    merger = DocumentMerger(document, keep_styles=keep_styles)
    annexes: list[Annex] = []
    total = len(statements)
    if progress is not None:
        progress(0, total)
    for number, statement in enumerate(statements, start=1):
        annexes.append(
            _write_annex(document, merger, blobs, statement, number, templates, warnings)
        )
        if progress is not None:
            progress(number, total)
    merger.finish()
    _set_properties(document, title, meeting, templates, created)
    _save(document, out)
    return CompilationResult(
        path=out,
        annexes=tuple(annexes),
        statements=total,
        seconds=time.monotonic() - started,
        warnings=tuple(warnings),
    )


# -- which statements -----------------------------------------------------------------


def _statements(
    session: Session,
    blobs: BlobStore,
    meeting: m.Meeting,
    templates: CompilationTemplates,
    limits: ZipLimits,
    warnings: list[str],
) -> list[_Statement]:
    """Each mission's current accepted submission with its statement file, in list order.

    A submission whose file cannot be used is left out, with a warning; when all are,
    StatementUnusable lists why."""
    rows = session.exec(
        select(m.Submission, m.Mission)
        .join(m.Mission, col(m.Submission.mission_id) == col(m.Mission.id))
        .where(
            m.Submission.meeting_id == meeting.id,
            m.Submission.status == m.SubmissionStatus.ACCEPTED,
        )
        .order_by(col(m.Submission.id))
    ).all()
    if not rows:
        raise NoAcceptedStatements(
            f"{meeting.code} has no accepted statement yet: nothing to compile "
            f"(`intake submissions list --meeting {meeting.code}` shows the queue)"
        )
    documents: dict[int, list[m.Document]] = {}
    for document in session.exec(
        select(m.Document)
        .where(
            col(m.Document.submission_id).in_([s.id for s, _ in rows]),
            col(m.Document.role).in_(_STATEMENT_ROLES),
        )
        .order_by(col(m.Document.id))
    ):
        documents.setdefault(document.submission_id, []).append(document)
    statements = []
    left_out: list[str] = []
    for submission, mission in rows:
        assert submission.id is not None
        where = f"{submission.reference} ({mission.code})"
        try:
            document = _statement_file(submission, mission, documents.get(submission.id, []))
        except StatementUnusable as error:
            left_out.append(str(error))
            continue
        if not blobs.path_for(document.sha256).is_file():
            raise StatementFileMissing(
                f"{submission.reference} ({mission.code}): the statement file "
                f"{document.filename!r} is missing from the file store "
                f"({blobs.path_for(document.sha256)}); restore it from a backup or "
                "reject the submission"
            )
        problem = _unusable(blobs.get(document.sha256), limits)
        if problem is not None:
            left_out.append(
                f"{where}: the statement {document.filename!r} {problem}: reject it, or ask "
                "the delegation to resend it"
            )
            continue
        info = find_mission(mission.code)
        name = mission.names.get(templates.language) or mission.name
        statements.append(
            _Statement(
                submission=submission,
                mission=mission,
                document=document,
                name=templates.mission_name(name, article=bool(info and info.article)),
                kind=mission.kind,
                sort_key=(sort_key(name), mission.code),
            )
        )
    if left_out and not statements:
        raise StatementUnusable(
            f"no statement of {meeting.code} can be compiled: " + "; ".join(left_out)
        )
    for problem in left_out:
        log.warning("%s", problem)
        where, _, why = problem.partition(": ")
        warnings.append(f"{where}: left out of the compilation: {why}")
    statements.sort(key=lambda statement: statement.sort_key)
    return statements


def _unusable(content: bytes, limits: ZipLimits) -> str | None:
    """Why a statement file cannot go into the compilation (a phrase after "the statement
    'X.docx'"), or None. The same checks as at intake, with the desk's limits (a desk
    decision can accept a file the checks refused, and a file may predate a check), then
    python-docx must open it: all before the letter lists the delegation."""
    try:
        inspect_zip(content, limits)
    except DocumentError as error:
        return f"cannot be opened safely: {error}"
    try:
        docx.Document(io.BytesIO(content))
    except Exception as error:  # python-docx and lxml raise many types for a bad file
        return f"could not be read ({type(error).__name__})"
    return None


def _statement_file(
    submission: m.Submission, mission: m.Mission, documents: Sequence[m.Document]
) -> m.Document:
    """The file to copy: the converted .docx of a legacy statement, else the statement."""
    converted = [d for d in documents if d.role is m.DocumentRole.CONVERTED_STATEMENT]
    chosen = converted or [d for d in documents if d.role is m.DocumentRole.STATEMENT]
    where = f"{submission.reference} ({mission.code})"
    if not chosen:
        raise StatementUnusable(
            f"{where}: it has no statement file: reject it, or ask the delegation to resend"
        )
    if len(chosen) > 1:
        names = ", ".join(repr(d.filename) for d in chosen)
        raise StatementUnusable(
            f"{where}: it has {len(chosen)} statement files ({names}) and the compilation "
            "takes one: reject it, or ask the delegation to resend one statement"
        )
    document = chosen[0]
    if document.detected_type != "docx":
        raise StatementUnusable(
            f"{where}: the statement {document.filename!r} is a {document.detected_type} "
            "file, not a Word document (.docx): reject it, or ask the delegation for a .docx"
        )
    return document


# -- the document ---------------------------------------------------------------------


def _check_issue(
    meeting: m.Meeting, symbol: str | None, dated: date, *, given: bool, warnings: list[str]
) -> None:
    """Warn about what the desk must still settle before the document is issued."""
    if not symbol:
        warnings.append(
            f"no document symbol given: the masthead shows {SYMBOL_PLACEHOLDER} "
            "(compile again with --symbol S/YYYY/NNN once the symbol is assigned)"
        )
    if dated < meeting.date:
        which = "the date given" if given else "today"
        warnings.append(
            f"the letter is dated {dated.day} {dated:%B %Y} ({which}), before the meeting on "
            f"{meeting.date.day} {meeting.date:%B %Y}: give the issue date with --date YYYY-MM-DD"
        )


def _masthead(
    templates: CompilationTemplates, symbol: str | None, dated: date, job_number: str | None
) -> Masthead:
    # The letter is drafted in English (ORIGINAL_LANGUAGE); a French compilation is its
    # translation and says "Original : anglais", as the French S/ documents do.
    language = templates.language_name(ORIGINAL_LANGUAGE) or ORIGINAL_LANGUAGE
    return Masthead(
        symbol=symbol or SYMBOL_PLACEHOLDER,
        united_nations=templates.render("masthead.united_nations", {}),
        organ=templates.render("masthead.organ", {}),
        distribution=templates.render("masthead.distribution", {}),
        issued=templates.format_date(dated),
        original=templates.render("masthead.original", {"language": language}),
        job_number=job_number.strip() if job_number and job_number.strip() else None,
    )


def _write_annex(
    document: DocxDocument,
    merger: DocumentMerger,
    blobs: BlobStore,
    statement: _Statement,
    number: int,
    templates: CompilationTemplates,
    warnings: list[str],
) -> Annex:
    """ "Annex IV", its heading, "[Original: French]", then the statement itself."""
    submission, mission = statement.submission, statement.mission
    where = f"{submission.reference} ({mission.code})"
    numeral = roman_numeral(number)
    context = {"numeral": numeral, "name": statement.name}
    label = document.add_paragraph(templates.render("annex.label", context), style=ANNEX_LABEL)
    label.paragraph_format.page_break_before = True
    document.add_paragraph(templates.annex_heading(statement.kind, context), style=ANNEX_HEADING)
    language = templates.language_name(submission.statement_language)
    if language is None:
        # Logged for the record; the desk reads it from the result's warnings.
        log.info("%s: statement language %r unknown", where, submission.statement_language)
        warnings.append(
            f"{where}: the statement's language is not known, so Annex {numeral} has no "
            "original-language line"
        )
    else:
        document.add_paragraph(
            templates.render("annex.original", {**context, "language": language}),
            style=ORIGINAL,
        )
    content = blobs.get(statement.document.sha256)  # checked by `_statements` (_unusable)
    try:
        report = merger.append(content)
    except Exception as error:  # python-docx and lxml raise many types for a bad file
        log.debug("%s: cannot copy the statement", where, exc_info=True)
        raise StatementUnusable(
            f"{where}: the statement {statement.document.filename!r} could not be read "
            f"({type(error).__name__}): reject it, or ask the delegation to resend it"
        ) from None
    if report.dropped:
        warnings.append(f"{where}: not copied into Annex {numeral}: {report.describe_dropped()}")
    log.info(
        "%s: Annex %s, %d paragraphs, %d tables, %d pictures, %d notes",
        where,
        numeral,
        report.paragraphs,
        report.tables,
        report.pictures,
        report.notes,
    )
    return Annex(
        numeral, mission.code, statement.name, submission.statement_language, submission.reference
    )


def _set_properties(
    document: DocxDocument,
    title: str,
    meeting: m.Meeting,
    templates: CompilationTemplates,
    created: datetime,
) -> None:
    """Fixed document properties: `created` is the only time in the file."""
    properties = document.core_properties
    properties.title = title
    properties.subject = meeting.title
    properties.keywords = meeting.code
    properties.author = "Intake"
    properties.last_modified_by = "Intake"
    properties.comments = ""
    properties.category = ""
    properties.revision = 1
    # python-docx writes the time as given, followed by "Z": hand it UTC.
    naive = created.astimezone(UTC).replace(tzinfo=None)
    properties.created = naive
    properties.modified = naive
    properties.language = templates.language


def _save(document: DocxDocument, out: Path) -> None:
    """Write the .docx atomically, every zip entry with the same fixed date.

    python-docx dates zip entries with the current time, which would make two runs
    differ; the archive is rewritten with fixed dates and attributes, so the creation
    time in docProps/core.xml is the only time in the file.
    """
    buffer = io.BytesIO()
    document.save(buffer)
    normalized = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source,
        zipfile.ZipFile(normalized, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.create_system = 3
            entry.external_attr = 0o644 << 16
            target.writestr(entry, source.read(info.filename))
    # Beside the target (so the rename is atomic), created like any file the user writes
    # (mkstemp would make it private to the desk officer who ran the command).
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("wb") as handle:
            handle.write(normalized.getvalue())
        os.replace(temporary, out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
