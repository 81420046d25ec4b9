"""A content-addressed store for original files and raw messages.

Files are named by their SHA-256, so writing the same bytes twice is harmless and a crash
can never leave a half-written file under a real name (write to a temporary file, fsync,
rename). Files are 0600 and the folders Intake makes 0700: original mail is for Intake's
user alone. Blobs are written *before* the database transaction that refers to them commits;
an orphan blob after a crash costs disk space, never correctness.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path

from pipeline.storage.private import private_folder


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, digest: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ValueError(f"not a sha256 digest: {digest!r}")
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        digest = sha256_hex(data)
        target = self.path_for(digest)
        if target.exists() and target.stat().st_size == len(data):
            return digest
        private_folder(target.parent)  # 0700; mkstemp makes the file 0600
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, digest: str) -> bytes:
        return self.path_for(digest).read_bytes()


_UNSAFE = re.compile(r"[^A-Za-z0-9._ ()+-]+")
_EXTENSION = re.compile(r"[A-Za-z0-9]{1,10}")
# Names Windows reserves for devices, whatever the extension: "CON.docx" cannot be saved.
_RESERVED = re.compile(r"(?i)(CON|PRN|AUX|NUL|CONIN\$|CONOUT\$|COM[0-9]|LPT[0-9])")


def _ascii_part(text: str) -> str:
    """Accents folded to ASCII, separators and anything unusual as "_", ends trimmed."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _UNSAFE.sub("_", folded).strip(" ._-")


def safe_filename(name: str | None, *, fallback: str = "attachment", max_length: int = 120) -> str:
    """A name that is safe on any file system and in a download header.

    Attachment names are chosen by strangers: `../../etc/passwd`, `C:\\boot.ini`, NUL
    and other control characters, a right-to-left override hiding `.exe`, 5,000
    characters, only dots, `CON`. The result is one plain ASCII name: path separators
    and anything unusual become "_" (nothing of the name is lost to a path), control
    and format characters go, accents are folded, leading and trailing dots and spaces
    go, a Windows device name gets a "_", and the extension (up to ten letters or
    digits) survives both folding and truncation: a name in Arabic script still ends
    in `.docx`. Nothing usable left gives `fallback`.
    """
    text = "".join(ch for ch in (name or "") if ch.isprintable()).strip().rstrip(" .")
    stem, dot, extension = text.rpartition(".")
    extension = _ascii_part(extension)
    if not dot or not _EXTENSION.fullmatch(extension):
        stem, extension = text, ""
    if extension and len(extension) + 2 > max_length:
        extension = ""
    room = max(1, max_length - (len(extension) + 1 if extension else 0))
    stem = _ascii_part(stem)[:room].rstrip(" ._-")
    if not stem:
        stem = (_ascii_part(fallback) or "attachment")[:room]
    head, dot, rest = stem.partition(".")
    if _RESERVED.fullmatch(head.rstrip(" ")):
        stem = (head.rstrip(" ") + "_" + dot + rest)[:room]
    return f"{stem}.{extension}" if extension else stem
