"""Forged senders: a registered address in From is necessary, not sufficient.

Our own receiving server checks SPF, DKIM and DMARC and writes Authentication-Results
(RFC 8601) naming itself as `mx.intake.example`. A registered mission's mail counts only
with a pass from that server; a header from anyone else is ignored, and mail that may be
forged is never answered (its From may belong to someone who never wrote to us).

The stories run against a real Dovecot, a real SMTP server, SQLite and PostgreSQL; the
header parsing is also tested on its own, with the shapes real verifiers write.
"""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.checks.authentication import (
    SenderAuthentication,
    aligned,
    assess,
    parse_authentication_results,
)
from pipeline.checks.registry import checks_for
from pipeline.configuration import parse_settings
from pipeline.demo import samples
from pipeline.demo.mail import build_email
from pipeline.message.parse import parse_message
from pipeline.settings.directory import AuthPolicy
from pipeline.storage import models as m
from tests.conftest import SUBMISSIONS, Intake, Report, ny, text_of
from tests.helpers.mail import MX, with_results

ON_TIME = ny(2021, 5, 20, 10, 0)

# What OpenDKIM, OpenDMARC and rspamd write, for France (france@un.int).
DMARC_PASS = f"{MX}; dmarc=pass (p=reject dis=none) header.from=un.int"
DMARC_FAIL = f"{MX}; dmarc=fail (p=reject dis=none) header.from=un.int"
DKIM_PASS_UN_INT = (
    f"{MX};\r\n\tdkim=pass (2048-bit key; unprotected) header.d=un.int header.i=@un.int "
    "header.a=rsa-sha256 header.s=2021 header.b=AbCdEf12"
)
RSPAMD_SPF_ONLY = (
    f"{MX};\r\n\tdkim=none;\r\n\tspf=pass (mx.intake.example: domain of france@un.int "
    "designates 192.0.2.10 as permitted sender) smtp.mailfrom=france@un.int;\r\n\t"
    "dmarc=none"
)
# A header the sender wrote itself: every result a pass, but not from our server.
FORGED_PASS = (
    "mx.attacker.example;\r\n\tdkim=pass header.d=un.int; spf=pass smtp.mailfrom=un.int;"
    "\r\n\tdmarc=pass header.from=un.int"
)


# Our receiving server's Received header: what it prepends lies above, what came with the
# message lies below.
OUR_RECEIVED = f"Received: from mail.sender.example by {MX} with ESMTPS id 4Xq"


def submission(mission: str, sender: str, *results: str, **options: Any) -> bytes:
    raw = samples.submission_email(mission_name=mission, sender=sender, to=SUBMISSIONS, **options)
    return with_results(raw, *results)


def authentication(intake: Intake, policy: str = "require", **missions: dict[str, Any]) -> None:
    """Switch sender authentication on for this Intake (missions: per-mission overrides)."""
    intake.reconfigure(
        authentication={"authserv_id": MX, "policy": policy},
        missions={code: dict(change) for code, change in missions.items()},
    )


def reasons_of(intake: Intake) -> dict[str | None, tuple[str, list[str]]]:
    return {row.sender: (row.status, row.reasons) for row in intake.queue()}


def events_of(intake: Intake, kind: str) -> list[m.AuditEvent]:
    return [e for e in intake.rows(m.AuditEvent) if e.kind == kind]


# --------------------------------------------------------------------------------------
# Stories
# --------------------------------------------------------------------------------------


def test_a_mission_whose_mail_passed_dmarc_at_our_server_is_accepted(intake: Intake) -> None:
    """GIVEN `require` WHEN France's mail carries our server's dmarc=pass THEN it is
    accepted and acknowledged as always."""
    authentication(intake, "require")
    intake.deliver(submission("France", "france@un.int", DMARC_PASS), at=ON_TIME)

    intake.run()

    assert reasons_of(intake) == {"france@un.int": ("accepted", [])}
    [reply] = intake.replies(1)
    assert reply.rcpt_tos == ("france@un.int",)


def test_an_aligned_dkim_or_spf_pass_is_enough_without_dmarc(intake: Intake) -> None:
    """A ministry domain with no DMARC record: an aligned DKIM signature (France from
    diplomatie.gouv.fr, signed by gouv.fr) or an aligned SPF pass counts."""
    authentication(intake, "require")
    dkim_parent = f"{MX}; dkim=pass header.d=gouv.fr header.s=s1; dmarc=none"
    intake.deliver(submission("France", "attache.onu@diplomatie.gouv.fr", dkim_parent), at=ON_TIME)
    intake.deliver(submission("Ghana", "ghana@un.int", DKIM_PASS_UN_INT), at=ON_TIME)
    intake.deliver(
        submission("Japan", "japan@un.int", RSPAMD_SPF_ONLY.replace("france@", "japan@")),
        at=ON_TIME,
    )

    intake.run()

    assert reasons_of(intake) == {
        "attache.onu@diplomatie.gouv.fr": ("accepted", []),
        "ghana@un.int": ("accepted", []),
        "japan@un.int": ("accepted", []),
    }
    assert len(intake.replies(3)) == 3


