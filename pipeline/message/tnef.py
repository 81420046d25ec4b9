"""Outlook's winmail.dat (`application/ms-tnef`): the files it holds, read within bounds.

Outlook and Exchange sometimes send a message's attachments inside one TNEF stream.
tnefparse reads TNEF, but trusts every count in it: a property block that claims four
billion properties is looped over for hours, an attached message is parsed recursively,
and each attribute copies the rest of the stream. So this module first walks the stream
itself (`_walk`: offsets only, nothing decoded) and then hands tnefparse one file at a
time, rebuilt from the attributes that carry a file (attAttachRenddata, attAttachTitle,
attAttachData and the attAttachment property block):

- the message's own attributes (its body, recipients, properties) are never decoded;
- a property block whose counts or lengths do not fit its bytes, or that holds more than
  `_MAX_VALUES` values, is left out: the file keeps its short name (attAttachTitle);
- an attached message (`ATTACH_EMBEDDED_MSG`, or data that is an IMessage) is ignored;
- at most `max_files` files are taken, `max_attributes` attributes walked;
- a wrong checksum is recorded, not fatal (Outlook itself writes wrong ones in property
  blocks); an attribute cut short, or bytes that are not an attribute, end the walk, and
  a file cut short is dropped.

`read_tnef` never raises: what could not be read is in `TnefContents.problems`.
"""

from __future__ import annotations

import codecs
import logging
import struct
from dataclasses import dataclass
from typing import Any, Literal

from tnefparse import TNEF
from tnefparse.codepage import Codepage

# tnefparse logs every oddity of every stream; they are ours to judge.
logging.getLogger("tnefparse").setLevel(logging.CRITICAL)

SIGNATURE = struct.pack("<I", 0x223E9F78)
TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
WINMAIL_NAME = "winmail.dat"

_LEVEL_MESSAGE, _LEVEL_ATTACHMENT = 1, 2
_ATTACH_RENDDATA = 0x9002  # opens each attachment
_ATTACH_TITLE = 0x8010  # the 8.3 name
_ATTACH_DATA = 0x800F  # the bytes
_ATTACHMENT = 0x9005  # the attachment's MAPI properties (the long name among them)
_OEM_CODEPAGE = 0x9007
_FILE_ATTRIBUTES = frozenset({_ATTACH_RENDDATA, _ATTACH_TITLE, _ATTACH_DATA, _ATTACHMENT})
_HEADER = struct.Struct("<BHHI")  # level, attribute, attribute type, length of the data
_CHECKSUM = 2
_MAX_ATTRIBUTES_PER_FILE = 16  # Outlook writes 4 to 7
_MAX_VALUES = 1024  # MAPI values in one attachment's property block; Outlook writes ~20

# MAPI property types: the size of one value, or variable (a length, then padded bytes).
_SHORT_TYPES = frozenset({0x0002, 0x000B})
_FIXED = {0x0002: 2, 0x000B: 2, 0x0003: 4, 0x0004: 4, 0x000A: 4, 0x0048: 16}
_FIXED |= dict.fromkeys((0x0005, 0x0006, 0x0007, 0x0014, 0x0040), 8)
_VARIABLE = frozenset({0x0000, 0x000D, 0x001E, 0x001F, 0x0102})
_PT_LONG, _PT_OBJECT, _MULTI_VALUED, _NAMED = 0x0003, 0x000D, 0x1000, 0x8000
_PR_ATTACH_DATA_OBJ = 0x3701
_PR_ATTACH_METHOD = 0x3705
_PR_ATTACH_MIME_TAG = 0x370E
_ATTACH_EMBEDDED_MSG = 5
_IID_IMESSAGE = b"\x07\x03\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"

_Verdict = Literal["sound", "embedded", "unsound"]


@dataclass(frozen=True)
class TnefFile:
    name: str | None
    """As written: the long name (PR_ATTACH_LONG_FILENAME), else the 8.3 title."""
    content: bytes
    mime_type: str | None


@dataclass(frozen=True)
class TnefContents:
    files: tuple[TnefFile, ...]
    problems: tuple[str, ...]
    """What could not be read, in short phrases ("it was cut short")."""
    more_files: bool = False
    """It holds more than `max_files` files; only the first were taken."""


def is_tnef(declared_type: str, filename: str | None, content: bytes) -> bool:
    """A winmail.dat: declared as TNEF, named so, or TNEF by its first bytes."""
    return (
        declared_type.lower() in TNEF_TYPES
        or (filename or "").strip().lower() == WINMAIL_NAME
        or content.startswith(SIGNATURE)
    )


