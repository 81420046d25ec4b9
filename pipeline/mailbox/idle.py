"""Push, not only poll: IMAP IDLE tells the worker about new mail as it arrives.

A delegation should have its acknowledgement within seconds, not at the next poll. The
watcher is a thread of `intake worker` with a connection of its own, which does nothing
but wait for the server to say "there is more mail" (an untagged EXISTS, RFC 2177):

1. connect, log in and EXAMINE the submissions folder: read-only, so watching can never
   change the mailbox or get in the way of a run;
2. process once: whatever arrived before the EXAMINE is not announced any more (this is
   also what catches up after an outage);
3. NOOP: mail that arrived while processing is announced now (a server need not
   announce it when the next IDLE begins; Dovecot 2.3 does not); while there is some,
   process again. Our own moves out of the folder show up as EXPUNGE, never EXISTS, so
   this ends as soon as nobody is delivering;
4. IDLE, looking every `CHECK_EVERY` seconds whether the worker is stopping; on EXISTS,
   DONE and back to 2; after `RENEW_AFTER` DONE, NOOP and IDLE again, well before the
   30 minutes after which a server may log an idle client out.

What remains is the instant between that NOOP and the server starting the IDLE: mail
delivered exactly then is announced at the server's next keepalive (Dovecot: within two
minutes), by the next delivery, or found by the next poll.

Processing is the caller's `on_new_mail`: the worker's own run, under the lock its
scheduled jobs take, so a triggered run and a poll never overlap.

A dropped connection (server restart, network) is noticed at once: a BYE, an error, or
the end of the stream. The watcher reconnects after 1 s, then 2, 4 ... at most 60 s, one
log line each time, and never takes the worker down. A server without IDLE gets one log
line and no watcher: the polls go on as before. They go on in IDLE mode too, the safety
net for anything a watcher could miss.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from imapclient.exceptions import IMAPClientError

from pipeline.errors import describe_error
from pipeline.mailbox.imap import Mailbox, MailboxError, MailboxUnavailable
from pipeline.settings.models import MailboxSettings

log = logging.getLogger(__name__)

# RFC 2177: re-issue IDLE at least every 29 minutes; 5 also keeps NAT state alive.
RENEW_AFTER = 5 * 60.0
# How long one wait for the server lasts before looking at the stop request again.
CHECK_EVERY = 1.0
# Reconnecting: the first wait, doubled after each failure up to the last.
FIRST_RETRY = 1.0
LAST_RETRY = 60.0


class ConnectionDropped(MailboxUnavailable):
    """The watcher's connection ended: BYE, an error, or the end of the stream."""


