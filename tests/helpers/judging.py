"""One message judged in-process, the way a run judges it, with no mailbox and no
database: bytes → `ParsedMessage` → `Facts` → verdicts → decision → the reply it calls
for (or none). The configuration is the shipped example's (`config/intake.example.toml`),
with the changes a test names; the directory of missions and meetings is built from it,
as a run's snapshot would be after syncing it.
"""

from __future__ import annotations

import copy
import hashlib
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.checks.base import Check
from pipeline.checks.facts import Facts, gather_facts
from pipeline.checks.registry import checks_for
from pipeline.configuration import parse_settings
from pipeline.decision.decide import DecisionResult, decide, run_checks
from pipeline.demo import samples
from pipeline.message.parse import parse_message
from pipeline.missions.registry import find_mission
from pipeline.replies.compose import ComposedReply, compose_reply
from pipeline.replies.templates import ReplyTexts, load_templates
from pipeline.settings import Settings
from pipeline.storage.directory import Directory, MeetingRef, MissionRef

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "intake.example.toml"
NEW_YORK = ZoneInfo("America/New_York")
# The example's submissions mailbox, which is also the From of every reply.
SUBMISSIONS = "submissions@example.org"
# The example's one meeting: PKO-SAFETY on 24 May 2021, deadline the end of that day.
ON_TIME = datetime(2021, 5, 20, 10, 0, tzinfo=NEW_YORK)
REFERENCE = "PKO-SAFETY-0001"

# The checks a run lets decide, from the header and the directory alone, whether a
# message's files are opened (the worker's screen): a stranger's files stay closed.
SENDER_CHECKS = frozenset(
    {"automatic_traffic", "own_address", "duplicate", "sender_authentication", "known_sender"}
)


def example_settings(**changes: Any) -> Settings:
    """The shipped example configuration, with `changes` merged in (tables by key, any
    other value, such as the list of meetings, replaced)."""
    return parse_settings(_merged(copy.deepcopy(_example()), changes), environ={})


@cache
def _example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))


def _merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        old = merged.get(key)
        merged[key] = (
            _merged(old, value) if isinstance(value, dict) and isinstance(old, dict) else value
        )
    return merged


def directory_of(settings: Settings) -> Directory:
    """The run's snapshot of who speaks for which mission and which meetings exist."""
    by_address: dict[str, MissionRef] = {}
    by_domain: dict[str, MissionRef] = {}
    for number, (code, mission) in enumerate(sorted(settings.missions.items()), start=1):
        info = find_mission(code)
        assert info is not None, code
        ref = MissionRef(id=number, code=info.code, name=info.name, kind=info.kind)
        for address in mission.senders:
            (by_domain if address.startswith("@") else by_address)[address] = ref
    meetings = tuple(
        MeetingRef(
            id=number,
            code=meeting.code,
            title=meeting.title,
            date=meeting.date,
            timezone=meeting.timezone,
            deadline=meeting.deadline_at(),
            word_limit=meeting.word_limit,
            status=meeting.status,
            length_policy=meeting.length_policy,
        )
        for number, meeting in enumerate(sorted(settings.meetings, key=lambda m: m.code), 1)
    )
    return Directory(by_address=by_address, by_domain=by_domain, meetings=meetings)


def own_addresses(settings: Settings) -> frozenset[str]:
    """Our own addresses: the replies' sender and the submissions mailbox."""
    return frozenset({settings.smtp.sender, settings.mailbox.username.lower()})


@cache
def _templates(language: str) -> ReplyTexts:
    return load_templates(example_settings(replies={"language": language}))


def templates_of(settings: Settings) -> ReplyTexts:
    """The shipped reply texts (read once per default language) with the missions'
    configured languages of `settings`."""
    return replace(
        _templates(settings.replies.language),
        mission_languages={
            code: mission.language
            for code, mission in settings.missions.items()
            if mission.language is not None
        },
    )


def _screen(checks: Sequence[Check], settings: Settings) -> Callable[[Facts], bool]:
    sender_checks = [check for check in checks if check.name in SENDER_CHECKS]

    def worth_opening(facts: Facts) -> bool:
        reasons = run_checks(sender_checks, facts)
        return decide(reasons, settings.decision).outcome.value == "accepted"

    return worth_opening


@dataclass(frozen=True)
class Judged:
    """What became of one message: its facts, the decision, and the reply composed."""

    facts: Facts
    decision: DecisionResult
    reply: ComposedReply | None

    @property
    def outcome(self) -> str:
        return self.decision.outcome.value

    @property
    def codes(self) -> list[str]:
        return self.decision.codes

    @property
    def actions(self) -> dict[str, str]:
        return {reason.code: reason.action.value for reason in self.decision.reasons}

    @property
    def reply_kind(self) -> str | None:
        return self.reply.kind.value if self.reply is not None else None

    @property
    def reply_to(self) -> str | None:
        return self.reply.to_address if self.reply is not None else None

    @property
    def reply_text(self) -> str:
        """The reply's subject and body, line breaks folded, for looking for phrases."""
        assert self.reply is not None, "no reply was composed"
        rendered = self.reply.rendered
        return " ".join(f"{rendered.subject}\n{rendered.body}".split())


def judge(
    raw: bytes,
    *,
    received_at: datetime = ON_TIME,
    settings: Settings | None = None,
    duplicate_of: int | None = None,
) -> Judged:
    """Judge `raw` as received by our mail server at `received_at`."""
    settings = settings or example_settings()
    message = parse_message(raw, limits=settings.limits)
    checks = checks_for(settings.checks, settings)
    facts = gather_facts(
        message,
        received_at=received_at,
        raw_sha256=hashlib.sha256(raw).hexdigest(),
        directory=directory_of(settings),
        own_addresses=own_addresses(settings),
        settings=settings.documents,
        duplicate_of=duplicate_of,
        screen=_screen(checks, settings),
    )
    decision = decide(run_checks(checks, facts), settings.decision)
    reply = compose_reply(
        templates=templates_of(settings),
        settings=settings,
        facts=facts,
        decision=decision,
        reference=REFERENCE,
        files=[],
        supersedes=None,
    )
    return Judged(facts=facts, decision=decision, reply=reply)


def submission(
    mission: str = "France", sender: str = "france@un.int", to: str = SUBMISSIONS, **options: Any
) -> bytes:
    """A delegation's typical submission to the example's mailbox: a statement (.docx)
    and a cover letter (PDF), with `options` as `samples.submission_email` takes them
    (built once per set of options: a real .docx and PDF take a few dozen ms)."""
    frozen = tuple(
        sorted((k, tuple(v.items()) if isinstance(v, dict) else v) for k, v in options.items())
    )
    return _built(mission, sender, to, frozen)


@cache
def _built(mission: str, sender: str, to: str, options: tuple[tuple[str, Any], ...]) -> bytes:
    thawed: dict[str, Any] = {k: dict(v) if k == "extra_headers" else v for k, v in options}
    return samples.submission_email(mission_name=mission, sender=sender, to=to, **thawed)
