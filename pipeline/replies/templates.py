"""Reply texts are templates under `config/templates/<language>/`, one per reason code.

A template starts with a `Subject:` line, then a blank line, then the body. Templates are
plain text (no HTML escaping: the reply is text/plain) with strict undefined variables,
so a typo in a template fails loudly at start-up instead of sending "None" to a mission.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2


class TemplateError(Exception):
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
    def __init__(self, root: Path, language: str = "en") -> None:
        folder = root / language
        if not folder.is_dir():
            raise TemplateError(
                f"no reply templates in {folder}: set [replies] templates_dir or language"
            )
        self.folder = folder
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(folder)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # noqa: S701  (plain-text mail, never HTML)
            keep_trailing_newline=True,
        )

    def validate(self, reason_codes: Iterable[str]) -> None:
        """Fail at start-up if a reply or reason text is missing or does not parse."""
        names = ["acknowledgement.txt", "rejection.txt", "held.txt", "footer.txt"]
        names += ["desk_accepted.txt", "desk_rejected.txt", "desk_held.txt"]
        names += [f"reasons/{code}.txt" for code in reason_codes]
        for name in names:
            try:
                self.env.get_template(name)
            except jinja2.TemplateNotFound:
                raise TemplateError(f"reply template {self.folder / name} is missing") from None
            except jinja2.TemplateSyntaxError as error:
                raise TemplateError(
                    f"reply template {self.folder / name} line {error.lineno}: {error.message}"
                ) from None

    def has_reason(self, code: str) -> bool:
        return (self.folder / "reasons" / f"{code}.txt").is_file()

    def reason_text(self, code: str, params: Mapping[str, Any]) -> str:
        text = self._render(f"reasons/{code}.txt", params).strip()
        # Reflow so that long substituted values (file names) do not break the layout.
        return textwrap.fill(" ".join(text.split()), width=78, subsequent_indent="   ")

    def render(self, name: str, context: Mapping[str, Any]) -> RenderedReply:
        text = self._render(f"{name}.txt", context)
        head, _, body = text.partition("\n\n")
        if not head.startswith("Subject:"):
            raise TemplateError(
                f"reply template {self.folder / name}.txt must start with 'Subject:'"
            )
        subject = " ".join(head[len("Subject:") :].split())
        return RenderedReply(subject=subject, body=body.strip() + "\n")

    def _render(self, name: str, context: Mapping[str, Any]) -> str:
        try:
            return self.env.get_template(name).render(**context)
        except jinja2.TemplateNotFound:
            raise TemplateError(f"reply template {self.folder / name} is missing") from None
        except jinja2.UndefinedError as error:
            raise TemplateError(f"reply template {self.folder / name}: {error.message}") from None
