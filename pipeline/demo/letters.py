"""Sample cover letters: one wording, typed in Word or sent as a PDF, with or without text.

Why this module exists: a delegation's statement comes with a letter "dated ... from the
Permanent Representative ... addressed to the President of the Security Council", signed
"(Signed) NAME, Permanent Representative". The pipeline must recognize it by its wording
whatever the file format, and notice a scan from which no text can be read; the same
wording is also available as plain paragraphs for the tests' expectations.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH

from pipeline.demo.determinism import seed
from pipeline.demo.meetings import PKO_SAFETY
from pipeline.demo.names import default_signer, filename_slug
from pipeline.demo.pdf import Block, render_pdf
from pipeline.demo.word import save_docx, set_default_language

__all__ = ["DEFAULT_LETTER_DATE", "cover_letter_docx", "cover_letter_pdf", "cover_letter_text"]

#: Date written on cover letters unless told otherwise: a few days before the debate,
#: which is when delegations usually send their statements.
DEFAULT_LETTER_DATE = "20 May 2021"


def _mission_clause(mission_name: str, signatory: str) -> str:
    """UN style: a Representative is "of X", anybody else "of the Permanent Mission of X"."""
    if "representative" in signatory.lower():
        return f"{signatory} of {mission_name}"
    return f"{signatory} of the Permanent Mission of {mission_name}"


@dataclass(frozen=True)
class _LetterText:
    """The parts of a cover letter, in reading order, before any file format."""

    letterhead: tuple[str, ...]
    reference: str
    place_date: str
    heading: str
    salutation: str
    body: tuple[str, ...]
    closing: str
    signature: str
    addressee: tuple[str, ...]


def _letter_text(
    mission_name: str,
    *,
    signatory: str,
    meeting_title: str,
    date_text: str,
    meeting_date_text: str,
    signer_name: str | None,
) -> _LetterText:
    """The single source of the cover letter's wording, shared by the Word and PDF forms."""
    rng = random.Random(seed("letter", mission_name))
    signer = signer_name or default_signer(mission_name)
    return _LetterText(
        letterhead=(
            f"Permanent Mission of {mission_name} to the United Nations",
            f"{rng.randint(100, 899)} {rng.choice(('East', 'Second', 'Third'))} "
            f"{rng.choice(('Avenue', 'Street'))}, New York, NY 10017",
        ),
        reference=f"Ref.: {filename_slug(mission_name)[:3].upper()}/UNSC/{rng.randint(10, 999)}",
        place_date=f"New York, {date_text}",
        heading=(
            f"Letter dated {date_text} from the {_mission_clause(mission_name, signatory)} "
            "to the United Nations addressed to the President of the Security Council"
        ),
        salutation="Excellency,",
        body=(
            f"I have the honour to transmit herewith the statement of {mission_name} for the "
            f"open debate of the Security Council on “{meeting_title}”, to be held on "
            f"{meeting_date_text} (see annex).",
            "I should be grateful if the present letter and its annex could be circulated "
            "as a document of the Security Council.",
        ),
        closing="Please accept, Excellency, the assurances of my highest consideration.",
        signature=f"(Signed) {signer}, {signatory}",
        addressee=(
            "The President of the Security Council",
            "United Nations",
            "New York",
        ),
    )


def cover_letter_text(
    mission_name: str,
    *,
    signatory: str = "Permanent Representative",
    meeting_title: str = PKO_SAFETY.title,
    date_text: str = DEFAULT_LETTER_DATE,
    meeting_date_text: str = PKO_SAFETY.date_text,
    signer_name: str | None = None,
) -> list[str]:
    """The cover letter as plain paragraphs, in reading order.

    Why: tests of cover-letter checks need the expected wording without parsing the
    generated .docx or PDF; this is exactly what both formats contain (the PDF in its
    Latin-1 transliteration).
    """
    t = _letter_text(
        mission_name,
        signatory=signatory,
        meeting_title=meeting_title,
        date_text=date_text,
        meeting_date_text=meeting_date_text,
        signer_name=signer_name,
    )
    return [
        *t.letterhead,
        t.reference,
        t.place_date,
        t.heading,
        t.salutation,
        *t.body,
        t.closing,
        t.signature,
        *t.addressee,
    ]


