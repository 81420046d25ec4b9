"""The service desk's commands, against a database filled by the real pipeline.

Every command runs as the real `intake` process; every `--json` listing is parsed back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.checks.documents import Statement
from pipeline.demo import samples
from pipeline.demo.automatic import auto_reply_email
from tests.conftest import SUBMISSIONS, Intake, ny, text_of
from tests.helpers.commands import intake_command, one_line

ON_TIME = ny(2021, 5, 20, 10, 0)


def submission(mission: str, sender: str, **options: Any) -> bytes:
    return samples.submission_email(mission_name=mission, sender=sender, to=SUBMISSIONS, **options)


@pytest.fixture
def filed(intake: Intake) -> tuple[Intake, Path]:
    """France accepted, Ghana rejected (no cover letter), Japan held (no meeting named
    while two are open), and a config file for the commands."""
    intake.reconfigure(
        meetings=[
            intake.config_data["meetings"][0],
            {"code": "WPS-2021", "title": "Women and peace and security", "date": "2021-10-21"},
        ]
    )
    intake.deliver(
        submission("France", "france@un.int", subject="PKO-SAFETY statement"), at=ON_TIME
    )
    intake.deliver(
        submission("Ghana", "ghana@un.int", subject="PKO-SAFETY statement", cover_letter=None),
        at=ON_TIME,
    )
    intake.deliver(submission("Japan", "japan@un.int", subject="Our statement"), at=ON_TIME)
    intake.run()
    intake.replies(3)
    intake.smtp.clear()
    return intake, intake.write_config()


def run_json(config: Path, *words: str) -> Any:
    result = intake_command(*words, "--json", config=config)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def reference_of(intake: Intake, mission: str) -> str:
    [row] = [r for r in intake.queue() if r.mission == mission]
    return row.reference


def test_the_queue_shows_each_open_meeting_with_counts_and_what_needs_a_human(
    filed: tuple[Intake, Path],
) -> None:
    _intake, config = filed

    data = run_json(config, "queue")
    table = intake_command("queue", config=config)

    meetings = {meeting["code"]: meeting for meeting in data["meetings"]}
    assert meetings["PKO-SAFETY"]["counts"] == {
        "accepted": 1,
        "rejected": 1,
        "held": 0,
        "superseded": 0,
    }
    assert meetings["PKO-SAFETY"]["time_left"] < 0  # 2021: the deadline has passed
    assert {row["mission"] for row in meetings["PKO-SAFETY"]["newest"]} == {"FRA", "GHA"}
    assert [row["mission"] for row in data["unrouted_held"]] == ["JPN"]
    assert table.returncode == 0
    assert "PKO-SAFETY" in table.stdout
    assert "deadline passed" in table.stdout
    assert "Held, no meeting" in table.stdout


def test_showing_a_submission_gives_files_checks_replies_and_timeline(
    filed: tuple[Intake, Path],
) -> None:
    intake, config = filed
    reference = reference_of(intake, "GHA")

    data = run_json(config, "submissions", "show", reference.lower())
    text = intake_command("submissions", "show", reference, config=config)

    assert data["reference"] == reference
    assert data["sender"] == "ghana@un.int"
    assert data["mission"] == "GHA"
    assert data["decisions"][-1]["reasons"][0]["code"] == "no_cover_letter"
    [statement] = [d for d in data["documents"] if d["role"] == "statement"]
    assert Path(statement["path"]).read_bytes()[:2] == b"PK"  # the stored original
    assert b"ghana@un.int" in Path(data["raw_message_path"]).read_bytes()  # the original mail
    assert [r["kind"] for r in data["replies"]] == ["rejection"]
    assert [e["kind"] for e in data["timeline"]][:2] == ["submission_filed", "decision"]
    assert text.returncode == 0
    assert "no_cover_letter" in text.stdout
    assert "Timeline" in text.stdout


def test_an_unknown_reference_is_one_clear_line(filed: tuple[Intake, Path]) -> None:
    _intake, config = filed

    result = intake_command("submissions", "show", "PKO-SAFETY-9999", config=config)

    assert result.returncode == 1
    assert "no submission with the reference 'PKO-SAFETY-9999'" in one_line(result.stderr)


def test_the_desk_rejects_an_accepted_statement_and_the_delegation_is_told_why(
    filed: tuple[Intake, Path],
) -> None:
    intake, config = filed
    reference = reference_of(intake, "FRA")

    result = intake_command(
        "submissions",
        "reject",
        reference,
        "--reason",
        "The statement is signed by another delegation.",
        "--by",
        "desk.officer",
        config=config,
    )

    assert result.returncode == 0, result.stderr
    assert f"{reference}: accepted -> rejected; reply sent" in result.stdout
    [reply] = intake.replies(1)
    assert reply.rcpt_tos == ("france@un.int",)
    assert "Not accepted after review" in reply.message["Subject"]
    assert "signed by another delegation" in text_of(reply)
    data = run_json(config, "submissions", "show", reference)
    assert data["status"] == "rejected"
    assert data["decisions"][-1]["decided_by"] == "desk.officer"
    assert data["decisions"][-1]["note"] == "The statement is signed by another delegation."
    assert "desk_decision" in [e["kind"] for e in data["timeline"]]


def test_the_desk_accepts_a_held_message_into_a_meeting_without_notifying(
    filed: tuple[Intake, Path],
) -> None:
    intake, config = filed
    reference = reference_of(intake, "JPN")

    result = intake_command(
        "submissions",
        "accept",
        reference,
        "--meeting",
        "PKO-SAFETY",
        "--no-notify",
        "--reason",
        "Confirmed by phone: for the peacekeeping debate.",
        config=config,
    )

    assert result.returncode == 0, result.stderr
    assert "held -> accepted; no reply sent" in result.stdout
    [row] = [r for r in intake.queue() if r.mission == "JPN"]
    assert (row.status, row.meeting) == ("accepted", "PKO-SAFETY")
    assert intake.replies() == []


def test_accepting_a_held_message_without_a_meeting_says_how(filed: tuple[Intake, Path]) -> None:
    intake, config = filed

    result = intake_command(
        "submissions", "accept", reference_of(intake, "JPN"), "--reason", "ok", config=config
    )

    assert result.returncode == 1
    assert "accept it with --meeting CODE" in one_line(result.stderr)


def test_holding_asks_for_a_reason(filed: tuple[Intake, Path]) -> None:
    intake, config = filed

    result = intake_command(
        "submissions", "hold", reference_of(intake, "FRA"), "--reason", "  ", config=config
    )

    assert result.returncode == 1
    assert "give a reason" in one_line(result.stderr)


def test_a_failed_reply_is_listed_and_resent_with_the_same_message_id(
    filed: tuple[Intake, Path],
) -> None:
    intake, config = filed
    intake.smtp.reject_with = (554, "5.7.1 Relay access denied")
    intake.deliver(submission("Brazil", "brazil@un.int", subject="PKO-SAFETY"), at=ON_TIME)
    intake.run()
    intake.smtp.reject_with = None

    failed = run_json(config, "replies", "list", "--status", "failed")
    [reply] = failed
    resent = intake_command("replies", "resend", str(reply["id"]), config=config)

    assert "554" in reply["last_error"]
    assert resent.returncode == 0, resent.stderr
    assert f"reply {reply['id']} sent" in resent.stdout
    [delivered] = intake.replies(1)
    assert delivered.message["Message-ID"] == reply["message_id"]
    assert run_json(config, "replies", "list", "--status", "failed") == []


def test_a_message_held_after_an_error_is_retried_and_moved_to_its_folder(
    intake: Intake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault in the checks (injected: a bug we cannot cause otherwise) holds the message
    for the desk; after the fix, `intake messages retry` files it and answers it."""

    def broken(self: Statement, facts: object) -> object:
        raise RuntimeError("a bug in the statement check")

    monkeypatch.setattr(Statement, "check", broken)
    intake.deliver(submission("France", "france@un.int"), at=ON_TIME)
    intake.run()
    monkeypatch.undo()
    [row] = intake.queue()
    assert (row.status, row.reasons) == ("held", ["internal_error"])
    assert len(intake.folder("Intake/Held")) == 1
    assert intake.replies() == []
    config = intake.write_config()

    result = intake_command("messages", "retry", config=config)

    assert result.returncode == 0, result.stderr
    assert f"{row.reference}: accepted" in result.stdout
    [after] = intake.queue()
    assert (after.reference, after.status) == (row.reference, "accepted")
    assert len(intake.replies(1)) == 1
    assert intake.folder("Intake/Held") == []
    assert len(intake.folder("Intake/Accepted")) == 1
    again = intake_command("messages", "retry", config=config)
    assert "nothing to retry" in again.stdout


