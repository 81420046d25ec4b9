"""The filing transaction: one message, filed whole or not at all.

One transaction writes the ledger entry, the submission under its reference (the
accepted one before it superseded), its documents, the decision with its reasons, the
reply into the outbox and the audit events; the crash counter of the message is deleted
in it. The mailbox is touched only after this commit, by the run.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlmodel import Session

from pipeline.checks.facts import Facts
from pipeline.decision.decide import DecisionResult, JudgedReason
from pipeline.domain import Action
from pipeline.faults import checkpoint
from pipeline.mailbox.imap import FetchedMessage
from pipeline.message.parsed import ParsedMessage
from pipeline.replies.cancel import cancel_unsent
from pipeline.replies.compose import FiledFile, compose_reply
from pipeline.replies.outbox import reply_message_id
from pipeline.storage import attempts
from pipeline.storage import models as m
from pipeline.storage.db import session_scope
from pipeline.storage.references import UNROUTED_PREFIX, next_reference
from pipeline.storage.superseding import supersede_current
from pipeline.worker.context import Filed, RunContext
from pipeline.worker.documents import filed_files, has_documents, record_details, store_documents
from pipeline.worker.failure import file_failure, tail
from pipeline.worker.ledger import already_filed, follow_renumbered_original, ledger_entry
from pipeline.worker.suppression import suppressed

log = logging.getLogger(__name__)

_ATTEMPTS = 3

# The database went away (server down, connection killed, SQLite locked for a minute):
# the run ends and the next one files the message. Never a reason to hold it.
DATABASE_LOST = (OperationalError, InterfaceError)


def file_with_retries(
    ctx: RunContext, fetched: FetchedMessage, facts: Facts, decision: DecisionResult
) -> Filed | None:
    """File, retrying when a concurrent writer took the reference number or the slot.
    None when another worker filed the message first."""
    for attempt in range(_ATTEMPTS):
        try:
            return _file(ctx, fetched, facts, decision)
        except IntegrityError:
            if already_filed(ctx, fetched) is not None:
                return None
            if attempt == _ATTEMPTS - 1:
                log.exception("filing UID %s kept colliding", fetched.uid)
        except DATABASE_LOST:
            raise
        except Exception:
            log.exception("filing UID %s failed", fetched.uid)
            break
    return file_failure(ctx, fetched, facts.raw_sha256, facts.message, m.Stage.STORE, tail())


def _file(
    ctx: RunContext, fetched: FetchedMessage, facts: Facts, decision: DecisionResult
) -> Filed:
    # Attachments go to the store before the transaction: content-addressed, idempotent.
    digests = [ctx.blobs.put(a.content) for a in facts.message.attachments]
    conversion = facts.statement.conversion if facts.statement else None
    converted_digest = ctx.blobs.put(conversion.content) if conversion else None
    with session_scope(ctx.engine) as session:
        record = ledger_entry(
            ctx, fetched, facts.raw_sha256, facts.message, decision.outcome, decision.first_code
        )
        attempts.clear(session, ctx.key(fetched.uid))
        if decision.outcome is m.MessageOutcome.IGNORED:
            filed = _file_ignored(ctx, session, record, facts, decision)
        else:
            session.add(record)
            session.flush()
            assert record.id is not None
            filed = file_submission(
                ctx, session, record, facts, decision, digests, converted_digest
            )
        session.flush()
        checkpoint("in_transaction", message_id=record.message_id)
        return filed


def _file_ignored(
    ctx: RunContext,
    session: Session,
    record: m.MessageRecord,
    facts: Facts,
    decision: DecisionResult,
) -> Filed:
    """An ignored message has a ledger entry and an audit event, and no submission."""
    record.duplicate_of_id = facts.duplicate_of
    follow_renumbered_original(ctx, session, record)
    session.add(record)
    session.flush()
    assert record.id is not None
    session.add(
        m.AuditEvent(
            kind=m.AuditKind.MESSAGE_DUPLICATE
            if facts.duplicate_of is not None
            else m.AuditKind.MESSAGE_IGNORED,
            message_record_id=record.id,
            detail={"reasons": decision.codes, "sender": facts.message.sender},
        )
    )
    return Filed(record.id, decision.outcome, record.target_folder, None, record.message_id)


def file_submission(
    ctx: RunContext,
    session: Session,
    record: m.MessageRecord,
    facts: Facts,
    decision: DecisionResult,
    digests: list[str],
    converted_digest: str | None,
    existing: m.Submission | None = None,
    *,
    notify: bool = True,
) -> Filed:
    """File the submission, or, with `existing`, file it again after a retry.

    `notify=False` files the decision without a reply (a quarantined auto-reply).
    """
    assert record.id is not None
    reference = existing.reference if existing is not None else _assign_reference(session, facts)
    status = m.SubmissionStatus(decision.outcome.value)
    notes = list(decision.reasons)
    supersedes: m.Submission | None = None
    if status is m.SubmissionStatus.ACCEPTED:
        supersedes, newer = _supersede(session, facts, existing)
        if newer is not None:
            # A message that reached the server earlier but was filed later (it was
            # held, or retried) never replaces a newer statement.
            status = m.SubmissionStatus.SUPERSEDED
            notes.append(JudgedReason("newer_on_file", Action.NOTE, {"reference": newer.reference}))
    submission = _record_submission(
        session, record, facts, reference, status, supersedes=supersedes, existing=existing
    )
    assert submission.id is not None
    if existing is not None and has_documents(session, submission.id):
        files = filed_files(session, submission.id)
    else:
        files = store_documents(session, submission.id, facts, digests, converted_digest)
    decision_row = _record_decision(
        session, submission, status, notes, retried=existing is not None
    )
    events = _filing_events(record, submission, facts, reference, status, notes, supersedes)
    events += _queue_reply(
        ctx,
        session,
        record,
        submission,
        decision_row,
        facts,
        DecisionResult(decision.outcome, tuple(notes)),
        reference=reference,
        files=files,
        supersedes=supersedes,
        notify=notify,
    )
    session.add_all(events)
    session.flush()
    return Filed(record.id, decision.outcome, record.target_folder, reference, record.message_id)


def _assign_reference(session: Session, facts: Facts) -> str:
    """The next reference of the meeting, or an unrouted one."""
    meeting = facts.meeting
    return next_reference(session, meeting.code if meeting else UNROUTED_PREFIX)


def _supersede(
    session: Session, facts: Facts, existing: m.Submission | None
) -> tuple[m.Submission | None, m.Submission | None]:
    """An accepted message becomes its mission's current statement for the meeting:
    (the submission it supersedes, the newer accepted one that stays current instead)."""
    meeting, mission = facts.meeting, facts.mission
    if meeting is None or mission is None:
        return None, None
    found = supersede_current(
        session,
        meeting_id=meeting.id,
        mission_id=mission.id,
        successor_id=existing.id if existing is not None else None,
        received_at=facts.received_at,
    )
    return found.superseded, found.newer


def _record_submission(
    session: Session,
    record: m.MessageRecord,
    facts: Facts,
    reference: str,
    status: m.SubmissionStatus,
    *,
    supersedes: m.Submission | None,
    existing: m.Submission | None,
) -> m.Submission:
    """The submission row (the `existing` one after a retry), flushed: it has its id."""
    assert record.id is not None
    meeting, mission = facts.meeting, facts.mission
    submission = existing or m.Submission(
        reference=reference,
        message_record_id=record.id,
        received_at=facts.received_at,
        status=status,
    )
    submission.meeting_id = meeting.id if meeting else None
    submission.mission_id = mission.id if mission else None
    submission.sender = facts.message.sender
    submission.status = status
    submission.supersedes_id = supersedes.id if supersedes else None
    submission.updated_at = m.utcnow()
    record_details(submission, facts)
    session.add(submission)
    session.flush()
    return submission


def _record_decision(
    session: Session,
    submission: m.Submission,
    status: m.SubmissionStatus,
    notes: list[JudgedReason],
    *,
    retried: bool,
) -> m.Decision:
    """The automatic decision with its reasons; after a retry, it cancels the replies of
    the decisions before it that were not sent yet."""
    assert submission.id is not None
    decision_row = m.Decision(submission_id=submission.id, status=status)
    session.add(decision_row)
    session.flush()
    assert decision_row.id is not None
    if retried:
        # Filed again (a retry): only the new decision's reply may reach the sender.
        cancel_unsent(
            session,
            submission.id,
            why=f"replaced by a new automatic decision ({status.value}) after a retry",
            actor="intake",
            decision=status.value,
        )
    for reason in notes:
        session.add(
            m.DecisionReason(
                decision_id=decision_row.id,
                code=reason.code,
                action=reason.action,
                params=dict(reason.params),
            )
        )
    return decision_row


def _filing_events(
    record: m.MessageRecord,
    submission: m.Submission,
    facts: Facts,
    reference: str,
    status: m.SubmissionStatus,
    notes: list[JudgedReason],
    supersedes: m.Submission | None,
) -> list[m.AuditEvent]:
    """The audit events of the filing: filed, decided, and the one superseded."""
    events = [
        m.AuditEvent(
            kind=m.AuditKind.SUBMISSION_FILED,
            submission_id=submission.id,
            message_record_id=record.id,
            detail={
                "reference": reference,
                "sender": facts.message.sender,
                **_winmail_detail(facts.message),
            },
        ),
        m.AuditEvent(
            kind=m.AuditKind.DECISION,
            submission_id=submission.id,
            message_record_id=record.id,
            detail={"status": status.value, "reasons": [r.code for r in notes]},
        ),
    ]
    if supersedes is not None:
        events.append(
            m.AuditEvent(
                kind=m.AuditKind.SUBMISSION_SUPERSEDED,
                submission_id=supersedes.id,
                message_record_id=supersedes.message_record_id,
                detail={"superseded_by": reference},
            )
        )
    return events


def _queue_reply(
    ctx: RunContext,
    session: Session,
    record: m.MessageRecord,
    submission: m.Submission,
    decision_row: m.Decision,
    facts: Facts,
    decision: DecisionResult,
    *,
    reference: str,
    files: list[FiledFile],
    supersedes: m.Submission | None,
    notify: bool,
) -> list[m.AuditEvent]:
    """The reply to the decision, into the outbox, unless it is suppressed: the audit
    event saying which of the two happened (none when no reply is called for)."""
    assert record.id is not None
    assert decision_row.id is not None
    composed = (
        compose_reply(
            templates=ctx.templates,
            settings=ctx.settings,
            facts=facts,
            decision=decision,
            reference=reference,
            files=files,
            supersedes=supersedes.reference if supersedes else None,
        )
        if notify
        else None
    )
    answerable = (
        notify
        and decision.outcome is not m.MessageOutcome.IGNORED
        and (decision.outcome is not m.MessageOutcome.HELD or ctx.settings.replies.notify_held)
    )
    why = suppressed(ctx, session, composed, decision.reasons, facts, answerable=answerable)
    if why is not None:
        return [
            m.AuditEvent(
                kind=m.AuditKind.REPLY_SUPPRESSED,
                submission_id=submission.id,
                message_record_id=record.id,
                detail=why,
            )
        ]
    if composed is None:
        return []
    original_id = facts.message.message_id
    session.add(
        m.Reply(
            message_record_id=record.id,
            submission_id=submission.id,
            decision_id=decision_row.id,
            kind=composed.kind,
            to_address=composed.to_address,
            subject=composed.rendered.subject,
            body=composed.rendered.body,
            message_id=reply_message_id(
                kind=composed.kind.value,
                record_id=record.id,
                decision_id=decision_row.id,
                domain=ctx.reply_domain,
            ),
            in_reply_to=original_id,
            references=original_id,
        )
    )
    return [
        m.AuditEvent(
            kind=m.AuditKind.REPLY_QUEUED,
            submission_id=submission.id,
            message_record_id=record.id,
            detail={"kind": composed.kind.value, "to": composed.to_address},
        )
    ]


def _winmail_detail(message: ParsedMessage) -> dict[str, object]:
    """For the desk: which files came out of an Outlook winmail.dat, and what could not."""
    if not message.winmail:
        return {}
    return {
        "winmail": [
            {"name": w.name, "files": list(w.files), "problems": list(w.problems)}
            for w in message.winmail
        ]
    }
