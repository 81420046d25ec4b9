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
headers and footers. docs/compilation.md lists it for the desk.

Every id the copy creates is counted from the compilation's own state, in document
order: the same statements in the same order give the same XML.
"""

from __future__ import annotations

import io
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

import docx
from docx.document import Document as DocxDocument
from docx.image.exceptions import UnrecognizedImageError
from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import Part, XmlPart
from docx.oxml import parse_xml
from lxml import etree

log = logging.getLogger(__name__)

__all__ = ["DocumentMerger", "MergeReport"]

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS = {
    "w": W,
    "r": R,
    "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
    "pic": "http://schemas.openxmlformats.org/drawingml/2006/picture",
    "wp": "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing",
    "mc": "http://schemas.openxmlformats.org/markup-compatibility/2006",
    "v": "urn:schemas-microsoft-com:vml",
}
_R_PREFIX = f"{{{R}}}"
# Optional attributes Word wants unique per document; two statements made from one
# template share them, so they are dropped (Word regenerates them on save).
_UNIQUE_ATTRIBUTES = (
    "{http://schemas.microsoft.com/office/word/2010/wordml}paraId",
    "{http://schemas.microsoft.com/office/word/2010/wordml}textId",
    "{http://schemas.microsoft.com/office/word/2010/wordprocessingDrawing}anchorId",
    "{http://schemas.microsoft.com/office/word/2010/wordprocessingDrawing}editId",
)
# Paragraph properties in ECMA-376 sequence order (a child must go before its successors).
_PPR_ORDER = (
    "w:pStyle", "w:keepNext", "w:keepLines", "w:pageBreakBefore", "w:framePr",
    "w:widowControl", "w:numPr", "w:suppressLineNumbers", "w:pBdr", "w:shd", "w:tabs",
    "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct",
    "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd",
    "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents",
    "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment",
    "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr",
    "w:pPrChange",
)  # fmt: skip


def after(name: str) -> tuple[str, ...]:
    """The paragraph properties that must follow `name` ("w:bidi")."""
    return _PPR_ORDER[_PPR_ORDER.index(name) + 1 :]


# Settings children that come after w:footnotePr / w:endnotePr.
_SETTINGS_AFTER_NOTES = (
    "w:compat", "w:docVars", "w:rsids", "m:mathPr", "w:attachedSchema", "w:themeFontLang",
    "w:clrSchemeMapping", "w:doNotIncludeSubdocsInStats", "w:doNotAutoCompressPictures",
    "w:forceUpgrade", "w:captions", "w:readModeInkLockDown", "w:smartTagType",
    "sl:schemaLibrary", "w:shapeDefaults", "w:doNotEmbedSmartTags", "w:decimalSymbol",
    "w:listSeparator", "w14:docId",
)  # fmt: skip


def _w(tag: str) -> str:
    return f"{{{W}}}{tag}"


def _xpath(expression: str) -> Callable[[Any], list[Any]]:
    compiled = etree.XPath(expression, namespaces=NS)

    def run(node: Any) -> list[Any]:
        result: list[Any] = compiled(node)
        return result

    return run


# -- what the copy removes or unwraps ---------------------------------------------------

# Deleted text: a tracked deletion or the source of a tracked move (not paragraph marks).
_DELETIONS = _xpath(".//w:del[not(parent::w:rPr or parent::w:trPr)]|.//w:moveFrom")
# Inserted text: keep the runs, lose the revision wrapper.
_INSERTIONS = _xpath(".//w:ins[not(parent::w:rPr or parent::w:trPr)]|.//w:moveTo")
_DELETED_ROWS = _xpath(".//w:tr[w:trPr/w:del]")
_DELETED_MARKS = _xpath(".//w:p[w:pPr/w:rPr/w:del or w:pPr/w:rPr/w:moveFrom]")
_REVISION_MARKS = _xpath(
    ".//w:rPrChange|.//w:pPrChange|.//w:sectPrChange|.//w:tblPrChange|.//w:tblGridChange"
    "|.//w:tcPrChange|.//w:trPrChange|.//w:tblPrExChange|.//w:numberingChange"
    "|.//w:rPr/w:ins|.//w:rPr/w:del|.//w:rPr/w:moveFrom|.//w:rPr/w:moveTo"
    "|.//w:trPr/w:ins|.//w:cellIns|.//w:cellDel|.//w:cellMerge"
    "|.//w:moveFromRangeStart|.//w:moveFromRangeEnd|.//w:moveToRangeStart"
    "|.//w:moveToRangeEnd|.//w:customXmlInsRangeStart|.//w:customXmlInsRangeEnd"
    "|.//w:customXmlDelRangeStart|.//w:customXmlDelRangeEnd|.//w:delText|.//w:delInstrText"
)
# Anchors and annotations that mean nothing outside their own document.
_ANNOTATIONS = _xpath(
    ".//w:bookmarkStart|.//w:bookmarkEnd|.//w:commentRangeStart|.//w:commentRangeEnd"
    "|.//w:commentReference|.//w:permStart|.//w:permEnd|.//w:proofErr"
)
# A section break inside a statement would give the compilation the statement's page
# setup, headers and footers: the compilation has one section.
_SECTION_BREAKS = _xpath(".//w:pPr/w:sectPr")
# Text boxes, shapes, VML pictures and embedded objects.
_UNSUPPORTED_OBJECTS = _xpath(".//mc:AlternateContent|.//w:pict|.//w:object|.//w:altChunk")
# Wrappers whose content is kept: content controls, custom XML, smart tags.
_CONTENT_CONTROLS = _xpath(".//w:sdt")
_WRAPPERS = _xpath(".//w:customXml|.//w:smartTag")
_DRAWINGS = _xpath(".//w:drawing")
_PICTURE = _xpath(".//pic:pic")
_IN_DRAWING = _xpath("ancestor::w:drawing")
_IN_EXTENSION = _xpath("ancestor::a:ext[1]")
_HYPERLINKS = _xpath(".//w:hyperlink")
_PARAGRAPHS = _xpath("descendant-or-self::w:p")
_STYLE_REFERENCES = _xpath(".//w:pStyle|.//w:rStyle|.//w:tblStyle")
_NUMBERING_REFERENCES = _xpath(".//w:numPr/w:numId")
_NOTE_REFERENCES = _xpath(".//w:footnoteReference|.//w:endnoteReference")
_DOC_PR = _xpath(".//wp:docPr")
_WITH_ATTRIBUTES = _xpath(".//*[@*]")


@dataclass
class MergeReport:
    """What one statement's copy kept and dropped, for the log and the desk."""

    paragraphs: int = 0
    tables: int = 0
    pictures: int = 0
    notes: int = 0  # footnotes and endnotes
    dropped: Counter[str] = field(default_factory=Counter)

    def describe_dropped(self) -> str:
        """'2 text boxes or shapes, 1 comment' (sorted, so logs compare)."""
        return ", ".join(f"{count} {what}" for what, count in sorted(self.dropped.items()))


