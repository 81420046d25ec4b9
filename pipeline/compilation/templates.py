"""The words of the compilation: one TOML file of Jinja2 texts per language.

`<root>/<language>/letter.toml` holds every sentence the compilation writes
around the statements (the letter's title, opening, list, closing and signature; each
annex's label, heading by mission kind and original-language line), the names of the six
languages, month names and how a date is written. Why TOML with Jinja2 strings rather
than one .txt template per text: the letter is a dozen short texts plus small tables
(languages, months, headings by kind), which read best side by side in one file that a
translator copies to a new language folder; Jinja2 gives the texts variables and the
odd condition ("1er mai" in French) without code.

What the templates render is typeset (`typography.py`): typographic quotes and
apostrophes, non-breaking spaces in dates and after "No.".

Everything is checked when the file is loaded -- every key present, every text parses
and renders with a full sample context under `StrictUndefined` -- so a typo fails the
`intake compile` command at once with the file and key, never as a blank in a document
that is about to be issued.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import jinja2

from pipeline.compilation.errors import CompilationTemplateError
from pipeline.compilation.typography import nonbreaking_date, typeset
from pipeline.domain import MeetingFormat
from pipeline.missions.registry import MissionKind
from pipeline.resources import COMPILATION, ResourceError, packaged
from pipeline.settings.models import Settings

__all__ = ["FILE_NAME", "CompilationTemplates", "default_root", "texts_roots"]

FILE_NAME = "letter.toml"

# A context with every variable a text may use, to render each text once at load time.
_SAMPLE: Mapping[str, Any] = {
    "meeting_title": "United Nations peacekeeping operations",
    "meeting_code": "PKO-SAFETY",
    "meeting_date": "24 May 2021",
    "letter_date": "28 May 2021",
    "debate": "videoconference open debate",
    "meeting_day": "Monday, 24 May 2021",
    "briefers": "Jean-Pierre Lacroix, Under-Secretary-General for Peace Operations",
    "procedure": "S/2020/372",
    "president": "Zhang Jun",
    "presidency": "China",
    "list": "Côte d'Ivoire and the Holy See",
    "count": 2,
    "numeral": "II",
    "name": "the Holy See",
    "language": "French",
    "day": 24,
    "month": "May",
    "year": 2021,
    "weekday": "Monday",
    "date": "24 May 2021",
}
_LETTER_KEYS = (
    "title", "opening", "briefers", "list", "procedure", "closing", "president_missing",
)  # fmt: skip
_MASTHEAD_KEYS = ("united_nations", "organ", "distribution", "original")
_ANNEX_KEYS = ("label", "original")
_OFFICIAL_LANGUAGES = ("ar", "zh", "en", "fr", "ru", "es")


def default_root() -> Path:
    """The shipped English and French texts (package data, `pipeline/resources`)."""
    try:
        return packaged(COMPILATION)
    except ResourceError as error:
        raise CompilationTemplateError(str(error)) from None


@dataclass(frozen=True)
class CompilationTemplates:
    """The compiled texts of one language; build with `CompilationTemplates.load`."""

    language: str
    path: Path
    _texts: Mapping[str, jinja2.Template]
    _signature: tuple[jinja2.Template, ...]
    _debate: Mapping[str, str]
    _separator: str
    _last_separator: str
    _long_separators: tuple[str, str]
    _article: str | None
    _headings: Mapping[MissionKind, jinja2.Template]
    _languages: Mapping[str, str]
    _months: tuple[str, ...]
    _weekdays: tuple[str, ...]

    @classmethod
    def load(cls, root: Path | Sequence[Path], language: str = "en") -> CompilationTemplates:
        """Read and check `<root>/<language>/letter.toml`, from the first of the roots
        that has it (see `texts_roots`).

        Raises CompilationTemplateError naming the file (and key) when it is missing,
        not TOML, incomplete, or a text does not parse or uses an unknown variable.
        """
        roots = [root] if isinstance(root, Path) else list(root)
        candidates = [r / language / FILE_NAME for r in roots]
        path = next((c for c in candidates if c.is_file()), candidates[0])
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CompilationTemplateError(
                f"no compilation texts for language {language!r}: {FILE_NAME} does not exist "
                f"in {' nor in '.join(str(c.parent) for c in candidates)}"
            ) from None
        except (OSError, UnicodeDecodeError) as error:
            raise CompilationTemplateError(f"{path}: cannot be read ({error})") from None
        except tomllib.TOMLDecodeError as error:
            raise CompilationTemplateError(f"{path}: is not valid TOML: {error}") from None
        return _Loader(path, data).build(language)

    # -- the letter ---------------------------------------------------------------------

    def render(self, key: str, context: Mapping[str, Any]) -> str:
        """The text `key` ("letter.title", "annex.label", ...) with `context` filled in,
        typeset (typographic quotes, non-breaking spaces)."""
        return typeset(_render(self.path, key, self._texts[key], context), self.language)

    def signature(self, context: Mapping[str, Any]) -> list[str]:
        """The signature block, one paragraph per line."""
        return [
            typeset(_render(self.path, "letter.signature", template, context), self.language)
            for template in self._signature
        ]

    def debate(self, meeting_format: str) -> str:
        """What the meeting was, by its format ("videoconference open debate")."""
        return self._debate[meeting_format]

    def join(self, names: Sequence[str], *, titled: bool = False) -> str:
        """UN style list: "A", "A and B", "A, B and C" (no comma before the last).
        `titled`: people with their titles, separated by semicolons when a title holds a
        comma ("Jean-Pierre Lacroix, Under-Secretary-General ...; and B")."""
        if len(names) <= 1:
            return "".join(names)
        if titled and any("," in name for name in names):
            separator, last = self._long_separators
        else:
            separator, last = self._separator, self._last_separator
        return separator.join(names[:-1]) + last + names[-1]

    def mission_name(self, name: str, *, article: bool) -> str:
        """`name` as it stands in running text: with the article where the language has one."""
        if article and self._article:
            return f"{self._article} {name}"
        return name

    def format_date(self, day: date) -> str:
        """A date as this language writes it in a UN letter ("24 May 2021"), on one line."""
        context = {"day": day.day, "month": self._months[day.month - 1], "year": day.year}
        return nonbreaking_date(self.render("dates.format", context))

    def format_day(self, day: date) -> str:
        """A meeting day with its weekday ("Monday, 24 May 2021")."""
        context = {"weekday": self._weekdays[day.weekday()], "date": self.format_date(day)}
        return self.render("dates.day", context)

    # -- the annexes --------------------------------------------------------------------

    def annex_heading(self, kind: MissionKind, context: Mapping[str, Any]) -> str:
        """ "Statement by the Permanent Mission of X to the United Nations", by kind."""
        text = _render(self.path, f"annex.heading.{kind.value}", self._headings[kind], context)
        return typeset(text, self.language)

    def language_name(self, code: str | None) -> str | None:
        """The language's name for "[Original: ...]", or None when it is not known."""
        if code is None:
            return None
        return self._languages.get(code)


