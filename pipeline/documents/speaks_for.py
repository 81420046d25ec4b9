"""Whom a statement and a cover letter speak for: the missions they name as their author.

A desk officer reads the letterhead and the signature of the letter, and the title of the
statement. So do we, in the six languages, through the phrases that introduce the author:

* after "Statement by / of", "Déclaration de", "Intervención de", "Выступление",
  "Заявление", "بيان", "كلمة", "Permanent Mission / Representative of", "Mission
  permanente de", "Misión Permanente de", "Постоянное представительство", "البعثة
  الدائمة", "Chargé d'affaires (a.i.) of", "delegation" (and its translations): the
  first mission named within a few words (`_AFTER` characters) -- "Statement by H.E.
  Ambassador Nicolas de Rivière, Permanent Representative of France" names France
  through its second phrase. A statement must be "by" or "of" someone: "Statement at
  the open debate on Afghanistan", "Déclaration sur la situation au Mali" name no author;
* before "发言", "声明", "讲话", "常驻联合国代表", "代表团", "临时代办": the last
  mission named just before ("中国常驻联合国代表..." names China).

In the letter every line counts (the letterhead, the body's "statement of X", the
signature block, and also an addressee block "Permanent Representative of Estonia,
President of the Security Council"); in the statement only its title and the lines before
the speech begins (the first "Mr. President", "Monsieur le Président", "主席先生"...),
at most `_HEADER_PARAGRAPHS` of them: the speech itself names other missions freely.

The result is every mission so named, in order: a document names the sender's mission
when the sender is among them, so the presidency's name beside it, or a group the
statement is made on behalf of, is no mismatch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipeline.documents.letter_text import WORD_START, normalise
from pipeline.documents.mission_mentions import Mention, mentions

__all__ = ["letter_missions", "statement_missions"]

_AFTER = 70  # characters after a phrase in which the author is named
_BEFORE = 30  # characters before a Chinese phrase
_HEADER_PARAGRAPHS = 6
_HEADER_CHARACTERS = 400  # of each such paragraph

_AFTER_PHRASES = re.compile(
    WORD_START
    # A statement "by" someone: "Statement at the debate on Afghanistan" names no author.
    + r"(?:(?:(?:statement|remarks|intervention|speech|address|message)(?: delivered)?"
    r"|delivered) (?:by|of|from) |"
    r"(?:declaration|intervention|discours|allocution|message)(?: prononcee?)? "
    r"(?:de |du |des |d'|par )|"
    r"(?:declaracion|intervencion|discurso|palabras|mensaje)(?: pronunciad[oa]s?)? "
    r"(?:de |del |por )|"
    r"permanent mission|permanent representative|charge d'affaires|chargee d'affaires|"
    r"delegation|mission permanente|representante? permanente?|"
    r"mision permanente|encargad[oa] de negocios|delegacion|"
    r"заявлени[а-я]*|выступлени[а-я]*|постоянн[а-я]* представител[а-я]*|"
    r"временн[а-я]* поверенн[а-я]*|делегаци[а-я]*|"
    r"بيان|كلمة|البعثة الدائمة|المندوب الدائم|المندوبة الدائمة|الممثل الدائم|"
    r"الممثلة الدائمة|القائم بالاعمال|وفد)"
)
_BEFORE_PHRASES = re.compile(r"发言|声明|讲话|常驻联合国代表|常驻代表|代表团|临时代办")
_SPEECH_BEGINS = re.compile(
    r"^(?:mr\.? president|madam president|mister president|excellenc|"
    r"monsieur le president|madame la presidente|"
    r"senor presidente|senora presidenta|excelentisim|"
    r"господин председатель|госпожа председатель|уважаем|"
    r"主席先生|主席女士|السيد الرئيس|السيدة الرئيسة)"
)


def _named_as_author(normalised_text: str) -> list[str]:
    """The missions the phrases introduce, in the order the text names them."""
    found = list(mentions(normalised_text))
    named: list[Mention] = []
    for phrase in _AFTER_PHRASES.finditer(normalised_text):
        end = phrase.end()
        first = next((m for m in found if end <= m.start <= end + _AFTER), None)
        if first is not None:
            named.append(first)
    for phrase in _BEFORE_PHRASES.finditer(normalised_text):
        start = phrase.start()
        before = [m for m in found if start - _BEFORE <= m.start and m.end <= start]
        if before:
            named.append(before[-1])
    return [mention.code for mention in sorted(named, key=lambda m: m.start)]


def _unique(codes: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(codes))


def letter_missions(text: str | None) -> tuple[str, ...]:
    """The missions a cover letter names as its author (codes, first named first)."""
    if not text:
        return ()
    return _unique(_named_as_author(normalise(text).text))


def statement_missions(title: str | None, text: str | None) -> tuple[str, ...]:
    """The missions a statement's title and opening lines name as its author."""
    paragraphs: list[str] = [title] if title else []
    for paragraph in (text or "").split("\n")[:_HEADER_PARAGRAPHS]:
        normalised = normalise(paragraph[:_HEADER_CHARACTERS]).text
        if _SPEECH_BEGINS.match(normalised):
            break
        paragraphs.append(paragraph[:_HEADER_CHARACTERS])
    codes: list[str] = []
    for paragraph in paragraphs:
        codes += _named_as_author(normalise(paragraph).text)
    return _unique(codes)
