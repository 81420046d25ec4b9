"""The interface every check follows: a small named unit that returns a verdict.

A verdict either passes or carries reasons, each a stable code (used in the decision
table, the reply templates and the desk's filters) with parameters for the reply text.
All checks run on every message; the decision step then reads every reason at once, so
one reply can list every problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pipeline.checks.facts import Facts


@dataclass(frozen=True)
class Reason:
    code: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    reasons: tuple[Reason, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.reasons

    @classmethod
    def ok(cls) -> Verdict:
        return cls()

    @classmethod
    def fail(cls, code: str, **params: Any) -> Verdict:
        return cls((Reason(code, params),))


class Check(Protocol):
    name: ClassVar[str]
    description: ClassVar[str]
    reasons: ClassVar[tuple[str, ...]]

    def check(self, facts: Facts) -> Verdict: ...
