"""The phrases sample documents are written with, read from ``pipeline/demo/texts/*.toml``.

Why this module exists: the statement phrase banks (English, French, Spanish) and the
fictional signatories are prose and names, not code; kept as TOML data files they can be
read and corrected like text. They ship inside the package (``importlib.resources``), so a
wheel install finds them without a checkout.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any, Literal, get_args

__all__ = ["LANGUAGES", "Language", "PhraseBank", "phrase_bank", "signer_names"]

Language = Literal["en", "fr", "es"]
#: The languages that have a phrase bank, in the order error messages list them.
LANGUAGES: tuple[str, ...] = get_args(Language)


@dataclass(frozen=True)
class PhraseBank:
    """Phrases of one language: statements are assembled from these, seeded by mission."""

    openings: tuple[str, ...]
    tribute: str
    body: tuple[str, ...]
    closing: str
    title: str
    subtitle: str
    check_against_delivery: str
    original: str
    table: tuple[tuple[str, str, str], ...]
    lang_tag: str


def _load(name: str) -> dict[str, Any]:
    return tomllib.loads(files("pipeline.demo").joinpath("texts", name).read_text("utf-8"))


@cache
def phrase_bank(language: str) -> PhraseBank:
    """The phrase bank of ``language`` ("en", "fr" or "es"); ValueError for any other."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; use 'en', 'fr' or 'es'")
    data = _load(f"{language}.toml")
    return PhraseBank(
        openings=tuple(data["openings"]),
        tribute=data["tribute"],
        body=tuple(data["body"]),
        closing=data["closing"],
        title=data["title"],
        subtitle=data["subtitle"],
        check_against_delivery=data["check_against_delivery"],
        original=data["original"],
        table=tuple((row[0], row[1], row[2]) for row in data["table"]),
        lang_tag=data["lang_tag"],
    )


@cache
def signer_names() -> tuple[str, ...]:
    """Fictional signatories of cover letters (some deliberately outside Latin-1)."""
    return tuple(_load("signers.toml")["names"])
