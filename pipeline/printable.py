"""Text from mail, made safe to show: every character that could drive a terminal, visible.

Mail is written by strangers, and a From address, a subject, a file name or a line of
text pulled out of a PDF can carry ESC sequences (clear the screen, hide what follows,
rewrite the window title), carriage returns that overwrite a line, C1 controls that
some terminals obey, direction overrides that reorder what is shown, or lone surrogates
that make a UTF-8 write fail. `visible` replaces each with a Python-style escape
(`\\x1b`, `\\r`, `\\u202e`), so the desk sees that it was there and the terminal never
acts on it. The command line applies it to everything it prints
(`pipeline.console`); the parser uses it to record an address it refused.
"""

from __future__ import annotations

import re

# DEL and the C1 controls; the bidirectional formatting characters (marks, embeddings,
# overrides, isolates) and the Unicode line and paragraph separators; lone surrogates.
_OTHERS = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_ANY = re.compile(f"[\x00-\x1f{_OTHERS}]")  # with all C0 controls
_KEEP_LINES = re.compile(f"[\x00-\x08\x0b-\x1f{_OTHERS}]")  # all but line feed and tab
# What `json.dumps(..., ensure_ascii=False)` leaves unescaped in strings (it escapes C0
# itself, and everything outside strings is printable ASCII or layout whitespace).
_JSON_UNSAFE = re.compile(f"[{_OTHERS}]")

_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    character = match.group()
    code = ord(character)
    return _NAMED.get(character) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def visible(text: str, *, lines: bool = False) -> str:
    """`text` with every control, direction and separator character written as an escape.

    With `lines`, line feeds and tabs stay as they are (a reply's text, a table's own
    line breaks); a carriage return is escaped all the same, since it moves the cursor
    back over what was printed.
    """
    return (_KEEP_LINES if lines else _ANY).sub(_escape, text)


def has_invisible(text: str) -> bool:
    """True when `visible` would change `text` (line feeds and tabs included)."""
    return _ANY.search(text) is not None


def visible_json(text: str) -> str:
    """JSON text (as `json.dumps(..., ensure_ascii=False)` writes it) with what it leaves
    raw inside strings (DEL, C1, direction overrides, surrogates) escaped as `\\uXXXX`,
    which JSON reads back as the same characters."""
    return _JSON_UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
