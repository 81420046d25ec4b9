"""How long a statement is, counted the way the meeting's limit is counted.

Alphabetic scripts (Latin, Cyrillic, Arabic, Greek, ... and Korean) are counted in
words; Chinese and Japanese, which do not separate words by spaces, in characters. This
is also how Microsoft Word's own count works in every language, so a delegation that
checks its statement in Word gets our number:

* a word is a run of letters and digits, with internal hyphens or apostrophes
  ("peace-keeping", "Council's", "d'une") and, between digits, internal points and
  commas ("2,000", "3.5"): numbers are words;
* each Han, Hiragana or Katakana character counts one; CJK punctuation counts nothing;
* Hangul is written with spaces between words, so Korean counts as words;
* combining marks (Arabic harakat, decomposed Latin accents) belong to their letter:
  "مُحَمَّد" is one word, not four.

Everything is done with a few regex passes in C: no Python loop over characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Han (URO, extension A, compatibility, extensions B-G), iteration marks 々〆〇,
# Hiragana and Katakana letters (not the middle dot ・), half-width Katakana.
_CJK_RANGES = (
    "\u3005-\u3007"
    "\u3041-\u3096\u309d-\u309f"
    "\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\uff66-\uff9f"
    "\U00020000-\U0003134f"
)
_CJK_RUN = re.compile(f"[{_CJK_RANGES}]+")
# Letters and digits that are not CJK: `\W` is everything that is not a word character.
_WORD_CHARACTER = f"[^\\W_{_CJK_RANGES}]"
_WORD = re.compile(f"{_WORD_CHARACTER}+(?:(?:['’ʼ\\-‐‑]|(?<=\\d)[.,](?=\\d)){_WORD_CHARACTER}+)*")
# Marks that join their letter, and the invisible joiners Word leaves in text.
_MARKS = re.compile(
    "[\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670"
    "\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed\u00ad\u200c\u200d\u2060]"
)

CHARACTER_LANGUAGES = frozenset({"zh", "ja"})


@dataclass(frozen=True)
class Length:
    """Words in alphabetic scripts and CJK characters, kept apart so that the reply can
    speak of "words" or "characters" as the statement's language does."""

    words: int
    cjk_characters: int

    def measure(self, language: str | None) -> int:
        """The statement's length in its language's unit.

        For Chinese and Japanese that is the CJK characters plus the alphabetic words
        among them ("安理会第2730号决议" is 7 characters and one number: 8); for every
        other language it is the words plus any CJK characters, each counting one. The
        two rules give the same sum, as in Word; the language says which unit the sum is
        in (`CHARACTER_LANGUAGES`), and the limit it is compared with differs.
        """
        if language in CHARACTER_LANGUAGES:
            return self.cjk_characters + self.words
        return self.words + self.cjk_characters


def measure_text(text: str) -> Length:
    """Count a statement's words and CJK characters (see the module docstring)."""
    if _MARKS.search(text):
        text = _MARKS.sub("", text)
    cjk = sum(len(run) for run in _CJK_RUN.findall(text))
    words = len(_WORD.findall(text))
    return Length(words=words, cjk_characters=cjk)
