"""Low-level WordprocessingML: namespaces, property order and small lxml helpers.

What every part of the statement copy needs to read and edit a .docx's XML: the
namespace map, the order Word wants paragraph properties in, compiled XPath queries and
the few tree operations (remove, unwrap, find by id) python-docx does not offer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from docx.opc.part import Part
from lxml import etree

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
R_PREFIX = f"{{{R}}}"
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


def w(tag: str) -> str:
    """The Clark name of a WordprocessingML tag or attribute ("p" -> "{...main}p")."""
    return f"{{{W}}}{tag}"


def xpath(expression: str) -> Callable[[Any], list[Any]]:
    """A compiled XPath query over `NS`, typed for mypy."""
    compiled = etree.XPath(expression, namespaces=NS)

    def run(node: Any) -> list[Any]:
        result: list[Any] = compiled(node)
        return result

    return run


def replace_with(node: Any, children: Iterable[Any]) -> None:
    """Put `children` where `node` is, and remove `node`."""
    parent = node.getparent()
    if parent is None:
        return
    index = parent.index(node)
    for offset, child in enumerate(list(children)):
        parent.insert(index + offset, child)
    parent.remove(node)


def remove(node: Any) -> None:
    """Take `node` out of its tree (nothing if it is already out)."""
    parent = node.getparent()
    if parent is not None:
        parent.remove(node)


def attached(node: Any, root: Any) -> bool:
    """Whether `node` is still inside `root` (an earlier step may have removed it)."""
    while node is not None:
        if node is root:
            return True
        node = node.getparent()
    return False


def related(part: Part, reltype: str) -> Part | None:
    """The part `part` refers to with an internal relationship of type `reltype`."""
    for rel in part.rels.values():
        if rel.reltype == reltype and not rel.is_external:
            target: Part = rel.target_part
            return target
    return None


def on(element: Any, name: str) -> bool | None:
    """An on/off property (``<w:bidi/>``, ``<w:bidi w:val="0"/>``) or None when absent."""
    child = element.find(w(name)) if element is not None else None
    if child is None:
        return None
    return child.get(w("val"), "true").lower() not in ("0", "false", "off")


def find_by(root: Any, tag: str, attribute: str, value: str) -> Any:
    """The child `tag` of `root` whose `attribute` is `value`, or None."""
    if root is None:
        return None
    for node in root.iterfind(w(tag)):
        if node.get(w(attribute)) == value:
            return node
    return None


def style_key(style: Any) -> tuple[str, str]:
    """(type, lower-case name): how a style is recognised across documents."""
    name = style.find(w("name"))
    label = name.get(w("val")) if name is not None else style.get(w("styleId"))
    return (style.get(w("type"), "paragraph"), (label or "").strip().lower())
