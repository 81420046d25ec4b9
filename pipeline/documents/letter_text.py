"""Cover letter text in comparable form, tied back character by character to the original.

Text reaches us through PDF or Word extraction: line breaks in the middle of phrases,
hyphenated words, curly apostrophes, presentation-form Arabic, spaces between Chinese
characters, accents present or not. `normalise` folds all of that away, and keeps for
every normalised character the span of the original it came from, so what is found in
the normalised text can be returned exactly as the letter writes it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Word boundaries in normalised text (for the phrases and the mission names).
WORD_START = r"(?<![^\W_])"  # not preceded by a letter or digit
WORD_END = r"(?![^\W_])"

_APOSTROPHES = frozenset("'’‘ʼ`´′‛ʹ＇")
_DASHES = frozenset("-‐‑‒–—―−﹣－")
_SOFT_HYPHEN = "\u00ad"
_ARABIC_MARKS = frozenset(chr(c) for c in (*range(0x064B, 0x0653), 0x0670, 0x0640))
_ARABIC_ALEFS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا"})


def is_cjk(ch: str) -> bool:
    """Whether `ch` is a Chinese character or CJK punctuation."""
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
class Normalised:
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


def normalise(text: str) -> Normalised:
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
            if not (is_cjk(out[-1]) and is_cjk(folded[0])):
                out.append(" ")
                spans.append(pending_space)
            pending_space = None
        for piece in folded:
            out.append(piece)
            spans.append((i, j))
        i = j
    return Normalised("".join(out), tuple(spans))


@lru_cache(maxsize=4096)
def norm(literal: str) -> str:
    """A phrase or name in normalised form (cached: the same names come with every
    letter of a mission)."""
    return normalise(literal).text
