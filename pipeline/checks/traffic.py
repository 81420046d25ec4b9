"""Mail that must never be answered: auto-replies, bounces, list traffic, our own mail.

Answering these causes mail loops and backscatter to forged senders (RFC 3834).
"""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import Verdict
from pipeline.message.facts import Facts

_BULK_PRECEDENCE = {"bulk", "junk", "list"}
_DAEMON_LOCALPARTS = {"mailer-daemon", "postmaster", "mail-daemon"}


class AutomaticTraffic:
    name: ClassVar[str] = "automatic_traffic"
    description: ClassVar[str] = "auto-replies, bounces and mailing-list traffic get no reply"
    reasons: ClassVar[tuple[str, ...]] = ("auto_reply", "bounce", "mailing_list")

    def check(self, facts: Facts) -> Verdict:
        message = facts.message
        if message.content_type == "multipart/report" or _is_daemon(message.sender):
            return Verdict.fail("bounce")
        return_path = message.first_header("return-path")
        if return_path is not None and return_path.strip() in ("<>", ""):
            return Verdict.fail("bounce")
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


def _is_daemon(address: str | None) -> bool:
    if not address:
        return True
    return address.split("@", 1)[0] in _DAEMON_LOCALPARTS


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
