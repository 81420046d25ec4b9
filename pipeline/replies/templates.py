"""Reply texts are templates, one per reason code, under `<root>/<language>/`.

The roots are searched file by file, in order (`Settings.template_roots`): a
`templates/` folder beside the configuration file, the folder named by
`[replies] templates_dir`, then the texts shipped inside the package
(`pipeline/resources/templates`). An operator overrides one text by copying it out
(`intake texts export DIR`) and editing the copy; the rest still come from the package.

A template starts with a `Subject:` line, then a blank line, then the body. Templates are
plain text (no HTML escaping: the reply is text/plain) with strict undefined variables,
so a typo in a template fails loudly at start-up instead of sending "None" to a mission.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from pipeline.checks.registry import KNOWN_REASONS
from pipeline.domain import Action
from pipeline.errors import IntakeUsageError
from pipeline.resources import ResourceError
from pipeline.settings.models import Settings


class TemplateError(IntakeUsageError):
    """A reply template is missing or broken; the message names the file."""


@dataclass(frozen=True)
class RenderedReply:
    subject: str
    body: str


def zone_label(zone: ZoneInfo) -> str:
    """'America/New_York' -> 'New York time'."""
    key = str(zone.key)
    if key in ("UTC", "Etc/UTC"):
        return "UTC"
    return key.rsplit("/", 1)[-1].replace("_", " ") + " time"


def format_local(moment: datetime, zone: ZoneInfo) -> str:
    """A time a reader anywhere can place: local date and time, zone name, UTC offset."""
    local = moment.astimezone(zone)
    offset = local.strftime("%z")
    offset_text = f"UTC{offset[0]}{offset[1:3]}:{offset[3:]}" if offset else "UTC"
    return (
        f"{local.strftime('%A')} {local.day} {local.strftime('%B %Y, %H:%M')} "
        f"{zone_label(zone)} ({offset_text})"
    )


def format_date(day: Any) -> str:
    return f"{day.day} {day.strftime('%B %Y')}"


class ReplyTemplates:
    def __init__(self, roots: Path | Sequence[Path], language: str = "en") -> None:
        roots = [roots] if isinstance(roots, Path) else list(roots)
        folders = [root / language for root in roots if (root / language).is_dir()]
        if not folders:
            searched = ", ".join(str(root / language) for root in roots)
            raise TemplateError(
                f"no reply templates for the language {language!r} (searched {searched}): "
                "set [replies] language to a language that has them, or templates_dir"
            )
        self.folders = folders
        self.folder = folders[0]
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(folder) for folder in folders]),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # noqa: S701  (plain-text mail, never HTML)
            keep_trailing_newline=True,
        )

    def path_of(self, name: str) -> Path:
        """Where the text `name` is read from (the first root that has it)."""
        for folder in self.folders:
            if (folder / name).is_file():
                return folder / name
        return self.folder / name

    def validate(self, reason_codes: Iterable[str]) -> None:
        """Fail at start-up if a reply or reason text is missing or does not parse."""
        names = ["acknowledgement.txt", "rejection.txt", "held.txt", "footer.txt"]
        names += ["desk_accepted.txt", "desk_rejected.txt", "desk_held.txt"]
        names += [f"reasons/{code}.txt" for code in reason_codes]
        for name in names:
            try:
                self.env.get_template(name)
            except jinja2.TemplateNotFound:
                raise TemplateError(
                    f"reply template {name} is missing from {self._searched()}: copy it from "
                    "`intake texts export DIR`"
                ) from None
            except jinja2.TemplateSyntaxError as error:
                raise TemplateError(
                    f"reply template {self.path_of(name)} line {error.lineno}: {error.message}"
                ) from None

    def _searched(self) -> str:
        return ", ".join(str(folder) for folder in self.folders)

    def has_reason(self, code: str) -> bool:
        return any((folder / "reasons" / f"{code}.txt").is_file() for folder in self.folders)

    def reason_text(self, code: str, params: Mapping[str, Any]) -> str:
        text = self._render(f"reasons/{code}.txt", params).strip()
        # Reflow so that long substituted values (file names) do not break the layout.
        return textwrap.fill(" ".join(text.split()), width=78, subsequent_indent="   ")

    def render(self, name: str, context: Mapping[str, Any]) -> RenderedReply:
        text = self._render(f"{name}.txt", context)
        head, _, body = text.partition("\n\n")
        if not head.startswith("Subject:"):
            raise TemplateError(
                f"reply template {self.path_of(name + '.txt')} must start with 'Subject:'"
            )
        subject = " ".join(head[len("Subject:") :].split())
        return RenderedReply(subject=subject, body=body.strip() + "\n")

    def _render(self, name: str, context: Mapping[str, Any]) -> str:
        try:
            return self.env.get_template(name).render(**context)
        except jinja2.TemplateNotFound:
            raise TemplateError(
                f"reply template {name} is missing from {self._searched()}"
            ) from None
        except jinja2.UndefinedError as error:
            raise TemplateError(f"reply template {self.path_of(name)}: {error.message}") from None


def load_templates(settings: Settings) -> ReplyTemplates:
    """The reply templates, every one that the decision table can call for checked.
    Raises TemplateError (a configuration problem: exit 2) naming the file."""
    try:
        roots = settings.template_roots
    except ResourceError as error:
        raise TemplateError(str(error)) from None
    templates = ReplyTemplates(roots, settings.replies.language)
    templates.validate(
        code
        for code in KNOWN_REASONS
        if settings.decision.get(code) in (Action.REJECT, Action.HOLD, Action.NOTE)
    )
    return templates
