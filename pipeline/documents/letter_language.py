"""Which of the six official languages a cover letter is in.

The language whose phrases the letter uses most (a tie means "unknown"); failing any
phrase, the script most of its letters are in (Cyrillic, Arabic, Chinese; Latin says
nothing).
"""

from __future__ import annotations

import unicodedata

from pipeline.documents.letter_phrases import LANGUAGES, Phrase

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


def guess_language(found: dict[Phrase, list[int]], text: str) -> str | None:
    """The language with the most distinct phrases found; a tie means "unknown"."""
    scores = dict.fromkeys(LANGUAGES, 0)
    for phrase in found:
        for language in phrase.languages:
            scores[language] += 1
    best = max(scores.values())
    if best == 0:
        return _language_from_script(text)
    leaders = [language for language, score in scores.items() if score == best]
    return leaders[0] if len(leaders) == 1 else None
