"""Reproducible bytes: stable seeds, content digests and the fixed instant samples are dated.

Why this module exists: tests compare digests of samples (for example to detect a
statement sent twice) and the demo must look the same from one run to the next, so no
sample may depend on the clock, on random MIME boundaries or on ``hash()`` (salted per
process). Every seed and every "random" identifier is derived from the content here.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

__all__ = ["DEFAULT_SENT_AT", "digest", "seed"]

#: ``Date:`` of sample emails unless told otherwise. A fixed instant (New York, EDT), not
#: "now", so that the same call always produces the same bytes.
DEFAULT_SENT_AT = datetime(2021, 5, 20, 16, 42, 7, tzinfo=timezone(timedelta(hours=-4)))


def seed(*parts: str) -> int:
    """Stable 64-bit seed from strings (``hash()`` is salted per process, sha256 is not)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def digest(*parts: bytes | str) -> str:
    """Hex digest of heterogeneous parts, used for Message-IDs, boundaries and PDF IDs."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8") if isinstance(part, str) else part)
        h.update(b"\x1f")
    return h.hexdigest()
