"""Sample statements: plausible texts of controlled length, as Word files or PDFs.

Why this module exists: checks such as "statement too long", language detection and
text extraction need statements that read like real ones, in English, French or
Spanish, and whose size is controlled. The text is assembled from the phrase banks in
``pipeline/demo/texts/``, seeded per mission, so it is identical across runs and
processes yet differs between delegations.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt

from pipeline.demo.determinism import seed
from pipeline.demo.meetings import Meeting
from pipeline.demo.pdf import Block, render_pdf
from pipeline.demo.texts import Language, phrase_bank
from pipeline.demo.word import save_docx, set_default_language

__all__ = [
    "sample_statement_text",
    "statement_docx",
    "statement_pdf",
    "statement_subtitle",
    "statement_title",
]


def _word_count(paragraphs: Sequence[str]) -> int:
    return sum(len(p.split()) for p in paragraphs)


def statement_title(mission_name: str, *, language: Language = "en") -> str:
    """Heading a delegation would put on its statement ("Statement by Ghana")."""
    return phrase_bank(language).title.format(mission=mission_name)


def statement_subtitle(meeting: Meeting, *, language: Language = "en") -> str:
    """The line under the heading naming the debate, in the statement's language."""
    return phrase_bank(language).subtitle.format(
        title=meeting.title_in(language), date=meeting.date_in(language)
    )


def sample_statement_text(
    mission_name: str, words: int = 350, *, language: Language = "en"
) -> list[str]:
    """Plausible statement paragraphs on peacekeeper safety, about ``words`` words long.

    Why: checks such as "statement too long" or language detection need texts that read
    like real statements and whose size is controlled. The text is assembled from a phrase
    bank with a generator seeded by sha256 of the mission name and language, so it is
    identical across runs and processes, yet differs between missions (a test can tell two
    delegations' statements apart). The result lands within about half a sentence of
    ``words``; very small requests are truncated to exactly ``words`` words.
    """
    if words < 1:
        raise ValueError("words must be at least 1")
    bank = phrase_bank(language)
    rng = random.Random(seed("statement", mission_name, language))
    head = f"{rng.choice(bank.openings)} {bank.tribute}".format(mission=mission_name)
    tail = bank.closing.format(mission=mission_name)
    fixed = _word_count([head, tail])
    if words <= fixed:
        tokens = f"{head} {tail}".split()[:words]
        text = " ".join(tokens).rstrip(",;:")
        return [text if text.endswith((".", "!", "?")) else text + "."]

    budget = words - fixed
    chosen: list[str] = []
    count = 0
    pool: list[str] = []
    while count < budget:
        if not pool:
            pool = list(bank.body)
            rng.shuffle(pool)
        sentence = pool.pop().format(mission=mission_name)
        n = len(sentence.split())
        # Stop rather than overshoot by more than we would undershoot.
        if count + n - budget > budget - count:
            break
        chosen.append(sentence)
        count += n

    body: list[str] = []
    i = 0
    while i < len(chosen):
        size = rng.choice((2, 3, 3, 4))
        body.append(" ".join(chosen[i : i + size]))
        i += size
    return [head, *body, tail]


def statement_docx(
    title: str,
    paragraphs: Sequence[str],
    *,
    language: Language = "en",
    subtitle: str | None = None,
    with_table: bool = False,
    author: str = "Permanent Mission",
) -> bytes:
    """A real Word statement: heading, a bold/italic "check against delivery" line, body.

    Why: the pipeline extracts text, word counts and language from the .docx itself, so the
    sample must be what Word would produce rather than a renamed text file. The body
    paragraphs appear verbatim as document paragraphs, in order; ``with_table`` adds a
    small table because real statements sometimes carry one and text extraction must not
    choke on it.
    """
    bank = phrase_bank(language)
    document = Document()
    set_default_language(document, bank.lang_tag)
    document.add_heading(title, level=1)
    if subtitle:
        document.add_paragraph(subtitle, style="Subtitle")

    marker = document.add_paragraph()
    marker.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    bold = marker.add_run(bank.check_against_delivery)
    bold.bold = True
    marker.add_run(" – ")
    italic = marker.add_run(bank.original)
    italic.italic = True

    for text in paragraphs:
        paragraph = document.add_paragraph(text)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
        paragraph.paragraph_format.space_after = Pt(8)

    if with_table:
        rows = bank.table
        table = document.add_table(rows=len(rows), cols=len(rows[0]))
        table.style = "Table Grid"
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                cell = table.cell(r, c)
                cell.text = value
                if r == 0:
                    for run in cell.paragraphs[0].runs:
                        run.bold = True

    return save_docx(document, title=title, author=author, language=bank.lang_tag)


def statement_pdf(
    title: str,
    paragraphs: Sequence[str],
    *,
    language: Language = "en",
    subtitle: str | None = None,
    with_text_layer: bool = True,
    compress: bool = False,
) -> bytes:
    """A statement sent as PDF instead of Word (multi-page when long).

    Why: delegations are asked for a .docx but some send a PDF; the pipeline must notice
    the wrong format while still being able to read the text.
    """
    bank = phrase_bank(language)
    blocks = [Block(title, size=14, bold=True)]
    if subtitle:
        blocks.append(Block(subtitle, size=11, space_before=6))
    blocks.append(
        Block(f"{bank.check_against_delivery} - {bank.original}", size=9, align="right",
               space_before=10)
    )  # fmt: skip
    blocks.extend(Block(text, space_before=9) for text in paragraphs)
    return render_pdf(
        blocks,
        with_text_layer=with_text_layer,
        compress=compress,
        info={"Title": title, "Producer": "Intake demo samples", "Language": bank.lang_tag},
        seed=seed("statement-pdf", title),
    )
