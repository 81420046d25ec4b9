"""What the desk sees of a file without downloading it: a statement rendered to HTML.

A `.docx` is first checked as the documents stage checks it (`documents.safety`
`inspect_zip`: sizes, ratios, XML without declarations), then converted by mammoth with
pictures left out, then sanitised by nh3 (ammonia): only text structure survives
(paragraphs, headings, lists, tables, emphasis, footnote links within the page), no
script, style, frame, form or attribute that could run or fetch anything. The page shows
it as the statement's text, not as the compilation will lay it out.

Only files of a submission from a registered mission are previewed (`previewable`):
what a stranger sends is downloaded deliberately or not opened at all.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import mammoth
import nh3

from pipeline.documents.errors import DocumentError
from pipeline.documents.safety import ZipLimits, inspect_zip

__all__ = ["Preview", "statement_preview"]

# What a statement's structure needs; everything else is dropped with its content kept.
_TAGS = {
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "table", "thead", "tbody",
    "tr", "th", "td", "strong", "em", "u", "s", "sup", "sub", "br", "a", "blockquote",
}  # fmt: skip
# Links stay only as anchors inside the preview (mammoth's footnote links); a link out of
# the page is shown as its text.
_ATTRIBUTES = {"a": {"href", "id"}, "li": {"id"}, "p": {"id"}, "td": {"colspan", "rowspan"}}
# A preview longer than this is cut (a statement is a few pages).
MAX_PREVIEW_CHARS = 200_000


@dataclass(frozen=True)
class Preview:
    """The statement as sanitised HTML, or why there is none (one sentence)."""

    html: str | None
    unavailable: str | None = None


def _no_pictures(_image: Any) -> dict[str, str]:
    return {}


def _inside_the_page(element: str, attribute: str, value: str) -> str | None:
    if element == "a" and attribute == "href" and not value.startswith("#"):
        return None
    return value


def statement_preview(content: bytes, limits: ZipLimits) -> Preview:
    """`content` (a .docx) as HTML safe to put in a page, or why it cannot be shown."""
    try:
        inspect_zip(content, limits)
    except DocumentError as error:
        return Preview(None, f"Not shown: the file was refused ({error}).")
    try:
        result = mammoth.convert_to_html(
            io.BytesIO(content), convert_image=mammoth.images.img_element(_no_pictures)
        )
    except Exception as error:  # mammoth raises what it meets; the page must still show
        return Preview(None, f"Not shown: the file could not be read ({type(error).__name__}).")
    html = nh3.clean(
        str(result.value)[:MAX_PREVIEW_CHARS],
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=_inside_the_page,
        url_schemes=set(),
        link_rel=None,
    )
    if not html.strip():
        return Preview(None, "Not shown: the statement has no text.")
    return Preview(html)
