"""What is inside an OLE2 (Compound File) container, without trusting the name.

OLE2 is the envelope of legacy Word (.doc), but also of Excel/PowerPoint/Outlook files and,
surprisingly, of password-protected .docx files (an `EncryptedPackage` stream holding the
encrypted zip). Telling these apart from the storage directory lets a reply say "this is
password-protected" or "this is not a Word file" instead of a generic failure, and flags
macros before anything is converted.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import olefile

from pipeline.documents.errors import UnreadableDocument
from pipeline.documents.filetype import FileType

# The FIB (File Information Block) starts the WordDocument stream; its 16-bit flags word at
# offset 0x0A carries fEncrypted (0x0100). When set, the document is either XOR-obfuscated
# (fObfuscated, 0x8000) or RC4-encrypted: both need a password, so both count as encrypted.
_FIB_FLAGS_OFFSET = 0x0A
_F_ENCRYPTED = 0x0100
# Storage/stream names that hold VBA projects: `Macros` in Word, `_VBA_PROJECT_CUR` in Excel
# (also when embedded in a Word file), `VBA` inside either.
_MACRO_NAMES = frozenset({"macros", "_vba_project_cur", "vba"})
_ENCRYPTED_PACKAGE_NAMES = frozenset({"encryptioninfo", "encryptedpackage"})


@dataclass(frozen=True)
class OleInfo:
    """What an OLE2 file is: its kind, whether it needs a password, whether it has macros."""

    kind: FileType
    encrypted: bool
    has_macros: bool


def inspect_ole(content: bytes) -> OleInfo:
    """Read the OLE2 directory (and, for Word, the FIB flags) of `content`.

    olefile raises many exception types on damaged input (OSError, struct.error,
    IndexError, ...); all become `UnreadableDocument` so callers handle one error.
    """
    try:
        with olefile.OleFileIO(io.BytesIO(content)) as ole:
            entries: list[list[str]] = ole.listdir(streams=True, storages=True)
            top = {path[0].lower() for path in entries if path}
            has_macros = any(part.lower() in _MACRO_NAMES for path in entries for part in path)
            if "worddocument" in top:
                return OleInfo(
                    kind=FileType.DOC,
                    encrypted=_word_encrypted(ole),
                    has_macros=has_macros,
                )
            if top & _ENCRYPTED_PACKAGE_NAMES:
                return OleInfo(kind=FileType.ENCRYPTED, encrypted=True, has_macros=has_macros)
            return OleInfo(kind=FileType.OLE_OTHER, encrypted=False, has_macros=has_macros)
    except UnreadableDocument:
        raise
    except Exception as error:  # olefile's failure modes are not a closed set
        raise UnreadableDocument("the file is damaged") from error


def word_fib_version(content: bytes) -> int | None:
    """nFib of a legacy Word file (101 Word 6, 104 Word 95, 193+ Word 97 and later), or None.

    Converters need it: LibreOffice's Word 97 import filter refuses Word 6/95 files, and
    its Word 95 filter refuses Word 97 ones.
    """
    try:
        with olefile.OleFileIO(io.BytesIO(content)) as ole:
            if not ole.exists("WordDocument"):
                return None
            with ole.openstream("WordDocument") as stream:
                fib = stream.read(4)
    except Exception:  # olefile's failure modes are not a closed set
        return None
    if len(fib) < 4:
        return None
    (version,) = struct.unpack_from("<H", fib, 2)
    return int(version)


def _word_encrypted(ole: olefile.OleFileIO) -> bool:
    """fEncrypted from the FIB; a WordDocument stream too short for a FIB is damaged."""
    with ole.openstream("WordDocument") as stream:
        fib = stream.read(_FIB_FLAGS_OFFSET + 2)
    if len(fib) < _FIB_FLAGS_OFFSET + 2:
        raise UnreadableDocument("the file is damaged")
    (flags,) = struct.unpack_from("<H", fib, _FIB_FLAGS_OFFSET)
    return bool(flags & _F_ENCRYPTED)
