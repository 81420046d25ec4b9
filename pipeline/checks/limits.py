"""Mail too complex to read in full: too many MIME parts, too deep, headers too large.

`pipeline.message.parse` reads a message only up to `[limits]` (so a hostile message
cannot make the parser do unbounded work) and records what was exceeded. Such a message
was not read in full, so it cannot be judged as sent: this check refuses it, and the
reply tells the delegation what to send instead. The other checks still run on the part
that was read, so the reply lists every other problem too.
"""

from __future__ import annotations

from typing import ClassVar

from pipeline.checks.base import Verdict
from pipeline.checks.facts import Facts


def _phrase(items: tuple[str, ...]) -> str:
    """("a", "b", "c") -> "a, b and c": one phrase for the reply text."""
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


class MessageLimits:
    name: ClassVar[str] = "message_limits"
    description: ClassVar[str] = (
        "a message over the [limits] for MIME parts, nesting or header size is refused"
    )
    reasons: ClassVar[tuple[str, ...]] = ("message_too_complex",)

    def check(self, facts: Facts) -> Verdict:
        exceeded = facts.message.limits_exceeded
        if exceeded:
            return Verdict.fail("message_too_complex", exceeded=_phrase(exceeded))
        return Verdict.ok()
