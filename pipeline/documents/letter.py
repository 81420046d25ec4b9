"""Does a cover letter say what the guidance note asks, in any of the six official languages?

The guidance note for open debates asks for a cover letter addressed to the President of
the Security Council and signed by the Permanent Representative or the Chargé d'affaires
(a.i.) of the mission. Delegations write it in English, French, Spanish, Russian, Chinese
or Arabic, and the text reaches us through PDF or Word extraction: line breaks in the
middle of phrases, hyphenated words, curly apostrophes, presentation-form Arabic, spaces
between Chinese characters, accents present or not. So the text is normalised first
(:func:`_normalise`) and the phrases are then plain literals run through the same
normalisation. A position map keeps every normalised character tied to the original
text, so the mission's name is returned exactly as the letter writes it.

Decisions (the desk may revisit them):

* A **Deputy** (or alternate, vice-) Permanent Representative is not the Permanent
  Representative: a letter signed by a deputy alone gives ``signatory=None``. If it also
  says "Chargé d'affaires a.i." (a deputy standing in for the head of mission does sign
  that way), the signatory is the Chargé d'affaires.
* An **acting** Permanent Representative ("Acting Permanent Representative", "par
  intérim", "interino", "исполняющий обязанности", "代理常驻代表", "بالنيابة") heads the
  mission ad interim, which is what a Chargé d'affaires a.i. does: reported as
  ``"charge_d_affaires"``.
* When both a Permanent Representative and a Chargé d'affaires are mentioned, the one
  mentioned last wins: the signature block closes the letter, while earlier mentions are
  usually in the title or the body ("in the absence of the Permanent Representative").
* "Note by the President of the Security Council" (S/2017/507, the guidance itself),
  "statement by the President" and their translations are citations, not an address:
  they do not make a letter to the Secretary-General "addressed to the President".
* Arabic: vowel marks (tashkeel), tatweel and the hamza/madda forms of alef are folded
  away (letters and the registry disagree on them: "الاتّحاد الرّوسي"), feminine forms
  ("رئيسة", "المندوبة الدائمة") are listed, and one-letter proclitics ("لـ", "و", "ب")
  may precede a phrase or a name. Russian "ё" is read as "е", as UN Russian texts write.
  Accents are stripped only from Latin letters, so "Chargé" and "Charge" both match while
  Cyrillic "й" stays distinct from "и".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Literal

from pipeline.documents.pdf_reader import TEXT_LAYER_MIN_LETTERS

__all__ = ["LetterCheck", "Signatory", "check_letter"]

Signatory = Literal["permanent_representative", "charge_d_affaires"]


@dataclass(frozen=True)
class LetterCheck:
    """What the cover letter's text shows.

    ``language`` is inferred from which language's phrases matched (or, failing that,
    from the script), ``None`` when unknown. ``mission_name`` is the mission's name as
    written in the letter. ``verifiable`` is false when there is no text to check (a
    scan, an empty file): then every other field is empty and means "unknown", not
    "missing".
    """

    addressed_to_president: bool
    signatory: Signatory | None
    language: str | None
    mission_name: str | None
    verifiable: bool


# --------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------

_APOSTROPHES = frozenset("'’‘ʼ`´′‛ʹ＇")
_DASHES = frozenset("-‐‑‒–—―−﹣－")
_SOFT_HYPHEN = "\u00ad"
_ARABIC_MARKS = frozenset(chr(c) for c in (*range(0x064B, 0x0653), 0x0670, 0x0640))
_ARABIC_ALEFS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا"})


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0xF900 <= code <= 0xFAFF
        or 0x3000 <= code <= 0x303F
    )


def _is_latin(ch: str) -> bool:
    return ch.isalpha() and unicodedata.name(ch, "").startswith("LATIN")


@dataclass(frozen=True)
class _Normalised:
    """Normalised text, and for each of its characters the span it came from."""

    text: str
    spans: tuple[tuple[int, int], ...]

    def original(self, original: str, start: int, end: int) -> str:
        """The original substring behind ``text[start:end]``."""
        return original[self.spans[start][0] : self.spans[end - 1][1]]


@lru_cache(maxsize=8192)
def _fold(cluster: str) -> str:
    """One character (with its combining marks) in comparable form (cached: a letter
    repeats a few dozen characters thousands of times)."""
    base = cluster[0]
    if base in _APOSTROPHES:
        return "'"
    if base in _DASHES:
        return "-"
    folded = unicodedata.normalize("NFKC", cluster).casefold()
    if folded and _is_latin(folded[0]):
        decomposed = unicodedata.normalize("NFD", folded)
        return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    if folded and "\u0600" <= folded[0] <= "\u06ff":
        return "".join(ch for ch in folded if ch not in _ARABIC_MARKS).translate(_ARABIC_ALEFS)
    return folded.replace("ё", "е")


def _normalise(text: str) -> _Normalised:
    """NFKC, casefold, unified apostrophes and dashes, whitespace collapsed, and:

    * accents stripped from Latin letters only; Arabic marks and alef forms folded;
    * format characters (soft hyphens, zero-width joiners, bidi marks) dropped;
    * a word hyphenated across a line break ("Représen-\\ntant") joined again when the
      next line starts in lower case; "Guinea-\\nBissau" keeps its hyphen;
    * spaces between two Chinese characters dropped (PDF extraction inserts them).
    """
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    pending_space: tuple[int, int] | None = None
    n = len(text)
    i = 0
    while i < n:
        ch = text[i]
        if ch.isspace():
            start = i
            while i < n and text[i].isspace():
                i += 1
            if out and pending_space is None:
                pending_space = (start, i)
            continue
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        if ch == _SOFT_HYPHEN or (
            ch in _DASHES and out and out[-1].isalpha() and pending_space is None
        ):
            k = j
            while k < n and text[k].isspace():
                k += 1
            breaks_line = "\n" in text[j:k] or "\r" in text[j:k]
            if ch == _SOFT_HYPHEN or (breaks_line and k < n and text[k].islower()):
                i = k  # a hyphenation point: the word continues on the next line
                continue
            if breaks_line and k < n and text[k].isalpha():
                out.append("-")  # a real hyphen at the end of the line: keep it, join
                spans.append((i, j))
                i = k
                continue
        if unicodedata.category(ch) == "Cf":
            i = j
            continue
        folded = _fold(text[i:j])
        if not folded:
            i = j
            continue
        if pending_space is not None:
            if not (_is_cjk(out[-1]) and _is_cjk(folded[0])):
                out.append(" ")
                spans.append(pending_space)
            pending_space = None
        for piece in folded:
            out.append(piece)
            spans.append((i, j))
        i = j
    return _Normalised("".join(out), tuple(spans))


@lru_cache(maxsize=4096)
def _norm(literal: str) -> str:
    """A phrase or name in normalised form (cached: the same names come with every
    letter of a mission)."""
    return _normalise(literal).text


# --------------------------------------------------------------------------------------
# Phrases
# --------------------------------------------------------------------------------------

_WORD_START = r"(?<![^\W_])"  # not preceded by a letter or digit
_WORD_END = r"(?![^\W_])"

_Kind = Literal["president", "pr", "charge", "evidence"]


@dataclass(frozen=True)
class _Phrase:
    """Literal variants of one phrase; a match is void after/before a cancelling context.

    ``bounded`` asks for word boundaries, which Chinese (no spaces) and Arabic (attached
    proclitics: "لرئيس", "والمندوب") cannot have.
    """

    kind: _Kind
    languages: tuple[str, ...]
    variants: tuple[str, ...]
    not_after: tuple[str, ...] = ()
    not_before: tuple[str, ...] = ()
    bounded: bool = True

    @property
    def pattern(self) -> re.Pattern[str]:
        return _compile_phrase(self)


@cache
def _compile_phrase(phrase: _Phrase) -> re.Pattern[str]:
    body = "|".join(re.escape(_norm(v)) for v in sorted(phrase.variants, key=len, reverse=True))
    return re.compile(f"{_WORD_START}(?:{body})" if phrase.bounded else f"(?:{body})")


@cache
def _contexts(literals: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_norm(f"x{c}x")[1:-1] for c in literals)  # keep edge spaces


def _matches(phrase: _Phrase, text: str) -> list[int]:
    """Start positions of the phrase's valid occurrences in normalised ``text``."""
    after = _contexts(phrase.not_after)
    before = _contexts(phrase.not_before)
    return [
        m.start()
        for m in phrase.pattern.finditer(text)
        if not (after and text.endswith(after, 0, m.start()))
        and not (before and text.startswith(before, m.end()))
    ]


