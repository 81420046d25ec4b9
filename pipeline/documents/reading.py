"""Reading a statement and a cover letter as a desk officer would.

This is the one place that decides how each kind of file is opened: `.docx` through the
safe, fast reader (`docx_reader`, after `safety.inspect_zip`); legacy `.doc`, `.rtf` and
`.odt` through a LibreOffice conversion when it is available, within `[documents]
max_legacy_mb` and the zip limits, confined by `conversion_confinement`; PDF letters
through `pdf_reader`. Every way a file can fail ends in a `StatementProblem` with a short
phrase for the reply, never in an exception. Whether a message's files are opened at all
is decided before (`pipeline.checks.facts`: only for a registered, authenticated sender).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
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
from pipeline.documents.filetype import FileType
from pipeline.documents.language import detect_language
from pipeline.documents.length import Length, measure_text
from pipeline.documents.letter import LetterCheck, check_letter
from pipeline.documents.ole import inspect_ole
from pipeline.documents.pdf_reader import read_pdf
from pipeline.documents.safety import MIB, ZipLimits
from pipeline.documents.sandbox import Confinement, sandbox_status
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


def conversion_limits(settings: DocumentSettings) -> ZipLimits:
    """The zip limits for a file LibreOffice will open (.odt): those of a .docx, with the
    unpacked sizes capped at `max_legacy_mb`. Intake's own reader streams a .docx part by
    part; LibreOffice holds the whole document in memory."""
    limits = zip_limits(settings)
    legacy = settings.max_legacy_mb * MIB
    return replace(
        limits,
        max_total_uncompressed=min(limits.max_total_uncompressed, legacy),
        max_member_uncompressed=min(limits.max_member_uncompressed, legacy),
    )


def conversion_confinement(settings: DocumentSettings) -> Confinement:
    """How LibreOffice is confined, from `[documents]` (pipeline.documents.sandbox)."""
    return Confinement(
        memory_mb=settings.conversion_memory_mb,
        bwrap=settings.bwrap,
        allow_unsandboxed=settings.allow_unsandboxed_conversion,
    )


def convert_legacy(content: bytes, file_type: FileType, settings: DocumentSettings) -> Conversion:
    """A legacy file as .docx, within the configured limits and confinement.

    Raises UnsafeDocument (over `max_legacy_mb`, an .odt over the zip limits or with XML
    declarations: LibreOffice never starts), ConversionUnavailable (no LibreOffice, or
    `convert_legacy = false`; NoSandbox when it cannot be confined) or ConversionFailed.
    """
    binary = find_libreoffice(settings.libreoffice) if settings.convert_legacy else None
    if binary is None:
        raise ConversionUnavailable("legacy files are not converted here")
    return convert_to_docx(
        content,
        file_type,
        binary=binary,
        timeout=settings.conversion_timeout,
        confinement=conversion_confinement(settings),
        limits=conversion_limits(settings),
        max_bytes=settings.max_legacy_mb * MIB,
    )


def describe_conversion(settings: DocumentSettings) -> tuple[bool, str]:
    """(fine, one sentence): what becomes of legacy statements on this machine, for
    `intake config check`. Not fine: no sandbox works here, and LibreOffice either will
    not run (legacy statements are answered with a request for a .docx) or runs
    unconfined because the operator allowed it."""
    what = "legacy statements (.doc, .rtf, .odt)"
    docx = "the reply asks for a .docx"
    if not settings.convert_legacy:
        return True, f"{what}: not converted ([documents] convert_legacy = false); {docx}"
    if find_libreoffice(settings.libreoffice) is None:
        return True, f"{what}: not converted (LibreOffice is not installed); {docx}"
    status = sandbox_status(settings.bwrap)
    limits = (
        f"at most {settings.conversion_memory_mb} MB of memory and "
        f"{settings.conversion_timeout:g} s, files up to {settings.max_legacy_mb} MB"
    )
    if status.works:
        return True, (
            f"{what}: converted in a sandbox ({status.binary}: no network, no view of the "
            f"data folder or the secrets; {limits})"
        )
    if settings.allow_unsandboxed_conversion:
        return False, (
            f"{what}: converted WITHOUT a sandbox ({status.problem}; "
            "allow_unsandboxed_conversion = true): LibreOffice can reach the network and "
            f"read everything the worker can read; {limits}"
        )
    return False, (
        f"{what}: NOT converted, {docx}: {status.problem}. Install "
        "bubblewrap (apt-get install bubblewrap), or set [documents] "
        "allow_unsandboxed_conversion = true to run LibreOffice unconfined"
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
        try:
            conversion = convert_legacy(content, file_type, settings)
        except ConversionUnavailable:
            return StatementReading(file_type, problem=StatementProblem.LEGACY)
        except UnsafeDocument as error:
            return StatementReading(file_type, problem=StatementProblem.UNSAFE, detail=str(error))
        except DocumentError as error:  # ConversionFailed, or a damaged .odt
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
    if file_type in CONVERTIBLE:
        try:
            converted = convert_legacy(content, file_type, settings)
        except (ConversionFailed, ConversionUnavailable):
            return None, None  # UnsafeDocument goes up: the letter is unreadable, and why
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
