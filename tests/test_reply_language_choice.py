"""Which language a reply is written in, and how it writes dates: in-process, no servers.

The statement's language when there are templates for it, else the mission's configured
language, else the default; every date and time as that language writes it; and a
language folder that lacks a text the English one has is refused at start-up, naming
the file. The same replies sent for real: `test_reply_languages.py`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
import jinja2.meta
import pytest

from pipeline.configuration import ConfigError, parse_settings
from pipeline.replies.dates import format_date, format_local
from pipeline.replies.templates import TemplateError, load_templates, template_names
from pipeline.settings.models import Settings
from tests.helpers.commands import intake_command, one_line
from tests.helpers.judging import example_settings, judge, submission

NEW_YORK = ZoneInfo("America/New_York")
SHIPPED = Settings().template_roots[-1]
SHIPPED_LANGUAGES = ("en", "fr", "es")


# -- which language ------------------------------------------------------------------------


def test_a_statement_in_french_is_answered_in_french_whatever_the_mission_is_configured_for() -> (
    None
):
    """GIVEN France is configured for Spanish replies WHEN it sends a French statement
    THEN the statement's language wins: the acknowledgement is in French."""
    settings = example_settings(missions={"FRA": {"language": "es"}})

    judged = judge(submission("France", language="fr"), settings=settings)

    assert judged.outcome == "accepted"
    assert judged.reply_text.startswith("Accusé de réception")


def test_a_statement_in_a_language_without_templates_is_answered_in_the_missions_language() -> None:
    """GIVEN France is configured for French WHEN its statement is in a language without
    templates (Russian; or Spanish at a site without Spanish texts) THEN the reply is in
    French; a mission without a language, or no mission, gets the default."""
    texts = load_templates(example_settings(missions={"FRA": {"language": "fr"}}))
    without_spanish = type(texts)(
        by_language={k: v for k, v in texts.by_language.items() if k != "es"},
        default="en",
        mission_languages=texts.mission_languages,
    )

    assert without_spanish.language_for(statement_language="es", mission_code="FRA") == "fr"
    assert without_spanish.language_for(statement_language="es", mission_code="CIV") == "en"
    assert without_spanish.language_for(statement_language=None, mission_code=None) == "en"
    assert texts.language_for(statement_language="ru", mission_code="FRA") == "fr"
    assert texts.language_for(statement_language="es", mission_code="FRA") == "es"


def test_a_message_without_a_statement_is_answered_in_the_missions_language() -> None:
    """GIVEN Côte d'Ivoire is configured for French WHEN it sends only a cover letter
    THEN the rejection is in French and names the missing statement in French."""
    settings = example_settings(missions={"CIV": {"language": "fr"}})

    judged = judge(
        submission("Côte d'Ivoire", "cotedivoire@un.int", statement=False), settings=settings
    )

    assert judged.codes == ["no_statement"]
    assert judged.reply_text.startswith("Envoi non accepté pour PKO-SAFETY")
    assert "Aucune déclaration n'était jointe." in judged.reply_text


def test_without_a_mission_language_the_default_applies() -> None:
    """GIVEN `[replies] language = "es"` and no mission language WHEN an English-speaking
    mission sends no statement THEN its rejection is in Spanish, the site's default."""
    settings = example_settings(replies={"language": "es"})

    judged = judge(submission("France", statement=False), settings=settings)

    assert "No se adjuntó ninguna declaración." in judged.reply_text


# -- dates and times -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Friday 28 May 2021, 18:00 New York time (UTC-04:00)"),
        ("fr", "vendredi 28 mai 2021 à 18 h 00, heure de New York (UTC-04:00)"),
        ("es", "viernes 28 de mayo de 2021, 18:00, hora de Nueva York (UTC-04:00)"),
    ],
)
def test_a_time_is_written_as_the_replys_language_writes_it(language: str, expected: str) -> None:
    """The deadline in each language, still with its zone and UTC offset."""
    moment = datetime(2021, 5, 28, 22, 0, tzinfo=UTC)

    assert format_local(moment, NEW_YORK, language) == expected


def test_dates_follow_each_languages_habits() -> None:
    """French writes the first of the month "1er"; Spanish joins with "de"; the time of a
    zone without a city is UTC in every language, with its offset as always."""
    assert format_date(date(2021, 5, 1), "fr") == "1er mai 2021"
    assert format_date(date(2021, 5, 24), "fr") == "24 mai 2021"
    assert format_date(date(2021, 5, 24), "es") == "24 de mayo de 2021"
    assert format_date(date(2021, 12, 3), "en") == "3 December 2021"
    utc = ZoneInfo("UTC")
    assert format_local(datetime(2021, 1, 4, 9, 5, tzinfo=UTC), utc, "fr") == (
        "lundi 4 janvier 2021 à 9 h 05, UTC (UTC+00:00)"
    )


# -- the shipped texts ---------------------------------------------------------------------


def test_every_shipped_language_has_every_text_english_has() -> None:
    """French and Spanish have each reply and each reason text the English folder has."""
    english = template_names([SHIPPED / "en"])

    for language in SHIPPED_LANGUAGES:
        assert template_names([SHIPPED / language]) == english, language
    assert load_templates(Settings()).languages == sorted(SHIPPED_LANGUAGES)


