"""A private, throwaway Dovecot (IMAP + LMTP) for tests and the demo.

Why a real server instead of a mock: Intake's mailbox code depends on exact
IMAP behaviour (UIDs, APPENDUID, INTERNALDATE, MOVE or its absence, \\Seen
side effects of FETCH, IDLE), and mocks only reproduce what their author
already believed.  A private Dovecot instance starts in well under a second,
needs no root-owned paths and disappears without trace.

Layout of the base directory (given, or a fresh temp dir)::

    dovecot.conf    the generated config (rewritten on every start)
    dovecot.log     everything Dovecot logs, plus its stdout/stderr
    passwd          passwd-file with {PLAIN} passwords (re-read on change)
    home/<user>/    per-user homes, mail in home/<user>/Maildir
    state/          Dovecot's state_dir
    run/            Dovecot's base_dir (sockets); wiped on every start

Dovecot's sockets live in ``run/``; a Unix socket path must fit in 107 bytes,
so when the base directory is deep (pytest's tmp dirs) a short temp dir is used
for them instead.

The configuration is made in dovecot_config.py, the capability list in
dovecot_capabilities.py; starting and stopping the processes is dovecot_processes.py.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import smtplib
import subprocess
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from imapclient import IMAPClient  # type: ignore[import-untyped,unused-ignore]

from pipeline.devservers.dovecot_capabilities import restricted_capabilities
from pipeline.devservers.dovecot_config import (
    INSTALL_HINT,
    ConfigOptions,
    Identity,
    check_searchable,
    identity,
    render_config,
)
from pipeline.devservers.dovecot_processes import (
    find_binary,
    log_since,
    log_size,
    reap_group,
    terminate,
    wait_until_ready,
)
from pipeline.devservers.ports import LOOPBACK, DevServerError, free_port

__all__ = ["ThrowawayDovecot"]

# Longest socket name Dovecot creates below base_dir is about 25 bytes
# ("token-login/imap-urlauth"); sun_path holds 107 bytes.
_MAX_RUN_DIR_LEN = 70

_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]", re.IGNORECASE)
_BIND_CONFLICT = "Address already in use"


class ThrowawayDovecot:
    """A private Dovecot instance on 127.0.0.1 with maildir storage.

    Use it as a context manager (or call ``start()``/``stop()``/``close()``).
    ``stop()`` keeps the mail, users and port so ``start()``/``restart()``
    bring the same mailbox back, which lets tests simulate an outage.
    ``close()`` (and leaving the ``with`` block) also deletes the base
    directory when this object created it.

    Deliberate differences from a production Dovecot, all for fast and
    deterministic tests: plaintext IMAP on loopback only, no SSL, and no
    authentication delays.  Dovecot normally answers a wrong password after
    2 s and then delays *every* login from that IP (even correct ones) by up
    to 15 s, so one wrong-password test would slow down all following tests;
    ``login_trusted_networks`` does *not* lift that penalty in 2.3.19.  Pass
    ``auth_penalty=True`` to keep Dovecot's production behaviour.

    ``capabilities_without`` removes capabilities from what Dovecot advertises
    (e.g. ``("MOVE",)``) to exercise client fallbacks.  Dovecot only changes
    the advertisement: it still executes the command if a client sends it
    anyway, so a test proves that the client *checks* the capability.

    ``namespace_prefix`` and ``separator`` configure the personal namespace
    (``namespace inbox { inbox = yes; prefix = ...; separator = ... }``).  By
    default there is no namespace block: Dovecot's own default, an empty
    prefix with Maildir++'s ``.`` separator.  ``namespace_prefix="INBOX."``
    with ``separator="."`` gives the layout of Courier, Cyrus and many hosted
    servers: every folder lives below INBOX (``INBOX.Sent``), and a name
    outside the prefix (``Sent``) is refused.
    """

    def __init__(
        self,
        base_dir: str | os.PathLike[str] | None = None,
        *,
        capabilities_without: Sequence[str] = (),
        startup_timeout: float = 10.0,
        client_timeout: float = 10.0,
        auth_penalty: bool = False,
        namespace_prefix: str = "",
        separator: str | None = None,
    ) -> None:
        if isinstance(capabilities_without, str):
            raise TypeError("capabilities_without must be a sequence of names, not a string")
        self._without = tuple(dict.fromkeys(c.strip().upper() for c in capabilities_without))
        if any(not c or " " in c for c in self._without):
            raise ValueError(f"invalid capability names: {capabilities_without!r}")
        if separator is not None and (len(separator) != 1 or separator.isspace()):
            raise ValueError(f"the separator must be one visible character, not {separator!r}")
        if re.search(r"[\s{}\"'\\#]", namespace_prefix):
            raise ValueError(f"unusable namespace prefix: {namespace_prefix!r}")
        if namespace_prefix and not namespace_prefix.endswith(separator or "."):
            raise ValueError(
                f"the namespace prefix {namespace_prefix!r} must end with the separator "
                f"{separator or '.'!r}"
            )
        self._options = ConfigOptions(auth_penalty, namespace_prefix, separator)
        self._owns_base = base_dir is None
        self._base = Path(
            tempfile.mkdtemp(prefix="intake-dovecot-") if base_dir is None else base_dir
        ).absolute()
        self._base.mkdir(parents=True, exist_ok=True)
        self._startup_timeout = startup_timeout
        self._client_timeout = client_timeout
        self._port: int | None = None
        self._capability_line: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None
        self._external_run_dir: Path | None = None
        self._run_dir = self._base / "run"
        self.passwd_path.touch(exist_ok=True)

    @property
    def base_dir(self) -> Path:
        """Directory holding config, log, passwd-file and the users' mail."""
        return self._base

    @property
    def config_path(self) -> Path:
        return self._base / "dovecot.conf"

    @property
    def log_path(self) -> Path:
        """Dovecot's log (all levels) plus the master's stdout/stderr."""
        return self._base / "dovecot.log"

    @property
    def passwd_path(self) -> Path:
        return self._base / "passwd"

    @property
    def home_root(self) -> Path:
        """Parent of the per-user homes; mail is in ``home_root/<user>/Maildir``."""
        return self._base / "home"

    @property
    def lmtp_socket_path(self) -> Path:
        """Unix socket of the LMTP listener (valid while running)."""
        return self._run_dir / "lmtp"

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def port(self) -> int:
        """IMAP port; chosen on the first ``start()`` and kept across restarts."""
        if self._port is None:
            raise DevServerError("ThrowawayDovecot has not been started yet")
        return self._port

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """PID of the Dovecot master (also its process group id), or None."""
        return self._proc.pid if self._proc is not None else None

    def add_user(self, username: str, password: str) -> None:
        """Add a mailbox user; works before and while the server runs.

        Dovecot's passwd-file driver re-reads the file when its mtime or size
        changes, so no restart or reload is needed.  While running this may
        block for up to a second (see below); add users before ``start()`` to
        avoid that.
        """
        if not username or re.search(r"[\s:/\\%]", username) or username.startswith("."):
            raise ValueError(f"unusable username for a passwd-file: {username!r}")
        if not password or re.search(r"[:\r\n]", password):
            raise ValueError("password must be non-empty without ':' or line breaks")
        existing = self.passwd_path.read_text(encoding="utf-8").splitlines()
        if any(line.split(":", 1)[0] == username for line in existing):
            # Dovecot would silently keep using the first entry.
            raise ValueError(f"user {username!r} already exists")
        with self.passwd_path.open("a", encoding="utf-8") as fh:
            fh.write(f"{username}:{{PLAIN}}{password}\n")
        if self.running:
            # Dovecot stats the file at most once per wall-clock second
            # (passwd_file_sync() compares last_sync_time with ioloop_time),
            # so a lookup later in the second of our write can still miss the
            # user.  Waiting for the next second makes the user usable at once.
            now = time.time()
            time.sleep(math.floor(now) + 1.02 - now)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()  # __exit__ does not run when __enter__ fails
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
        """Start Dovecot and return once it has sent its IMAP greeting.

        Raises DevServerError (with the tail of the log) when Dovecot is not
        installed, exits, or does not greet within ``startup_timeout``.  On
        any failure nothing is left running.
        """
        if self.running:
            return
        self.stop()  # reap a master that died on its own
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        """Stop Dovecot, drop its client connections, wait until no process is left.

        Mail, users and the port are kept for a later ``start()``.  See
        ``dovecot_processes.terminate`` for the shutdown sequence (~0.1 s instead of Dovecot's
        own ~1.1 s, and without leaving IMAP sessions running).  Dovecot's
        processes share their own process group, so any straggler is found
        and killed even if the master is already gone.
        """
        proc, self._proc = self._proc, None
        try:
            if proc is not None:
                try:
                    terminate(proc, self.log_path, timeout)
                finally:
                    reap_group(proc.pid)
        finally:
            if self._log_handle is not None:
                self._log_handle.close()
                self._log_handle = None
            if self._external_run_dir is not None:
                shutil.rmtree(self._external_run_dir, ignore_errors=True)
                self._external_run_dir = None

    def restart(self) -> None:
        """Stop and start again on the same port with the same mail and users."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop, and delete the base directory if this object created it."""
        self.stop()
        if self._owns_base:
            shutil.rmtree(self._base, ignore_errors=True)

    def imap_client(
        self, username: str, password: str, *, timeout: float | None = None
    ) -> IMAPClient:
        """Return a logged-in imapclient connection (plaintext, with timeout).

        Dovecot can answer LOGIN with "OK Logged in, but initialization failed"
        and then drop the session, so that answer is turned into an error here
        instead of surfacing as a confusing failure of the next command.
        """
        client = IMAPClient(
            self.host,
            port=self.port,
            ssl=False,
            timeout=self._client_timeout if timeout is None else timeout,
        )
        try:
            response = client.login(username, password)
            text = (
                response.decode(errors="replace") if isinstance(response, bytes) else str(response)
            )
            if "initialization failed" in text.lower():
                raise DevServerError(
                    f"Dovecot accepted {username!r} but could not open the mailbox "
                    f"({text}).\n{self.log_tail()}"
                )
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        return client

    def append(
        self,
        username: str,
        password: str,
        raw: bytes,
        folder: str = "INBOX",
        internaldate: datetime | None = None,
        flags: Sequence[str] = (),
    ) -> int:
        """APPEND ``raw`` to ``folder`` (created if missing) and return its UID.

        ``internaldate`` sets the server's arrival time, which is what lets
        tests put a message before or after a deadline.  The UID comes from
        the APPENDUID response code (UIDPLUS), so no extra SEARCH is needed.
        """
        with self.imap_client(username, password) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            response = client.append(folder, raw, flags=tuple(flags), msg_time=internaldate)
        data = response if isinstance(response, bytes) else str(response).encode()
        match = _APPENDUID.search(data)
        if match is None:
            raise DevServerError(f"APPEND response has no APPENDUID: {data!r}")
        return int(match.group(2))

    def deliver_lmtp(
        self,
        username: str,
        raw: bytes,
        sender: str = "sender@example.org",
        *,
        timeout: float | None = None,
    ) -> None:
        """Deliver ``raw`` to ``username``'s INBOX over LMTP, as an MTA would.

        Unlike ``append`` this takes the real delivery path: Dovecot assigns
        the INTERNALDATE, the message lands in ``new/`` and IDLE clients are
        notified.  Line endings are normalised to CRLF like an MTA does on the
        wire.  Refusals propagate as ``smtplib`` exceptions (an unknown user
        gives SMTPRecipientsRefused with 550 5.1.1).
        """
        if not self.running:
            raise DevServerError("ThrowawayDovecot is not running")
        wire = re.sub(rb"\r?\n", b"\r\n", raw)
        with smtplib.LMTP(
            str(self.lmtp_socket_path),
            timeout=self._client_timeout if timeout is None else timeout,
        ) as lmtp:
            lmtp.sendmail(sender, [username], wire)

    def folder_uids(self, username: str, password: str, folder: str = "INBOX") -> list[int]:
        """UIDs in ``folder``, ascending (read-only SELECT: flags stay untouched)."""
        with self.imap_client(username, password) as client:
            client.select_folder(folder, readonly=True)
            return sorted(int(uid) for uid in client.search("ALL"))

    def list_folders(self, username: str, password: str) -> list[str]:
        """Names of all folders of ``username``, e.g. ``["INBOX", "Processed"]``."""
        with self.imap_client(username, password) as client:
            return [str(name) for _flags, _delimiter, name in client.list_folders()]

    def log_tail(self, lines: int = 40) -> str:
        """Last lines of the Dovecot log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return f"(no log at {self.log_path})"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"--- last lines of {self.log_path} ---\n{tail}"

    def _start(self) -> None:
        binary = find_binary("dovecot")
        if binary is None:
            raise DevServerError(f"dovecot is not installed: {INSTALL_HINT}")
        ident = identity()
        self._prepare_dirs(ident)
        attempts = 3 if self._port is None else 1
        for attempt in range(attempts):
            port = self._port if self._port is not None else free_port()
            self._write_config(port, ident, self._capability_line)
            if self._without and self._capability_line is None:
                self._capability_line = restricted_capabilities(
                    binary,
                    ident,
                    self._without,
                    config_path=self.config_path,
                    run_dir=self._run_dir,
                    configure=partial(self._write_config, port, ident),
                    timeout=self._startup_timeout,
                )
                self._write_config(port, ident, self._capability_line)
            log_offset = log_size(self.log_path)
            self._launch(binary)
            try:
                assert self._proc is not None
                wait_until_ready(
                    self._proc,
                    port,
                    lmtp_socket=self.lmtp_socket_path,
                    timeout=self._startup_timeout,
                    log_tail=self.log_tail,
                )
            except DevServerError:
                conflict = _BIND_CONFLICT in log_since(self.log_path, log_offset)
                self.stop()
                if conflict and attempt + 1 < attempts:
                    self._prepare_run_dir()
                    continue  # another process took the free port; pick a new one
                raise
            self._port = port
            return

    def _prepare_dirs(self, ident: Identity) -> None:
        """Create the directory tree with permissions Dovecot's users can use.

        As root, Dovecot's auth process runs as ``dovecot`` and must read the
        passwd-file, and mail is written as ``dovecot``: the base directory
        must be searchable by that user (pytest's 0700 tmp dirs are not).
        """
        self._base.chmod(0o755)
        if ident.as_root:
            check_searchable(self._base, ident)
        self.home_root.mkdir(mode=0o755, exist_ok=True)
        (self._base / "state").mkdir(mode=0o755, exist_ok=True)
        self.passwd_path.touch(exist_ok=True)
        if ident.as_root:
            os.chown(self.home_root, ident.mail_uid, ident.mail_gid)
            os.chown(self.passwd_path, ident.mail_uid, ident.mail_gid)
        self.passwd_path.chmod(0o600)
        self._prepare_run_dir()

    def _prepare_run_dir(self) -> None:
        """Give Dovecot an empty base_dir.

        Stale sockets from an earlier run are removed on purpose: a leftover
        ``anvil-auth-penalty`` socket without a listener makes the auth process
        retry for 5 s instead of skipping the penalty.
        """
        if self._external_run_dir is not None:
            shutil.rmtree(self._external_run_dir, ignore_errors=True)
            self._external_run_dir = None
        candidate = self._base / "run"
        shutil.rmtree(candidate, ignore_errors=True)
        if len(str(candidate)) <= _MAX_RUN_DIR_LEN:
            candidate.mkdir(mode=0o755)
            self._run_dir = candidate
        else:
            self._external_run_dir = Path(tempfile.mkdtemp(prefix="dovecot-run-"))
            self._run_dir = self._external_run_dir
        self._run_dir.chmod(0o755)

    def _write_config(self, port: int, ident: Identity, capability_line: str | None) -> None:
        self.config_path.write_text(
            render_config(
                base_dir=self._base,
                run_dir=self._run_dir,
                port=port,
                ident=ident,
                options=self._options,
                capability_line=capability_line,
            )
        )

    def _launch(self, binary: str) -> None:
        self._log_handle = self.log_path.open("ab")
        # -F keeps the master in the foreground so we own its PID; a new
        # session makes every Dovecot process share one process group that
        # stop() can sweep.
        self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [binary, "-F", "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            cwd=self._base,
            start_new_session=True,
        )

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<ThrowawayDovecot {state} {LOOPBACK}:{self._port} base={self._base}>"
