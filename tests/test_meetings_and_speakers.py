"""The desk's day on the command line: editing a meeting it added, being warned when a
deadline is already past, importing the list of speakers the secretariat circulates
(CSV or Excel, names in any of the six UN languages, all or nothing), and `intake
missing` against that list.

A real SQLite database and the real `intake` command (Typer's runner in-process; a
subprocess where the terminal's width matters); statements are filed straight into the
database (`tests/helpers/filed.py`): these stories are about the desk, not the mail.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner, Result

from pipeline.cli.app import app as intake_app
from pipeline.desk.digest_build import build_digest
from pipeline.desk.errors import ActionError
from pipeline.desk.speaker_files import match_rows, mission_by_name, read_rows
from pipeline.storage import models as m
from pipeline.storage.db import make_engine
from tests.helpers.commands import intake_command
from tests.helpers.filed import Filed, file_debate

CONFIG_MEETING = "PKO-SAFETY"
# Côte d'Ivoire and France have accepted statements for PKO-SAFETY.
ACCEPTED = [
    Filed("CIV", "fr", "Déclaration de la Côte d'Ivoire", ("Texte.",)),
    Filed("FRA", "fr", "Déclaration de la France", ("Texte.",)),
]


@dataclass
class Desk:
    """A desk officer at a terminal, with the database the commands use."""

    config: Path
    engine: Engine
    data: Path

    def __call__(self, *words: str) -> Result:
        return CliRunner().invoke(intake_app, list(words))

    def rows(self, model: type[Any]) -> list[Any]:
        with Session(self.engine) as session:
            return list(session.exec(select(model).order_by(col(model.id))))

    def meeting(self, code: str) -> m.Meeting:
        with Session(self.engine) as session:
            return session.exec(select(m.Meeting).where(m.Meeting.code == code)).one()

    def audit(self, kind: m.AuditKind) -> list[m.AuditEvent]:
        return [event for event in self.rows(m.AuditEvent) if event.kind is kind]

    def speakers(self, meeting: str = CONFIG_MEETING) -> list[str]:
        result = self("speakers", "list", meeting, "--json")
        assert result.exit_code == 0, result.output
        return [row["code"] for row in json.loads(result.stdout)]

    def file(self, name: str, content: str | bytes) -> str:
        path = self.data / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return str(path)


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    """PKO-SAFETY from the configuration file with two accepted statements; Ghana and
    Brazil registered (addresses), nothing from them yet."""
    data = tmp_path / "data"
    settings, _blobs = file_debate(data, ACCEPTED)
    config = tmp_path / "intake.toml"
    config.write_text(
        f'[paths]\ndata_dir = "{data}"\n\n[[meetings]]\ncode = "PKO-SAFETY"\n'
        'title = "Peacekeeping"\ndate = 2021-05-24\npresident = "Zhang Jun"\n\n'
        '[missions.GHA]\nsenders = ["ghana@un.int"]\n\n'
        '[missions.BRA]\nsenders = ["@itamaraty.gov.br"]\n\n'
        '[missions.FRA]\nsenders = ["france@un.int"]\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("INTAKE_CONFIG", str(config))
    monkeypatch.setenv("INTAKE_DESK_USER", "jane.doe")
    engine = make_engine(settings.database_url)
    try:
        yield Desk(config=config, engine=engine, data=tmp_path)
    finally:
        engine.dispose()


FUTURE = ["--date", "2031-10-21"]


# -- meetings edit -----------------------------------------------------------------------


def test_the_desk_edits_only_what_it_names_and_the_audit_log_says_who_changed_what(
    desk: Desk,
) -> None:
    """GIVEN a meeting the desk added WHEN it changes the title and the word limit THEN
    those two change, the rest stays, and the audit log records the user and each change
    as before and after."""
    added = desk(
        "meetings",
        "add",
        "WPS-2031",
        "--title",
        "Women, peace",
        *FUTURE,
        "--president",
        "Martin Kimani",
        "--presidency",
        "KEN",
    )
    assert added.exit_code == 0, added.output
    before = desk.meeting("WPS-2031")

    edited = desk(
        "meetings",
        "edit",
        "wps-2031",
        "--title",
        "Women and peace and security",
        "--word-limit",
        "700",
        "--by",
        "john.roe",
    )

    assert edited.exit_code == 0, edited.output
    assert "meeting WPS-2031 changed: title, word_limit" in edited.stdout
    assert edited.stderr == ""
    after = desk.meeting("WPS-2031")
    assert (after.title, after.word_limit) == ("Women and peace and security", 700)
    assert (after.date, after.deadline, after.president, after.presidency) == (
        before.date,
        before.deadline,
        "Martin Kimani",
        "KEN",
    )
    [event] = desk.audit(m.AuditKind.MEETING_EDITED)
    assert event.actor == "john.roe"
    assert event.detail == {
        "meeting": "WPS-2031",
        "changed": {
            "title": ["Women, peace", "Women and peace and security"],
            "word_limit": [500, 700],
        },
    }


def test_a_new_date_moves_a_deadline_left_at_the_end_of_the_day_and_letter_fields_are_checked(
    desk: Desk,
) -> None:
    """GIVEN a meeting with the default deadline WHEN the desk moves its date THEN the
    deadline moves to the end of the new day; a wrong presidency is refused in one
    sentence, exit 1, and nothing changes."""
    desk("meetings", "add", "WPS-2031", "--title", "Women", *FUTURE)

    briefer = "Sima Bahous, Executive Director of UN-Women"
    moved = desk(
        "meetings",
        "edit",
        "WPS-2031",
        "--date",
        "2031-10-22",
        "--format",
        "videoconference",
        "--briefer",
        briefer,
    )
    refused = desk("meetings", "edit", "WPS-2031", "--presidency", "XX", "--title", "Other")

    assert moved.exit_code == 0, moved.output
    assert "deadline 2031-10-22T23:59:59-04:00" in moved.stdout
    meeting = desk.meeting("WPS-2031")
    assert meeting.date == date(2031, 10, 22)
    assert meeting.briefers == ["Sima Bahous, Executive Director of UN-Women"]
    assert refused.exit_code == 1
    assert refused.stderr.startswith("intake: error: presidency: unknown mission code 'XX'")
    assert desk.meeting("WPS-2031").title == "Women"


def test_a_meeting_of_the_configuration_file_is_edited_there_and_nothing_given_is_explained(
    desk: Desk,
) -> None:
    """GIVEN PKO-SAFETY from the configuration file WHEN the desk edits it THEN it is told
    to edit the file (the next start would undo the change), exit 1; an edit without any
    option says what to give."""
    config_meeting = desk("meetings", "edit", "PKO-SAFETY", "--title", "Another title")
    nothing = desk("meetings", "edit", "PKO-SAFETY")

    assert config_meeting.exit_code == 1
    assert "PKO-SAFETY comes from the configuration file: edit its [[meetings]] entry there" in (
        config_meeting.stderr
    )
    assert desk.meeting("PKO-SAFETY").title == "Peacekeeping"
    assert nothing.exit_code == 1
    assert "nothing to change: give at least one of --title" in nothing.stderr
    assert desk.audit(m.AuditKind.MEETING_EDITED) == []


def test_a_deadline_already_past_is_a_warning_on_stderr_and_the_command_succeeds(
    desk: Desk,
) -> None:
    """GIVEN the desk adds a meeting whose deadline is past, then moves a future one into
    the past WHEN each command runs THEN each succeeds (exit 0) with one warning line on
    stderr saying statements sent now are rejected as late."""
    past = intake_command(
        "meetings",
        "add",
        "WPS-2021",
        "--title",
        "Women",
        "--date",
        "2021-10-21",
        config=desk.config,
    )
    desk("meetings", "add", "WPS-2031", "--title", "Women", *FUTURE)
    moved = intake_command(
        "meetings", "edit", "WPS-2031", "--deadline", "2020-01-01T12:00", config=desk.config
    )
    future = desk("meetings", "edit", "WPS-2031", "--deadline", "2031-10-20T18:00")

    assert past.returncode == 0, past.stderr
    assert past.stderr.strip() == (
        "intake: warning: the deadline of WPS-2021 (21 Oct 2021 23:59 EDT) has already passed: "
        "statements sent now are rejected as late (`intake meetings edit CODE --deadline ...`)"
    )
    assert moved.returncode == 0, moved.stderr
    assert "the deadline of WPS-2031 (01 Jan 2020 12:00 EST) has already passed" in moved.stderr
    assert future.exit_code == 0
    assert future.stderr == ""


# -- speakers import ---------------------------------------------------------------------

SPEAKERS_CSV = """\
No.;Délégation
1;France
2;Ghana
3;Côte d’Ivoire
4;البرازيل
"""


def test_the_desk_imports_the_list_of_speakers_from_a_csv_in_the_secretariats_languages(
    desk: Desk,
) -> None:
    """GIVEN the secretariat's CSV (semicolons, a heading row, French and Arabic names, a
    typographic apostrophe) WHEN the desk imports it THEN the list holds the four missions
    in order, and the audit log records who imported which file."""
    path = desk.file("orateurs.csv", SPEAKERS_CSV)

    result = desk("speakers", "import", "pko-safety", path)

    assert result.exit_code == 0, result.output
    assert "4 speakers imported for PKO-SAFETY" in result.stdout
    assert desk.speakers() == ["FRA", "GHA", "CIV", "BRA"]
    [event] = desk.audit(m.AuditKind.SPEAKERS_IMPORTED)
    assert event.actor == "jane.doe"
    assert event.detail == {
        "meeting": "PKO-SAFETY",
        "file": "orateurs.csv",
        "speakers": 4,
        "replaced": 0,
    }


def xlsx(rows: list[list[Any]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_an_excel_list_in_spanish_and_codes_replaces_the_earlier_list(desk: Desk) -> None:
    """GIVEN a list imported already WHEN the desk imports an Excel workbook (Spanish
    names, ISO codes, a number column) THEN the workbook's list replaces the old one, and
    the audit log says how many it replaced."""
    desk("speakers", "import", "PKO-SAFETY", desk.file("first.csv", "FRA\nGHA\n"))
    rows: list[list[Any]] = [
        ["Orden", "Delegación"],
        [1, "España"],
        [2, "Costa de Marfil"],
        [3, "bra"],
        [4, "Francia"],
    ]
    path = desk.file("oradores.xlsx", xlsx(rows))

    result = desk("speakers", "import", "PKO-SAFETY", path)

    assert result.exit_code == 0, result.output
    assert "4 speakers imported for PKO-SAFETY, replacing a list of 2" in result.stdout
    assert desk.speakers() == ["ESP", "CIV", "BRA", "FRA"]
    assert [e.detail["replaced"] for e in desk.audit(m.AuditKind.SPEAKERS_IMPORTED)] == [0, 2]


def test_a_file_with_unknown_rows_imports_nothing_and_names_every_such_row(desk: Desk) -> None:
    """GIVEN a list in place WHEN the desk imports a file with two rows that name no
    mission THEN nothing changes (the old list stands), the command exits 1 with one
    sentence naming rows 3 and 5, and prints what those rows say."""
    desk("speakers", "import", "PKO-SAFETY", desk.file("first.csv", "FRA\nGHA\n"))
    path = desk.file("bad.csv", "Mission\nFrance\nNarnia\nGhana\nRepublic of Freedonia\n")

    result = desk("speakers", "import", "PKO-SAFETY", path)

    assert result.exit_code == 1
    assert (
        "intake: error: 2 rows name no mission (rows 3, 5): nothing was imported" in result.stderr
    )
    assert "row 3: Narnia" in result.stderr
    assert "row 5: Republic of Freedonia" in result.stderr
    assert desk.speakers() == ["FRA", "GHA"]
    assert len(desk.audit(m.AuditKind.SPEAKERS_IMPORTED)) == 1


def test_a_legacy_excel_file_or_an_unknown_meeting_is_refused_in_one_sentence(
    desk: Desk,
) -> None:
    legacy = desk.file("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    good = desk.file("good.csv", "FRA\n")

    old = desk("speakers", "import", "PKO-SAFETY", legacy)
    unknown = desk("speakers", "import", "NO-SUCH", good)

    assert old.exit_code == 1
    assert "legacy Excel workbook (.xls): save it as .xlsx or as CSV" in old.stderr
    assert unknown.exit_code == 1
    assert "no meeting with the code 'NO-SUCH'" in unknown.stderr
    assert desk.speakers() == []


@pytest.mark.parametrize(
    ("cell", "code"),
    [
        ("Francia", "FRA"),  # Spanish
        ("فرنسا", "FRA"),  # Arabic
        ("Франция", "FRA"),  # Russian
        ("法国", "FRA"),  # Chinese
        ("Saint-Siège", "VAT"),  # French, without the parenthesis of the ISO name
        ("the Holy See", "VAT"),  # UN English with its article
        ("ESPAÑA", "ESP"),
        ("cote d'ivoire", "CIV"),  # no accents, straight apostrophe
        ("euu", "EUU"),
        ("Narnia", None),
        ("", None),
    ],
)
def test_a_mission_is_recognised_by_code_or_by_its_name_in_a_un_language(
    cell: str, code: str | None
) -> None:
    assert mission_by_name(cell) == code


def test_a_heading_row_is_skipped_but_an_unknown_first_row_is_reported() -> None:
    """The first row is skipped only when it is headings; a misspelt first mission is not
    silently dropped."""
    with_heading = match_rows(read_rows(b"Pays\nFrance\nGhana\nFrance\n"))
    misspelt = match_rows(read_rows(b"Frence\nGhana\n"))

    assert with_heading.codes == ["FRA", "GHA"]
    assert with_heading.repeated == [(4, "FRA")]
    assert misspelt.unknown == [(1, "Frence")]


def test_a_file_that_is_not_text_nor_a_workbook_is_refused() -> None:
    with pytest.raises(ActionError, match="neither an Excel workbook"):
        read_rows(b"\xff\xfe\x00F\x00R\x00A")
    with pytest.raises(ActionError, match="not a readable Excel workbook"):
        read_rows(b"PK\x03\x04 broken zip")


# -- missing against the list ------------------------------------------------------------


def test_missing_lists_the_inscribed_speakers_without_a_statement_and_only_those(
    desk: Desk,
) -> None:
    """GIVEN France and Côte d'Ivoire accepted, and Ghana and Brazil registered WHEN the desk
    asks who is missing THEN without a list it is the registered missions without a
    statement; with a list (France, Ghana, Côte d'Ivoire, Spain) it is Ghana and Spain
    only, in the list's order, and the heading says which of the two it is."""
    without = desk("missing", "PKO-SAFETY")
    desk("speakers", "import", "PKO-SAFETY", desk.file("list.csv", "FRA\nGHA\nCIV\nESP\n"))
    with_list = desk("missing", "PKO-SAFETY")
    as_json = desk("missing", "PKO-SAFETY", "--json")

    assert without.exit_code == 0, without.output
    assert "2 registered missions without an accepted statement for PKO-SAFETY" in (
        " ".join(without.stdout.split())
    )
    assert "Brazil" in without.stdout
    assert with_list.exit_code == 0, with_list.output
    assert "2 of the 4 inscribed speakers have not submitted" in " ".join(with_list.stdout.split())
    assert [row["code"] for row in json.loads(as_json.stdout)] == ["GHA", "ESP"]
    assert "Brazil" not in with_list.stdout
    assert "none registered" in with_list.stdout  # Spain has no sender address yet


def test_at_80_columns_the_speakers_and_missing_tables_stay_readable(desk: Desk) -> None:
    """GIVEN a terminal 80 columns wide WHEN the desk lists the speakers and who is missing
    THEN no line is wider than the terminal and every mission's code and name are there."""
    desk("speakers", "import", "PKO-SAFETY", desk.file("list.csv", "GBR\nFRA\nVAT\nCOD\nGHA\n"))
    env = {"COLUMNS": "80"}

    speakers = intake_command("speakers", "list", "PKO-SAFETY", config=desk.config, env=env)
    missing = intake_command("missing", "PKO-SAFETY", config=desk.config, env=env)

    for result in (speakers, missing):
        assert result.returncode == 0, result.stderr
        assert max(len(line) for line in result.stdout.splitlines()) <= 80, result.stdout
    assert "PKO-SAFETY-0002" in speakers.stdout  # France's accepted statement
    for code in ("GBR", "VAT", "COD", "GHA"):
        assert code in missing.stdout
    assert "Holy See" in missing.stdout


def test_the_daily_digest_counts_the_inscribed_speakers_once_a_meeting_has_a_list(
    desk: Desk,
) -> None:
    """GIVEN PKO-SAFETY's list (France, Ghana, Spain; France accepted) WHEN the digest is
    written the day before the deadline THEN it counts 2 of 3 inscribed speakers, not the
    registered missions."""
    desk("speakers", "import", "PKO-SAFETY", desk.file("list.csv", "FRA\nGHA\nESP\n"))
    zone = ZoneInfo("America/New_York")

    with Session(desk.engine) as session:
        digest = build_digest(
            session, since=None, now=datetime(2021, 5, 23, 12, tzinfo=UTC), zone=zone
        )

    [row] = digest.not_submitted
    assert (row.meeting, row.missing, row.registered, row.inscribed) == ("PKO-SAFETY", 2, 3, True)
    assert "PKO-SAFETY  2 of 3 inscribed speakers" in digest.render_text()
