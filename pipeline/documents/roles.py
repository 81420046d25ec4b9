"""Which attachment is the statement and which the cover letter.

Types come from `pipeline.documents.types` (the bytes decide); roles come from names,
then types, then content.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipeline.documents.filetype import FileType
from pipeline.documents.letter import check_letter
from pipeline.documents.types import DOCUMENT_TYPES, WORD_TYPES, detect_type
from pipeline.message.parsed import Attachment

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
    index: int
    """The attachment's position in the message."""
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


# Names never decide a file's type, but they say what the sender meant it to be: a
# damaged "statement.docx" is a damaged statement, not a missing one.
_DOCUMENT_EXTENSIONS = (".docx", ".doc", ".docm", ".dotx", ".dot", ".rtf", ".odt", ".pdf")
_DAMAGED_TYPES = frozenset({FileType.ZIP, FileType.EMPTY, FileType.TEXT, FileType.OTHER})


def _candidate(document: Document) -> bool:
    if document.file_type in DOCUMENT_TYPES:
        return True
    if document.file_type is FileType.IMAGE:
        return document.named_as_cover  # a letter scanned to JPEG
    return document.file_type in _DAMAGED_TYPES and document.name.lower().endswith(
        _DOCUMENT_EXTENSIONS
    )


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

    @property
    def all(self) -> tuple[Document, ...]:
        return tuple(
            sorted((*self.statements, *self.cover_letters, *self.others), key=lambda d: d.index)
        )


def classify(
    attachments: Sequence[Attachment],
    *,
    types: Sequence[FileType] | None = None,
    texts: Mapping[int, str] | None = None,
) -> DocumentSet:
    """Decide which attachment is the statement and which the cover letter.

    Names decide first ("cover", "letter", "lettre", ...). When names say nothing, the
    content does: the document addressed to the President of the Security Council is the
    letter. Failing that, a PDF beside a Word file is the letter (letters are signed
    scans). `types` are the attachments' detected types (computed when not given);
    `texts` maps an attachment's index to its text, where the caller could read it.
    """
    kinds = list(types) if types is not None else [detect_type(a.content) for a in attachments]
    documents = [
        Document(index, attachment, kind)
        for index, (attachment, kind) in enumerate(zip(attachments, kinds, strict=True))
    ]
    candidates = [d for d in documents if _candidate(d)]
    others = [d for d in documents if d not in candidates]
    covers = [d for d in candidates if d.named_as_cover]
    rest = [d for d in candidates if not d.named_as_cover]
    known = texts or {}

    def addressed(document: Document) -> bool:
        text = known.get(document.index)
        return text is not None and check_letter(text).addressed_to_president

    if not covers and rest:
        by_content = [d for d in rest if addressed(d)]
        # A lone Word file that opens with a letter is a statement with its letter on top;
        # a lone PDF addressed to the President is a letter without a statement.
        lone_letter = len(rest) == 1 and not rest[0].is_word
        if by_content and (len(by_content) < len(rest) or lone_letter):
            # Letters are short: of several candidates, the shortest text is the letter.
            covers = [min(by_content, key=lambda d: len(known.get(d.index, "")))]
        elif len(rest) > 1:
            non_word = [d for d in rest if not d.is_word]
            words = [d for d in rest if d.is_word]
            if words and non_word:
                covers = [non_word[0]]
            elif len(non_word) > 1:
                unnamed = [d for d in non_word if not d.named_as_statement]
                covers = [unnamed[-1] if unnamed else non_word[-1]]
        rest = [d for d in rest if d not in covers]

    statements = [d for d in rest if d.is_word] or rest
    others.extend(d for d in rest if d not in statements)
    others.extend(covers[1:])
    return DocumentSet(
        tuple(statements), tuple(covers[:1]), tuple(sorted(others, key=lambda d: d.index))
    )
