"""Runtime access to the mission registry: who may send statements, and their names.

The registry is the committed ``registry.json`` next to this module, produced by
``pipeline.missions.generate`` from pycountry and country_converter. Reading the JSON
here (rather than asking those packages at runtime) keeps them out of production
installs -- country_converter alone pulls in pandas -- and means the names the desk
sees only change through a reviewed diff of that file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib.resources import files
from types import MappingProxyType

__all__ = ["MissionInfo", "MissionKind", "find_mission", "load_registry"]

_RESOURCE = "registry.json"


class MissionKind(StrEnum):
    """Why a sender is entitled to submit: membership, observer status, or as the EU."""

    MEMBER_STATE = "member_state"
    OBSERVER_STATE = "observer_state"
    ORGANIZATION = "organization"


@dataclass(frozen=True, slots=True)
class MissionInfo:
    """One delegation.

    ``code`` is the ISO 3166-1 alpha-3 code ("EUU" for the European Union); ``name`` is
    the UN (UNTERM-style) English short name; ``names`` maps "en", "fr", "es", "ru",
    "zh", "ar" to a display name (English is ``name``; the others are ISO 3166
    translations, not UNTERM). ``names`` is a read-only mapping and is left out of the
    hash so instances stay hashable.

    ``article`` is true when UN English writes "the" before ``name`` ("the Holy See",
    "the Netherlands (Kingdom of the)"); ``name`` itself never carries it, so lists can
    be sorted on ``name`` ("the" ignored, as UN lists are) and displayed with
    ``name_with_article``.
    """

    code: str
    name: str
    kind: MissionKind
    names: Mapping[str, str] = field(hash=False)
    article: bool = False

    @property
    def name_with_article(self) -> str:
        """The English name as it stands in running text: "the Holy See", "Côte d'Ivoire"."""
        return f"the {self.name}" if self.article else self.name


def _expect_str(value: object, what: str) -> str:
    """``value`` if it is a non-empty string; the registry file is data, so check it."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"mission registry: {what} must be a non-empty string")
    return value


def _parse_mission(raw: object) -> MissionInfo:
    """One ``missions`` entry of ``registry.json`` as a ``MissionInfo``."""
    if not isinstance(raw, dict):
        raise ValueError("mission registry: each mission must be an object")
    code = _expect_str(raw.get("code"), "code")
    raw_names = raw.get("names")
    if not isinstance(raw_names, dict):
        raise ValueError(f"mission registry: {code}.names must be an object")
    names = {
        _expect_str(key, f"{code}.names key"): _expect_str(value, f"{code}.names[{key!r}]")
        for key, value in raw_names.items()
    }
    # Absent in registries written before the article existed: no article.
    article = raw.get("article", False)
    if not isinstance(article, bool):
        raise ValueError(f"mission registry: {code}.article must be true or false")
    return MissionInfo(
        code=code,
        name=_expect_str(raw.get("name"), f"{code}.name"),
        kind=MissionKind(_expect_str(raw.get("kind"), f"{code}.kind")),
        names=MappingProxyType(names),
        article=article,
    )


@cache
def load_registry() -> Mapping[str, MissionInfo]:
    """All missions keyed by upper-case code, read once from the package data.

    Raises ``ValueError`` if the file is malformed or lists a code twice: a broken
    registry should stop the service at start-up, not misroute statements later.
    """
    text = files(__package__ or "pipeline.missions").joinpath(_RESOURCE).read_text(encoding="utf-8")
    document = json.loads(text)
    missions = document.get("missions") if isinstance(document, dict) else None
    if not isinstance(missions, list):
        raise ValueError("mission registry: top-level 'missions' list is missing")
    registry: dict[str, MissionInfo] = {}
    for raw in missions:
        mission = _parse_mission(raw)
        if mission.code in registry:
            raise ValueError(f"mission registry: duplicate code {mission.code}")
        registry[mission.code] = mission
    return MappingProxyType(registry)


def find_mission(code: str) -> MissionInfo | None:
    """The mission with this code, ignoring case and surrounding spaces; else ``None``."""
    return load_registry().get(code.strip().upper())
