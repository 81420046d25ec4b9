"""The compilation's side of the copy: where copied styles, lists and notes go.

Every id a copied definition gets (a style renamed when its id is taken, a list's
``numId`` and ``abstractNumId``, a note's number) is counted from the compilation's own
state, in document order, so the same statements in the same order give the same XML.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from docx.document import Document as DocxDocument
from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import XmlPart
from docx.oxml import parse_xml

from pipeline.compilation.wordml import R, W, remove, style_key, w

# Settings children that come after w:footnotePr / w:endnotePr.
_SETTINGS_AFTER_NOTES = (
    "w:compat", "w:docVars", "w:rsids", "m:mathPr", "w:attachedSchema", "w:themeFontLang",
    "w:clrSchemeMapping", "w:doNotIncludeSubdocsInStats", "w:doNotAutoCompressPictures",
    "w:forceUpgrade", "w:captions", "w:readModeInkLockDown", "w:smartTagType",
    "sl:schemaLibrary", "w:shapeDefaults", "w:doNotEmbedSmartTags", "w:decimalSymbol",
    "w:listSeparator", "w14:docId",
)  # fmt: skip


@dataclass(frozen=True)
class NoteKind:
    """Footnotes or endnotes: the same machinery under different names."""

    part: str  # "footnotes"
    item: str  # "footnote"
    reference: str  # "footnoteReference"
    reltype: str
    content_type: str


NOTE_KINDS = {
    "footnoteReference": NoteKind(
        "footnotes", "footnote", "footnoteReference", RT.FOOTNOTES, CT.WML_FOOTNOTES
    ),
    "endnoteReference": NoteKind(
        "endnotes", "endnote", "endnoteReference", RT.ENDNOTES, CT.WML_ENDNOTES
    ),
}


class CompilationTarget:
    """The compilation's styles, numbering and notes, and the next free id of each."""

    def __init__(self, document: DocxDocument) -> None:
        self.document = document
        self._styles = document.styles.element
        self._style_ids = {s.get(w("styleId")) for s in self._styles.iterfind(w("style"))}
        self._style_by_name = {
            style_key(style): style.get(w("styleId")) for style in self._styles.iterfind(w("style"))
        }
        self._numbering = document.part.numbering_part.element
        self._next_num = 1 + max(
            (int(n.get(w("numId"))) for n in self._numbering.iterfind(w("num"))), default=0
        )
        self._next_abstract = 1 + max(
            (int(a.get(w("abstractNumId"))) for a in self._numbering.iterfind(w("abstractNum"))),
            default=-1,
        )
        self._notes: dict[str, XmlPart] = {}
        self._next_note: Counter[str] = Counter()

    def note_parts(self) -> list[XmlPart]:
        """The footnotes and endnotes parts made so far, in the order they were made."""
        return list(self._notes.values())

    def add_style(self, style: Any, wanted_id: str) -> str:
        """Add a copied style definition; returns the id it got (renamed when taken)."""
        style_id = wanted_id
        suffix = 1
        while style_id in self._style_ids:
            suffix += 1
            style_id = f"{wanted_id}{suffix}"
        style.set(w("styleId"), style_id)
        style.attrib.pop(w("default"), None)  # never replaces the compilation's default
        name = style.find(w("name"))
        if name is not None and style_key(style) in self._style_by_name:
            # A statement's own "Heading 1" kept beside the compilation's (keep_styles).
            name.set(w("val"), f"{name.get(w('val'))} ({style_id})")
        self._styles.append(style)
        self._style_ids.add(style_id)
        self._style_by_name[style_key(style)] = style_id
        return style_id

    def style_named(self, style: Any) -> str | None:
        """The compilation's style with the same type and name as `style`, if any."""
        return self._style_by_name.get(style_key(style))

    def add_abstract_numbering(self, abstract: Any) -> str:
        """Add a copied list definition (``w:abstractNum``); returns its new id."""
        new_id = str(self._next_abstract)
        self._next_abstract += 1
        abstract.set(w("abstractNumId"), new_id)
        # nsid identifies a list to Word across copy and paste: unique per definition.
        nsid = abstract.find(w("nsid"))
        if nsid is not None:
            nsid.set(w("val"), f"{0x1C000000 + int(new_id):08X}")
        # Picture bullets are not copied (the text bullet shows); a level's link to a
        # paragraph style would tie the compilation's style to this statement's list.
        for node in [*abstract.iter(w("lvlPicBulletId")), *abstract.iter(w("pStyle"))]:
            remove(node)
        first_num = self._numbering.find(w("num"))
        if first_num is not None:
            first_num.addprevious(abstract)
        else:
            self._numbering.append(abstract)
        return new_id

    def add_numbering(self, num: Any, abstract_id: str) -> str:
        """Add a copied list (``w:num``) of definition `abstract_id`; returns its new id."""
        new_id = str(self._next_num)
        self._next_num += 1
        num.set(w("numId"), new_id)
        num.find(w("abstractNumId")).set(w("val"), abstract_id)
        cleanup = self._numbering.find(w("numIdMacAtCleanup"))
        if cleanup is not None:
            cleanup.addprevious(num)
        else:
            self._numbering.append(num)
        return new_id

    def notes_part(self, kind: NoteKind) -> XmlPart:
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
                self.document.part.package,
            )
            self.document.part.relate_to(part, kind.reltype)
            self._declare_separators(kind)
            self._notes[kind.part] = part
        return part

    def next_note_id(self, kind: NoteKind) -> str:
        """The number of the next footnote (or endnote) through the whole compilation."""
        self._next_note[kind.part] += 1
        return str(self._next_note[kind.part])

    def _declare_separators(self, kind: NoteKind) -> None:
        """Name the separator notes in settings.xml, as Word itself does."""
        settings = self.document.settings.element
        properties = parse_xml(
            f'<w:{kind.item}Pr xmlns:w="{W}"><w:{kind.item} w:id="-1"/>'
            f'<w:{kind.item} w:id="0"/></w:{kind.item}Pr>'
        )
        successors: tuple[str, ...] = _SETTINGS_AFTER_NOTES
        if kind.part == "footnotes":
            successors = ("w:endnotePr", *successors)
        settings.insert_element_before(properties, *successors)
