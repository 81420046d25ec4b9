"""What happens to a message, decided in-process: no mailbox, no database, no SMTP.

Each story builds the mail a delegation (or a mail system) sends, and follows it through
what a run does with it: parsed, its facts gathered, every configured check run with the
shipped example configuration, the decision table applied, and the reply composed. It
asserts what the people involved notice: the outcome, the reason codes the desk sees with
their actions, and which reply goes to whom (or that none does). The stories against the
real servers (`test_core_stories.py` and others) show the same outcomes filed and sent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pipeline.checks.base import Reason
from pipeline.decision.decide import decide
from pipeline.settings import Action
from tests.helpers.judging import (
    NEW_YORK,
    REFERENCE,
    SUBMISSIONS,
    example_settings,
    judge,
    submission,
)
from tests.helpers.mail import MX, with_results

# The example's meeting, PKO-SAFETY, takes statements until the end of 24 May 2021 in
# New York.
LAST_SECOND = datetime(2021, 5, 24, 23, 59, 59, tzinfo=NEW_YORK)
PKO_SAFETY: dict[str, Any] = {
    "code": "PKO-SAFETY",
    "title": "United Nations peacekeeping operations: improving the safety and security "
    "of peacekeepers",
    "date": "2021-05-24",
}
WPS: dict[str, Any] = {
    "code": "WPS-2021",
    "title": "Women and peace and security",
    "date": "2021-10-21",
}
CLOSED = {"status": "closed"}
PARIS = ZoneInfo("Europe/Paris")
DMARC_PASS = f"{MX}; dmarc=pass (p=reject dis=none) header.from=un.int"
FORGED_PASS = (
    "mx.attacker.example;\r\n\tdkim=pass header.d=un.int; spf=pass smtp.mailfrom=un.int;"
    "\r\n\tdmarc=pass header.from=un.int"
)
SUBJECT = "Written statement of France"


def with_meetings(*meetings: dict[str, Any], **changes: Any) -> Any:
    return example_settings(meetings=[dict(meeting) for meeting in meetings], **changes)


def requiring_authentication(policy: str = "require", **changes: Any) -> Any:
    return example_settings(authentication={"authserv_id": MX, "policy": policy}, **changes)


# -- who sent it ----------------------------------------------------------------------------


def test_a_registered_mission_on_time_is_acknowledged_at_its_own_address() -> None:
    judged = judge(submission("France", "france@un.int"))

    assert judged.outcome == "accepted"
    assert judged.codes == []
    assert judged.reply_kind == "acknowledgement"
    assert judged.reply_to == "france@un.int"
    assert REFERENCE in judged.reply_text
    assert judged.facts.mission is not None
    assert judged.facts.mission.code == "FRA"


def test_any_address_of_a_registered_domain_speaks_for_its_delegation() -> None:
    judged = judge(submission("European Union", "delegation@eeas.europa.eu"))

    assert judged.outcome == "accepted"
    assert judged.facts.mission is not None
    assert judged.facts.mission.code == "EUU"
    assert judged.reply_to == "delegation@eeas.europa.eu"


def test_an_unregistered_address_is_rejected_without_its_files_opened_or_its_words_quoted() -> None:
    judged = judge(submission("Ghana", "ghana@un.int", subject="PKO-SAFETY: Ghana"))

    assert judged.outcome == "rejected"
    assert judged.actions == {"unknown_sender": "reject"}
    assert judged.facts.documents_opened is False
    assert judged.reply_kind == "rejection"
    assert judged.reply_to == "ghana@un.int"
    assert "is not registered for any Permanent Mission" in judged.reply_text
    assert "PKO-SAFETY: Ghana" not in judged.reply_text
    assert "Statement_Ghana" not in judged.reply_text


def test_a_registered_address_our_server_did_not_vouch_for_is_rejected_as_forged_unanswered() -> (
    None
):
    judged = judge(submission(), settings=requiring_authentication())

    assert judged.outcome == "rejected"
    assert judged.actions == {"forged_sender": "reject"}
    assert judged.reply is None


def test_an_authentication_pass_written_by_the_sender_itself_does_not_count() -> None:
    judged = judge(with_results(submission(), FORGED_PASS), settings=requiring_authentication())

    assert judged.codes == ["forged_sender"]
    assert judged.reply is None


def test_a_registered_address_with_our_servers_dmarc_pass_is_accepted() -> None:
    judged = judge(with_results(submission(), DMARC_PASS), settings=requiring_authentication())

    assert judged.outcome == "accepted"
    assert judged.codes == []
    assert judged.reply_to == "france@un.int"


def test_with_the_hold_policy_an_unauthenticated_mission_is_held_for_the_desk_unanswered() -> None:
    judged = judge(submission(), settings=requiring_authentication("hold"))

    assert judged.outcome == "held"
    assert judged.actions == {"unauthenticated_sender": "hold"}
    assert judged.reply is None


def test_a_mission_exempted_from_authentication_is_accepted_without_a_pass() -> None:
    settings = requiring_authentication(
        missions={"FRA": {"senders": ["france@un.int"], "authentication": "off"}}
    )

    judged = judge(submission(), settings=settings)

    assert judged.outcome == "accepted"
    assert judged.codes == []


# -- when it arrived --------------------------------------------------------------------------


def test_a_statement_received_in_the_last_second_of_the_meeting_day_is_on_time() -> None:
    judged = judge(submission(), received_at=LAST_SECOND)

    assert judged.outcome == "accepted"
    assert judged.codes == []


def test_a_statement_received_one_minute_after_the_deadline_is_rejected_as_late() -> None:
    judged = judge(submission(), received_at=LAST_SECOND + timedelta(minutes=1))

    assert judged.outcome == "rejected"
    assert judged.actions == {"late": "reject"}
    [late] = judged.decision.reasons
    assert late.params["late_by_seconds"] == 60
    assert judged.reply_kind == "rejection"
    assert "after the deadline" in judged.reply_text
    # Too late to send a corrected one: the reply does not invite it.
    assert "Please send a corrected submission" not in judged.reply_text


def test_the_deadline_is_kept_in_new_york_time_whatever_the_senders_zone() -> None:
    # 05:30 on 25 May in Paris is 23:30 on 24 May in New York: on time; 06:01 is not.
    on_time = judge(submission(), received_at=datetime(2021, 5, 25, 5, 30, tzinfo=PARIS))
    late = judge(submission(), received_at=datetime(2021, 5, 25, 6, 1, tzinfo=PARIS))

    assert on_time.outcome == "accepted"
    assert late.actions == {"late": "reject"}
    assert "New York time" in late.reply_text


# -- which meeting ----------------------------------------------------------------------------


def test_with_one_open_meeting_a_message_naming_none_goes_to_it() -> None:
    judged = judge(submission(subject=SUBJECT))

    assert judged.outcome == "accepted"
    assert judged.facts.meeting is not None
    assert judged.facts.meeting.code == "PKO-SAFETY"


def test_a_statement_for_a_closed_meeting_is_rejected_naming_the_meeting() -> None:
    settings = with_meetings(PKO_SAFETY | CLOSED, WPS)

    judged = judge(submission(subject="PKO-SAFETY: statement of France"), settings=settings)

    assert judged.outcome == "rejected"
    assert judged.actions == {"meeting_closed": "reject"}
    assert judged.reply_kind == "rejection"
    assert "(PKO-SAFETY) is closed and no longer takes written statements" in judged.reply_text


def test_with_two_open_meetings_a_message_naming_none_is_held_for_the_desk_to_assign() -> None:
    judged = judge(submission(subject=SUBJECT), settings=with_meetings(PKO_SAFETY, WPS))

    assert judged.outcome == "held"
    assert judged.actions == {"no_open_meeting": "hold"}
    assert judged.reply_kind == "held"
    assert judged.reply_to == "france@un.int"
    assert "The service desk will assign it" in judged.reply_text


def test_with_no_meeting_open_a_message_naming_none_is_held() -> None:
    judged = judge(submission(subject=SUBJECT), settings=with_meetings(PKO_SAFETY | CLOSED))

    assert judged.outcome == "held"
    assert judged.codes == ["no_open_meeting"]


def test_a_message_naming_two_open_meetings_is_held_as_ambiguous() -> None:
    judged = judge(
        submission(subject="PKO-SAFETY and WPS-2021: statements of France"),
        settings=with_meetings(PKO_SAFETY, WPS),
    )

    assert judged.outcome == "held"
    assert judged.actions == {"ambiguous_meeting": "hold"}
    [ambiguous] = judged.decision.reasons
    assert ambiguous.params["codes"] == ["PKO-SAFETY", "WPS-2021"]
    assert "names more than one meeting (PKO-SAFETY, WPS-2021)" in judged.reply_text


def test_a_plus_address_routes_to_its_meeting_when_the_subject_names_none() -> None:
    judged = judge(
        submission(subject=SUBJECT, to="submissions+wps-2021@example.org"),
        settings=with_meetings(PKO_SAFETY, WPS),
    )

    assert judged.facts.meeting is not None
    assert judged.facts.meeting.code == "WPS-2021"
    assert judged.codes == []


# -- what it carries --------------------------------------------------------------------------


def test_a_statement_without_a_cover_letter_is_rejected_asking_for_the_letter() -> None:
    judged = judge(submission(cover_letter=None))

    assert judged.outcome == "rejected"
    assert judged.actions == {"no_cover_letter": "reject"}
    assert "No cover letter was found" in judged.reply_text


def test_a_cover_letter_without_a_statement_is_rejected_asking_for_the_statement() -> None:
    judged = judge(submission(statement=False))

    assert judged.outcome == "rejected"
    assert judged.actions == {"no_statement": "reject"}
    assert "No statement was attached" in judged.reply_text


def test_a_message_with_neither_file_gets_one_rejection_listing_both_problems() -> None:
    judged = judge(submission(statement=False, cover_letter=None))

    assert judged.outcome == "rejected"
    assert sorted(judged.codes) == ["no_cover_letter", "no_statement"]
    assert "There are 2 problems; each must be fixed" in judged.reply_text


def test_a_statement_over_the_word_limit_is_accepted_with_a_remark() -> None:
    judged = judge(submission(words=600))

    assert judged.outcome == "accepted"
    assert judged.actions == {"over_word_limit": "note"}
    [over] = judged.decision.reasons
    assert over.params["limit"] == 500
    assert over.params["words"] > 550
    assert judged.reply_kind == "acknowledgement"
    assert "more than the 500 words the guidance note asks for" in judged.reply_text


def test_a_statement_a_little_over_the_limit_within_the_tolerance_gets_no_remark() -> None:
    judged = judge(submission(words=510))

    assert judged.outcome == "accepted"
    assert judged.codes == []


def test_where_the_meeting_rejects_long_statements_one_over_the_limit_is_rejected() -> None:
    judged = judge(
        submission(words=600), settings=with_meetings(PKO_SAFETY | {"length_policy": "reject"})
    )

    assert judged.outcome == "rejected"
    assert judged.actions == {"too_long": "reject"}
    assert "Please shorten it and send it again" in judged.reply_text


def test_a_scanned_cover_letter_is_accepted_with_a_note_for_the_secretariat() -> None:
    judged = judge(submission(cover_with_text_layer=False))

    assert judged.outcome == "accepted"
    assert judged.actions == {"cover_letter_unverified": "note"}
    assert "is a scan without text" in judged.reply_text


# -- mail that is never answered --------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"Auto-Submitted": "auto-replied"}, "auto_reply"),
        ({"X-Autoreply": "yes"}, "auto_reply"),
        ({"X-Failed-Recipients": "someone@un.int"}, "bounce"),
        ({"List-Id": "Delegates <delegates.un.int>"}, "mailing_list"),
        ({"Precedence": "bulk"}, "mailing_list"),
    ],
)
def test_automatic_mail_from_a_registered_mission_is_ignored_and_never_answered(
    headers: dict[str, str], code: str
) -> None:
    judged = judge(submission(extra_headers=headers))

    assert judged.outcome == "ignored"
    assert judged.actions == {code: "ignore"}
    assert judged.reply is None


def test_a_mail_system_writing_as_mailer_daemon_is_a_bounce() -> None:
    judged = judge(submission("France", "MAILER-DAEMON@un.int"))

    assert judged.outcome == "ignored"
    assert judged.codes == ["bounce"]
    assert judged.reply is None


def test_mail_from_our_own_address_is_ignored_and_never_answered() -> None:
    judged = judge(submission("France", SUBMISSIONS))

    assert judged.outcome == "ignored"
    assert judged.actions == {"own_address": "ignore"}
    assert judged.reply is None


def test_mail_from_our_own_address_with_a_tag_is_never_answered() -> None:
    judged = judge(submission("France", "submissions+pko-safety@example.org"))

    assert judged.outcome != "accepted"
    assert judged.reply is None


def test_the_same_mail_delivered_twice_is_ignored_the_second_time() -> None:
    judged = judge(submission(), duplicate_of=7)

    assert judged.outcome == "ignored"
    assert judged.actions == {"duplicate": "ignore"}
    assert judged.reply is None


def test_an_auto_reply_that_is_also_late_and_incomplete_is_only_ignored() -> None:
    judged = judge(
        submission(cover_letter=None, extra_headers={"Auto-Submitted": "auto-replied"}),
        received_at=LAST_SECOND + timedelta(days=1),
    )

    assert judged.outcome == "ignored"
    assert judged.codes == ["auto_reply"]
    assert judged.reply is None


# -- the decision table -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "outcome", "reply"),
    [
        ("reject", "rejected", "rejection"),
        ("hold", "held", "held"),
        ("note", "accepted", "acknowledgement"),
        ("ignore", "ignored", None),
    ],
)
def test_the_decision_table_says_what_a_late_statement_leads_to(
    action: str, outcome: str, reply: str | None
) -> None:
    settings = example_settings(decision={"late": action})

    judged = judge(submission(), received_at=LAST_SECOND + timedelta(minutes=1), settings=settings)

    assert judged.outcome == outcome
    assert judged.actions == {"late": action}
    assert judged.reply_kind == reply
    if reply is not None:
        assert "after the deadline" in judged.reply_text


def test_a_reason_for_the_desk_outweighs_one_the_delegation_could_fix() -> None:
    judged = judge(
        submission(subject=SUBJECT, cover_letter=None), settings=with_meetings(PKO_SAFETY, WPS)
    )

    assert judged.outcome == "held"
    assert judged.actions == {"no_open_meeting": "hold", "no_cover_letter": "reject"}
    # The notice lists both, so the delegation can already send its letter.
    assert judged.reply_kind == "held"
    assert "The service desk will assign it" in judged.reply_text
    assert "No cover letter was found" in judged.reply_text


def test_with_held_notices_off_a_held_message_gets_no_reply() -> None:
    settings = with_meetings(PKO_SAFETY, WPS, replies={"notify_held": False})

    judged = judge(submission(subject=SUBJECT), settings=settings)

    assert judged.outcome == "held"
    assert judged.reply is None


def test_a_reason_missing_from_the_decision_table_is_held_never_accepted() -> None:
    decision = decide([Reason("a_new_check_s_reason")], {"late": Action.REJECT})

    assert decision.outcome.value == "held"
    assert [(r.code, r.action.value) for r in decision.reasons] == [
        ("a_new_check_s_reason", "hold")
    ]
