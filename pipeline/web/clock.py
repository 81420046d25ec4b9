"""The clock that sessions and lockouts are judged by, read in one place.

Other modules call `clock.now()` through the module (never `from ... import now`), so
that a test can move this one clock forward instead of waiting real minutes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> float:
    """Seconds since the epoch."""
    return time.time()


def moment(seconds: float | None = None) -> datetime:
    """`seconds` (now by default) as an aware UTC datetime."""
    return datetime.fromtimestamp(now() if seconds is None else seconds, UTC)
