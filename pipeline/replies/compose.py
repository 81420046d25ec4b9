"""Which reply a decision calls for, to whom, and its text.

Every time in a reply states its zone: delegations write from capitals in every time
zone, and the deadline is a New York date and time.

Where a reply goes is decided here, conservatively, because every reply is mail we send
to an address someone else chose: never to ourselves (a loop), never when the sender
could not be authenticated (backscatter to whoever owns a forged From), and to Reply-To
only when it stays within the sender's own domain and does not look like a list (a
Reply-To is unauthenticated, and a list would spread one delegation's rejection to all
its members). Subjects are made one clean line here too, whatever a template quotes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import getaddresses
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.checks.authentication import NO_REPLY_REASONS
from pipeline.decision.decide import DecisionResult
from pipeline.message.facts import Facts
from pipeline.message.parse import ParsedMessage, clean_header_text
from pipeline.replies.templates import RenderedReply, ReplyTemplates, format_date, format_local
from pipeline.settings.models import Action, Settings
from pipeline.storage.models import MessageOutcome, ReplyKind

_ROLE_LABELS = {"statement": "Statement", "cover_letter": "Cover letter", "other": "Other file"}
DEFAULT_ZONE = ZoneInfo("America/New_York")

# A reply's Subject stays far below the 998-character line limit; email folds it to 78.
SUBJECT_LIMIT = 400
# The original subject quoted in a body: enough to recognise the message.
QUOTED_SUBJECT_LIMIT = 200

# Local parts and hosts that belong to list software or to nobody.
_LIST_LOCALPARTS = {"listserv", "majordomo", "mailman", "sympa", "lists"}
_LIST_SUFFIXES = ("-request", "-owner", "-bounces", "-l")
_NOBODY_LOCALPARTS = {"noreply", "no-reply", "donotreply", "do-not-reply", "nobody"}


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
    """The reply for a filed message, or None when the decision calls for none or no
    address is safe to write to."""
    if decision.outcome is MessageOutcome.IGNORED or withheld_by(decision.codes) is not None:
        return None
    to_address = reply_target(facts.message, facts.own_addresses)
    if not to_address:
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

    quoted_subject = _shorten(facts.message.subject, QUOTED_SUBJECT_LIMIT) or "(no subject)"
    context: dict[str, Any] = {
        "reference": reference,
        "meeting": meeting,
        "meeting_date": format_date(meeting.date) if meeting else "",
        "deadline": format_local(meeting.deadline, zone) if meeting else "",
        "mission_name": facts.mission.name if facts.mission else (facts.message.sender or ""),
        "received_at": format_local(facts.received_at, zone),
        "original_subject": quoted_subject,
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
    rendered = templates.render(template, context)
    subject = _shorten(rendered.subject, SUBJECT_LIMIT)
    return ComposedReply(
        kind=kind, to_address=to_address, rendered=RenderedReply(subject, rendered.body)
    )


def withheld_by(codes: Iterable[str]) -> str | None:
    """The reason code that forbids any automatic reply to this message, if there is one.

    The worker records it in the audit log; the desk may still answer by hand.
    """
    return next((code for code in codes if code in NO_REPLY_REASONS), None)


def reply_target(message: ParsedMessage, own_addresses: frozenset[str]) -> str | None:
    """Where an automatic reply to this message may go, or None when nowhere is safe.

    From, unless a single Reply-To names another mailbox of the same domain (or a
    subdomain, or a parent domain) that is neither a list nor a no-reply address. Never
    one of our own addresses, with or without a "+tag".
    """
    sender = message.sender
    if not sender or "@" not in sender:
        return None
    reply_to = message.reply_to
    usable = (
        reply_to is not None
        and _single_address(message.header("reply-to"))
        and _same_family(_domain(reply_to), _domain(sender))
        and not _list_like(reply_to)
    )
    target = reply_to if usable and reply_to else sender
    own = {_canonical(address) for address in own_addresses if "@" in address}
    if _canonical(target) in own or _canonical(sender) in own:
        return None
    return target


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[1].strip(".").lower()


def _canonical(address: str) -> str:
    """`Submissions+PKO-SAFETY@Intake.Example` -> `submissions@intake.example`."""
    local, _, domain = address.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain.strip('.')}"


def _same_family(one: str, other: str) -> bool:
    return one == other or one.endswith("." + other) or other.endswith("." + one)


def _list_like(address: str) -> bool:
    local, _, domain = address.lower().rpartition("@")
    local = local.split("+", 1)[0]
    return (
        local in _LIST_LOCALPARTS
        or local in _NOBODY_LOCALPARTS
        or local.startswith("owner-")
        or local.endswith(_LIST_SUFFIXES)
        or domain.startswith(("lists.", "list."))
    )


def _single_address(values: tuple[str, ...]) -> bool:
    """A Reply-To naming several addresses asks for a group reply: not for us."""
    return len([a for _, a in getaddresses(list(values)) if "@" in a]) == 1


def _shorten(text: str, limit: int) -> str:
    """One printable line of at most `limit` characters, cut at a word when possible."""
    line = clean_header_text(text)
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip() + "…"


def _named_meeting(facts: Facts) -> Any:
    # A closed meeting named in the subject still gives the rejection its context.
    return facts.routing.named[0] if facts.routing.named else None
