"""One message, one transaction.

Understanding and checking happen outside the transaction (they can be slow); then one
transaction writes the ledger entry, the submission, its documents, the decision with
its reasons, the reply into the outbox and the audit events, or nothing at all. The
mailbox is touched only after this commit, by the caller.

Before any of it, the attempt is counted in a transaction of its own
(`pipeline.storage.attempts`); the filing transaction deletes the count. A message that
keeps killing its worker is thereby seen, and quarantined after `worker.max_crashes`.
`checkpoint(...)` calls mark where the crash tests kill the process
(`pipeline.faults`; inert in production).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlmodel import Session, col, select

from pipeline.checks.authentication import assess
from pipeline.checks.base import Check, Reason
from pipeline.checks.facts import Facts, gather_facts
from pipeline.decision.decide import DecisionResult, JudgedReason, decide, run_checks
from pipeline.faults import checkpoint
from pipeline.mailbox.imap import FetchedMessage
from pipeline.message.parse import UnreadableMessage, parse_message
from pipeline.message.parsed import ParsedMessage
from pipeline.printable import visible
from pipeline.replies.cancel import cancel_unsent
from pipeline.replies.compose import (
    ComposedReply,
    FiledFile,
    compose_reply,
    unusable_address,
    withheld_by,
)
from pipeline.replies.limits import (
    HOUR,
    LIMITED_KINDS,
    rejection_allowed,
    rejection_codes,
    rejection_window,
    replies_since,
    replies_to,
)
from pipeline.replies.outbox import reply_message_id, worker_id
from pipeline.replies.templates import ReplyTemplates
from pipeline.settings.models import Action, Settings
from pipeline.storage import attempts
from pipeline.storage import models as m
from pipeline.storage.blobs import BlobStore, safe_filename
from pipeline.storage.db import session_scope
from pipeline.storage.directory import Directory
from pipeline.storage.references import UNROUTED_PREFIX, next_reference

log = logging.getLogger(__name__)

_ATTEMPTS = 3
MEGABYTE = 1024 * 1024

# The database went away (server down, connection killed, SQLite locked for a minute):
# the run ends and the next one files the message. Never a reason to hold it.
DATABASE_LOST = (OperationalError, InterfaceError)


@dataclass(frozen=True)
class RunContext:
    """What every message of a run shares; built once per run."""

    engine: Engine
    settings: Settings
    directory: Directory
    templates: ReplyTemplates
    checks: Sequence[Check]
    blobs: BlobStore
    mailbox: str
    uidvalidity: int

    @property
    def own_addresses(self) -> frozenset[str]:
        return frozenset({self.settings.smtp.sender, self.settings.mailbox.username.lower()})

    @property
    def reply_domain(self) -> str:
        return self.settings.smtp.sender.rsplit("@", 1)[1]

    def key(self, uid: int) -> attempts.MessageKey:
        return attempts.MessageKey(self.mailbox, self.uidvalidity, uid)


@dataclass(frozen=True)
class Filed:
    record_id: int
    outcome: m.MessageOutcome
    target_folder: str
    reference: str | None = None
    message_id: str | None = None


def folder_for(settings: Settings, outcome: m.MessageOutcome) -> str:
    folders = settings.mailbox.folders
    return {
        m.MessageOutcome.ACCEPTED: folders.accepted,
        m.MessageOutcome.REJECTED: folders.rejected,
        m.MessageOutcome.HELD: folders.held,
        m.MessageOutcome.IGNORED: folders.ignored,
    }[outcome]


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
        return _quarantine(ctx, fetched, attempt)
    suspect = attempt.crashes > 0
    checkpoint("after_fetch")
    raw_sha256 = ctx.blobs.put(fetched.raw)
    try:
        parsed = parse_message(fetched.raw, limits=ctx.settings.limits)
    except UnreadableMessage as error:
        return _file_failure(ctx, fetched, raw_sha256, None, m.Stage.PARSE, str(error))
    checkpoint("after_parse", message_id=parsed.message_id)
    if suspect:
        attempts.advance(ctx.engine, key, m.Stage.CHECK)
    try:
        facts = _facts(ctx, fetched, parsed, raw_sha256)
        decision = decide(run_checks(ctx.checks, facts), ctx.settings.decision)
    except DATABASE_LOST:
        raise
    except Exception:  # one bad message must never stop the batch
        log.exception("checking UID %s failed", fetched.uid)
        return _file_failure(ctx, fetched, raw_sha256, parsed, m.Stage.CHECK, _tail())
    if suspect:
        attempts.advance(ctx.engine, key, m.Stage.STORE)
    return _file_with_retries(ctx, fetched, facts, decision)


def _file_with_retries(
    ctx: RunContext, fetched: FetchedMessage, facts: Facts, decision: DecisionResult
) -> Filed | None:
    """File, retrying when a concurrent writer took the reference number or the slot."""
    for attempt in range(_ATTEMPTS):
        try:
            return _file(ctx, fetched, facts, decision)
        except IntegrityError:
            if _already_filed(ctx, fetched) is not None:
                return None
            if attempt == _ATTEMPTS - 1:
                log.exception("filing UID %s kept colliding", fetched.uid)
        except DATABASE_LOST:
            raise
        except Exception:
            log.exception("filing UID %s failed", fetched.uid)
            break
    return _file_failure(ctx, fetched, facts.raw_sha256, facts.message, m.Stage.STORE, _tail())


# Only the checks that decide whether a reply may go at all run on a message known by
# its header alone (too large, or quarantined): automatic traffic, our own address, a
# duplicate, a sender that failed authentication (no backscatter to a forged From). The
# document checks would only report files we never looked at.
_HEADER_CHECKS = frozenset(
    {"automatic_traffic", "own_address", "duplicate", "sender_authentication"}
)


def _parse_header(ctx: RunContext, raw_header: bytes) -> ParsedMessage | None:
    try:
        return parse_message(raw_header, limits=ctx.settings.limits)
    except UnreadableMessage:
        return None


# The checks that judge the sender and the kind of mail, from the header and the
# directory alone: their verdict decides whether a message's files are opened at all.
_SENDER_CHECKS = _HEADER_CHECKS | {"known_sender"}


def _files_worth_opening(ctx: RunContext) -> Callable[[Facts], bool]:
    """The `screen` for gather_facts: open a message's files (read a .docx or a PDF,
    convert a legacy file with LibreOffice) only when the sender checks alone would let
    it be accepted. A stranger, a registered address our server could not authenticate,
    automatic mail, our own mail and a duplicate are ignored, rejected or held without
    any file being opened: nothing they send reaches LibreOffice (issue 12). With
    `[decision]` mapping such a reason to `note`, the files are opened as for anyone."""
    checks = [check for check in ctx.checks if check.name in _SENDER_CHECKS]

    def screen(facts: Facts) -> bool:
        reasons = run_checks(checks, facts)
        return decide(reasons, ctx.settings.decision).outcome is m.MessageOutcome.ACCEPTED

    return screen


def _facts(
    ctx: RunContext, fetched: FetchedMessage, parsed: ParsedMessage, raw_sha256: str
) -> Facts:
    """Everything the checks need, once: the message, its documents, the sender's
    mission, the meeting, and whether the same mail was filed before."""
    return gather_facts(
        parsed,
        received_at=fetched.internaldate,
        raw_sha256=raw_sha256,
        directory=ctx.directory,
        own_addresses=ctx.own_addresses,
        settings=ctx.settings.documents,
        duplicate_of=_find_duplicate(ctx, parsed, raw_sha256),
        screen=_files_worth_opening(ctx),
    )


def _traffic_reasons(ctx: RunContext, facts: Facts) -> list[Reason]:
    checks = [check for check in ctx.checks if check.name in _HEADER_CHECKS]
    return run_checks(checks, facts)


def _file_too_large(ctx: RunContext, fetched: FetchedMessage) -> Filed | None:
    """A message over `[limits] max_message_mb`, known by its header only: rejected with
    `message_too_large` and answered, unless the header shows automatic traffic, our own
    address or a duplicate (then ignored, like any such mail) or a sender that failed
    authentication (no reply to a forged From). The header is what the store keeps."""
    raw_sha256 = ctx.blobs.put(fetched.raw)
    parsed = _parse_header(ctx, fetched.raw)
    if parsed is None:
        return _file_failure(
            ctx, fetched, raw_sha256, None, m.Stage.FETCH, "too large, and its header is unreadable"
        )
    facts = _facts(ctx, fetched, parsed, raw_sha256)
    limit_mb = ctx.settings.limits.max_message_mb
    too_large = Reason(
        "message_too_large",
        {"size_mb": round(fetched.size / MEGABYTE, 1), "limit_mb": limit_mb},
    )
    decision = decide([*_traffic_reasons(ctx, facts), too_large], ctx.settings.decision)
    log.info(
        "UID %s is %.1f MB, over the %s MB limit: not downloaded",
        fetched.uid,
        fetched.size / MEGABYTE,
        limit_mb,
    )
    return _file_with_retries(ctx, fetched, facts, decision)


def _quarantine(
    ctx: RunContext, fetched: FetchedMessage, attempt: attempts.Attempt
) -> Filed | None:
    """Hold a message that killed `worker.max_crashes` workers, without processing it.

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
    parsed = _parse_header(ctx, _header_of(fetched.raw)) if attempt.crashes <= max_crashes else None
    if parsed is None:
        return _file_failure(ctx, fetched, raw_sha256, None, stage, error, reason="quarantined")
    facts = _facts(ctx, fetched, parsed, raw_sha256)
    notify = not _traffic_reasons(ctx, facts)
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
            record = _held_record(
                ctx, session, fetched, raw_sha256, parsed, "quarantined", stage, error
            )
            filed = _file_submission(ctx, session, record, facts, decision, [], None, notify=notify)
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


