"""Intake must not become a way to mail attacker-written text to anyone (issue 12, point 3).

The attacker's tools are a forged From (anyone can write in anyone's name), a subject and
file names of their choosing, and volume. The stories perform the attacks against the
real program (Dovecot, the SMTP server, SQLite and PostgreSQL) and read back what the
SMTP server received and what the desk sees.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jinja2 import meta

from pipeline.demo import samples
from pipeline.replies.compose import NOT_QUOTED, SENDER_WRITTEN, _reason_params
from pipeline.replies.templates import ReplyTemplates
from pipeline.settings.models import Settings
from pipeline.storage import models as m
from tests.conftest import PKO_SAFETY, SUBMISSIONS, Intake, ny
from tests.helpers.commands import intake_command
from tests.helpers.mail import MX, with_results

ON_TIME = ny(2021, 5, 20, 10, 0)
WPS = {"code": "WPS-2021", "title": "Women and peace and security", "date": "2021-10-21"}

VICTIM = "press.office@victim.example"
# What our receiving server writes when the victim's domain really sent the mail.
VICTIM_PASS = f"{MX}; dmarc=pass (p=reject dis=none) header.from=victim.example"


def submission(mission: str, sender: str, *results: str, **options: Any) -> bytes:
    raw = samples.submission_email(mission_name=mission, sender=sender, to=SUBMISSIONS, **options)
    return with_results(raw, *results)


def phishing(number: int, *results: str) -> list[bytes]:
    """Five messages in the victim's name, each with the attacker's text in the subject or
    in a file name, made to trip over every kind of automatic reply: held (no meeting
    named while two are open), rejected for a PDF statement (its name quoted), rejected
    without a cover letter, rejected without a statement."""
    link = f"visit http://phish.example/{number}"
    return [
        submission("Atlantis", VICTIM, *results, subject=f"{link}/a", body="1\n"),
        submission(
            "Atlantis",
            VICTIM,
            *results,
            subject=f"PKO-SAFETY {link}/b",
            statement_as_pdf=True,
            statement_filename=f"{link.replace('/', '_')} urgent.pdf",
            body="2\n",
        ),
        submission(
            "Atlantis",
            VICTIM,
            *results,
            subject=f"PKO-SAFETY {link}/c",
            cover_letter=None,
            body="3\n",
        ),
        submission(
            "Atlantis",
            VICTIM,
            *results,
            subject=f"WPS-2021 {link}/d",
            statement=False,
            body="4\n",
        ),
        submission("Atlantis", VICTIM, *results, subject=f"{link}/e", body="5\n"),
    ]


# A wide terminal, so that no table cell is folded in the middle of a word.
WIDE = {"COLUMNS": "300"}


def show_json(config: Path, reference: str) -> Any:
    result = intake_command("submissions", "show", reference, "--json", config=config)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def suppressions(intake: Intake) -> list[m.AuditEvent]:
    return [e for e in intake.rows(m.AuditEvent) if e.kind == "reply_suppressed"]


def two_meetings(intake: Intake, **changes: Any) -> None:
    intake.reconfigure(meetings=[dict(PKO_SAFETY), WPS], **changes)


def test_forged_mail_in_an_unregistered_victims_name_gets_the_victim_no_mail(
    intake: Intake,
) -> None:
    """GIVEN no receiving server is configured to vouch for anyone WHEN five messages
    forged in the name of an address no mission registered arrive, with phishing links
    in their subjects and file names THEN the victim receives nothing at all. Each
    message is filed (held or rejected) and moved, and each silence is in the audit log
    with why, where `intake submissions show` prints it."""
    two_meetings(intake)
    for raw in phishing(1):
        intake.deliver(raw, at=ON_TIME)

    report = intake.run()

    assert intake.replies_to(VICTIM) == []
    assert intake.replies() == []
    rows = intake.queue()
    assert len(rows) == 5
    assert {row.status for row in rows} == {"held", "rejected"}
    assert all("unknown_sender" in row.reasons for row in rows)
    assert report.filed == {"held": 2, "rejected": 3}
    events = suppressions(intake)
    assert len(events) == 5
    assert {e.detail["why"] for e in events} == {"unregistered_sender_not_authenticated"}
    assert {e.detail["to"] for e in events} == {VICTIM}
    assert all("no [authentication] authserv_id" in e.detail["results"] for e in events)

    config = intake.write_config()
    shown = intake_command("submissions", "show", rows[0].reference, config=config, env=WIDE)
    assert shown.returncode == 0, shown.stderr
    assert "reply_suppressed" in shown.stdout
    assert "unregistered_sender_not_authenticated" in shown.stdout
    data = show_json(config, rows[0].reference)
    [event] = [e for e in data["timeline"] if e["kind"] == "reply_suppressed"]
    assert event["detail"]["why"] == "unregistered_sender_not_authenticated"


def test_a_victim_whose_domain_really_sent_the_mail_is_answered_once_without_the_bait(
    intake: Intake,
) -> None:
    """GIVEN our receiving server vouches for the victim's domain (dmarc=pass under our
    authserv-id: the attacker has a mailbox there, or the victim wrote) WHEN the same
    five messages arrive THEN the address hears from Intake once, and that reply quotes
    neither a subject nor a file name: nothing the sender wrote is mailed back to an
    address no mission registered. The four others are filed, silently, with why."""
    two_meetings(intake, authentication={"authserv_id": MX})
    for raw in phishing(2, VICTIM_PASS):
        intake.deliver(raw, at=ON_TIME)

    intake.run()

    [reply] = intake.replies_to(VICTIM)
    assert len(intake.replies()) == 1
    assert reply.rcpt_tos == (VICTIM,)
    assert b"phish" not in reply.raw.lower()
    assert b"urgent" not in reply.raw.lower()
    text = str(reply.message.get_content())
    assert "is not registered" in text
    events = suppressions(intake)
    assert len(events) == 4
    assert {e.detail["why"] for e in events} == {"rejection_window"}
    assert {e.detail["per"] for e in events} == {"address"}


def test_an_unregistered_sender_that_failed_authentication_is_not_answered(
    intake: Intake,
) -> None:
    """GIVEN our server's authserv-id WHEN an unregistered address writes with a DMARC
    fail, with no results at all, or with a pass that its own server wrote THEN no
    reply: only our server's pass for the From domain opens the door."""
    intake.reconfigure(authentication={"authserv_id": MX})
    fail = f"{MX}; dmarc=fail (p=reject dis=none) header.from=victim.example"
    self_made = "mx.victim.example; dmarc=pass header.from=victim.example"
    other_domain = f"{MX}; dmarc=pass header.from=elsewhere.example"
    for number, results in enumerate(([fail], [], [self_made], [other_domain])):
        intake.deliver(
            submission(
                "Atlantis",
                f"attache{number}@victim.example",
                *results,
                subject=f"PKO-SAFETY {number}",
            ),
            at=ON_TIME,
        )

    intake.run()

    assert intake.replies() == []
    events = suppressions(intake)
    assert [e.detail["why"] for e in events] == ["unregistered_sender_not_authenticated"] * 4


