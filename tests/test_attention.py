"""What needs the desk's attention, in one place: the view the dashboard, `intake queue`
and the digest share; reason codes in plain words; the CLI's tables in 80 columns.

The desk's day is filed straight into a database (tests/helpers/desk_day.py): fast, and
the same day for every story here.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from sqlmodel import Session

from pipeline.checks.registry import KNOWN_REASONS
from pipeline.desk.digest_build import build_digest
from pipeline.desk.views import AttentionKind, attention, queue_overview
from pipeline.resources import packaged
from pipeline.resources.reason_labels import reason_label, reason_labels
from tests.helpers.commands import intake_command
from tests.helpers.desk_day import (
    DESK_NOTE,
    FAILED_ERROR,
    LONG_SENDER,
    NEW_YORK,
    STUCK_ERROR,
    DeskDay,
    desk_day,
)

# Codes that do not come from a check or the worker but from filing (a note).
FILING_REASONS = {"newer_on_file"}


@pytest.fixture
def day(tmp_path: Path) -> DeskDay:
    return desk_day(tmp_path)


def _items(day: DeskDay) -> dict[AttentionKind, list[str]]:
    engine = day.engine()
    try:
        with Session(engine) as session:
            found = attention(session, now=day.now)
    finally:
        engine.dispose()
    return {
        kind: [i.reference or i.meeting or "" for i in found.of(kind)] for kind in AttentionKind
    }


def test_everything_that_waits_for_the_desk_is_in_one_list_and_nothing_else(
    day: DeskDay,
) -> None:
    """GIVEN a day with one of each thing that needs the desk, next to settled ones
    WHEN the desk asks what needs attention
    THEN each is listed once under its kind, and settled submissions are not."""
    items = _items(day)

    assert items[AttentionKind.QUARANTINED] == [day.refs["quarantined"]]
    assert items[AttentionKind.HELD] == [day.refs["desk_held"], day.refs["no_meeting"]]
    # The reply stuck with an SMTP error is there, not only the one marked failed.
    assert items[AttentionKind.REPLY_ERROR] == [day.refs["stuck_reply"], day.refs["failed_reply"]]
    # The scan the desk accepted after a phone call is verified: not listed.
    assert items[AttentionKind.UNVERIFIED_LETTER] == [day.refs["scan"]]
    # NEAR closes in 10 hours with missions missing; LATER in 5 days; PKO-SAFETY passed.
    assert items[AttentionKind.DEADLINE_NEAR] == ["NEAR"]


def test_each_item_says_what_is_wrong_in_words_and_what_to_do_next(day: DeskDay) -> None:
    """GIVEN the desk's day
    WHEN the desk reads the attention list
    THEN a hold by the desk shows the desk's own reason and who held it, automatic
    reasons are plain words, errors are quoted, and each item names a command and a page."""
    engine = day.engine()
    with Session(engine) as session:
        found = {i.reference or i.meeting: i for i in attention(session, now=day.now).items}
    engine.dispose()

    desk_held = found[day.refs["desk_held"]]
    assert desk_held.note == DESK_NOTE
    assert desk_held.noted_by == "jane.doe"
    assert DESK_NOTE in desk_held.what
    assert desk_held.command.startswith("intake submissions accept|reject NEAR-0002")
    assert desk_held.link == "/submissions/NEAR-0002"

    unrouted = found[day.refs["no_meeting"]]
    assert "Meeting not named: choose one" in unrouted.what
    assert "--meeting CODE" in unrouted.command
    assert unrouted.reasons == ["no_open_meeting", "unknown_sender"]  # codes for scripts

    quarantined = found[day.refs["quarantined"]]
    assert "during parse" in quarantined.what
    assert quarantined.command == "intake messages retry INTAKE-0001"

    stuck = found[day.refs["stuck_reply"]]
    assert STUCK_ERROR in stuck.what
    assert stuck.reply is not None
    assert stuck.reply["cancellable"]
    failed = found[day.refs["failed_reply"]]
    assert FAILED_ERROR in failed.what
    assert failed.reply is not None
    assert failed.command == f"intake replies resend {failed.reply['id']}"

    scan = found[day.refs["scan"]]
    assert scan.command == "intake submissions show NEAR-0001"
    assert "by eye" in scan.what

    near = found["NEAR"]
    assert near.what.startswith("5 of 7 registered missions have no accepted statement yet")
    assert near.command == "intake missing NEAR"
    assert near.since is not None
    assert near.since.tzinfo == NEW_YORK


def test_a_meeting_whose_deadline_passed_moves_out_of_the_open_meetings(day: DeskDay) -> None:
    """GIVEN PKO-SAFETY (2021) still open, NEAR and LATER ahead
    WHEN the overview is read
    THEN PKO-SAFETY is under "deadline passed", its failed reply still counted."""
    engine = day.engine()
    with Session(engine) as session:
        overview = queue_overview(session, now=day.now)
    engine.dispose()

    assert [mt.code for mt in overview.open_meetings] == ["NEAR", "LATER"]
    assert [mt.code for mt in overview.passed_meetings] == ["PKO-SAFETY"]
    [near] = [mt for mt in overview.meetings if mt.code == "NEAR"]
    assert [r["reference"] for r in near.reply_errors] == [day.refs["stuck_reply"]]


def test_every_reason_code_the_checks_can_give_has_a_label_in_plain_words() -> None:
    """GIVEN the reason codes of every check and of the worker
    WHEN a person reads one
    THEN it has a label: a sentence in words, short words (the CLI wraps at spaces)."""
    labels = reason_labels()
    missing = sorted((KNOWN_REASONS | FILING_REASONS) - set(labels))
    assert missing == []
    assert reason_label("cover_letter_unverified") == "Cover letter is a scan: verify by eye"
    for code, label in labels.items():
        assert "_" not in label, code
        assert max(len(word) for word in label.split()) <= 11, code
    # The file ships inside the package, and every code documented has a label.
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", _reasons_doc(), re.MULTILINE))
    assert documented <= set(labels)
    with packaged("reason_labels.toml").open("rb") as handle:
        assert tomllib.load(handle)["labels"] == dict(labels)


def _reasons_doc() -> str:
    return (Path(__file__).resolve().parents[1] / "docs" / "reasons.md").read_text("utf-8")


def test_the_digest_opens_with_what_needs_attention(day: DeskDay) -> None:
    """GIVEN the desk's day
    WHEN the daily digest is written
    THEN it opens with the same attention items, in words, each with its next step,
    every time with its zone; its JSON keeps the codes."""
    engine = day.engine()
    with Session(engine) as session:
        digest = build_digest(session, since=None, now=day.now, zone=NEW_YORK)
    engine.dispose()
    text = digest.render_text()

    section = text.split("Needs attention: 7")[1].split("New submissions since")[0]
    assert "Held for a decision (2)" in section
    assert f"Held by jane.doe: {DESK_NOTE}" in section
    assert "Replies waiting with errors (2)" in section
    assert STUCK_ERROR in section
    assert "Cover letters to verify by eye (1)" in section
    assert "next: intake messages retry INTAKE-0001" in section
    assert "next: intake missing NEAR" in section
    assert re.search(r"NEAR · Protection of civilians .* New York time", section)
    assert "Meeting not named: choose one" in text  # the held section, in words too
    codes = [item["reasons"] for item in digest.as_json()["attention"]]
    assert ["no_open_meeting", "unknown_sender"] in codes


def _lines(text: str) -> list[str]:
    return text.splitlines()


def test_intake_submissions_list_fits_80_columns_without_splitting_a_name(day: DeskDay) -> None:
    """GIVEN missions with long names and reasons in words
    WHEN the desk lists the queue in an 80-column terminal
    THEN no line is wider, every column is there, names wrap only at spaces, and each
    time carries its zone; `--json` keeps the codes."""
    result = intake_command(
        "submissions", "list", config=day.config, env={"COLUMNS": "80", "TERM": "dumb"}
    )
    as_json = intake_command("submissions", "list", "--json", config=day.config)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert max(len(line) for line in _lines(out)) <= 80
    header = next(line for line in _lines(out) if "Reference" in line)
    for column in ("Reference", "Received", "Mission", "Status", "Reasons", "Words", "Reply"):
        assert column in header
    words = {w for line in _lines(out) for w in line.split()}
    for name in ("Saint Vincent and the Grenadines", "Venezuela (Bolivarian Republic of)"):
        assert set(name.split()) <= words, name  # each word whole, on some line
    assert "Côte" in words
    assert "d'Ivoire" in words
    for ref in ("NEAR-0001", "LATER-0001", "PKO-SAFETY-0001", "INTAKE-0002"):
        assert ref in words
    assert "12345" in words
    assert re.search(r"\d\d:\d\d E[DS]T", out)
    assert "Received" in out
    assert "Cover" in words
    assert "scan:" in words
    assert "cover_letter_unverified" not in out
    assert "cover_letter_unverified" in as_json.stdout
    assert LONG_SENDER in {row["sender"] for row in json.loads(as_json.stdout)}


def test_intake_queue_leads_with_what_needs_attention_at_80_columns(day: DeskDay) -> None:
    """GIVEN the desk's day
    WHEN the desk runs `intake queue` in an 80-column terminal
    THEN it opens with the attention list, kind by kind, each with its next command;
    the reply stuck with an error is shown, not "no failed replies"."""
    result = intake_command("queue", config=day.config, env={"COLUMNS": "80", "TERM": "dumb"})
    data = json.loads(intake_command("queue", "--json", config=day.config).stdout)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert max(len(line) for line in _lines(out)) <= 80
    assert out.lstrip().startswith("Needs attention (7)")
    attention_part = out.split("NEAR  Protection")[0]
    for title in (
        "Quarantined messages (1)",
        "Held for a decision (2)",
        "Replies waiting with errors (2)",
        "Cover letters to verify by eye (1)",
        "Deadlines within 48 hours, missions missing (1)",
    ):
        assert title in attention_part
    flat = " ".join(attention_part.split())
    assert f"Held by jane.doe: {DESK_NOTE}" in flat
    assert "next: intake messages retry INTAKE-0001" in flat
    assert "421 4.7.0 Try again later" in flat
    assert "Replies failed or waiting with an error" in out
    assert [item["kind"] for item in data["attention"]["items"]].count("held") == 2
    assert data["attention"]["items"][1]["reasons"] == []  # the desk's hold: its note instead