def test_a_pass_written_by_another_server_is_ignored_and_the_forgery_gets_no_reply(
    intake: Intake,
) -> None:
    """GIVEN `require` WHEN mail in France's name carries a dmarc=pass header that names
    another server (the sender wrote it) and a Reply-To of its own THEN it is rejected as
    forged_sender, nobody receives a reply, and the desk sees what was found."""
    authentication(intake, "require")
    intake.deliver(
        submission(
            "France",
            "france@un.int",
            FORGED_PASS,
            extra_headers={"Reply-To": "france-desk@un.int"},
        ),
        at=ON_TIME,
    )

    intake.run()

    [row] = intake.queue()
    assert (row.status, row.reasons, row.mission) == ("rejected", ["forged_sender"], "FRA")
    assert row.reply is None
    assert intake.rows(m.Reply) == []
    assert len(intake.folder("Intake/Rejected")) == 1
    intake.run()
    assert intake.replies() == []
    [reason] = [r for r in intake.rows(m.DecisionReason) if r.code == "forged_sender"]
    assert reason.params["ignored_headers"] == 1
    assert reason.params["results"] == "no results from our receiving server"
    assert reason.params["policy"] == "require"
    [event] = events_of(intake, "reply_suppressed")
    assert event.detail["why"] == "forged_sender"


def test_dmarc_fail_is_rejected_under_require_and_held_silently_under_hold(
    intake: Intake,
) -> None:
    """`require` rejects (forged_sender), `hold` sends it to the desk
    (unauthenticated_sender); neither answers the From address, and an unauthenticated
    message is never accepted."""
    authentication(intake, "require")
    intake.deliver(submission("France", "france@un.int", DMARC_FAIL), at=ON_TIME)
    intake.run()
    assert reasons_of(intake) == {"france@un.int": ("rejected", ["forged_sender"])}

    authentication(intake, "hold")
    intake.deliver(submission("Ghana", "ghana@un.int", DMARC_FAIL), at=ON_TIME)
    intake.run()

    assert reasons_of(intake)["ghana@un.int"] == ("held", ["unauthenticated_sender"])
    assert len(intake.folder("Intake/Held")) == 1
    assert intake.replies() == []
    [reason] = [r for r in intake.rows(m.DecisionReason) if r.code == "unauthenticated_sender"]
    assert reason.params["results"] == "dmarc=fail header.from=un.int"


def test_a_mission_without_dkim_can_be_let_through_by_its_own_override(intake: Intake) -> None:
    """GIVEN `require` globally and `authentication = "off"` for Ghana WHEN Ghana and
    France both send without any Authentication-Results THEN Ghana is accepted, France
    is not."""
    authentication(intake, "require", GHA={"authentication": "off"})
    intake.deliver(submission("Ghana", "ghana@un.int"), at=ON_TIME)
    intake.deliver(submission("France", "france@un.int"), at=ON_TIME)

    intake.run()

    assert reasons_of(intake) == {
        "ghana@un.int": ("accepted", []),
        "france@un.int": ("rejected", ["forged_sender"]),
    }
    [reply] = intake.replies(1)
    assert reply.rcpt_tos == ("ghana@un.int",)


def test_a_mission_can_be_held_while_the_rest_is_not_checked(intake: Intake) -> None:
    """The override works the other way too: `off` globally, `hold` for France."""
    authentication(intake, "off", FRA={"authentication": "hold"})
    intake.deliver(submission("France", "france@un.int"), at=ON_TIME)
    intake.deliver(submission("Ghana", "ghana@un.int"), at=ON_TIME)

    intake.run()

    assert reasons_of(intake) == {
        "france@un.int": ("held", ["unauthenticated_sender"]),
        "ghana@un.int": ("accepted", []),
    }


MISSIONS = {
    "France": "france@un.int",
    "Côte d'Ivoire": "cotedivoire@un.int",
    "Ghana": "ghana@un.int",
    "Japan": "japan@un.int",
    "Brazil": "brazil@un.int",
    "Holy See": "holysee@un.int",
}
FORGERIES = {
    "a pass written by the sender": (FORGED_PASS,),
    "dmarc=fail at our server": (DMARC_FAIL,),
    "no results at all": (),
    "a pass for another domain": (f"{MX}; dmarc=pass header.from=evil.example",),
    "our id, written by the sender below our server's": (
        DMARC_FAIL,
        OUR_RECEIVED,
        FORGED_PASS.replace("mx.attacker.example", MX),
    ),
}