def test_one_address_gets_a_bounded_number_of_rejections_whatever_they_are_about(
    intake: Intake,
) -> None:
    """GIVEN a registered address (whose From anyone can forge while authentication is
    off, the default) WHEN six messages with six different problems arrive in a day THEN
    five are answered (`max_rejections_per_address`) and the sixth is filed rejected
    without a reply: the limit per address holds whatever the reasons and meetings."""
    two_meetings(intake)
    problems: list[dict[str, Any]] = [
        {"cover_letter": None},
        {"statement": False},
        {"statement_as_pdf": True},
        {"statement_as_pdf": True, "cover_letter": None},
        {"statement": False, "cover_letter": None},
        {"subject": "WPS-2021 statement", "cover_letter": None},
    ]
    for number, options in enumerate(problems):
        options.setdefault("subject", "PKO-SAFETY statement")
        intake.deliver(
            submission("Japan", "japan@un.int", body=f"{number}\n", **options), at=ON_TIME
        )

    intake.run()

    rows = intake.queue()
    assert [row.status for row in rows] == ["rejected"] * 6
    assert len({(*row.reasons, row.meeting) for row in rows}) == 6
    assert len(intake.replies_to("japan@un.int")) == 5
    [event] = suppressions(intake)
    assert event.detail["why"] == "address_limit"
    assert event.detail["to"] == "japan@un.int"
    assert event.detail["limit"] == 5


