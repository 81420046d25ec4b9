"""What a file really is, from its bytes: never its name or declared MIME type.

A `.doc` renamed `.docx`, a PDF sent as `application/msword` and legacy Word files that
embed a zip all exist in the wild, so `zipfile.is_zipfile` is not a type test: the
leading bytes decide, then (for zips) the OOXML content types or the ODF mimetype.
"""

from __future__ import annotations

import io
import zipfile
import zlib

from pipeline.documents.errors import UnreadableDocument
from pipeline.documents.filetype import FileType
from pipeline.documents.ole import inspect_ole

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
# Reading [Content_Types].xml must stay cheap even for hostile archives.
_MAX_CONTENT_TYPES_BYTES = 1 << 20


# An encrypted OLE2 package is almost always a password-protected .docx: treated as Word
# so the reply can say "remove the password" rather than "not Word".
WORD_TYPES = frozenset(
    {FileType.DOCX, FileType.DOCM, FileType.DOTX, FileType.DOC, FileType.ENCRYPTED}
)
# Files that can play the statement or the letter; other Office formats only as a last
# resort, so that a spreadsheet beside a statement is "another file", not a statement.
DOCUMENT_TYPES = WORD_TYPES | {FileType.PDF, FileType.RTF, FileType.ODT, FileType.OLE_OTHER}

_WML = "application/vnd.openxmlformats-officedocument.wordprocessingml"
_OOXML_MAIN = {
    f"{_WML}.document.main+xml": FileType.DOCX,
    "application/vnd.ms-word.document.macroenabled.main+xml": FileType.DOCM,
    f"{_WML}.template.main+xml": FileType.DOTX,
    "application/vnd.ms-word.template.macroenabledtemplate.main+xml": FileType.DOCM,
}


def _zip_type(content: bytes) -> FileType:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                info = archive.getinfo("mimetype")
                if info.file_size < 200 and archive.read("mimetype").strip() == (
                    b"application/vnd.oasis.opendocument.text"
                ):
                    return FileType.ODT
            if "[Content_Types].xml" in names:
                info = archive.getinfo("[Content_Types].xml")
                if info.file_size > _MAX_CONTENT_TYPES_BYTES:
                    return FileType.ZIP
                types = archive.read("[Content_Types].xml").decode("utf-8", "replace").lower()
                for content_type, kind in _OOXML_MAIN.items():
                    if f'contenttype="{content_type}"' in types:
                        return kind
    except (
        zipfile.BadZipFile,
        zlib.error,
        OSError,
        ValueError,
        KeyError,
        EOFError,
        NotImplementedError,
    ):
        return FileType.ZIP
    return FileType.ZIP


def detect_type(content: bytes) -> FileType:
    head = content[:16]
    if not content.strip():
        return FileType.EMPTY
    if head.startswith(OLE2_MAGIC):
        try:
            return inspect_ole(content).kind
        except UnreadableDocument:
            # A damaged OLE2 file is most likely legacy Word: report it as such, so it
            # fails later with a Word-specific reason instead of crashing type detection.
            return FileType.DOC
    if head.startswith(ZIP_MAGIC):
        return _zip_type(content)
    if content[:1024].lstrip().startswith(b"%PDF"):
        return FileType.PDF
    if head.startswith(b"{\\rtf"):
        return FileType.RTF
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*")):
        return FileType.IMAGE
    try:
        content[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return FileType.OTHER
    return FileType.TEXT
