"""A real SMTP server on 127.0.0.1 that captures Intake's replies.

Why a real server: the reply code must be tested against actual SMTP
behaviour (EHLO, STARTTLS, AUTH, per-command error codes, connection drops),
which ``smtplib`` mocks do not reproduce.  aiosmtpd runs in a background
thread and starts in milliseconds.

Every accepted message is kept as a ``CapturedMessage`` (envelope plus raw
bytes plus a parsed ``EmailMessage``).  The server can be stopped and started
again on the same port to simulate an outage, and ``reject_with`` makes it
refuse every DATA to exercise error handling.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from pipeline.devservers.ports import LOOPBACK, DevServerError, free_port

__all__ = ["CapturedMessage", "CapturingSMTPServer"]

# The name the server announces in its greeting and EHLO reply.  Set
# explicitly because aiosmtpd otherwise calls socket.getfqdn(), which can
# take seconds on machines without working reverse DNS.
SERVER_HOSTNAME = "localhost"

_OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
x509_extensions = v3
prompt = no
[dn]
CN = 127.0.0.1
O = Intake throwaway SMTP
[v3]
basicConstraints = critical,CA:TRUE
keyUsage = critical,digitalSignature,keyEncipherment,keyCertSign
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


@dataclass(frozen=True)
class CapturedMessage:
    """One message the server accepted, as the client sent it.

    ``raw`` is byte-exact (CRLF line endings, as on the wire); ``message`` is
    parsed with ``email.policy.default`` from the LF-normalised bytes.

    ``authenticated_as`` and ``tls`` record *how* it was sent, so a test can
    prove that the client really logged in and really used STARTTLS.
    """

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage
    authenticated_as: str | None
    tls: bool
    peer: str
    received_at: datetime


def _generate_certificate(directory: Path) -> tuple[Path, Path]:
    """Create a self-signed certificate for 127.0.0.1/localhost with openssl.

    The ``cryptography`` package is not a project dependency, so the
    ``openssl`` command line tool is used.  The certificate is its own CA
    (``CA:TRUE``, ``keyCertSign``) so clients can verify it by loading it as
    ``cafile``; the IP SAN makes hostname checking against 127.0.0.1 pass.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise DevServerError(
            "openssl is not installed (needed for STARTTLS): apt-get install openssl"
        )
    config = directory / "openssl.cnf"
    config.write_text(_OPENSSL_CONFIG)
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = [
        openssl, "req", "-x509", "-config", str(config),
        "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "7", "-keyout", str(key), "-out", str(cert),
    ]  # fmt: skip
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        command, capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0 or not cert.exists():
        raise DevServerError(f"openssl could not create a certificate: {result.stderr.strip()}")
    key.chmod(0o600)
    return cert, key


class _Handler:
    """aiosmtpd hooks; runs in the controller's event-loop thread."""

    def __init__(self, owner: CapturingSMTPServer) -> None:
        self._owner = owner

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        # Enforced here rather than with aiosmtpd's auth_required, which
        # warns (an error under filterwarnings=error) unless AUTH also
        # requires TLS, and AUTH must work on plain connections in tests.
        del server
        if self._owner.requires_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        del server
        rejection = self._owner.reject_with
        if rejection is not None:
            code, text = rejection
            return f"{code} {text}"
        raw = envelope.original_content
        if raw is None:
            content = envelope.content
            raw = content.encode("utf-8") if isinstance(content, str) else content or b""
        # Parsed from LF-normalised bytes so get_content() returns Python-style
        # "\n" lines; on CRLF input the email package keeps "\r\n" in bodies.
        # ``raw`` stays exactly as received.
        parsed = BytesParser(policy=policy.default).parsebytes(raw.replace(b"\r\n", b"\n"))
        assert isinstance(parsed, EmailMessage)
        auth_data = session.auth_data
        self._owner._record(
            CapturedMessage(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                raw=raw,
                message=parsed,
                authenticated_as=auth_data if isinstance(auth_data, str) else None,
                tls=session.ssl is not None,
                peer=str(session.peer),
                received_at=datetime.now(UTC),
            )
        )
        return "250 2.0.0 OK: captured"


