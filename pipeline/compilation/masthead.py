"""The page furniture of an S/ document: the masthead on the first page, the symbol and
`n/N` on every later page, the job number at the foot.

As the printed documents have it: the first page's header is the masthead -- "United
Nations" and the symbol (large, bold) over a thick rule, "Security Council" (large) and
the distribution block ("Distr.: General", the date, "Original: English") over another;
the later pages carry the symbol in the header and the page number as `n/N` (PAGE and
NUMPAGES fields) in the footer, on the outer side: right on odd pages, left on even ones
(Word's different odd and even headers). The job number ("21-07431 (E)") is printed at
the foot of the first page, and opposite the page number later, only when the desk
gives one: nothing is invented.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from docx.document import Document as DocxDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT
from docx.oxml import parse_xml
from docx.section import _Footer, _Header
from docx.shared import Cm, Pt
from docx.text.paragraph import Paragraph

from pipeline.compilation.styles import TEXT_WIDTH
from pipeline.compilation.wordml import W, after

__all__ = ["SYMBOL_PLACEHOLDER", "Masthead", "write_page_furniture"]

SYMBOL_PLACEHOLDER = "S/____/___"  # shown until the desk gives the real symbol
_LEFT_COLUMN = Cm(9.5)
_TBLPR_AFTER_BORDERS = (
    "w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook", "w:tblCaption", "w:tblDescription",
    "w:tblPrChange",
)  # fmt: skip


@dataclass(frozen=True)
class Masthead:
    """What the first page's masthead says, in the compilation's language."""

    symbol: str  # "S/2021/999", or SYMBOL_PLACEHOLDER
    united_nations: str  # "United Nations"
    organ: str  # "Security Council"
    distribution: str  # "Distr.: General"
    issued: str  # "28 May 2021"
    original: str  # "Original: English"
    job_number: str | None = None  # "21-07431 (E)", printed at the foot when given


def write_page_furniture(document: DocxDocument, masthead: Masthead) -> None:
    """Headers and footers of the compilation's one section (see the module docstring)."""
    section = document.sections[0]
    section.different_first_page_header_footer = True
    document.settings.odd_and_even_pages_header_footer = True
    _masthead(section.first_page_header, masthead)
    _first_footer(section.first_page_footer, masthead.job_number)
    for header, side in ((section.header, "right"), (section.even_page_header, "left")):
        _running_header(header, masthead.symbol, side)
    for footer, side in ((section.footer, "right"), (section.even_page_footer, "left")):
        _running_footer(footer, masthead.job_number, side)


def _masthead(header: _Header, masthead: Masthead) -> None:
    header.is_linked_to_previous = False
    table = header.add_table(2, 2, TEXT_WIDTH)
    table.alignment = WD_TABLE_ALIGNMENT.LEFT
    table.autofit = False
    _plain_table(table)
    widths = (_LEFT_COLUMN, TEXT_WIDTH - _LEFT_COLUMN)
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=True):
            cell.width = width
    top, bottom = table.rows
    _text(top.cells[0].paragraphs[0], masthead.united_nations, size=14, bold=True)
    symbol = top.cells[1].paragraphs[0]
    symbol.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _text(symbol, masthead.symbol, size=20, bold=True)
    _bottom_rule(top, eighths=18)  # 2.25 pt
    organ = bottom.cells[0].paragraphs[0]
    organ.paragraph_format.space_before = Pt(6)
    _text(organ, masthead.organ, size=24, bold=True)
    block = bottom.cells[1]
    lines = (masthead.distribution, masthead.issued, "", masthead.original)
    for index, line in enumerate(lines):
        paragraph = block.paragraphs[0] if index == 0 else block.add_paragraph()
        paragraph.paragraph_format.left_indent = Cm(1.5)
        if index == 0:
            paragraph.paragraph_format.space_before = Pt(6)
        if index == len(lines) - 1:
            paragraph.paragraph_format.space_after = Pt(8)
        _text(paragraph, line, size=10)
    _bottom_rule(bottom, eighths=24)  # 3 pt
    # Word wants a paragraph after a table; a small one keeps the header compact.
    _text(header.paragraphs[-1], "", size=4)
    header.paragraphs[-1].paragraph_format.space_after = Pt(12)


