"""A small TNEF writer: winmail.dat files as Outlook sends them, for the tests.

tnefparse only reads TNEF, and the real samples in the shared corpus hold old .doc files,
images and text, never a statement and a cover letter; so the stories build their own,
following the format ([MS-OXTNEF]):

- the stream: the signature 0x223E9F78 (little-endian), a 16-bit key, then attributes;
- an attribute: its level (1 = message, 2 = attachment), its ID (a 32-bit value: the
  attribute in the low word, its type in the high word), the length of its data, the
  data, and a checksum (the sum of the data's bytes modulo 65536);
- the message attributes first (TNEF version, OEM code page, message class), then each
  attachment: attAttachRenddata opens it, attAttachTitle (the 8.3 name), attAttachData
  (the bytes), and attAttachment, a block of MAPI properties where
  PR_ATTACH_LONG_FILENAME carries the name the sender saw.

`embedded_message` builds an attachment that is itself a message (Outlook's "attach an
item"), and `mapi_block` any property block, for the hostile cases.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

SIGNATURE = 0x223E9F78
LEVEL_MESSAGE = 0x01
LEVEL_ATTACHMENT = 0x02

# Attribute types (high word of an attribute ID).
ATP_STRING = 0x0001
ATP_BYTE = 0x0006
ATP_WORD = 0x0007
ATP_DWORD = 0x0008


def _attribute_id(atp: int, attribute: int) -> int:
    return (atp << 16) | attribute


ATT_TNEF_VERSION = _attribute_id(ATP_DWORD, 0x9006)
ATT_OEM_CODEPAGE = _attribute_id(ATP_BYTE, 0x9007)
ATT_MESSAGE_CLASS = _attribute_id(ATP_WORD, 0x8008)
ATT_MAPI_PROPS = _attribute_id(ATP_BYTE, 0x9003)
ATT_ATTACH_RENDDATA = _attribute_id(ATP_BYTE, 0x9002)
ATT_ATTACH_TITLE = _attribute_id(ATP_STRING, 0x8010)
ATT_ATTACH_DATA = _attribute_id(ATP_BYTE, 0x800F)
ATT_ATTACHMENT = _attribute_id(ATP_BYTE, 0x9005)

# MAPI property types and the properties of an attachment.
PT_LONG = 0x0003
PT_OBJECT = 0x000D
PT_STRING8 = 0x001E
PT_UNICODE = 0x001F
PT_BINARY = 0x0102
PR_ATTACH_DATA_OBJ = 0x3701
PR_ATTACH_EXTENSION = 0x3703
PR_ATTACH_METHOD = 0x3705
PR_ATTACH_LONG_FILENAME = 0x3707
PR_ATTACH_MIME_TAG = 0x370E
PR_RENDERING_POSITION = 0x370B
ATTACH_BY_VALUE = 1
ATTACH_EMBEDDED_MSG = 5
# IID_IMessage: what PR_ATTACH_DATA_OBJ of an attached message starts with.
IID_IMESSAGE = b"\x07\x03\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"


def checksum(data: bytes) -> int:
    return sum(data) % 65536


def attribute(level: int, attribute_id: int, data: bytes) -> bytes:
    """One TNEF attribute with its checksum."""
    return (
        struct.pack("<BII", level, attribute_id, len(data))
        + data
        + struct.pack("<H", checksum(data))
    )


def _padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def mapi_value(prop_type: int, value: int | str | bytes) -> bytes:
    """A single-valued MAPI property's value as TNEF writes it."""
    if prop_type == PT_LONG:
        assert isinstance(value, int)
        return struct.pack("<i", value)
    if prop_type == PT_UNICODE:
        assert isinstance(value, str)
        data = value.encode("utf-16-le") + b"\0\0"
    elif prop_type == PT_STRING8:
        assert isinstance(value, str)
        data = value.encode("cp1252") + b"\0"
    else:
        assert isinstance(value, bytes)
        data = value
    # Variable-length types: a count of values (one), each with its length, padded to 4.
    return struct.pack("<II", 1, len(data)) + _padded(data)


