"""Which reply a decision calls for, and its text.

Every time in a reply states its zone: delegations write from capitals in every time
zone, and the deadline is a New York date and time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.decision.decide import DecisionResult
from pipeline.message.facts import Facts
from pipeline.replies.templates import RenderedReply, ReplyTemplates, format_date, format_local
from pipeline.settings.models import Action, Settings
from pipeline.storage.models import MessageOutcome, ReplyKind

_ROLE_LABELS = {"statement": "Statement", "cover_letter": "Cover letter", "other": "Other file"}
DEFAULT_ZONE = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class FiledFile:
    role: str
    name: str


@dataclass(frozen=True)
class ComposedReply:
    kind: ReplyKind
    to_address: str
    rendered: RenderedReply


def _reason_params(params: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    enriched = dict(params)
    for key in ("received_at", "deadline"):
        value = params.get(key)
        if isinstance(value, str):
            enriched[f"{key}_local"] = format_local(datetime.fromisoformat(value), zone)
    return enriched


def compose_reply(
    *,
    templates: ReplyTemplates,
    settings: Settings,
    facts: Facts,
    decision: DecisionResult,
    reference: str,
    files: list[FiledFile],
    supersedes: str | None,
) -> ComposedReply | None:
    """The reply for a filed message, or None when the decision calls for none."""
    to_address = facts.message.reply_address
    if decision.outcome is MessageOutcome.IGNORED or not to_address:
        return None
    if decision.outcome is MessageOutcome.HELD and not settings.replies.notify_held:
        return None
    meeting = facts.meeting or _named_meeting(facts)
    zone = meeting.zone if meeting is not None else DEFAULT_ZONE

    def text(action: Action) -> list[str]:
        return [
            templates.reason_text(r.code, _reason_params(dict(r.params), zone))
            for r in decision.with_action(action)
            if templates.has_reason(r.code)
        ]

    context: dict[str, Any] = {
        "reference": reference,
        "meeting": meeting,
        "meeting_date": format_date(meeting.date) if meeting else "",
        "deadline": format_local(meeting.deadline, zone) if meeting else "",
        "mission_name": facts.mission.name if facts.mission else (facts.message.sender or ""),
        "received_at": format_local(facts.received_at, zone),
        "original_subject": facts.message.subject or "(no subject)",
        "files": [{"role": _ROLE_LABELS.get(f.role, f.role), "name": f.name} for f in files],
        "supersedes": supersedes,
        "notes": text(Action.NOTE),
        "late": "late" in decision.codes,
        "contacts": settings.contacts,
    }
    if decision.outcome is MessageOutcome.ACCEPTED:
        kind, template = ReplyKind.ACKNOWLEDGEMENT, "acknowledgement"
    elif decision.outcome is MessageOutcome.REJECTED:
        kind, template = ReplyKind.REJECTION, "rejection"
        context["problems"] = text(Action.REJECT)
    else:
        kind, template = ReplyKind.HELD, "held"
        context["problems"] = text(Action.HOLD) + text(Action.REJECT)
    return ComposedReply(
        kind=kind, to_address=to_address, rendered=templates.render(template, context)
    )


def _named_meeting(facts: Facts) -> Any:
    # A closed meeting named in the subject still gives the rejection its context.
    return facts.routing.named[0] if facts.routing.named else None
