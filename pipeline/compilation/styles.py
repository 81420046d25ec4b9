"""The compilation's look: UN typography and page setup for a blank document.

As the printed S/ documents: US Letter, text 16.5 cm wide; Times New Roman 10 pt on a
12 pt line (Liberation Serif, metric-compatible, renders it where Times New Roman is
not installed), body text justified and indented 1.27 cm on both sides ("SingleTxt"),
the letter's paragraphs with a first-line indent, headings bold ("HCh" 14 pt for the
title and each annex, "H1" 12 pt for an annex's heading). Every style of python-docx's
template loses its theme colours and fonts (its headings are blue Calibri), so a
statement whose "Heading 1" maps to the compilation's comes out black Times New Roman.
"""

from __future__ import annotations

from typing import Any

import docx
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import parse_xml
from docx.shared import Cm, Inches, Pt

from pipeline.compilation.theme import drop_theme_formatting
from pipeline.compilation.wordml import W, after, w

__all__ = [
    "ANNEX_HEADING",
    "ANNEX_LABEL",
    "FONT",
    "INDENT",
    "LETTER_TEXT",
    "ORIGINAL",
    "SIGNATURE",
    "TEXT_WIDTH",
    "TITLE",
    "new_document",
]

FONT = "Times New Roman"
INDENT = Cm(1.27)  # the UN's half inch
TEXT_WIDTH = Inches(6.5)

# The compilation's own paragraph styles (statements keep theirs, see merge.py).
TITLE = "Compilation Title"
LETTER_TEXT = "Letter Text"
SIGNATURE = "Compilation Signature"
ANNEX_LABEL = "Annex Label"
ANNEX_HEADING = "Annex Heading"
ORIGINAL = "Original Language"

_HEADING_SIZES = {"Title": 14, "Subtitle": 12, "Heading 1": 12, "Heading 2": 11}


def new_document(language: str) -> DocxDocument:
    """python-docx's blank document, with the compilation's page, styles and settings."""
    document = docx.Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Inches(8.5), Inches(11)
    section.left_margin = section.right_margin = Inches(1)
    section.top_margin, section.bottom_margin = Inches(1), Inches(1)
    section.header_distance, section.footer_distance = Inches(0.5), Inches(0.5)
    _typography(document)
    _own_styles(document)
    _settings(document, language)
    return document


def _typography(document: DocxDocument) -> None:
    """Times New Roman 10 pt everywhere; no theme colour or font in any style."""
    styles = document.styles
    drop_theme_formatting(styles.element)
    defaults = styles.element.find(f"{w('docDefaults')}/{w('rPrDefault')}/{w('rPr')}")
    defaults.insert(
        0, parse_xml(f'<w:rFonts xmlns:w="{W}" w:ascii="{FONT}" w:hAnsi="{FONT}" w:cs="{FONT}"/>')
    )
    for size in (defaults.find(w("sz")), defaults.find(w("szCs"))):
        size.set(w("val"), "20")
    spacing = styles.element.find(f"{w('docDefaults')}/{w('pPrDefault')}/{w('pPr')}/{w('spacing')}")
    spacing.set(w("after"), "0")
    spacing.set(w("line"), "240")
    spacing.set(w("lineRule"), "atLeast")  # 12 pt; a statement's larger text still fits
    normal = styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(10)
    body = normal.paragraph_format
    body.left_indent = body.right_indent = INDENT
    body.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    body.space_after = Pt(6)
    body.line_spacing_rule = WD_LINE_SPACING.AT_LEAST
    body.line_spacing = Pt(12)
    for style in styles:
        if style.type != WD_STYLE_TYPE.PARAGRAPH or style.name == "Normal":
            continue
        style.font.color.rgb = None
        if style.name in _HEADING_SIZES:
            style.font.size = Pt(_HEADING_SIZES[style.name])
            style.font.bold = True
            style.font.italic = False
            style.paragraph_format.space_before = Pt(12)
            style.paragraph_format.space_after = Pt(6)
            style.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.LEFT
    for name in ("Header", "Footer"):
        tabs = styles[name].element.find(f"{w('pPr')}/{w('tabs')}")
        if tabs is not None:  # the template's centre tab: the furniture sets its own
            tabs.getparent().remove(tabs)
        plain = styles[name].paragraph_format
        plain.left_indent = plain.right_indent = Cm(0)
        plain.alignment = WD_ALIGN_PARAGRAPH.LEFT
        plain.space_after = Pt(0)


def _own_styles(document: DocxDocument) -> None:
    styles = document.styles
    normal = styles["Normal"]

    def add(name: str, *, size: float | None = None, bold: bool = False) -> Any:
        style = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = normal
        style.font.bold = bold
        if size is not None:
            style.font.size = Pt(size)
        style.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.LEFT
        return style

    def outline(style: Any, level: int) -> None:
        # Shown in Word's navigation pane: the annexes are the document's outline.
        style.element.get_or_add_pPr().insert_element_before(
            parse_xml(f'<w:outlineLvl xmlns:w="{W}" w:val="{level}"/>'), *after("w:outlineLvl")
        )

    title = add(TITLE, size=14, bold=True)  # "HCh"
    title.paragraph_format.space_before = Pt(24)
    title.paragraph_format.space_after = Pt(18)
    title.paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    title.paragraph_format.line_spacing = Pt(16)
    title.paragraph_format.keep_with_next = True
    letter = add(LETTER_TEXT)
    letter.paragraph_format.first_line_indent = INDENT
    letter.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    letter.paragraph_format.space_after = Pt(12)
    signature = add(SIGNATURE)
    signature.paragraph_format.left_indent = Cm(9.5)
    signature.paragraph_format.space_after = Pt(0)
    label = add(ANNEX_LABEL, size=14, bold=True)  # "HCh"
    label.paragraph_format.space_after = Pt(12)
    label.paragraph_format.keep_with_next = True
    outline(label, 0)
    heading = add(ANNEX_HEADING, size=12, bold=True)  # "H1"
    heading.paragraph_format.space_after = Pt(12)
    heading.paragraph_format.keep_with_next = True
    outline(heading, 1)
    original = add(ORIGINAL)
    original.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    original.paragraph_format.space_after = Pt(12)


def _settings(document: DocxDocument, language: str) -> None:
    """UN settings for a blank document: Chinese, not Japanese, East Asian fonts; no
    thumbnail of python-docx's empty template page."""
    font_language = document.settings.element.find(w("themeFontLang"))
    if font_language is not None:
        font_language.set(w("eastAsia"), "zh-CN")
        font_language.set(w("bidi"), "ar-SA")
    package_rels = document.part.package.rels
    for rid in [r.rId for r in package_rels.values() if r.reltype == RT.THUMBNAIL]:
        del package_rels[rid]
    document.core_properties.language = language
