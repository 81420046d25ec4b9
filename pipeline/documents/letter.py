"""Does a cover letter say what the guidance note asks, in any of the six official languages?

The guidance note for open debates asks for a cover letter addressed to the President of
the Security Council and signed by the Permanent Representative or the Chargé d'affaires
(a.i.) of the mission. Delegations write it in English, French, Spanish, Russian, Chinese
or Arabic, and the text reaches us through PDF or Word extraction: line breaks in the
middle of phrases, hyphenated words, curly apostrophes, presentation-form Arabic, spaces
between Chinese characters, accents present or not. So the text is normalised first
(letter_text.py) and the phrases are then plain literals run through the same
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

This module is the check; its parts: `letter_text.py` (normalisation),
`letter_phrases.py` (the phrases in six languages), `letter_language.py` (which
language), `letter_mission.py` (the mission's name).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pipeline.documents.letter_language import guess_language
from pipeline.documents.letter_mission import find_mission_name
from pipeline.documents.letter_phrases import ALL_PHRASES, Phrase, matches
from pipeline.documents.letter_text import normalise
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


def _signatory(found: dict[Phrase, list[int]]) -> Signatory | None:
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
    norm = normalise(text)
    found = {phrase: hits for phrase in ALL_PHRASES if (hits := matches(phrase, norm.text))}
    return LetterCheck(
        addressed_to_president=any(phrase.kind == "president" for phrase in found),
        signatory=_signatory(found),
        language=guess_language(found, text),
        mission_name=find_mission_name(norm, text, mission_names),
        verifiable=True,
    )
