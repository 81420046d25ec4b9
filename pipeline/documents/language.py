"""Which of the six official languages of the United Nations a statement is written in.

The language decides the unit of the length limit (words, or characters for Chinese) and
names the language in replies. Statements are delivered in one of the six official
languages, so the answer is always one of those six, or None.

The script decides first: Arabic, Chinese (Han) and Russian (Cyrillic) are the only
official languages written in their scripts, so a sample dominated by one of them needs
no statistics. langid, restricted to the six languages, only chooses among English,
French and Spanish, with its probabilities renormalized over those three. Left to choose
among all six, langid calls Danish text full of «guillemets» Chinese with a confidence
of 0.99999, and French statements use guillemets too.

Japanese is not an official language, and its kanji would make it look Chinese. Counting
a Japanese statement against the Chinese limit, or telling the delegation it wrote in
Chinese, would be wrong either way, so text with a real share of kana gives None:
"language unknown", which the checks treat as a case for a person rather than a verdict.
The same goes for text too short to tell, a sample no script dominates, and a Latin-script
sample langid is unsure about.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from typing import Any

OFFICIAL_LANGUAGES: tuple[str, ...] = ("ar", "zh", "en", "fr", "ru", "es")
LANGUAGE_NAMES: dict[str, str] = {
    "ar": "Arabic",
    "zh": "Chinese",
    "en": "English",
    "fr": "French",
    "ru": "Russian",
    "es": "Spanish",
}
# langid's cost grows with the text (a Python loop over its UTF-8 bytes); the opening of
# a statement says as much about its language as the whole.
SAMPLE_CHARACTERS = 3000
# langid only separates English, French and Spanish (the script decided the rest); 1,200
# characters (about 200 words) leave no doubt between those, at a third of the cost.
LANGID_CHARACTERS = 1200
# Below this many letters ("Thank you, Mr. President") any answer is a guess.
MIN_LETTERS = 20
MIN_CONFIDENCE = 0.5
# Japanese writes kana in almost every sentence (typically a third of the characters or
# more); Chinese text quoting a Japanese name stays far below this share.
JAPANESE_KANA_SHARE = 0.1

_LETTER = re.compile(r"[^\W\d_]")
_KANA = re.compile("[\u3041-\u3096\u30a1-\u30fa\u30fc\u31f0-\u31ff\uff66-\uff9d]")
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")

# Each script and the official languages written in it (see the module docstring).
_SCRIPTS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (
        re.compile("[A-Za-z\u00aa\u00ba\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff]"),
        ("en", "fr", "es"),
    ),
    (re.compile("[\u0400-\u052f]"), ("ru",)),
    (re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufefc]"), ("ar",)),
    (_HAN, ("zh",)),
)

log = logging.getLogger(__name__)

_identifier: Any = None
_identifier_lock = threading.Lock()


def _get_identifier() -> Any:
    """langid's model for the six languages, loaded once on first use (never at import:
    importing this module for LANGUAGE_NAMES must stay cheap) from the arrays decoded
    ahead of time (`langid_model.py`, about 30 ms); decoded from langid itself (seconds)
    only if that file is missing or damaged."""
    global _identifier
    if _identifier is None:
        with _identifier_lock:
            if _identifier is None:
                from pipeline.documents import langid_model

                try:
                    _identifier = langid_model.load()
                except (OSError, ValueError, KeyError) as error:
                    log.warning("decoding langid's model (slow): %s", error)
                    _identifier = langid_model.decode_langid(OFFICIAL_LANGUAGES)
    return _identifier


def _is_japanese(sample: str, letters: int) -> bool:
    """Mostly CJK script, with kana: an English statement quoting a Japanese phrase is
    still English."""
    kana = len(_KANA.findall(sample))
    if not kana:
        return False
    cjk = kana + len(_HAN.findall(sample))
    return 2 * cjk >= letters and kana >= JAPANESE_KANA_SHARE * cjk


def _best_of(sample: str, candidates: tuple[str, ...]) -> tuple[str, float]:
    """langid's choice among `candidates`, with its probability normalized over them
    alone (the same as a classifier restricted to them, without building one)."""
    identifier = _get_identifier()
    # Log-probabilities of the sample under each of the six languages' models.
    scores = identifier.nb_classprobs(identifier.instance2fv(sample[:LANGID_CHARACTERS]))
    logs = {
        str(language): float(score)
        for language, score in zip(identifier.nb_classes, scores, strict=True)
        if language in candidates
    }
    top = max(logs.values())
    weights = {language: math.exp(score - top) for language, score in logs.items()}
    best = max(weights, key=lambda language: weights[language])
    return best, weights[best] / sum(weights.values())


def detect_language(text: str) -> str | None:
    """The official language `text` is written in ("ar", "zh", "en", "fr", "ru", "es"),
    or None when it is too short to tell, no script dominates, langid is unsure
    (< MIN_CONFIDENCE), or the text is Japanese (see the module docstring)."""
    sample = text[:SAMPLE_CHARACTERS]
    letters = len(_LETTER.findall(sample))
    if letters < MIN_LETTERS or _is_japanese(sample, letters):
        return None
    count, candidates = max(
        ((len(pattern.findall(sample)), languages) for pattern, languages in _SCRIPTS),
        key=lambda counted: counted[0],
    )
    if 2 * count < letters:
        return None  # mixed, or a script none of the six uses (Greek, Hangul, ...)
    if len(candidates) == 1:
        return candidates[0]
    language, confidence = _best_of(sample, candidates)
    return language if confidence >= MIN_CONFIDENCE else None
