"""Header text that strangers wrote, decoded leniently to one printable line.

RFC 2047 encoded words, RFC 2231 parameters and 8-bit bytes are decoded here: a charset
that lies or is unknown gives replacement characters (or Windows-1252 text), never an
exception or silently dropped letters, and each function says what was damaged, for
`ParsedMessage.decoding_problems`. What comes out is one line without control
characters, safe to quote in a reply or a table.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from email.message import Message

_CRLF = re.compile(r"[\r\n\t]+")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
# A well-formed multi-byte UTF-8 sequence: text that has one is UTF-8 with damage, not Latin-1.
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_FOLD = re.compile(r"\r\n|\r|\n")
_MAX_NAME = 255


def clean_header_text(value: str | None, *, limit: int = 998) -> str:
    """One line, no control characters: safe to quote in a reply or a table."""
    if not value:
        return ""
    text = _CRLF.sub(" ", str(value))
    text = "".join(ch for ch in text if ch.isprintable())
    return text.strip()[:limit]


def unfold(value: str) -> str:
    """A header value with its folding (its line breaks) removed."""
    return _FOLD.sub("", value)


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


def header_bytes_text(value: str) -> tuple[str, bool]:
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
    text, eight_bit = header_bytes_text(_FOLD.sub("", str(raw)))
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


def raw_values(message: Message, name: str) -> list[str]:
    """A header's values as written (8-bit bytes still as the stdlib's surrogates),
    folding removed."""
    wanted = name.lower()
    return [
        _FOLD.sub("", str(value)) for key, value in message.raw_items() if key.lower() == wanted
    ]


def text_values(message: Message, name: str) -> list[str]:
    """A header's values as written, 8-bit bytes read as text, folding removed."""
    return [header_bytes_text(value)[0] for value in raw_values(message, name)]


def readable_headers(message: Message) -> dict[str, tuple[str, ...]]:
    """Every header by its lower-case name, each value as one printable line."""
    collected: dict[str, list[str]] = {}
    for name, value in message.raw_items():
        text, _ = header_bytes_text(str(value))
        collected.setdefault(name.lower(), []).append(clean_header_text(text, limit=4000))
    return {name: tuple(values) for name, values in collected.items()}
