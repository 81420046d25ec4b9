"""Tables for the terminal, shared by the CLI and the demo."""

from __future__ import annotations

from collections.abc import Sequence

from rich.markup import escape
from rich.table import Table

from pipeline.storage.queries import SubmissionRow

STATUS_COLOURS = {"accepted": "green", "rejected": "red", "held": "yellow", "superseded": "dim"}


def submissions_table(rows: Sequence[SubmissionRow], title: str | None = None) -> Table:
    """The queue as a table. Everything that came from an email is escaped."""
    table = Table(title=title or f"Submissions ({len(rows)})", title_justify="left")
    table.add_column("Reference", no_wrap=True)
    table.add_column("Received", no_wrap=True)
    table.add_column("Mission", overflow="fold")
    table.add_column("Status", no_wrap=True)
    table.add_column("Reasons", overflow="fold", min_width=16)
    table.add_column("Words", justify="right")
    table.add_column("Reply", overflow="fold", min_width=14)
    for row in rows:
        colour = STATUS_COLOURS.get(row.status, "white")
        table.add_row(
            escape(row.reference),
            row.received_at.strftime("%d %b %H:%M %Z"),
            escape(row.mission_name or row.sender or "?"),
            f"[{colour}]{row.status}[/]",
            "\n".join(row.reasons),
            str(row.word_count) if row.word_count is not None else "",
            escape((row.reply or "").replace("acknowledgement", "ack.")),
        )
    return table
