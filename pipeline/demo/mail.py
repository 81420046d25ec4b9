"""Raw RFC 822 bytes of an email, built as a mail client hands them to SMTP.

Why this module exists: Intake consumes raw email bytes written by Outlook, Gmail,
scanners and mail servers, not tidy Python objects, and fixtures written by hand drift
away from that reality (LF line endings, unencoded headers). Samples therefore go through
:class:`email.message.EmailMessage` with the SMTP policy: CRLF line endings, RFC 2047/2231
encoded names, base64 attachments; Message-IDs and MIME boundaries derive from the
content, so identical calls give identical bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from types import MappingProxyType
from typing import Literal

from pipeline.demo.determinism import DEFAULT_SENT_AT, digest

__all__ = ["NO_HEADERS", "Attachment", "build_email", "domain_of", "set_boundaries"]

#: The default of ``extra_headers`` arguments: none.
NO_HEADERS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class Attachment:
    """One file attached to a sample email.

    ``disposition="inline"`` (with an optional ``content_id``) imitates the logos and
    signature images that mail clients embed, which the pipeline must not mistake for a
    statement.
    """

    filename: str
    content: bytes
    content_type: str
    disposition: Literal["attachment", "inline"] = "attachment"
    content_id: str | None = None


def domain_of(address: str) -> str:
    """The domain of an address, for Message-IDs and host names ("intake.example" if none)."""
    _, addr = parseaddr(address)
    return addr.rpartition("@")[2] or "intake.example"


def _address_header(address: str, display_name: str | None) -> str | Address:
    """``address`` as is, or with a display name that the policy will encode if needed."""
    if display_name is None:
        return address
    _, addr = parseaddr(address)
    return Address(display_name=display_name, addr_spec=addr or address)


def set_boundaries(message: Message, content_digest: str) -> None:
    """Replace the random MIME boundaries that ``email`` picks with stable ones.

    The "=_" sequence cannot occur in base64 or quoted-printable text, which is why mail
    clients use it in boundaries too.
    """
    for index, part in enumerate(message.walk()):
        # message/delivery-status also has a list payload, but takes no boundary.
        if part.get_content_maintype() == "multipart":
            part.set_boundary(f"----=_Part_{index}_{content_digest[:24]}")


def _apply_headers(message: Message, headers: Mapping[str, str]) -> None:
    """Add ``headers``, replacing any same-named header already present."""
    for name, value in headers.items():
        if name in message:
            message.replace_header(name, value)
        else:
            message[name] = value


def build_email(
    *,
    sender: str,
    to: str,
    subject: str,
    body: str = "Please find the attached documents.\n",
    attachments: Sequence[Attachment] = (),
    date: datetime | None = None,
    message_id: str | None = None,
    extra_headers: Mapping[str, str] = NO_HEADERS,
    sender_name: str | None = None,
    cc: str | None = None,
    html_body: str | None = None,
) -> bytes:
    """Raw RFC 822 bytes of an email, as a mail client would hand them to SMTP.

    Why: the pipeline's input is bytes from IMAP, so samples must go through a real MIME
    generator: CRLF line endings, RFC 2047/2231 encoding of non-ASCII names, base64
    attachments. Defaults are fixed (``DEFAULT_SENT_AT``; a Message-ID and MIME boundaries
    derived from the content) so identical calls give identical bytes, while different
    content gets a different Message-ID. ``extra_headers`` replaces same-named headers.
    ``html_body`` adds a ``multipart/alternative`` HTML version, as Outlook sends.
    """
    sent_at = date or DEFAULT_SENT_AT
    content_digest = digest(
        sender,
        to,
        cc or "",
        subject,
        body,
        html_body or "",
        sent_at.isoformat(),
        *(part for a in attachments for part in (a.filename, a.content_type, a.content)),
    )
    message = EmailMessage(policy=SMTP)
    message["From"] = _address_header(sender, sender_name)
    message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = message_id or f"<{content_digest[:32]}@{domain_of(sender)}>"
    message.set_content(body)
    if html_body is not None:
        message.add_alternative(html_body, subtype="html")
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.content,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
            disposition=attachment.disposition,
            cid=attachment.content_id,
        )
    for part in message.iter_parts() if message.is_multipart() else ():
        # ``email`` stamps every sub-part it creates with MIME-Version; mail clients don't.
        for sub in part.walk():
            del sub["MIME-Version"]
    _apply_headers(message, extra_headers)
    set_boundaries(message, content_digest)
    return message.as_bytes(policy=SMTP)