def mapi_block(properties: Sequence[tuple[int, int, int | str | bytes]]) -> bytes:
    """A MAPI property block: the count, then each (type, ID, value)."""
    return struct.pack("<I", len(properties)) + b"".join(
        struct.pack("<HH", prop_type, prop_id) + mapi_value(prop_type, value)
        for prop_type, prop_id, value in properties
    )


def short_name(name: str) -> str:
    """The 8.3 name Outlook puts in attAttachTitle: `Statement of Ghana.docx` -> `STATEM~1.DOC`."""
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    letters = "".join(ch for ch in stem.upper() if ch.isascii() and ch.isalnum())[:6] or "FILE"
    extension = "".join(ch for ch in extension.upper() if ch.isascii() and ch.isalnum())[:3]
    return f"{letters}~1" + (f".{extension}" if extension else "")


@dataclass(frozen=True)
class TnefFile:
    """A file to put in a winmail.dat: its long name, bytes and MIME type."""

    name: str
    content: bytes
    mime_type: str = "application/octet-stream"


def _renddata() -> bytes:
    # attRenddata: a file (atyp 1), no position, default size, no flags.
    return struct.pack("<HIhhI", 1, 0xFFFFFFFF, -1, -1, 0)


def file_attachment(file: TnefFile) -> bytes:
    """The attributes of one attached file, as Outlook writes them."""
    extension = "." + file.name.rpartition(".")[2] if "." in file.name else ""
    properties: list[tuple[int, int, int | str | bytes]] = [
        (PT_LONG, PR_ATTACH_METHOD, ATTACH_BY_VALUE),
        (PT_LONG, PR_RENDERING_POSITION, -1),
        (PT_UNICODE, PR_ATTACH_LONG_FILENAME, file.name),
        (PT_STRING8, PR_ATTACH_MIME_TAG, file.mime_type),
    ]
    if extension:
        properties.append((PT_STRING8, PR_ATTACH_EXTENSION, extension))
    return b"".join(
        [
            attribute(LEVEL_ATTACHMENT, ATT_ATTACH_RENDDATA, _renddata()),
            attribute(
                LEVEL_ATTACHMENT,
                ATT_ATTACH_TITLE,
                short_name(file.name).encode("cp1252") + b"\0",
            ),
            attribute(LEVEL_ATTACHMENT, ATT_ATTACH_DATA, file.content),
            attribute(LEVEL_ATTACHMENT, ATT_ATTACHMENT, mapi_block(properties)),
        ]
    )


def embedded_message(inner: bytes, title: str = "Forwarded message") -> bytes:
    """An attached Outlook item: PR_ATTACH_DATA_OBJ holds IID_IMessage and a whole TNEF."""
    properties: list[tuple[int, int, int | str | bytes]] = [
        (PT_LONG, PR_ATTACH_METHOD, ATTACH_EMBEDDED_MSG),
        (PT_OBJECT, PR_ATTACH_DATA_OBJ, IID_IMESSAGE + inner),
    ]
    return b"".join(
        [
            attribute(LEVEL_ATTACHMENT, ATT_ATTACH_RENDDATA, _renddata()),
            attribute(LEVEL_ATTACHMENT, ATT_ATTACH_TITLE, title.encode("cp1252") + b"\0"),
            attribute(LEVEL_ATTACHMENT, ATT_ATTACHMENT, mapi_block(properties)),
        ]
    )


def message_attributes(codepage: int = 1252) -> bytes:
    return b"".join(
        [
            attribute(LEVEL_MESSAGE, ATT_TNEF_VERSION, struct.pack("<I", 0x00010000)),
            attribute(LEVEL_MESSAGE, ATT_OEM_CODEPAGE, struct.pack("<II", codepage, 0)),
            attribute(LEVEL_MESSAGE, ATT_MESSAGE_CLASS, b"IPM.Microsoft Mail.Note\0"),
        ]
    )


def tnef(*parts: bytes, key: int = 0x4F2A) -> bytes:
    """A whole TNEF stream: signature, key, the message attributes, then `parts`
    (attachments built with `file_attachment` or `embedded_message`, or raw attributes)."""
    return struct.pack("<IH", SIGNATURE, key) + message_attributes() + b"".join(parts)


def winmail(*files: TnefFile) -> bytes:
    """A winmail.dat holding `files`, as Outlook sends a Rich Text message's attachments."""
    return tnef(*(file_attachment(file) for file in files))