class CapturingSMTPServer:
    """aiosmtpd on 127.0.0.1 that keeps every accepted message in memory.

    Options:

    * ``username``/``password``: offer AUTH (PLAIN, LOGIN) and refuse MAIL
      FROM until the client authenticated.  AUTH is allowed without TLS so
      plain tests work (``auth_require_tls=False``).
    * ``starttls``: generate a self-signed certificate on the first start,
      offer and *require* STARTTLS.  ``ca_file`` is the file a client passes
      to ``ssl.create_default_context(cafile=...)`` to verify the server.
    * ``reject_with=(554, "5.7.1 no thanks")``: answer every DATA with that
      error instead of accepting it; settable at runtime.

    ``stop()`` keeps the port, certificate and captured messages so that
    ``start()`` can bring the "same" server back after a simulated outage.
    """

    def __init__(
        self,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        reject_with: tuple[int, str] | None = None,
        ready_timeout: float = 5.0,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self._username = username
        self._password = password
        self._starttls = starttls
        self._ready_timeout = ready_timeout
        self._lock = threading.Condition()
        self._messages: list[CapturedMessage] = []
        self._reject_with: tuple[int, str] | None = None
        self.reject_with = reject_with
        self._port: int | None = None
        self._controller: Controller | None = None
        self._cert_dir: Path | None = None
        self._cert: Path | None = None
        self._key: Path | None = None

    # -- configuration and state -------------------------------------------

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def port(self) -> int:
        """SMTP port; chosen on the first ``start()`` and kept across restarts."""
        if self._port is None:
            raise DevServerError("CapturingSMTPServer has not been started yet")
        return self._port

    @property
    def running(self) -> bool:
        return self._controller is not None

    @property
    def requires_auth(self) -> bool:
        return self._username is not None

    @property
    def ca_file(self) -> Path:
        """Certificate to trust for STARTTLS (exists after the first start)."""
        if self._cert is None:
            raise DevServerError(
                "no certificate: the server was created without starttls=True or not started"
            )
        return self._cert

    @property
    def reject_with(self) -> tuple[int, str] | None:
        """``(code, text)`` returned for every DATA, or None to accept mail."""
        with self._lock:
            return self._reject_with

    @reject_with.setter
    def reject_with(self, value: tuple[int, str] | None) -> None:
        if value is not None:
            code, text = value
            if not 400 <= code <= 599 or "\n" in text or "\r" in text:
                raise ValueError(f"reject_with needs a 4xx/5xx code and one line: {value!r}")
        with self._lock:
            self._reject_with = value

    # -- captured messages -------------------------------------------------

    @property
    def messages(self) -> list[CapturedMessage]:
        """A snapshot (copy) of the messages captured so far, oldest first."""
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def wait_for(self, count: int, timeout: float) -> list[CapturedMessage]:
        """Block until at least ``count`` messages arrived; return all of them.

        Raises TimeoutError naming how many did arrive, because a bare
        assertion on ``len(messages)`` right after triggering a send races
        with the server thread.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"expected {count} message(s) within {timeout:g}s, "
                        f"got {len(self._messages)}"
                    )
                self._lock.wait(remaining)
            return list(self._messages)

    def _record(self, message: CapturedMessage) -> None:
        with self._lock:
            self._messages.append(message)
            self._lock.notify_all()

    # -- lifecycle -----------------------------------------------------------

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Listen on 127.0.0.1 (same port as before after a ``stop()``)."""
        if self._controller is not None:
            return
        tls_context = self._tls_context() if self._starttls else None
        port = self._port if self._port is not None else free_port()
        kwargs: dict[str, Any] = {}
        if self._username is not None:
            kwargs["authenticator"] = self._authenticate
        # aiosmtpd closes its event loop on stop, so every start needs a new
        # controller (and loop).
        controller = Controller(
            _Handler(self),
            hostname=LOOPBACK,
            port=port,
            ready_timeout=self._ready_timeout,
            server_hostname=SERVER_HOSTNAME,
            tls_context=tls_context,
            require_starttls=self._starttls,
            # With credentials AUTH must work on plain connections too; without
            # them, requiring TLS keeps aiosmtpd from advertising AUTH (which
            # would always fail) on plain connections.
            auth_require_tls=self._username is None,
            **kwargs,
        )
        try:
            controller.start()
        except BaseException as exc:
            self._discard(controller)
            if isinstance(exc, Exception):
                raise DevServerError(
                    f"aiosmtpd could not listen on {LOOPBACK}:{port}: {exc}"
                ) from exc
            raise
        self._port = port
        self._controller = controller

    def stop(self) -> None:
        """Stop listening and drop open connections; captured mail is kept."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def close(self) -> None:
        """Stop and delete the generated certificate."""
        self.stop()
        if self._cert_dir is not None:
            shutil.rmtree(self._cert_dir, ignore_errors=True)
            self._cert_dir = self._cert = self._key = None

    # -- internals -------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        if self._cert is None or self._key is None:
            self._cert_dir = Path(tempfile.mkdtemp(prefix="intake-smtp-tls-"))
            self._cert, self._key = _generate_certificate(self._cert_dir)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self._cert, self._key)
        return context

    def _authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        """Check LOGIN/PLAIN credentials.

        A failure must be ``AuthResult(success=False, handled=False)``: with
        the default ``handled=True`` aiosmtpd assumes the authenticator already
        replied, sends nothing, and the client hangs.
        """
        del server, session, envelope, mechanism
        if (
            isinstance(auth_data, LoginPassword)
            and self._username is not None
            and self._password is not None
            and hmac.compare_digest(auth_data.login, self._username.encode())
            and hmac.compare_digest(auth_data.password, self._password.encode())
        ):
            return AuthResult(success=True, auth_data=self._username)
        return AuthResult(success=False, handled=False)

    @staticmethod
    def _discard(controller: Controller) -> None:
        """Tear down a controller whose start() failed, without leaking its loop."""
        with contextlib.suppress(Exception):  # must not mask the start error
            controller.stop(no_assert=True)
        loop: asyncio.AbstractEventLoop = controller.loop
        if not loop.is_running() and not loop.is_closed():
            loop.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<CapturingSMTPServer {state} {LOOPBACK}:{self._port}>"
