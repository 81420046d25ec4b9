"""The files a mail carries, as `Attachment`s: from mail-parser, or the stdlib alone.

mail-parser extracts the attachments from the stdlib's parse of the message; each one's
name is read here from its own part's headers (leniently, see `pipeline.message.decoding`).
When mail-parser fails on a message (some broken headers make it raise), the same parts
are read with the standard library alone: the same bytes. An Outlook winmail.dat (TNEF)
is then opened and replaced by the files it holds (`open_winmail`).
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import Any

import mailparser

from pipeline.message.decoding import (
    bound_name,
    clean_header_text,
    decode_bytes,
    header_bytes_text,
    header_text,
    unfold,
)
from pipeline.message.parsed import Attachment, Winmail
from pipeline.message.tnef import WINMAIL_NAME, is_tnef, read_tnef
from pipeline.settings.models import LimitsSettings

# mail-parser logs every oddity of every message at WARNING; they are ours to judge.
logging.getLogger("mailparser").setLevel(logging.ERROR)


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
            text, damaged = header_bytes_text(unfold(str(value)))
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


def mail_parser_view(
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


def stdlib_view(message: Message) -> tuple[list[Attachment], list[str]]:
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


def open_winmail(
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
