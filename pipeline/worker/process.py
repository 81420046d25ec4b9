"""One attempt at one fetched message: count it, parse, check, decide, file.

Understanding and checking happen outside the transaction (they can be slow); then one
transaction files the message, or nothing at all (`pipeline.worker.filing`). The
mailbox is touched only after this commit, by the caller.

Before any of it, the attempt is counted in a transaction of its own
(`pipeline.storage.attempts`); the filing transaction deletes the count. A message that
keeps killing its worker is thereby seen, and quarantined after `worker.max_crashes`
(`pipeline.worker.quarantine`). `checkpoint(...)` calls mark where the crash tests kill
the process (`pipeline.faults`; inert in production).
"""

from __future__ import annotations

import logging

from pipeline.checks.base import Reason
from pipeline.decision.decide import decide, run_checks
from pipeline.faults import checkpoint
from pipeline.mailbox.imap import FetchedMessage
from pipeline.message.parse import UnreadableMessage, parse_message
from pipeline.replies.outbox import worker_id
from pipeline.storage import attempts
from pipeline.storage import models as m
from pipeline.worker.context import MEGABYTE, Filed, RunContext
from pipeline.worker.failure import file_failure, tail
from pipeline.worker.filing import DATABASE_LOST, file_with_retries
from pipeline.worker.gather import facts_of, parse_header, traffic_reasons
from pipeline.worker.quarantine import quarantine

log = logging.getLogger(__name__)


def process_message(ctx: RunContext, fetched: FetchedMessage) -> Filed | None:
    """File one fetched message. None when another worker filed it first.

    The attempt is counted before anything else, in its own transaction: if this process
    dies on the message, the next worker finds the count, and after `worker.max_crashes`
    deaths it quarantines the message instead of dying with it. An attempt at a message
    that killed a worker before also notes each stage it reaches, so the quarantine can
    say where it dies; a first attempt spares itself those writes.

    A database that goes away is not a problem of this message: the error propagates and
    ends the run (the message is filed by the next one), instead of holding the message
    for the desk as if it were broken.
    """
    if fetched.truncated:
        return _file_too_large(ctx, fetched)
    key = ctx.key(fetched.uid)
    attempt = attempts.begin(ctx.engine, key, stage=m.Stage.PARSE, worker=worker_id())
    if attempt.crashes >= ctx.settings.worker.max_crashes:
        return quarantine(ctx, fetched, attempt)
    suspect = attempt.crashes > 0
    checkpoint("after_fetch")
    raw_sha256 = ctx.blobs.put(fetched.raw)
    try:
        parsed = parse_message(fetched.raw, limits=ctx.settings.limits)
    except UnreadableMessage as error:
        return file_failure(ctx, fetched, raw_sha256, None, m.Stage.PARSE, str(error))
    checkpoint("after_parse", message_id=parsed.message_id)
    if suspect:
        attempts.advance(ctx.engine, key, m.Stage.CHECK)
    try:
        facts = facts_of(ctx, parsed, received_at=fetched.internaldate, raw_sha256=raw_sha256)
        decision = decide(run_checks(ctx.checks, facts), ctx.settings.decision)
    except DATABASE_LOST:
        raise
    except Exception:  # one bad message must never stop the batch
        log.exception("checking UID %s failed", fetched.uid)
        return file_failure(ctx, fetched, raw_sha256, parsed, m.Stage.CHECK, tail())
    if suspect:
        attempts.advance(ctx.engine, key, m.Stage.STORE)
    return file_with_retries(ctx, fetched, facts, decision)


def _file_too_large(ctx: RunContext, fetched: FetchedMessage) -> Filed | None:
    """A message over `[limits] max_message_mb`, known by its header only: rejected with
    `message_too_large` and answered, unless the header shows automatic traffic, our own
    address or a duplicate (then ignored, like any such mail) or a sender that failed
    authentication (no reply to a forged From). The header is what the store keeps."""
    raw_sha256 = ctx.blobs.put(fetched.raw)
    parsed = parse_header(ctx, fetched.raw)
    if parsed is None:
        return file_failure(
            ctx, fetched, raw_sha256, None, m.Stage.FETCH, "too large, and its header is unreadable"
        )
    facts = facts_of(ctx, parsed, received_at=fetched.internaldate, raw_sha256=raw_sha256)
    limit_mb = ctx.settings.limits.max_message_mb
    too_large = Reason(
        "message_too_large",
        {"size_mb": round(fetched.size / MEGABYTE, 1), "limit_mb": limit_mb},
    )
    decision = decide([*traffic_reasons(ctx, facts), too_large], ctx.settings.decision)
    log.info(
        "UID %s is %.1f MB, over the %s MB limit: not downloaded",
        fetched.uid,
        fetched.size / MEGABYTE,
        limit_mb,
    )
    return file_with_retries(ctx, fetched, facts, decision)