@pytest.mark.slow
def test_missions_are_listed_shown_and_given_new_sender_addresses(
    filed: tuple[Intake, Path],
) -> None:
    _intake, config = filed

    everyone = run_json(config, "missions", "list")
    added = intake_command(
        "missions", "add-sender", "civ", "Delegation@CIV-Mission.example", config=config
    )
    shown = run_json(config, "missions", "show", "CIV")
    config_address = intake_command(
        "missions", "remove-sender", "CIV", "cotedivoire@un.int", config=config
    )
    removed = intake_command(
        "missions", "remove-sender", "CIV", "delegation@civ-mission.example", config=config
    )
    taken = intake_command("missions", "add-sender", "GHA", "france@un.int", config=config)

    assert len(everyone) == 196
    assert added.returncode == 0, added.stderr
    assert {s["address"]: s["source"] for s in shown["senders"]} == {
        "cotedivoire@un.int": "config",
        "delegation@civ-mission.example": "desk",
    }
    assert shown["name"] == "Côte d'Ivoire"
    assert config_address.returncode == 1
    assert "comes from the configuration file" in one_line(config_address.stderr)
    assert removed.returncode == 0
    assert taken.returncode == 1
    assert "already allowed for FRA" in one_line(taken.stderr)


def test_a_sender_added_by_the_desk_is_accepted_at_the_next_run(intake: Intake) -> None:
    config = intake.write_config()
    added = intake_command("missions", "add-sender", "URY", "uruguay@un.int", config=config)
    assert added.returncode == 0, added.stderr
    intake.deliver(submission("Uruguay", "uruguay@un.int"), at=ON_TIME)

    intake.run()

    [row] = intake.queue()
    assert (row.status, row.mission) == ("accepted", "URY")


