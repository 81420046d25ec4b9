"""The core, told as the stories of delegations and of the service desk.

Every story runs against a real Dovecot, a real SMTP server, and both SQLite and
PostgreSQL.
"""

from __future__ import annotations

from pipeline.demo import samples
from pipeline.demo.automatic import auto_reply_email, bounce_email
from tests.conftest import SUBMISSIONS, Intake, ny, text_of
from tests.helpers.mail import MX, with_results

ON_TIME = ny(2021, 5, 20, 10, 0)


def submission(mission: str, sender: str, **options: object) -> bytes:
    return samples.submission_email(
        mission_name=mission,
        sender=sender,
        to=SUBMISSIONS,
        **options,  # type: ignore[arg-type]
    )


def test_a_delegation_sends_its_statement_on_time_and_receives_an_acknowledgement(
    intake: Intake,
) -> None:
    """GIVEN France's registered address WHEN it sends statement and cover letter in time
    THEN it is filed as accepted, moved out of the inbox, and France gets a reference."""
    intake.deliver(submission("France", "france@un.int"), at=ON_TIME)

    report = intake.run()

    assert report.filed == {"accepted": 1}
    [row] = intake.queue()
    assert row.status == "accepted"
    assert row.mission == "FRA"
    assert row.reference == "PKO-SAFETY-0001"
    assert row.statement_filename == "Statement_France.docx"
    assert row.cover_letter_filename == "Cover_letter_France.pdf"
    assert row.word_count is not None
    assert 300 < row.word_count < 450
    assert intake.inbox == []
    assert len(intake.folder("Intake/Accepted")) == 1

    [reply] = intake.replies(1)
    assert reply.rcpt_tos == ("france@un.int",)
    text = text_of(reply)
    assert "PKO-SAFETY-0001" in reply.message["Subject"]
    assert "accepted" in text
    assert "Thursday 20 May 2021, 10:00 New York time (UTC-04:00)" in text
    assert "Statement_France.docx" in text
    assert "Cover_letter_France.pdf" in text
    assert "servicedesk@intake.example" in text
    assert reply.message["Auto-Submitted"] == "auto-replied"
    original_id = samples_message_id(intake, "france@un.int")
    assert reply.message["In-Reply-To"] == original_id
    assert reply.message["References"] == original_id
    assert reply.message["Message-ID"].endswith("@intake.example>")


def samples_message_id(intake: Intake, sender: str) -> str:
    [record] = [r for r in intake.ledger() if r.sender == sender]
    assert record.message_id is not None
    return record.message_id


def test_a_statement_one_minute_after_the_deadline_is_rejected_as_late(intake: Intake) -> None:
    """The deadline is the end of the meeting day in New York, judged on the server's
    time of receipt, not on the sender's Date: header (which here claims to be in time)."""
    intake.deliver(
        submission("Ghana", "ghana@un.int", date=ny(2021, 5, 24, 20, 0)),
        at=ny(2021, 5, 25, 0, 0, 59),
    )
    intake.deliver(submission("Japan", "japan@un.int"), at=ny(2021, 5, 24, 23, 59, 59))

    intake.run()

    by_mission = {row.mission: row for row in intake.queue()}
    assert by_mission["GHA"].status == "rejected"
    assert by_mission["GHA"].reasons == ["late"]
    assert by_mission["JPN"].status == "accepted"
    [rejection] = intake.replies_to("ghana@un.int")
    text = text_of(rejection)
    assert "Not accepted" in rejection.message["Subject"]
    assert "Tuesday 25 May 2021, 00:00 New York time" in text
    assert "deadline of Monday 24 May 2021, 23:59 New York time (UTC-04:00)" in text
    assert len(intake.folder("Intake/Rejected")) == 1


def test_an_unknown_sender_is_told_to_use_a_registered_address(intake: Intake) -> None:
    """GIVEN our receiving server vouches for gmail.com's mail WHEN an unregistered
    address there sends a statement THEN it is rejected and told to use a registered
    address (without its subject or file names quoted back)."""
    intake.reconfigure(authentication={"authserv_id": MX})
    raw = submission("France", "someone@gmail.com", subject="PKO-SAFETY from my own address")
    intake.deliver(with_results(raw, f"{MX}; dmarc=pass header.from=gmail.com"), at=ON_TIME)

    intake.run()

    [row] = intake.queue()
    assert (row.status, row.reasons, row.mission) == ("rejected", ["unknown_sender"], None)
    [reply] = intake.replies(1)
    assert reply.rcpt_tos == ("someone@gmail.com",)
    assert "someone@gmail.com is not registered" in text_of(reply)
    assert "my own address" not in text_of(reply)


