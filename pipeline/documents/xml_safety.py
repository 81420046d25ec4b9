"""XML from mail, parsed without its dangers: no DOCTYPE or ENTITY declaration reaches a
parser ("billion laughs", external entities), and the parsers made here never expand
entities, load DTDs or touch the network in any case.

`DtdGuard` scans the bytes as they stream (UTF-16/32 parts decoded first, see
`wide_encoding`) and refuses a declaration before the parser sees it; `refuse_parsed_dtd`
catches one the byte scan missed (an exotic encoding) once parsing is done;
`safe_parser`, `safe_pull_parser` and `parse_xml` are the only ways Intake parses XML
from a document. The archive around the XML is `safety.py`'s.
"""

from __future__ import annotations

import codecs
import re
from typing import Any

from lxml import etree

from pipeline.documents.errors import UnreadableDocument, UnsafeDocument

NOT_XML = "its text is not valid XML"
XML_DECLARATIONS = "it contains XML entity declarations"

_DTD_BYTES = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DTD_TEXT = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_MARKER_OVERLAP = 32  # characters (or bytes) kept from the previous chunk; > len('<!DOCTYPE')


def wide_encoding(head: bytes) -> str | None:
    """UTF-16/32 by byte-order mark or by the nul pattern of '<?' (XML spec, appendix F):
    the byte scan would miss markers in these, so they are decoded for the scan."""
    if head.startswith((b"\xff\xfe\x00\x00", b"<\x00\x00\x00")):
        return "utf-32-le"
    if head.startswith((b"\x00\x00\xfe\xff", b"\x00\x00\x00<")):
        return "utf-32-be"
    if head.startswith((b"\xff\xfe", b"<\x00?\x00", b"<\x00")):
        return "utf-16-le"
    if head.startswith((b"\xfe\xff", b"\x00<\x00?", b"\x00<")):
        return "utf-16-be"
    return None


class DtdGuard:
    """Scans an XML part, chunk by chunk, for DOCTYPE and ENTITY declarations.

    WordprocessingML never has a DTD, so any declaration is refused outright rather than
    parsed carefully. Feed each chunk here before feeding it to the parser. The scan
    reads UTF-8, single-byte encodings and UTF-16/32; a declaration in a rarer encoding
    (UTF-7 can spell `<!` without either byte) reaches the parser, which never expands
    it, and `refuse_parsed_dtd` refuses it once parsing is done.
    """

    def __init__(self) -> None:
        self._started = False
        self._tail = b""
        self._decoder: codecs.IncrementalDecoder | None = None
        self._text_tail = ""

    def feed(self, chunk: bytes) -> None:
        if not self._started:
            self._started = True
            encoding = wide_encoding(chunk[:4])
            if encoding is not None:
                self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        if self._decoder is not None:
            text = self._text_tail + self._decoder.decode(chunk)
            if _DTD_TEXT.search(text):
                raise UnsafeDocument(XML_DECLARATIONS)
            self._text_tail = text[-_MARKER_OVERLAP:]
            return
        # `<!` is rare in WordprocessingML (comments, CDATA), so most chunks skip the
        # regex; a marker split between two chunks is caught in a small window.
        if (b"<!" in chunk and _DTD_BYTES.search(chunk)) or (
            self._tail and _DTD_BYTES.search(self._tail + chunk[:_MARKER_OVERLAP])
        ):
            raise UnsafeDocument(XML_DECLARATIONS)
        self._tail = chunk[-_MARKER_OVERLAP:]


def refuse_dtd(data: bytes) -> None:
    """Raise UnsafeDocument if a whole XML part carries DOCTYPE or ENTITY declarations."""
    DtdGuard().feed(data)


def refuse_parsed_dtd(root: Any) -> None:
    """After parsing: a DTD that slipped past the byte scan (say, an encoding the scan
    does not decode) is still refused. The parser will not have expanded it."""
    if root is None:
        return
    info = root.getroottree().docinfo
    if info.internalDTD is not None or info.externalDTD is not None or info.doctype:
        raise UnsafeDocument(XML_DECLARATIONS)


# Entities unexpanded, no DTD loaded, no network, and libxml2's default size limits
# (huge_tree=False caps text nodes at 10 MB and nesting depth).
_PARSER_OPTIONS: dict[str, bool] = {
    "resolve_entities": False,
    "no_network": True,
    "huge_tree": False,
    "load_dtd": False,
    "dtd_validation": False,
}


def safe_parser() -> Any:
    """An lxml XMLParser that cannot be made to expand entities or fetch anything."""
    return etree.XMLParser(**_PARSER_OPTIONS)


def safe_pull_parser(events: tuple[str, ...], tags: list[str]) -> Any:
    """An lxml XMLPullParser (feed-based iterparse) with `safe_parser`'s options."""
    return etree.XMLPullParser(events=events, tag=tags, **_PARSER_OPTIONS)


def parse_xml(data: bytes) -> Any:
    """Parse a small XML part safely: declarations refused before and after parsing."""
    refuse_dtd(data)
    try:
        root = etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError as error:
        raise UnreadableDocument(NOT_XML) from error
    refuse_parsed_dtd(root)
    return root
