"""What a statement's XML points at outside itself: pictures and links come along.

Pictures are copied into the compilation's package (deduplicated by python-docx) and
external hyperlinks re-created; anything else that points outside the XML (charts,
embedded objects, linked files) is dropped with its element and counted.
"""

from __future__ import annotations

import io
from typing import Any

from docx.image.exceptions import UnrecognizedImageError
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.part import Part
from lxml import etree

from pipeline.compilation.merge_report import MergeReport
from pipeline.compilation.wordml import R_PREFIX, attached, remove, replace_with, w, xpath

_DRAWINGS = xpath(".//w:drawing")
_IN_DRAWING = xpath("ancestor::w:drawing")
_IN_EXTENSION = xpath("ancestor::a:ext[1]")
_HYPERLINKS = xpath(".//w:hyperlink")


def relink(root: Any, source_part: Part, target_part: Part, report: MergeReport) -> None:
    """Pictures and external links come along; any other outside reference goes."""
    for link in _HYPERLINKS(root):
        rid = link.get(f"{R_PREFIX}id")
        if rid is None:
            # An anchor into the statement: its bookmarks are gone, keep the text.
            replace_with(link, link)
            continue
        rel = source_part.rels.get(rid)
        if rel is None or not rel.is_external:
            replace_with(link, link)
            continue
        link.set(
            f"{R_PREFIX}id",
            target_part.relate_to(rel.target_ref, RT.HYPERLINK, is_external=True),
        )
        link.attrib.pop(w("anchor"), None)
    for drawing in _DRAWINGS(root):
        if _copy_pictures(drawing, source_part, target_part):
            report.pictures += 1
        else:
            report.dropped["pictures that could not be copied"] += 1
            remove(drawing)
    for node in list(root.iter(etree.Element)):
        if node.tag == w("hyperlink") or not attached(node, root):
            continue
        if any(name.startswith(R_PREFIX) for name in node.attrib):
            if _IN_DRAWING(node):
                continue  # handled with its picture
            report.dropped[f"linked {etree.QName(node).localname} elements"] += 1
            remove(node)


def _copy_pictures(drawing: Any, source_part: Part, target_part: Part) -> bool:
    """Re-point every relationship of a picture at copies in the compilation."""
    for node in list(drawing.iter(etree.Element)):
        names = [name for name in node.attrib if name.startswith(R_PREFIX)]
        if not names or not attached(node, drawing):
            continue
        local = etree.QName(node).localname
        if local in ("hlinkClick", "hlinkHover"):
            remove(node)
            continue
        extension = _IN_EXTENSION(node)
        if extension:
            remove(extension[0])  # e.g. the SVG twin of a picture: its PNG remains
            continue
        if local != "blip" or names != [f"{R_PREFIX}embed"]:
            return False  # a linked picture, an OLE object, a chart...
        rel = source_part.rels.get(node.get(f"{R_PREFIX}embed"))
        if rel is None or rel.is_external or rel.reltype != RT.IMAGE:
            return False
        try:
            image = target_part.package.get_or_add_image_part(io.BytesIO(rel.target_part.blob))
        except UnrecognizedImageError:
            return False  # EMF/WMF: python-docx cannot carry them
        node.set(f"{R_PREFIX}embed", target_part.relate_to(image, RT.IMAGE))
    return True
