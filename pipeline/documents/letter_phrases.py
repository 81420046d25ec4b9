"""The phrases a cover letter is checked for, in the six official languages.

Addressed to the President of the Security Council, signed by the Permanent
Representative or the Chargé d'affaires (a.i.), and the words of every formal letter
that help tell its language. Each phrase is a set of plain literals run through the
letter text's normalisation (letter_text.py), with the contexts that void a match:
"Note by the President" is a citation, not an address; a "Deputy Permanent
Representative" is not the Permanent Representative.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

from pipeline.documents.letter_text import WORD_START, norm

Kind = Literal["president", "pr", "charge", "evidence"]


@dataclass(frozen=True)
class Phrase:
    """Literal variants of one phrase; a match is void after/before a cancelling context.

    ``bounded`` asks for word boundaries, which Chinese (no spaces) and Arabic (attached
    proclitics: "لرئيس", "والمندوب") cannot have.
    """

    kind: Kind
    languages: tuple[str, ...]
    variants: tuple[str, ...]
    not_after: tuple[str, ...] = ()
    not_before: tuple[str, ...] = ()
    bounded: bool = True

    @property
    def pattern(self) -> re.Pattern[str]:
        return _compile_phrase(self)


@cache
def _compile_phrase(phrase: Phrase) -> re.Pattern[str]:
    body = "|".join(re.escape(norm(v)) for v in sorted(phrase.variants, key=len, reverse=True))
    return re.compile(f"{WORD_START}(?:{body})" if phrase.bounded else f"(?:{body})")


@cache
def _contexts(literals: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(norm(f"x{c}x")[1:-1] for c in literals)  # keep edge spaces


def matches(phrase: Phrase, text: str) -> list[int]:
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
    Phrase(
        "president",
        ("en",),
        ("President of the Security Council",),
        not_after=("note by the ", "statement by the ", "letter from the ", "vice-", "vice "),
    ),
    Phrase(
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
    Phrase(
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
    Phrase(
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
    Phrase(
        "president",
        ("zh",),
        ("安全理事会主席", "安理会主席", "安全理事會主席", "安理會主席"),
        not_before=("的说明", "说明", "的声明", "声明", "的說明", "說明", "聲明"),
        bounded=False,
    ),
    Phrase(
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
    Phrase(
        "pr",
        ("en",),
        ("Permanent Representative",),
        not_after=_NOT_THE_PR_AFTER,
        not_before=_NOT_THE_PR_BEFORE,
    ),
    Phrase(
        "pr",
        ("fr",),
        ("Représentant permanent",),
        not_after=_NOT_THE_PR_AFTER,
        not_before=_NOT_THE_PR_BEFORE,
    ),
    Phrase(
        "pr",
        ("es", "fr"),  # Spanish, and the French feminine
        ("Representante Permanente",),
        not_after=_NOT_THE_PR_AFTER,
        not_before=_NOT_THE_PR_BEFORE,
    ),
    Phrase(
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
    Phrase(
        "pr",
        ("zh",),
        ("常驻联合国代表", "常驻代表", "常駐聯合國代表", "常駐代表"),
        not_after=("副", "代理"),
        not_before=("团", "團", "处", "處"),  # 常驻联合国代表团: the Permanent Mission
        bounded=False,
    ),
    Phrase(
        "pr",
        ("ar",),
        ("المندوب الدائم", "المندوبة الدائمة", "الممثل الدائم", "الممثلة الدائمة"),
        not_after=("نائب ", "نائبة "),
        not_before=(" المناوب", " المناوبة", " بالنيابة"),
        bounded=False,
    ),
)

_CHARGE_D_AFFAIRES = (
    Phrase(
        "charge",
        ("en", "fr"),
        ("Chargé d'affaires", "Chargée d'affaires", "Charge d affaires", "Charge daffaires"),
    ),
    Phrase("charge", ("en",), ("Acting Permanent Representative",)),
    Phrase("charge", ("en",), ("Permanent Representative a.i.", "Permanent Representative a. i.")),
    Phrase(
        "charge",
        ("fr",),
        ("Représentant permanent par intérim", "Représentante permanente par intérim"),
    ),
    Phrase("charge", ("fr",), ("Représentant permanent a.i.", "Représentant permanent a. i.")),
    Phrase(
        "charge",
        ("es", "fr"),
        (
            "Representante Permanente a.i.",
            "Representante Permanente a. i.",
        ),
    ),
    Phrase(
        "charge",
        ("es",),
        (
            "Encargado de Negocios",
            "Encargada de Negocios",
            "Representante Permanente Interino",
            "Representante Permanente Interina",
        ),
    ),
    Phrase(
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
    Phrase("charge", ("zh",), ("临时代办", "臨時代辦", "代理常驻代表"), bounded=False),
    Phrase(
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
    Phrase("evidence", ("en",), ("(Signed)",), bounded=False),
    Phrase("evidence", ("fr",), ("(Signé)", "(Signée)"), bounded=False),
    Phrase("evidence", ("es",), ("(Firmado)", "(Firmada)"), bounded=False),
    Phrase("evidence", ("ru",), ("(Подпись)", "(Подписано)"), bounded=False),
    Phrase("evidence", ("zh",), ("（签名）", "（簽名）"), bounded=False),
    Phrase("evidence", ("ar",), ("(توقيع)",), bounded=False),
    Phrase("evidence", ("en",), ("United Nations",)),
    Phrase("evidence", ("en",), ("Security Council",)),
    Phrase("evidence", ("en",), ("I have the honour", "Excellency")),
    Phrase("evidence", ("fr",), ("Nations Unies",)),
    Phrase("evidence", ("fr",), ("Conseil de sécurité",)),
    Phrase("evidence", ("fr",), ("J'ai l'honneur", "Excellence")),
    Phrase("evidence", ("es",), ("Naciones Unidas",)),
    Phrase("evidence", ("es",), ("Consejo de Seguridad",)),
    Phrase("evidence", ("es",), ("Tengo el honor", "Excelencia")),
    Phrase("evidence", ("ru",), ("Объединенных Наций", "Объединённые Нации")),
    Phrase("evidence", ("ru",), ("Совета Безопасности", "Совет Безопасности")),
    Phrase("evidence", ("ru",), ("Имею честь", "Превосходительство")),
    Phrase("evidence", ("zh",), ("联合国", "聯合國"), bounded=False),
    Phrase("evidence", ("zh",), ("安全理事会", "安理会", "安全理事會"), bounded=False),
    Phrase("evidence", ("zh",), ("谨", "謹", "阁下", "閣下"), bounded=False),
    Phrase("evidence", ("ar",), ("الأمم المتحدة",), bounded=False),
    Phrase("evidence", ("ar",), ("مجلس الأمن",), bounded=False),
    Phrase("evidence", ("ar",), ("أتشرف", "سعادة"), bounded=False),
)

ALL_PHRASES = (*_PRESIDENT, *_PERMANENT_REPRESENTATIVE, *_CHARGE_D_AFFAIRES, *_EVIDENCE)
LANGUAGES = ("en", "fr", "es", "ru", "zh", "ar")
