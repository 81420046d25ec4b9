"""A reply is found beside the message it answers: In-Reply-To and References carry the
original's Message-ID exactly as it came, or are left out.

Mail clients thread by comparing Message-IDs byte for byte. An id rewritten on the way
back (RFC 2047 encoded, folded inside the id, cut short) threads with nothing, and a
mail client may show the reply as a stranger's mail. The replies are read back from the
raw bytes the real SMTP server received.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.demo import samples
from pipeline.devservers.smtp import CapturedMessage
from tests.conftest import SUBMISSIONS, Intake, ny
from tests.helpers.commands import intake_command
from tests.helpers.mail import header_block, raw_header, replace_header

ON_TIME = ny(2021, 5, 20, 10, 0)

# 300 characters, as some list servers and archiving gateways write them.
LONG_ID = "<" + "0123456789abcdef" * 16 + "012.long-message-id.gateway-archive@un.int>"
# An id with 8-bit bytes in it (UTF-8), as some webmail systems write them.
NON_ASCII_ID = "<déjà-vu.2021.05.20.Ωmega@exämple.un.int>".encode()
# Over the 998 characters a header line may have: it cannot be carried whole.
OVERLONG_ID = "<" + "x" * 1200 + "@un.int>"


def submission(mission: str, sender: str, **options: Any) -> bytes:
    return samples.submission_email(mission_name=mission, sender=sender, to=SUBMISSIONS, **options)


def with_message_id(raw: bytes, message_id: bytes) -> bytes:
    return replace_header(raw, "Message-ID", message_id)


def threading_headers(reply: CapturedMessage) -> list[bytes]:
    """The reply's In-Reply-To and References lines as sent, continuation lines kept."""
    names = (b"in-reply-to:", b"references:")
    return [
        raw_header(reply, line.split(b":", 1)[0].decode())
        for line in header_block(reply)
        if line.lower().startswith(names)
    ]


def test_a_long_message_id_is_carried_byte_for_byte(intake: Intake) -> None:
    """GIVEN Japan's mail system writes 300-character Message-IDs, and Ghana's writes one
    on a folded line of its own WHEN both statements are acknowledged THEN each
    acknowledgement's In-Reply-To and References are that id, byte for byte, each on one
    line: not folded inside the id, not RFC 2047 encoded."""
    assert len(LONG_ID) == 300
    folded_id = LONG_ID.replace("long-message-id", "folded-message-id")
    intake.deliver(
        with_message_id(submission("Japan", "japan@un.int"), LONG_ID.encode()), at=ON_TIME
    )
    intake.deliver(
        with_message_id(submission("Ghana", "ghana@un.int"), b"\r\n\t" + folded_id.encode()),
        at=ON_TIME,
    )

    intake.run()

    assert {r.message_id for r in intake.ledger()} == {LONG_ID, folded_id}
    intake.replies(2)
    for address, message_id in (("japan@un.int", LONG_ID), ("ghana@un.int", folded_id)):
        [reply] = intake.replies_to(address)
        assert threading_headers(reply) == [
            b"In-Reply-To: " + message_id.encode(),
            b"References: " + message_id.encode(),
        ]
        assert reply.message["In-Reply-To"] == message_id
        assert reply.message["References"] == message_id
        assert all(len(line) <= 998 for line in header_block(reply))
        assert raw_header(reply, "Message-ID").startswith(b"Message-ID: <intake.acknowledgement.")


def test_a_message_id_that_cannot_be_carried_is_left_out(intake: Intake) -> None:
    """GIVEN one Message-ID with 8-bit bytes (UTF-8) and one of 1,200 characters WHEN
    both messages are answered THEN neither reply has In-Reply-To or References (an
    encoded or shortened id would thread with nothing, or with the wrong mail); the
    replies go out as usual, found by their subject and reference."""
    intake.deliver(with_message_id(submission("Japan", "japan@un.int"), NON_ASCII_ID), at=ON_TIME)
    intake.deliver(
        with_message_id(
            submission("Ghana", "ghana@un.int", cover_letter=None), OVERLONG_ID.encode()
        ),
        at=ON_TIME,
    )

    intake.run()

    assert {(row.mission, row.status) for row in intake.queue()} == {
        ("JPN", "accepted"),
        ("GHA", "rejected"),
    }
    replies = intake.replies(2)
    assert sorted(r.rcpt_tos[0] for r in replies) == ["ghana@un.int", "japan@un.int"]
    for reply in replies:
        assert threading_headers(reply) == []
        assert b"=?utf-8?" not in reply.raw.partition(b"\r\n\r\n")[0].lower()
        assert "(reference " in reply.message["Subject"]
        assert all(len(line) <= 998 for line in header_block(reply))


def test_a_desk_reply_carries_the_long_message_id_too(intake: Intake, tmp_path: Path) -> None:
    """GIVEN Japan's statement with a 300-character Message-ID was acknowledged WHEN the
    desk rejects it after review THEN the desk's reply threads the same way: In-Reply-To
    is the id, byte for byte, on one line."""
    intake.deliver(
        with_message_id(submission("Japan", "japan@un.int"), LONG_ID.encode()), at=ON_TIME
    )
    intake.run()
    intake.replies(1)
    intake.smtp.clear()
    [row] = intake.queue()

    result = intake_command(
        "submissions",
        "reject",
        row.reference,
        "--reason",
        "The statement is signed by another delegation.",
        config=intake.write_config(tmp_path / "intake.toml"),
    )

    assert result.returncode == 0, result.stderr
    [reply] = intake.replies(1)
    assert threading_headers(reply) == [
        b"In-Reply-To: " + LONG_ID.encode(),
        b"References: " + LONG_ID.encode(),
    ]