_PRESIDENT = (
    _Phrase(
        "president",
        ("en",),
        ("President of the Security Council",),
        not_after=("note by the ", "statement by the ", "letter from the ", "vice-", "vice "),
    ),
    _Phrase(
        "president",
        ("fr",),
        ("Président du Conseil de sécurité", "Présidente du Conseil de sécurité"),
        not_after=(
            "note du ",
            "note de la ",
            "déclaration du ",
            "déclaration de la ",
            "lettre du ",
            "lettre de la ",
            "vice-",
        ),
    ),
    _Phrase(
        "president",
        ("es",),
        ("Presidente del Consejo de Seguridad", "Presidenta del Consejo de Seguridad"),
        not_after=(
            "nota del ",
            "nota de la ",
            "declaración del ",
            "declaración de la ",
            "carta del ",
            "carta de la ",
        ),
    ),
    _Phrase(
        "president",
        ("ru",),
        (
            "Председателю Совета Безопасности",
            "Председатель Совета Безопасности",
            "Председателя Совета Безопасности",
        ),
        not_after=(
            "записка ",
            "записки ",
            "записке ",
            "записку ",
            "запиской ",
            "заявление ",
            "заявления ",
            "заявлении ",
            "заявлением ",
            "письмо ",
            "письма ",
            "письме ",
            "письмом ",
            "заместитель ",
            "заместителю ",
            "заместителя ",
        ),
    ),
    _Phrase(
        "president",
        ("zh",),
        ("安全理事会主席", "安理会主席", "安全理事會主席", "安理會主席"),
        not_before=("的说明", "说明", "的声明", "声明", "的說明", "說明", "聲明"),
        bounded=False,
    ),
    _Phrase(
        "president",
        ("ar",),
        ("رئيس مجلس الأمن", "رئيسة مجلس الأمن"),
        not_after=("مذكرة من ", "مذكرة ", "بيان من ", "بيان ", "نائب ", "نائبة "),
        bounded=False,
    ),
)