def _variables(path: Path) -> set[str]:
    source = path.read_text(encoding="utf-8")
    parsed = jinja2.Environment(autoescape=False).parse(source)
    return set(jinja2.meta.find_undeclared_variables(parsed))


@pytest.mark.parametrize("language", ["fr", "es"])
def test_each_translation_uses_the_same_placeholders_as_english(language: str) -> None:
    """A translated text uses every value the English one does (the reference, the
    deadline, the file name when it may be quoted...) and no other."""
    for name in template_names([SHIPPED / "en"]):
        assert _variables(SHIPPED / language / name) == _variables(SHIPPED / "en" / name), name


def test_every_subject_is_translated() -> None:
    """No French or Spanish subject line is the English one."""
    for name in ("acknowledgement.txt", "rejection.txt", "held.txt", "desk_accepted.txt"):
        english = (SHIPPED / "en" / name).read_text(encoding="utf-8").splitlines()[0]
        for language in ("fr", "es"):
            subject = (SHIPPED / language / name).read_text(encoding="utf-8").splitlines()[0]
            assert subject.startswith("Subject: ")
            assert subject != english


# -- a site's own languages ----------------------------------------------------------------


def site_with_templates(tmp_path: Path, files: dict[str, str], **config: str) -> Path:
    """A configuration file with a `templates/` folder beside it holding `files`."""
    for name, text in files.items():
        path = tmp_path / "templates" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    lines = [f"[paths]\ndata_dir = {str(tmp_path / 'data')!r}\n"]
    lines += [f"{line}\n" for line in config.values()]
    configuration = tmp_path / "intake.toml"
    configuration.write_text("".join(lines), encoding="utf-8")
    return configuration


def test_a_site_overrides_one_french_text_and_keeps_the_rest(tmp_path: Path) -> None:
    """GIVEN a site's own French acknowledgement beside its configuration WHEN the texts
    are loaded THEN French replies use it, and every other French text is the shipped one."""
    site_with_templates(
        tmp_path,
        {"fr/acknowledgement.txt": "Subject: Bien reçu {{ reference }}\n\nMerci.\n"},
    )
    settings = parse_settings({}, environ={}, source=tmp_path / "intake.toml")

    texts = load_templates(settings)

    french = texts.in_language("fr")
    assert french.path_of("acknowledgement.txt") == tmp_path / "templates/fr/acknowledgement.txt"
    assert french.path_of("rejection.txt") == SHIPPED / "fr" / "rejection.txt"
    assert french.render("acknowledgement", {"reference": "PKO-0001"}).subject == (
        "Bien reçu PKO-0001"
    )


def test_a_language_folder_missing_a_text_is_refused_naming_the_file(tmp_path: Path) -> None:
    """GIVEN a site adds German with only an acknowledgement WHEN `intake config check`
    runs THEN it fails with exit 2 and one sentence naming the first missing file."""
    configuration = site_with_templates(
        tmp_path, {"de/acknowledgement.txt": "Subject: Eingang {{ reference }}\n\nDanke.\n"}
    )

    result = intake_command("config", "check", config=configuration)

    assert result.returncode == 2
    line = one_line(result.stderr)
    assert re.search(r"reply template de/\S+\.txt is missing from \S+/templates/de", line), line
    assert "the English folder has it" in line


def test_a_mission_language_without_templates_is_refused_in_one_sentence(tmp_path: Path) -> None:
    """GIVEN a mission configured for Russian, which has no templates WHEN `intake config
    check` runs THEN it fails with exit 2 naming the language and the ones there are."""
    configuration = site_with_templates(
        tmp_path, {}, mission='[missions.RUS]\nsenders = ["russia@un.int"]\nlanguage = "ru"'
    )

    result = intake_command("config", "check", config=configuration)

    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "no reply templates for the language 'ru' (there are: en, es, fr)" in line


def test_a_mission_language_that_is_not_a_language_code_is_a_configuration_error() -> None:
    """A typo such as "French" is caught when the configuration is read."""
    with pytest.raises(ConfigError, match="not a language code"):
        parse_settings({"missions": {"FRA": {"language": "French"}}}, environ={})


def test_config_check_names_the_reply_languages(tmp_path: Path) -> None:
    """`intake config check` says which languages replies can be written in."""
    configuration = site_with_templates(tmp_path, {})

    result = intake_command("config", "check", config=configuration)

    assert result.returncode == 0, result.stderr
    assert "replies in en, es, fr (default en)" in result.stdout


def test_loading_fails_with_template_error_for_an_incomplete_language(tmp_path: Path) -> None:
    """The same check in-process: `load_templates` raises, naming the file."""
    site_with_templates(tmp_path, {"es/footer.txt": "x\n", "pt/footer.txt": "x\n"})
    settings = parse_settings({}, environ={}, source=tmp_path / "intake.toml")

    with pytest.raises(TemplateError, match=r"reply template pt/acknowledgement\.txt is missing"):
        load_templates(settings)
