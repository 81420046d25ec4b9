"""Sending replies over SMTP, with an explicit timeout and one exception tree."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from types import TracebackType

from pipeline.errors import IntakeError, describe_error
from pipeline.settings.models import Security, SmtpSettings


class SmtpError(IntakeError):
    """Base class: something went wrong talking to the SMTP server."""


class SmtpUnavailable(SmtpError):
    """The server cannot be reached or refused the login: nothing can be sent now."""


class SmtpRejected(SmtpError):
    """The server refused this one message; others may still go."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    if settings.ca_file is not None:
        return ssl.create_default_context(cafile=str(settings.ca_file))
    return ssl.create_default_context()


class SmtpSender:
    """One SMTP session: `with SmtpSender(settings) as smtp: smtp.send(message)`."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._client: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpSender:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def connect(self) -> None:
        s = self.settings
        try:
            client: smtplib.SMTP
            if s.security is Security.SSL:
                client = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=_tls_context(s)
                )
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.security is Security.STARTTLS:
                    client.starttls(context=_tls_context(s))
            if s.username:
                client.login(s.username, s.password.get_secret_value())
        except smtplib.SMTPAuthenticationError:
            raise SmtpUnavailable(
                f"the SMTP server at {self._where()} refused the login for {s.username!r}: "
                "check [smtp] username and password (or INTAKE_SMTP__PASSWORD)"
            ) from None
        except (OSError, smtplib.SMTPException, ssl.SSLError) as error:
            raise SmtpUnavailable(
                f"cannot reach the SMTP server at {self._where()}: {describe_error(error)}; "
                "check [smtp] host, port and security"
            ) from None
        self._client = client

    def send(self, message: EmailMessage, *, recipient: str) -> None:
        if self._client is None:
            raise SmtpUnavailable("not connected")
        try:
            refused = self._client.send_message(
                message, from_addr=self.settings.sender, to_addrs=[recipient]
            )
        except smtplib.SMTPRecipientsRefused as error:
            code = next(iter(error.recipients.values()))[0]
            raise SmtpRejected(
                f"the SMTP server refused the recipient {recipient}: {code}", permanent=code >= 500
            ) from None
        except smtplib.SMTPResponseException as error:
            raise SmtpRejected(
                f"the SMTP server refused the message: {error.smtp_code} {_text(error.smtp_error)}",
                permanent=error.smtp_code >= 500,
            ) from None
        except (OSError, smtplib.SMTPException) as error:
            self._client = None
            raise SmtpUnavailable(
                f"lost the SMTP server at {self._where()}: {describe_error(error)}"
            ) from None
        if refused:
            raise SmtpRejected(f"the SMTP server refused {recipient}", permanent=True)

    def close(self) -> None:
        if self._client is None:
            return
        try:
            self._client.quit()
        except (OSError, smtplib.SMTPException):
            self._client.close()
        self._client = None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
