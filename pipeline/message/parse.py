"""Understanding a mail: who sent it, to whom, about what, and which files it carries.

The standard library parses the bytes; mail-parser extracts the attachments from that;
`parse_message` turns the result into one typed, immutable value the checks can rely on
(`pipeline.message.parsed`). Mail is written by strangers, so each step is its own
module, made for hostile input:

- `pipeline.message.structure` bounds the MIME structure (parts, nesting, header sizes)
  before any parser reads the bytes; what was exceeded goes on `limits_exceeded`.
- `pipeline.message.decoding` decodes the subject, the sender's name and attachment
  names leniently; the damage goes on `decoding_problems`.
- `pipeline.message.addresses` reads the addresses and refuses those no mail can go to.
- `pipeline.message.attachments` extracts the files with mail-parser or, when it fails
  on a message, with the standard library alone: the same parts, the same bytes.

`parse_message` returns a `ParsedMessage` or raises `UnreadableMessage` (the worker
records that as an outcome); nothing else escapes.
"""

from __future__ import annotations

import email
from collections.abc import Iterable
from email.message import Message
from email.utils import parseaddr

from pipeline.message.addresses import clean_address, clean_addresses, refused_address
from pipeline.message.attachments import mail_parser_view, open_winmail, stdlib_view
from pipeline.message.decoding import (
    clean_header_text,
    header_bytes_text,
    header_text,
    raw_values,
    readable_headers,
    text_values,
)
from pipeline.message.parsed import MAX_MESSAGE_ID, ParsedMessage
from pipeline.message.structure import bound_structure
from pipeline.settings.models import LimitsSettings

_MAX_PROBLEMS = 20


class UnreadableMessage(Exception):
    """The bytes are not a mail we can read at all."""


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

        from_raw = next(iter(raw_values(message, "From")), "")
        sender_name_raw, sender_raw = parseaddr(from_raw) if from_raw else ("", "")
        sender_name, found = header_text(sender_name_raw, limit=200)
        problems += [f"sender name: {p}" for p in found]
        sender_text = header_bytes_text(sender_raw)[0]
        refused_sender = refused_address(sender_text)
        if refused_sender is not None:
            problems.append(f"From: an address no mail can go to, refused: {refused_sender}")
        subject, found = header_text(next(iter(raw_values(message, "Subject")), ""))
        problems += [f"subject: {p}" for p in found]

        reply_to = clean_addresses(text_values(message, "Reply-To"))
        recipients = clean_addresses(
            [
                value
                for name in ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")
                for value in text_values(message, name)
            ]
        )
        attachments, found = mail_parser_view(message)
        if attachments is None:
            problems.append("mail-parser could not read it; attachments read by the stdlib")
            attachments, found = stdlib_view(message)
        problems += found
        attachments, winmail, more = open_winmail(attachments, limits or LimitsSettings())
        # Whole or not at all: a shortened id matches no mail (a reply's In-Reply-To, a
        # duplicate), and the ledger holds at most 998 characters.
        message_id = clean_header_text(
            next(iter(text_values(message, "Message-ID")), ""), limit=MAX_MESSAGE_ID + 1
        )
        return ParsedMessage(
            message_id=message_id if 0 < len(message_id) <= MAX_MESSAGE_ID else None,
            subject=subject,
            sender=clean_address(sender_text),
            sender_name=sender_name or None,
            reply_to=reply_to[0] if reply_to else None,
            recipients=recipients,
            content_type=message.get_content_type(),
            attachments=tuple(attachments),
            headers=readable_headers(message),
            header_order=tuple(name.lower() for name, _value in message.raw_items()),
            limits_exceeded=_unique([*exceeded, *more], _MAX_PROBLEMS),
            decoding_problems=_unique(problems, _MAX_PROBLEMS),
            winmail=winmail,
            part_types=_own_part_types(message),
            refused_sender=refused_sender,
        )
    except Exception as error:  # the last line of defence: never anything but this
        raise UnreadableMessage(f"{type(error).__name__}: {error}") from error
