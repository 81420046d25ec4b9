"""When a message whose outcome calls for a reply gets none: a sender that may be forged,
a From no mail can go to, an unauthenticated stranger, and the limits on rejections per
address, meeting and hour (`pipeline.replies.limits`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from pipeline.checks.authentication import assess
from pipeline.checks.facts import Facts
from pipeline.decision.decide import JudgedReason
from pipeline.printable import visible
from pipeline.replies.compose import ComposedReply, unusable_address, withheld_by
from pipeline.replies.limits import (
    HOUR,
    LIMITED_KINDS,
    rejection_allowed,
    rejection_codes,
    rejection_window,
    replies_since,
    replies_to,
)
from pipeline.storage import models as m
from pipeline.worker.context import RunContext


def suppressed(
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
