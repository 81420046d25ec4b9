"""PDF documents written by hand: laid-out text with a real text layer, or a scan imitation.

Why this module exists: most cover letters arrive as PDFs, many of them scans, and some
statements too. Writing PDF 1.4 directly (one dependency less) gives full control over
the text layer: Helvetica text that ``pdftotext`` extracts, or vector shapes only, like a
scanned page, from which nothing is extractable. Every file is complete, with a
byte-exact cross-reference table, and reproducible (fixed dates, content-derived ID).
"""

from __future__ import annotations

import math
import random
import unicodedata
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pipeline.demo.determinism import DEFAULT_SENT_AT, digest

__all__ = ["PDF_CONTENT_TYPE", "Block", "render_pdf"]

PDF_CONTENT_TYPE = "application/pdf"

_PAGE_WIDTH = 612.0  # US Letter, as printed in New York missions
_PAGE_HEIGHT = 792.0
_MARGIN = 72.0

# Helvetica advance widths (1/1000 em) for ASCII 32..126, from the standard AFM metrics.
_HELVETICA_WIDTHS = (
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
)  # fmt: skip

_LATIN1_REPLACEMENTS = {
    "‘": "'", "’": "'", "‚": ",", "‛": "'", "“": '"', "”": '"', "„": '"',
    "–": "-", "—": "-", "‐": "-", "‑": "-", "…": "...", "•": "*", "€": "EUR",
    "\u00a0": " ", "\u202f": " ", "\u2009": " ", "œ": "oe", "Œ": "OE", "ł": "l", "Ł": "L",
    "đ": "d", "Đ": "D", "ı": "i", "™": "TM",
}  # fmt: skip


def _to_latin1(text: str) -> str:
    """Transliterate to printable Latin-1, the repertoire of the PDF's WinAnsi fonts.

    Why: the standard-14 Helvetica only has WinAnsi glyphs; characters outside it are
    folded (ễ -> e, ł -> l, “ -> ") or dropped, never written as mojibake.
    """

    def printable(ch: str) -> bool:
        return 0x20 <= ord(ch) < 0x7F or 0xA0 <= ord(ch) <= 0xFF

    out: list[str] = []
    for ch in text:
        if ch in _LATIN1_REPLACEMENTS:
            out.append(_LATIN1_REPLACEMENTS[ch])
        elif printable(ch):
            out.append(ch)
        else:
            out.extend(
                part
                for part in unicodedata.normalize("NFKD", ch)
                if printable(part) and not unicodedata.combining(part)
            )
    return "".join(out)


def _pdf_string(text: str) -> bytes:
    """A PDF literal string: parentheses and backslashes escaped, high bytes as octal."""
    out = bytearray(b"(")
    for byte in _to_latin1(text).encode("latin-1"):
        if byte in (0x28, 0x29, 0x5C):
            out += b"\\" + bytes([byte])
        elif byte < 0x20 or byte >= 0x7F:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    out += b")"
    return bytes(out)


def _text_width(text: str, size: float, bold: bool) -> float:
    units = 0
    for ch in text:
        code = ord(ch)
        units += _HELVETICA_WIDTHS[code - 32] if 32 <= code <= 126 else 556
    return units * size / 1000 * (1.07 if bold else 1.0)


