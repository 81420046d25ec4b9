"""Filing a held message again (`intake messages retry`), from the original bytes in the
store: it keeps its reference, and the new decision, its reasons and its reply are added
to its history."""

from __future__ import annotations

from sqlmodel import Session, select

from pipeline.decision.decide import DecisionResult, decide, run_checks
from pipeline.message.parse import parse_message
from pipeline.storage import models as m
from pipeline.storage.db import session_scope
from pipeline.worker.context import Filed, RunContext, folder_for
from pipeline.worker.filing import file_submission
from pipeline.worker.gather import facts_of


def refile_message(ctx: RunContext, record_id: int) -> Filed:
    """Run a held message through the checks again, from the original bytes in the store.

    The submission keeps its reference; the new decision, its reasons and its reply are
    added to its history. Raises LookupError when there is nothing to retry.
    """
    with Session(ctx.engine) as session:
        record = session.get(m.MessageRecord, record_id)
        submission = session.exec(
            select(m.Submission).where(m.Submission.message_record_id == record_id)
        ).first()
    if record is None or submission is None:
        raise LookupError(f"no filed message with the id {record_id}")
    raw = ctx.blobs.get(record.raw_sha256)
    parsed = parse_message(raw, limits=ctx.settings.limits)
    facts = facts_of(
        ctx,
        parsed,
        received_at=record.received_at,
        raw_sha256=record.raw_sha256,
        exclude=record_id,
    )
    decision = decide(run_checks(ctx.checks, facts), ctx.settings.decision)
    if decision.outcome is m.MessageOutcome.IGNORED:
        # A held message never silently disappears: it stays with the desk.
        decision = DecisionResult(m.MessageOutcome.HELD, decision.reasons)
    digests = [ctx.blobs.put(a.content) for a in facts.message.attachments]
    conversion = facts.statement.conversion if facts.statement else None
    converted_digest = ctx.blobs.put(conversion.content) if conversion else None
    with session_scope(ctx.engine) as session:
        row = session.get(m.MessageRecord, record_id)
        existing = session.get(m.Submission, submission.id)
        assert row is not None
        assert existing is not None
        row.outcome = decision.outcome
        row.reason = decision.first_code
        row.failed_stage = None
        row.error = None
        row.message_id = parsed.message_id
        row.sender = parsed.sender
        row.target_folder = folder_for(ctx.settings, decision.outcome)
        session.add(row)
        session.add(
            m.AuditEvent(
                kind=m.AuditKind.MESSAGE_RETRIED,
                submission_id=existing.id,
                message_record_id=record_id,
                detail={"outcome": decision.outcome.value, "reasons": decision.codes},
            )
        )
        return file_submission(
            ctx, session, row, facts, decision, digests, converted_digest, existing=existing
        )
