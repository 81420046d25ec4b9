"""Reading a statement and a cover letter as a desk officer would.

This is the one place that decides how each kind of file is opened: `.docx` through the
safe, fast reader (`docx_reader`, after `safety.inspect_zip`); legacy `.doc`, `.rtf` and
`.odt` through a LibreOffice conversion when it is available; PDF letters through
`pdf_reader`. Every way a file can fail ends in a `StatementProblem` with a short phrase
for the reply, never in an exception.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pipeline.documents.convert import (
    Conversion,
    ConversionFailed,
    ConversionUnavailable,
    convert_to_docx,
    find_libreoffice,
)
from pipeline.documents.docx_reader import DocxText, read_docx
from pipeline.documents.errors import DocumentError, UnreadableDocument, UnsafeDocument
from pipeline.documents.language import detect_language
from pipeline.documents.length import Length, measure_text
from pipeline.documents.letter import LetterCheck, check_letter
from pipeline.documents.ole import inspect_ole
from pipeline.documents.pdf_reader import read_pdf
from pipeline.documents.safety import ZipLimits
from pipeline.documents.types import FileType
from pipeline.settings.models import DocumentSettings

log = logging.getLogger(__name__)

CONVERTIBLE = frozenset({FileType.DOC, FileType.RTF, FileType.ODT})


class StatementProblem(StrEnum):
    NOT_WORD = "statement_not_word"
    LEGACY = "statement_legacy_word"
    MACROS = "statement_has_macros"
    ENCRYPTED = "statement_encrypted"
    TEMPLATE = "statement_template"
    UNSAFE = "statement_unsafe"
    UNREADABLE = "statement_unreadable"
    EMPTY = "statement_empty"


@dataclass(frozen=True)
class StatementReading:
    file_type: FileType
    text: DocxText | None = None
    length: Length | None = None
    language: str | None = None
    conversion: Conversion | None = None
    problem: StatementProblem | None = None
    detail: str | None = None

    @property
    def measured(self) -> int | None:
        """The statement's length as a reader counts it in its language."""
        return self.length.measure(self.language) if self.length is not None else None

    @property
    def unit(self) -> str:
        return "characters" if self.language in ("zh", "ja") else "words"


@dataclass(frozen=True)
class LetterReading:
    file_type: FileType
    text: str | None
    pages: int | None
    check: LetterCheck
    unreadable: str | None = None


def zip_limits(settings: DocumentSettings) -> ZipLimits:
    mib = 2**20
    return ZipLimits(
        max_total_uncompressed=settings.max_unpacked_mb * mib,
        max_member_uncompressed=settings.max_member_mb * mib,
        max_ratio=settings.max_compression_ratio,
        max_members=settings.max_members,
    )


def read_docx_safely(content: bytes, settings: DocumentSettings) -> DocxText:
    """read_docx with the configured limits; raises only DocumentError."""
    try:
        return read_docx(content, zip_limits(settings))
    except DocumentError:
        raise
    except Exception as error:  # the reader promises not to, but a statement must not crash a run
        log.exception("unexpected error reading a .docx")
        raise UnreadableDocument(f"the file could not be read ({type(error).__name__})") from None


