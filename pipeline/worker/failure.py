"""A message we could not process is held for the desk, with the stage that failed, and
never answered automatically."""

from __future__ import annotations

import traceback

from sqlalchemy.exc import IntegrityError

from pipeline.domain import Action
from pipeline.mailbox.imap import FetchedMessage
from pipeline.message.parsed import ParsedMessage
from pipeline.storage import models as m
from pipeline.storage.db import session_scope
from pipeline.storage.references import UNROUTED_PREFIX, next_reference
from pipeline.worker.context import Filed, RunContext
from pipeline.worker.ledger import held_entry


def tail() -> str:
    """The end of the traceback being handled, as the error a held message shows."""
    return traceback.format_exc(limit=3)[-2000:]


def file_failure(
    ctx: RunContext,
    fetched: FetchedMessage,
    raw_sha256: str,
    parsed: ParsedMessage | None,
    stage: m.Stage,
    error: str,
    *,
    reason: str = "internal_error",
) -> Filed | None:
    """Hold a message we could not process, with the stage that failed, for the desk.
    None when another worker filed it first.

    No automatic reply: when understanding failed we cannot be sure a reply is safe
    (it may be a bounce or a forgery); the desk answers when it decides.
    """
    try:
        with session_scope(ctx.engine) as session:
            record = held_entry(ctx, session, fetched, raw_sha256, parsed, reason, stage, error)
            assert record.id is not None
            reference = next_reference(session, UNROUTED_PREFIX)
            submission = m.Submission(
                reference=reference,
                message_record_id=record.id,
                sender=parsed.sender if parsed else None,
                received_at=fetched.internaldate,
                status=m.SubmissionStatus.HELD,
            )
            session.add(submission)
            session.flush()
            assert submission.id is not None
            decision_row = m.Decision(submission_id=submission.id, status=m.SubmissionStatus.HELD)
            session.add(decision_row)
            session.flush()
            assert decision_row.id is not None
            session.add(
                m.DecisionReason(
                    decision_id=decision_row.id,
                    code=reason,
                    action=Action.HOLD,
                    params={"stage": stage.value},
                )
            )
            session.add(
                m.AuditEvent(
                    kind=m.AuditKind.PROCESSING_FAILED,
                    submission_id=submission.id,
                    message_record_id=record.id,
                    detail={"stage": stage.value, "error": error[-500:]},
                )
            )
            return Filed(
                record.id, m.MessageOutcome.HELD, record.target_folder, reference, record.message_id
            )
    except IntegrityError:
        return None  # another worker filed it
