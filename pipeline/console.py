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
from collections.abc import Sequence
from typing import Any

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
            safe(row.reference),
            row.received_at.strftime("%d %b %H:%M %Z"),
            safe(row.mission_name or row.sender or "?"),
            f"[{colour}]{row.status}[/]",
            "\n".join(safe(reason) for reason in row.reasons),
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
