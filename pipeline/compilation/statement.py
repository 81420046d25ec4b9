"""Bringing one statement's XML into the compilation: its ids mapped to the compilation's.

A copied element refers to definitions outside itself, each of which is brought along or
the reference removed:

- styles (``w:pStyle``, ``w:rStyle``, ``w:tblStyle``): a style whose name exists in the
  compilation maps to it (unless the desk keeps the statements' styles: then only the
  default paragraph style maps, and the rest are copied under new names); any other
  style is copied, with what it is based on, under its own id (renamed if the id is
  taken). The first definition of a name wins.
- numbering (``w:numPr``): each list definition the statement uses is copied under new
  ids, so every statement's lists count from their own start; a list a paragraph has
  from its style is written on the paragraph first.
- footnotes and endnotes: each note is copied into the compilation's notes part under a
  new id, itself prepared like the body.
- paragraph direction: a style's right-to-left setting is written on the paragraph
  (``w:bidi``), since the compilation's "Normal" replaces the statement's.
"""

from __future__ import annotations

from collections.abc import Iterator
from copy import deepcopy
from typing import Any

from docx.document import Document as DocxDocument
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.part import Part
from docx.oxml import parse_xml
from lxml import etree

from pipeline.compilation.cleanup import accept_revisions, drop_foreign
from pipeline.compilation.merge_report import MergeReport
from pipeline.compilation.relationships import relink
from pipeline.compilation.target import NOTE_KINDS, CompilationTarget, NoteKind
from pipeline.compilation.wordml import W, after, find_by, on, related, remove, w, xpath

_PARAGRAPHS = xpath("descendant-or-self::w:p")
_STYLE_REFERENCES = xpath(".//w:pStyle|.//w:rStyle|.//w:tblStyle")
_NUMBERING_REFERENCES = xpath(".//w:numPr/w:numId")
_NOTE_REFERENCES = xpath(".//w:footnoteReference|.//w:endnoteReference")