def test_a_flood_of_forgeries_in_every_missions_name_is_never_accepted_or_answered(
    intake: Intake, report_figures: Report
) -> None:
    """GIVEN `require` WHEN each of six missions sends its statement with our server's
    pass and, beside it, forgeries in its name of every kind THEN the six genuine ones
    are accepted and acknowledged, no forgery is accepted, and nobody is answered for
    one."""
    authentication(intake, "require")
    forged = 0
    for n, (mission, sender) in enumerate(MISSIONS.items()):
        for results in FORGERIES.values():
            forged += 1
            raw = submission(mission, sender, *results, message_id=f"<forged-{n}-{forged}@x>")
            intake.deliver(raw, at=ON_TIME)
        genuine = submission(mission, sender, DMARC_PASS, message_id=f"<genuine-{n}@un.int>")
        intake.deliver(genuine, at=ON_TIME)

    intake.run()

    rows = intake.queue()
    accepted = [r for r in rows if r.status == "accepted"]
    forgeries = [r for r in rows if r.reasons == ["forged_sender"]]
    replies = intake.delivered()
    answered_forgeries = [
        r for r in replies if str(r.message["In-Reply-To"]).startswith("<forged-")
    ]
    report_figures(
        f"forged senders: {forged} forgeries in {len(MISSIONS)} missions' names "
        f"({len(FORGERIES)} kinds), {len(forgeries)} rejected as forged_sender, "
        f"{forged - len(forgeries)} accepted or otherwise filed, {len(answered_forgeries)} "
        f"answered; {len(accepted)} of {len(MISSIONS)} genuine statements accepted and "
        f"{len(replies)} acknowledged"
    )
    assert len(forgeries) == forged
    assert len(accepted) == len(MISSIONS)
    assert answered_forgeries == []
    assert sorted(r.rcpt_tos[0] for r in replies) == sorted(MISSIONS.values())
    assert len(events_of(intake, "reply_suppressed")) == forged


def test_an_unknown_sender_is_not_this_checks_business(intake: Intake) -> None:
    """GIVEN `require` WHEN an unregistered address writes without a pass, and another
    with our server's pass for its domain THEN both are rejected as unknown_sender (not
    forged_sender: the check is about missions); only the one our server vouched for is
    told so, since anyone could have written in the other's name."""
    authentication(intake, "require")
    intake.deliver(submission("France", "someone@gmail.com", DMARC_FAIL), at=ON_TIME)
    gmail_pass = f"{MX}; dmarc=pass header.from=gmail.com"
    intake.deliver(submission("Ghana", "other@gmail.com", gmail_pass), at=ON_TIME)

    intake.run()

    assert reasons_of(intake) == {
        "someone@gmail.com": ("rejected", ["unknown_sender"]),
        "other@gmail.com": ("rejected", ["unknown_sender"]),
    }
    [reply] = intake.replies(1)
    assert reply.rcpt_tos == ("other@gmail.com",)
    assert "other@gmail.com is not registered" in text_of(reply)
    [event] = events_of(intake, "reply_suppressed")
    assert event.detail["why"] == "unregistered_sender_not_authenticated"
    assert event.detail["to"] == "someone@gmail.com"


def test_with_policy_off_nothing_changes(intake: Intake) -> None:
    """The default: a dmarc=fail from our own server changes nothing."""
    intake.reconfigure(authentication={"authserv_id": MX})
    intake.deliver(submission("France", "france@un.int", DMARC_FAIL), at=ON_TIME)

    intake.run()

    assert reasons_of(intake) == {"france@un.int": ("accepted", [])}


# --------------------------------------------------------------------------------------
# Reading Authentication-Results
# --------------------------------------------------------------------------------------


def _message(*results: str, sender: str = "france@un.int") -> bytes:
    raw = build_email(sender=sender, to=SUBMISSIONS, subject="PKO-SAFETY")
    return with_results(raw, *results)


def test_the_header_grammar_real_verifiers_write_is_read() -> None:
    parsed = parse_authentication_results(
        'MX.Intake.Example 1; dkim/1=PASS (2048-bit key; "quoted (not) a comment") '
        'header.d=UN.INT header.i="@un.int" header.b=abc; spf=softfail '
        "(nested (comment; with ; semicolons)) smtp.mailfrom=france@un.int; "
        "dmarc = pass header.from = un.int"
    )
    assert parsed is not None
    assert parsed.authserv_id == "MX.Intake.Example"
    assert [(r.method, r.result) for r in parsed.results] == [
        ("dkim", "pass"),
        ("spf", "softfail"),
        ("dmarc", "pass"),
    ]
    assert parsed.results[0].properties["header.d"] == "UN.INT"
    assert parsed.results[0].properties["header.i"] == "@un.int"
    assert parsed.results[2].properties["header.from"] == "un.int"


