"""A message that keeps killing its worker is quarantined: held for the desk without
being processed, known by its header alone."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from pipeline.decision.decide import DecisionResult, JudgedReason
from pipeline.domain import Action
from pipeline.mailbox.imap import FetchedMessage
from pipeline.storage import attempts
from pipeline.storage import models as m
from pipeline.storage.db import session_scope
from pipeline.worker.context import Filed, RunContext
from pipeline.worker.failure import file_failure
from pipeline.worker.filing import file_submission
from pipeline.worker.gather import facts_of, header_of, parse_header, traffic_reasons
from pipeline.worker.ledger import held_entry

log = logging.getLogger(__name__)


def quarantine(ctx: RunContext, fetched: FetchedMessage, attempt: attempts.Attempt) -> Filed | None:
    """Hold a message that killed `worker.max_crashes` workers, without processing it.
    None when another worker filed it first.

    It goes to the held folder with reason `quarantined` and the stage its last attempt
    reached; `intake messages retry` runs it again once the cause is fixed. The sender is
    told it is under review (the `quarantined` text), unless the header shows mail that is
    never answered. Only the header is parsed; if even this step killed a worker before,
    nothing is parsed at all and no reply goes out.
    """
    stage = attempt.last_stage or m.Stage.PARSE
    error = (
        f"quarantined: {attempt.crashes} attempts stopped the worker "
        f"(the last one during {stage.value})"
    )
    log.error("UID %s %s", fetched.uid, error)
    raw_sha256 = ctx.blobs.put(fetched.raw)
    max_crashes = ctx.settings.worker.max_crashes
    parsed = parse_header(ctx, header_of(fetched.raw)) if attempt.crashes <= max_crashes else None
    if parsed is None:
        return file_failure(ctx, fetched, raw_sha256, None, stage, error, reason="quarantined")
    facts = facts_of(ctx, parsed, received_at=fetched.internaldate, raw_sha256=raw_sha256)
    notify = not traffic_reasons(ctx, facts)
    decision = DecisionResult(
        m.MessageOutcome.HELD,
        (
            JudgedReason(
                "quarantined", Action.HOLD, {"stage": stage.value, "crashes": attempt.crashes}
            ),
        ),
    )
    try:
        with session_scope(ctx.engine) as session:
            record = held_entry(
                ctx, session, fetched, raw_sha256, parsed, "quarantined", stage, error
            )
            filed = file_submission(ctx, session, record, facts, decision, [], None, notify=notify)
            submission = session.exec(
                select(m.Submission).where(m.Submission.message_record_id == record.id)
            ).one()
            session.add(
                m.AuditEvent(
                    kind=m.AuditKind.PROCESSING_FAILED,
                    submission_id=submission.id,
                    message_record_id=record.id,
                    detail={"stage": stage.value, "error": error, "quarantined": True},
                )
            )
            return filed
    except IntegrityError:
        return None  # another worker filed it