def test_a_flood_of_rejections_to_many_addresses_stops_at_the_hourly_cap(
    intake: Intake, tmp_path: Path
) -> None:
    """GIVEN France registered its whole domain, and an hourly cap of four WHEN ten
    messages without a cover letter arrive from ten addresses at that domain (anyone can
    forge them) THEN four rejections go out and six are filed without one; the desk sees
    each silence with why: in the audit log, `intake submissions show`, and the queue."""
    intake.reconfigure(replies={"max_rejections_per_hour": 4})
    senders = [f"attache{n}@diplomatie.gouv.fr" for n in range(10)]
    for number, sender in enumerate(senders):
        intake.deliver(
            submission("France", sender, cover_letter=None, body=f"{number}\n"), at=ON_TIME
        )

    intake.run()

    rows = intake.queue()
    assert [(row.status, row.reasons) for row in rows] == [("rejected", ["no_cover_letter"])] * 10
    assert len(intake.replies()) == 4
    events = suppressions(intake)
    assert len(events) == 6
    assert {e.detail["why"] for e in events} == {"hourly_cap"}
    assert {e.detail["limit"] for e in events} == {4}

    config = intake.write_config()
    silent = [row for row in rows if row.reply is None]
    assert len(silent) == 6
    shown = intake_command("submissions", "show", silent[0].reference, config=config, env=WIDE)
    assert shown.returncode == 0, shown.stderr
    assert "hourly_cap" in shown.stdout
    data = show_json(config, silent[0].reference)
    [event] = [e for e in data["timeline"] if e["kind"] == "reply_suppressed"]
    assert event["detail"]["why"] == "hourly_cap"
    listed = intake_command("submissions", "list", config=config, env=WIDE)
    assert listed.stdout.count("withheld") == 6
    queue = intake_command("queue", config=config, env=WIDE)
    assert "6 automatic replies withheld" in queue.stdout


# --------------------------------------------------------------------------------------
# Every shipped text honours `quote`
# --------------------------------------------------------------------------------------

BAIT = "visit http://phish.example/bait"


def shipped_templates() -> ReplyTemplates:
    return ReplyTemplates(Settings().template_roots)


def variables(templates: ReplyTemplates, name: str) -> set[str]:
    source = templates.path_of(name).read_text(encoding="utf-8")
    return set(meta.find_undeclared_variables(templates.env.parse(source)))


REASONS = sorted(path.stem for path in shipped_templates().folder.joinpath("reasons").glob("*.txt"))


@pytest.mark.parametrize("code", REASONS)
def test_no_reason_text_quotes_the_sender_to_an_unregistered_address(code: str) -> None:
    """Each reason text, given the sender's own words in every parameter that carries
    them (file names, details read from files), quotes none of them when `quote` is off;
    with it on, those that name a file do."""
    templates = shipped_templates()
    params: dict[str, Any] = {
        name: ([BAIT] if name == "filenames" else BAIT) if name in SENDER_WRITTEN else "7"
        for name in variables(templates, f"reasons/{code}.txt") - {"quote"}
    }
    zone = ZoneInfo("America/New_York")

    hidden = templates.reason_text(code, _reason_params(params, zone, quote=False))
    shown = templates.reason_text(code, _reason_params(params, zone, quote=True))

    assert "phish" not in hidden
    assert NOT_QUOTED not in hidden
    assert ("phish" in shown) == bool(SENDER_WRITTEN & params.keys())


@pytest.mark.parametrize(
    "name", ["acknowledgement", "rejection", "held", "desk_held", "desk_rejected"]
)
def test_no_reply_quotes_the_subject_or_file_names_to_an_unregistered_address(
    name: str,
) -> None:
    templates = shipped_templates()
    meeting = SimpleNamespace(code="PKO-SAFETY", title="Peacekeeping")
    contacts = SimpleNamespace(service_desk="the desk", secretariat="the secretariat")
    context: dict[str, Any] = {
        "reference": "PKO-SAFETY-0001",
        "meeting": meeting,
        "meeting_date": "24 May 2021",
        "deadline": "Monday",
        "deadline_passed": False,
        "mission_name": "someone@victim.example",
        "received_at": "Thursday",
        "original_subject": BAIT,
        "files": [{"role": "Statement", "name": BAIT}],
        "supersedes": None,
        "notes": [],
        "late": False,
        "contacts": contacts,
        "problems": ["a problem"],
        "reason": "the desk's reason",
    }

    hidden = templates.render(name, {**context, "quote": False})
    shown = templates.render(name, {**context, "quote": True})

    assert "phish" not in hidden.subject + hidden.body
    assert "phish" in shown.body