def test_a_header_with_no_results_or_no_id_is_harmless() -> None:
    none = parse_authentication_results(f"{MX}; none")
    assert none is not None
    assert none.results == ()
    assert parse_authentication_results("") is None
    assert parse_authentication_results("(only a comment)") is None
    # Microsoft 365 writes no authserv-id: such a header can never be ours.
    assert (
        parse_authentication_results(
            "spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=un.int; dkim=pass "
            "(signature was verified) header.d=un.int;dmarc=pass action=none header.from=un.int"
        )
        is None
    )


@pytest.mark.parametrize(
    ("from_domain", "other", "expected"),
    [
        ("un.int", "un.int", True),
        ("diplomatie.gouv.fr", "gouv.fr", True),
        ("un.int", "@un.int", True),
        ("un.int", "france@UN.INT", True),
        ("un.int", "mail.un.int", False),  # the signer is beneath From: not in this rule
        ("un.int", "int", False),  # a bare top-level domain never aligns
        ("un.int", "evilun.int", False),
        ("un.int", None, False),
    ],
)
def test_alignment(from_domain: str, other: str | None, expected: bool) -> None:
    assert aligned(from_domain, other) is expected


@pytest.mark.parametrize(
    ("results", "passed", "via"),
    [
        ((DMARC_PASS,), True, "dmarc"),
        ((DKIM_PASS_UN_INT,), True, "dkim"),
        ((RSPAMD_SPF_ONLY,), True, "spf"),
        ((DMARC_FAIL,), False, None),
        ((FORGED_PASS,), False, None),
        ((FORGED_PASS, DMARC_FAIL), False, None),
        # A pass for a domain that is not From's own.
        ((f"{MX}; dkim=pass header.d=mailer.example",), False, None),
        ((f"{MX}; spf=pass smtp.mailfrom=bounces@mailer.example",), False, None),
        ((f"{MX}; dmarc=pass header.from=mailer.example",), False, None),
        # Our server's id in another case is still ours.
        ((DMARC_PASS.replace(MX, MX.upper()),), True, "dmarc"),
        # A neutral DKIM result and an SPF pass for the HELO name are no pass.
        ((f"{MX}; dkim=neutral header.d=un.int; spf=pass smtp.helo=un.int",), False, None),
    ],
)
def test_what_counts_as_a_pass(results: tuple[str, ...], passed: bool, via: str | None) -> None:
    assessment = assess(parse_message(_message(*results)), MX)
    assert (assessment.passed, assessment.via) == (passed, via)


def test_two_from_headers_are_never_a_pass() -> None:
    """The verifier may have judged one From while we read the other."""
    raw = _message(DMARC_PASS)
    raw = b"From: someone@evil.example\r\n" + raw
    assessment = assess(parse_message(raw), MX)
    assert not assessment.passed
    assert assessment.problem is not None


def test_without_an_authserv_id_nothing_is_trusted() -> None:
    assessment = assess(parse_message(_message(DMARC_PASS)), None)
    assert not assessment.passed
    assert assessment.ignored_headers == 1


def test_the_run_builds_the_check_from_the_settings() -> None:
    """The registry's own instance checks nothing; `checks_for(names, settings)` gives
    the configured one, with the per-mission overrides."""
    settings = parse_settings(
        {
            "authentication": {"authserv_id": MX, "policy": "hold"},
            "missions": {"GHA": {"senders": ["ghana@un.int"], "authentication": "off"}},
        },
        environ={},
    )
    [unconfigured] = checks_for(["sender_authentication"])
    [configured] = checks_for(["sender_authentication"], settings)
    assert isinstance(unconfigured, SenderAuthentication)
    assert isinstance(configured, SenderAuthentication)
    assert unconfigured.policy is AuthPolicy.OFF
    assert configured.authserv_id == MX
    assert configured.policy_for("FRA") is AuthPolicy.HOLD
    assert configured.policy_for("gha") is AuthPolicy.OFF
    assert "sender_authentication" in settings.checks


def test_only_the_block_our_server_prepended_is_read() -> None:
    """Our verdict above our Received header counts; a header with our id that came
    with the message (below it) counts for nothing, pass or fail."""
    forged_pass = FORGED_PASS.replace("mx.attacker.example", MX)
    ours_fail = assess(parse_message(_message(DMARC_FAIL, OUR_RECEIVED, forged_pass)), MX)
    ours_pass = assess(parse_message(_message(DMARC_PASS, OUR_RECEIVED, DMARC_FAIL)), MX)

    assert not ours_fail.passed
    assert ours_fail.ignored_headers == 1
    assert ours_pass.passed
    assert ours_pass.found == ("dmarc=pass header.from=un.int",)