def _running_header(header: _Header, symbol: str, side: str) -> None:
    header.is_linked_to_previous = False
    paragraph = header.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT if side == "right" else WD_ALIGN_PARAGRAPH.LEFT
    paragraph.paragraph_format.space_after = Pt(18)
    _text(paragraph, symbol, size=10, bold=True)
    paragraph._p.get_or_add_pPr().insert_element_before(
        parse_xml(
            f'<w:pBdr xmlns:w="{W}"><w:bottom w:val="single" w:sz="4" w:space="1" '
            'w:color="auto"/></w:pBdr>'
        ),
        *after("w:pBdr"),
    )


def _running_footer(footer: _Footer, job_number: str | None, side: str) -> None:
    """`n/N` on the outer side, the job number (when given) on the inner side."""
    footer.is_linked_to_previous = False
    paragraph = footer.paragraphs[0]
    paragraph.paragraph_format.tab_stops.add_tab_stop(TEXT_WIDTH, WD_TAB_ALIGNMENT.RIGHT)
    if side == "right":
        if job_number:
            _text(paragraph, job_number, size=8)
        paragraph.add_run("\t")
        _page_of_pages(paragraph)
    else:
        _page_of_pages(paragraph)
        if job_number:
            paragraph.add_run("\t")
            _text(paragraph, job_number, size=8)


def _first_footer(footer: _Footer, job_number: str | None) -> None:
    footer.is_linked_to_previous = False
    if job_number:
        _text(footer.paragraphs[0], job_number, size=8)


def _page_of_pages(paragraph: Paragraph) -> None:
    """ "3/12": the PAGE and NUMPAGES fields, as the printed documents number pages."""
    for index, (instruction, shown) in enumerate((("PAGE", "1"), ("NUMPAGES", "1"))):
        if index:
            _text(paragraph, "/", size=8, bold=True)
        for kind in ("begin", None, "separate", shown, "end"):
            run = paragraph.add_run()
            run.font.size = Pt(8)
            run.font.bold = True
            if kind is None:
                run._r.append(
                    parse_xml(
                        f'<w:instrText xmlns:w="{W}" xml:space="preserve"> {instruction} '
                        "</w:instrText>"
                    )
                )
            elif kind in ("begin", "separate", "end"):
                run._r.append(parse_xml(f'<w:fldChar xmlns:w="{W}" w:fldCharType="{kind}"/>'))
            else:
                run.text = kind


def _text(paragraph: Paragraph, text: str, *, size: float, bold: bool = False) -> None:
    paragraph.paragraph_format.left_indent = paragraph.paragraph_format.left_indent or Cm(0)
    paragraph.paragraph_format.right_indent = Cm(0)
    if paragraph.alignment is None:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.LEFT
    run = paragraph.add_run(text)
    run.font.size = Pt(size)
    run.font.bold = bold


def _plain_table(table: Any) -> None:
    """No borders and no cell margins: the masthead is type and two rules."""
    properties = table._tbl.tblPr
    edges = ("top", "left", "bottom", "right", "insideH", "insideV")
    properties.insert_element_before(
        parse_xml(
            f'<w:tblBorders xmlns:w="{W}">'
            + "".join(f'<w:{edge} w:val="nil"/>' for edge in edges)
            + "</w:tblBorders>"
        ),
        *_TBLPR_AFTER_BORDERS,
    )
    properties.insert_element_before(
        parse_xml(
            f'<w:tblCellMar xmlns:w="{W}"><w:left w:w="0" w:type="dxa"/>'
            '<w:right w:w="0" w:type="dxa"/></w:tblCellMar>'
        ),
        "w:tblLook",
        "w:tblCaption",
        "w:tblDescription",
        "w:tblPrChange",
    )
    table.style = None


def _bottom_rule(row: Any, *, eighths: int) -> None:
    """A rule under every cell of `row`, `eighths` eighths of a point thick."""
    for cell in row.cells:
        properties = cell._tc.get_or_add_tcPr()
        properties.append(
            parse_xml(
                f'<w:tcBorders xmlns:w="{W}"><w:bottom w:val="single" w:sz="{eighths}" '
                'w:space="0" w:color="auto"/></w:tcBorders>'
            )
        )
