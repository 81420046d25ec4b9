"""Which reply a decision calls for, to whom, and its text.

Every time in a reply states its zone: delegations write from capitals in every time
zone, and the deadline is a New York date and time.

Where a reply goes is decided here, conservatively, because every reply is mail we send
to an address someone else chose: never to ourselves (a loop), never when the sender
could not be authenticated (backscatter to whoever owns a forged From), never to an
address with characters SMTP cannot carry as we send it (controls, non-ASCII: see
`unusable_address`), and to Reply-To only for a registered sender, when it stays within
the sender's own domain and does not look like a list (a Reply-To is unauthenticated,
and a list would spread one delegation's rejection to all its members). Subjects are
made one clean line here too, whatever a template quotes.

Nothing the sender wrote is quoted to an address no mission registered: not the
subject, not a file name, not a detail read from a file (`quote` is False for the
templates, and those values are replaced by `NOT_QUOTED`). Whoever forged the From
would otherwise choose the text Intake mails to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import getaddresses
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.checks.authentication import NO_REPLY_REASONS
from pipeline.checks.facts import Facts
from pipeline.decision.decide import DecisionResult
from pipeline.domain import Action
from pipeline.message.decoding import clean_header_text
from pipeline.message.parsed import ParsedMessage
from pipeline.replies.dates import format_date, format_local
from pipeline.replies.templates import RenderedReply, ReplyTexts
from pipeline.settings.models import Settings
from pipeline.storage.models import MessageOutcome, ReplyKind

# How a reply names each file's role, by language (English for a language not listed).
_ROLE_LABELS = {
    "en": {"statement": "Statement", "cover_letter": "Cover letter", "other": "Other file"},
    "fr": {
        "statement": "Déclaration",
        "cover_letter": "Lettre d'accompagnement",
        "other": "Autre fichier",
    },
    "es": {
        "statement": "Declaración",
        "cover_letter": "Carta de presentación",
        "other": "Otro archivo",
    },
}
DEFAULT_ZONE = ZoneInfo("America/New_York")

# A reply's Subject stays far below the 998-character line limit; email folds it to 78.
SUBJECT_LIMIT = 400
# The original subject quoted in a body: enough to recognise the message.
QUOTED_SUBJECT_LIMIT = 200
# What a text shows instead of the sender's own words (subject, file names, details)
# when the reply goes to an unregistered address; the shipped texts leave them out
# (`quote` is False), this only reaches texts written before the flag existed.
NOT_QUOTED = "(not quoted)"
# Reason parameters that carry what the sender wrote: file names, and details read from
# the files (a parser's message may quote a part's name).
SENDER_WRITTEN = frozenset({"filename", "filenames", "detail"})

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


def role_label(role: str, language: str) -> str:
    """'cover_letter' -> 'Cover letter', 'Lettre d'accompagnement', 'Carta de presentación'."""
    return _ROLE_LABELS.get(language, _ROLE_LABELS["en"]).get(role, role)


def _reason_params(
    params: dict[str, Any], zone: ZoneInfo, *, quote: bool, language: str = "en"
) -> dict[str, Any]:
    enriched = dict(params)
    for key in ("received_at", "deadline"):
        value = params.get(key)
        if isinstance(value, str):
            moment = datetime.fromisoformat(value)
            enriched[f"{key}_local"] = format_local(moment, zone, language)
    if not quote:
        for key in SENDER_WRITTEN & enriched.keys():
            enriched[key] = [NOT_QUOTED] if isinstance(enriched[key], list) else NOT_QUOTED
    enriched["quote"] = quote
    return enriched


def compose_reply(
    *,
    templates: ReplyTexts,
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
    registered = facts.mission is not None
    to_address = reply_target(facts.message, facts.own_addresses, follow_reply_to=registered)
    if not to_address:
        return None
    if decision.outcome is MessageOutcome.HELD and not settings.replies.notify_held:
        return None
    meeting = facts.meeting or _named_meeting(facts)
    zone = meeting.zone if meeting is not None else DEFAULT_ZONE
    language = templates.language_for(
        statement_language=facts.statement.language if facts.statement is not None else None,
        mission_code=facts.mission.code if facts.mission is not None else None,
    )
    texts = templates.in_language(language)

    def text(action: Action) -> list[str]:
        return [
            texts.reason_text(
                r.code,
                _reason_params(dict(r.params), zone, quote=registered, language=language),
            )
            for r in decision.with_action(action)
            if texts.has_reason(r.code)
        ]

    quoted_subject = _shorten(facts.message.subject, QUOTED_SUBJECT_LIMIT) or "(no subject)"
    context: dict[str, Any] = {
        # False for an unregistered address: no subject, file name or detail is quoted.
        "quote": registered,
        "reference": reference,
        "meeting": meeting,
        "meeting_date": format_date(meeting.date, language) if meeting else "",
        "deadline": format_local(meeting.deadline, zone, language) if meeting else "",
        "mission_name": facts.mission.name if facts.mission else (facts.message.sender or ""),
        "received_at": format_local(facts.received_at, zone, language),
        "original_subject": quoted_subject if registered else NOT_QUOTED,
        "files": [
            {"role": role_label(f.role, language), "name": f.name if registered else NOT_QUOTED}
            for f in files
        ],
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
    rendered = texts.render(template, context)
    subject = _shorten(rendered.subject, SUBJECT_LIMIT)
    return ComposedReply(
        kind=kind, to_address=to_address, rendered=RenderedReply(subject, rendered.body)
    )


def withheld_by(codes: Iterable[str]) -> str | None:
    """The reason code that forbids any automatic reply to this message, if there is one.

    The worker records it in the audit log; the desk may still answer by hand.
    """
    return next((code for code in codes if code in NO_REPLY_REASONS), None)


def reply_target(
    message: ParsedMessage, own_addresses: frozenset[str], *, follow_reply_to: bool = True
) -> str | None:
    """Where an automatic reply to this message may go, or None when nowhere is safe.

    From, unless a single Reply-To names another mailbox of the same domain (or a
    subdomain, or a parent domain) that is neither a list nor a no-reply address (and
    `follow_reply_to`: not for an unregistered sender, whose From alone was
    authenticated). Never one of our own addresses, with or without a "+tag"; never an
    address `unusable_address` refuses.
    """
    sender = message.sender
    if not sender or "@" not in sender or unusable_address(sender) is not None:
        return None
    reply_to = message.reply_to
    usable = (
        follow_reply_to
        and reply_to is not None
        and unusable_address(reply_to) is None
        and _single_address(message.header("reply-to"))
        and _same_family(_domain(reply_to), _domain(sender))
        and not _list_like(reply_to)
    )
    target = reply_to if usable and reply_to else sender
    own = {_canonical(address) for address in own_addresses if "@" in address}
    if _canonical(target) in own or _canonical(sender) in own:
        return None
    return target


def unusable_address(address: str) -> str | None:
    """Why no mail may be sent to this address, or None when it is fine.

    Printable ASCII only, without spaces: a control character (ESC sequences in a quoted
    local part) must reach neither the SMTP conversation nor a terminal, and a non-ASCII
    address needs SMTPUTF8 end to end, which Intake does not ask for: such a sender is
    filed and the desk told, rather than a reply failing or being mangled on the way.
    """
    if any(not ch.isprintable() for ch in address):
        return "the address has control or formatting characters"
    if not address.isascii():
        return "the address is not ASCII (it would need SMTPUTF8)"
    if any(ch.isspace() for ch in address) or "@" not in address:
        return "not a mail address"
    return None


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
