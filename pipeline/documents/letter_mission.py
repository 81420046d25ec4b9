"""The sending mission's name as a cover letter writes it.

The first of the registry's names for the mission found in the letter (declined in
Russian, with a proclitic in Arabic, never part of a longer name), else the name the
usual formulas introduce ("Permanent Mission of ... to the United Nations").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import cache

from pipeline.documents.letter_text import WORD_END, WORD_START, Normalised, is_cjk, norm

_CYRILLIC_ENDING = re.compile(r"[аеиоуыэюяйь]+$")


def _script_of(text: str) -> str:
    for ch in text:
        if ch.isalpha():
            if is_cjk(ch):
                return "CJK"
            return unicodedata.name(ch, "").split(" ", 1)[0]
    return ""


@cache
def _name_pattern(normalised_name: str) -> re.Pattern[str]:
    """A pattern for one registry name; group 1 is the name as the letter writes it.

    Russian names are declined ("Казахстана", "Российской Федерации"): each word's
    ending may vary. Arabic names may carry a proclitic ("لمصر"), and "ل" + "ال" fuse
    ("للسنغال"). Latin names must not be part of a longer one ("Guinea" in
    "Guinea-Bissau", "Niger" in "Nigeria"). Chinese needs no boundaries.
    """
    script = _script_of(normalised_name)
    if script == "CJK":
        return re.compile(f"({re.escape(normalised_name)})")
    if script == "CYRILLIC":
        words = []
        for word in re.split(r"([\s\-']+)", normalised_name):
            if re.fullmatch(r"[\s\-']+", word) or len(word) <= 3:
                words.append(re.escape(word))
            else:
                words.append(re.escape(_CYRILLIC_ENDING.sub("", word)) + "[а-я]{0,3}")
        return re.compile(f"{WORD_START}({''.join(words)}){WORD_END}")
    if script == "ARABIC":
        if normalised_name.startswith("ال"):
            rest = re.escape(normalised_name[2:])
            body = f"(?:[وفبك]?(لل{rest})|[وفبكل]?(ال{rest}))"
        else:
            body = f"[وفبكل]?({re.escape(normalised_name)})"
        return re.compile(f"{WORD_START}{body}{WORD_END}")
    return re.compile(
        f"{WORD_START}(?<![^\\W_]-)({re.escape(normalised_name)}){WORD_END}(?!-[^\\W_])"
    )


_X = r"(?P<x>[^,;:()،\"“”«»]{1,80}?)"
_X_END = r"(?=[,;:()،\"“”«»]|\.(?:\s|$)|\s\d|$"
_FALLBACK_NAME_PATTERNS = tuple(
    re.compile(pattern)
    for pattern in (
        rf"{WORD_START}(?:permanent mission|permanent representative) of {_X}"
        rf"{_X_END}| to the united nations| to the un\b| in new york)",
        rf"{WORD_START}(?:mission permanente|representante? permanente?) "
        rf"(?:de la |de l'|du |des |de |d'){_X}{_X_END}| aupres| a new york)",
        rf"{WORD_START}(?:mision permanente|representante permanente) "
        rf"(?:de la |de los |de las |del |de ){_X}{_X_END}| ante| en nueva york)",
        rf"{WORD_START}(?:постоянное представительство|постоянн(?:ый|ого|ая|ой) "
        rf"представител[а-я]*) {_X}{_X_END}| при | в нью-йорке)",
        r"(?:^|(?<=[\s,.;:()\"“”「」、。日的]))(?P<x>[\u4e00-\u9fff·]{2,20}?)常驻(?:联合国)?代表",
        rf"(?:البعثة الدائمة|المندوب الدائم|المندوبة الدائمة|الممثل الدائم|الممثلة الدائمة) "
        rf"ل?{_X}{_X_END}| لدى| في نيويورك)",
    )
)


def find_mission_name(letter: Normalised, original: str, names: Sequence[str]) -> str | None:
    """The first of ``names`` found, else a name captured from the usual formulas."""
    for name in names:
        normalised_name = norm(name)
        if not any(ch.isalnum() for ch in normalised_name):
            continue
        match = _name_pattern(normalised_name).search(letter.text)
        if match:
            group = next(g for g in range(1, (match.lastindex or 0) + 1) if match.group(g))
            return letter.original(original, match.start(group), match.end(group))
    best: tuple[int, int] | None = None
    for pattern in _FALLBACK_NAME_PATTERNS:
        found = pattern.search(letter.text)
        if found and (best is None or found.start("x") < best[0]):
            best = (found.start("x"), found.end("x"))
    if best is None:
        return None
    start, end = best
    if letter.text.startswith("the ", start) and end - start > 4:
        start += 4
    return letter.original(original, start, end).strip() or None