# Deputies, alternates and acting heads, in English, French and Spanish: one list for the
# three, because their phrases meet once accents are gone ("représentante permanente"
# is "representante permanente").
_NOT_THE_PR_BEFORE = (
    " adjoint", " suppléant", " par intérim", " adjunto", " adjunta", " alterno",
    " alterna", " interino", " interina", " a.i.", " ai ", " a. i.",
)  # fmt: skip
_NOT_THE_PR_AFTER = ("deputy ", "vice-", "vice ", "alternate ", "assistant ", "acting ")

_PERMANENT_REPRESENTATIVE = (
    _Phrase(
        "pr",
        ("en",),
        ("Permanent Representative",),
        not_after=_NOT_THE_PR_AFTER,
        not_before=_NOT_THE_PR_BEFORE,
    ),
    _Phrase(
        "pr",
        ("fr",),
        ("Représentant permanent",),
        not_after=_NOT_THE_PR_AFTER,
        not_before=_NOT_THE_PR_BEFORE,
    ),
    _Phrase(
        "pr",
        ("es", "fr"),  # Spanish, and the French feminine
        ("Representante Permanente",),
        not_after=_NOT_THE_PR_AFTER,
        not_before=_NOT_THE_PR_BEFORE,
    ),
    _Phrase(
        "pr",
        ("ru",),
        (
            "Постоянный представитель",
            "Постоянная представительница",
            "Постоянного представителя",
            "Постоянной представительницы",
        ),
        not_after=(
            "заместитель ",
            "заместителя ",
            "заместительница ",
            "обязанности ",
            "и.о. ",
            "и. о. ",
            "врио ",
        ),
    ),
    _Phrase(
        "pr",
        ("zh",),
        ("常驻联合国代表", "常驻代表", "常駐聯合國代表", "常駐代表"),
        not_after=("副", "代理"),
        not_before=("团", "團", "处", "處"),  # 常驻联合国代表团: the Permanent Mission
        bounded=False,
    ),
    _Phrase(
        "pr",
        ("ar",),
        ("المندوب الدائم", "المندوبة الدائمة", "الممثل الدائم", "الممثلة الدائمة"),
        not_after=("نائب ", "نائبة "),
        not_before=(" المناوب", " المناوبة", " بالنيابة"),
        bounded=False,
    ),
)

