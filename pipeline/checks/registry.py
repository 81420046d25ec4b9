"""All checks by name. The configuration chooses which run, in which order.

A duplicate name, or a reason code claimed by two checks, is an error at import time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pipeline.checks.authentication import SenderAuthentication
from pipeline.checks.base import Check
from pipeline.checks.documents import CoverLetter, Statement, WordLimit
from pipeline.checks.limits import MessageLimits
from pipeline.checks.meeting import Deadline, OpenMeeting
from pipeline.checks.sender import KnownSender
from pipeline.checks.traffic import AutomaticTraffic, Duplicate, OwnAddress
from pipeline.settings.models import Settings


def _index(checks: Sequence[Check]) -> dict[str, Check]:
    by_name: dict[str, Check] = {}
    owner: dict[str, str] = {}
    for check in checks:
        if check.name in by_name:
            raise RuntimeError(f"two checks are named {check.name!r}")
        by_name[check.name] = check
        for code in check.reasons:
            if code in owner:
                raise RuntimeError(f"reason {code!r} is claimed by {owner[code]} and {check.name}")
            owner[code] = check.name
    return by_name


ALL_CHECKS: Mapping[str, Check] = _index(
    [
        AutomaticTraffic(),
        OwnAddress(),
        Duplicate(),
        MessageLimits(),
        KnownSender(),
        SenderAuthentication(),
        OpenMeeting(),
        Deadline(),
        Statement(),
        CoverLetter(),
        WordLimit(),
    ]
)

# Codes that do not come from a check but from the worker itself.
WORKER_REASONS: tuple[str, ...] = ("internal_error", "quarantined", "message_too_large")

KNOWN_REASONS: frozenset[str] = frozenset(
    [code for check in ALL_CHECKS.values() for code in check.reasons] + list(WORKER_REASONS)
)


def checks_for(names: Sequence[str], settings: Settings | None = None) -> list[Check]:
    """The checks by name; with the settings, those that take configuration are built
    from them (the registry's own instances are unconfigured and check nothing)."""
    checks = [ALL_CHECKS[name] for name in names]
    if settings is None:
        return checks
    return [
        SenderAuthentication.from_settings(settings)
        if check.name == SenderAuthentication.name
        else check
        for check in checks
    ]
