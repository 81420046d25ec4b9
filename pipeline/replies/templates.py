"""Reply texts are templates, one per reason code, under `<root>/<language>/`.

The roots are searched file by file, in order (`Settings.template_roots`): a
`templates/` folder beside the configuration file, the folder named by
`[replies] templates_dir`, then the texts shipped inside the package
(`pipeline/resources/templates`). An operator overrides one text by copying it out
(`intake texts export DIR`) and editing the copy; the rest still come from the package.

Every language folder found (English, French and Spanish are shipped) is loaded at
start-up and must have every text the English folder has: a half-translated language
would otherwise fail only when a delegation writes in it. `ReplyTexts` holds them all and
says which language a reply is in (the statement's, the mission's, the default).

A template starts with a `Subject:` line, then a blank line, then the body. Templates are
plain text (no HTML escaping: the reply is text/plain) with strict undefined variables,
so a typo in a template fails loudly at start-up instead of sending "None" to a mission.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from pipeline.checks.registry import KNOWN_REASONS
from pipeline.domain import Action
from pipeline.errors import IntakeUsageError
from pipeline.replies.dates import format_date as format_date
from pipeline.replies.dates import format_local as format_local
from pipeline.replies.dates import zone_label as zone_label
from pipeline.resources import ResourceError
from pipeline.settings.models import Settings

# The language every other one is checked against: it has every text.
REFERENCE_LANGUAGE = "en"
_LANGUAGE_FOLDER = re.compile(r"[a-z]{2,3}")


class TemplateError(IntakeUsageError):
    """A reply template is missing or broken; the message names the file."""


@dataclass(frozen=True)
class RenderedReply:
    subject: str
    body: str


class ReplyTemplates:
    def __init__(self, roots: Path | Sequence[Path], language: str = "en") -> None:
        roots = [roots] if isinstance(roots, Path) else list(roots)
        self.language = language
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

    def validate(self, reason_codes: Iterable[str], also: Iterable[str] = ()) -> None:
        """Fail at start-up if a reply or reason text is missing or does not parse
        (`also`: more texts to parse, such as every one the English folder has)."""
        names = ["acknowledgement.txt", "rejection.txt", "held.txt", "footer.txt"]
        names += ["desk_accepted.txt", "desk_rejected.txt", "desk_held.txt"]
        names += [f"reasons/{code}.txt" for code in reason_codes]
        names += [name for name in also if name not in names]
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


def template_names(folders: Sequence[Path]) -> list[str]:
    """Every text the folders hold between them, as relative names ("reasons/late.txt")."""
    names = {
        path.relative_to(folder).as_posix()
        for folder in folders
        for path in folder.rglob("*.txt")
        if path.is_file()
    }
    return sorted(names)


def template_languages(roots: Sequence[Path]) -> list[str]:
    """The languages some root has a folder for ("en", "fr", "es" ...)."""
    return sorted(
        {
            folder.name
            for root in roots
            if root.is_dir()
            for folder in root.iterdir()
            if folder.is_dir() and _LANGUAGE_FOLDER.fullmatch(folder.name)
        }
    )


@dataclass(frozen=True)
class ReplyTexts:
    """The reply templates of every language that has them, and which one a reply is in.

    A reply is written in the statement's language when there are templates for it, else
    in the mission's configured language (`[missions.<ISO3>] language`), else in the
    default (`[replies] language`). A message rejected before any statement was read
    (none attached, an unknown sender) has no statement language: the mission's, else the
    default, applies.
    """

    by_language: Mapping[str, ReplyTemplates]
    default: str
    mission_languages: Mapping[str, str]

    @property
    def languages(self) -> list[str]:
        return sorted(self.by_language)

    def language_for(self, *, statement_language: str | None, mission_code: str | None) -> str:
        if statement_language in self.by_language:
            assert statement_language is not None
            return statement_language
        mission_language = self.mission_languages.get(mission_code or "")
        if mission_language in self.by_language:
            assert mission_language is not None
            return mission_language
        return self.default

    def in_language(self, language: str) -> ReplyTemplates:
        return self.by_language.get(language) or self.by_language[self.default]


def _complete(roots: Sequence[Path], language: str, reference: Sequence[str]) -> None:
    """Fail, naming the file, when `language` lacks a text the English folder has."""
    folders = [root / language for root in roots if (root / language).is_dir()]
    have = set(template_names(folders))
    missing = [name for name in reference if name not in have]
    if missing:
        raise TemplateError(
            f"reply template {language}/{missing[0]} is missing from "
            f"{', '.join(str(folder) for folder in folders)} (the English folder has it): "
            f"translate it there, or remove the {language} folder"
        )


def load_templates(settings: Settings) -> ReplyTexts:
    """The reply templates of every language, every one that the decision table can call
    for checked, and every language as complete as English. Raises TemplateError (a
    configuration problem: exit 2) naming the file."""
    try:
        roots = settings.template_roots
    except ResourceError as error:
        raise TemplateError(str(error)) from None
    languages = template_languages(roots)
    needed = [settings.replies.language] + [
        mission.language for mission in settings.missions.values() if mission.language
    ]
    for language in needed:
        if language not in languages:
            raise TemplateError(
                f"no reply templates for the language {language!r} "
                f"(there are: {', '.join(languages)}): set [replies] language and the "
                f"missions' language to one of them, or add a {language} folder of templates"
            )
    codes = [
        code
        for code in KNOWN_REASONS
        if settings.decision.get(code) in (Action.REJECT, Action.HOLD, Action.NOTE)
    ]
    reference = template_names(
        [root / REFERENCE_LANGUAGE for root in roots if (root / REFERENCE_LANGUAGE).is_dir()]
    )
    by_language: dict[str, ReplyTemplates] = {}
    for language in languages:
        _complete(roots, language, reference)
        templates = ReplyTemplates(roots, language)
        templates.validate(codes, also=reference)
        by_language[language] = templates
    return ReplyTexts(
        by_language=by_language,
        default=settings.replies.language,
        mission_languages={
            code: mission.language
            for code, mission in settings.missions.items()
            if mission.language is not None
        },
    )
