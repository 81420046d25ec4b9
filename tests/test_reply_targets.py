"""Where a reply goes, decided in-process: From, or a Reply-To only when it is safe.

A reply is mail we send to an address someone else chose. Reply-To is followed only for a
registered sender, when it names one mailbox in the sender's own domain family that is
neither a list nor a no-reply address; otherwise the reply goes to From. (Our own
addresses, forged senders and automatic mail get no reply at all: `test_decisions.py`.)
"""

from __future__ import annotations

from tests.helpers.judging import judge, submission


def test_a_reply_to_in_the_senders_own_domain_gets_the_reply() -> None:
    judged = judge(submission(extra_headers={"Reply-To": "pm.france@un.int"}))

    assert judged.reply_to == "pm.france@un.int"


def test_a_reply_to_in_another_domain_is_not_followed() -> None:
    judged = judge(submission(extra_headers={"Reply-To": "someone@elsewhere.example"}))

    assert judged.reply_to == "france@un.int"


def test_a_reply_to_that_looks_like_a_list_is_not_followed() -> None:
    judged = judge(submission(extra_headers={"Reply-To": "delegates-l@un.int"}))

    assert judged.reply_to == "france@un.int"


def test_a_reply_to_naming_two_addresses_is_not_followed() -> None:
    judged = judge(submission(extra_headers={"Reply-To": "pm.france@un.int, deputy.france@un.int"}))

    assert judged.reply_to == "france@un.int"


def test_an_unregistered_senders_reply_to_is_not_followed() -> None:
    judged = judge(submission("Ghana", "ghana@un.int", extra_headers={"Reply-To": "pm@un.int"}))

    assert judged.reply_kind == "rejection"
    assert judged.reply_to == "ghana@un.int"


def test_a_reply_to_in_a_subdomain_of_the_senders_domain_gets_the_reply() -> None:
    judged = judge(submission(extra_headers={"Reply-To": "desk@mission.un.int"}))

    assert judged.reply_to == "desk@mission.un.int"


def test_a_no_reply_address_in_reply_to_is_not_followed() -> None:
    judged = judge(submission(extra_headers={"Reply-To": "noreply@un.int"}))

    assert judged.reply_to == "france@un.int"


def test_a_rejection_goes_where_an_acknowledgement_would() -> None:
    judged = judge(submission(cover_letter=None, extra_headers={"Reply-To": "pm.france@un.int"}))

    assert judged.reply_kind == "rejection"
    assert judged.reply_to == "pm.france@un.int"
