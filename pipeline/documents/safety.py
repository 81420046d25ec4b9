"""Refusing hostile Word files before any parser looks inside them.

A .docx is a zip of XML parts, so it brings the two classic ways a small attachment can
take a worker down: a decompression bomb (a few hundred KB that inflate to gigabytes) and
XML entity expansion ("billion laughs"). Everything here is bounded by the bytes actually
produced, never by what the archive says about itself: a zip's central directory declares
sizes, and an attacker writes whatever numbers pass the checks.

The layers, cheapest first:

* `inspect_zip` reads the central directory and the first bytes of each member: how
  many members, their declared sizes and compression ratios, encryption, duplicate names,
  and archives hidden inside the archive. The only members it inflates whole are the XML
  parts (any member whose first bytes are XML, whatever its name: `styles.xml` as much
  as `document.xml`, an .odt's parts as much as a .docx's), streamed through `DtdGuard`
  within the limits below, so a DOCTYPE anywhere refuses the file before Intake's reader,
  python-docx in the compilation, or LibreOffice parses any of it.
* `iter_member` / `read_member` inflate one member in chunks and stop the moment the real
  output passes a limit, whatever the directory claimed. (CPython's zipfile also clips a
  member at its declared size; this does not rely on that.)
* `xml_safety.DtdGuard` refuses XML carrying a DOCTYPE or ENTITY declaration before the
  parser sees those bytes, and the parsers made there never expand entities, load DTDs
  or use the network in any case; `refuse_parsed_dtd` catches a declaration the byte
  scan missed (an exotic encoding) once parsing is done.

Nested archives. Word keeps embedded OLE objects and spreadsheets in `word/embeddings/`,
ActiveX controls in `word/activeX/` and macros in `vbaProject.bin` (an .odt keeps an OLE
object as `Object 1`, `Object 2`, ... at the top); all of those are zip or OLE2 files in
their own right and are legitimate. They count as *embedded objects*
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
from contextlib import closing
from dataclasses import dataclass

from pipeline.documents.errors import DocumentError, UnreadableDocument, UnsafeDocument
from pipeline.documents.types import OLE2_MAGIC, ZIP_MAGIC
from pipeline.documents.xml_safety import NOT_XML, XML_DECLARATIONS, wide_encoding

MIB = 2**20
# Small parts compress extremely well (a 300 KB styles.xml at 30:1 is normal), so the
# ratio test only applies to members that are big enough to matter.
RATIO_CHECK_FLOOR = MIB
CHUNK_SIZE = 64 * 1024
# Folders (and one file name) where Word legitimately stores archives of its own.
EMBEDDING_FOLDERS = ("word/embeddings/", "word/activeX/")
MACRO_PART = "vbaproject.bin"
# An OpenDocument file's embedded OLE objects: "Object 1", "Object 2", ... at the top.
_ODF_OBJECT = re.compile(r"object \d+")
# How much of a member is read to tell an archive or an XML part from anything else.
_HEAD_SIZE = 512
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
    """Whether a member sits where Word (or an .odt) keeps embedded objects, controls or
    macros."""
    lowered = name.lower()
    return (
        lowered.startswith(EMBEDDING_FOLDERS)
        or lowered.rsplit("/", 1)[-1] == MACRO_PART
        or _ODF_OBJECT.fullmatch(lowered) is not None
    )


def _looks_like_xml(head: bytes) -> bool:
    """An XML part's first bytes: `<` after an optional UTF-8 byte-order mark and white
    space, or the UTF-16/32 patterns of `wide_encoding`. Media, fonts and `mimetype` are
    not; a parser would refuse a part that starts otherwise before reading any DTD."""
    if wide_encoding(head[:4]) is not None:
        return True
    return head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n").startswith(b"<")


_PROLOG_SPACE = " \t\r\n\ufeff"


class PrologScan:
    """Reads an XML part up to its root element and refuses a declaration before it.

    A DOCTYPE, and with it any ENTITY, can only stand in the prolog, before the root
    element (XML 1.0, section 2.8: `document ::= prolog element Misc*`); after the root
    element has started, a parser stops at one as an error. So this scan ends where the
    root element starts, usually within the first hundred bytes, whatever the size of
    the part. It follows the prolog's own grammar (white space, processing instructions
    such as `<?xml ...?>`, comments): a `<!` that opens anything but a comment is
    refused, and a comment cannot hide a declaration behind a fake `<root>`. Text that is
    no markup at all where the prolog expects some is refused as not XML.
    UTF-16/32 parts are decoded (`wide_encoding`); anything else is read as bytes.
    """

    def __init__(self) -> None:
        self.done = False
        self._decoder: codecs.IncrementalDecoder | None = None
        self._start = b""  # the first bytes, until there are enough to tell the encoding
        self._pending = ""
        self._awaiting: str | None = None  # the end of the comment or PI being skipped

    def feed(self, chunk: bytes) -> None:
        if self.done:
            return
        if self._decoder is None:
            chunk = self._start + chunk
            if len(chunk) < 4:
                self._start = chunk
                return
            encoding = wide_encoding(chunk[:4])
            if encoding is None:
                # One character per byte: the markers are ASCII in every encoding Word,
                # LibreOffice and the parsers here read without a wide decoder.
                encoding = "latin-1"
                chunk = chunk.removeprefix(b"\xef\xbb\xbf")
            self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        text = self._pending + self._decoder.decode(chunk)
        self._pending = ""
        at = 0
        while True:
            if self._awaiting is not None:
                end = text.find(self._awaiting, at)
                if end < 0:  # keep only what could start the end marker
                    self._pending = text[max(at, len(text) - len(self._awaiting) + 1) :]
                    return
                at = end + len(self._awaiting)
                self._awaiting = None
            while at < len(text) and text[at] in _PROLOG_SPACE:
                at += 1
            head = text[at : at + 4]
            if not head:
                return
            if head[0] != "<":
                raise UnreadableDocument(NOT_XML)
            if head.startswith("<?"):
                self._awaiting, at = "?>", at + 2
            elif head.startswith("<!--"):
                self._awaiting, at = "-->", at + 4
            elif head.startswith("<!") and not "<!--".startswith(head):
                raise UnsafeDocument(XML_DECLARATIONS)
            elif len(head) > 1 and head[1] not in "?!":
                self.done = True  # the root element: the prolog is over
                return
            else:  # "<", "<!" or "<!-" at the end of the text: wait for more
                self._pending = text[at:]
                return


def _refuse_declarations(
    archive: zipfile.ZipFile, name: str, limits: ZipLimits, head: bytes
) -> None:
    """Refuse a declaration in the prolog of the member `name`, whose first bytes are
    `head`; read further (within the limits) only while the prolog goes on."""
    scan = PrologScan()
    scan.feed(head)
    if scan.done:
        return
    scan = PrologScan()
    with closing(iter_member(archive, name, limits)) as chunks:
        for chunk in chunks:
            scan.feed(chunk)
            if scan.done:
                return


def _check_members(
    archive: zipfile.ZipFile,
    infos: list[zipfile.ZipInfo],
    limits: ZipLimits,
    skip_xml: frozenset[str],
) -> None:
    """Count archives inside the archive by their first bytes (names lie too), and refuse
    XML declarations in every XML part but those in `skip_xml` (which the caller scans
    itself as it parses them).

    Opening each member also makes zipfile compare its local header with the central
    directory, which catches a good share of damaged files early.
    """
    embedded = nested = 0
    for info in infos:
        if info.is_dir():
            continue
        with archive.open(info) as stream:
            head = stream.read(_HEAD_SIZE)
        if head.startswith(_ARCHIVE_MAGICS):
            if is_embedding(info.filename):
                embedded += 1
                if embedded > limits.max_embedded:
                    raise UnsafeDocument(f"it embeds more than {limits.max_embedded} objects")
            else:
                nested += 1
                if nested > limits.max_nested_archives:
                    raise UnsafeDocument("it contains another archive")
        elif info.filename not in skip_xml and _looks_like_xml(head):
            _refuse_declarations(archive, info.filename, limits, head)


def inspect_archive(
    archive: zipfile.ZipFile,
    limits: ZipLimits = DEFAULT_LIMITS,
    *,
    skip_xml: frozenset[str] = frozenset(),
) -> None:
    """`inspect_zip` for an archive already made by `open_archive` (a caller that goes on
    to read it saves a second parse of the central directory). `skip_xml`: parts the
    caller itself streams through `DtdGuard` (their declarations are refused there)."""
    infos = archive.infolist()
    _check_entries(infos, limits)
    _check_members(archive, infos, limits, skip_xml)


def open_archive(content: bytes, limits: ZipLimits = DEFAULT_LIMITS) -> zipfile.ZipFile:
    """A ZipFile on `content`, once its central directory is known to be of sane size."""
    _check_directory_size(content, limits)
    return zipfile.ZipFile(io.BytesIO(content))


def inspect_zip(content: bytes, limits: ZipLimits = DEFAULT_LIMITS) -> None:
    """Refuse an archive that could exhaust memory or abuse a parser, inflating nothing
    but its XML parts, in chunks, within `limits`.

    Raises UnsafeDocument (bomb, too many members, nested archives, duplicate parts, XML
    entity declarations in any part) or
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
