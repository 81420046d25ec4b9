"""The MIME structure of a message, bounded before any parser reads it.

A bounded scan (`bound_structure`) counts MIME parts, nesting and header sizes against
`[limits]`, with the same line and boundary rules as the standard library's parser, at
a cost linear in the size of the message. A message over a limit is cut where the limit
was reached, so no parser does more work than the limits allow and attachments beyond
the limit are never extracted; what was exceeded is returned as short phrases, kept on
`ParsedMessage.limits_exceeded` for the `message_limits` check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser

from pipeline.settings.models import LimitsSettings

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
