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
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import docx
from docx.document import Document as DocxDocument
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import parse_xml
from docx.shared import Cm, Pt
from sqlmodel import Session, col, select

from pipeline.compilation.errors import (
    NoAcceptedStatements,
    OutputFolderMissing,
    StatementFileMissing,
    StatementUnusable,
    UnknownMeeting,
)
from pipeline.compilation.merge import DocumentMerger
from pipeline.compilation.templates import CompilationTemplates
from pipeline.compilation.wordml import after
from pipeline.documents.errors import DocumentError
from pipeline.documents.safety import DEFAULT_LIMITS, ZipLimits, inspect_zip
from pipeline.missions.registry import MissionKind, find_mission
from pipeline.storage import models as m
from pipeline.storage.blobs import BlobStore

log = logging.getLogger(__name__)

__all__ = ["Annex", "CompilationResult", "compile_meeting", "roman_numeral"]

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_STATEMENT_ROLES = (m.DocumentRole.STATEMENT, m.DocumentRole.CONVERTED_STATEMENT)
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
) -> CompilationResult:
    """Write the compilation of `meeting_code`'s accepted statements to `out` (.docx).

    `created` (default: now) is the document's creation time in its properties; the
    letter is dated `letter_date`, by default `created`'s day in the meeting's time zone.
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
    document = _new_document(templates)
    _write_letter(document, meeting, statements, templates, created, letter_date, warnings)
    merger = DocumentMerger(document)
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
    _set_properties(document, meeting, templates, created)
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

# The compilation's own paragraph styles (statements keep theirs, see merge.py).
_TITLE = "Compilation Title"
_SIGNATURE = "Compilation Signature"
_ANNEX_LABEL = "Annex Label"
_ANNEX_HEADING = "Annex Heading"
_ORIGINAL = "Original Language"


def _new_document(templates: CompilationTemplates) -> DocxDocument:
    """python-docx's blank document, with the compilation's styles and settings."""
    document = docx.Document()
    styles = document.styles
    normal = styles["Normal"]

    def add(name: str, *, bold: bool = False, outline: int | None = None) -> Any:
        style = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = normal
        style.font.bold = bold
        style.paragraph_format.space_after = Pt(12)
        if outline is not None:
            # Shown in Word's navigation pane: the annexes are the document's outline.
            style.element.get_or_add_pPr().insert_element_before(
                parse_xml(f'<w:outlineLvl xmlns:w="{W}" w:val="{outline}"/>'),
                *after("w:outlineLvl"),
            )
        return style

    add(_TITLE, bold=True).paragraph_format.keep_with_next = True
    signature = add(_SIGNATURE)
    signature.paragraph_format.left_indent = Cm(7)
    signature.paragraph_format.space_after = Pt(0)
    label = add(_ANNEX_LABEL, bold=True, outline=0)
    label.paragraph_format.keep_with_next = True
    label.paragraph_format.space_after = Pt(6)
    add(_ANNEX_HEADING, bold=True, outline=1).paragraph_format.keep_with_next = True
    add(_ORIGINAL).paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _settings(document, templates)
    return document


def _settings(document: DocxDocument, templates: CompilationTemplates) -> None:
    """UN settings for a blank document: Chinese, not Japanese, East Asian fonts; no
    thumbnail of python-docx's empty template page."""
    font_language = document.settings.element.find(f"{{{W}}}themeFontLang")
    if font_language is not None:
        font_language.set(f"{{{W}}}eastAsia", "zh-CN")
        font_language.set(f"{{{W}}}bidi", "ar-SA")
    package_rels = document.part.package.rels
    for rid in [r.rId for r in package_rels.values() if r.reltype == RT.THUMBNAIL]:
        del package_rels[rid]
    document.core_properties.language = templates.language


def _write_letter(
    document: DocxDocument,
    meeting: m.Meeting,
    statements: Sequence[_Statement],
    templates: CompilationTemplates,
    created: datetime,
    letter_date: date | None,
    warnings: list[str],
) -> None:
    """The President's letter: title, opening, the list, closing, signature."""
    zone = ZoneInfo(meeting.timezone)
    president = meeting.president
    if not president:
        president = templates.render("letter.president_missing", {})
        warnings.append(
            f"{meeting.code} has no president configured: the letter is signed "
            f"{president!r} (set president in its [[meetings]] entry)"
        )
    presidency = find_mission(meeting.presidency) if meeting.presidency else None
    context = {
        "meeting_title": meeting.title,
        "meeting_code": meeting.code,
        "meeting_date": templates.format_date(meeting.date),
        "letter_date": templates.format_date(letter_date or created.astimezone(zone).date()),
        "held": templates.held(meeting.meeting_format.value),
        "president": president,
        "presidency": (
            templates.mission_name(
                presidency.names.get(templates.language) or presidency.name,
                article=presidency.article,
            )
            if presidency
            else ""
        ),
        "list": templates.join([statement.name for statement in statements]),
        "count": len(statements),
    }
    document.add_paragraph(templates.render("letter.title", context), style=_TITLE)
    for key in ("letter.opening", "letter.list", "letter.closing"):
        paragraph = document.add_paragraph(templates.render(key, context))
        paragraph.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
        paragraph.paragraph_format.space_after = Pt(12)
    for line in templates.signature(context):
        document.add_paragraph(line, style=_SIGNATURE)


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
    label = document.add_paragraph(templates.render("annex.label", context), style=_ANNEX_LABEL)
    label.paragraph_format.page_break_before = True
    document.add_paragraph(templates.annex_heading(statement.kind, context), style=_ANNEX_HEADING)
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
            style=_ORIGINAL,
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
    meeting: m.Meeting,
    templates: CompilationTemplates,
    created: datetime,
) -> None:
    """Fixed document properties: `created` is the only time in the file."""
    properties = document.core_properties
    properties.title = document.paragraphs[0].text
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
