"""The text of a PDF cover letter, read defensively.

Why this module exists: cover letters arrive as PDFs written by every tool in the world,
many of them scans, some damaged in transit, a few hostile. The pipeline only needs the
first page or two of text to check the letter's wording, and it must never crash, hang
or fill the logs because of one attachment. So:

* every failure of pypdf (it raises ``ValueError``, ``KeyError``, ``RecursionError``... on
  broken files, not only its own exceptions) and every warning turned into an error
  becomes :class:`~pipeline.documents.errors.UnreadableDocument` with a short phrase
  that can go into a reply to the delegation;
* PDFs "encrypted" only to restrict printing or copying open with the empty password, as
  in any PDF viewer; a real user password is reported as such;
* the input size and the reading time are bounded: the text is extracted page by page
  and reading stops after :data:`TIME_BUDGET_SECONDS`, keeping what was read. The
  budget is checked between pages, so neither the opening parse (pypdf rebuilds the
  cross-reference table of a damaged file by scanning all of it: about 7 s for a crafted
  49 MB file) nor one pathological page can be interrupted; a hard bound would need a
  subprocess, or a lower ``max_bytes``;
* pypdf reports every benign oddity (a wrong xref offset, a missing ``/Length``) on its
  loggers at WARNING. During :func:`read_pdf` those records are demoted to DEBUG on this
  module's logger; pypdf's logging for any other caller in the process is left alone.
"""

from __future__ import annotations

import logging
import pkgutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from io import BytesIO

import pypdf
from pypdf import PasswordType, PdfReader
from pypdf.errors import (
    DependencyError,
    EmptyFileError,
    FileNotDecryptedError,
    LimitReachedError,
)

from pipeline.documents.errors import UnreadableDocument

__all__ = ["TEXT_LAYER_MIN_LETTERS", "TIME_BUDGET_SECONDS", "PdfText", "read_pdf"]

#: Fewer letters than this in the extracted text means "no text layer": a scanned page
#: yields nothing, or a few stray characters from a stamp or a scanner's watermark.
TEXT_LAYER_MIN_LETTERS = 20
#: Wall-clock budget for one PDF. A one-page letter takes a few milliseconds; pypdf can
#: take minutes on pathological files, and one attachment must not stall the worker.
TIME_BUDGET_SECONDS = 2.0

_log = logging.getLogger(__name__)
_reading: ContextVar[bool] = ContextVar("pipeline_pdf_reading", default=False)


@dataclass(frozen=True)
class PdfText:
    """What :func:`read_pdf` could read.

    ``pages`` is the page count of the whole document (``None`` if the page tree is too
    damaged to count), not the number of pages read. ``has_text_layer`` is false for
    scans, so callers can tell "the letter says nothing" from "the letter is an image".
    """

    text: str
    pages: int | None
    has_text_layer: bool


class _DemoteWhileReading(logging.Filter):
    """Drops pypdf's records emitted inside :func:`read_pdf`, re-logging them at DEBUG.

    Why a filter on each pypdf logger: pypdf logs through ``logging.getLogger(__name__)``
    of its submodules, and a filter on the parent ``pypdf`` logger does not see records
    of its children. The context variable confines the effect to this module's calls
    (per thread and per task), unlike raising the ``pypdf`` logger's level globally.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not _reading.get():
            return True
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("pypdf %s: %s", record.levelname.lower(), record.getMessage())
        return False


def _install_log_filter() -> None:
    """Attach the filter to ``pypdf`` and each of its modules (their logger names)."""
    names = ["pypdf"]
    names.extend(
        info.name
        for info in pkgutil.walk_packages(pypdf.__path__, "pypdf.", onerror=lambda _: None)
    )
    log_filter = _DemoteWhileReading()
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DemoteWhileReading) for f in logger.filters):
            logger.addFilter(log_filter)


_install_log_filter()


@contextmanager
def _quiet_pypdf() -> Iterator[None]:
    token = _reading.set(True)
    try:
        yield
    finally:
        _reading.reset(token)


def _letters(text: str) -> int:
    return sum(1 for ch in text if ch.isalpha())


def _unreadable(exc: BaseException) -> UnreadableDocument:
    """The reply-ready phrase for a pypdf failure (the cause stays chained for the logs)."""
    if isinstance(exc, EmptyFileError):
        phrase = "the PDF is empty"
    elif isinstance(exc, FileNotDecryptedError):
        phrase = "the PDF is password-protected"
    elif isinstance(exc, LimitReachedError | RecursionError | MemoryError):
        phrase = "the PDF is too complex to read"
    elif isinstance(exc, DependencyError):
        phrase = "the PDF uses an encryption that cannot be opened here"
    else:
        phrase = "the PDF is damaged"
    return UnreadableDocument(phrase)


def _open(content: bytes) -> PdfReader:
    """A reader, decrypted with the empty password when the PDF is encrypted."""
    reader = PdfReader(BytesIO(content), strict=False)
    # Most "encrypted" PDFs only restrict printing or editing: their user password is
    # empty and every viewer opens them without asking. Only a real one fails.
    if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        raise UnreadableDocument("the PDF is password-protected")
    return reader


def _page_count(reader: PdfReader) -> int | None:
    try:
        return len(reader.pages)
    except Exception:  # a damaged page tree: the text of the pages may still be reachable
        return None


def read_pdf(content: bytes, *, max_pages: int = 3, max_bytes: int = 50 * 2**20) -> PdfText:
    """The text of the first ``max_pages`` pages of a PDF.

    Raises :class:`UnreadableDocument` (and nothing else) when the bytes are not a PDF
    that can be read: larger than ``max_bytes`` (refused unopened), empty, damaged,
    truncated, or protected by a user password. When reading takes longer than
    :data:`TIME_BUDGET_SECONDS` the text of the pages read so far is returned (the budget
    is checked between pages: see the module's notes).
    """
    if len(content) > max_bytes:
        raise UnreadableDocument("the PDF is too large")
    deadline = time.monotonic() + TIME_BUDGET_SECONDS
    chunks: list[str] = []
    with _quiet_pypdf():
        try:
            reader = _open(content)
            pages = _page_count(reader)
            limit = max_pages if pages is None else min(max_pages, pages)
            for number in range(limit):
                if time.monotonic() > deadline:
                    _log.warning("PDF text extraction stopped after %d page(s): too slow", number)
                    break
                chunks.append(reader.pages[number].extract_text())
        except UnreadableDocument:
            raise
        except Exception as exc:  # pypdf raises any exception type on hostile input
            raise _unreadable(exc) from exc
    text = "\n".join(chunks)
    return PdfText(text=text, pages=pages, has_text_layer=_letters(text) >= TEXT_LAYER_MIN_LETTERS)
