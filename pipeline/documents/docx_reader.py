"""A statement's text, read straight from the .docx's XML.

python-docx costs about 15 ms per document and builds reference cycles that keep memory
growing in a long-running worker; the checks only need the text, a title and a page
count. Here `word/document.xml` (then footnotes and endnotes) is streamed out of the zip
through `safety.iter_member` into a feed-based lxml pull parser: the part's bytes are never
all in memory, every element is discarded once its text is taken, and the whole read costs
well under a millisecond for a usual statement.

What counts as the statement's text is what a reader of the printed statement reads:

* body paragraphs, including tables, content controls, hyperlinks, field results and
  text boxes (a text box's DrawingML and VML copies are read once: `mc:Fallback` is
  skipped), then footnotes, then endnotes;
* not headers or footers (letterhead, page numbers), not comments, not tracked
  deletions (`w:delText`, `w:del`, `w:moveFrom`: the text as it stands after the
  changes) and not field instructions (`w:instrText`, e.g. `PAGE \\* MERGEFORMAT`);
* `w:tab` is a space, `w:br` and `w:cr` a line break, a non-breaking hyphen a hyphen.

Paragraphs are stripped, empty ones dropped, and joined by "\\n"; `paragraphs` counts the
non-empty ones. The parts are taken at the names Word, LibreOffice and python-docx all use
(`word/document.xml`, `word/footnotes.xml`, ...) rather than through the relationships.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from lxml import etree

from pipeline.documents.errors import DocumentError, UnreadableDocument
from pipeline.documents.safety import (
    DAMAGED,
    DEFAULT_LIMITS,
    MACRO_PART,
    ZipLimits,
    inspect_archive,
    iter_member,
    open_archive,
    read_member,
)
from pipeline.documents.xml_safety import (
    NOT_XML,
    DtdGuard,
    parse_xml,
    refuse_parsed_dtd,
    safe_pull_parser,
)

MAIN_PART = "word/document.xml"
FOOTNOTES_PART = "word/footnotes.xml"
ENDNOTES_PART = "word/endnotes.xml"
STYLES_PART = "word/styles.xml"
APP_PART = "docProps/app.xml"
CONTENT_TYPES_PART = "[Content_Types].xml"
MAX_TITLE = 300
# Parts `_Reader.collect` streams through a DtdGuard itself; `inspect_archive` checks
# every other XML part (styles, settings, headers, relationships, ...) for declarations.
_SCANNED_WHEN_READ = frozenset({MAIN_PART, FOOTNOTES_PART, ENDNOTES_PART})

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_EP = "{http://schemas.openxmlformats.org/officeDocument/2006/extended-properties}"
_P, _R, _T, _TR = f"{_W}p", f"{_W}r", f"{_W}t", f"{_W}tr"
_TAB, _PTAB, _BR, _CR = f"{_W}tab", f"{_W}ptab", f"{_W}br", f"{_W}cr"
_NB_HYPHEN = f"{_W}noBreakHyphen"
_PSTYLE, _PPR = f"{_W}pStyle", f"{_W}pPr"
_DEL, _MOVE_FROM, _FALLBACK = f"{_W}del", f"{_W}moveFrom", f"{_MC}Fallback"
_FOOTNOTE, _ENDNOTE = f"{_W}footnote", f"{_W}endnote"
_TYPE, _VAL, _STYLE_ID = f"{_W}type", f"{_W}val", f"{_W}styleId"
_STYLE, _NAME = f"{_W}style", f"{_W}name"
_SKIPPED = frozenset({_DEL, _MOVE_FROM, _FALLBACK})
_NOTES = frozenset({_FOOTNOTE, _ENDNOTE})
# Elements whose end is a safe moment to discard everything parsed so far beside them.
_DISCARDED = frozenset({_P, _R, _TR})
_RUN_CHARACTERS = {_TAB: " ", _PTAB: " ", _BR: "\n", _CR: "\n", _NB_HYPHEN: "-"}
_TAGS = [
    _P,
    _R,
    _T,
    _TR,
    _PSTYLE,
    _DEL,
    _MOVE_FROM,
    _FALLBACK,
    _FOOTNOTE,
    _ENDNOTE,
    *_RUN_CHARACTERS,
]
_EVENTS = ("start", "end")
_BLOCK_RUNS = 1024

# English style ids (Word, LibreOffice, python-docx) say what they are; other ids are
# looked up by name in styles.xml: German Word calls Heading 1 "berschrift1", Chinese
# and Russian Word call it "1", but the style's w:name is "heading 1" in every language.
_HEADING_ID = re.compile(r"(?i)title|heading")
_HEADING_NAME = re.compile(r"(?i)title|heading [1-9]")
_PLAIN_IDS = frozenset(
    {"normal", "listparagraph", "bodytext", "normalweb", "nospacing", "footnotetext"}
)
_MACRO_CONTENT_TYPES = (b"macroenabled", b"vbaproject")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class DocxText:
    """What the checks need from a .docx statement (see the module docstring)."""

    text: str
    title: str | None
    # The page count Word saved in docProps/app.xml, when there is one: an estimate
    # made by the last application that saved the file, not a layout of our own.
    pages: int | None
    has_macros: bool
    paragraphs: int


class _Paragraph:
    __slots__ = ("blocks", "element", "parts", "style")

    def __init__(self, element: Any) -> None:
        self.element = element
        self.parts: list[str] = []
        # Runs already joined: a paragraph of a million tiny runs costs its text, not a
        # million string objects.
        self.blocks: list[str] = []
        self.style: str | None = None

    def add(self, text: str) -> None:
        parts = self.parts
        parts.append(text)
        if len(parts) >= _BLOCK_RUNS:
            self.blocks.append("".join(parts))
            parts.clear()

    def text(self) -> str:
        return "".join((*self.blocks, *self.parts)) if self.blocks else "".join(self.parts)


def _discard(element: Any) -> None:
    """Free a finished element and the finished siblings before it: the tree never
    holds more than the paragraph being read and its ancestors."""
    element.clear(keep_tail=False)
    _discard_before(element)


def _discard_before(element: Any) -> None:
    """Free the siblings before an element (they are complete even if it is not)."""
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


class _TextCollector:
    """Turns pull-parser events of one part into paragraphs."""

    def __init__(self, keep_styles: bool) -> None:
        self.paragraphs: list[str] = []
        # Index of the first non-empty paragraph of each paragraph style (body only).
        self.first_by_style: dict[str, int] = {}
        self._keep_styles = keep_styles
        self._stack: list[_Paragraph] = []
        self._skipping = 0

    def handle(self, events: Iterable[tuple[str, Any]]) -> None:
        stack = self._stack
        for event, element in events:
            tag = element.tag
            if event == "start":
                if tag == _P:
                    stack.append(_Paragraph(element))
                elif tag in _SKIPPED or (tag in _NOTES and _is_separator(element)):
                    self._skipping += 1
                continue
            if tag == _T:
                if not self._skipping and stack:
                    text = element.text
                    if text:
                        stack[-1].add(text)
            elif tag == _R:
                _discard(element)
            elif tag == _P:
                if stack:
                    self._finish(stack.pop())
                _discard(element)
            elif tag in _RUN_CHARACTERS:
                # w:tab also defines tab stops inside w:pPr/w:tabs; only a run's counts.
                parent = element.getparent()
                if not self._skipping and stack and parent is not None and parent.tag == _R:
                    stack[-1].add(_RUN_CHARACTERS[tag])
            elif tag == _PSTYLE:
                self._style(element)
            elif tag in _SKIPPED or (tag in _NOTES and _is_separator(element)):
                self._skipping -= 1
            elif tag == _TR:
                _discard(element)

    def _style(self, element: Any) -> None:
        # Only the paragraph's own pPr; w:pPrChange (a tracked format change) holds the
        # old pPr with an old pStyle.
        if not self._keep_styles or not self._stack:
            return
        ppr = element.getparent()
        if ppr is None or ppr.tag != _PPR or ppr.getparent() is not self._stack[-1].element:
            return
        value = element.get(_VAL)
        if value:
            self._stack[-1].style = value

    def _finish(self, paragraph: _Paragraph) -> None:
        text = paragraph.text().strip()
        if not text:
            return
        if paragraph.style is not None and paragraph.style not in self.first_by_style:
            self.first_by_style[paragraph.style] = len(self.paragraphs)
        self.paragraphs.append(text)


def _is_separator(element: Any) -> bool:
    """Footnote separators and continuation notices are layout, not text."""
    kind = element.get(_TYPE)
    return kind is not None and kind != "normal"


class _Reader:
    def __init__(self, archive: zipfile.ZipFile, limits: ZipLimits) -> None:
        self.archive = archive
        self.limits = limits
        self.names = set(archive.namelist())

    def collect(self, name: str, *, keep_styles: bool = False) -> _TextCollector:
        collector = _TextCollector(keep_styles)
        parser = safe_pull_parser(_EVENTS, _TAGS)
        guard = DtdGuard()
        with closing(iter_member(self.archive, name, self.limits)) as chunks:
            for chunk in chunks:
                guard.feed(chunk)
                parser.feed(chunk)
                collector.handle(parser.read_events())
        root = parser.close()
        collector.handle(parser.read_events())
        refuse_parsed_dtd(root)
        return collector

    def pages(self) -> int | None:
        if APP_PART not in self.names:
            return None
        try:
            root = parse_xml(read_member(self.archive, APP_PART, self.limits))
        except UnreadableDocument:
            return None  # damaged metadata does not make the statement unreadable
        pages = root.find(f"{_EP}Pages")
        if pages is None or not (pages.text or "").strip().isdigit():
            return None
        return int(pages.text.strip())

    def has_macros(self) -> bool:
        if any(name.lower().rsplit("/", 1)[-1] == MACRO_PART for name in self.names):
            return True
        if CONTENT_TYPES_PART not in self.names:
            return False
        types = read_member(self.archive, CONTENT_TYPES_PART, self.limits).lower()
        return any(marker in types for marker in _MACRO_CONTENT_TYPES)

    def heading_names(self, wanted: set[str]) -> set[str]:
        """Which of the `wanted` style ids styles.xml names Title or heading 1-9.

        Streams styles.xml (python-docx's is 350 KB) and stops once every wanted id is
        found, so the usual cost is a fraction of a parse.
        """
        found: set[str] = set()
        if STYLES_PART not in self.names:
            return found
        parser = safe_pull_parser(("end",), [_NAME])
        guard = DtdGuard()
        remaining = set(wanted)
        with closing(iter_member(self.archive, STYLES_PART, self.limits)) as chunks:
            for chunk in chunks:
                guard.feed(chunk)
                try:
                    parser.feed(chunk)
                except etree.XMLSyntaxError:
                    return found  # the text was readable; only the title falls back
                for _event, name in parser.read_events():
                    style = name.getparent()
                    if style is None or style.tag != _STYLE:
                        continue
                    style_id = style.get(_STYLE_ID)
                    if style_id in remaining:
                        remaining.discard(style_id)
                        if _HEADING_NAME.fullmatch(name.get(_VAL) or ""):
                            found.add(style_id)
                    _discard_before(style)
                if not remaining:
                    return found
        return found


def _title(reader: _Reader, body: _TextCollector) -> str | None:
    """The first paragraph styled Title or Heading 1-9, else the first line of text."""
    candidates = sorted(body.first_by_style.items(), key=lambda item: item[1])
    best: int | None = None
    unknown: set[str] = set()
    for style_id, index in candidates:
        if _HEADING_ID.match(style_id):
            best = index
            break
        if style_id.lower() not in _PLAIN_IDS:
            unknown.add(style_id)
    if unknown:
        headings = reader.heading_names(unknown)
        for style_id, index in candidates:
            if best is not None and index >= best:
                break
            if style_id in headings:
                best = index
                break
    if best is not None:
        text = _SPACES.sub(" ", body.paragraphs[best]).strip()
    elif body.paragraphs:
        text = body.paragraphs[0].split("\n", 1)[0].strip()
    else:
        return None
    return text[:MAX_TITLE] or None


def _read(content: bytes, limits: ZipLimits) -> DocxText:
    with open_archive(content, limits) as archive:
        # The body and the notes are scanned for declarations as they are parsed (`collect`).
        inspect_archive(archive, limits, skip_xml=_SCANNED_WHEN_READ)
        reader = _Reader(archive, limits)
        if MAIN_PART not in reader.names:
            raise UnreadableDocument("it has no document body (word/document.xml)")
        body = reader.collect(MAIN_PART, keep_styles=True)
        paragraphs = list(body.paragraphs)
        for part in (FOOTNOTES_PART, ENDNOTES_PART):
            if part in reader.names:
                paragraphs.extend(reader.collect(part).paragraphs)
        return DocxText(
            text="\n".join(paragraphs),
            title=_title(reader, body),
            pages=reader.pages(),
            has_macros=reader.has_macros(),
            paragraphs=len(paragraphs),
        )


def read_docx(content: bytes, limits: ZipLimits = DEFAULT_LIMITS) -> DocxText:
    """Read a .docx statement's text safely: `inspect_zip`'s checks first, then bounded,
    streamed parsing of the parts.

    Raises only UnsafeDocument (a bomb, nested archives, XML declarations) and
    UnreadableDocument (not a zip, truncated, no body, broken XML, anything else that
    goes wrong inside zipfile, zlib or lxml), each with a short phrase for a reply.
    """
    try:
        return _read(content, limits)
    except DocumentError:
        raise
    except etree.XMLSyntaxError as error:
        raise UnreadableDocument(NOT_XML) from error
    except Exception as error:  # zipfile, zlib, struct, lxml: one answer for all of them
        raise UnreadableDocument(DAMAGED) from error