def _wrap(text: str, size: float, bold: bool, width: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and _text_width(candidate, size, bold) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines or [""]


@dataclass(frozen=True)
class Block:
    """A paragraph to lay out: wrapped to the page width, moved to a new page when full."""

    text: str
    size: float = 11.0
    bold: bool = False
    space_before: float = 0.0
    align: Literal["left", "center", "right"] = "left"


@dataclass(frozen=True)
class _Line:
    text: str
    x: float
    y: float
    size: float
    bold: bool


def _layout(blocks: Sequence[Block]) -> list[list[_Line]]:
    """Wrap blocks into lines and pages (top-down, Letter size, 1-inch margins)."""
    usable = _PAGE_WIDTH - 2 * _MARGIN
    pages: list[list[_Line]] = [[]]
    y = _PAGE_HEIGHT - _MARGIN
    for block in blocks:
        leading = block.size * 1.35
        y -= block.space_before
        for text in _wrap(_to_latin1(block.text), block.size, block.bold, usable):
            if y - leading < _MARGIN:
                pages.append([])
                y = _PAGE_HEIGHT - _MARGIN
            y -= leading
            width = _text_width(text, block.size, block.bold)
            x = _MARGIN
            if block.align == "center":
                x = (_PAGE_WIDTH - width) / 2
            elif block.align == "right":
                x = _PAGE_WIDTH - _MARGIN - width
            pages[-1].append(_Line(text, round(x, 2), round(y, 2), block.size, block.bold))
    return pages


def _fmt(value: float) -> bytes:
    return (b"%.2f" % value).rstrip(b"0").rstrip(b".") or b"0"


def _text_content(lines: Sequence[_Line]) -> bytes:
    """Content stream drawing each line with Helvetica: a genuine, extractable text layer."""
    out = bytearray()
    for line in lines:
        font = b"/F2" if line.bold else b"/F1"
        out += b"BT %s %s Tf %s %s Td %s Tj ET\n" % (
            font,
            _fmt(line.size),
            _fmt(line.x),
            _fmt(line.y),
            _pdf_string(line.text),
        )
    return bytes(out)


def _circle(cx: float, cy: float, r: float) -> bytes:
    """A circle as four Bézier curves (PDF has no circle operator)."""
    k = 0.5523 * r
    points = (
        (cx + r, cy, cx + r, cy + k, cx + k, cy + r, cx, cy + r),
        (cx, cy + r, cx - k, cy + r, cx - r, cy + k, cx - r, cy),
        (cx - r, cy, cx - r, cy - k, cx - k, cy - r, cx, cy - r),
        (cx, cy - r, cx + k, cy - r, cx + r, cy - k, cx + r, cy),
    )
    out = b"%s %s m\n" % (_fmt(points[0][0]), _fmt(points[0][1]))
    for p in points:
        out += b"%s %s %s %s %s %s c\n" % tuple(_fmt(v) for v in p[2:])
    return out + b"S\n"


def _scan_content(lines: Sequence[_Line], seed: int) -> bytes:
    """Vector shapes only, imitating a scanned letter: no font, no text operator.

    Why: cover letters often arrive as image-only scans; the pipeline must notice that no
    text can be extracted (and e.g. queue the letter for OCR or a human) rather than
    read an empty string as "no signature". Words are grey bars on an off-white, slightly
    skewed page, with a handwritten-looking signature and a round mission stamp.
    """
    rng = random.Random(seed)
    angle = math.radians(rng.uniform(-0.6, 0.6))
    cos, sin = math.cos(angle), math.sin(angle)
    out = bytearray(b"0.96 0.96 0.94 rg 0 0 612 792 re f\n")
    out += b"q %s %s %s %s %s %s cm\n" % tuple(
        _fmt(v) for v in (cos, sin, -sin, cos, rng.uniform(-4, 4), rng.uniform(-4, 4))
    )
    for line in lines:
        x = line.x
        space = _text_width(" ", line.size, line.bold)
        shade = 0.08 if line.bold else 0.18
        for word in line.text.split():
            w = _text_width(word, line.size, line.bold)
            grey = max(0.0, min(0.5, shade + rng.uniform(-0.05, 0.05)))
            out += b"%s g %s %s %s %s re f\n" % (
                _fmt(grey),
                _fmt(x),
                _fmt(line.y - line.size * 0.1),
                _fmt(w),
                _fmt(line.size * 0.62),
            )
            x += w + space
        if line.text.startswith("(Signed)"):
            # A pen signature above the signature line, and the mission's stamp beside it.
            sx, sy = line.x + 20, line.y + 16
            out += b"0.05 0.1 0.45 RG 1.2 w 1 J %s %s m\n" % (_fmt(sx), _fmt(sy))
            for _ in range(5):
                dx = rng.uniform(14, 26)
                out += b"%s %s %s %s %s %s c\n" % tuple(
                    _fmt(v)
                    for v in (
                        sx + dx * 0.3,
                        sy + rng.uniform(8, 18),
                        sx + dx * 0.7,
                        sy - rng.uniform(8, 16),
                        sx + dx,
                        sy + rng.uniform(-3, 3),
                    )
                )
                sx += dx
            out += b"S\n0.2 0.25 0.6 RG 1.5 w\n"
            cx, cy = _PAGE_WIDTH - _MARGIN - 60, line.y + 10
            out += _circle(cx, cy, 34) + _circle(cx, cy, 26)
    out += b"Q\n"
    return bytes(out)


def _pdf_date(moment: datetime) -> bytes:
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    tz = f"{sign}{abs(minutes) // 60:02d}'{abs(minutes) % 60:02d}'"
    return _pdf_string(moment.strftime("D:%Y%m%d%H%M%S") + tz)


def render_pdf(
    blocks: Sequence[Block],
    *,
    with_text_layer: bool,
    compress: bool,
    info: Mapping[str, str],
    seed: int,
) -> bytes:
    """Serialize blocks into a complete PDF 1.4 with a byte-exact cross-reference table."""
    pages = _layout(blocks)
    objects: list[bytes] = [b"", b""]  # 1: catalog, 2: page tree (filled in below)

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    resources = b"<< >>"
    if with_text_layer:
        regular = add(
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
        )
        bold = add(
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold "
            b"/Encoding /WinAnsiEncoding >>"
        )
        resources = b"<< /Font << /F1 %d 0 R /F2 %d 0 R >> /ProcSet [/PDF /Text] >>" % (
            regular,
            bold,
        )

    page_ids: list[int] = []
    for number, lines in enumerate(pages):
        content = _text_content(lines) if with_text_layer else _scan_content(lines, seed + number)
        filters = b""
        if compress:
            content = zlib.compress(content, 9)
            filters = b" /Filter /FlateDecode"
        stream = b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(content), filters, content)
        content_id = add(stream)
        page_ids.append(
            add(
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] /Resources %s "
                b"/Contents %d 0 R >>"
                % (_fmt(_PAGE_WIDTH), _fmt(_PAGE_HEIGHT), resources, content_id)
            )
        )
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % i for i in page_ids),
        len(page_ids),
    )
    info_body = b"<< " + b" ".join(
        b"/%s %s" % (key.encode("ascii"), _pdf_string(value)) for key, value in info.items()
    )
    info_body += b" /CreationDate %s /ModDate %s >>" % (
        _pdf_date(DEFAULT_SENT_AT),
        _pdf_date(DEFAULT_SENT_AT),
    )
    info_id = add(info_body)

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset  # 20 bytes per entry, as the spec demands
    file_id = digest(bytes(out))[:32].encode("ascii")
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R /ID [<%s> <%s>] >>\n" % (
        len(objects) + 1,
        info_id,
        file_id,
        file_id,
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)
