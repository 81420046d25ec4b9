"""Is the sender allowed to speak for a registered mission?"""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import Verdict
from pipeline.checks.facts import Facts


class KnownSender:
    name: ClassVar[str] = "known_sender"
    description: ClassVar[str] = "the From address belongs to a registered mission"
    reasons: ClassVar[tuple[str, ...]] = ("unknown_sender",)

    def check(self, facts: Facts) -> Verdict:
        if facts.mission is None:
            message = facts.message
            # An address refused for its characters is shown as it was, made visible.
            shown = message.sender or message.refused_sender or "(none)"
            return Verdict.fail("unknown_sender", sender=shown)
        return Verdict.ok()
