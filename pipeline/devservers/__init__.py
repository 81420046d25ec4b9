"""Throwaway real servers (Dovecot IMAP/LMTP, aiosmtpd SMTP) for tests and the demo.

Intake is tested against real mail servers rather than mocks; these helpers
start private instances on 127.0.0.1 and guarantee they are gone afterwards.
"""

from pipeline.devservers.dovecot import ThrowawayDovecot
from pipeline.devservers.ports import DevServerError, free_port
from pipeline.devservers.smtp import CapturedMessage, CapturingSMTPServer

__all__ = [
    "CapturedMessage",
    "CapturingSMTPServer",
    "DevServerError",
    "ThrowawayDovecot",
    "free_port",
]
