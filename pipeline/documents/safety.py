"""Refusing hostile Word files before any parser looks inside them.

A .docx is a zip of XML parts, so it brings the two classic ways a small attachment can
take a worker down: a decompression bomb (a few hundred KB that inflate to gigabytes) and
XML entity expansion ("billion laughs"). Everything here is bounded by the bytes actually
produced, never by what the archive says about itself: a zip's central directory declares
sizes, and an attacker writes whatever numbers pass the checks.

The layers, cheapest first:

* `inspect_zip` reads only the central directory and the first bytes of each member: how
  many members, their declared sizes and compression ratios, encryption, duplicate names,
  and archives hidden inside the archive. It inflates nothing whole.
* `iter_member` / `read_member` inflate one member in chunks and stop the moment the real
  output passes a limit, whatever the directory claimed. (CPython's zipfile also clips a
  member at its declared size; this does not rely on that.)
* `DtdGuard` refuses XML carrying a DOCTYPE or ENTITY declaration before the parser sees
  those bytes, and the parsers made here never expand entities, load DTDs or use the
  network in any case; `refuse_parsed_dtd` catches a declaration the byte scan missed
  (an exotic encoding) once parsing is done.

Nested archives. Word keeps embedded OLE objects and spreadsheets in `word/embeddings/`,
ActiveX controls in `word/activeX/` and macros in `vbaProject.bin`; all of those are zip
or OLE2 files in their own right and are legitimate. They count as *embedded objects*
(at most `max_embedded`). An archive anywhere else in the package counts as a *nested
archive* (at most `max_nested_archives`, by default none): nothing in a real statement
puts one there. Embedded objects are never opened by this stage, so what they contain
(their own members, archives inside them, depth > 1) is deliberately not examined: it
cannot cost this stage memory. Anything that later opens an embedded object must run it
through `inspect_zip` (or `pipeline.documents.ole`) itself.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from lxml import etree

from pipeline.documents.errors import DocumentError, UnreadableDocument, UnsafeDocument
from pipeline.documents.types import OLE2_MAGIC, ZIP_MAGIC

MIB = 2**20
# Small parts compress extremely well (a 300 KB styles.xml at 30:1 is normal), so the
# ratio test only applies to members that are big enough to matter.
RATIO_CHECK_FLOOR = MIB
CHUNK_SIZE = 64 * 1024
# Folders (and one file name) where Word legitimately stores archives of its own.
EMBEDDING_FOLDERS = ("word/embeddings/", "word/activeX/")
MACRO_PART = "vbaproject.bin"
# zip (local header, empty archive, spanned), OLE2, RAR, 7-Zip. Not gzip: Word stores
# compressed metafiles (.emz, .wmz) as gzip in word/media/.
_ARCHIVE_MAGICS = (
    ZIP_MAGIC,
    b"PK\x05\x06",
    b"PK\x07\x08",
    OLE2_MAGIC,
    b"Rar!\x1a\x07",
    b"7z\xbc\xaf\x27\x1c",
)
# A central-directory entry is 46 bytes plus name, extra field and comment. Real .docx
# entries are about 100 bytes; 1 KB each is generous, and bounds how many ZipInfo
# objects zipfile would build before we could count them.
_MAX_DIRECTORY_BYTES_PER_MEMBER = 1024
_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_LOCATOR_SIZE = 20
_ZIP64_EOCD = b"PK\x06\x06"
_ZIP64_EOCD_SIZE = 56

DAMAGED = "it is damaged or incomplete"
NOT_XML = "its text is not valid XML"
XML_DECLARATIONS = "it contains XML entity declarations"


@dataclass(frozen=True)
class ZipLimits:
    """What a statement's archive may cost to open. The defaults are far above any real
    statement (a 30-page statement unpacks to a few MB) and far below what hurts a worker.
    """

    max_total_uncompressed: int = 200 * MIB
    max_member_uncompressed: int = 100 * MIB
    # Inflated/compressed size of one member; only for members over RATIO_CHECK_FLOOR.
    max_ratio: float = 200.0
    max_members: int = 2000
    # Archives outside the embedding folders (see the module docstring).
    max_nested_archives: int = 0
    # Archives in word/embeddings/, word/activeX/ and vbaProject.bin.
    max_embedded: int = 20


DEFAULT_LIMITS = ZipLimits()


def _size(n: float) -> str:
    return f"{n / MIB:g} MB" if n >= MIB else f"{n / 1024:g} KB"


def _too_big_total(limits: ZipLimits) -> UnsafeDocument:
    return UnsafeDocument(f"it unpacks to more than {_size(limits.max_total_uncompressed)}")


def _too_big_member(limits: ZipLimits) -> UnsafeDocument:
    return UnsafeDocument(
        f"one of its parts unpacks to more than {_size(limits.max_member_uncompressed)}"
    )


def _too_compressed(limits: ZipLimits) -> UnsafeDocument:
    return UnsafeDocument(f"it is compressed more than {limits.max_ratio:g} to 1, like a zip bomb")


def _too_many_members(limits: ZipLimits) -> UnsafeDocument:
    return UnsafeDocument(f"it holds more than {limits.max_members} files")


# ---------------------------------------------------------------------------- archives


def _declared_directory(content: bytes) -> tuple[int, int] | None:
    """(entries, directory bytes) from the end-of-central-directory record, the way
    zipfile will find it; None when there is none (zipfile then reports the damage)."""
    at = content.rfind(_EOCD, max(0, len(content) - (_EOCD_SIZE + 0xFFFF)))
    if at < 0 or len(content) < at + _EOCD_SIZE:
        return None
    entries = int.from_bytes(content[at + 10 : at + 12], "little")
    directory = int.from_bytes(content[at + 12 : at + 16], "little")
    locator = at - _ZIP64_LOCATOR_SIZE
    if locator >= 0 and content[locator : locator + 4] == _ZIP64_LOCATOR:
        # Like zipfile, expect the zip64 record right before its locator.
        record = locator - _ZIP64_EOCD_SIZE
        if record >= 0 and content[record : record + 4] == _ZIP64_EOCD:
            entries = int.from_bytes(content[record + 32 : record + 40], "little")
            directory = int.from_bytes(content[record + 40 : record + 48], "little")
    return entries, directory


def _check_directory_size(content: bytes, limits: ZipLimits) -> None:
    """Refuse an oversized central directory before zipfile turns each entry into an
    object: half a million tiny entries fit in a 25 MB attachment."""
    declared = _declared_directory(content)
    if declared is None:
        return
    entries, directory = declared
    if (
        entries > limits.max_members
        or directory > limits.max_members * _MAX_DIRECTORY_BYTES_PER_MEMBER
    ):
        raise _too_many_members(limits)


def _check_entries(infos: list[zipfile.ZipInfo], limits: ZipLimits) -> None:
    if len(infos) > limits.max_members:
        raise _too_many_members(limits)
    total = 0
    seen: set[str] = set()
    for info in infos:
        # OPC part names are case-insensitive: two spellings of one part let two readers
        # see two different documents.
        key = info.filename.lower()
        if key in seen:
            raise UnsafeDocument("it lists the same part twice")
        seen.add(key)
        if info.flag_bits & 0x1:
            raise UnreadableDocument("part of it is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UnreadableDocument("it uses a compression method Word does not use")
        if info.file_size > limits.max_member_uncompressed:
            raise _too_big_member(limits)
        if info.file_size > RATIO_CHECK_FLOOR and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            raise _too_compressed(limits)
        total += info.file_size
        if total > limits.max_total_uncompressed:
            raise _too_big_total(limits)


def is_embedding(name: str) -> bool:
    """Whether a member sits where Word keeps embedded objects, controls or macros."""
    lowered = name.lower()
    return lowered.startswith(EMBEDDING_FOLDERS) or lowered.rsplit("/", 1)[-1] == MACRO_PART


def _check_nested(
    archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], limits: ZipLimits
) -> None:
    """Count archives inside the archive by their first bytes (names lie too).

    Opening each member also makes zipfile compare its local header with the central
    directory, which catches a good share of damaged files early.
    """
    embedded = nested = 0
    for info in infos:
        if info.is_dir():
            continue
        with archive.open(info) as stream:
            head = stream.read(8)
        if not head.startswith(_ARCHIVE_MAGICS):
            continue
        if is_embedding(info.filename):
            embedded += 1
            if embedded > limits.max_embedded:
                raise UnsafeDocument(f"it embeds more than {limits.max_embedded} objects")
        else:
            nested += 1
            if nested > limits.max_nested_archives:
                raise UnsafeDocument("it contains another archive")


def inspect_archive(archive: zipfile.ZipFile, limits: ZipLimits = DEFAULT_LIMITS) -> None:
    """`inspect_zip` for an archive already made by `open_archive` (a caller that goes on
    to read it saves a second parse of the central directory)."""
    infos = archive.infolist()
    _check_entries(infos, limits)
    _check_nested(archive, infos, limits)


def open_archive(content: bytes, limits: ZipLimits = DEFAULT_LIMITS) -> zipfile.ZipFile:
    """A ZipFile on `content`, once its central directory is known to be of sane size."""
    _check_directory_size(content, limits)
    return zipfile.ZipFile(io.BytesIO(content))


def inspect_zip(content: bytes, limits: ZipLimits = DEFAULT_LIMITS) -> None:
    """Refuse an archive that could exhaust memory, without inflating it.

    Raises UnsafeDocument (bomb, too many members, nested archives, duplicate parts) or
    UnreadableDocument (not a zip, truncated, encrypted, unknown compression). The
    phrases are short enough to quote in a reply: "... because it unpacks to more than
    200 MB".
    """
    try:
        with open_archive(content, limits) as archive:
            inspect_archive(archive, limits)
    except DocumentError:
        raise
    except Exception as error:  # zipfile, zlib and struct all raise their own types
        raise UnreadableDocument(DAMAGED) from error


def iter_member(
    archive: zipfile.ZipFile,
    name: str,
    limits: ZipLimits,
    chunk_size: int = CHUNK_SIZE,
) -> Generator[bytes, None, None]:
    """Inflate one member chunk by chunk, counting what really comes out.

    Raises UnsafeDocument as soon as the inflated bytes pass the member limit, or pass
    `max_ratio` times the compressed size once over RATIO_CHECK_FLOOR: at most one chunk
    beyond a limit is ever in memory, whatever `file_size` said. A damaged member raises
    UnreadableDocument; nothing else escapes.
    """
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise UnreadableDocument(f"it has no {name} part") from None
    budget = limits.max_member_uncompressed
    ratio_budget = max(limits.max_ratio * max(info.compress_size, 1), RATIO_CHECK_FLOOR)
    produced = 0
    try:
        stream = archive.open(info)
    except Exception as error:  # encrypted, unknown method, local header mismatch
        raise UnreadableDocument(DAMAGED) from error
    with stream:
        while True:
            try:
                chunk = stream.read(chunk_size)
            except Exception as error:  # zlib.error, bad CRC, EOFError on a cut stream
                raise UnreadableDocument(DAMAGED) from error
            if not chunk:
                return
            produced += len(chunk)
            if produced > budget:
                raise _too_big_member(limits)
            if produced > ratio_budget:
                raise _too_compressed(limits)
            yield chunk


def read_member(archive: zipfile.ZipFile, name: str, limits: ZipLimits) -> bytes:
    """One member's bytes, read with the limits of `iter_member`. For small parts: the
    result is held whole, so big parts should be streamed with `iter_member`."""
    return b"".join(iter_member(archive, name, limits))


# -------------------------------------------------------------------------------- XML

_DTD_BYTES = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DTD_TEXT = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_MARKER_OVERLAP = 32  # characters (or bytes) kept from the previous chunk; > len('<!DOCTYPE')


def _wide_encoding(head: bytes) -> str | None:
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
            encoding = _wide_encoding(chunk[:4])
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
