"""What one statement's copy into the compilation kept and dropped."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class MergeReport:
    """What one statement's copy kept and dropped, for the log and the desk."""

    paragraphs: int = 0
    tables: int = 0
    pictures: int = 0
    notes: int = 0  # footnotes and endnotes
    dropped: Counter[str] = field(default_factory=Counter)

    def describe_dropped(self) -> str:
        """'2 text boxes or shapes, 1 comment' (sorted, so logs compare)."""
        return ", ".join(f"{count} {what}" for what, count in sorted(self.dropped.items()))
