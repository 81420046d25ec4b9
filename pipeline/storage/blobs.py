"""A content-addressed store for original files and raw messages.

Files are named by their SHA-256, so writing the same bytes twice is harmless and a crash
can never leave a half-written file under a real name (write to a temporary file, fsync,
rename). Blobs are written *before* the database transaction that refers to them commits;
an orphan blob after a crash costs disk space, never correctness.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path


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
        target.parent.mkdir(parents=True, exist_ok=True)
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


def safe_filename(name: str | None, *, fallback: str = "attachment", max_length: int = 120) -> str:
    """A name that is safe on any file system and in a download header.

    Path separators, control characters and leading dots go; accents are folded to ASCII
    where possible; the extension survives truncation.
    """
    text = unicodedata.normalize("NFKD", name or "")
    text = text.encode("ascii", "ignore").decode("ascii")
    text = text.replace("/", "_").replace("\\", "_")
    text = _UNSAFE.sub("_", text).strip(" ._")
    if not text:
        text = fallback
    if len(text) > max_length:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            text = stem[: max_length - len(ext) - 1] + "." + ext
        else:
            text = text[:max_length]
    return text
