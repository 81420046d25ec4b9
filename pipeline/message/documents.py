"""What each attached file really is, and which one is the statement or the cover letter.

The type comes from the bytes, never from the file name or the declared MIME type: a
`.doc` renamed `.docx`, a PDF sent as `application/msword` and legacy Word files that
embed a zip all exist in the wild.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pipeline.message.parse import Attachment

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
# Reading [Content_Types].xml must stay cheap even for hostile archives.
_MAX_CONTENT_TYPES_BYTES = 1 << 20


class FileType(StrEnum):
    DOCX = "docx"
    DOCM = "docm"
    DOTX = "dotx"
    DOC = "doc"  # OLE2: legacy Word, or an encrypted OOXML file
    PDF = "pdf"
    RTF = "rtf"
    ODT = "odt"
    ZIP = "zip"
    IMAGE = "image"
    TEXT = "text"
    EMPTY = "empty"
    OTHER = "other"


WORD_TYPES = frozenset({FileType.DOCX, FileType.DOCM, FileType.DOTX, FileType.DOC})
DOCUMENT_TYPES = WORD_TYPES | {FileType.PDF, FileType.RTF, FileType.ODT}

_WML = "application/vnd.openxmlformats-officedocument.wordprocessingml"
_OOXML_MAIN = {
    f"{_WML}.document.main+xml": FileType.DOCX,
    "application/vnd.ms-word.document.macroenabled.main+xml": FileType.DOCM,
    f"{_WML}.template.main+xml": FileType.DOTX,
    "application/vnd.ms-word.template.macroenabledtemplate.main+xml": FileType.DOCM,
}


def _zip_type(content: bytes) -> FileType:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                info = archive.getinfo("mimetype")
                if info.file_size < 200 and archive.read("mimetype").strip() == (
                    b"application/vnd.oasis.opendocument.text"
                ):
                    return FileType.ODT
            if "[Content_Types].xml" in names:
                info = archive.getinfo("[Content_Types].xml")
                if info.file_size > _MAX_CONTENT_TYPES_BYTES:
                    return FileType.ZIP
                types = archive.read("[Content_Types].xml").decode("utf-8", "replace").lower()
                for content_type, kind in _OOXML_MAIN.items():
                    if f'contenttype="{content_type}"' in types:
                        return kind
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, EOFError, NotImplementedError):
        return FileType.ZIP
    return FileType.ZIP


def detect_type(content: bytes) -> FileType:
    head = content[:16]
    if not content.strip():
        return FileType.EMPTY
    if head.startswith(OLE2_MAGIC):
        return FileType.DOC
    if head.startswith(ZIP_MAGIC):
        return _zip_type(content)
    if content[:1024].lstrip().startswith(b"%PDF"):
        return FileType.PDF
    if head.startswith(b"{\\rtf"):
        return FileType.RTF
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*")):
        return FileType.IMAGE
    try:
        content[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return FileType.OTHER
    return FileType.TEXT


_COVER_WORDS = re.compile(
    r"cover|letter|lettre|carta|transmittal|transmission|covering|nota|"
    r"письмо|сопроводительн|信|函|رسالة|خطاب",
    re.IGNORECASE,
)
_STATEMENT_WORDS = re.compile(
    r"statement|d[ée]claration|declaraci[óo]n|intervenci[óo]n|discours|speech|"
    r"заявлени|выступлени|发言|声明|بيان|كلمة",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Document:
    attachment: Attachment
    file_type: FileType

    @property
    def name(self) -> str:
        return self.attachment.filename or ""

    @property
    def is_word(self) -> bool:
        return self.file_type in WORD_TYPES

    @property
    def named_as_cover(self) -> bool:
        return bool(_COVER_WORDS.search(self.name)) and not _STATEMENT_WORDS.search(self.name)

    @property
    def named_as_statement(self) -> bool:
        return bool(_STATEMENT_WORDS.search(self.name))


@dataclass(frozen=True)
class DocumentSet:
    """The attachments sorted into the roles the guidance note asks for."""

    statements: tuple[Document, ...]
    cover_letters: tuple[Document, ...]
    others: tuple[Document, ...]

    @property
    def statement(self) -> Document | None:
        return self.statements[0] if len(self.statements) == 1 else None

    @property
    def cover_letter(self) -> Document | None:
        return self.cover_letters[0] if self.cover_letters else None


def _looks_like_cover_letter(letter_text: str | None) -> bool:
    return letter_text is not None and bool(_LETTER_PHRASES.search(letter_text))


_LETTER_PHRASES = re.compile(
    r"president of the security council|pr[ée]sident(e)? du conseil de s[ée]curit[ée]|"
    r"presidente del consejo de seguridad|председател\w* совета безопасности|"
    r"安全理事会主席|安理会主席|رئيس مجلس الأمن",
    re.IGNORECASE,
)


def classify(
    attachments: Sequence[Attachment],
    *,
    word_text: dict[int, str] | None = None,
) -> DocumentSet:
    """Decide which attachment is the statement and which the cover letter.

    Names decide first ("cover", "letter", "lettre", ...); when names say nothing, a PDF
    beside a Word file is the letter (letters are signed scans), and between two Word
    files the one addressed to the President of the Security Council is the letter.
    `word_text` maps an attachment's index to its text, when the caller could read it.
    """
    documents = [
        Document(attachment, detect_type(attachment.content)) for attachment in attachments
    ]
    candidates = [d for d in documents if d.file_type in DOCUMENT_TYPES]
    others = [d for d in documents if d.file_type not in DOCUMENT_TYPES]
    covers = [d for d in candidates if d.named_as_cover]
    rest = [d for d in candidates if not d.named_as_cover]
    texts = word_text or {}

    if not covers and len(rest) > 1:
        by_content = [
            d
            for d in rest
            if d.is_word and _looks_like_cover_letter(texts.get(_index(documents, d)))
        ]
        if by_content and len(by_content) < len(rest):
            covers = by_content[:1]
        else:
            non_word = [d for d in rest if not d.is_word]
            words = [d for d in rest if d.is_word]
            if words and non_word:
                covers = [non_word[0]]
            elif len(non_word) > 1:
                # Two PDFs and no names: the second is as likely the letter as the first.
                covers = [non_word[-1]]
        rest = [d for d in rest if d not in covers]

    statements = [d for d in rest if d.is_word] or rest
    others.extend(d for d in rest if d not in statements)
    others.extend(covers[1:])
    return DocumentSet(tuple(statements), tuple(covers[:1]), tuple(others))


def _index(documents: list[Document], document: Document) -> int:
    for position, candidate in enumerate(documents):
        if candidate is document:
            return position
    return -1