class Statement:
    """One statement being copied: its maps from its own ids to the compilation's."""

    def __init__(
        self, document: DocxDocument, target: CompilationTarget, *, keep_styles: bool = False
    ) -> None:
        self.document = document
        self.target = target
        # Keep the statement's styles: copy each (renamed) instead of using the
        # compilation's of the same name; only the default paragraph style still maps.
        self.keep_styles = keep_styles
        styles = document.styles.element
        self.styles = {s.get(w("styleId")): s for s in styles.iterfind(w("style"))}
        self.default_paragraph_style = next(
            (
                s
                for s in styles.iterfind(w("style"))
                if s.get(w("type")) == "paragraph" and s.get(w("default")) in ("1", "true", "on")
            ),
            None,
        )
        defaults = styles.find(f"{w('docDefaults')}/{w('pPrDefault')}/{w('pPr')}")
        self.default_bidi = bool(on(defaults, "bidi"))
        self.style_map: dict[str, str | None] = {}
        self.bidi_by_style: dict[str | None, bool] = {}
        numbering_part = related(document.part, RT.NUMBERING)
        self.numbering = parse_xml(numbering_part.blob) if numbering_part is not None else None
        self.num_map: dict[str, str | None] = {}
        self.abstract_map: dict[str, str | None] = {}
        self.note_map: dict[tuple[str, str], str | None] = {}
        self.note_sources: dict[str, tuple[Part, Any] | None] = {}

    def prepare(self, root: Any, source_part: Part, target_part: Part, report: MergeReport) -> None:
        """Make the copied XML under `root` stand on its own in the compilation."""
        accept_revisions(root, report)
        drop_foreign(root, report)
        relink(root, source_part, target_part, report)
        self._keep_direction(root)
        self._keep_lists(root)
        self._map_styles(root)
        self._map_numbering(root)
        self._copy_notes(root, report)

    # Right to left.

    def _keep_direction(self, root: Any) -> None:
        """Write a style's right-to-left direction on its paragraphs (before styles map)."""
        for paragraph in _PARAGRAPHS(root):
            properties = paragraph.find(w("pPr"))
            if properties is not None and properties.find(w("bidi")) is not None:
                continue
            style = properties.find(w("pStyle")) if properties is not None else None
            if not self._style_bidi(None if style is None else style.get(w("val"))):
                continue
            properties = paragraph.get_or_add_pPr()
            properties.insert_element_before(
                parse_xml(f'<w:bidi xmlns:w="{W}"/>'), *after("w:bidi")
            )

    def _style_bidi(self, style_id: str | None) -> bool:
        if style_id not in self.bidi_by_style:
            found: bool | None = None
            for style in self._chain(style_id):
                found = on(style.find(w("pPr")), "bidi")
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
            based = style.find(w("basedOn"))
            style = self.styles.get(based.get(w("val"))) if based is not None else None

    # Lists a paragraph has from its style.

    def _keep_lists(self, root: Any) -> None:
        """Write a style's list on its paragraphs (before styles map).

        A statement's "List Number" maps to the compilation's "List Number", whose list
        is shared by every annex: left to the style, statement two would count on from
        statement one. The paragraph gets the statement's own list instead.
        """
        for paragraph in _PARAGRAPHS(root):
            properties = paragraph.find(w("pPr"))
            direct = properties.find(w("numPr")) if properties is not None else None
            if direct is not None and direct.find(w("numId")) is not None:
                continue
            style = properties.find(w("pStyle")) if properties is not None else None
            inherited = self._style_list(None if style is None else style.get(w("val")))
            if inherited is None:
                continue
            num_id, level = inherited
            if direct is not None:
                own_level = direct.find(w("ilvl"))
                if own_level is not None:
                    level = own_level.get(w("val"), level)
                remove(direct)
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
            numbering = style.find(f"{w('pPr')}/{w('numPr')}")
            num_id = numbering.find(w("numId")) if numbering is not None else None
            if num_id is None:
                continue
            value = num_id.get(w("val"))
            if value in (None, "0"):
                return None
            level = numbering.find(w("ilvl"))
            if level is not None:
                return value, level.get(w("val"), "0")
            return value, self._level_for_style(value, style.get(w("styleId")))
        return None

    def _level_for_style(self, num_id: str, style_id: str | None) -> str:
        """The level of list `num_id` linked to the paragraph style, else the first."""
        num = find_by(self.numbering, "num", "numId", num_id)
        abstract_ref = num.find(w("abstractNumId")) if num is not None else None
        if abstract_ref is None:
            return "0"
        abstract = find_by(
            self.numbering, "abstractNum", "abstractNumId", abstract_ref.get(w("val"))
        )
        for level in [] if abstract is None else abstract.iterfind(w("lvl")):
            link = level.find(w("pStyle"))
            if link is not None and link.get(w("val")) == style_id:
                return str(level.get(w("ilvl"), "0"))
        return "0"

    # Styles.

    def _map_styles(self, root: Any) -> None:
        for reference in _STYLE_REFERENCES(root):
            target = self.style(reference.get(w("val")))
            if target is None:
                remove(reference)  # a style the statement names but does not define
            else:
                reference.set(w("val"), target)

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
        existing = self.target.style_named(source)
        if existing is not None and (
            not self.keep_styles or source is self.default_paragraph_style
        ):
            self.style_map[style_id] = existing
            return existing
        copy = deepcopy(source)
        new_id = self.target.add_style(copy, style_id)
        self.style_map[style_id] = new_id  # before the references: they may loop back
        for name in ("basedOn", "next", "link"):
            reference = copy.find(w(name))
            if reference is not None:
                mapped = self.style(reference.get(w("val")))
                if mapped is None:
                    remove(reference)
                else:
                    reference.set(w("val"), mapped)
        self._map_numbering(copy)
        return new_id

    # Numbering.

    def _map_numbering(self, root: Any) -> None:
        for reference in _NUMBERING_REFERENCES(root):
            mapped = self.numbering_id(reference.get(w("val")))
            if mapped is None:
                remove(reference.getparent())  # a list the statement does not define
            else:
                reference.set(w("val"), mapped)

    def numbering_id(self, num_id: str | None) -> str | None:
        """The compilation's id for the statement's list `num_id` (copied if needed)."""
        if num_id is None:
            return None
        if num_id == "0":
            return "0"  # "no numbering": overrides a style's list
        if num_id in self.num_map:
            return self.num_map[num_id]
        self.num_map[num_id] = None
        num = find_by(self.numbering, "num", "numId", num_id)
        if num is None:
            return None
        abstract_ref = num.find(w("abstractNumId"))
        abstract_id = self._abstract(None if abstract_ref is None else abstract_ref.get(w("val")))
        if abstract_id is None:
            return None
        copy = deepcopy(num)
        mapped = self.target.add_numbering(copy, abstract_id)
        self.num_map[num_id] = mapped
        return mapped

    def _abstract(self, abstract_id: str | None) -> str | None:
        if abstract_id is None:
            return None
        if abstract_id in self.abstract_map:
            return self.abstract_map[abstract_id]
        self.abstract_map[abstract_id] = None
        abstract = find_by(self.numbering, "abstractNum", "abstractNumId", abstract_id)
        if abstract is None:
            return None
        copy = deepcopy(abstract)
        for name in ("numStyleLink", "styleLink"):
            for link in copy.iterfind(w(name)):
                mapped = self.style(link.get(w("val")))
                if mapped is None:
                    remove(link)
                else:
                    link.set(w("val"), mapped)
        new_id = self.target.add_abstract_numbering(copy)
        self.abstract_map[abstract_id] = new_id
        return new_id

    # Footnotes and endnotes.

    def _copy_notes(self, root: Any, report: MergeReport) -> None:
        for reference in _NOTE_REFERENCES(root):
            kind = NOTE_KINDS[etree.QName(reference).localname]
            new_id = self._note(kind, reference.get(w("id")), report)
            if new_id is None:
                remove(reference)
            else:
                reference.set(w("id"), new_id)

    def _note(self, kind: NoteKind, note_id: str | None, report: MergeReport) -> str | None:
        key = (kind.part, note_id or "")
        if key in self.note_map:
            return self.note_map[key]
        self.note_map[key] = None
        source = self._note_source(kind)
        if source is None or note_id is None:
            return None
        source_part, notes = source
        note = find_by(notes, kind.item, "id", note_id)
        if note is None:
            return None
        copy = deepcopy(note)
        target_part = self.target.notes_part(kind)
        new_id = self.target.next_note_id(kind)
        copy.set(w("id"), new_id)
        self.prepare(copy, source_part, target_part, report)
        target_part.element.append(copy)
        report.notes += 1
        self.note_map[key] = new_id
        return new_id

    def _note_source(self, kind: NoteKind) -> tuple[Part, Any] | None:
        if kind.part not in self.note_sources:
            part = related(self.document.part, kind.reltype)
            self.note_sources[kind.part] = None if part is None else (part, parse_xml(part.blob))
        return self.note_sources[kind.part]
