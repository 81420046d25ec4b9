"""Mail that must never be answered: auto-replies, bounces, list traffic, our own mail.

Answering these causes mail loops and backscatter to forged senders (RFC 3834).
"""

from __future__ import annotations

from email.utils import parseaddr
from typing import ClassVar

from pipeline.checks.base import Verdict
from pipeline.checks.facts import Facts
from pipeline.message.parsed import ParsedMessage

_BULK_PRECEDENCE = {"bulk", "junk", "list"}
_DAEMON_LOCALPARTS = {"mailer-daemon", "postmaster", "mail-daemon"}
# The names mail systems sign their bounces with (sendmail, Gmail; Postfix, Exim).
_DAEMON_NAMES = {"mail delivery subsystem", "mail delivery system", *_DAEMON_LOCALPARTS}
# The machine-readable part of a delivery report (RFC 3464, RFC 6533).
_DELIVERY_STATUS = {"message/delivery-status", "message/global-delivery-status"}


class AutomaticTraffic:
    name: ClassVar[str] = "automatic_traffic"
    description: ClassVar[str] = "auto-replies, bounces and mailing-list traffic get no reply"
    reasons: ClassVar[tuple[str, ...]] = ("auto_reply", "bounce", "mailing_list")

    def check(self, facts: Facts) -> Verdict:
        message = facts.message
        evidence = bounce_evidence(message)
        if evidence is not None:
            return Verdict.fail("bounce", evidence=evidence)
        auto = (message.first_header("auto-submitted") or "no").split(";")[0].strip().lower()
        if auto != "no":
            return Verdict.fail("auto_reply", header=f"Auto-Submitted: {auto}")
        for header in ("x-autoreply", "x-autorespond"):
            if message.header(header):
                return Verdict.fail("auto_reply", header=header)
        precedence = (message.first_header("precedence") or "").strip().lower()
        if precedence in _BULK_PRECEDENCE:
            return Verdict.fail("mailing_list", header=f"Precedence: {precedence}")
        if message.header("list-id") or message.header("list-unsubscribe"):
            return Verdict.fail("mailing_list", header="List-Id")
        return Verdict.ok()


def bounce_evidence(message: ParsedMessage) -> str | None:
    """What shows this message is a bounce (a delivery failure or delay report), or None.

    Bounces come in many shapes: a `multipart/report`, but also plain text or
    `multipart/mixed` with the returned message attached (CPython's msg_42.txt), signed
    "Mail Delivery Subsystem" at an ordinary address. Each sign below is one that only a
    mail system writes, so one is enough, even on mail from a registered sender (whose
    own mail server may bounce a message back):

    - the report's structure: `multipart/report`, or a delivery-status part among the
      message's own parts (not inside a message it carries: a delegation forwarding a
      bounce is not a bounce);
    - `X-Failed-Recipients` (Exim, Gmail);
    - the envelope: an empty Return-Path (RFC 5321 sends bounces with a null sender), or
      a daemon's Return-Path;
    - the From: no address (one refused for its characters, `"ops<ESC>[2J"@host`, is
      not a mail system's: that message is filed for the desk, unanswered), a daemon's
      address (`MAILER-DAEMON`, `postmaster`,
      `mail-daemon`, in any case), or a daemon's name ("Mail Delivery Subsystem",
      "Mail Delivery System").

    The subject is never evidence: a delegation resending its statement often keeps the
    subject of the bounce it got.
    """
    if message.content_type == "multipart/report":
        return "Content-Type: multipart/report"
    report_part = next((t for t in message.part_types if t in _DELIVERY_STATUS), None)
    if report_part is not None:
        return f"a {report_part} part"
    if message.header("x-failed-recipients"):
        return "X-Failed-Recipients"
    return_path = message.first_header("return-path")
    if return_path is not None:
        if return_path.strip() in ("<>", ""):
            return "Return-Path: <>"
        if _is_daemon(parseaddr(return_path)[1]):
            return "Return-Path: a mail system's address"
    if not message.sender and message.refused_sender is None:
        return "no From address"
    if message.sender and _is_daemon(message.sender):
        return "From: a mail system's address"
    if " ".join((message.sender_name or "").split()).casefold() in _DAEMON_NAMES:
        return "From: a mail system's name"
    return None


def _is_daemon(address: str) -> bool:
    """`MAILER-DAEMON@host`, `Postmaster`, `"mail-daemon"@host`: a mail system's mailbox."""
    local = address.rsplit("@", 1)[0] if "@" in address else address
    return local.strip().strip('"').casefold() in _DAEMON_LOCALPARTS


class OwnAddress:
    name: ClassVar[str] = "own_address"
    description: ClassVar[str] = "mail from our own address is never answered"
    reasons: ClassVar[tuple[str, ...]] = ("own_address",)

    def check(self, facts: Facts) -> Verdict:
        candidates = {facts.message.sender, facts.message.reply_address}
        if candidates & facts.own_addresses:
            return Verdict.fail("own_address")
        return Verdict.ok()


class Duplicate:
    name: ClassVar[str] = "duplicate"
    description: ClassVar[str] = "the same mail delivered twice is filed once"
    reasons: ClassVar[tuple[str, ...]] = ("duplicate",)

    def check(self, facts: Facts) -> Verdict:
        if facts.duplicate_of is not None:
            return Verdict.fail("duplicate", original=facts.duplicate_of)
        return Verdict.ok()
