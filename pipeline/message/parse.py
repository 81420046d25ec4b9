"""Understanding a mail: who sent it, to whom, about what, and which files it carries.

The standard library parses the bytes; mail-parser extracts the attachments from that;
this module turns the result into one typed, immutable value the checks can rely on.
Mail is written by strangers, so:

- Before parsing, a bounded scan of the structure (`bound_structure`) counts MIME parts,
  nesting and header sizes against `[limits]`, with the same line and boundary rules as
  the standard library's parser, at a cost linear in the size of the message. A message
  over a limit is cut where the limit was reached, so no parser does more work than the
  limits allow and attachments beyond the limit are never extracted; what was exceeded
  is recorded on `ParsedMessage.limits_exceeded` for the `message_limits` check.
- The subject, the sender's name and attachment names are decoded here from the raw
  headers (RFC 2047 encoded words, RFC 2231 parameters, 8-bit bytes), leniently: a
  charset that lies or is unknown gives replacement characters (or Windows-1252 text),
  never an exception or silently dropped letters, and the damage is recorded in
  `decoding_problems`.
- When mail-parser fails on a message (some broken headers make it raise), the
  attachments are read with the standard library alone: the same parts, the same bytes.

`parse_message` returns a `ParsedMessage` or raises `UnreadableMessage` (the worker
records that as an outcome); nothing else escapes.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import collapse_rfc2231_value, getaddresses, parseaddr
from functools import cached_property
from typing import Any

import mailparser

from pipeline.message.tnef import WINMAIL_NAME, is_tnef, read_tnef
from pipeline.printable import visible
from pipeline.settings.models import LimitsSettings
from pipeline.storage.blobs import sha256_hex

# mail-parser logs every oddity of every message at WARNING; they are ours to judge.
logging.getLogger("mailparser").setLevel(logging.ERROR)

_CRLF = re.compile(r"[\r\n\t]+")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
# A well-formed multi-byte UTF-8 sequence: text that has one is UTF-8 with damage, not Latin-1.
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_FOLD = re.compile(r"\r\n|\r|\n")
_MAX_NAME = 255
# The longest Message-ID kept (`MessageRecord.message_id`); a longer one is not kept.
MAX_MESSAGE_ID = 998
_MAX_PROBLEMS = 20


class UnreadableMessage(Exception):
    """The bytes are not a mail we can read at all."""


@dataclass(frozen=True)
class Attachment:
    filename: str | None
    """The name the sender gave, decoded for people: one line, no control characters,
    at most 255 characters (the extension kept). Never a path: see `safe_filename`."""
    content: bytes
    declared_type: str
    from_winmail: str | None = None
    """The name of the Outlook winmail.dat (TNEF) it was taken from; None when it was a
    MIME attachment of its own."""

    @cached_property
    def sha256(self) -> str:
        return sha256_hex(self.content)

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class Winmail:
    """An Outlook winmail.dat (TNEF) the message carried. Its files replace it among the
    attachments; none means it held nothing usable."""

    name: str
    files: tuple[str | None, ...]
    """The names of the files taken from it, in order."""
    problems: tuple[str, ...] = ()
    """What could not be read in it ("it was cut short")."""


@dataclass(frozen=True)
class ParsedMessage:
    message_id: str | None
    """The Message-ID as written (unfolded, 8-bit bytes read as text), or None when there
    is none or it is longer than `MAX_MESSAGE_ID`."""
    subject: str
    sender: str | None
    sender_name: str | None
    reply_to: str | None
    recipients: tuple[str, ...]
    content_type: str
    attachments: tuple[Attachment, ...]
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    header_order: tuple[str, ...] = ()
    """The top-level header names (lower case) in the order they appear: whose header
    lies above whose (a receiving server prepends its own)."""
    limits_exceeded: tuple[str, ...] = ()
    """Short phrases ("more than 200 MIME parts"): the message was only read up to there."""
    decoding_problems: tuple[str, ...] = ()
    """Text that could only be read with replacement characters, and why."""
    winmail: tuple[Winmail, ...] = ()
    """Each Outlook winmail.dat the message carried, opened (see `pipeline.message.tnef`)."""
    part_types: tuple[str, ...] = ()
    """The content types of the message's own MIME parts, the top one first, in order.
    The parts of a message attached to it (`message/rfc822`) are that message's, not
    listed: a delegation that forwards a bounce does not send a bounce."""
    refused_sender: str | None = None
    """The From address as written, with its control characters made visible
    (`"ops\\x1b[2J"@evil.example`), when it was refused for characters no address may
    have; `sender` is then None. For the desk: nobody is ever written to at it."""

    def header(self, name: str) -> tuple[str, ...]:
        """All values of a header, case-insensitively; empty when absent."""
        return self.headers.get(name.lower(), ())

    def first_header(self, name: str) -> str | None:
        values = self.header(name)
        return values[0] if values else None

    @property
    def reply_address(self) -> str | None:
        """Where a reply goes: Reply-To when given, otherwise From."""
        return self.reply_to or self.sender


def clean_header_text(value: str | None, *, limit: int = 998) -> str:
    """One line, no control characters: safe to quote in a reply or a table."""
    if not value:
        return ""
    text = _CRLF.sub(" ", str(value))
    text = "".join(ch for ch in text if ch.isprintable())
    return text.strip()[:limit]


# --- Decoding text that strangers wrote ----------------------------------------------------


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, bool]:
    """Bytes in a declared charset as text; True when the label was wrong or unusable.

    The declared charset is tried first. A known charset the bytes break (Shift_JIS with
    a stray byte) is read with replacement characters. An unknown or unusable label
    (`x-unknown`, a non-text codec such as `base64`), no label, or one the bytes prove
    wrong (`us-ascii` over 8-bit bytes, `utf-8` over Latin-1) is read as UTF-8 when the
    bytes are UTF-8, else as Windows-1252: the charsets mislabelled mail really uses.
    Lone surrogates, which some codecs make, become replacement characters.
    """
    name = (charset or "").split("*", 1)[0].strip().lower()
    if name:
        try:
            return _SURROGATES.sub("\ufffd", data.decode(name)), False
        except UnicodeDecodeError:
            family = codecs.lookup(name).name
            if family not in ("ascii", "utf-8"):
                try:
                    return _SURROGATES.sub("\ufffd", data.decode(name, "replace")), True
                except Exception:  # noqa: S110  (codecs are arbitrary code)
                    pass
        except Exception:  # noqa: S110  (unknown, or not a text codec: read it as below)
            pass
    try:
        return data.decode("utf-8"), bool(name)
    except UnicodeDecodeError as error:
        # Cut off in the middle of a character, or with whole characters elsewhere:
        # damaged UTF-8, not Latin-1.
        utf8 = error.reason == "unexpected end of data" or _UTF8_SEQUENCE.search(data)
    if utf8:
        return data.decode("utf-8", "replace"), True
    return data.decode("cp1252", "replace"), True


def _header_bytes_text(value: str) -> tuple[str, bool]:
    """A raw header value as the stdlib keeps it (8-bit bytes as surrogates) as text.

    Headers should be ASCII; 8-bit bytes in them are read as UTF-8, else Windows-1252.
    """
    data = value.encode("utf-8", "surrogateescape")
    if data.isascii():
        return value, False
    return decode_bytes(data, None)


_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")
_QP_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")
_BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/]*")


def _word_bytes(encoding: str, payload: str) -> bytes | None:
    """The bytes of one encoded word; None when they cannot be recovered."""
    data = payload.encode("utf-8", "surrogateescape")
    if encoding in "Bb":
        data = data.rstrip(b"=")
        if len(data) % 4 == 1 or not _BASE64_TEXT.fullmatch(data):
            return None
        try:
            return base64.b64decode(data + b"=" * (-len(data) % 4))
        except (binascii.Error, ValueError):
            return None
    return _QP_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), data.replace(b"_", b" "))


def decode_words(value: str) -> tuple[str, list[str]]:
    """RFC 2047 encoded words decoded leniently, with what went wrong.

    Adjacent words in one charset are joined before decoding (mail clients split a
    character's bytes across words); white space between encoded words is dropped, as
    the RFC says. A word that cannot be decoded stays as written, so nothing is lost.
    """
    problems: list[str] = []
    pieces: list[str] = []
    pending: bytearray = bytearray()
    pending_charset: str | None = None

    def flush() -> None:
        nonlocal pending_charset
        if pending_charset is not None:
            text, damaged = decode_bytes(bytes(pending), pending_charset)
            if damaged:
                problems.append(f"text in charset {pending_charset!r} could not be read in full")
            pieces.append(text)
        pending.clear()
        pending_charset = None

    position = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        if between and not (between.isspace() and pending_charset is not None):
            flush()
            pieces.append(between)
        position = match.end()
        charset, encoding, payload = match.groups()
        data = _word_bytes(encoding, payload)
        if data is None:
            flush()
            problems.append("a broken encoded word was kept as written")
            pieces.append(match.group(0))
            continue
        charset = charset.split("*", 1)[0].lower()
        if pending_charset is not None and charset != pending_charset:
            flush()
        pending_charset = charset
        pending.extend(data)
    flush()
    pieces.append(value[position:])
    return "".join(pieces), problems


def header_text(raw: str | None, *, limit: int = 998) -> tuple[str, list[str]]:
    """A raw header value as one readable line: unfolded, 8-bit bytes and encoded words
    decoded, control characters removed."""
    if not raw:
        return "", []
    text, eight_bit = _header_bytes_text(_FOLD.sub("", str(raw)))
    problems = ["8-bit bytes that are not UTF-8 were read as Windows-1252"] if eight_bit else []
    decoded, word_problems = decode_words(text)
    return clean_header_text(" ".join(decoded.split()), limit=limit), problems + word_problems


def bound_name(name: str, limit: int = _MAX_NAME) -> str:
    """At most `limit` characters, keeping a short extension: `.docx` says what it is."""
    if len(name) <= limit:
        return name
    stem, dot, extension = name.rpartition(".")
    if dot and stem and 0 < len(extension) <= 10:
        return stem[: limit - len(extension) - 1].rstrip() + "." + extension
    return name[:limit].rstrip()


# --- Limits, checked before mail-parser sees the bytes ----------------------------------------

_LINE_END = re.compile(rb"\r\n|\r|\n")


def _dashes_at_line_start(raw: bytes, position: int) -> int | None:
    """Where the next line starting with "--" begins, from `position`; None if none.

    A literal search (memchr-fast) rather than a regular expression with a look-behind,
    which has to be tried at every byte of a 60 KB message."""
    while (found := raw.find(b"--", position)) >= 0:
        if found == 0 or raw[found - 1] in (10, 13):  # LF, CR
            return found
        position = found + 1
    return None


_HEADER_LINE = re.compile(rb"From |[\041-\071\073-\176]*:|[\t ]")
_WHITESPACE_ONLY = re.compile(rb"[ \t]*")
# Each line break followed by another is a blank line: a new block in a delivery report.
_BLANK_LINE = re.compile(rb"(?:\r\n|\r(?!\n)|\n)(?=[\r\n])")
# Kept from an oversized top header block, whatever its size: the checks and the reply
# need them (who sent it, where the answer goes, whether it is automatic mail).
_ESSENTIAL_HEADERS = frozenset(
    {
        b"from",
        b"sender",
        b"reply-to",
        b"to",
        b"cc",
        b"subject",
        b"message-id",
        b"date",
        b"mime-version",
        b"content-type",
        b"content-transfer-encoding",
        b"return-path",
        b"auto-submitted",
        b"precedence",
        b"list-id",
        b"list-unsubscribe",
        b"x-autoreply",
        b"x-autorespond",
        b"x-failed-recipients",
        b"delivered-to",
        b"x-original-to",
        b"envelope-to",
        b"authentication-results",
    }
)
# How far past the limit the top header block is still read, looking for those headers
# and for the body; the rest of such a message is not read at all.
_TOP_HEADER_SCAN_FACTOR = 4


@dataclass(frozen=True)
class _Block:
    """A header block: its fields as [start, end) offsets, and where the body starts."""

    start: int
    fields: tuple[tuple[int, int], ...]
    body: int
    complete: bool
    """False when the scan stopped at its cap before the end of the block."""

    @property
    def size(self) -> int:
        return (self.fields[-1][1] - self.fields[0][0]) if self.fields else 0

    @property
    def longest(self) -> int:
        return max((end - start for start, end in self.fields), default=0)


@dataclass
class _Level:
    """An open multipart: the line that separates its parts, and how deep it is."""

    separator: bytes | None
    """None for a boundary no line can match (not ASCII), as in the stdlib."""
    depth: int
    digest: bool
    is_root: bool
    opened_at: int
    """Where its header block starts."""
    cut: int
    """Where to cut to drop it whole: before the boundary line of the part it is."""
    first_at: int | None = None
    """Where the boundary line that opened its first part starts."""


def _holds_message(content_type: str) -> bool:
    """A message/* body is another whole message (a delivery report is header blocks)."""
    return content_type.startswith("message/") and content_type != "message/delivery-status"


class _StructureScan:
    """Counts parts, nesting and header sizes the way `email.feedparser` will see them.

    Lines end at CR LF, CR or LF; a header block ends at a blank line, a non-header line
    or a boundary; a boundary line of any open multipart ends the parts inside it (the
    outermost it matches takes it); repeated boundary lines make no empty parts;
    `multipart/digest` parts are `message/rfc822` by default; `message/*` parts hold a
    whole message; `message/delivery-status` holds blocks of headers. The scan stops at
    the first limit exceeded and remembers where to cut: before the boundary line of the
    part that broke it, so what comes before is parsed as usual and nothing after it is.
    """

    def __init__(
        self, raw: bytes, limits: LimitsSettings, *, parts: int = 0, depth: int = 0
    ) -> None:
        self.raw = raw
        self.limits = limits
        self.max_block = limits.max_header_kb * 1024
        self.max_line = limits.max_header_line_kb * 1024
        self.parts = parts
        self.base_depth = depth
        self.stack: list[_Level] = []
        self.exceeded: list[str] = []
        self.cut: int | None = None
        self.closing = b""
        self.root: _Block | None = None
        self.root_closed_at: int | None = None
        self.root_separator: bytes | None = None
        self._report: tuple[int, int] | None = None

    # The phrases go into the reply: short and plain.
    def _exceed(self, phrase: str, cut: int | None) -> None:
        if phrase not in self.exceeded:
            self.exceeded.append(phrase)
        if cut is not None:
            # Cutting before a multipart's first part would leave it without a start
            # boundary, which mail-parser cannot always recover from: it goes whole.
            for level in reversed(self.stack):
                if level.first_at != cut:
                    break
                cut = level.cut
        if cut is not None and (self.cut is None or cut < self.cut):
            self.cut = cut
            # The multiparts still open before the cut are closed, so mail-parser sees a
            # well-formed (if shorter) message rather than one it cannot recover from.
            self.closing = b"".join(
                level.separator + b"--\r\n"
                for level in reversed(self.stack)
                if level.opened_at < cut and level.separator is not None
            )

    def _too_many_parts(self, cut: int) -> None:
        self._exceed(f"more than {self.limits.max_parts} MIME parts", cut)

    def _too_deep(self, cut: int) -> None:
        self._exceed(f"more than {self.limits.max_depth} levels of nesting", cut)

    def _check_block(self, block: _Block, cut: int | None) -> bool:
        """Header sizes within the limits; otherwise note it (and cut, for a part)."""
        within = True
        if not block.complete or block.size > self.max_block:
            self._exceed(f"headers larger than {self.limits.max_header_kb} KB", cut)
            within = False
        if block.longest > self.max_line:
            self._exceed(f"a header line longer than {self.limits.max_header_line_kb} KB", cut)
            within = False
        return within

    def _line_end(self, start: int, stop: int | None = None) -> tuple[int, int]:
        """End of the line at `start` (before its line break) and start of the next."""
        limit = len(self.raw) if stop is None else stop
        found = _LINE_END.search(self.raw, start, limit)
        if found is None:
            return limit, limit
        return found.start(), found.end()

    def _boundary_at(self, start: int, end: int) -> tuple[int, bool] | None:
        """The outermost open multipart this line is a boundary of, and whether it closes.

        Outermost: each multipart in the stdlib parser reads its next line through the
        boundaries of every multipart around it first, so when one line is a boundary
        of two of them (a boundary reused inside), the outer one takes it.
        """
        raw = self.raw
        for index in range(len(self.stack)):
            separator = self.stack[index].separator
            if separator is None or not raw.startswith(separator, start):
                continue
            rest = start + len(separator)
            if raw.startswith(b"--", rest) and _WHITESPACE_ONLY.fullmatch(raw, rest + 2, end):
                return index, True
            if _WHITESPACE_ONLY.fullmatch(raw, rest, end):
                return index, False
        return None

    def _read_block(self, start: int, cap: int) -> _Block:
        """Header lines from `start`, reading at most `cap` bytes."""
        raw = self.raw
        stop = min(len(raw), start + cap + 1)
        fields: list[tuple[int, int]] = []
        position = start
        while True:
            if position >= len(raw):
                return _Block(start, tuple(fields), len(raw), True)
            if position >= stop:
                return _Block(start, tuple(fields), position, False)
            end, following = self._line_end(position, stop)
            if end == following and following < len(raw):
                # No line break before the cap: a line longer than the cap.
                fields.append((position, following))
                return _Block(start, tuple(fields), following, False)
            if end == position:
                return _Block(start, tuple(fields), following, True)
            if self.stack and self._boundary_at(position, end) is not None:
                return _Block(start, tuple(fields), position, True)
            if not _HEADER_LINE.match(raw, position, end):
                return _Block(start, tuple(fields), position, True)
            if raw[position] in b" \t" and fields:
                fields[-1] = (fields[-1][0], following)
            else:
                fields.append((position, following))
            position = following

    def _content_type(self, block: _Block, default: str) -> tuple[str, str | None]:
        """Content type and boundary, read by the stdlib from just the Content-Type lines."""
        lines = [
            self.raw[start:end]
            for start, end in block.fields
            if self.raw[start : start + 13].lower() == b"content-type:"
        ]
        if not lines:
            return default, None
        header = b"".join(
            line if line.endswith((b"\n", b"\r")) else line + b"\r\n" for line in lines
        )
        message = BytesHeaderParser().parsebytes(header)
        message.set_default_type(default)
        content_type = message.get_content_type()
        if not content_type.startswith("multipart/"):
            return content_type, None
        return content_type, message.get_boundary()

    def _open(self, block: _Block, depth: int, default: str, cut: int, *, root: bool) -> str | None:
        """What the entity's body holds: a multipart is opened, a delivery report noted,
        a message/* counted as a level. Its content type; None past the nesting limit."""
        content_type, boundary = self._content_type(block, default)
        if content_type == "message/delivery-status":
            # Its blocks are messages, and a block may say it holds another: two levels.
            if depth + 2 > self.limits.max_depth:
                self._too_deep(cut)
                return None
            self._report = (block.body, cut)
            return content_type
        opens = boundary is not None and content_type.startswith("multipart/")
        if not (opens or _holds_message(content_type)):
            return content_type
        if depth + 1 > self.limits.max_depth:
            self._too_deep(cut)
            return None
        if boundary is not None and opens:
            separator: bytes | None
            try:
                separator = b"--" + boundary.encode("ascii", "surrogateescape")
            except UnicodeEncodeError:
                separator = None
            digest = content_type == "multipart/digest"
            self.stack.append(
                _Level(separator, depth + 1, digest, root, opened_at=block.start, cut=cut)
            )
            if root:
                self.root_separator = separator
        return content_type

    def _entity(self, start: int, depth: int, default: str, cut: int) -> int | None:
        """Read a part's headers (and those of messages inside it); where the scan goes on.

        `cut` is where the message is cut if this part breaks a limit: the start of the
        boundary line that opened it.
        """
        while True:
            self.parts += 1
            if self.parts > self.limits.max_parts:
                self._too_many_parts(cut)
                return None
            block = self._read_block(start, self.max_block)
            if not self._check_block(block, cut):
                return None
            content_type = self._open(block, depth, default, cut, root=False)
            if content_type is None:
                return None
            if not _holds_message(content_type):
                return block.body
            depth, start, default = depth + 1, block.body, "text/plain"

    def _count_report(self, end: int) -> None:
        """A delivery report's blocks of headers are parts too, each perhaps with a message
        inside (two parts a block, to be safe); counted when the report ends."""
        if self._report is None:
            return
        start, cut = self._report
        self._report = None
        self.parts += 2
        for _ in _BLANK_LINE.finditer(self.raw, start, end):
            if self.parts > self.limits.max_parts:
                break
            self.parts += 2
        if self.parts > self.limits.max_parts:
            self._too_many_parts(cut)

    def run(self) -> None:
        raw = self.raw
        # The top header block: over a limit, it is noted (and rebuilt by `bounded`);
        # the rest of the message is still read, unless the block never ended.
        root = self._read_block(0, self.max_block * _TOP_HEADER_SCAN_FACTOR)
        self.root = root
        self._check_block(root, None)
        if not root.complete:
            self.cut = root.body
            return
        position: int | None = self._root_body(root)
        while position is not None and self.stack and self.cut is None:
            line_at = _dashes_at_line_start(raw, position)
            if line_at is None:
                break
            line = line_at
            end, following = self._line_end(line)
            match = self._boundary_at(line, end)
            if match is None:
                position = following
                continue
            self._count_report(line)
            if self.cut is not None:
                return
            index, close = match
            level = self.stack[index]
            del self.stack[index + 1 :]
            if close:
                self.stack.pop()
                if level.is_root:
                    self.root_closed_at = following
                position = following
                continue
            # Repeated boundary lines (even a closing one) make no empty parts.
            while following < len(raw):
                end, after = self._line_end(following)
                again = self._boundary_at(following, end)
                if again is None or again[0] != index:
                    break
                following = after
            default = "message/rfc822" if level.digest else "text/plain"
            if level.first_at is None:
                level.first_at = line
            position = self._entity(following, level.depth, default, line)
        if self.cut is None:
            self._count_report(len(raw))
        if self.cut is None:
            self._epilogue()

    def _root_body(self, root: _Block) -> int | None:
        """Open the top entity; a top-level message/* holds more messages, read here."""
        self.parts += 1
        if self.parts > self.limits.max_parts:
            self._too_many_parts(root.body)
            return None
        depth, block = self.base_depth, root
        while True:
            content_type = self._open(block, depth, "text/plain", root.body, root=block is root)
            if content_type is None:
                return None
            if not _holds_message(content_type):
                return block.body
            depth += 1
            self.parts += 1
            if self.parts > self.limits.max_parts:
                self._too_many_parts(root.body)
                return None
            block = self._read_block(block.body, self.max_block)
            if not self._check_block(block, root.body):
                return None

    def _epilogue(self) -> None:
        """mail-parser re-parses text after the last boundary when a start boundary is
        missing (`find_between` on the epilogue): that text is bounded like the rest,
        and dropped when it is over a limit."""
        if self.root_closed_at is None or self.root_separator is None:
            return
        epilogue = self.raw[self.root_closed_at :]
        first = epilogue.find(self.root_separator)
        if first < 0:
            return
        start = first + len(self.root_separator)
        end = epilogue.find(self.root_separator + b"--", start)
        if end < 0:
            return
        inner = _StructureScan(
            epilogue[start:end].strip(), self.limits, parts=self.parts, depth=self.base_depth + 1
        )
        inner.run()
        if inner.exceeded:
            for phrase in inner.exceeded:
                self._exceed(phrase, self.root_closed_at)

    def bounded(self) -> bytes:
        """The bytes mail-parser reads: the message cut where a limit was reached, with an
        oversized top header block rebuilt from the headers that fit and the essential
        ones (an essential header over the line limit is shortened, the others dropped)."""
        raw, root = self.raw, self.root
        assert root is not None
        if root.complete and root.size <= self.max_block and root.longest <= self.max_line:
            return raw if self.cut is None else raw[: self.cut] + self.closing
        kept: list[bytes] = []
        used = 0
        names: set[bytes] = set()
        for start, end in root.fields:
            name = raw[start : min(end, start + 200)].split(b":", 1)[0].strip().lower()
            essential = name in _ESSENTIAL_HEADERS and name not in names
            if end - start > self.max_line:
                if not essential:
                    continue
                end = self._shortened(start, end)
            if used + end - start <= self.max_block:
                used += end - start
            elif not essential:
                continue
            names.add(name)
            line = raw[start:end]
            kept.append(line if line.endswith((b"\n", b"\r")) else line + b"\r\n")
        body = raw[root.body : self.cut] + self.closing if root.complete else b""
        return b"".join(kept) + b"\r\n" + body

    def _shortened(self, start: int, end: int) -> int:
        """Where to end a header cut to the line limit: after a whole folded line if one
        fits (so an encoded word is not cut in half), else at the limit."""
        stop = start + self.max_line
        found = max(self.raw.rfind(b"\n", start, stop), self.raw.rfind(b"\r", start, stop))
        return found + 1 if found > start else min(end, stop)


def bound_structure(raw: bytes, limits: LimitsSettings) -> tuple[bytes, tuple[str, ...]]:
    """The bytes to parse and the limits exceeded (empty when the message is within them).

    Linear in the size of the message: one pass over its lines that start with `--`,
    plus each part's header block, and no more than `max_parts` of those.
    """
    scan = _StructureScan(raw, limits)
    scan.run()
    if not scan.exceeded:
        return raw, ()
    return scan.bounded(), tuple(scan.exceeded)


# --- From mail-parser's view to ours -----------------------------------------------------------


def _address(value: str | None) -> str | None:
    """The address, lower-cased; None when there is none, or when it has a character no
    address may have (a space, a control character such as ESC, a direction override:
    RFC 5321 allows none of them, even quoted). Such an address is never written to, nor
    printed, nor matched against a mission's senders (see `refused_address`)."""
    if not value:
        return None
    _, address = parseaddr(value)
    address = address.strip().lower()
    if "@" not in address or not _printable_address(address):
        return None
    return address


def _printable_address(address: str) -> bool:
    return all(ch.isprintable() and not ch.isspace() for ch in address)


def refused_address(value: str | None) -> str | None:
    """What the header named, made visible, when `_address` refused it for its
    characters (not for being absent or without a domain); else None."""
    if not value:
        return None
    _, address = parseaddr(value)
    address = address.strip()
    if "@" not in address or _printable_address(address.lower()):
        return None
    return visible(address)


def _addresses(values: Iterable[str]) -> tuple[str, ...]:
    found: list[str] = []
    for _, address in getaddresses([v for v in values if v]):
        cleaned = _address(address)
        if cleaned and cleaned not in found:
            found.append(cleaned)
    return tuple(found)


def _raw_values(message: Message, name: str) -> list[str]:
    """A header's values as written (8-bit bytes still as the stdlib's surrogates),
    folding removed."""
    wanted = name.lower()
    return [
        _FOLD.sub("", str(value)) for key, value in message.raw_items() if key.lower() == wanted
    ]


def _text_values(message: Message, name: str) -> list[str]:
    """A header's values as written, 8-bit bytes read as text, folding removed."""
    return [_header_bytes_text(value)[0] for value in _raw_values(message, name)]


def _headers(message: Message) -> dict[str, tuple[str, ...]]:
    collected: dict[str, list[str]] = {}
    for name, value in message.raw_items():
        text, _ = _header_bytes_text(str(value))
        collected.setdefault(name.lower(), []).append(clean_header_text(text, limit=4000))
    return {name: tuple(values) for name, values in collected.items()}


_Named = tuple[Message, str | None, list[str]]


def _attachment_parts(message: Message) -> list[_Named]:
    """The parts mail-parser 4.8 extracts as attachments, in its order, with their names.

    Mirrors `MailParser.parse`: parts inside an attached (or named) multipart are never
    inline; a part is an attachment when it has a name, a Content-ID (not text), an RTF
    subtype, or `Content-Disposition: attachment`. Used to read each attachment's name
    from its own headers (`_names` checks that the counts agree), and to extract the
    attachments when mail-parser fails on a message. Each part's parameters are parsed
    once here: on a hostile part that is most of the work.
    """
    found: list[_Named] = []
    inside: set[int] = set()
    for part in message.walk():
        disposition = part.get_content_disposition()
        named: tuple[str | None, list[str]] | None = None
        if part.is_multipart():
            blocks_inline = disposition not in (None, "inline")
            if not blocks_inline and disposition != "inline" and id(part) not in inside:
                named = _part_name(part)
                blocks_inline = named[0] is not None
            if id(part) in inside or blocks_inline:
                payload = part.get_payload()
                if isinstance(payload, list):
                    inside.update(id(child) for child in payload)
            if disposition != "attachment":
                continue
        name, problems = named or _part_name(part)
        content_id = str(part.get("content-id") or "")
        subtype = part.get_content_subtype()
        if (
            name is not None
            or (content_id and subtype not in ("html", "plain"))
            or subtype in "rtf"  # sic: mail-parser tests `in ("rtf")`, a substring test
            or disposition == "attachment"
        ):
            found.append((part, name, problems))
    return found


def _part_content(part: Message) -> bytes:
    """A part's file as mail-parser would give it: the decoded payload, or the parts of
    an attached multipart written out."""
    try:
        if part.is_multipart():
            return b"".join(
                child.as_bytes() for child in part.get_payload() if isinstance(child, Message)
            )
        payload = part.get_payload(decode=True)
    except Exception:  # a part even the stdlib cannot write back: keep nothing of it
        return b""
    return payload if isinstance(payload, bytes) else b""


def _part_name(part: Message) -> tuple[str | None, list[str]]:
    """The attachment's name for people, from its own headers (RFC 2231 and 2047).

    The stdlib turns 8-bit bytes in a parameter into replacement characters before it
    even splits the parameters; so the two headers are first read as text here (UTF-8,
    else Windows-1252), then the stdlib reads the RFC 2231 parameters from that text.
    """
    problems: list[str] = []
    view = Message()
    for name, value in part.raw_items():
        if name.lower() in ("content-type", "content-disposition"):
            text, damaged = _header_bytes_text(_FOLD.sub("", str(value)))
            if damaged:
                problems.append("8-bit bytes that are not UTF-8 were read as Windows-1252")
            view[name] = text
    try:
        # As `Message.get_filename`, but an RFC 2231 charset is applied leniently here.
        param = view.get_param("filename", None, "content-disposition")
        if param is None:
            param = view.get_param("name", None, "content-type")
        raw: str = ""
        if isinstance(param, tuple):
            charset, _, encoded = param
            raw, damaged = decode_bytes(bytes(str(encoded), "raw-unicode-escape"), charset)
            if damaged:
                problems.append(f"its charset {charset!r} did not fit")
        elif param:
            raw = collapse_rfc2231_value(param)
    except Exception:  # compat32 parameter parsing on hostile input: treat as nameless
        return None, ["the name could not be parsed"]
    if not raw or not raw.strip():
        return None, problems
    text, found = header_text(raw.strip(), limit=10_000)
    return (bound_name(text) or None), problems + found


def _attachment(item: Mapping[str, Any], name: str | None) -> Attachment:
    payload = item.get("payload") or ""
    if item.get("binary"):
        try:
            content = base64.b64decode(payload)
        except (binascii.Error, ValueError):
            content = b""
    else:
        charset = item.get("charset") or "utf-8"
        try:
            content = str(payload).encode(charset, "replace")
        except LookupError:
            content = str(payload).encode("utf-8", "replace")
    declared = clean_header_text(item.get("mail_content_type"), limit=255).lower()
    return Attachment(
        filename=name, content=content, declared_type=declared or "application/octet-stream"
    )


def _names(message: Message, items: list[Any]) -> tuple[list[str | None], list[str]]:
    """Each attachment's name, read from its part; mail-parser's own when they disagree."""
    problems: list[str] = []
    parts = _attachment_parts(message)
    if len(parts) == len(items):
        for index, (_, _, found) in enumerate(parts, start=1):
            problems += [f"attachment {index} name: {problem}" for problem in found]
        return [name for _, name, _ in parts], problems
    # Recovered parts (a broken epilogue) have no part of their own: mail-parser's names.
    return [
        bound_name(clean_header_text(item.get("filename"), limit=10_000)) or None for item in items
    ], problems


def _mailparser_problems(parsed: Any) -> list[str]:
    """Charset repairs mail-parser made in body text, in its own words."""
    found: list[str] = []
    for entry in parsed.defects or []:
        if not isinstance(entry, Mapping):
            continue
        for details in entry.values():
            for detail in details if isinstance(details, list) else [details]:
                text = str(detail)
                if text.startswith("CharsetDecodeDefect"):
                    found.append(clean_header_text(text, limit=200))
    return found


def _unique(items: Iterable[str], limit: int) -> tuple[str, ...]:
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return tuple(seen[:limit])


def _own_part_types(message: Message) -> tuple[str, ...]:
    """Content types of the message and its parts, depth first, without entering an
    attached message (`message/*`: its parts, or a delivery report's blocks)."""
    found: list[str] = []
    waiting: list[Message] = [message]
    while waiting:
        part = waiting.pop()
        content_type = part.get_content_type()
        found.append(content_type)
        if part.is_multipart() and not content_type.startswith("message/"):
            payload = part.get_payload()
            if isinstance(payload, list):
                waiting.extend(p for p in reversed(payload) if isinstance(p, Message))
    return tuple(found)


def _mail_parser_view(
    message: Message,
) -> tuple[list[Attachment] | None, list[str]]:
    """Attachments (with their names) as mail-parser extracts them; None when it fails.

    mail-parser parses every header too (addresses, dates, Received lines) and some
    broken ones make it raise: a From with a broken encoded word, an RFC 2231 name in
    a charset that cannot replace (`idna`), a start boundary missing under a message
    whose top is not multipart. Those are mail-parser's limits, not the message's.
    """
    try:
        parsed = mailparser.MailParser(message)
        items = list(parsed.attachments)
    except Exception:
        return None, []
    names, problems = _names(message, items)
    problems += _mailparser_problems(parsed)
    return [_attachment(item, name) for item, name in zip(items, names, strict=True)], problems


def _stdlib_view(message: Message) -> tuple[list[Attachment], list[str]]:
    """The same attachments, read with the standard library alone."""
    attachments: list[Attachment] = []
    problems: list[str] = []
    for index, (part, name, found) in enumerate(_attachment_parts(message), start=1):
        problems += [f"attachment {index} name: {problem}" for problem in found]
        declared = clean_header_text(part.get_content_type(), limit=255).lower()
        attachments.append(Attachment(name, _part_content(part), declared))
    return attachments, problems


def _file_name(name: str | None) -> str | None:
    """A name from inside TNEF as MIME names are given: one line, bounded, extension kept."""
    return bound_name(clean_header_text(" ".join((name or "").split()), limit=10_000)) or None


def _open_winmail(
    attachments: list[Attachment], limits: LimitsSettings
) -> tuple[list[Attachment], tuple[Winmail, ...], list[str]]:
    """Each winmail.dat replaced by the files it holds, and what each held; with the
    limits exceeded. Names are cleaned as MIME names are; at most `max_parts` files are
    taken from all of them, and none from one larger than `max_message_mb`."""
    if not any(is_tnef(a.declared_type, a.filename, a.content) for a in attachments):
        return attachments, (), []
    opened: list[Attachment] = []
    records: list[Winmail] = []
    exceeded: list[str] = []
    room = limits.max_parts
    for attachment in attachments:
        if not is_tnef(attachment.declared_type, attachment.filename, attachment.content):
            opened.append(attachment)
            continue
        name = attachment.filename or WINMAIL_NAME
        if attachment.size > limits.max_message_mb * 2**20:
            exceeded.append(f"a winmail.dat larger than {limits.max_message_mb} MB")
            records.append(Winmail(name, (), ("too large: not opened",)))
            continue
        contents = read_tnef(attachment.content, max_files=room)
        files = [
            Attachment(
                filename=_file_name(f.name),
                content=f.content,
                declared_type=clean_header_text(f.mime_type, limit=255).lower()
                or "application/octet-stream",
                from_winmail=name,
            )
            for f in contents.files
        ]
        room -= len(files)
        if contents.more_files:
            exceeded.append(f"more than {limits.max_parts} files inside winmail.dat")
        opened.extend(files)
        records.append(Winmail(name, tuple(f.filename for f in files), contents.problems))
    return opened, tuple(records), exceeded


def parse_message(raw: bytes, *, limits: LimitsSettings | None = None) -> ParsedMessage:
    """Read a mail's bytes, within `limits` (the shipped defaults when not given).

    Returns a `ParsedMessage` or raises `UnreadableMessage`; nothing else escapes. The
    stdlib parses the (bounded) bytes once; mail-parser extracts the attachments from
    that, and when mail-parser fails on it, the stdlib alone does, so a header broken
    in a way mail-parser cannot take does not make the whole message unreadable.
    """
    try:
        to_parse, exceeded = bound_structure(raw, limits or LimitsSettings())
        message = email.message_from_bytes(to_parse)
        problems: list[str] = []

        from_raw = next(iter(_raw_values(message, "From")), "")
        sender_name_raw, sender_raw = parseaddr(from_raw) if from_raw else ("", "")
        sender_name, found = header_text(sender_name_raw, limit=200)
        problems += [f"sender name: {p}" for p in found]
        sender_text = _header_bytes_text(sender_raw)[0]
        refused_sender = refused_address(sender_text)
        if refused_sender is not None:
            problems.append(f"From: an address no mail can go to, refused: {refused_sender}")
        subject, found = header_text(next(iter(_raw_values(message, "Subject")), ""))
        problems += [f"subject: {p}" for p in found]

        reply_to = _addresses(_text_values(message, "Reply-To"))
        recipients = _addresses(
            [
                value
                for name in ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")
                for value in _text_values(message, name)
            ]
        )
        attachments, found = _mail_parser_view(message)
        if attachments is None:
            problems.append("mail-parser could not read it; attachments read by the stdlib")
            attachments, found = _stdlib_view(message)
        problems += found
        attachments, winmail, more = _open_winmail(attachments, limits or LimitsSettings())
        # Whole or not at all: a shortened id matches no mail (a reply's In-Reply-To, a
        # duplicate), and the ledger holds at most 998 characters.
        message_id = clean_header_text(
            next(iter(_text_values(message, "Message-ID")), ""), limit=MAX_MESSAGE_ID + 1
        )
        return ParsedMessage(
            message_id=message_id if 0 < len(message_id) <= MAX_MESSAGE_ID else None,
            subject=subject,
            sender=_address(sender_text),
            sender_name=sender_name or None,
            reply_to=reply_to[0] if reply_to else None,
            recipients=recipients,
            content_type=message.get_content_type(),
            attachments=tuple(attachments),
            headers=_headers(message),
            header_order=tuple(name.lower() for name, _value in message.raw_items()),
            limits_exceeded=_unique([*exceeded, *more], _MAX_PROBLEMS),
            decoding_problems=_unique(problems, _MAX_PROBLEMS),
            winmail=winmail,
            part_types=_own_part_types(message),
            refused_sender=refused_sender,
        )
    except Exception as error:  # the last line of defence: never anything but this
        raise UnreadableMessage(f"{type(error).__name__}: {error}") from error