_BREAKING_SPACE = re.compile(r"[ \t\r\n]+")


def _render(path: Path, key: str, template: jinja2.Template, context: Mapping[str, Any]) -> str:
    """The text on one line; a non-breaking space the context brings stays."""
    try:
        return _BREAKING_SPACE.sub(" ", template.render(**context)).strip()
    except jinja2.UndefinedError as error:
        raise CompilationTemplateError(f"{path}: {key}: {error.message}") from None


class _Loader:
    """Reads one letter.toml, checking as it goes; every error names the key."""

    def __init__(self, path: Path, data: Mapping[str, Any]) -> None:
        self.path = path
        self.data = data
        self.env = jinja2.Environment(
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # noqa: S701  (text for a Word document, never HTML)
        )

    def build(self, language: str) -> CompilationTemplates:
        texts: dict[str, jinja2.Template] = {}
        for key in _LETTER_KEYS:
            texts[f"letter.{key}"] = self.template(f"letter.{key}")
        for key in _ANNEX_KEYS:
            texts[f"annex.{key}"] = self.template(f"annex.{key}")
        for key in _MASTHEAD_KEYS:
            texts[f"masthead.{key}"] = self.template(f"masthead.{key}")
        texts["dates.format"] = self.template("dates.format")
        texts["dates.day"] = self.template("dates.day")
        signature = tuple(
            self.compile("letter.signature", line)
            for line in self.strings("letter.signature", minimum=1)
        )
        debate = {fmt.value: self.string(f"format.{fmt.value}") for fmt in MeetingFormat}
        headings = {kind: self.template(f"annex.heading.{kind.value}") for kind in MissionKind}
        languages = {code: self.string(f"languages.{code}") for code in _OFFICIAL_LANGUAGES}
        months = tuple(self.strings("dates.months", minimum=12))
        if len(months) != 12:
            raise self.error("dates.months", "must list the twelve months")
        weekdays = tuple(self.strings("dates.weekdays", minimum=7))
        if len(weekdays) != 7:
            raise self.error("dates.weekdays", "must list the seven days, Monday first")
        article = self.lookup("names.article", required=False)
        if article is not None and (not isinstance(article, str) or not article.strip()):
            raise self.error("names.article", "must be a word such as 'the', or be left out")
        templates = CompilationTemplates(
            language=language,
            path=self.path,
            _texts=texts,
            _signature=signature,
            _debate=debate,
            _separator=self.string("list.separator", strip=False),
            _last_separator=self.string("list.last_separator", strip=False),
            _long_separators=(
                self.string("list.long_separator", strip=False),
                self.string("list.long_last_separator", strip=False),
            ),
            _article=article.strip() if isinstance(article, str) else None,
            _headings=headings,
            _languages=languages,
            _months=months,
            _weekdays=weekdays,
        )
        for key, template in [*texts.items(), *(("letter.signature", t) for t in signature)]:
            _render(self.path, key, template, _SAMPLE)
        for kind in MissionKind:
            templates.annex_heading(kind, _SAMPLE)
        return templates

    def error(self, key: str, problem: str) -> CompilationTemplateError:
        return CompilationTemplateError(f"{self.path}: {key}: {problem}")

    def lookup(self, key: str, *, required: bool = True) -> object:
        node: object = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                if required:
                    raise self.error(key, "is missing")
                return None
            node = node[part]
        return node

    def string(self, key: str, *, strip: bool = True) -> str:
        value = self.lookup(key)
        if not isinstance(value, str) or (strip and not value.strip()):
            raise self.error(key, "must be a non-empty text")
        return value

    def strings(self, key: str, *, minimum: int) -> list[str]:
        value = self.lookup(key)
        if (
            not isinstance(value, list)
            or len(value) < minimum
            or not all(isinstance(item, str) and item.strip() for item in value)
        ):
            raise self.error(key, f"must be a list of at least {minimum} non-empty texts")
        return list(value)

    def compile(self, key: str, text: str) -> jinja2.Template:
        try:
            return self.env.from_string(text)
        except jinja2.TemplateSyntaxError as error:
            raise self.error(key, f"line {error.lineno}: {error.message}") from None

    def template(self, key: str) -> jinja2.Template:
        return self.compile(key, self.string(key))


def texts_roots(settings: Settings) -> list[Path]:
    """Where the compilation texts are searched, language by language: `compilation/`
    beside the configuration file when there is one, then the shipped texts."""
    roots: list[Path] = []
    if settings.source is not None:
        beside = settings.source.parent / "compilation"
        if beside.is_dir():
            roots.append(beside)
    roots.append(default_root())
    return roots