def test_meetings_are_added_listed_and_closed(filed: tuple[Intake, Path]) -> None:
    intake, config = filed

    added = intake_command(
        "meetings",
        "add",
        "cyber-2021",
        "--title",
        "Cyber security",
        "--date",
        "2021-06-29",
        "--word-limit",
        "600",
        config=config,
    )
    closed = intake_command("meetings", "close", "WPS-2021", config=config)
    meetings = {row["code"]: row for row in run_json(config, "meetings", "list")}

    assert added.returncode == 0, added.stderr
    assert meetings["CYBER-2021"]["deadline"] == "2021-06-29T23:59:59-04:00"
    assert meetings["CYBER-2021"]["word_limit"] == 600
    assert closed.returncode == 0
    assert meetings["WPS-2021"]["status"] == "closed"
    # A closed meeting stays closed although the configuration still lists it.
    intake.run()
    assert {r["code"]: r["status"] for r in run_json(config, "meetings", "list")}[
        "WPS-2021"
    ] == "closed"
    twice = intake_command(
        "meetings", "add", "CYBER-2021", "--title", "x", "--date", "2021-06-29", config=config
    )
    assert twice.returncode == 1
    assert "exists already" in one_line(twice.stderr)


def test_missing_lists_registered_missions_without_an_accepted_statement(
    filed: tuple[Intake, Path],
) -> None:
    _intake, config = filed

    missing = {row["code"]: row for row in run_json(config, "missing", "PKO-SAFETY")}
    table = intake_command("missing", "pko-safety", config=config)

    assert "FRA" not in missing  # accepted
    assert missing["GHA"]["submissions"][0]["status"] == "rejected"
    assert {"CIV", "JPN", "BRA", "VAT", "EUU", "GHA"} <= set(missing)
    assert table.returncode == 0
    assert "Côte d'Ivoire" in table.stdout


def test_run_once_on_a_backlog_prints_progress_lines_when_not_on_a_terminal(
    intake: Intake,
) -> None:
    for index in range(120):
        intake.deliver(
            auto_reply_email(
                sender=f"someone{index}@example.org",
                to=SUBMISSIONS,
                original_subject=f"Hello {index}",
            ),
            at=ON_TIME,
        )
    config = intake.write_config()

    result = intake_command("run-once", config=config)

    assert result.returncode == 0, result.stderr
    assert "intake: filed 100 of 120" in result.stdout
    assert "intake: filed 120 of 120" in result.stdout
