"""How often one address, and everyone together, may be told something.

A rejection is useful once. The second identical rejection within a day helps nobody and
is how a mail loop, a misconfigured auto-forwarder or a flood of forged messages turns
Intake into a source of mail. Within `[replies] rejection_window_hours`:

- a sender registered for a mission gets at most one rejection per meeting and set of
  reasons: a delegation that fixes one problem and trips over another must hear about
  the second one, and the same problem in its statement for another meeting is another
  submission, not a repeat;
- and at most `max_rejections_per_address` rejections and "under review" notices
  (`LIMITED_KINDS`) in all, whatever they are about: anyone can forge a registered From
  while authentication is off, and each new combination of problems and meetings must
  not buy its owner one more mail;
- any other address gets at most one such reply, whatever it is about: anyone can write
  in the name of an unknown address, and each new problem must not buy its owner one
  more mail from Intake (and it is answered at all only when our receiving server
  vouched for its domain: `pipeline.worker.suppression`).

And in any hour, all addresses together get at most `max_rejections_per_hour` of them: a
flood from many addresses (a whole registered domain, say) stops there.

A suppressed reply changes nothing else: the message is still filed, rejected or held,
and moved, and the worker records the suppression in the audit log (`reply_suppressed`,
with why), so the desk can see why the sender heard nothing new.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from pipeline.decision.decide import JudgedReason
from pipeline.domain import Action
from pipeline.settings.models import RepliesSettings
from pipeline.storage.models import DecisionReason, Reply, ReplyKind, ReplyStatus, Submission

# The replies the limits count: what refuses or delays, never an acknowledgement.
LIMITED_KINDS = (ReplyKind.REJECTION, ReplyKind.HELD)
HOUR = timedelta(hours=1)


def rejection_window(settings: RepliesSettings) -> timedelta:
    """`rejection_window_hours` as a duration; zero means no limit."""
    return timedelta(hours=settings.rejection_window_hours)


def rejection_codes(reasons: Iterable[JudgedReason]) -> list[str]:
    """The codes a rejection is about: those the decision table rejects for (not notes)."""
    return sorted({reason.code for reason in reasons if reason.action is Action.REJECT})


def rejection_allowed(
    session: Session,
    *,
    to_address: str,
    registered: bool,
    meeting_id: int | None,
    reasons: Sequence[str],
    now: datetime,
    window: timedelta,
) -> bool:
    """False when an earlier rejection to this address within the window makes this one
    a repeat.

    For a `registered` sender, a repeat is a rejection about the same meeting
    (`meeting_id`; a rejection about no meeting, such as `meeting_closed`, has None, a
    key of its own) for exactly these reasons. For any other sender, every rejection or
    "under review" notice to the address is a repeat, whatever its meeting and reasons.

    Counted: rejections queued, being sent or sent, by Intake or by the desk. Not
    counted: rejections that failed for good or were cancelled (the sender never read
    them) and, since
    they leave no Reply row, suppressed ones, so the window runs from the last rejection
    actually sent, not from the last bad message. An earlier rejection's meeting is its
    submission's (`Reply.submission_id` -> `Submission.meeting_id`); its reasons are its
    decision's reasons with the action `reject` (`DecisionReason` via
    `Reply.decision_id`).

    Two workers filing two bad messages from one sender at the same moment may both see
    no earlier rejection and both answer: the limit is for floods, not for exact counts.
    """
    if window <= timedelta(0):
        return True
    to_this_address = (
        sa.func.lower(col(Reply.to_address)) == to_address.strip().lower(),
        col(Reply.status).not_in([ReplyStatus.FAILED, ReplyStatus.CANCELLED]),
        col(Reply.created_at) >= now - window,
    )
    if not registered:
        any_reply = select(Reply.id).where(col(Reply.kind).in_(LIMITED_KINDS), *to_this_address)
        return session.exec(any_reply.limit(1)).first() is None
    earlier_rejections = (col(Reply.kind) == ReplyKind.REJECTION, *to_this_address)
    same_meeting = (
        col(Submission.meeting_id).is_(None)
        if meeting_id is None
        else col(Submission.meeting_id) == meeting_id
    )
    on = sa.and_(
        col(DecisionReason.decision_id) == col(Reply.decision_id),
        col(DecisionReason.action) == Action.REJECT,
    )
    rows = session.exec(
        select(Reply.id, DecisionReason.code)
        .outerjoin(Submission, col(Submission.id) == col(Reply.submission_id))
        .outerjoin(DecisionReason, on)
        .where(*earlier_rejections, same_meeting)
    )
    wanted = frozenset(reasons)
    earlier: dict[int | None, set[str]] = {}
    for reply_id, code in rows:
        codes = earlier.setdefault(reply_id, set())
        if code is not None:
            codes.add(code)
    return all(frozenset(codes) != wanted for codes in earlier.values())


def _counted(since: datetime) -> tuple[sa.ColumnElement[bool], ...]:
    """Replies that count against a limit: rejections and "under review" notices, by
    Intake or the desk, created since then and not failed for good or cancelled (never
    read)."""
    return (
        col(Reply.kind).in_(LIMITED_KINDS),
        col(Reply.status).not_in([ReplyStatus.FAILED, ReplyStatus.CANCELLED]),
        col(Reply.created_at) >= since,
    )


def replies_to(session: Session, to_address: str, *, since: datetime) -> int:
    """How many rejections and notices went (or are going) to this address since then."""
    address = sa.func.lower(col(Reply.to_address)) == to_address.strip().lower()
    query = select(sa.func.count()).select_from(Reply).where(address, *_counted(since))
    return int(session.exec(query).one())


def replies_since(session: Session, since: datetime) -> int:
    """How many rejections and notices went (or are going) to anyone since then."""
    query = select(sa.func.count()).select_from(Reply).where(*_counted(since))
    return int(session.exec(query).one())
