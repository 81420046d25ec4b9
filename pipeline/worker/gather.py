"""What the checks of one message are given: its header parsed alone when that is all we
read, its `Facts` gathered once (whether the same mail was filed before, whether its
files are worth opening), and the reasons that the header alone gives."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from pipeline.checks.base import Reason
from pipeline.checks.facts import Facts, gather_facts
from pipeline.decision.decide import decide, run_checks
from pipeline.message.parse import UnreadableMessage, parse_message
from pipeline.message.parsed import ParsedMessage
from pipeline.storage import models as m
from pipeline.worker.context import RunContext

# Only the checks that decide whether a reply may go at all run on a message known by
# its header alone (too large, or quarantined): automatic traffic, our own address, a
# duplicate, a sender that failed authentication (no backscatter to a forged From). The
# document checks would only report files we never looked at.
HEADER_CHECKS = frozenset(
    {"automatic_traffic", "own_address", "duplicate", "sender_authentication"}
)

# The checks that judge the sender and the kind of mail, from the header and the
# directory alone: their verdict decides whether a message's files are opened at all.
SENDER_CHECKS = HEADER_CHECKS | {"known_sender"}


def parse_header(ctx: RunContext, raw_header: bytes) -> ParsedMessage | None:
    """The header of a message we do not read in full, or None when it is unreadable."""
    try:
        return parse_message(raw_header, limits=ctx.settings.limits)
    except UnreadableMessage:
        return None


def header_of(raw: bytes) -> bytes:
    """The header block of a raw message (up to the first empty line)."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        end = raw.find(separator)
        if end != -1:
            return raw[: end + len(separator)]
    return raw


def files_worth_opening(ctx: RunContext) -> Callable[[Facts], bool]:
    """The `screen` for gather_facts: open a message's files (read a .docx or a PDF,
    convert a legacy file with LibreOffice) only when the sender checks alone would let
    it be accepted. A stranger, a registered address our server could not authenticate,
    automatic mail, our own mail and a duplicate are ignored, rejected or held without
    any file being opened: nothing they send reaches LibreOffice (issue 12). With
    `[decision]` mapping such a reason to `note`, the files are opened as for anyone."""
    checks = [check for check in ctx.checks if check.name in SENDER_CHECKS]

    def screen(facts: Facts) -> bool:
        reasons = run_checks(checks, facts)
        return decide(reasons, ctx.settings.decision).outcome is m.MessageOutcome.ACCEPTED

    return screen


def facts_of(
    ctx: RunContext,
    parsed: ParsedMessage,
    *,
    received_at: datetime,
    raw_sha256: str,
    exclude: int | None = None,
) -> Facts:
    """Everything the checks need, once: the message, its documents, the sender's
    mission, the meeting, and whether the same mail was filed before (other than the
    ledger entry `exclude`, the message itself when it is filed again)."""
    return gather_facts(
        parsed,
        received_at=received_at,
        raw_sha256=raw_sha256,
        directory=ctx.directory,
        own_addresses=ctx.own_addresses,
        settings=ctx.settings.documents,
        duplicate_of=find_duplicate(ctx, parsed, raw_sha256, exclude=exclude),
        screen=files_worth_opening(ctx),
    )


def traffic_reasons(ctx: RunContext, facts: Facts) -> list[Reason]:
    """The reasons of the header checks alone (`HEADER_CHECKS`)."""
    checks = [check for check in ctx.checks if check.name in HEADER_CHECKS]
    return run_checks(checks, facts)


def find_duplicate(
    ctx: RunContext, parsed: ParsedMessage, raw_sha256: str, *, exclude: int | None = None
) -> int | None:
    """The same mail delivered twice: same bytes, or same Message-ID from the same sender."""
    with Session(ctx.engine) as session:
        same_bytes = sa.and_(col(m.MessageRecord.raw_sha256) == raw_sha256)
        condition = same_bytes
        if parsed.message_id:
            condition = sa.or_(
                same_bytes,
                sa.and_(
                    col(m.MessageRecord.message_id) == parsed.message_id,
                    col(m.MessageRecord.sender) == parsed.sender,
                ),
            )
        return session.exec(
            select(m.MessageRecord.id)
            .where(condition)
            .where(col(m.MessageRecord.duplicate_of_id).is_(None))
            .where(col(m.MessageRecord.id) != (exclude or -1))
            .order_by(col(m.MessageRecord.id))
        ).first()
