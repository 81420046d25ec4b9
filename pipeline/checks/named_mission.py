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


def _name(code: str | None) -> str | None:
    """A mission's English name as it stands in a sentence ("the Russian Federation")."""
    info = find_mission(code) if code is not None else None
    return info.name_with_article if info is not None else code


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
        # Each `<name>_code` lets a reply name the mission in its own language
        # ("Allemagne", "Alemania"): `replies.compose`.
        return Verdict.fail(
            "documents_other_mission",
            letter=_name(letter),
            statement=_name(statement),
            sender_mission=_name(mission.code) or mission.name,
            letter_code=letter,
            statement_code=statement,
            sender_mission_code=mission.code,
        )
