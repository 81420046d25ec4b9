"""`intake compile MEETING --out FILE.docx [--pdf] [--symbol S/2021/999] [--date 2021-05-28]
[--job-number TEXT] [--language fr] [--keep-styles]`: the compilation the desk exports.

Errors follow the `intake` conventions: one line on stderr; exit 2 for what the user typed or
configured (an unknown meeting, an output folder that does not exist, broken compilation
texts, a --date or --symbol not in its form), 1 for what could not be done (no accepted
statement, a statement file missing from the store, the database or LibreOffice
unavailable). Warnings (no symbol yet, a date before the meeting, a statement without a
known language, content not copied, a statement left out because its file cannot be used)
are one line each and do not change the exit code.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from pipeline.cli import common as cli
from pipeline.cli.progress import progress
from pipeline.compilation import (
    CompilationTemplates,
    compile_meeting,
    export_pdf,
    texts_roots,
)
from pipeline.documents.convert import ConversionFailed, ConversionUnavailable, NoSandbox
from pipeline.documents.reading import conversion_confinement, zip_limits
from pipeline.storage.blobs import BlobStore
from pipeline.storage.db import describe_url

__all__ = ["compile_command"]

# Without a terminal (cron, a log file), a line every this many statements.
PROGRESS_EVERY = 25
# "S/2021/999", and the revisions, addenda and corrigenda ("S/2021/999/Add.1").
SYMBOL = re.compile(r"S/\d{4}/\d{1,4}(/(Rev|Add|Corr)\.\d{1,2})*")


def compile_command(
    meeting: Annotated[str, typer.Argument(help="The meeting's code, e.g. PKO-SAFETY.")],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="The Word file to write (FILE.docx).", show_default=False),
    ],
    pdf: Annotated[
        bool, typer.Option("--pdf", help="Also write FILE.pdf beside it (needs LibreOffice).")
    ] = False,
    language: Annotated[
        str,
        typer.Option("--language", help="The language of the letter: a folder of the texts."),
    ] = "en",
    templates_dir: Annotated[
        Path | None,
        typer.Option(
            "--templates",
            help="Where the compilation texts are (LANGUAGE/letter.toml). Default: "
            "compilation/ beside the configuration file, else the shipped texts.",
            show_default=False,
        ),
    ] = None,
    letter_date: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="The letter's and the masthead's date (YYYY-MM-DD). Default: today in the "
            "meeting's time zone.",
            show_default=False,
        ),
    ] = None,
    symbol: Annotated[
        str | None,
        typer.Option(
            "--symbol",
            help="The document symbol, e.g. S/2021/999. Default: a visible placeholder.",
            show_default=False,
        ),
    ] = None,
    job_number: Annotated[
        str | None,
        typer.Option(
            "--job-number",
            help='The job number printed at the foot of the pages, e.g. "21-07431 (E)".',
            show_default=False,
        ),
    ] = None,
    keep_styles: Annotated[
        bool,
        typer.Option(
            "--keep-styles",
            help="Keep the statements' theme colours and fonts instead of the document's.",
        ),
    ] = False,
) -> None:
    """Write the compilation of a meeting's accepted statements: the
    President's letter listing the delegations, then one annex per statement.

    Each mission's current accepted statement is taken (superseded, rejected
    and held ones never are); compile again after a desk decision.
    """
    current = cli.settings()
    if out.suffix.lower() != ".docx":
        cli.fail(f"--out must name a .docx file, not {out.name!r}", cli.EXIT_CONFIG)
    if not out.parent.is_dir():
        cli.fail(f"the folder {out.parent} does not exist: create it first", cli.EXIT_CONFIG)
    if out.is_dir():
        cli.fail(f"{out} is a folder: name the .docx file to write", cli.EXIT_CONFIG)
    dated = _date(letter_date)
    if symbol is not None and not SYMBOL.fullmatch(symbol.strip()):
        cli.fail(
            f"--symbol {symbol!r} is not a Security Council document symbol: write it as "
            "S/YYYY/NNN, e.g. --symbol S/2021/999",
            cli.EXIT_CONFIG,
        )
    templates = CompilationTemplates.load(templates_dir or texts_roots(current), language)

    from pipeline.storage.prepare import prepare  # the worker's imports are not needed before

    engine = prepare(current)
    try:
        with (
            Session(engine) as session,
            progress("compiling", every=PROGRESS_EVERY, line=_compiled) as report,
        ):
            result = compile_meeting(
                session,
                BlobStore(current.storage_path),
                meeting,
                templates=templates,
                out=out,
                progress=report,
                letter_date=dated,
                limits=zip_limits(current.documents),
                symbol=symbol.strip() if symbol else None,
                job_number=job_number,
                keep_styles=keep_styles,
            )
    except OSError as error:  # the output or the file store cannot be written or read
        cli.fail(f"{error.strerror or error}: {error.filename or out}")
    except SQLAlchemyError as error:
        first = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        cli.fail(f"cannot use the database at {describe_url(current.database_url)}: {first}")
    finally:
        engine.dispose()
    for warning in result.warnings:
        cli.err.print(f"intake: warning: {warning}", markup=False)
    cli.out.print(
        f"intake: {result.statements} statement(s) compiled into {result.path} "
        f"({result.seconds:.1f} s)",
        markup=False,
    )
    if pdf:
        try:
            confinement = conversion_confinement(current.documents)
            written = export_pdf(
                out,
                binary=current.documents.libreoffice,
                # A whole meeting in one document: a 784-page compilation needed about
                # 460 MB; twice a statement's allowance leaves room for pictures.
                confinement=replace(confinement, memory_mb=2 * confinement.memory_mb),
            )
        except NoSandbox as error:
            cli.fail(
                f"{error}, so no PDF was made ({out} is written): install bubblewrap, or set "
                "[documents] allow_unsandboxed_conversion = true"
            )
        except ConversionUnavailable:
            cli.fail(
                f"LibreOffice (soffice) is not available, so no PDF was made ({out} is "
                "written): install libreoffice-writer-nogui, or set [documents] libreoffice"
            )
        except ConversionFailed as error:
            cli.fail(f"the PDF could not be made: {error} ({out} is written)")
        cli.out.print(f"intake: PDF written to {written}", markup=False)


def _compiled(done: int, total: int) -> str:
    return f"intake: compiled {done} of {total} statements"


def _date(text: str | None) -> date | None:
    """--date as a date; a wrong one ends the command with one sentence (exit 2)."""
    if text is None:
        return None
    parsed = None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        try:
            parsed = date.fromisoformat(text.strip())
        except ValueError:  # 2021-02-30
            parsed = None
    if parsed is None:
        cli.fail(
            f"--date {text!r} is not a date: write it as YYYY-MM-DD, e.g. --date 2021-05-28",
            cli.EXIT_CONFIG,
        )
    return parsed
