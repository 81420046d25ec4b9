"""Dates and times as a reply's language writes them.

A delegation reads "vendredi 28 mai 2021 à 18 h 00, heure de New York (UTC-04:00)" in a
French reply and "viernes 28 de mayo de 2021, 18:00, hora de Nueva York (UTC-04:00)" in a
Spanish one: the words by hand rather than from the system's locale (a worker's locale
is whatever the machine has, and must not change what a mission reads). Every time
still states its zone and UTC offset, in every language. A language without a table
here (a site may add templates for another one) gets the English forms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

__all__ = ["DATE_LANGUAGES", "format_date", "format_local", "zone_label"]


@dataclass(frozen=True)
class _Words:
    months: tuple[str, ...]
    weekdays: tuple[str, ...]  # Monday first, as `date.weekday()`
    # The city of a zone as this language names it, where it differs from the zone's.
    cities: dict[str, str]


_ENGLISH = _Words(
    months=(
        "January", "February", "March", "April", "May", "June", "July", "August",
        "September", "October", "November", "December",
    ),
    weekdays=("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    cities={},
)  # fmt: skip
_WORDS: dict[str, _Words] = {
    "en": _ENGLISH,
    "fr": _Words(
        months=(
            "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
            "septembre", "octobre", "novembre", "décembre",
        ),
        weekdays=("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
        cities={"Geneva": "Genève", "Vienna": "Vienne", "London": "Londres"},
    ),
    "es": _Words(
        months=(
            "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
            "septiembre", "octubre", "noviembre", "diciembre",
        ),
        weekdays=("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
        cities={"New York": "Nueva York", "Geneva": "Ginebra", "Vienna": "Viena",
                "London": "Londres"},
    ),
}  # fmt: skip
DATE_LANGUAGES = frozenset(_WORDS)


def _words(language: str) -> _Words:
    return _WORDS.get(language, _ENGLISH)


def _city(zone: ZoneInfo, language: str) -> str | None:
    key = str(zone.key)
    if key in ("UTC", "Etc/UTC"):
        return None
    city = key.rsplit("/", 1)[-1].replace("_", " ")
    return _words(language).cities.get(city, city)


def zone_label(zone: ZoneInfo, language: str = "en") -> str:
    """'America/New_York' -> 'New York time', 'heure de New York', 'hora de Nueva York'."""
    city = _city(zone, language)
    if city is None:
        return "UTC"
    if language == "fr":
        return f"heure de {city}"
    if language == "es":
        return f"hora de {city}"
    return f"{city} time"


def _offset(local: datetime) -> str:
    offset = local.strftime("%z")
    return f"UTC{offset[0]}{offset[1:3]}:{offset[3:]}" if offset else "UTC"


def format_local(moment: datetime, zone: ZoneInfo, language: str = "en") -> str:
    """A time a reader anywhere can place: local date and time, zone name, UTC offset."""
    local = moment.astimezone(zone)
    words = _words(language)
    weekday = words.weekdays[local.weekday()]
    day = format_date(local.date(), language)
    label, offset = zone_label(zone, language), _offset(local)
    if language == "fr":
        return f"{weekday} {day} à {local.hour} h {local.minute:02d}, {label} ({offset})"
    if language == "es":
        return f"{weekday} {day}, {local:%H:%M}, {label} ({offset})"
    return f"{weekday} {day}, {local:%H:%M} {label} ({offset})"


def format_date(day: date, language: str = "en") -> str:
    """'28 May 2021', '1er mai 2021', '28 de mayo de 2021'."""
    month = _words(language).months[day.month - 1]
    if language == "fr":
        return f"{'1er' if day.day == 1 else day.day} {month} {day.year}"
    if language == "es":
        return f"{day.day} de {month} de {day.year}"
    return f"{day.day} {month} {day.year}"
