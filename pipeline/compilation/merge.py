"""Copy the body of a statement (.docx) into the compilation, as faithfully as Word allows.

Why XML rather than python-docx's paragraph API: python-docx can add paragraphs and runs
but has no "copy this paragraph from that document" -- rebuilding runs one property at a
time would silently lose whatever the rebuild forgets (underline styles, character
spacing, right-to-left marks, tab stops, table borders, cell merges). Copying the XML
keeps everything by default; the work is in what a copied element *refers to* outside
itself, each of which has to be brought along or the reference removed:

- styles (``w:pStyle``, ``w:rStyle``, ``w:tblStyle``): a style whose name exists in the
  compilation ("Normal", "Heading 1", "List Bullet", "Table Grid", ...) maps to it, so
  statements share the compilation's look; any other style is copied, with what it is
  based on, under its own id (renamed if the id is taken). The first definition of a
  name wins across statements.
- numbering (``w:numPr``): each list definition a statement uses is copied under new ids,
  so every statement's lists count from their own start.
- footnotes and endnotes: python-docx 1.2 has no API for them, so the compilation gets
  its own ``word/footnotes.xml`` / ``word/endnotes.xml`` part and each note is copied as
  XML under a new id (1, 2, ... through the whole compilation).
- relationships: pictures are copied (deduplicated by python-docx), external hyperlinks
  re-created; anything else that points outside the XML (charts, embedded objects, linked
  files) is dropped with its element.
- paragraph direction: an Arabic statement's right-to-left setting may live in its
  styles, which the compilation's "Normal" replaces; it is written on the paragraph
  itself (``w:bidi``) so it survives.

What is deliberately not kept: tracked changes are accepted (insertions kept, deletions
dropped), comments, bookmarks, content-control wrappers (their content is kept), text
boxes, shapes, charts, embedded objects, section breaks and the statement's page setup,
headers and footers. Theme colours and theme fonts are dropped (theme.py) unless the desk
keeps the statements' styles. docs/compilation.md lists it for the desk.

Every id the copy creates is counted from the compilation's own state, in document
order: the same statements in the same order give the same XML.

This module is the merge loop; the parts: `statement.py` maps one statement's ids to the
compilation's, `target.py` holds the compilation's definitions and counters,
`cleanup.py` removes and unwraps, `relationships.py` brings pictures and links,
`wordml.py` has the low-level XML helpers and `merge_report.py` what was kept and dropped.
"""

from __future__ import annotations

import io
from copy import deepcopy

import docx
from docx.document import Document as DocxDocument
from lxml import etree

from pipeline.compilation.merge_report import MergeReport
from pipeline.compilation.statement import Statement
from pipeline.compilation.target import CompilationTarget
from pipeline.compilation.theme import drop_theme_formatting
from pipeline.compilation.wordml import w, xpath

__all__ = ["DocumentMerger"]

_DOC_PR = xpath(".//wp:docPr")


class DocumentMerger:
    """Appends statements to one python-docx document; see the module docstring."""

    def __init__(self, target: DocxDocument, *, keep_styles: bool = False) -> None:
        self.target = target
        self.keep_styles = keep_styles
        self._body = target.element.body
        self._compilation = CompilationTarget(target)

    def append(self, content: bytes) -> MergeReport:
        """Copy the body of the .docx `content` to the end of the compilation.

        Raises what python-docx raises for a file it cannot open (callers check the file
        type and safety first and turn failures into a reason for the desk).
        """
        source = Statement(
            docx.Document(io.BytesIO(content)), self._compilation, keep_styles=self.keep_styles
        )
        body = deepcopy(source.document.element.body)
        for page_setup in body.findall(w("sectPr")):
            body.remove(page_setup)  # its headers, footers and page size stay behind
        report = MergeReport()
        source.prepare(body, source.document.part, self.target.part, report)
        anchor = self._body.find(w("sectPr"))
        for child in list(body):
            if not isinstance(child.tag, str):
                continue  # an XML comment
            if child.tag == w("p"):
                report.paragraphs += 1
            elif child.tag == w("tbl"):
                report.tables += 1
            else:
                report.dropped[f"{etree.QName(child).localname} elements"] += 1
                continue
            if anchor is not None:
                anchor.addprevious(child)
            else:
                self._body.append(child)
        return report

    def finish(self) -> None:
        """Give every picture a unique id (Word refuses duplicates) in document order;
        unless the statements' styles are kept, drop their theme colours and fonts
        (theme.py) from the text, the notes and the styles they brought."""
        roots = [self._body, *(part.element for part in self._compilation.note_parts())]
        if not self.keep_styles:
            for root in [*roots, self.target.styles.element]:
                drop_theme_formatting(root)
        number = 0
        for root in roots:
            for doc_pr in _DOC_PR(root):
                number += 1
                doc_pr.set("id", str(number))
