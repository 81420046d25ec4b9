"""Theme colours and theme fonts: the one part of a statement's styling the compilation
sets to its own unless the desk keeps the statements' styles (`--keep-styles`).

A Word document's headings are usually coloured and set in a font by reference to its
theme ("accent 1, darker 25%", "major heading font"). Copied into the compilation, the
reference would point at the compilation's theme and come out as some colour and font
nobody chose -- while an issued S/ document is black Times New Roman throughout. A
colour or font given by theme is therefore dropped, so the text takes the document's;
a colour or font the delegation chose directly (``w:val="C00000"``, "Arial") stays.
"""

from __future__ import annotations

from typing import Any

from pipeline.compilation.wordml import w, xpath

__all__ = ["drop_theme_formatting"]

_THEME_COLOURS = xpath(".//w:color[@w:themeColor]")
_THEME_FONTS = xpath(
    ".//w:rFonts[@w:asciiTheme or @w:hAnsiTheme or @w:eastAsiaTheme or @w:cstheme]"
)
_THEME_FILLS = xpath(".//*[@w:themeFill or @w:themeFillShade or @w:themeFillTint]")
_FONT_THEMES = ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme")
_FILL_THEMES = ("themeFill", "themeFillShade", "themeFillTint")


def drop_theme_formatting(root: Any) -> int:
    """Remove theme colours, theme fonts and theme fills under `root`; how many."""
    count = 0
    for colour in _THEME_COLOURS(root):
        colour.getparent().remove(colour)
        count += 1
    for fonts in _THEME_FONTS(root):
        for name in _FONT_THEMES:
            fonts.attrib.pop(w(name), None)
        if not fonts.attrib:
            fonts.getparent().remove(fonts)
        count += 1
    for node in _THEME_FILLS(root):
        for name in _FILL_THEMES:
            node.attrib.pop(w(name), None)
        count += 1
    return count