@dataclass
class _Group:
    """The attributes of one attached file: (attribute, start, end) of each, whole."""

    attributes: list[tuple[int, int, int]]
    cut: bool = False


def _walk(data: bytes, max_attributes: int, problems: list[str]) -> tuple[list[_Group], int | None]:
    """The attached files' attributes and the OEM code page, from offsets alone."""
    view = memoryview(data)
    groups: list[_Group] = []
    codepage: int | None = None
    offset, seen, bad_checksums = 6, 0, 0
    while offset < len(data):
        if len(data) - offset < _HEADER.size + _CHECKSUM:
            problems.append(f"{len(data) - offset} byte(s) after the end were ignored")
            break
        level, attribute, _atp, length = _HEADER.unpack_from(data, offset)
        end = offset + _HEADER.size + length + _CHECKSUM
        if level not in (_LEVEL_MESSAGE, _LEVEL_ATTACHMENT):
            problems.append(f"bytes that are not TNEF from byte {offset} on were ignored")
            break
        if end > len(data):
            problems.append("it was cut short")
            if groups and level == _LEVEL_ATTACHMENT and attribute == _ATTACH_DATA:
                groups[-1].cut = True  # the file's own bytes are incomplete
            break
        seen += 1
        if seen > max_attributes:
            problems.append(f"more than {max_attributes} attributes: the rest was not read")
            break
        payload = view[offset + _HEADER.size : end - _CHECKSUM]
        if sum(payload) % 65536 != int.from_bytes(data[end - _CHECKSUM : end], "little"):
            bad_checksums += 1
        if level == _LEVEL_ATTACHMENT and attribute in _FILE_ATTRIBUTES:
            if attribute == _ATTACH_RENDDATA:
                groups.append(_Group([]))
            if groups:
                groups[-1].attributes.append((attribute, offset, end))
        elif level == _LEVEL_MESSAGE and attribute == _OEM_CODEPAGE and length >= 4:
            codepage = int.from_bytes(payload[:4], "little")
        offset = end
    if bad_checksums:
        problems.append(f"{bad_checksums} attribute(s) with a wrong checksum")
    return groups, codepage


def _property_block(block: bytes) -> _Verdict:
    """Whether tnefparse may decode an attachment's MAPI property block: every count and
    length fits the bytes (as tnefparse reads them), and it is not an attached message."""
    size, offset, values, embedded = len(block), 4, 0, False

    def u32(at: int) -> int:
        if at + 4 > size:
            raise ValueError("cut short")
        return int.from_bytes(block[at : at + 4], "little")

    try:
        count = u32(0)
        if count > (size - 4) // 8:  # every property takes at least 8 bytes
            return "unsound"
        for _ in range(count):
            prop_type, prop_id = struct.unpack_from("<HH", block, offset)
            offset += 4
            if prop_id >= _NAMED:  # a GUID, then a number or a name
                kind = u32(offset + 16)
                offset += 24 if kind == 0 else 24 + (u32(offset + 20) + 3) // 4 * 4
            multi = bool(prop_type & _MULTI_VALUED)
            prop_type &= ~_MULTI_VALUED
            number = 1
            if multi or prop_type in _VARIABLE:  # a count of values
                number = u32(offset)
                offset += 4
            values += number
            if values > _MAX_VALUES:
                return "unsound"
            if prop_type in _FIXED:
                if prop_id == _PR_ATTACH_METHOD and prop_type == _PT_LONG and not multi:
                    embedded |= u32(offset) == _ATTACH_EMBEDDED_MSG
                offset += _FIXED[prop_type] * number
                offset += 2 if prop_type in _SHORT_TYPES and number % 2 else 0
            elif prop_type in _VARIABLE:
                if prop_id == _PR_ATTACH_DATA_OBJ and number != 1:
                    return "unsound"  # tnefparse would join the values before looking
                for _ in range(number):
                    length = u32(offset)
                    if prop_id == _PR_ATTACH_DATA_OBJ:
                        start = offset + 4
                        embedded |= block[start : start + len(_IID_IMESSAGE)] == _IID_IMESSAGE
                    offset += 4 + (length + 3) // 4 * 4
                embedded |= prop_id == _PR_ATTACH_DATA_OBJ and prop_type == _PT_OBJECT
            else:
                return "unsound"
            if offset > size:
                return "unsound"
    except (ValueError, struct.error):
        return "unsound"
    return "embedded" if embedded else "sound"


def _attribute(level: int, attribute: int, atp: int, payload: bytes) -> bytes:
    return (
        _HEADER.pack(level, attribute, atp, len(payload))
        + payload
        + struct.pack("<H", sum(payload) % 65536)
    )


