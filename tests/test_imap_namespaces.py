"""Outcome folders on a server that keeps every folder below INBOX.

Courier, Cyrus and many hosted servers announce a personal namespace `INBOX.` with `.`
between levels (RFC 2342 NAMESPACE): there, `Intake.Accepted` lies outside every
namespace and the server refuses to create it. Intake reads the namespace and files
below it, `INBOX.Intake.Accepted` and so on, unless the configuration already names a
folder in full. The stories run against a real Dovecot laid out that way, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import email
import json
import signal
import uuid
from email.utils import parseaddr

import pytest

from pipeline.demo import samples
from pipeline.demo.automatic import auto_reply_email
from pipeline.devservers.dovecot import ThrowawayDovecot
from pipeline.mailbox.imap import Mailbox, Namespace, server_folder_name
from pipeline.settings.models import MailboxSettings
from tests.conftest import PKO_SAFETY, SUBMISSIONS, Intake, ny
from tests.helpers.commands import intake_command

ON_TIME = ny(2021, 5, 20, 10, 0)
WPS = {"code": "WPS-2021", "title": "Women and peace and security", "date": "2021-10-21"}
KILLED = -signal.SIGKILL


def submission(mission: str, sender: str, **options: object) -> bytes:
    return samples.submission_email(
        mission_name=mission,
        sender=sender,
        to=SUBMISSIONS,
        **options,  # type: ignore[arg-type]
    )


def senders_in(intake: Intake, folder: str) -> list[str]:
    """Who sent the mail in `folder`, as the server names it; [] if it does not exist."""
    if folder not in intake.dovecot.list_folders(intake.user, intake.password):
        return []
    with intake.dovecot.imap_client(intake.user, intake.password) as client:
        client.select_folder(folder, readonly=True)
        uids = client.search("ALL")
        headers = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (FROM)]"]) if uids else {}
    return sorted(
        parseaddr(email.message_from_bytes(data[b"BODY[HEADER.FIELDS (FROM)]"])["From"])[1]
        for data in headers.values()
    )


def intake_folders(intake: Intake) -> set[str]:
    """Every folder of the mailbox except INBOX itself."""
    return set(intake.dovecot.list_folders(intake.user, intake.password)) - {"INBOX"}


def test_every_outcome_is_filed_below_inbox_on_a_server_that_keeps_folders_there(
    intake_inbox_prefix: Intake,
) -> None:
    """GIVEN a server whose folders all live below `INBOX.` and the default folders
    (`Intake/Accepted`, ...) WHEN an accepted statement, a rejected one, an out-of-office
    and a mail for no clear meeting arrive THEN each is moved to its folder below INBOX,
    the inbox is empty, every delegation hears back once, and a second run does nothing."""
    intake = intake_inbox_prefix
    intake.reconfigure(meetings=[dict(PKO_SAFETY), WPS])
    intake.deliver(submission("France", "france@un.int"), at=ON_TIME)
    intake.deliver(submission("Ghana", "ghana@un.int", cover_letter=None), at=ON_TIME)
    intake.deliver(
        auto_reply_email(
            sender="japan@un.int", to=SUBMISSIONS, original_subject="Re: acknowledgement"
        ),
        at=ON_TIME,
    )
    intake.deliver(submission("Brazil", "brazil@un.int", subject="Our statement"), at=ON_TIME)

    report = intake.run()

    assert report.filed == {"accepted": 1, "rejected": 1, "ignored": 1, "held": 1}
    assert intake.inbox == []
    assert intake_folders(intake) == {
        "INBOX.Intake",
        "INBOX.Intake.Accepted",
        "INBOX.Intake.Rejected",
        "INBOX.Intake.Ignored",
        "INBOX.Intake.Held",
    }
    assert senders_in(intake, "INBOX.Intake.Accepted") == ["france@un.int"]
    assert senders_in(intake, "INBOX.Intake.Rejected") == ["ghana@un.int"]
    assert senders_in(intake, "INBOX.Intake.Ignored") == ["japan@un.int"]
    assert senders_in(intake, "INBOX.Intake.Held") == ["brazil@un.int"]
    assert len(intake.folder("Intake/Accepted")) == 1
    statuses = {row.mission: row.status for row in intake.queue()}
    assert statuses == {"FRA": "accepted", "GHA": "rejected", "BRA": "held"}
    replies = intake.replies(3)
    assert sorted(address for reply in replies for address in reply.rcpt_tos) == [
        "brazil@un.int",
        "france@un.int",
        "ghana@un.int",
    ]

    again = intake.run()

    assert (again.waiting, again.processed, again.moved, again.replies.sent) == (0, 0, 0, 0)
    assert len(intake.ledger()) == 4
    assert len(intake.replies()) == 3
    assert senders_in(intake, "INBOX.Intake.Accepted") == ["france@un.int"]


def test_mail_filed_but_not_moved_by_an_earlier_run_is_moved_below_inbox(
    intake_inbox_prefix: Intake,
) -> None:
    """GIVEN a run that stopped after filing a statement and before moving it (as every
    run on such a server did before Intake read the namespace: it filed, then the server
    refused `Intake.Accepted`) WHEN the next run comes THEN the statement is moved to
    `INBOX.Intake.Accepted`, neither filed nor answered a second time."""
    intake = intake_inbox_prefix
    intake.deliver(submission("France", "france@un.int"), at=ON_TIME)
    killed = intake_command(
        "run-once", config=intake.write_config(), env={"INTAKE_FAULT": "after_commit"}
    )
    assert killed.returncode == KILLED, killed.stderr
    [record] = intake.ledger()
    assert (record.target_folder, record.moved_at) == ("Intake/Accepted", None)
    assert len(intake.inbox) == 1

    report = intake.run()

    assert (report.processed, report.already_filed, report.moved) == (0, 1, 1)
    assert intake.inbox == []
    assert senders_in(intake, "INBOX.Intake.Accepted") == ["france@un.int"]
    assert [row.status for row in intake.queue()] == ["accepted"]
    [reply] = intake.replies(1)
    assert reply.rcpt_tos == ("france@un.int",)


def test_folders_configured_in_full_below_inbox_are_used_as_they_are(
    intake_inbox_prefix: Intake,
) -> None:
    """GIVEN a configuration that already names the folders below INBOX, in Intake's
    notation (`INBOX/Statements/Accepted`) or the server's (`INBOX.Statements.Rejected`)
    WHEN mail is filed THEN it goes exactly there, not to `INBOX.INBOX...`."""
    intake = intake_inbox_prefix
    intake.reconfigure(
        mailbox={
            "folders": {
                "accepted": "INBOX/Statements/Accepted",
                "rejected": "INBOX.Statements.Rejected",
            }
        }
    )
    intake.deliver(submission("France", "france@un.int"), at=ON_TIME)
    intake.deliver(submission("Ghana", "ghana@un.int", cover_letter=None), at=ON_TIME)

    report = intake.run()

    assert report.filed == {"accepted": 1, "rejected": 1}
    assert intake.inbox == []
    assert intake_folders(intake) == {
        "INBOX.Statements",
        "INBOX.Statements.Accepted",
        "INBOX.Statements.Rejected",
    }
    assert senders_in(intake, "INBOX.Statements.Accepted") == ["france@un.int"]
    assert senders_in(intake, "INBOX.Statements.Rejected") == ["ghana@un.int"]


def test_intake_health_names_the_folders_as_the_server_will_show_them(
    intake_inbox_prefix: Intake,
) -> None:
    """Before the first run, `intake health` tells the operator where mail will go."""
    result = intake_command("health", "--json", config=intake_inbox_prefix.write_config())

    components = {c["name"]: c for c in json.loads(result.stdout)["components"]}
    assert components["imap"]["ok"] is True
    assert components["imap"]["detail"].endswith(
        ", filing into INBOX.Intake.Accepted, INBOX.Intake.Rejected, INBOX.Intake.Held, "
        "INBOX.Intake.Ignored"
    )
    assert intake_folders(intake_inbox_prefix) == set()


# -- the names, fast ---------------------------------------------------------------------

DOVECOT_DEFAULT = Namespace("", ".")
DOVECOT_SLASH = Namespace("", "/")
BELOW_INBOX = Namespace("INBOX.", ".", others=("#shared.",))
BELOW_INBOX_SLASH = Namespace("INBOX/", "/")


@pytest.mark.parametrize(
    ("configured", "namespace", "on_the_server"),
    [
        # Dovecot's default layout: exactly as before namespaces were read.
        ("Intake/Accepted", DOVECOT_DEFAULT, "Intake.Accepted"),
        ("Intake/Accepted", DOVECOT_SLASH, "Intake/Accepted"),
        ("/Intake//Accepted/", DOVECOT_DEFAULT, "Intake.Accepted"),
        ("INBOX/Intake/Accepted", DOVECOT_DEFAULT, "INBOX.Intake.Accepted"),
        ("Accepted", DOVECOT_DEFAULT, "Accepted"),
        # Everything below INBOX: the prefix is added ...
        ("Intake/Accepted", BELOW_INBOX, "INBOX.Intake.Accepted"),
        ("Accepted", BELOW_INBOX, "INBOX.Accepted"),
        ("Intake/Accepted", BELOW_INBOX_SLASH, "INBOX/Intake/Accepted"),
        ("Intake/Accepted", Namespace("INBOX", "."), "INBOX.Intake.Accepted"),
        # ... unless the configuration names the folder in full.
        ("INBOX/Intake/Accepted", BELOW_INBOX, "INBOX.Intake.Accepted"),
        ("INBOX.Intake.Accepted", BELOW_INBOX, "INBOX.Intake.Accepted"),
        ("inbox/Intake/Accepted", BELOW_INBOX, "INBOX.Intake.Accepted"),
        ("Inbox.Intake.Accepted", BELOW_INBOX, "INBOX.Intake.Accepted"),
        ("INBOX/Intake/Accepted", BELOW_INBOX_SLASH, "INBOX/Intake/Accepted"),
        ("#shared/Intake/Accepted", BELOW_INBOX, "#shared.Intake.Accepted"),
        # A folder that only begins like INBOX is not in it.
        ("INBOXES/Accepted", BELOW_INBOX, "INBOX.INBOXES.Accepted"),
        ("Intake/INBOX", BELOW_INBOX, "INBOX.Intake.INBOX"),
    ],
)
def test_a_configured_folder_becomes_the_name_the_server_expects(
    configured: str, namespace: Namespace, on_the_server: str
) -> None:
    assert server_folder_name(configured, namespace) == on_the_server


def test_intake_reads_the_namespace_each_server_announces(
    dovecot: ThrowawayDovecot, dovecot_inbox_prefix: ThrowawayDovecot
) -> None:
    """Dovecot's default layout (nothing added) and the one below INBOX, as announced."""
    seen = {}
    for name, server in (("default", dovecot), ("below INBOX", dovecot_inbox_prefix)):
        user = f"namespace-reader-{uuid.uuid4().hex[:8]}"
        server.add_user(user, "pw")
        with Mailbox(mailbox_settings(server, user)) as mailbox:
            seen[name] = (mailbox.namespace.prefix, mailbox.namespace.separator)
            folder = mailbox.server_folder("Intake/Accepted")
        seen[name + " folder"] = (folder, "")
    assert seen == {
        "default": ("", "."),
        "default folder": ("Intake.Accepted", ""),
        "below INBOX": ("INBOX.", "."),
        "below INBOX folder": ("INBOX.Intake.Accepted", ""),
    }


def test_without_namespace_the_separator_comes_from_the_server_listing() -> None:
    """A server that does not offer NAMESPACE: LIST "" "" tells the separator, and a
    message moves to `Intake/Accepted` in the server's own hierarchy."""
    with ThrowawayDovecot(capabilities_without=("NAMESPACE",), separator="/") as server:
        server.add_user("submissions", "pw")
        server.append("submissions", "pw", RAW)
        with Mailbox(mailbox_settings(server, "submissions")) as mailbox:
            assert not mailbox.client.has_capability("NAMESPACE")
            assert (mailbox.namespace.prefix, mailbox.namespace.separator) == ("", "/")
            mailbox.move(mailbox.waiting_uids(), "Intake/Accepted")
        assert server.folder_uids("submissions", "pw") == []
        assert server.folder_uids("submissions", "pw", "Intake/Accepted") == [1]


RAW = b"From: France <france@un.int>\r\nSubject: Statement\r\n\r\nText.\r\n"


def mailbox_settings(server: ThrowawayDovecot, user: str) -> MailboxSettings:
    return MailboxSettings.model_validate(
        {
            "host": server.host,
            "port": server.port,
            "security": "none",
            "username": user,
            "password": "pw",
            "timeout": 10,
        }
    )
