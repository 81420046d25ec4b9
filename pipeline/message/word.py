"""Reading a Word statement: does it open, what does it say, how long is it.

This is the seam for the deeper document checks (legacy formats, hostile archives,
language, cover-letter phrases): everything that looks inside a file goes through here.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

import docx
from docx.document import Document as DocxDocument

# No statement of "about 500 words" needs more; larger parts are refused unopened.
MAX_DOCUMENT_XML_BYTES = 64 * 1024 * 1024

_WORD = re.compile(r"\w+(?:[-'’]\w+)*", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


class UnreadableDocument(Exception):
    """The file claims to be Word but cannot be opened; the text says why."""


@dataclass(frozen=True)
class WordText:
    title: str | None
    text: str
    word_count: int


def count_words(text: str) -> int:
    """Words as a reader counts them; each Chinese or Japanese character counts as one."""
    cjk = len(_CJK.findall(text))
    rest = _CJK.sub(" ", text)
    return cjk + len(_WORD.findall(rest))


def _paragraph_texts(document: DocxDocument) -> list[str]:
    texts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                texts.extend(p.text for p in cell.paragraphs)
    return texts


def _guard(content: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            info = archive.getinfo("word/document.xml")
    except KeyError:
        raise UnreadableDocument("the file has no main document part") from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise UnreadableDocument(f"the file is damaged ({error})") from None
    if info.file_size > MAX_DOCUMENT_XML_BYTES:
        raise UnreadableDocument("the document is implausibly large once unpacked")


def read_word(content: bytes) -> WordText:
    """Open a .docx with python-docx and return its text; UnreadableDocument if it fails."""
    _guard(content)
    try:
        document = docx.Document(io.BytesIO(content))
        texts = _paragraph_texts(document)
    except Exception as error:  # python-docx raises many types on damaged files
        raise UnreadableDocument(f"the file could not be opened ({type(error).__name__})") from None
    lines = [t.strip() for t in texts if t and t.strip()]
    text = "\n".join(lines)
    return WordText(
        title=lines[0][:300] if lines else None, text=text, word_count=count_words(text)
    )