_CHARGE_D_AFFAIRES = (
    _Phrase(
        "charge",
        ("en", "fr"),
        ("Chargé d'affaires", "Chargée d'affaires", "Charge d affaires", "Charge daffaires"),
    ),
    _Phrase("charge", ("en",), ("Acting Permanent Representative",)),
    _Phrase("charge", ("en",), ("Permanent Representative a.i.", "Permanent Representative a. i.")),
    _Phrase(
        "charge",
        ("fr",),
        ("Représentant permanent par intérim", "Représentante permanente par intérim"),
    ),
    _Phrase("charge", ("fr",), ("Représentant permanent a.i.", "Représentant permanent a. i.")),
    _Phrase(
        "charge",
        ("es", "fr"),
        (
            "Representante Permanente a.i.",
            "Representante Permanente a. i.",
        ),
    ),
    _Phrase(
        "charge",
        ("es",),
        (
            "Encargado de Negocios",
            "Encargada de Negocios",
            "Representante Permanente Interino",
            "Representante Permanente Interina",
        ),
    ),
    _Phrase(
        "charge",
        ("ru",),
        (
            "Поверенный в делах",  # also "Временный поверенный в делах"
            "Поверенного в делах",
            "Поверенная в делах",
            "Исполняющий обязанности Постоянного представителя",
            "Исполняющая обязанности Постоянного представителя",
            "И.о. Постоянного представителя",
        ),
    ),
    _Phrase("charge", ("zh",), ("临时代办", "臨時代辦", "代理常驻代表"), bounded=False),
    _Phrase(
        "charge",
        ("ar",),
        ("القائم بالأعمال", "القائمة بالأعمال", "المندوب الدائم بالنيابة"),
        bounded=False,
    ),
)