class IdleWatcher:
    """Calls `on_new_mail` whenever new mail reaches the folder, until `stop()`.

    `on_new_mail` runs in the watcher's thread and should not raise: an exception is
    logged and the watching goes on.
    """

    def __init__(
        self,
        settings: MailboxSettings,
        on_new_mail: Callable[[], None],
        *,
        renew_after: float = RENEW_AFTER,
        check_every: float = CHECK_EVERY,
        first_retry: float = FIRST_RETRY,
        last_retry: float = LAST_RETRY,
    ) -> None:
        self.settings = settings
        self.on_new_mail = on_new_mail
        self.renew_after = renew_after
        self.check_every = check_every
        self.first_retry = first_retry
        self.last_retry = last_retry
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self.run, name="intake-idle", daemon=True)
        self._watched_before = False

    @property
    def where(self) -> str:
        return f"{self.settings.folder} at {self.settings.host}:{self.settings.port}"

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, *, wait: bool = True) -> None:
        """Ask the watcher to end; with `wait`, until it has (processing in hand is
        finished first, like the scheduler's jobs)."""
        self._stopping.set()
        if wait and self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def run(self) -> None:
        """Watch, reconnecting after every drop, until stopped or IDLE is not offered."""
        delay = self.first_retry
        while not self.stopping:
            began = time.monotonic()
            try:
                if not self._session():
                    log.warning(
                        "IDLE: the server does not offer IDLE for %s: polling only", self.where
                    )
                    return
            except MailboxError as error:
                if self.stopping:
                    return
                if time.monotonic() - began >= self.last_retry:
                    delay = self.first_retry  # it had been working: a fresh start
                log.warning("IDLE: %s; reconnecting in %g s", error, delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, self.last_retry)
            except Exception:
                # A bug must not end the watching for good, nor the worker.
                log.exception("IDLE: the watcher failed; reconnecting in %g s", self.last_retry)
                self._stopping.wait(self.last_retry)

    # -- one connection -----------------------------------------------------------------

    def _session(self) -> bool:
        """Watch over one connection until stopped (True) or, when the server has no IDLE,
        return False at once. A dropped connection raises MailboxError."""
        mailbox = Mailbox(self.settings)
        mailbox.open(readonly=True)
        try:
            client = mailbox.client
            if not self._call(client.has_capability, "IDLE"):
                return False
            news = True  # whatever arrived before the EXAMINE
            announced = False
            while not self.stopping:
                if news:
                    self._process()
                    if self.stopping:
                        break
                # Mail that arrived since the last IDLE ended (while processing, or at a
                # renewal) is announced now: Dovecot does not announce it when the next
                # IDLE begins, only at its next keepalive, up to two minutes later.
                _text, responses = self._call(client.noop)
                news = self._new_mail(responses)
                if news:
                    continue
                if not announced:
                    self._announce()
                    announced = True
                news = self._idle(client)
        finally:
            mailbox.close()
        return True

    def _announce(self) -> None:
        if self._watched_before:
            log.warning("IDLE: reconnected, watching %s again", self.where)
        else:
            log.warning("IDLE: watching %s: new mail is handled as it arrives", self.where)
        self._watched_before = True

    def _idle(self, client: Any) -> bool:
        """IDLE until new mail (True), the renewal time or the stop request (False)."""
        self._call(client.idle)
        started = time.monotonic()
        news = False
        while not news and not self.stopping and time.monotonic() - started < self.renew_after:
            responses = self._call(client.idle_check, timeout=self.check_every)
            if not responses and _closed_by_server(client.socket()):
                raise ConnectionDropped(f"lost the mailbox at {self._server()}: connection closed")
            news = self._new_mail(responses)
        _text, responses = self._call(client.idle_done)
        return self._new_mail(responses) or news

    def _process(self) -> None:
        try:
            self.on_new_mail()
        except Exception:
            log.exception("IDLE: processing new mail failed")

    # -- reading the server -------------------------------------------------------------

    def _new_mail(self, responses: Sequence[Any]) -> bool:
        """Whether the untagged responses announce new mail; a BYE ends the connection."""
        news = False
        for response in responses:
            if not isinstance(response, tuple) or len(response) < 1:
                continue
            if response[0] == b"BYE":
                said = b" ".join(part for part in response[1:] if isinstance(part, bytes))
                raise ConnectionDropped(
                    f"the mailbox at {self._server()} closed the connection "
                    f"({said.decode('utf-8', 'replace') or 'BYE'})"
                )
            if len(response) >= 2 and response[1] == b"EXISTS":
                news = True
        return news

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except (IMAPClientError, OSError) as error:
            raise ConnectionDropped(
                f"lost the mailbox at {self._server()}: {describe_error(error)}"
            ) from None

    def _server(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed the connection (the stream is at its end).

    imapclient's `idle_check` returns nothing both when the wait is over and when the
    server has gone, so the socket is asked: a peek that reads zero bytes is the end.
    The peek goes through a duplicate of the descriptor because a TLS socket refuses
    flags; it reads raw bytes, which is enough to tell "closed" from "quiet".
    """
    try:
        with socket.socket(fileno=os.dup(sock.fileno())) as raw:
            data = raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return False  # open, and nothing to read
    except OSError:
        return True  # reset, or not a socket any more
    return data == b""
