"""Small pieces shared by the throwaway development servers.

``free_port()`` exists because neither Dovecot nor aiosmtpd can report the
port the kernel picked for ``port=0`` back to us (aiosmtpd's controller does
not work with ``port=0`` at all), so we ask the kernel for a free port first
and hand that number to the server.  There is a small window in which another
process could take the port; callers that care retry with a new one.
"""

from __future__ import annotations

import socket

__all__ = ["LOOPBACK", "DevServerError", "free_port"]

#: The only address the development servers listen on: they must never be
#: reachable from outside the machine (plaintext IMAP, {PLAIN} passwords).
LOOPBACK = "127.0.0.1"


class DevServerError(RuntimeError):
    """A development server could not be installed, started or used.

    A dedicated type lets tests and the demo tell "the fixture is broken"
    (missing package, bad config, server died) apart from failures of the code
    under test.
    """


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port on ``host`` that is free right now.

    The socket is bound with port 0 so the kernel chooses, then closed again;
    the returned number is what we pass to a server that cannot bind port 0
    itself.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
