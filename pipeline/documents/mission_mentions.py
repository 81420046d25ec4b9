"""Every mission a text names, in any of the six languages: where, and which mission.

One pattern holds every name of every mission: the registry's name in each language, its
short and formal forms ("Bolivia" and "Plurinational State of Bolivia" from "Bolivia
(Plurinational State of)"; "République de Corée" from "Corée, République de"), the usual
names and adjectives of `pipeline.missions.other_names` ("Turkey", "French",
"mexicana"). The text and the names are normalised alike (`letter_text.normalise`: case,
Latin accents, apostrophes and dashes folded), so "Côte d’Ivoire" and "COTE D'IVOIRE"
are one name.

Where names overlap, the longest wins: the alternatives are tried longest first at each
position, and the text is read left to right, so "Equatorial Guinea", "Papua New
Guinea", "Guinea-Bissau", "South Sudan" and "Democratic Republic of the Congo" are
never read as Guinea, Sudan or Congo. A name must stand as a word of its own: "Niger" is
not in "Nigeria", "Dominica" not in "Dominican Republic", "Guinea" not in
"Guinea-Bissau" even split across lines. Russian names may be declined ("Франции",
"Российской Федерации"); Arabic ones may carry one-letter proclitics ("لفرنسا",
"وللسودان"). A form that two missions share after normalisation ("Corée" for both Koreas,
"الكونغو" for both Congos) names neither and is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache

from pipeline.documents.letter_text import WORD_END, WORD_START, is_cjk, norm
from pipeline.missions.other_names import ADJECTIVES, OTHER_NAMES
from pipeline.missions.registry import load_registry

__all__ = ["Mention", "mentions", "name_forms"]

_CYRILLIC_ENDING = re.compile(r"[аеиоуыэюяйь]+$")
_INVERTED = re.compile(r"^(?P<short>[^,،(]+?)\s*[,،]\s*(?P<rest>.+)$")
_BRACKETED = re.compile(r"^(?P<short>[^(]+?)\s*\((?P<rest>[^)]+)\)$")


@dataclass(frozen=True)
class Mention:
    """A mission named in normalised text, at ``start:end``."""

    code: str
    start: int
    end: int


def _forms(name: str) -> list[str]:
    """A registry name and the forms running text uses for it."""
    forms = [name]
    bracketed = _BRACKETED.match(name)
    if bracketed:
        short, rest = bracketed["short"], bracketed["rest"]
        forms.append(short)
        # "Bolivia (Plurinational State of)" -> "Plurinational State of Bolivia";
        # "Saint-Siège (état de la cité du Vatican)" -> the bracket is a name itself.
        if rest.endswith((" of", " of the")):
            forms.append(f"{rest} {short}")
        else:
            forms.append(rest)
    inverted = _INVERTED.match(name)
    if inverted:
        short, rest = inverted["short"], inverted["rest"]
        forms.append(short)
        if any("\u0600" <= ch <= "\u06ff" for ch in name):
            forms.append(rest)  # Arabic writes the full name after the comma
        else:
            # "Corée, République de" -> "République de Corée"; "Iran, République
            # islamique d'" -> "République islamique d'Iran"; "Salomon, Îles" -> "Îles Salomon".
            joiner = "" if rest.endswith(("'", "’")) else " "
            forms.append(f"{rest}{joiner}{short}")
    return forms


@cache
def name_forms() -> Mapping[str, str]:
    """Every normalised name form -> the one mission code it names.

    A name as listed (the registry's, `other_names`) outranks a form derived from one:
    "Congo" is the Congo's name, not the short form of "Congo, República Democrática del".
    """
    listed: dict[str, set[str]] = {}
    derived: dict[str, set[str]] = {}
    for code, info in load_registry().items():
        names = [info.name, *info.names.values(), *OTHER_NAMES.get(code, ())]
        names += ADJECTIVES.get(code, ())
        for name in names:
            for index, form in enumerate(_forms(name)):
                normalised = norm(form).strip()
                if any(ch.isalnum() for ch in normalised):
                    owners = listed if index == 0 else derived
                    owners.setdefault(normalised, set()).add(code)
    forms = {form: codes for form, codes in derived.items() if form not in listed}
    forms.update(listed)
    return {form: next(iter(codes)) for form, codes in forms.items() if len(codes) == 1}


def _script(form: str) -> str:
    for ch in form:
        if is_cjk(ch):
            return "cjk"
        if "\u0400" <= ch <= "\u04ff":
            return "cyrillic"
        if "\u0600" <= ch <= "\u06ff":
            return "arabic"
    return "latin"


def _body(form: str, script: str) -> str:
    """The pattern for one normalised form, boundaries included."""
    if script == "cjk":
        return re.escape(form)
    if script == "cyrillic":
        words = [
            re.escape(word)
            if re.fullmatch(r"[\s\-']+", word) or len(word) <= 3
            else re.escape(_CYRILLIC_ENDING.sub("", word)) + "[а-я]{0,3}"
            for word in re.split(r"([\s\-']+)", form)
        ]
        return f"{WORD_START}{''.join(words)}{WORD_END}"
    if script == "arabic":
        if form.startswith("ال"):
            rest = re.escape(form[2:])
            return f"{WORD_START}[وف]?(?:[بك]?لل{rest}|[بكل]?ال{rest}){WORD_END}"
        return f"{WORD_START}[وف]?[بكل]?{re.escape(form)}{WORD_END}"
    return f"{WORD_START}(?<![^\\W_]-){re.escape(form)}{WORD_END}(?!-[^\\W_])"


def _key(form: str, script: str) -> str:
    """What a word of the text must start with for `form` to be tried there."""
    if script == "cjk":
        return form[0]
    first = re.split(r"[\s\-']", form, maxsplit=1)[0]
    if script == "arabic" and first.startswith("ال"):
        first = first[2:]
    return first[:_KEY]


_KEY = 3
_WORDS = re.compile(r"[^\W_]+")
_Candidates = Mapping[str, tuple[tuple[re.Pattern[str], str], ...]]


@cache
def _candidates() -> _Candidates:
    """The forms by the key of their first word, longest first."""
    index: dict[str, list[tuple[int, re.Pattern[str], str]]] = {}
    for form, code in name_forms().items():
        script = _script(form)
        index.setdefault(_key(form, script), []).append(
            (len(form), re.compile(_body(form, script)), code)
        )
    return {
        key: tuple((pattern, code) for _n, pattern, code in sorted(entries, key=lambda e: -e[0]))
        for key, entries in index.items()
    }


def _starts(word: str, offset: int) -> Iterator[tuple[int, str]]:
    """Where a name may start in one word of the text, and the key to look up there."""
    if is_cjk(word[0]):
        for i, ch in enumerate(word):
            yield offset + i, ch
        return
    yield offset, word[:_KEY]
    if "\u0600" <= word[0] <= "\u06ff":
        # Proclitics, the article, or both: "لفرنسا", "ولفرنسا", "للسودان", "وبالسودان".
        for skip in (1, 2, 3, 4):
            yield offset, word[skip : skip + _KEY]


def mentions(normalised_text: str) -> Iterator[Mention]:
    """The missions named in text already normalised (`letter_text.normalise`), in order."""
    candidates = _candidates()
    resume = 0
    for word in _WORDS.finditer(normalised_text):
        for position, key in _starts(word.group(), word.start()):
            if position < resume:
                continue
            for pattern, code in candidates.get(key, ()):
                match = pattern.match(normalised_text, position)
                if match:
                    yield Mention(code, match.start(), match.end())
                    resume = match.end()
                    break
