"""Do the documents speak for the mission that sent them?

The sender checks prove that an address belongs to a registered mission; they say
nothing of whom the files speak for. France's address sending Germany's cover letter,
or Germany's address sending France's statement and letter, is a mistake (a wrong file
attached, a colleague's draft) or a mission sending for another: either way the desk
decides, and the delegation is told which document names which mission.

A document that names no mission, or cannot be read (a scan, a statement without a
title), is no mismatch: the desk sees "mission not named" on the submission. A document
that names the sender's mission beside others (the presidency in an addressee block, a
group "on behalf of" which the sender speaks) names the sender.
"""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import Verdict
from pipeline.checks.facts import Facts
from pipeline.missions.registry import find_mission


def _other(named: tuple[str, ...], sender: str) -> str | None:
    """The first mission a document names, when it never names the sender's."""
    if not named or sender in named:
        return None
    return named[0]


def _names(code: str | None) -> dict[str, str | None]:
    """A mission's name in each reply language (English as the desk sees it)."""
    info = find_mission(code) if code is not None else None
    if info is None:
        return {"en": code, "fr": code, "es": code}
    return {
        "en": info.name_with_article,
        "fr": info.names.get("fr", info.name),
        "es": info.names.get("es", info.name),
    }


class DocumentsMission:
    name: ClassVar[str] = "documents_mission"
    description: ClassVar[str] = (
        "the statement and the cover letter name the sender's mission, not another one"
    )
    reasons: ClassVar[tuple[str, ...]] = ("documents_other_mission",)

    def check(self, facts: Facts) -> Verdict:
        mission = facts.mission
        if not facts.documents_opened or mission is None:
            return Verdict.ok()
        letter = _other(facts.letter_missions, mission.code)
        statement = _other(facts.statement_missions, mission.code)
        if letter is None and statement is None:
            return Verdict.ok()
        letter_names, statement_names = _names(letter), _names(statement)
        sender_names = _names(mission.code)
        sender = sender_names["en"] or mission.name
        return Verdict.fail(
            "documents_other_mission",
            letter=letter_names["en"] if letter else None,
            statement=statement_names["en"] if statement else None,
            sender_mission=sender,
            letter_code=letter,
            statement_code=statement,
            sender_code=mission.code,
            translated={
                language: {
                    "letter": letter_names[language] if letter else None,
                    "statement": statement_names[language] if statement else None,
                    "sender_mission": sender_names[language] or mission.name,
                }
                for language in ("fr", "es")
            },
        )
