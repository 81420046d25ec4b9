"""The development servers are real: a private Dovecot answers IMAP and LMTP, and
aiosmtpd speaks SMTP with AUTH and STARTTLS. If these pass, tests built on the
fixtures exercise the protocols Intake meets in production, not an imitation."""

from __future__ import annotations

import os
import shutil
import smtplib
import ssl
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from imapclient.exceptions import (
    CapabilityError,
    IMAPClientAbortError,
    IMAPClientError,
    LoginError,
)

from pipeline.devservers import (
    CapturingSMTPServer,
    DevServerError,
    ThrowawayDovecot,
    free_port,
)
from pipeline.devservers import dovecot as dovecot_module

USER = "submissions@intake.test"
PASSWORD = "s3cret-pass"
RAW = b"From: Mission <mission@example.org>\r\nSubject: Statement\r\n\r\nText.\r\n"


@pytest.fixture
def dovecot() -> Iterator[ThrowawayDovecot]:
    server = ThrowawayDovecot()
    server.add_user(USER, PASSWORD)
    with server:
        yield server


@pytest.fixture
def smtp_server() -> Iterator[CapturingSMTPServer]:
    with CapturingSMTPServer() as server:
        yield server


def _process_alive(pid: int) -> bool:
    """True if ``pid`` runs and is not a zombie (PID 1 may not reap orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def _send(server: CapturingSMTPServer, raw: bytes = RAW) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.sendmail("intake@intake.test", ["mission@example.org"], raw)


# -- Dovecot -------------------------------------------------------------------


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert 1024 <= port <= 65535


def test_imap_login_advertises_the_expected_capabilities(dovecot: ThrowawayDovecot) -> None:
    with dovecot.imap_client(USER, PASSWORD) as client:
        capabilities = set(client.capabilities())
    assert {b"IMAP4REV1", b"UIDPLUS", b"MOVE", b"IDLE"} <= capabilities


def test_append_returns_uid_and_preserves_internaldate(dovecot: ThrowawayDovecot) -> None:
    when = datetime(2025, 3, 14, 9, 26, 53, tzinfo=timezone(timedelta(hours=-5)))
    first = dovecot.append(USER, PASSWORD, RAW, internaldate=when)
    second = dovecot.append(USER, PASSWORD, RAW, folder="Processed")

    assert first == 1
    assert second == 1  # UIDs are per folder; "Processed" was created on demand
    assert dovecot.folder_uids(USER, PASSWORD) == [first]
    assert set(dovecot.list_folders(USER, PASSWORD)) == {"INBOX", "Processed"}
    with dovecot.imap_client(USER, PASSWORD) as client:
        client.normalise_times = False  # keep the server's offset
        client.select_folder("INBOX", readonly=True)
        fetched = client.fetch([first], ["INTERNALDATE", "BODY.PEEK[]"])[first]
    # The instant survives; the -05:00 offset does not (maildir keeps the date as
    # the file's mtime, so Dovecot reports it in its own time zone).
    assert fetched[b"INTERNALDATE"] == when
    assert fetched[b"BODY[]"] == RAW


def test_lmtp_delivery_arrives_in_inbox(dovecot: ThrowawayDovecot) -> None:
    dovecot.deliver_lmtp(USER, b"Subject: via LMTP\n\nbare LF lines\n")

    uids = dovecot.folder_uids(USER, PASSWORD)
    assert len(uids) == 1
    with dovecot.imap_client(USER, PASSWORD) as client:
        client.select_folder("INBOX", readonly=True)
        body = client.fetch(uids, ["BODY.PEEK[]"])[uids[0]][b"BODY[]"]
    assert b"Subject: via LMTP\r\n" in body
    assert b"bare LF lines\r\n" in body


def test_lmtp_refuses_unknown_user(dovecot: ThrowawayDovecot) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
        dovecot.deliver_lmtp("nobody@intake.test", RAW)
    assert info.value.recipients["nobody@intake.test"][0] == 550


def test_wrong_password_is_refused_without_penalising_later_logins(
    dovecot: ThrowawayDovecot,
) -> None:
    for _ in range(2):
        with pytest.raises(LoginError):
            dovecot.imap_client(USER, "wrong")
    started = time.monotonic()
    dovecot.imap_client(USER, PASSWORD).logout()
    # Dovecot's default auth penalty would delay this login by 4 s or more.
    assert time.monotonic() - started < 2.0


def test_user_added_while_running_can_log_in_at_once(dovecot: ThrowawayDovecot) -> None:
    dovecot.imap_client(USER, PASSWORD).logout()  # auth process has read the file
    dovecot.add_user("late@intake.test", "pw")
    dovecot.imap_client("late@intake.test", "pw").logout()
    dovecot.deliver_lmtp("late@intake.test", RAW)
    assert dovecot.folder_uids("late@intake.test", "pw") == [1]


def test_move_capability_can_be_removed() -> None:
    server = ThrowawayDovecot(capabilities_without=("MOVE",))
    server.add_user(USER, PASSWORD)
    with server:
        uid = server.append(USER, PASSWORD, RAW)
        with server.imap_client(USER, PASSWORD) as client:
            capabilities = client.capabilities()
            assert b"MOVE" not in capabilities
            assert b"UIDPLUS" in capabilities
            client.select_folder("INBOX")
            with pytest.raises(CapabilityError):
                client.move([uid], "Archive")


def test_a_personal_namespace_below_inbox_refuses_folders_outside_it() -> None:
    """Like Courier, Cyrus and many hosted servers: NAMESPACE announces `INBOX.` with `.`
    between levels, and `Intake.Accepted` (outside every namespace) cannot be created."""
    server = ThrowawayDovecot(namespace_prefix="INBOX.", separator=".")
    server.add_user(USER, PASSWORD)
    with server, server.imap_client(USER, PASSWORD) as client:
        assert client.namespace().personal == (("INBOX.", "."),)
        with pytest.raises(IMAPClientError, match="nonexistent namespace"):
            client.create_folder("Intake.Accepted")
        client.create_folder("INBOX.Intake.Accepted")
        assert "INBOX.Intake.Accepted" in server.list_folders(USER, PASSWORD)


def test_a_namespace_prefix_must_end_with_its_separator() -> None:
    with pytest.raises(ValueError, match="must end with the separator"):
        ThrowawayDovecot(namespace_prefix="INBOX", separator=".")


def test_restart_keeps_mail_port_and_users(dovecot: ThrowawayDovecot) -> None:
    uid = dovecot.append(USER, PASSWORD, RAW)
    port, old_pid = dovecot.port, dovecot.pid
    assert old_pid is not None

    dovecot.restart()

    assert dovecot.port == port
    assert dovecot.pid != old_pid
    assert not _process_alive(old_pid)
    assert dovecot.folder_uids(USER, PASSWORD) == [uid]


def test_stop_drops_connections_and_start_brings_the_mailbox_back(
    dovecot: ThrowawayDovecot,
) -> None:
    client = dovecot.imap_client(USER, PASSWORD, timeout=5)
    dovecot.stop()
    with pytest.raises((OSError, IMAPClientAbortError)):
        client.noop()
    with pytest.raises(ConnectionRefusedError):
        dovecot.imap_client(USER, PASSWORD)
    dovecot.start()
    dovecot.imap_client(USER, PASSWORD).logout()


def test_close_leaves_no_process_and_no_files() -> None:
    server = ThrowawayDovecot()
    server.add_user(USER, PASSWORD)
    with server:
        pid = server.pid
        assert pid is not None
        server.imap_client(USER, PASSWORD).logout()
        base = server.base_dir
    assert not _process_alive(pid)
    assert not base.exists()


def test_given_deep_base_dir_works_and_is_kept() -> None:
    # Deeper than a Unix socket path allows: Dovecot's sockets move to a short dir.
    parent = Path(tempfile.mkdtemp(prefix="intake-test-"))
    parent.chmod(0o755)  # as root, Dovecot's own user must be able to reach the mail
    try:
        base = parent / ("deep-" * 15)
        with ThrowawayDovecot(base) as server:
            server.add_user(USER, PASSWORD)
            server.deliver_lmtp(USER, RAW)
            assert server.folder_uids(USER, PASSWORD) == [1]
            assert not server.lmtp_socket_path.is_relative_to(base)
        assert (base / "dovecot.log").exists()
        with pytest.raises(ValueError, match="already exists"):
            ThrowawayDovecot(base).add_user(USER, "other")
    finally:
        shutil.rmtree(parent)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands mail to the dovecot user")
def test_unsearchable_base_dir_is_reported_as_root(tmp_path: Path) -> None:
    # pytest's tmp dirs are 0700, so Dovecot's own user could not reach them.
    server = ThrowawayDovecot(tmp_path / "dovecot")
    with pytest.raises(DevServerError, match="not searchable"):
        server.start()
    assert not server.running


def test_missing_binary_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dovecot_module, "find_binary", lambda *_args, **_kw: None)
    server = ThrowawayDovecot()
    with pytest.raises(DevServerError, match="apt-get install dovecot-imapd dovecot-lmtpd"):
        server.start()
    server.close()


# -- SMTP ----------------------------------------------------------------------


def test_smtp_captures_envelope_raw_bytes_and_parsed_message(
    smtp_server: CapturingSMTPServer,
) -> None:
    _send(smtp_server)

    [message] = smtp_server.wait_for(1, timeout=5)
    assert message.mail_from == "intake@intake.test"
    assert message.rcpt_tos == ("mission@example.org",)
    assert message.raw == RAW
    assert message.message["Subject"] == "Statement"
    assert message.message.get_content() == "Text.\n"
    assert message.authenticated_as is None
    assert message.tls is False
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=5) as client:
        client.ehlo()
        assert not client.has_extn("auth")  # no credentials configured: no AUTH
    smtp_server.clear()
    assert smtp_server.messages == []


def test_smtp_wait_for_times_out(smtp_server: CapturingSMTPServer) -> None:
    with pytest.raises(TimeoutError, match="got 0"):
        smtp_server.wait_for(1, timeout=0.1)


def test_smtp_auth_required_and_checked() -> None:
    with CapturingSMTPServer(username="intake", password="pw") as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                client.sendmail("intake@intake.test", ["m@example.org"], RAW)
            assert refused.value.smtp_code == 530
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login("intake", "wrong")
            client.login("intake", "pw")
            client.sendmail("intake@intake.test", ["m@example.org"], RAW)
        [message] = server.wait_for(1, timeout=5)
    assert message.authenticated_as == "intake"


def test_smtp_starttls_verifies_with_generated_ca() -> None:
    with CapturingSMTPServer(username="intake", password="pw", starttls=True) as server:
        context = ssl.create_default_context(cafile=str(server.ca_file))
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.starttls(context=context)
            client.login("intake", "pw")
            client.sendmail("intake@intake.test", ["m@example.org"], RAW)
        [message] = server.wait_for(1, timeout=5)
        assert message.tls is True

        # The system trust store does not know the generated CA: verification is real.
        with (
            smtplib.SMTP(server.host, server.port, timeout=5) as client,
            pytest.raises(ssl.SSLCertVerificationError),
        ):
            client.starttls(context=ssl.create_default_context())


def test_smtp_starttls_is_required_when_enabled() -> None:
    with CapturingSMTPServer(starttls=True) as server:
        with (
            smtplib.SMTP(server.host, server.port, timeout=5) as client,
            pytest.raises(smtplib.SMTPSenderRefused) as refused,
        ):
            client.sendmail("intake@intake.test", ["m@example.org"], RAW)
        assert refused.value.smtp_code == 530


def test_smtp_reject_with_yields_an_smtp_error(smtp_server: CapturingSMTPServer) -> None:
    smtp_server.reject_with = (554, "5.7.1 Refused for the test")
    with pytest.raises(smtplib.SMTPDataError) as info:
        _send(smtp_server)
    assert info.value.smtp_code == 554
    assert smtp_server.messages == []

    smtp_server.reject_with = None
    _send(smtp_server)
    assert len(smtp_server.wait_for(1, timeout=5)) == 1


def test_smtp_outage_and_recovery_on_the_same_port(smtp_server: CapturingSMTPServer) -> None:
    port = smtp_server.port
    smtp_server.stop()
    with pytest.raises(ConnectionRefusedError):
        _send(smtp_server)
    smtp_server.start()
    assert smtp_server.port == port
    _send(smtp_server)
    assert len(smtp_server.wait_for(1, timeout=5)) == 1
