"""What a file is by its bytes: the kinds `types.detect_type` tells apart. Its own
module so that the readers of each kind (`ole`) and detection can both name them."""

from __future__ import annotations

from enum import StrEnum


class FileType(StrEnum):
    DOCX = "docx"
    DOCM = "docm"
    DOTX = "dotx"
    DOC = "doc"  # OLE2 with a WordDocument stream: legacy Word 97-2003
    ENCRYPTED = "encrypted"  # OLE2 holding an EncryptedPackage: a password-protected .docx
    OLE_OTHER = "ole"  # OLE2 that is not Word (Excel, PowerPoint, MSG, ...)
    PDF = "pdf"
    RTF = "rtf"
    ODT = "odt"
    ZIP = "zip"
    IMAGE = "image"
    TEXT = "text"
    EMPTY = "empty"
    OTHER = "other"
