"""Why a document could not be read. The messages are short phrases for replies."""

from __future__ import annotations


class DocumentError(Exception):
    """Base class for everything the document stage refuses."""


class UnreadableDocument(DocumentError):
    """The file is damaged, truncated or not what it claims to be."""


class UnsafeDocument(DocumentError):
    """The file was refused unopened: it could exhaust memory or disk, or abuse the parser
    (decompression bombs, nested archives, XML entity declarations)."""