# Words of every formal letter, and the "(Signed)" of UN correspondence: they only help
# to tell the language (above all when "Chargé d'affaires", English and French, is all
# the letter says about its signatory).
_EVIDENCE = (
    _Phrase("evidence", ("en",), ("(Signed)",), bounded=False),
    _Phrase("evidence", ("fr",), ("(Signé)", "(Signée)"), bounded=False),
    _Phrase("evidence", ("es",), ("(Firmado)", "(Firmada)"), bounded=False),
    _Phrase("evidence", ("ru",), ("(Подпись)", "(Подписано)"), bounded=False),
    _Phrase("evidence", ("zh",), ("（签名）", "（簽名）"), bounded=False),
    _Phrase("evidence", ("ar",), ("(توقيع)",), bounded=False),
    _Phrase("evidence", ("en",), ("United Nations",)),
    _Phrase("evidence", ("en",), ("Security Council",)),
    _Phrase("evidence", ("en",), ("I have the honour", "Excellency")),
    _Phrase("evidence", ("fr",), ("Nations Unies",)),
    _Phrase("evidence", ("fr",), ("Conseil de sécurité",)),
    _Phrase("evidence", ("fr",), ("J'ai l'honneur", "Excellence")),
    _Phrase("evidence", ("es",), ("Naciones Unidas",)),
    _Phrase("evidence", ("es",), ("Consejo de Seguridad",)),
    _Phrase("evidence", ("es",), ("Tengo el honor", "Excelencia")),
    _Phrase("evidence", ("ru",), ("Объединенных Наций", "Объединённые Нации")),
    _Phrase("evidence", ("ru",), ("Совета Безопасности", "Совет Безопасности")),
    _Phrase("evidence", ("ru",), ("Имею честь", "Превосходительство")),
    _Phrase("evidence", ("zh",), ("联合国", "聯合國"), bounded=False),
    _Phrase("evidence", ("zh",), ("安全理事会", "安理会", "安全理事會"), bounded=False),
    _Phrase("evidence", ("zh",), ("谨", "謹", "阁下", "閣下"), bounded=False),
    _Phrase("evidence", ("ar",), ("الأمم المتحدة",), bounded=False),
    _Phrase("evidence", ("ar",), ("مجلس الأمن",), bounded=False),
    _Phrase("evidence", ("ar",), ("أتشرف", "سعادة"), bounded=False),
)

_ALL_PHRASES = (*_PRESIDENT, *_PERMANENT_REPRESENTATIVE, *_CHARGE_D_AFFAIRES, *_EVIDENCE)
_LANGUAGES = ("en", "fr", "es", "ru", "zh", "ar")


# --------------------------------------------------------------------------------------
# Language
# --------------------------------------------------------------------------------------

_SCRIPT_LANGUAGE = {"CYRILLIC": "ru", "ARABIC": "ar", "CJK": "zh"}


def _language_from_script(text: str) -> str | None:
    """``ru``/``ar``/``zh`` when most letters are in that script (Latin says nothing)."""
    counts: dict[str, int] = {}
    letters = 0
    for ch in text:
        if ch.isalpha():
            letters += 1
            script = unicodedata.name(ch, "").split(" ", 1)[0]
            counts[script] = counts.get(script, 0) + 1
    for script, language in _SCRIPT_LANGUAGE.items():
        if letters and counts.get(script, 0) * 2 > letters:
            return language
    return None


def _language(found: dict[_Phrase, list[int]], text: str) -> str | None:
    """The language with the most distinct phrases found; a tie means "unknown"."""
    scores = dict.fromkeys(_LANGUAGES, 0)
    for phrase in found:
        for language in phrase.languages:
            scores[language] += 1
    best = max(scores.values())
    if best == 0:
        return _language_from_script(text)
    leaders = [language for language, score in scores.items() if score == best]
    return leaders[0] if len(leaders) == 1 else None


# --------------------------------------------------------------------------------------
# Mission name
# --------------------------------------------------------------------------------------

_CYRILLIC_ENDING = re.compile(r"[аеиоуыэюяйь]+$")


def _script_of(text: str) -> str:
    for ch in text:
        if ch.isalpha():
            if _is_cjk(ch):
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
        return re.compile(f"{_WORD_START}({''.join(words)}){_WORD_END}")
    if script == "ARABIC":
        if normalised_name.startswith("ال"):
            rest = re.escape(normalised_name[2:])
            body = f"(?:[وفبك]?(لل{rest})|[وفبكل]?(ال{rest}))"
        else:
            body = f"[وفبكل]?({re.escape(normalised_name)})"
        return re.compile(f"{_WORD_START}{body}{_WORD_END}")
    return re.compile(
        f"{_WORD_START}(?<![^\\W_]-)({re.escape(normalised_name)}){_WORD_END}(?!-[^\\W_])"
    )


