"""UN typography for the words Intake writes: typographic quotes and apostrophes, and
non-breaking spaces where the UN editorial manual wants a line never to break.

Applied to every text the compilation renders from its templates and to the names and
titles it puts in them ("Côte d’Ivoire", “...”), never to a delegation's statement,
which is copied as sent. Why here and not in the template files: the names come from
the mission registry and the meeting titles from the configuration, both typed with
straight quotes on an ordinary keyboard.
"""

from __future__ import annotations

import re

__all__ = ["NBSP", "nonbreaking_date", "typeset"]

NBSP = "\u00a0"
_APOSTROPHE = re.compile(r"(?<=\w)'|'(?=\w)")  # "Côte d'Ivoire", "members' ", "'s"
_DOUBLE_QUOTES = re.compile(r'"([^"]*)"')
_NUMBER_SIGN = re.compile(r"\b(No|Nos)\. (?=\d)")
_FRENCH_HIGH_PUNCTUATION = re.compile(r"(?<=\S)[ \u00a0]?([:;!?»])(?!//)")
_FRENCH_OPENING = re.compile(r"«[ \u00a0]?")


def typeset(text: str, language: str) -> str:
    """`text` with typographic quotes and apostrophes and UN non-breaking spaces.

    English: “...” and ’; "No. 5" never breaks after "No.". French: « ... » with
    non-breaking spaces inside, and one before : ; ! ? as French typography has it.
    """
    text = _APOSTROPHE.sub("\u2019", text)
    if language == "fr":
        text = _DOUBLE_QUOTES.sub(lambda m: f"«{NBSP}{m.group(1).strip()}{NBSP}»", text)
        text = text.replace("“", "«").replace("”", "»")
        text = _FRENCH_OPENING.sub(f"«{NBSP}", text)
        text = _FRENCH_HIGH_PUNCTUATION.sub(lambda m: f"{NBSP}{m.group(1)}", text)
    else:
        text = _DOUBLE_QUOTES.sub(lambda m: f"\u201c{m.group(1)}\u201d", text)
    text = _NUMBER_SIGN.sub(lambda m: f"{m.group(1)}.{NBSP}", text)
    return text.replace("'", "\u2019")


def nonbreaking_date(text: str) -> str:
    """A written date ("28 May 2021") held on one line: its spaces become non-breaking."""
    return text.replace(" ", NBSP)
