"""Which attachment is the statement and which the cover letter.

Types come from `pipeline.documents.types` (the bytes decide); roles come from names,
then types, then content.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.documents.types import DOCUMENT_TYPES, WORD_TYPES, FileType, detect_type
from pipeline.message.parse import Attachment

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
