"""How often one address may be told the same thing.

A rejection is useful once. The second identical rejection within a day helps nobody and
is how a mail loop, a misconfigured auto-forwarder or a flood of forged messages turns
Intake into a source of mail: at most one rejection per address and set of reasons is
sent within `[replies] rejection_window_hours`. A suppressed rejection changes nothing
else: the message is still filed, rejected, and moved, and the worker records the
suppression in the audit log, so the desk can see why the sender heard nothing new.

A different set of reasons is a different problem and is always answered: a delegation
that fixes one problem and trips over another must hear about the second one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from pipeline.decision.decide import JudgedReason
from pipeline.settings.models import Action, RepliesSettings
from pipeline.storage.models import DecisionReason, Reply, ReplyKind, ReplyStatus


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
    reasons: Sequence[str],
    now: datetime,
    window: timedelta,
) -> bool:
    """False when a rejection for exactly these reasons went to this address within the
    window.

    Counted: rejections queued, being sent or sent, by Intake or by the desk. Not
    counted: rejections that failed for good (the sender never read them) and, since
    they leave no Reply row, suppressed ones, so the window runs from the last rejection
    actually sent, not from the last bad message. The reasons of an earlier rejection are
    its decision's reasons with the action `reject` (`DecisionReason` via
    `Reply.decision_id`).

    Two workers filing two bad messages from one sender at the same moment may both see
    no earlier rejection and both answer: the limit is for floods, not for exact counts.
    """
    if window <= timedelta(0):
        return True
    wanted = frozenset(reasons)
    on = sa.and_(
        col(DecisionReason.decision_id) == col(Reply.decision_id),
        col(DecisionReason.action) == Action.REJECT,
    )
    rows = session.exec(
        select(Reply.id, DecisionReason.code)
        .outerjoin(DecisionReason, on)
        .where(col(Reply.kind) == ReplyKind.REJECTION)
        .where(sa.func.lower(col(Reply.to_address)) == to_address.strip().lower())
        .where(col(Reply.status) != ReplyStatus.FAILED)
        .where(col(Reply.created_at) >= now - window)
    )
    earlier: dict[int | None, set[str]] = {}
    for reply_id, code in rows:
        codes = earlier.setdefault(reply_id, set())
        if code is not None:
            codes.add(code)
    return all(frozenset(codes) != wanted for codes in earlier.values())
