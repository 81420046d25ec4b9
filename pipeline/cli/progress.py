"""Progress of a long command: a bar on a terminal (on stderr, gone when done); without
one (cron, a log file), a plain line every so many items, so a log shows it advancing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from pipeline.cli import common as cli

__all__ = ["progress"]


@contextmanager
def progress(
    label: str, *, every: int, line: Callable[[int, int], str]
) -> Iterator[Callable[[int, int], None]]:
    """Yield `update(done, total)`. On a terminal a bar named `label`; otherwise
    `line(done, total)` printed every `every` items and at the end, when there are at
    least `every` in all."""
    if cli.err.is_terminal:
        with Progress(
            TextColumn(label),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=cli.err,
            transient=True,
        ) as bar:
            task = bar.add_task(label, total=None)

            def update(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            yield update
        return

    def lines(done: int, total: int) -> None:
        if total >= every and done and (done % every == 0 or done == total):
            cli.out.print(line(done, total), markup=False)

    yield lines
