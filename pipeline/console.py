"""Tables for the terminal, shared by the CLI and the demo; and the one rule for what the
CLI prints: nothing that came by mail drives the terminal.

Every console the CLI prints through comes from `safe_console`: a render hook writes
every control, direction and separator character of what is printed as a visible escape
(`pipeline.printable.visible`), whatever the code that printed it, so an address such
as `"ops<ESC>[2J"@evil.example` shows as `"ops\\x1b[2J"@evil.example`. Rich's own
styles and cursor movements are not text and are left alone. Cells are also made
visible where they are filled (`safe`), so tables keep their widths; JSON output goes
through `json_text`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import (
    Console,
    ConsoleOptions,
    ConsoleRenderable,
    RenderableType,
    RenderHook,
    RenderResult,
)
from rich.markup import escape
from rich.segment import Segment
from rich.table import Table

from pipeline.printable import visible, visible_json
from pipeline.resources.reason_labels import reason_text
from pipeline.storage.queries import SubmissionRow


def safe(text: str) -> str:
    """Text from mail for a rich cell or line: controls made visible, markup escaped."""
    return escape(visible(text))


def json_text(data: Any) -> str:
    """JSON for stdout: readable non-ASCII, and no character that drives a terminal."""
    return visible_json(json.dumps(data, indent=2, ensure_ascii=False, default=str))


class _Visible:
    """A renderable whose text segments are made visible as they are rendered."""

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for segment in console.render(self.renderable, options):
            if segment.control or not segment.text:
                yield segment  # rich's own cursor movements, not text
            else:
                yield Segment(visible(segment.text, lines=True), segment.style)


class _VisibleHook(RenderHook):
    def process_renderables(self, renderables: list[ConsoleRenderable]) -> list[ConsoleRenderable]:
        return [_Visible(renderable) for renderable in renderables]


def safe_console(**options: Any) -> Console:
    """A rich Console that never writes a control character it did not mean to."""
    console = Console(**options)
    console.push_render_hook(_VisibleHook())
    return console


STATUS_COLOURS = {"accepted": "green", "rejected": "red", "held": "yellow", "superseded": "dim"}


def stamp(moment: datetime, *, year: bool = False, lines: int = 1) -> str:
    """A time as the desk reads it, always with its zone: '20 May 10:00 EDT' (with
    `lines=2`, the clock under the date). Aware times keep their zone (a meeting's, or
    UTC from the database); a naive one is UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    day = aware.strftime("%d %b %Y" if year else "%d %b")
    return day + ("\n" if lines == 2 else " ") + aware.strftime("%H:%M %Z")


# Narrower than this (columns), the submissions table puts each time on two lines.
NARROW = 100


def longest_word(texts: Iterable[str], *, cap: int) -> int:
    """The longest word among `texts`, at most `cap`: a column this wide wraps them at
    spaces and never splits a word (a longer one, an address, say, is folded)."""
    return min(max((len(word) for text in texts for word in text.split()), default=1), cap)


def submissions_table(
    rows: Sequence[SubmissionRow], title: str | None = None, *, width: int | None = None
) -> Table:
    """The queue as a table that fits an 80-column terminal: references, times, statuses
    and counts never wrap; mission names and reasons (in plain words) wrap at spaces, in
    columns at least as wide as their longest word. Below 100 columns (`width`, the
    console's) the time takes two lines. Everything from an email is escaped."""
    narrow = width is not None and width < NARROW
    names = [row.mission_name or row.sender or "?" for row in rows]
    reasons = [reason_text(row.reasons) for row in rows]
    table = Table(
        title=title or f"Submissions ({len(rows)})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 0),
        show_edge=False,
    )
    table.add_column("Reference", no_wrap=True)
    table.add_column("Received", no_wrap=True)
    table.add_column("Mission", overflow="fold", min_width=longest_word(names, cap=13))
    table.add_column("Status", no_wrap=True)
    table.add_column(
        "Reasons",
        overflow="fold",
        min_width=longest_word((r for rs in reasons for r in rs), cap=12),
    )
    table.add_column("Words", justify="right", no_wrap=True)
    table.add_column("Reply", overflow="fold", min_width=9)
    for row, name, labels in zip(rows, names, reasons, strict=True):
        colour = STATUS_COLOURS.get(row.status, "white")
        table.add_row(
            safe(row.reference),
            stamp(row.received_at, lines=2 if narrow else 1),
            safe(name),
            f"[{colour}]{row.status}[/]",
            "\n".join(safe(label) for label in labels),
            str(row.word_count) if row.word_count is not None else "",
            safe(_reply_cell(row)),
        )
    return table


def _reply_cell(row: SubmissionRow) -> str:
    if row.reply:
        return row.reply.replace("acknowledgement", "ack.")
    if row.reply_withheld:
        return f"withheld: {row.reply_withheld}"
    return ""