def read_statement(
    content: bytes,
    file_type: FileType,
    settings: DocumentSettings,
    *,
    already_read: DocxText | DocumentError | None = None,
) -> StatementReading:
    if file_type is FileType.DOCM:
        return StatementReading(file_type, problem=StatementProblem.MACROS)
    if file_type is FileType.DOTX:
        return StatementReading(file_type, problem=StatementProblem.TEMPLATE)
    if file_type is FileType.ENCRYPTED:
        return StatementReading(file_type, problem=StatementProblem.ENCRYPTED)

    conversion: Conversion | None = None
    if file_type is FileType.DOC:
        try:
            ole = inspect_ole(content)
        except UnreadableDocument as error:
            return StatementReading(
                file_type, problem=StatementProblem.UNREADABLE, detail=str(error)
            )
        if ole.encrypted:
            return StatementReading(file_type, problem=StatementProblem.ENCRYPTED)
        if ole.has_macros:
            return StatementReading(file_type, problem=StatementProblem.MACROS)

    if file_type in CONVERTIBLE:
        binary = find_libreoffice(settings.libreoffice) if settings.convert_legacy else None
        if binary is None:
            return StatementReading(file_type, problem=StatementProblem.LEGACY)
        try:
            conversion = convert_to_docx(
                content, file_type, binary=binary, timeout=settings.conversion_timeout
            )
        except ConversionUnavailable:
            return StatementReading(file_type, problem=StatementProblem.LEGACY)
        except ConversionFailed as error:
            return StatementReading(
                file_type, problem=StatementProblem.UNREADABLE, detail=str(error)
            )
        content, already_read = conversion.content, None
    elif file_type is FileType.EMPTY:
        return StatementReading(file_type, problem=StatementProblem.EMPTY)
    elif file_type is FileType.ZIP:
        # A zip that is not a well-formed .docx: a damaged Word file if it has the main
        # document part (read it the safe way), otherwise a damaged or foreign archive.
        pass
    elif file_type is not FileType.DOCX:
        return StatementReading(file_type, problem=StatementProblem.NOT_WORD)

    text: DocxText | DocumentError
    if already_read is not None:
        text = already_read
    else:
        try:
            text = read_docx_safely(content, settings)
        except DocumentError as error:
            text = error
    if isinstance(text, UnsafeDocument):
        return StatementReading(
            file_type, conversion=conversion, problem=StatementProblem.UNSAFE, detail=str(text)
        )
    if isinstance(text, DocumentError):
        return StatementReading(
            file_type, conversion=conversion, problem=StatementProblem.UNREADABLE, detail=str(text)
        )
    if text.has_macros:
        return StatementReading(file_type, conversion=conversion, problem=StatementProblem.MACROS)
    length = measure_text(text.text)
    if length.words + length.cjk_characters == 0:
        return StatementReading(
            file_type,
            text=text,
            length=length,
            conversion=conversion,
            problem=StatementProblem.EMPTY,
        )
    return StatementReading(
        file_type,
        text=text,
        length=length,
        language=detect_language(text.text),
        conversion=conversion,
    )


def letter_text(
    content: bytes,
    file_type: FileType,
    settings: DocumentSettings,
) -> tuple[str | None, int | None]:
    """The letter's text (None for a scan) and page count; raises UnreadableDocument."""
    if file_type is FileType.PDF:
        pdf = read_pdf(content, max_bytes=settings.max_pdf_mb * 2**20)
        return (pdf.text if pdf.has_text_layer else None), pdf.pages
    if file_type is FileType.DOCX:
        docx = read_docx_safely(content, settings)
        return docx.text, docx.pages
    if file_type in CONVERTIBLE and settings.convert_legacy:
        binary = find_libreoffice(settings.libreoffice)
        if binary is not None:
            try:
                converted = convert_to_docx(
                    content, file_type, binary=binary, timeout=settings.conversion_timeout
                )
            except (ConversionFailed, ConversionUnavailable):
                return None, None
            docx = read_docx_safely(converted.content, settings)
            return docx.text, docx.pages
    return None, None  # an image, or a format we cannot read: to be verified by a person


def read_letter(
    content: bytes,
    file_type: FileType,
    settings: DocumentSettings,
    *,
    mission_names: Sequence[str] = (),
    known_text: tuple[str | None, int | None] | None = None,
) -> LetterReading:
    try:
        text, pages = (
            known_text if known_text is not None else letter_text(content, file_type, settings)
        )
    except DocumentError as error:
        return LetterReading(
            file_type, None, None, check_letter(None, mission_names=mission_names), str(error)
        )
    return LetterReading(file_type, text, pages, check_letter(text, mission_names=mission_names))