def cover_letter_docx(
    mission_name: str,
    *,
    signatory: str = "Permanent Representative",
    meeting_title: str = PKO_SAFETY.title,
    date_text: str = DEFAULT_LETTER_DATE,
    meeting_date_text: str = PKO_SAFETY.date_text,
    signer_name: str | None = None,
) -> bytes:
    """A cover letter typed in Word, as some delegations send instead of a signed scan.

    Why: the pipeline must recognize a cover letter by its wording ("Letter dated ...
    addressed to the President of the Security Council", "(Signed) NAME, Permanent
    Representative") whatever the file format. ``signatory`` may be e.g. "Chargé
    d'affaires a.i." to exercise that branch; the signer's name defaults to a fictional
    name stable per mission.
    """
    t = _letter_text(
        mission_name,
        signatory=signatory,
        meeting_title=meeting_title,
        date_text=date_text,
        meeting_date_text=meeting_date_text,
        signer_name=signer_name,
    )
    document = Document()
    set_default_language(document, "en-GB")
    for i, line in enumerate(t.letterhead):
        p = document.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = p.add_run(line)
        run.bold = i == 0
    document.add_paragraph(t.reference)
    date_p = document.add_paragraph(t.place_date)
    date_p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    heading = document.add_paragraph()
    heading.add_run(t.heading).bold = True
    document.add_paragraph(t.salutation)
    for text in t.body:
        p = document.add_paragraph(text)
        p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    document.add_paragraph(t.closing)
    document.add_paragraph(t.signature)
    for line in t.addressee:
        document.add_paragraph(line)
    return save_docx(
        document,
        title=t.heading,
        author=f"Permanent Mission of {mission_name}",
        language="en-GB",
    )


def cover_letter_pdf(
    mission_name: str,
    *,
    signatory: str = "Permanent Representative",
    meeting_title: str = PKO_SAFETY.title,
    date_text: str = DEFAULT_LETTER_DATE,
    meeting_date_text: str = PKO_SAFETY.date_text,
    signer_name: str | None = None,
    with_text_layer: bool = True,
    compress: bool = False,
) -> bytes:
    """The cover letter as a one-page PDF, with or without a text layer.

    Why: most cover letters arrive as PDFs, many of them scans. With
    ``with_text_layer=True`` the letter's lines are Helvetica text (Latin-1 transliterated)
    that ``pdftotext`` and similar tools extract; with ``False`` the page only draws vector
    shapes, like a scan, so nothing is extractable. ``compress`` Flate-encodes the content
    stream as most producers do; it is off by default so that naive extractors work too.
    """
    t = _letter_text(
        mission_name,
        signatory=signatory,
        meeting_title=meeting_title,
        date_text=date_text,
        meeting_date_text=meeting_date_text,
        signer_name=signer_name,
    )
    blocks = [
        Block(t.letterhead[0], size=12, bold=True, align="center"),
        Block(t.letterhead[1], size=9, align="center"),
        Block(t.reference, size=10, space_before=18),
        Block(t.place_date, align="right", space_before=4),
        Block(t.heading, bold=True, space_before=18),
        Block(t.salutation, space_before=14),
        *(Block(text, space_before=8) for text in t.body),
        Block(t.closing, space_before=8),
        Block(t.signature, space_before=40),
        *(Block(line, space_before=28 if i == 0 else 0) for i, line in enumerate(t.addressee)),
    ]
    info = (
        {"Title": t.heading, "Author": f"Permanent Mission of {mission_name}",
         "Producer": "Intake demo samples"}
        if with_text_layer
        else {"Creator": "Network scanner", "Producer": "Intake demo samples (scan imitation)"}
    )  # fmt: skip
    return render_pdf(
        blocks,
        with_text_layer=with_text_layer,
        compress=compress,
        info=info,
        seed=seed("cover-pdf", mission_name, date_text),
    )
