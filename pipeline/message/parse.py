"""Understanding a mail: who sent it, to whom, about what, and which files it carries.

mail-parser does the MIME work; this module turns its loose dictionaries into one typed,
immutable value the checks can rely on. Anything mail-parser cannot make sense of raises
`UnreadableMessage`, which the worker records as an outcome instead of crashing.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses, parseaddr
from functools import cached_property
from typing import Any

import mailparser

from pipeline.storage.blobs import sha256_hex

# mail-parser logs every oddity of every message at WARNING; they are ours to judge.
logging.getLogger("mailparser").setLevel(logging.ERROR)

_CRLF = re.compile(r"[\r\n\t]+")


class UnreadableMessage(Exception):
    """The bytes are not a mail we can read at all."""


@dataclass(frozen=True)
class Attachment:
    filename: str | None
    content: bytes
    declared_type: str

    @cached_property
    def sha256(self) -> str:
        return sha256_hex(self.content)

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class ParsedMessage:
    message_id: str | None
    subject: str
    sender: str | None
    sender_name: str | None
    reply_to: str | None
    recipients: tuple[str, ...]
    content_type: str
    attachments: tuple[Attachment, ...]
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

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


def _address(value: str | None) -> str | None:
    if not value:
        return None
    _, address = parseaddr(value)
    address = address.strip().lower()
    if "@" not in address or any(ch.isspace() for ch in address):
        return None
    return address


def _addresses(values: Iterable[str]) -> tuple[str, ...]:
    found: list[str] = []
    for _, address in getaddresses([v for v in values if v]):
        cleaned = _address(address)
        if cleaned and cleaned not in found:
            found.append(cleaned)
    return tuple(found)


def _headers(message: Message) -> dict[str, tuple[str, ...]]:
    collected: dict[str, list[str]] = {}
    for name, value in message.items():
        collected.setdefault(name.lower(), []).append(clean_header_text(str(value), limit=4000))
    return {name: tuple(values) for name, values in collected.items()}


def _attachment(item: Mapping[str, Any]) -> Attachment:
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
    filename = clean_header_text(item.get("filename"), limit=255) or None
    declared = clean_header_text(item.get("mail_content_type"), limit=255).lower()
    return Attachment(
        filename=filename, content=content, declared_type=declared or "application/octet-stream"
    )


def parse_message(raw: bytes) -> ParsedMessage:
    try:
        parsed = mailparser.parse_from_bytes(raw)
        message: Message = parsed.message
        from_header = message.get("From")
        sender_name, sender_raw = parseaddr(str(from_header)) if from_header else ("", "")
        reply_to = _addresses(message.get_all("Reply-To") or [])
        recipients = _addresses(
            [
                str(v)
                for name in ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")
                for v in (message.get_all(name) or [])
            ]
        )
        attachments = tuple(_attachment(item) for item in parsed.attachments)
        message_id = clean_header_text(message.get("Message-ID"), limit=998) or None
        return ParsedMessage(
            message_id=message_id,
            subject=clean_header_text(parsed.subject),
            sender=_address(sender_raw),
            sender_name=clean_header_text(sender_name, limit=200) or None,
            reply_to=reply_to[0] if reply_to else None,
            recipients=recipients,
            content_type=message.get_content_type(),
            attachments=attachments,
            headers=_headers(message),
        )
    except Exception as error:  # mail-parser raises anything on broken input
        raise UnreadableMessage(f"{type(error).__name__}: {error}") from error