_X = r"(?P<x>[^,;:()،\"“”«»]{1,80}?)"
_X_END = r"(?=[,;:()،\"“”«»]|\.(?:\s|$)|\s\d|$"
_FALLBACK_NAME_PATTERNS = tuple(
    re.compile(pattern)
    for pattern in (
        rf"{_WORD_START}(?:permanent mission|permanent representative) of {_X}"
        rf"{_X_END}| to the united nations| to the un\b| in new york)",
        rf"{_WORD_START}(?:mission permanente|representante? permanente?) "
        rf"(?:de la |de l'|du |des |de |d'){_X}{_X_END}| aupres| a new york)",
        rf"{_WORD_START}(?:mision permanente|representante permanente) "
        rf"(?:de la |de los |de las |del |de ){_X}{_X_END}| ante| en nueva york)",
        rf"{_WORD_START}(?:постоянное представительство|постоянн(?:ый|ого|ая|ой) "
        rf"представител[а-я]*) {_X}{_X_END}| при | в нью-йорке)",
        r"(?:^|(?<=[\s,.;:()\"“”「」、。日的]))(?P<x>[\u4e00-\u9fff·]{2,20}?)常驻(?:联合国)?代表",
        rf"(?:البعثة الدائمة|المندوب الدائم|المندوبة الدائمة|الممثل الدائم|الممثلة الدائمة) "
        rf"ل?{_X}{_X_END}| لدى| في نيويورك)",
    )
)


def _mission_name(norm: _Normalised, original: str, names: Sequence[str]) -> str | None:
    """The first of ``names`` found, else a name captured from the usual formulas."""
    for name in names:
        normalised_name = _norm(name)
        if not any(ch.isalnum() for ch in normalised_name):
            continue
        match = _name_pattern(normalised_name).search(norm.text)
        if match:
            group = next(g for g in range(1, (match.lastindex or 0) + 1) if match.group(g))
            return norm.original(original, match.start(group), match.end(group))
    best: tuple[int, int] | None = None
    for pattern in _FALLBACK_NAME_PATTERNS:
        found = pattern.search(norm.text)
        if found and (best is None or found.start("x") < best[0]):
            best = (found.start("x"), found.end("x"))
    if best is None:
        return None
    start, end = best
    if norm.text.startswith("the ", start) and end - start > 4:
        start += 4
    return norm.original(original, start, end).strip() or None


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------


def _signatory(found: dict[_Phrase, list[int]]) -> Signatory | None:
    """The title mentioned last, where the signature block is."""
    last_pr = max((p for ph, ps in found.items() if ph.kind == "pr" for p in ps), default=-1)
    last_charge = max(
        (p for ph, ps in found.items() if ph.kind == "charge" for p in ps), default=-1
    )
    if last_pr < 0 and last_charge < 0:
        return None
    return "charge_d_affaires" if last_charge > last_pr else "permanent_representative"


def check_letter(text: str | None, *, mission_names: Sequence[str] = ()) -> LetterCheck:
    """Check a cover letter's text against the guidance note.

    ``text`` is what :func:`pipeline.documents.pdf_reader.read_pdf` or the Word reader
    extracted (``None`` for a scan). ``mission_names`` are the sending mission's names in
    the six languages and their short forms, from the registry, most specific first; the
    first one found in the letter is returned as written there.
    """
    if text is None or sum(1 for ch in text if ch.isalpha()) < TEXT_LAYER_MIN_LETTERS:
        return LetterCheck(False, None, None, None, verifiable=False)
    norm = _normalise(text)
    found = {phrase: hits for phrase in _ALL_PHRASES if (hits := _matches(phrase, norm.text))}
    return LetterCheck(
        addressed_to_president=any(phrase.kind == "president" for phrase in found),
        signatory=_signatory(found),
        language=_language(found, text),
        mission_name=_mission_name(norm, text, mission_names),
        verifiable=True,
    )
