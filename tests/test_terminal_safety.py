"""Text from mail never drives the desk's terminal or the SMTP conversation (issue 12,
point 5).

A From address may carry control characters inside a quoted local part:
`"ops<ESC>[2J<ESC>[H<ESC>[8m"@evil.example` clears the screen, homes the cursor and hides
what follows when printed raw. Such an address is no address to write to, and nothing
the CLI prints may carry a control character.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from pipeline.demo import samples
from pipeline.message.parse import parse_message
from pipeline.printable import visible
from pipeline.storage import models as m
from pipeline.storage.db import make_engine
from tests.conftest import SUBMISSIONS, Intake, ny
from tests.helpers.commands import intake_command
from tests.helpers.mail import replace_header

ON_TIME = ny(2021, 5, 20, 10, 0)
ESCAPES = b'"ops\x1b[2J\x1b[H\x1b[8m"'
EVIL_FROM = ESCAPES + b"@evil.example"
# France registered its whole domain: without the fix this From speaks for France.
EVIL_FRANCE = ESCAPES + b"@diplomatie.gouv.fr"
CONTROL = [chr(c) for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))]


def submission(mission: str, sender: str, **options: Any) -> bytes:
    return samples.submission_email(mission_name=mission, sender=sender, to=SUBMISSIONS, **options)


def forged(from_value: bytes, mission: str) -> bytes:
    return replace_header(submission(mission, "placeholder@un.int"), "From", from_value)


def test_an_address_with_control_characters_is_no_address() -> None:
    """The parser refuses it: no sender, and what it was is kept, made visible."""
    parsed = parse_message(forged(EVIL_FROM, "France"))

    assert parsed.sender is None
    assert parsed.refused_sender == '"ops\\x1b[2J\\x1b[H\\x1b[8m"@evil.example'


@pytest.mark.parametrize("character", CONTROL, ids=lambda c: f"U+{ord(c):04X}")
def test_every_control_character_is_made_visible(character: str) -> None:
    shown = visible(f"a{character}b")
    assert all(ch.isprintable() for ch in shown)
    assert shown[0] == "a"
    assert shown[-1] == "b"
    assert len(shown) > 3


def test_line_breaks_stay_only_where_asked() -> None:
    assert visible("one\ntwo\tthree") == "one\\ntwo\\tthree"
    assert visible("one\ntwo\tthree", lines=True) == "one\ntwo\tthree"
    assert visible("\u202eexe.docx") == "\\u202eexe.docx"  # a right-to-left override
    assert visible("Côte d'Ivoire, 书面发言, заявление") == "Côte d'Ivoire, 书面发言, заявление"


@pytest.mark.slow
def test_an_escape_laden_from_reaches_neither_the_terminal_nor_the_smtp_server(
    intake: Intake,
) -> None:
    """GIVEN two messages whose From hides terminal escapes, one at a domain nobody
    registered, one at a domain France registered WHEN the worker runs THEN both are
    filed as from an unknown sender and nobody is written to; `intake submissions list`,
    `intake submissions show`, `intake replies list` and `intake queue` print no ESC
    byte, with or without `--json`, even for an address a database filed before this
    release (put there directly); the desk sees the address, made visible."""
    intake.deliver(forged(EVIL_FROM, "Atlantis"), at=ON_TIME)
    intake.deliver(forged(EVIL_FRANCE, "France"), at=ON_TIME)
    intake.deliver(submission("Ghana", "ghana@un.int", cover_letter=None), at=ON_TIME)

    intake.run()

    assert [r.rcpt_tos for r in intake.replies()] == [("ghana@un.int",)]
    rows = intake.queue()
    assert [(row.sender, row.mission, row.status) for row in rows] == [
        (None, None, "rejected"),
        (None, None, "rejected"),
        ("ghana@un.int", "GHA", "rejected"),
    ]
    assert [row.reasons for row in rows[:2]] == [["unknown_sender"], ["unknown_sender"]]
    events = [e for e in intake.rows(m.AuditEvent) if e.kind == "reply_suppressed"]
    assert [e.detail["why"] for e in events] == ["no_usable_address", "no_usable_address"]
    assert events[0].detail["from"] == '"ops\\x1b[2J\\x1b[H\\x1b[8m"@evil.example'

    # A database from before this release holds such an address: as a sender and as the
    # address of a reply.
    engine = make_engine(intake.settings.database_url)
    try:
        with engine.begin() as connection:
            evil = EVIL_FROM.decode()
            connection.execute(sa.update(m.Submission.__table__).values(sender=evil))  # type: ignore[attr-defined]
            connection.execute(sa.update(m.Reply.__table__).values(to_address=evil))  # type: ignore[attr-defined]
            connection.execute(sa.update(m.MessageRecord.__table__).values(sender=evil))  # type: ignore[attr-defined]
    finally:
        engine.dispose()

    config = intake.write_config()
    reference = rows[0].reference
    commands = [
        ("submissions", "list"),
        ("submissions", "show", reference),
        ("replies", "list"),
        ("queue",),
        ("replies", "show", "1"),
    ]
    for words in commands:
        for extra in ((), ("--json",)):
            if words[:2] == ("replies", "show") and extra:
                continue
            result = intake_command(*words, *extra, config=config)
            assert result.returncode == 0, (words, result.stderr)
            assert "\x1b" not in result.stdout, words
            assert "\x1b" not in result.stderr, words
            if extra:
                json.loads(result.stdout)
    listed = intake_command("submissions", "list", config=config, env={"COLUMNS": "300"})
    assert "\\x1b[2J" in listed.stdout

    # Sending that old reply again: refused before the SMTP server hears of it.
    intake.smtp.clear()
    resent = intake_command("replies", "resend", "1", config=config)
    assert resent.returncode == 0, resent.stderr
    assert "\x1b" not in resent.stdout + resent.stderr
    assert intake.replies() == []
    [reply] = intake.rows(m.Reply)
    assert reply.status is m.ReplyStatus.FAILED
    assert reply.last_error == "not sent: the address has control or formatting characters"


def test_a_json_log_line_is_one_line_without_control_characters() -> None:
    """GIVEN a log message quoting a hostile From (an ESC sequence, a line break) and an
    exception, WHEN it is written as JSON for a log collector, THEN it is one line, valid
    JSON, and neither the message nor the traceback carries a raw control character."""
    import logging

    from pipeline.logformat import JsonFormatter

    try:
        raise ValueError("bad\x1b[2Jvalue")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "pipeline.worker",
            logging.ERROR,
            __file__,
            1,
            "from %s",
            ("x\x1b[31m@evil\nFAKE",),
            sys.exc_info(),
        )
    record.reference = "PKO-SAFETY-0001"

    line = JsonFormatter().format(record)
    event = json.loads(line)

    assert "\n" not in line
    assert event["reference"] == "PKO-SAFETY-0001"
    assert event["level"] == "error"
    assert "\x1b" not in event["message"]
    assert "\n" not in event["message"]
    assert "ValueError" in event["error"]
    assert "\x1b" not in event["error"]