def _header_of(raw: bytes) -> bytes:
    """The header block of a raw message (up to the first empty line)."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        end = raw.find(separator)
        if end != -1:
            return raw[: end + len(separator)]
    return raw


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
    facts = gather_facts(
        parsed,
        received_at=record.received_at,
        raw_sha256=record.raw_sha256,
        directory=ctx.directory,
        own_addresses=ctx.own_addresses,
        settings=ctx.settings.documents,
        duplicate_of=_find_duplicate(ctx, parsed, record.raw_sha256, exclude=record_id),
        screen=_files_worth_opening(ctx),
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
        return _file_submission(
            ctx, session, row, facts, decision, digests, converted_digest, existing=existing
        )


def _tail() -> str:
    return traceback.format_exc(limit=3)[-2000:]


def _already_filed(ctx: RunContext, fetched: FetchedMessage) -> m.MessageRecord | None:
    with Session(ctx.engine) as session:
        return session.exec(
            select(m.MessageRecord).where(
                m.MessageRecord.mailbox == ctx.mailbox,
                m.MessageRecord.uidvalidity == ctx.uidvalidity,
                m.MessageRecord.uid == fetched.uid,
            )
        ).first()


def _find_duplicate(
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


def _record(
    ctx: RunContext,
    fetched: FetchedMessage,
    raw_sha256: str,
    parsed: ParsedMessage | None,
    outcome: m.MessageOutcome,
    reason: str | None,
) -> m.MessageRecord:
    return m.MessageRecord(
        mailbox=ctx.mailbox,
        uidvalidity=ctx.uidvalidity,
        uid=fetched.uid,
        message_id=parsed.message_id if parsed else None,
        raw_sha256=raw_sha256,
        size=fetched.size,
        received_at=fetched.internaldate,
        sender=parsed.sender if parsed else None,
        subject=parsed.subject[:998] if parsed else None,
        outcome=outcome,
        reason=reason,
        target_folder=folder_for(ctx.settings, outcome),
    )


def _file(
    ctx: RunContext, fetched: FetchedMessage, facts: Facts, decision: DecisionResult
) -> Filed:
    # Attachments go to the store before the transaction: content-addressed, idempotent.
    digests = [ctx.blobs.put(a.content) for a in facts.message.attachments]
    conversion = facts.statement.conversion if facts.statement else None
    converted_digest = ctx.blobs.put(conversion.content) if conversion else None
    with session_scope(ctx.engine) as session:
        record = _record(
            ctx, fetched, facts.raw_sha256, facts.message, decision.outcome, decision.first_code
        )
        attempts.clear(session, ctx.key(fetched.uid))
        if decision.outcome is m.MessageOutcome.IGNORED:
            record.duplicate_of_id = facts.duplicate_of
            _follow_renumbered_original(ctx, session, record)
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
            filed = Filed(
                record.id, decision.outcome, record.target_folder, None, record.message_id
            )
        else:
            session.add(record)
            session.flush()
            assert record.id is not None
            filed = _file_submission(
                ctx, session, record, facts, decision, digests, converted_digest
            )
        session.flush()
        checkpoint("in_transaction", message_id=record.message_id)
        return filed


def _follow_renumbered_original(ctx: RunContext, session: Session, record: m.MessageRecord) -> None:
    """A duplicate of a message filed here but never moved, under another UIDVALIDITY, is
    that same mail renumbered by the server (a rebuilt index, a migrated mailbox): it goes
    where the original was going, so the mailbox agrees with what was filed and answered.
    Mail delivered twice stays a duplicate, moved to the ignored folder."""
    if record.duplicate_of_id is None:
        return
    original = session.get(m.MessageRecord, record.duplicate_of_id)
    if (
        original is not None
        and original.moved_at is None
        and original.mailbox == ctx.mailbox
        and original.uidvalidity != ctx.uidvalidity
    ):
        record.target_folder = original.target_folder


def _file_submission(
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
    meeting = facts.meeting
    mission = facts.mission
    if existing is not None:
        reference = existing.reference
    else:
        reference = next_reference(session, meeting.code if meeting else UNROUTED_PREFIX)
    status = m.SubmissionStatus(decision.outcome.value)
    notes = list(decision.reasons)

    supersedes: m.Submission | None = None
    if status is m.SubmissionStatus.ACCEPTED and meeting is not None and mission is not None:
        current = session.exec(
            select(m.Submission).where(
                m.Submission.meeting_id == meeting.id,
                m.Submission.mission_id == mission.id,
                m.Submission.status == m.SubmissionStatus.ACCEPTED,
                m.Submission.id != (existing.id if existing else -1),
            )
        ).first()
        if current is not None and current.received_at <= facts.received_at:
            current.status = m.SubmissionStatus.SUPERSEDED
            current.updated_at = m.utcnow()
            session.add(current)
            session.flush()  # the partial unique index must see it gone first
            supersedes = current
        elif current is not None:
            # A message that reached the server earlier but was filed later (it was
            # held, or retried) never replaces a newer statement.
            status = m.SubmissionStatus.SUPERSEDED
            notes.append(
                JudgedReason("newer_on_file", Action.NOTE, {"reference": current.reference})
            )

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
    _record_details(submission, facts)
    session.add(submission)
    session.flush()
    assert submission.id is not None

    if (
        existing is not None
        and session.exec(
            select(m.Document).where(m.Document.submission_id == submission.id)
        ).first()
    ):
        files = [
            FiledFile(d.role.value, d.filename)
            for d in session.exec(
                select(m.Document)
                .where(m.Document.submission_id == submission.id)
                .order_by(col(m.Document.id))
            )
            if d.role in (m.DocumentRole.STATEMENT, m.DocumentRole.COVER_LETTER)
        ]
    else:
        files = _documents(session, submission.id, facts, digests, converted_digest)

    decision_row = m.Decision(submission_id=submission.id, status=status)
    session.add(decision_row)
    session.flush()
    assert decision_row.id is not None
    if existing is not None:
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

    composed = (
        compose_reply(
            templates=ctx.templates,
            settings=ctx.settings,
            facts=facts,
            decision=DecisionResult(decision.outcome, tuple(notes)),
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
    suppressed = _suppressed(ctx, session, composed, notes, facts, answerable=answerable)
    if suppressed is not None:
        events.append(
            m.AuditEvent(
                kind=m.AuditKind.REPLY_SUPPRESSED,
                submission_id=submission.id,
                message_record_id=record.id,
                detail=suppressed,
            )
        )
        composed = None
    if composed is not None:
        original_id = facts.message.message_id
        reply = m.Reply(
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
        session.add(reply)
        events.append(
            m.AuditEvent(
                kind=m.AuditKind.REPLY_QUEUED,
                submission_id=submission.id,
                message_record_id=record.id,
                detail={"kind": composed.kind.value, "to": composed.to_address},
            )
        )
    session.add_all(events)
    session.flush()
    return Filed(record.id, decision.outcome, record.target_folder, reference, record.message_id)


def _suppressed(
    ctx: RunContext,
    session: Session,
    composed: ComposedReply | None,
    reasons: Sequence[JudgedReason],
    facts: Facts,
    *,
    answerable: bool,
) -> dict[str, object] | None:
    """Why this message gets no reply although its outcome would call for one, or None.

    `answerable`: the outcome calls for a reply (not ignored, not a held message while
    `notify_held` is off, not a quarantined auto-reply). In order:

    - a sender that may be forged is never answered (backscatter);
    - nor a From no mail can go to (control characters, non-ASCII: `unusable_address`);
    - an address no mission registered is answered only when our receiving server's
      Authentication-Results show a pass for its domain (`[authentication]
      authserv_id`; without one, never): anyone can write in its name;
    - within `[replies] rejection_window_hours`, a registered sender gets one rejection
      per meeting and set of reasons, and `max_rejections_per_address` rejections and
      notices in all; any other address one of them at all
      (`pipeline.replies.limits`);
    - all addresses together get `max_rejections_per_hour` of them in any hour.
    """
    message = facts.message
    replies = ctx.settings.replies
    withheld = withheld_by(reason.code for reason in reasons)
    if withheld is not None:
        return {"why": withheld, "sender": message.sender}
    if composed is None:
        if not answerable:
            return None
        if message.refused_sender is not None:
            problem: str | None = "an address no mail can go to"
        else:
            problem = unusable_address(message.sender) if message.sender else None
        if problem is None:
            return None
        shown = message.refused_sender or visible(message.sender or "")
        return {"why": "no_usable_address", "from": shown, "problem": problem}
    registered = facts.mission is not None
    if not registered:
        assessment = assess(message, ctx.settings.authentication.authserv_id)
        if not assessment.passed:
            return {
                "why": "unregistered_sender_not_authenticated",
                "kind": composed.kind.value,
                "to": composed.to_address,
                "authserv_id": ctx.settings.authentication.authserv_id,
                "results": assessment.summary(),
            }
    if composed.kind not in LIMITED_KINDS:
        return None
    to = {"kind": composed.kind.value, "to": composed.to_address}
    now = m.utcnow()
    window = rejection_window(replies)
    codes = rejection_codes(reasons)
    meeting = facts.meeting
    keyed = not registered or composed.kind is m.ReplyKind.REJECTION
    if keyed and not rejection_allowed(
        session,
        to_address=composed.to_address,
        registered=registered,
        meeting_id=meeting.id if meeting else None,
        reasons=codes,
        now=now,
        window=window,
    ):
        return {
            "why": "rejection_window",
            **to,
            "per": "address, meeting and reasons" if registered else "address",
            "meeting": meeting.code if meeting else None,
            "reasons": codes,
            "window_hours": replies.rejection_window_hours,
        }
    limit = replies.max_rejections_per_address
    if window and limit and replies_to(session, composed.to_address, since=now - window) >= limit:
        return {
            "why": "address_limit",
            **to,
            "limit": limit,
            "window_hours": replies.rejection_window_hours,
        }
    cap = replies.max_rejections_per_hour
    if cap and replies_since(session, now - HOUR) >= cap:
        return {"why": "hourly_cap", **to, "limit": cap}
    return None


def _record_details(submission: m.Submission, facts: Facts) -> None:
    """What later stages need from the documents, stored with the submission."""
    reading = facts.statement
    if reading is not None and reading.text is not None:
        submission.word_count = reading.measured
        submission.length_unit = reading.unit
        submission.statement_language = reading.language
        submission.statement_title = reading.text.title
        submission.statement_pages = reading.text.pages
    letter = facts.letter
    if letter is not None:
        check = letter.check
        submission.letter_mission_name = check.mission_name
        submission.letter_signatory = check.signatory
        submission.letter_pages = letter.pages
        submission.letter_verified = (
            (check.addressed_to_president and check.signatory is not None)
            if check.verifiable
            else None
        )


def _unique_name(name: str, used: set[str]) -> str:
    unique, counter = name, 1
    while unique.lower() in used:
        counter += 1
        stem, dot, ext = name.rpartition(".")
        unique = f"{stem}-{counter}.{ext}" if dot else f"{name}-{counter}"
    used.add(unique.lower())
    return unique


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


def _documents(
    session: Session,
    submission_id: int,
    facts: Facts,
    digests: list[str],
    converted_digest: str | None,
) -> list[FiledFile]:
    """One row per attachment (declared and detected type), plus the converted statement."""
    roles: dict[int, m.DocumentRole] = {}
    for document in facts.documents.statements:
        roles[document.index] = m.DocumentRole.STATEMENT
    for document in facts.documents.cover_letters:
        roles[document.index] = m.DocumentRole.COVER_LETTER
    types = {d.index: d.file_type.value for d in facts.documents.all}
    used: set[str] = set()
    files: list[FiledFile] = []
    rows: dict[int, m.Document] = {}
    for index, (attachment, digest) in enumerate(
        zip(facts.message.attachments, digests, strict=True)
    ):
        role = roles.get(index, m.DocumentRole.OTHER)
        unique = _unique_name(safe_filename(attachment.filename, fallback=role.value), used)
        rows[index] = m.Document(
            submission_id=submission_id,
            role=role,
            filename=attachment.filename or unique,
            safe_name=unique,
            sha256=digest,
            size=attachment.size,
            declared_type=attachment.declared_type,
            detected_type=types.get(index, "other"),
        )
        session.add(rows[index])
        if role is not m.DocumentRole.OTHER:
            files.append(FiledFile(role.value, attachment.filename or unique))
    statement = facts.documents.statement
    conversion = facts.statement.conversion if facts.statement else None
    if statement is not None and conversion is not None and converted_digest is not None:
        session.flush()
        original = rows[statement.index]
        stem = original.safe_name.rpartition(".")[0] or original.safe_name
        session.add(
            m.Document(
                submission_id=submission_id,
                role=m.DocumentRole.CONVERTED_STATEMENT,
                filename=f"{stem}.docx",
                safe_name=_unique_name(f"{stem}.docx", used),
                sha256=converted_digest,
                size=len(conversion.content),
                declared_type=None,
                detected_type="docx",
                converted_from_id=original.id,
                conversion_tool=conversion.tool,
            )
        )
    files.sort(key=lambda f: 0 if f.role == "statement" else 1)
    return files


def _held_record(
    ctx: RunContext,
    session: Session,
    fetched: FetchedMessage,
    raw_sha256: str,
    parsed: ParsedMessage | None,
    reason: str,
    stage: m.Stage,
    error: str,
) -> m.MessageRecord:
    """The ledger entry of a message held because processing failed at `stage`, flushed
    (it has its id), with the crash counter cleared in the same transaction."""
    record = _record(ctx, fetched, raw_sha256, parsed, m.MessageOutcome.HELD, reason)
    record.failed_stage = stage
    record.error = error
    session.add(record)
    session.flush()
    assert record.id is not None
    attempts.clear(session, ctx.key(fetched.uid))
    return record


def _file_failure(
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

    No automatic reply: when understanding failed we cannot be sure a reply is safe
    (it may be a bounce or a forgery); the desk answers when it decides.
    """
    try:
        with session_scope(ctx.engine) as session:
            record = _held_record(ctx, session, fetched, raw_sha256, parsed, reason, stage, error)
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