def test_an_unknown_sender_nobody_vouches_for_is_filed_without_a_reply(intake: Intake) -> None:
    """GIVEN no receiving server is configured (or it did not vouch for the domain) WHEN an
    unregistered address sends a statement THEN it is rejected, and nobody is written
    to: anyone could have used that address. The desk sees why in the audit log."""
    intake.deliver(submission("France", "someone@gmail.com"), at=ON_TIME)

    intake.run()

    [row] = intake.queue()
    assert (row.status, row.reasons, row.mission) == ("rejected", ["unknown_sender"], None)
    assert row.reply_withheld == "unregistered_sender_not_authenticated"
    assert intake.replies() == []


def test_a_whole_domain_can_be_allowed_for_a_mission(intake: Intake) -> None:
    intake.deliver(submission("France", "Attache.ONU@Diplomatie.Gouv.FR"), at=ON_TIME)

    intake.run()

    [row] = intake.queue()
    assert (row.status, row.mission) == ("accepted", "FRA")


def test_a_message_without_a_word_file_is_rejected(intake: Intake) -> None:
    intake.deliver(submission("Japan", "japan@un.int", statement=False), at=ON_TIME)

    intake.run()

    [row] = intake.queue()
    assert (row.status, row.reasons) == ("rejected", ["no_statement"])
    assert "No statement was attached" in text_of(intake.replies(1)[0])


def test_a_pdf_statement_is_rejected_with_a_request_for_word(intake: Intake) -> None:
    intake.deliver(submission("Brazil", "brazil@un.int", statement_as_pdf=True), at=ON_TIME)

    intake.run()

    [row] = intake.queue()
    assert (row.status, row.reasons) == ("rejected", ["statement_not_word"])
    text = text_of(intake.replies(1)[0])
    assert "not in Microsoft Word format (it is a PDF" in text
    assert ".docx" in text


def test_a_missing_cover_letter_is_reported(intake: Intake) -> None:
    intake.deliver(submission("Ghana", "ghana@un.int", cover_letter=None), at=ON_TIME)

    intake.run()

    [row] = intake.queue()
    assert (row.status, row.reasons) == ("rejected", ["no_cover_letter"])
    text = text_of(intake.replies(1)[0])
    assert "President of the Security Council" in text


def test_several_problems_are_listed_in_one_reply(intake: Intake) -> None:
    """A delegation must learn everything it has to fix at once, not one round-trip each."""
    intake.deliver(
        submission("Brazil", "brazil@un.int", statement_as_pdf=True, cover_letter=None),
        at=ny(2021, 5, 25, 9, 0),
    )

    intake.run()

    [row] = intake.queue()
    assert set(row.reasons) == {"late", "statement_not_word", "no_cover_letter"}
    [reply] = intake.replies(1)
    assert "There are 3 problems" in text_of(reply)
    numbered = [
        line
        for line in reply.message.get_content().splitlines()
        if line[:3] in ("1. ", "2. ", "3. ")
    ]
    assert len(numbered) == 3


def test_a_resubmission_before_the_deadline_supersedes_the_earlier_statement(
    intake: Intake,
) -> None:
    intake.deliver(submission("France", "france@un.int", words=300), at=ny(2021, 5, 20, 9, 0))
    intake.run()
    intake.deliver(submission("France", "france@un.int", words=420), at=ny(2021, 5, 23, 17, 30))

    intake.run()

    rows = intake.queue()
    assert [(r.reference, r.status) for r in rows] == [
        ("PKO-SAFETY-0001", "superseded"),
        ("PKO-SAFETY-0002", "accepted"),
    ]
    first, second = intake.replies(2)
    assert "replaces your earlier submission" not in text_of(first)
    assert "replaces your earlier submission PKO-SAFETY-0001" in text_of(second)


def test_auto_replies_and_bounces_are_filed_without_a_reply(intake: Intake) -> None:
    """Answering an out-of-office or a bounce starts a mail loop or backscatter."""
    original = submission("France", "france@un.int")
    intake.deliver(
        auto_reply_email(
            sender="france@un.int", to=SUBMISSIONS, original_subject="Re: acknowledgement"
        ),
        at=ON_TIME,
    )
    intake.deliver(bounce_email(original=original), at=ON_TIME)
    intake.deliver(
        submission("Ghana", "ghana@un.int", extra_headers={"Precedence": "bulk"}), at=ON_TIME
    )

    report = intake.run()

    assert report.filed == {"ignored": 3}
    assert intake.queue() == []
    assert sorted(r.reason or "" for r in intake.ledger()) == [
        "auto_reply",
        "bounce",
        "mailing_list",
    ]
    assert len(intake.folder("Intake/Ignored")) == 3
    assert intake.inbox == []
    assert intake.replies() == []


