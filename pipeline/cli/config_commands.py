"""`intake config check`: the configuration file and the reply templates validated,
without connecting anywhere. A problem is one sentence and exit 2."""

from __future__ import annotations

import typer

from pipeline.cli import common as cli

__all__ = ["config_app"]

config_app = typer.Typer(help="Check the configuration file.")


@config_app.command("check")
def config_check() -> None:
    """Validate the configuration file and the reply templates, without connecting anywhere."""
    from pipeline.replies.templates import load_templates

    current = cli.settings()
    texts = load_templates(current)
    senders = sum(len(mission.senders) for mission in current.missions.values())
    cli.out.print(
        f"intake: {current.source}: OK: {len(current.meetings)} meeting(s), "
        f"{len(current.missions)} mission(s) with {senders} sender address(es), "
        f"database {current.database_url.split('://', 1)[0]}",
        markup=False,
    )
    cli.out.print(
        f"intake: replies in {', '.join(texts.languages)} (default {texts.default})",
        markup=False,
    )
    from pipeline.documents.reading import describe_conversion

    fine, conversion = describe_conversion(current.documents)
    (cli.out if fine else cli.err).print(
        f"intake: {'' if fine else 'warning: '}{conversion}", markup=False
    )
