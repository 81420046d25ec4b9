"""From reasons to one outcome, by the decision table in the configuration.

Every check runs; every reason is collected with the action the table gives it. The
strongest action wins: ignore (never answer) over hold (a human decides) over reject
(the delegation can fix it) over accept. Notes never block.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.checks.base import Check, Reason
from pipeline.checks.facts import Facts
from pipeline.domain import Action
from pipeline.storage.models import MessageOutcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JudgedReason:
    code: str
    action: Action
    params: Mapping[str, Any]


@dataclass(frozen=True)
class DecisionResult:
    outcome: MessageOutcome
    reasons: tuple[JudgedReason, ...]

    def with_action(self, action: Action) -> tuple[JudgedReason, ...]:
        return tuple(r for r in self.reasons if r.action is action)

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]

    @property
    def first_code(self) -> str | None:
        return self.reasons[0].code if self.reasons else None


_PRECEDENCE: Sequence[tuple[Action, MessageOutcome]] = (
    (Action.IGNORE, MessageOutcome.IGNORED),
    (Action.HOLD, MessageOutcome.HELD),
    (Action.REJECT, MessageOutcome.REJECTED),
)


def run_checks(checks: Sequence[Check], facts: Facts) -> list[Reason]:
    reasons: list[Reason] = []
    for check in checks:
        reasons.extend(check.check(facts).reasons)
    return reasons


def decide(reasons: Sequence[Reason], table: Mapping[str, Action]) -> DecisionResult:
    judged: list[JudgedReason] = []
    for reason in reasons:
        action = table.get(reason.code)
        if action is None:
            # The loader refuses a table without an action for every code; a code
            # added by a later check without a table entry is held, never accepted.
            log.error("no action configured for reason %s; holding", reason.code)
            action = Action.HOLD
        judged.append(JudgedReason(reason.code, action, dict(reason.params)))
    outcome = MessageOutcome.ACCEPTED
    for action, candidate in _PRECEDENCE:
        if any(r.action is action for r in judged):
            outcome = candidate
            break
    if outcome is MessageOutcome.IGNORED:
        # Nothing else matters for mail we will not answer; keep only why it was ignored.
        judged = [r for r in judged if r.action is Action.IGNORE]
    return DecisionResult(outcome=outcome, reasons=tuple(judged))