def _text(value: Any, codepage: str) -> str | None:
    if isinstance(value, bytes):
        value = value.decode(codepage, "replace")
    if not isinstance(value, str):
        return None
    return value.replace("\0", "").strip() or None


def _read_file(
    data: bytes, key: bytes, codepage: int, attributes: list[tuple[int, int, int]]
) -> TnefFile | None:
    """One file, read by tnefparse from a stream holding only its attributes."""
    stream = (
        SIGNATURE
        + key
        + _attribute(_LEVEL_MESSAGE, _OEM_CODEPAGE, 0x0006, struct.pack("<II", codepage, 0))
    )
    stream += b"".join(data[start:end] for _, start, end in attributes)
    attachments = TNEF(stream, do_checksum=False).attachments
    if len(attachments) != 1 or not isinstance(attachments[0].data, bytes):
        return None
    found = attachments[0]
    encoding = Codepage(codepage).codepage()
    try:
        name = _text(found.long_filename(), encoding)
    except (UnicodeDecodeError, AttributeError):  # a title that is not UTF-8, a bad type
        name = None
    if name is None:
        titles = [
            data[start + _HEADER.size : end - _CHECKSUM]
            for attribute, start, end in attributes
            if attribute == _ATTACH_TITLE
        ]
        name = _text(titles[-1], encoding) if titles else None
    mime = [p.data for p in found.mapi_attrs if p.name == _PR_ATTACH_MIME_TAG]
    return TnefFile(name, found.data, _text(mime[0], encoding) if mime else None)


def _read_safely(
    data: bytes, codepage: int, attributes: list[tuple[int, int, int]]
) -> TnefFile | None:
    try:
        return _read_file(data, data[4:6], codepage, attributes)
    except Exception:  # tnefparse on strangers' bytes: this file is lost, not the others
        return None


def _usable_codepage(codepage: int | None) -> int:
    """The stream's OEM code page when Python knows it, else Windows-1252."""
    if codepage is not None:
        try:
            codecs.lookup(Codepage(codepage).codepage())
        except (LookupError, ValueError):
            return 1252
        return codepage
    return 1252


def read_tnef(data: bytes, *, max_files: int, max_attributes: int | None = None) -> TnefContents:
    """The files in a TNEF stream, with their long names; never raises."""
    if not data.startswith(SIGNATURE):
        return TnefContents((), ("it is not a TNEF stream",))
    if len(data) < 6:
        return TnefContents((), ("it was cut short",))
    problems: list[str] = []
    limit = max_attributes if max_attributes is not None else 32 + 16 * max_files
    groups, oem = _walk(data, limit, problems)
    codepage = _usable_codepage(oem)
    files: list[TnefFile] = []
    ignored = {"cut": 0, "embedded": 0, "unreadable": 0, "empty": 0, "properties": 0}
    for group in groups:
        if group.cut or len(group.attributes) > _MAX_ATTRIBUTES_PER_FILE:
            ignored["cut" if group.cut else "unreadable"] += 1
            continue
        kept = []
        embedded = False
        for attribute, start, end in group.attributes:
            if attribute == _ATTACHMENT:
                verdict = _property_block(data[start + _HEADER.size : end - _CHECKSUM])
                embedded |= verdict == "embedded"
                if verdict == "unsound":
                    ignored["properties"] += 1
                    continue
            kept.append((attribute, start, end))
        if embedded:
            ignored["embedded"] += 1
            continue
        found = _read_safely(data, codepage, kept)
        if found is None and any(attribute == _ATTACHMENT for attribute, _, _ in kept):
            # A property block tnefparse could not take: the file under its short name.
            ignored["properties"] += 1
            found = _read_safely(data, codepage, [a for a in kept if a[0] != _ATTACHMENT])
        if found is None:
            ignored["unreadable"] += 1
        elif not found.content:
            ignored["empty"] += 1
        elif len(files) == max_files:
            return TnefContents(tuple(files), tuple(problems + _phrases(ignored)), True)
        else:
            files.append(found)
    return TnefContents(tuple(files), tuple(problems + _phrases(ignored)))


def _phrases(ignored: dict[str, int]) -> list[str]:
    words = {
        "cut": "a file cut short was dropped",
        "embedded": "an attached message inside was ignored",
        "unreadable": "a file that could not be read was dropped",
        "empty": "an attachment without content was skipped",
        "properties": "a damaged property block was not read (the short name was used)",
    }
    return [f"{words[kind]} ({count})" for kind, count in ignored.items() if count]
