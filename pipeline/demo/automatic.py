"""Mail that arrives without a person writing it: out-of-office replies and bounces.

Why this module exists: Intake's acknowledgements reach diplomats who are travelling and
addresses that no longer exist. Their automatic replies (RFC 3834) and the mail servers'
delivery status notifications (RFC 3464) land in the intake mailbox, and the pipeline
must recognize them rather than process them as submissions or answer them, which would
start a mail loop. The samples imitate Exchange and Postfix.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from email import message_from_bytes
from email.headerregistry import Address
from email.message import Message, MIMEPart
from email.parser import BytesHeaderParser
from email.policy import SMTP
from email.utils import format_datetime, getaddresses, parseaddr
from typing import Literal

from pipeline.demo.determinism import DEFAULT_SENT_AT, digest
from pipeline.demo.mail import NO_HEADERS, build_email, domain_of, set_boundaries

__all__ = ["auto_reply_email", "bounce_email"]


def auto_reply_email(
    *,
    sender: str,
    to: str,
    original_subject: str,
    in_reply_to: str | None = None,
    body: str | None = None,
    date: datetime | None = None,
    message_id: str | None = None,
    sender_name: str | None = None,
    extra_headers: Mapping[str, str] = NO_HEADERS,
) -> bytes:
    """An out-of-office reply, as Exchange sends it (``Auto-Submitted: auto-replied``).

    Why: Intake's acknowledgements reach diplomats who are travelling; their automatic
    replies land in the intake mailbox and must be recognized (RFC 3834) rather than
    processed as submissions or answered, which would start a mail loop.
    """
    headers = {
        "Auto-Submitted": "auto-replied",
        "X-Auto-Response-Suppress": "All",
        **({"In-Reply-To": in_reply_to, "References": in_reply_to} if in_reply_to else {}),
        **extra_headers,
    }
    text = body or (
        "Thank you for your message.\n\n"
        "I am out of the office until 31 May 2021 with limited access to email. For urgent "
        "matters, please contact the Political Coordinator of the Mission.\n"
    )
    return build_email(
        sender=sender,
        to=to,
        subject=f"Automatic reply: {original_subject}",
        body=text,
        date=date,
        message_id=message_id,
        extra_headers=headers,
        sender_name=sender_name,
    )


def _header_block(raw: bytes) -> str:
    """The header section of a raw message, unfolded lines kept, CRLF-normalized."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        end = raw.find(b"\n\n")
    head = raw if end < 0 else raw[:end]
    text = head.decode("ascii", errors="replace").replace("\r\n", "\n")
    return text + "\n"


