"""What a mail said, as one typed, immutable value: `ParsedMessage` and its `Attachment`s.

`pipeline.message.parse` makes them from the bytes; the checks, the replies and the
filing code read them and never see the bytes again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from pipeline.storage.blobs import sha256_hex

# The longest Message-ID kept (`MessageRecord.message_id`); a longer one is not kept.
MAX_MESSAGE_ID = 998


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
