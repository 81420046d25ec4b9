"""What the copy of a statement removes or unwraps before it joins the compilation.

Tracked changes are accepted (insertions kept, deletions dropped); comments, bookmarks,
section breaks, text boxes, shapes, charts and embedded objects go; content controls,
custom XML and smart tags are unwrapped (their content stays); the attributes Word wants
unique per document are dropped. Each removal a reader would notice is counted in the
statement's `MergeReport`.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from pipeline.compilation.merge_report import MergeReport
from pipeline.compilation.wordml import attached, remove, replace_with, w, xpath

# Optional attributes Word wants unique per document; two statements made from one
# template share them, so they are dropped (Word regenerates them on save).
_UNIQUE_ATTRIBUTES = (
    "{http://schemas.microsoft.com/office/word/2010/wordml}paraId",
    "{http://schemas.microsoft.com/office/word/2010/wordml}textId",
    "{http://schemas.microsoft.com/office/word/2010/wordprocessingDrawing}anchorId",
    "{http://schemas.microsoft.com/office/word/2010/wordprocessingDrawing}editId",
)
# Deleted text: a tracked deletion or the source of a tracked move (not paragraph marks).
_DELETIONS = xpath(".//w:del[not(parent::w:rPr or parent::w:trPr)]|.//w:moveFrom")
# Inserted text: keep the runs, lose the revision wrapper.
_INSERTIONS = xpath(".//w:ins[not(parent::w:rPr or parent::w:trPr)]|.//w:moveTo")
_DELETED_ROWS = xpath(".//w:tr[w:trPr/w:del]")
_DELETED_MARKS = xpath(".//w:p[w:pPr/w:rPr/w:del or w:pPr/w:rPr/w:moveFrom]")
_REVISION_MARKS = xpath(
    ".//w:rPrChange|.//w:pPrChange|.//w:sectPrChange|.//w:tblPrChange|.//w:tblGridChange"
    "|.//w:tcPrChange|.//w:trPrChange|.//w:tblPrExChange|.//w:numberingChange"
    "|.//w:rPr/w:ins|.//w:rPr/w:del|.//w:rPr/w:moveFrom|.//w:rPr/w:moveTo"
    "|.//w:trPr/w:ins|.//w:cellIns|.//w:cellDel|.//w:cellMerge"
    "|.//w:moveFromRangeStart|.//w:moveFromRangeEnd|.//w:moveToRangeStart"
    "|.//w:moveToRangeEnd|.//w:customXmlInsRangeStart|.//w:customXmlInsRangeEnd"
    "|.//w:customXmlDelRangeStart|.//w:customXmlDelRangeEnd|.//w:delText|.//w:delInstrText"
)
# Anchors and annotations that mean nothing outside their own document.
_ANNOTATIONS = xpath(
    ".//w:bookmarkStart|.//w:bookmarkEnd|.//w:commentRangeStart|.//w:commentRangeEnd"
    "|.//w:commentReference|.//w:permStart|.//w:permEnd|.//w:proofErr"
)
# A section break inside a statement would give the compilation the statement's page
# setup, headers and footers: the compilation has one section.
_SECTION_BREAKS = xpath(".//w:pPr/w:sectPr")
# Text boxes, shapes, VML pictures and embedded objects.
_UNSUPPORTED_OBJECTS = xpath(".//mc:AlternateContent|.//w:pict|.//w:object|.//w:altChunk")
# Wrappers whose content is kept: content controls, custom XML, smart tags.
_CONTENT_CONTROLS = xpath(".//w:sdt")
_WRAPPERS = xpath(".//w:customXml|.//w:smartTag")
_DRAWINGS = xpath(".//w:drawing")
_PICTURE = xpath(".//pic:pic")
_WITH_ATTRIBUTES = xpath(".//*[@*]")

_OBJECT_NAMES = {
    "AlternateContent": "text boxes, shapes or charts",
    "pict": "text boxes or legacy pictures",
    "object": "embedded objects",
    "altChunk": "imported documents",
}


def accept_revisions(root: Any, report: MergeReport) -> None:
    """Accept every tracked change under `root`: insertions stay, deletions go."""
    deletions = _DELETIONS(root)
    if deletions:
        report.dropped["tracked deletions (accepted)"] += len(deletions)
    for node in deletions:
        remove(node)
    for row in _DELETED_ROWS(root):
        remove(row)
    for node in _INSERTIONS(root):
        replace_with(node, node)
    # A deleted paragraph mark joins the paragraph to the next one.
    for paragraph in _DELETED_MARKS(root):
        following = paragraph.getnext()
        if following is not None and following.tag == w("p"):
            content = [c for c in paragraph if c.tag != w("pPr")]
            properties = following.find(w("pPr"))
            position = 0 if properties is None else 1
            for offset, child in enumerate(content):
                following.insert(position + offset, child)
            remove(paragraph)
    for node in _REVISION_MARKS(root):
        remove(node)


def drop_foreign(root: Any, report: MergeReport) -> None:
    """Remove what means nothing in the compilation; unwrap what only wraps content."""
    annotations = _ANNOTATIONS(root)
    comments = sum(1 for node in annotations if node.tag == w("commentReference"))
    if comments:
        report.dropped["comments"] += comments
    for node in annotations:
        remove(node)
    breaks = _SECTION_BREAKS(root)
    if breaks:
        report.dropped["section breaks"] += len(breaks)
    for node in breaks:
        remove(node)
    for node in _UNSUPPORTED_OBJECTS(root):
        if attached(node, root):
            report.dropped[_OBJECT_NAMES[etree.QName(node).localname]] += 1
            remove(node)
    for node in _DRAWINGS(root):
        if not _PICTURE(node):
            report.dropped["text boxes, shapes or charts"] += 1
            remove(node)
    for control in _CONTENT_CONTROLS(root):
        content = control.find(w("sdtContent"))
        replace_with(control, [] if content is None else content)
    for wrapper in _WRAPPERS(root):
        replace_with(
            wrapper,
            [c for c in wrapper if c.tag not in (w("customXmlPr"), w("smartTagPr"))],
        )
    for node in _WITH_ATTRIBUTES(root):
        for name in _UNIQUE_ATTRIBUTES:
            node.attrib.pop(name, None)