def test_mail_from_our_own_address_is_never_answered(intake: Intake) -> None:
    intake.deliver(submission("France", SUBMISSIONS), at=ON_TIME)

    intake.run()

    assert [r.reason for r in intake.ledger()] == ["own_address"]
    assert intake.replies() == []


def test_a_second_run_changes_nothing_and_sends_nothing(intake: Intake) -> None:
    intake.deliver(submission("France", "france@un.int"), at=ON_TIME)
    intake.deliver(submission("Ghana", "ghana@un.int", cover_letter=None), at=ON_TIME)
    intake.run()
    intake.replies(2)

    report = intake.run()

    assert report.waiting == 0
    assert report.processed == 0
    assert report.replies.sent == 0
    assert len(intake.queue()) == 2
    assert len(intake.ledger()) == 2
    assert len(intake.replies()) == 2


def test_a_message_arriving_between_two_runs_is_handled_once(intake: Intake) -> None:
    intake.deliver(submission("France", "france@un.int"), at=ON_TIME)
    intake.run()
    intake.deliver(submission("Japan", "japan@un.int"), at=ny(2021, 5, 21, 8, 0))

    report = intake.run()
    intake.run()

    assert report.filed == {"accepted": 1}
    assert [r.mission for r in intake.queue()] == ["FRA", "JPN"]
    assert len(intake.replies_to("japan@un.int")) == 1
    assert len(intake.replies()) == 2


def test_the_same_mail_delivered_twice_is_filed_once(intake: Intake) -> None:
    """A mail server that delivers one message twice (new UID, same Message-ID)."""
    raw = submission("France", "france@un.int")
    intake.deliver(raw, at=ON_TIME)
    intake.run()
    intake.deliver(b"Received: from relay2.example by mx.example; retry\r\n" + raw, at=ON_TIME)

    intake.run()

    assert len(intake.queue()) == 1
    assert [r.reason for r in intake.ledger()] == [None, "duplicate"]
    assert len(intake.replies()) == 1
    assert len(intake.folder("Intake/Ignored")) == 1


def test_a_message_for_no_open_meeting_is_held_for_the_desk(intake: Intake) -> None:
    """With two open meetings and no code in the subject, a human decides."""
    intake.reconfigure(
        meetings=[
            intake.config_data["meetings"][0],
            {"code": "WPS-2021", "title": "Women and peace and security", "date": "2021-10-21"},
        ]
    )
    intake.deliver(submission("France", "france@un.int", subject="Our statement"), at=ON_TIME)
    intake.deliver(
        submission("Japan", "japan@un.int", subject="Statement for wps-2021"), at=ON_TIME
    )

    intake.run()

    by_mission = {r.mission: r for r in intake.queue()}
    assert (by_mission["FRA"].status, by_mission["FRA"].reasons) == ("held", ["no_open_meeting"])
    assert by_mission["FRA"].reference.startswith("INTAKE-")
    assert (by_mission["JPN"].status, by_mission["JPN"].meeting) == ("accepted", "WPS-2021")
    assert len(intake.folder("Intake/Held")) == 1
    [notice] = intake.replies_to("france@un.int")
    assert "under review" in notice.message["Subject"]


def test_a_plus_address_routes_to_its_meeting(intake: Intake) -> None:
    intake.reconfigure(
        meetings=[
            intake.config_data["meetings"][0],
            {"code": "WPS-2021", "title": "Women and peace and security", "date": "2021-10-21"},
        ]
    )
    raw = samples.submission_email(
        mission_name="Japan",
        sender="japan@un.int",
        to="submissions+wps-2021@intake.example",
        subject="Statement",
    )
    intake.deliver(raw, at=ON_TIME)

    intake.run()

    [row] = intake.queue()
    assert (row.status, row.meeting) == ("accepted", "WPS-2021")


def test_a_statement_for_a_closed_meeting_is_rejected(intake: Intake) -> None:
    intake.reconfigure(
        meetings=[
            intake.config_data["meetings"][0],
            {
                "code": "OLD-DEBATE",
                "title": "An earlier debate",
                "date": "2021-03-01",
                "status": "closed",
            },
        ]
    )
    intake.deliver(submission("Japan", "japan@un.int", subject="OLD-DEBATE statement"), at=ON_TIME)

    intake.run()

    [row] = intake.queue()
    assert (row.status, row.reasons) == ("rejected", ["meeting_closed"])
