"""The command line, as an operator meets it: help, mistakes in the file, the queue."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.demo import samples
from tests.conftest import SUBMISSIONS, Intake, ny
from tests.helpers.commands import intake_command, one_line

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "intake.example.toml"

SUBCOMMANDS = [
    [],
    ["run-once"],
    ["worker"],
    ["demo"],
    ["submissions"],
    ["submissions", "list"],
    ["config"],
    ["config", "check"],
]


@pytest.mark.parametrize("words", SUBCOMMANDS, ids=lambda w: " ".join(w) or "intake")
def test_every_command_explains_itself(words: list[str]) -> None:
    result = intake_command(*words, "--help", config=EXAMPLE)

    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
    assert len(result.stdout.split()) > 15


def test_the_example_configuration_is_valid() -> None:
    result = intake_command("config", "check", config=EXAMPLE)

    assert result.returncode == 0, result.stderr
    assert "OK: 1 meeting(s), 5 mission(s)" in result.stdout


def test_the_command_is_installed_as_intake() -> None:
    intake = Path(sys.executable).parent / "intake"
    result = subprocess.run(
        [str(intake), "--help"], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0
    assert "written statements" in result.stdout


BROKEN = {
    "not TOML": ("[mailbox\nhost = 1", "is not valid TOML"),
    "a misspelt key": ('[mailbox]\nhots = "x"', "mailbox.hots: is not a known setting"),
    "a bad port": ("[mailbox]\nport = 99999", "mailbox.port: Input should be less than or equal"),
    "an unknown time zone": (
        '[[meetings]]\ncode = "X-1"\ntitle = "t"\ndate = 2021-05-24\ntimezone = "Mars/Olympus"',
        "meetings.0.timezone: unknown time zone 'Mars/Olympus'",
    ),
    "an unknown mission": (
        '[missions.XYZ]\nsenders = ["a@b.org"]',
        "missions: unknown mission code 'XYZ'",
    ),
    "an address given to two missions": (
        '[missions.FRA]\nsenders = ["a@un.int"]\n[missions.GHA]\nsenders = ["a@un.int"]',
        "'a@un.int' is already allowed for FRA",
    ),
    "a bad sender": ('[missions.FRA]\nsenders = ["not an address"]', "is not an email address"),
    "a non-ASCII reply address": (
        '[smtp]\nsender = "soumissions@exämple.org"',
        "use the ASCII form of the address",
    ),
    "an unknown decision": ('[decision]\nlate = "shrug"', "decision.late: Input should be"),
    "an unknown reason code": ('[decision]\nlatte = "reject"', "unknown reason code 'latte'"),
    "a bad database url": ('[database]\nurl = "mysql://x"', "database.url: must start with"),
    "a sender policy with no trusted server": (
        '[authentication]\npolicy = "require"',
        "authentication.authserv_id is not set",
    ),
    "a mission's sender policy with no trusted server": (
        '[missions.FRA]\nsenders = ["a@un.int"]\nauthentication = "hold"',
        "missions.FRA.authentication is 'hold' but authentication.authserv_id is not set",
    ),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_a_broken_configuration_gives_one_sentence_and_exit_code_2(
    case: str, tmp_path: Path
) -> None:
    text, expected = BROKEN[case]
    config = tmp_path / "intake.toml"
    config.write_text(text, encoding="utf-8")

    result = intake_command("run-once", config=config)

    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith(f"intake: error: {config}: ")
    assert expected in line


def test_a_missing_configuration_file_is_named(tmp_path: Path) -> None:
    result = intake_command("run-once", config=tmp_path / "nowhere.toml")

    assert result.returncode == 2
    assert "nowhere.toml: the configuration file does not exist" in one_line(result.stderr)


def test_no_configuration_at_all_says_how_to_give_one() -> None:
    result = intake_command("submissions", "list")

    assert result.returncode == 2
    assert "pass --config PATH or set INTAKE_CONFIG" in one_line(result.stderr)


def test_the_configuration_can_come_from_intake_config(tmp_path: Path) -> None:
    result = intake_command("config", "check", env={"INTAKE_CONFIG": str(EXAMPLE)})

    assert result.returncode == 0, result.stderr


def test_the_configuration_can_follow_the_command(tmp_path: Path) -> None:
    """`intake run-once --config PATH` is what people type; it means the same."""
    for words in (
        ["config", "check", "--config", str(EXAMPLE)],
        ["config", "check", "-c", str(EXAMPLE)],
    ):
        result = intake_command(*words)

        assert result.returncode == 0, result.stderr
        assert "OK: 1 meeting(s)" in result.stdout


def _beside_the_config(tmp_path: Path, name: str, text: str) -> Path:
    """A configuration file with a `templates/en/NAME` of its own beside it."""
    config = tmp_path / "intake.toml"
    config.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    template = tmp_path / "templates" / "en" / name
    template.parent.mkdir(parents=True)
    template.write_text(text, encoding="utf-8")
    return config


def test_a_broken_reply_template_stops_run_once_with_exit_code_2(tmp_path: Path) -> None:
    config = _beside_the_config(tmp_path, "acknowledgement.txt", "Subject: {{ unclosed\n")

    result = intake_command("run-once", config=config)

    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "acknowledgement.txt line 1" in line
    assert str(tmp_path / "templates") in line


def test_a_template_beside_the_config_replaces_only_that_text(tmp_path: Path) -> None:
    """An operator copies one text and edits it; every other text still comes from the
    package, so a partial copy is a working configuration."""
    config = _beside_the_config(
        tmp_path, "acknowledgement.txt", "Subject: Received: {{ reference }}\n\nThank you.\n"
    )

    result = intake_command("config", "check", config=config)

    assert result.returncode == 0, result.stderr


def test_the_shipped_texts_can_be_exported_for_editing(tmp_path: Path) -> None:
    result = intake_command("texts", "export", str(tmp_path / "texts"))

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "texts" / "templates" / "en" / "reasons" / "late.txt").is_file()
    assert (tmp_path / "texts" / "compilation" / "fr" / "letter.toml").is_file()
    exported = tmp_path / "texts" / "intake.example.toml"
    assert exported.read_text(encoding="utf-8") == EXAMPLE.read_text(encoding="utf-8")

    again = intake_command("texts", "export", str(tmp_path / "texts"))

    assert again.returncode == 2
    assert "add --force to overwrite them" in one_line(again.stderr)


def test_submissions_list_gives_the_queue_as_json(intake: Intake) -> None:
    intake.deliver(
        samples.submission_email(mission_name="France", sender="france@un.int", to=SUBMISSIONS),
        at=ny(2021, 5, 20, 10, 0),
    )
    intake.deliver(
        samples.submission_email(
            mission_name="Ghana", sender="ghana@un.int", to=SUBMISSIONS, cover_letter=None
        ),
        at=ny(2021, 5, 25, 10, 0),
    )
    intake.run()
    config = intake.write_config()

    everything = intake_command("submissions", "list", "--json", config=config)
    rejected = intake_command(
        "submissions",
        "list",
        "--json",
        "--status",
        "rejected",
        "--meeting",
        "pko-safety",
        config=config,
    )
    table = intake_command("submissions", "list", config=config)

    assert everything.returncode == 0, everything.stderr
    rows = json.loads(everything.stdout)
    assert [row["reference"] for row in rows] == ["PKO-SAFETY-0001", "PKO-SAFETY-0002"]
    first = rows[0]
    assert first["meeting"] == "PKO-SAFETY"
    assert first["mission"] == "FRA"
    assert first["sender"] == "france@un.int"
    assert first["received_at"] == "2021-05-20T10:00:00-04:00"
    assert first["status"] == "accepted"
    assert first["reasons"] == []
    assert first["statement_filename"] == "Statement_France.docx"
    assert first["cover_letter_filename"] == "Cover_letter_France.pdf"
    assert isinstance(first["word_count"], int)
    [only] = json.loads(rejected.stdout)
    assert only["reasons"] == ["late", "no_cover_letter"]
    assert table.returncode == 0
    assert "PKO-SAFETY-0001" in table.stdout
    assert "accepted" in table.stdout


def test_an_unknown_meeting_in_a_filter_is_named(intake: Intake) -> None:
    config = intake.write_config()

    result = intake_command("submissions", "list", "--meeting", "NOPE", config=config)

    assert result.returncode == 2
    assert "no meeting with the code 'NOPE' (known: PKO-SAFETY)" in one_line(result.stderr)