def bounce_email(
    *,
    original: bytes,
    failed_recipient: str | None = None,
    reporting_mta: str | None = None,
    action: Literal["failed", "delayed"] = "failed",
    status: str | None = None,
    diagnostic: str | None = None,
    date: datetime | None = None,
    message_id: str | None = None,
    return_content: Literal["headers", "full"] = "headers",
) -> bytes:
    """A delivery status notification (RFC 3464) for ``original``, as Postfix sends it.

    Why: when an acknowledgement to a delegation cannot be delivered, the intake mailbox
    receives a ``multipart/report; report-type=delivery-status`` from ``MAILER-DAEMON``.
    The pipeline must classify it (hard ``failed`` vs. transient ``delayed``) and match it
    to the original through the returned headers, never treat it as a submission. The
    report has the human-readable text, a ``message/delivery-status`` part and either the
    original headers (``text/rfc822-headers``) or the whole original (``message/rfc822``).
    """
    parsed = Message()
    for name, value in _parse_headers(original):
        parsed[name] = value
    original_sender = parseaddr(str(parsed.get("From", "")))[1] or "postmaster@intake.example"
    recipients = [addr for _, addr in getaddresses([str(parsed.get("To", ""))]) if addr]
    recipient = failed_recipient or (recipients[0] if recipients else "unknown@invalid")
    mta = reporting_mta or f"mail.{domain_of(original_sender)}"
    remote = f"mx.{recipient.rpartition('@')[2]}"
    sent_at = date or DEFAULT_SENT_AT
    if action == "failed":
        code = status or "5.1.1"
        diag = diagnostic or (
            f"smtp; 550 {code} <{recipient}>: Recipient address rejected: "
            "User unknown in virtual mailbox table"
        )
        subject = "Undelivered Mail Returned to Sender"
        explanation = (
            f"This is the mail system at host {mta}.\n\n"
            "I'm sorry to have to inform you that your message could not\n"
            "be delivered to one or more recipients. It's attached below.\n\n"
            "For further assistance, please send mail to postmaster.\n\n"
            "If you do so, please include this problem report. You can\n"
            "delete your own text from the attached returned message.\n\n"
            "                   The mail system\n\n"
            f"<{recipient}>: host {remote} said: {diag.removeprefix('smtp; ')}\n"
        )
    else:
        code = status or "4.4.1"
        diag = diagnostic or f"smtp; 421 {code} Connection timed out"
        subject = "Delayed Mail (still being retried)"
        explanation = (
            f"This is the mail system at host {mta}.\n\n"
            "####################################################################\n"
            "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
            "####################################################################\n\n"
            "Your message could not be delivered for more than 4 hour(s).\n"
            "It will be retried until it is 5 day(s) old.\n\n"
            f"<{recipient}>: connect to {remote}: Connection timed out\n"
        )

    report = MIMEPart(policy=SMTP)  # no automatic headers: a DSN is assembled by hand
    report["From"] = Address("Mail Delivery System", addr_spec=f"MAILER-DAEMON@{mta}")
    report["To"] = original_sender
    report["Subject"] = subject
    report["Date"] = format_datetime(sent_at)
    report_digest = digest(original, recipient, action, code, sent_at.isoformat())
    report["Message-ID"] = message_id or f"<{report_digest[:24]}.bounce@{mta}>"
    report["Auto-Submitted"] = "auto-replied"
    report["MIME-Version"] = "1.0"
    report["Content-Type"] = "multipart/report; report-type=delivery-status"

    human = MIMEPart(policy=SMTP)
    human.set_content(explanation, charset="us-ascii", cte="7bit")
    human["Content-Description"] = "Notification"

    per_message = Message(policy=SMTP)
    per_message["Reporting-MTA"] = f"dns; {mta}"
    per_message["Original-Envelope-Id"] = report_digest[:16]
    per_message["Arrival-Date"] = format_datetime(sent_at)
    per_recipient = Message(policy=SMTP)
    per_recipient["Final-Recipient"] = f"rfc822; {recipient}"
    per_recipient["Original-Recipient"] = f"rfc822;{recipient}"
    per_recipient["Action"] = action
    per_recipient["Status"] = code
    per_recipient["Remote-MTA"] = f"dns; {remote}"
    per_recipient["Diagnostic-Code"] = diag
    if action == "delayed":
        per_recipient["Will-Retry-Until"] = format_datetime(sent_at + timedelta(days=5))
    status_part = MIMEPart(policy=SMTP)
    status_part["Content-Description"] = "Delivery report"
    status_part["Content-Type"] = "message/delivery-status"
    status_part.set_payload([per_message, per_recipient])

    returned = MIMEPart(policy=SMTP)
    if return_content == "full":
        returned.set_content(message_from_bytes(original, policy=SMTP))
        returned["Content-Description"] = "Undelivered Message"
    else:
        returned.set_content(
            _header_block(original), subtype="rfc822-headers", charset="us-ascii", cte="7bit"
        )
        returned["Content-Description"] = "Undelivered Message Headers"

    for part in (human, status_part, returned):
        report.attach(part)
    set_boundaries(report, report_digest)
    return report.as_bytes(policy=SMTP)


def _parse_headers(raw: bytes) -> list[tuple[str, str]]:
    """Headers of ``raw`` (decoded), without parsing or re-encoding the body."""
    headers = BytesHeaderParser(policy=SMTP).parsebytes(raw)
    return [(name, str(value)) for name, value in headers.items()]