@dataclass(frozen=True)
class _NoteKind:
    """Footnotes or endnotes: the same machinery under different names."""

    part: str  # "footnotes"
    item: str  # "footnote"
    reference: str  # "footnoteReference"
    reltype: str
    content_type: str


_NOTE_KINDS = {
    "footnoteReference": _NoteKind(
        "footnotes", "footnote", "footnoteReference", RT.FOOTNOTES, CT.WML_FOOTNOTES
    ),
    "endnoteReference": _NoteKind(
        "endnotes", "endnote", "endnoteReference", RT.ENDNOTES, CT.WML_ENDNOTES
    ),
}


def _replace_with(node: Any, children: Iterable[Any]) -> None:
    """Put `children` where `node` is, and remove `node`."""
    parent = node.getparent()
    if parent is None:
        return
    index = parent.index(node)
    for offset, child in enumerate(list(children)):
        parent.insert(index + offset, child)
    parent.remove(node)


def _remove(node: Any) -> None:
    parent = node.getparent()
    if parent is not None:
        parent.remove(node)


def _attached(node: Any, root: Any) -> bool:
    """Whether `node` is still inside `root` (an earlier step may have removed it)."""
    while node is not None:
        if node is root:
            return True
        node = node.getparent()
    return False


def _related(part: Part, reltype: str) -> Part | None:
    for rel in part.rels.values():
        if rel.reltype == reltype and not rel.is_external:
            target: Part = rel.target_part
            return target
    return None


