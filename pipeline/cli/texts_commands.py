"""`intake texts export DIR`: copy the shipped texts out, to edit them.

Intake's reply templates, compilation texts and example configuration are package data
(`pipeline/resources`), so an installed `intake` works from any folder. An operator who
wants other wording exports them next to the configuration file and edits the copy:
`templates/` and `compilation/` beside the configuration file are searched first, file
by file, so a copy may hold only the texts it changes.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli import common as cli

__all__ = ["export_command", "texts_app"]

texts_app = typer.Typer(
    help="The texts Intake ships with: reply templates, compilation texts, example configuration.",
    no_args_is_help=True,
)


@texts_app.command("export")
def export_command(
    folder: Annotated[
        Path,
        typer.Argument(
            help="Where to write them; put them beside the configuration file to use them.",
            show_default=False,
        ),
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite texts that are already there.")
    ] = False,
) -> None:
    """Copy the shipped texts into FOLDER: templates/ (replies), compilation/ (the
    compilation letter) and intake.example.toml, for editing.

    Beside the configuration file, templates/ and compilation/ are read before the
    shipped texts, file by file. Existing files are never overwritten without --force.
    """
    from pipeline.resources import COMPILATION, EXAMPLE_CONFIG, TEMPLATES, packaged

    sources = [packaged(TEMPLATES), packaged(COMPILATION), packaged(EXAMPLE_CONFIG)]
    if folder.exists() and not folder.is_dir():
        cli.fail(f"{folder} is a file: name a folder to export the texts into", cli.EXIT_CONFIG)
    copies: list[tuple[Path, Path]] = []
    for source in sources:
        if source.is_dir():
            for path in sorted(source.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    copies.append((path, folder / source.name / path.relative_to(source)))
        else:
            copies.append((source, folder / source.name))
    existing = [target for _, target in copies if target.exists()]
    if existing and not force:
        cli.fail(
            f"{len(existing)} of the texts are in {folder} already (such as {existing[0]}): "
            "export into an empty folder, or add --force to overwrite them",
            cli.EXIT_CONFIG,
        )
    try:
        for source, target in copies:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    except OSError as error:
        cli.fail(f"cannot write the texts into {folder}: {error.strerror or error}")
    cli.out.print(
        f"intake: wrote {len(copies)} files into {folder}: templates/, compilation/ and "
        f"{EXAMPLE_CONFIG}. Keep templates/ and compilation/ beside your configuration "
        "file (only the texts you change are needed); they are read before the shipped ones.",
        markup=False,
    )