def _on(element: Any, name: str) -> bool | None:
    """An on/off property (``<w:bidi/>``, ``<w:bidi w:val="0"/>``) or None when absent."""
    child = element.find(_w(name)) if element is not None else None
    if child is None:
        return None
    return child.get(_w("val"), "true").lower() not in ("0", "false", "off")


class DocumentMerger:
    """Appends statements to one python-docx document; see the module docstring."""

    def __init__(self, target: DocxDocument) -> None:
        self.target = target
        self._body = target.element.body
        self._styles = target.styles.element
        self._style_ids = {s.get(_w("styleId")) for s in self._styles.iterfind(_w("style"))}
        self._style_by_name = {
            _style_key(style): style.get(_w("styleId"))
            for style in self._styles.iterfind(_w("style"))
        }
        self._numbering = target.part.numbering_part.element
        self._next_num = 1 + max(
            (int(n.get(_w("numId"))) for n in self._numbering.iterfind(_w("num"))), default=0
        )
        self._next_abstract = 1 + max(
            (int(a.get(_w("abstractNumId"))) for a in self._numbering.iterfind(_w("abstractNum"))),
            default=-1,
        )
        self._notes: dict[str, XmlPart] = {}
        self._next_note: Counter[str] = Counter()

    # -- public -------------------------------------------------------------------------

    def append(self, content: bytes) -> MergeReport:
        """Copy the body of the .docx `content` to the end of the compilation.

        Raises what python-docx raises for a file it cannot open (callers check the file
        type and safety first and turn failures into a reason for the desk).
        """
        source = _Source(docx.Document(io.BytesIO(content)), self)
        body = deepcopy(source.document.element.body)
        for page_setup in body.findall(_w("sectPr")):
            body.remove(page_setup)  # its headers, footers and page size stay behind
        report = MergeReport()
        source.prepare(body, source.document.part, self.target.part, report)
        anchor = self._body.find(_w("sectPr"))
        for child in list(body):
            if not isinstance(child.tag, str):
                continue  # an XML comment
            if child.tag == _w("p"):
                report.paragraphs += 1
            elif child.tag == _w("tbl"):
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
        """Give every picture a unique id (Word refuses duplicates) in document order."""
        roots = [self._body, *(part.element for part in self._notes.values())]
        number = 0
        for root in roots:
            for doc_pr in _DOC_PR(root):
                number += 1
                doc_pr.set("id", str(number))

    # -- shared state, used by _Source ------------------------------------------------

    def add_style(self, style: Any, wanted_id: str) -> str:
        """Add a copied style definition; returns the id it got (renamed when taken)."""
        style_id = wanted_id
        suffix = 1
        while style_id in self._style_ids:
            suffix += 1
            style_id = f"{wanted_id}{suffix}"
        style.set(_w("styleId"), style_id)
        style.attrib.pop(_w("default"), None)  # never replaces the compilation's default
        self._styles.append(style)
        self._style_ids.add(style_id)
        self._style_by_name[_style_key(style)] = style_id
        return style_id

    def style_named(self, style: Any) -> str | None:
        """The compilation's style with the same type and name as `style`, if any."""
        return self._style_by_name.get(_style_key(style))

    def add_abstract_numbering(self, abstract: Any) -> str:
        new_id = str(self._next_abstract)
        self._next_abstract += 1
        abstract.set(_w("abstractNumId"), new_id)
        # nsid identifies a list to Word across copy and paste: unique per definition.
        nsid = abstract.find(_w("nsid"))
        if nsid is not None:
            nsid.set(_w("val"), f"{0x1C000000 + int(new_id):08X}")
        # Picture bullets are not copied (the text bullet shows); a level's link to a
        # paragraph style would tie the compilation's style to this statement's list.
        for node in [*abstract.iter(_w("lvlPicBulletId")), *abstract.iter(_w("pStyle"))]:
            _remove(node)
        first_num = self._numbering.find(_w("num"))
        if first_num is not None:
            first_num.addprevious(abstract)
        else:
            self._numbering.append(abstract)
        return new_id

    def add_numbering(self, num: Any, abstract_id: str) -> str:
        new_id = str(self._next_num)
        self._next_num += 1
        num.set(_w("numId"), new_id)
        num.find(_w("abstractNumId")).set(_w("val"), abstract_id)
        cleanup = self._numbering.find(_w("numIdMacAtCleanup"))
        if cleanup is not None:
            cleanup.addprevious(num)
        else:
            self._numbering.append(num)
        return new_id

    def notes_part(self, kind: _NoteKind) -> XmlPart:
        """The compilation's footnotes (or endnotes) part, made on first use."""
        part = self._notes.get(kind.part)
        if part is None:
            element = parse_xml(
                f'<w:{kind.part} xmlns:w="{W}" xmlns:r="{R}">'
                f'<w:{kind.item} w:type="separator" w:id="-1"><w:p><w:pPr>'
                '<w:spacing w:after="0" w:line="240" w:lineRule="auto"/></w:pPr>'
                f"<w:r><w:separator/></w:r></w:p></w:{kind.item}>"
                f'<w:{kind.item} w:type="continuationSeparator" w:id="0"><w:p><w:pPr>'
                '<w:spacing w:after="0" w:line="240" w:lineRule="auto"/></w:pPr>'
                f"<w:r><w:continuationSeparator/></w:r></w:p></w:{kind.item}>"
                f"</w:{kind.part}>"
            )
            part = XmlPart(
                PackURI(f"/word/{kind.part}.xml"),
                kind.content_type,
                element,
                self.target.part.package,
            )
            self.target.part.relate_to(part, kind.reltype)
            self._declare_separators(kind)
            self._notes[kind.part] = part
        return part

    def next_note_id(self, kind: _NoteKind) -> str:
        self._next_note[kind.part] += 1
        return str(self._next_note[kind.part])

    def _declare_separators(self, kind: _NoteKind) -> None:
        """Name the separator notes in settings.xml, as Word itself does."""
        settings = self.target.settings.element
        properties = parse_xml(
            f'<w:{kind.item}Pr xmlns:w="{W}"><w:{kind.item} w:id="-1"/>'
            f'<w:{kind.item} w:id="0"/></w:{kind.item}Pr>'
        )
        successors: tuple[str, ...] = _SETTINGS_AFTER_NOTES
        if kind.part == "footnotes":
            successors = ("w:endnotePr", *successors)
        settings.insert_element_before(properties, *successors)


def _style_key(style: Any) -> tuple[str, str]:
    """(type, lower-case name): how a style is recognised across documents."""
    name = style.find(_w("name"))
    label = name.get(_w("val")) if name is not None else style.get(_w("styleId"))
    return (style.get(_w("type"), "paragraph"), (label or "").strip().lower())


class _Source:
    """One statement being copied: its maps from its own ids to the compilation's."""

    def __init__(self, document: DocxDocument, merger: DocumentMerger) -> None:
        self.document = document
        self.merger = merger
        styles = document.styles.element
        self.styles = {s.get(_w("styleId")): s for s in styles.iterfind(_w("style"))}
        self.default_paragraph_style = next(
            (
                s
                for s in styles.iterfind(_w("style"))
                if s.get(_w("type")) == "paragraph" and s.get(_w("default")) in ("1", "true", "on")
            ),
            None,
        )
        defaults = styles.find(f"{_w('docDefaults')}/{_w('pPrDefault')}/{_w('pPr')}")
        self.default_bidi = bool(_on(defaults, "bidi"))
        self.style_map: dict[str, str | None] = {}
        self.bidi_by_style: dict[str | None, bool] = {}
        numbering_part = _related(document.part, RT.NUMBERING)
        self.numbering = parse_xml(numbering_part.blob) if numbering_part is not None else None
        self.num_map: dict[str, str | None] = {}
        self.abstract_map: dict[str, str | None] = {}
        self.note_map: dict[tuple[str, str], str | None] = {}
        self.note_sources: dict[str, tuple[Part, Any] | None] = {}

    # -- the whole copy -----------------------------------------------------------------

    def prepare(self, root: Any, source_part: Part, target_part: Part, report: MergeReport) -> None:
        """Make the copied XML under `root` stand on its own in the compilation."""
        self._accept_revisions(root, report)
        self._drop_foreign(root, report)
        self._relationships(root, source_part, target_part, report)
        self._keep_direction(root)
        self._keep_lists(root)
        self._map_styles(root)
        self._map_numbering(root)
        self._copy_notes(root, report)

    def _accept_revisions(self, root: Any, report: MergeReport) -> None:
        deletions = _DELETIONS(root)
        if deletions:
            report.dropped["tracked deletions (accepted)"] += len(deletions)
        for node in deletions:
            _remove(node)
        for row in _DELETED_ROWS(root):
            _remove(row)
        for node in _INSERTIONS(root):
            _replace_with(node, node)
        # A deleted paragraph mark joins the paragraph to the next one.
        for paragraph in _DELETED_MARKS(root):
            following = paragraph.getnext()
            if following is not None and following.tag == _w("p"):
                content = [c for c in paragraph if c.tag != _w("pPr")]
                properties = following.find(_w("pPr"))
                position = 0 if properties is None else 1
                for offset, child in enumerate(content):
                    following.insert(position + offset, child)
                _remove(paragraph)
        for node in _REVISION_MARKS(root):
            _remove(node)

    def _drop_foreign(self, root: Any, report: MergeReport) -> None:
        annotations = _ANNOTATIONS(root)
        comments = sum(1 for node in annotations if node.tag == _w("commentReference"))
        if comments:
            report.dropped["comments"] += comments
        for node in annotations:
            _remove(node)
        breaks = _SECTION_BREAKS(root)
        if breaks:
            report.dropped["section breaks"] += len(breaks)
        for node in breaks:
            _remove(node)
        for node in _UNSUPPORTED_OBJECTS(root):
            if _attached(node, root):
                report.dropped[_OBJECT_NAMES[etree.QName(node).localname]] += 1
                _remove(node)
        for node in _DRAWINGS(root):
            if not _PICTURE(node):
                report.dropped["text boxes, shapes or charts"] += 1
                _remove(node)
        for control in _CONTENT_CONTROLS(root):
            content = control.find(_w("sdtContent"))
            _replace_with(control, [] if content is None else content)
        for wrapper in _WRAPPERS(root):
            _replace_with(
                wrapper,
                [c for c in wrapper if c.tag not in (_w("customXmlPr"), _w("smartTagPr"))],
            )
        for node in _WITH_ATTRIBUTES(root):
            for name in _UNIQUE_ATTRIBUTES:
                node.attrib.pop(name, None)

    def _relationships(
        self, root: Any, source_part: Part, target_part: Part, report: MergeReport
    ) -> None:
        """Pictures and external links come along; any other outside reference goes."""
        for link in _HYPERLINKS(root):
            rid = link.get(f"{_R_PREFIX}id")
            if rid is None:
                # An anchor into the statement: its bookmarks are gone, keep the text.
                _replace_with(link, link)
                continue
            rel = source_part.rels.get(rid)
            if rel is None or not rel.is_external:
                _replace_with(link, link)
                continue
            link.set(
                f"{_R_PREFIX}id",
                target_part.relate_to(rel.target_ref, RT.HYPERLINK, is_external=True),
            )
            link.attrib.pop(_w("anchor"), None)
        for drawing in _DRAWINGS(root):
            if self._copy_pictures(drawing, source_part, target_part):
                report.pictures += 1
            else:
                report.dropped["pictures that could not be copied"] += 1
                _remove(drawing)
        for node in list(root.iter(etree.Element)):
            if node.tag == _w("hyperlink") or not _attached(node, root):
                continue
            if any(name.startswith(_R_PREFIX) for name in node.attrib):
                if _IN_DRAWING(node):
                    continue  # handled with its picture
                report.dropped[f"linked {etree.QName(node).localname} elements"] += 1
                _remove(node)

    def _copy_pictures(self, drawing: Any, source_part: Part, target_part: Part) -> bool:
        """Re-point every relationship of a picture at copies in the compilation."""
        for node in list(drawing.iter(etree.Element)):
            names = [name for name in node.attrib if name.startswith(_R_PREFIX)]
            if not names or not _attached(node, drawing):
                continue
            local = etree.QName(node).localname
            if local in ("hlinkClick", "hlinkHover"):
                _remove(node)
                continue
            extension = _IN_EXTENSION(node)
            if extension:
                _remove(extension[0])  # e.g. the SVG twin of a picture: its PNG remains
                continue
            if local != "blip" or names != [f"{_R_PREFIX}embed"]:
                return False  # a linked picture, an OLE object, a chart...
            rel = source_part.rels.get(node.get(f"{_R_PREFIX}embed"))
            if rel is None or rel.is_external or rel.reltype != RT.IMAGE:
                return False
            try:
                image = target_part.package.get_or_add_image_part(io.BytesIO(rel.target_part.blob))
            except UnrecognizedImageError:
                return False  # EMF/WMF: python-docx cannot carry them
            node.set(f"{_R_PREFIX}embed", target_part.relate_to(image, RT.IMAGE))
        return True

    # -- right to left --------------------------------------------------------------------

    def _keep_direction(self, root: Any) -> None:
        """Write a style's right-to-left direction on its paragraphs (before styles map)."""
        for paragraph in _PARAGRAPHS(root):
            properties = paragraph.find(_w("pPr"))
            if properties is not None and properties.find(_w("bidi")) is not None:
                continue
            style = properties.find(_w("pStyle")) if properties is not None else None
            if not self._style_bidi(None if style is None else style.get(_w("val"))):
                continue
            properties = paragraph.get_or_add_pPr()
            properties.insert_element_before(
                parse_xml(f'<w:bidi xmlns:w="{W}"/>'), *after("w:bidi")
            )

    def _style_bidi(self, style_id: str | None) -> bool:
        if style_id not in self.bidi_by_style:
            found: bool | None = None
            for style in self._chain(style_id):
                found = _on(style.find(_w("pPr")), "bidi")
                if found is not None:
                    break
            self.bidi_by_style[style_id] = self.default_bidi if found is None else found
        return self.bidi_by_style[style_id]

    def _chain(self, style_id: str | None) -> Iterator[Any]:
        """The paragraph style `style_id` (default: the default style) and its ancestors."""
        style = self.styles.get(style_id) if style_id else self.default_paragraph_style
        seen: set[int] = set()
        while style is not None and id(style) not in seen:
            seen.add(id(style))
            yield style
            based = style.find(_w("basedOn"))
            style = self.styles.get(based.get(_w("val"))) if based is not None else None

    # -- lists ----------------------------------------------------------------------------

    def _keep_lists(self, root: Any) -> None:
        """Write a style's list on its paragraphs (before styles map).

        A statement's "List Number" maps to the compilation's "List Number", whose list
        is shared by every annex: left to the style, statement two would count on from
        statement one. The paragraph gets the statement's own list instead.
        """
        for paragraph in _PARAGRAPHS(root):
            properties = paragraph.find(_w("pPr"))
            direct = properties.find(_w("numPr")) if properties is not None else None
            if direct is not None and direct.find(_w("numId")) is not None:
                continue
            style = properties.find(_w("pStyle")) if properties is not None else None
            inherited = self._style_list(None if style is None else style.get(_w("val")))
            if inherited is None:
                continue
            num_id, level = inherited
            if direct is not None:
                own_level = direct.find(_w("ilvl"))
                if own_level is not None:
                    level = own_level.get(_w("val"), level)
                _remove(direct)
            properties = paragraph.get_or_add_pPr()
            properties.insert_element_before(
                parse_xml(
                    f'<w:numPr xmlns:w="{W}"><w:ilvl w:val="{level}"/>'
                    f'<w:numId w:val="{num_id}"/></w:numPr>'
                ),
                *after("w:numPr"),
            )

    def _style_list(self, style_id: str | None) -> tuple[str, str] | None:
        """(numId, level) of the list a paragraph style gives its paragraphs, if any."""
        for style in self._chain(style_id):
            numbering = style.find(f"{_w('pPr')}/{_w('numPr')}")
            num_id = numbering.find(_w("numId")) if numbering is not None else None
            if num_id is None:
                continue
            value = num_id.get(_w("val"))
            if value in (None, "0"):
                return None
            level = numbering.find(_w("ilvl"))
            if level is not None:
                return value, level.get(_w("val"), "0")
            return value, self._level_for_style(value, style.get(_w("styleId")))
        return None

    def _level_for_style(self, num_id: str, style_id: str | None) -> str:
        """The level of list `num_id` linked to the paragraph style, else the first."""
        num = self._find(self.numbering, "num", "numId", num_id)
        abstract_ref = num.find(_w("abstractNumId")) if num is not None else None
        if abstract_ref is None:
            return "0"
        abstract = self._find(
            self.numbering, "abstractNum", "abstractNumId", abstract_ref.get(_w("val"))
        )
        for level in [] if abstract is None else abstract.iterfind(_w("lvl")):
            link = level.find(_w("pStyle"))
            if link is not None and link.get(_w("val")) == style_id:
                return str(level.get(_w("ilvl"), "0"))
        return "0"

    # -- styles -------------------------------------------------------------------------

    def _map_styles(self, root: Any) -> None:
        for reference in _STYLE_REFERENCES(root):
            target = self.style(reference.get(_w("val")))
            if target is None:
                _remove(reference)  # a style the statement names but does not define
            else:
                reference.set(_w("val"), target)

    def style(self, style_id: str | None) -> str | None:
        """The compilation's id for the statement's style `style_id` (copied if needed)."""
        if style_id is None:
            return None
        if style_id in self.style_map:
            return self.style_map[style_id]
        source = self.styles.get(style_id)
        if source is None:
            self.style_map[style_id] = None
            return None
        existing = self.merger.style_named(source)
        if existing is not None:
            self.style_map[style_id] = existing
            return existing
        copy = deepcopy(source)
        new_id = self.merger.add_style(copy, style_id)
        self.style_map[style_id] = new_id  # before the references: they may loop back
        for name in ("basedOn", "next", "link"):
            reference = copy.find(_w(name))
            if reference is not None:
                mapped = self.style(reference.get(_w("val")))
                if mapped is None:
                    _remove(reference)
                else:
                    reference.set(_w("val"), mapped)
        self._map_numbering(copy)
        return new_id

    # -- numbering ----------------------------------------------------------------------

    def _map_numbering(self, root: Any) -> None:
        for reference in _NUMBERING_REFERENCES(root):
            mapped = self.numbering_id(reference.get(_w("val")))
            if mapped is None:
                _remove(reference.getparent())  # a list the statement does not define
            else:
                reference.set(_w("val"), mapped)

    def numbering_id(self, num_id: str | None) -> str | None:
        if num_id is None:
            return None
        if num_id == "0":
            return "0"  # "no numbering": overrides a style's list
        if num_id in self.num_map:
            return self.num_map[num_id]
        self.num_map[num_id] = None
        num = self._find(self.numbering, "num", "numId", num_id)
        if num is None:
            return None
        abstract_ref = num.find(_w("abstractNumId"))
        abstract_id = self._abstract(None if abstract_ref is None else abstract_ref.get(_w("val")))
        if abstract_id is None:
            return None
        copy = deepcopy(num)
        mapped = self.merger.add_numbering(copy, abstract_id)
        self.num_map[num_id] = mapped
        return mapped

    def _abstract(self, abstract_id: str | None) -> str | None:
        if abstract_id is None:
            return None
        if abstract_id in self.abstract_map:
            return self.abstract_map[abstract_id]
        self.abstract_map[abstract_id] = None
        abstract = self._find(self.numbering, "abstractNum", "abstractNumId", abstract_id)
        if abstract is None:
            return None
        copy = deepcopy(abstract)
        for name in ("numStyleLink", "styleLink"):
            for link in copy.iterfind(_w(name)):
                mapped = self.style(link.get(_w("val")))
                if mapped is None:
                    _remove(link)
                else:
                    link.set(_w("val"), mapped)
        new_id = self.merger.add_abstract_numbering(copy)
        self.abstract_map[abstract_id] = new_id
        return new_id

    @staticmethod
    def _find(root: Any, tag: str, attribute: str, value: str) -> Any:
        if root is None:
            return None
        for node in root.iterfind(_w(tag)):
            if node.get(_w(attribute)) == value:
                return node
        return None

    # -- footnotes and endnotes ------------------------------------------------------------

    def _copy_notes(self, root: Any, report: MergeReport) -> None:
        for reference in _NOTE_REFERENCES(root):
            kind = _NOTE_KINDS[etree.QName(reference).localname]
            new_id = self._note(kind, reference.get(_w("id")), report)
            if new_id is None:
                _remove(reference)
            else:
                reference.set(_w("id"), new_id)

    def _note(self, kind: _NoteKind, note_id: str | None, report: MergeReport) -> str | None:
        key = (kind.part, note_id or "")
        if key in self.note_map:
            return self.note_map[key]
        self.note_map[key] = None
        source = self._note_source(kind)
        if source is None or note_id is None:
            return None
        source_part, notes = source
        note = self._find(notes, kind.item, "id", note_id)
        if note is None:
            return None
        copy = deepcopy(note)
        target_part = self.merger.notes_part(kind)
        new_id = self.merger.next_note_id(kind)
        copy.set(_w("id"), new_id)
        self.prepare(copy, source_part, target_part, report)
        target_part.element.append(copy)
        report.notes += 1
        self.note_map[key] = new_id
        return new_id

    def _note_source(self, kind: _NoteKind) -> tuple[Part, Any] | None:
        if kind.part not in self.note_sources:
            part = _related(self.document.part, kind.reltype)
            self.note_sources[kind.part] = None if part is None else (part, parse_xml(part.blob))
        return self.note_sources[kind.part]


_OBJECT_NAMES = {
    "AlternateContent": "text boxes, shapes or charts",
    "pict": "text boxes or legacy pictures",
    "object": "embedded objects",
    "altChunk": "imported documents",
}
