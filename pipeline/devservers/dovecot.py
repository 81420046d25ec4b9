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
"""

from __future__ import annotations

import contextlib
import grp
import math
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from imapclient import IMAPClient  # type: ignore[import-untyped,unused-ignore]

from pipeline.devservers.ports import LOOPBACK, DevServerError, free_port

__all__ = ["ThrowawayDovecot"]

INSTALL_HINT = "apt-get install dovecot-imapd dovecot-lmtpd"

# Where Debian and source builds put the binaries when /usr/sbin is not on
# PATH (it often is not for non-root users).
_BINARY_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin")

# Longest socket name Dovecot creates below base_dir is about 25 bytes
# ("token-login/imap-urlauth"); sun_path holds 107 bytes.
_MAX_RUN_DIR_LEN = 70

_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]", re.IGNORECASE)
_CAPABILITY_LINE = re.compile(rb"^\* CAPABILITY (.*?)\r?$", re.MULTILINE)
_BIND_CONFLICT = "Address already in use"
# The master logs this as soon as it handles SIGTERM, before it stops services.
_SHUTDOWN_LOGGED = "master: Warning: Killed with signal"
_SHUTDOWN_LOG_WAIT = 0.5


@dataclass(frozen=True)
class _Identity:
    """Which system users Dovecot's processes and the mail files run as."""

    internal_user: str
    internal_group: str
    login_user: str
    mail_uid: int
    mail_gid: int
    as_root: bool


def _identity() -> _Identity:
    """Pick users Dovecot accepts for the current privileges.

    As root, Dovecot refuses to run imap-login as root and refuses mail uid 0,
    so the stock ``dovecot``/``dovenull`` users from the Debian package are
    used and mail belongs to ``dovecot``.  As any other user, Dovecot cannot
    switch users at all, so every role is the current user.
    """
    if os.geteuid() == 0:
        try:
            internal = pwd.getpwnam("dovecot")
            pwd.getpwnam("dovenull")
        except KeyError as exc:
            raise DevServerError(
                "running Dovecot as root needs the 'dovecot' and 'dovenull' users "
                f"(created by the Debian package: {INSTALL_HINT})"
            ) from exc
        group = grp.getgrgid(internal.pw_gid).gr_name
        return _Identity("dovecot", group, "dovenull", internal.pw_uid, internal.pw_gid, True)
    uid, gid = os.geteuid(), os.getegid()
    user = pwd.getpwuid(uid).pw_name
    group = grp.getgrgid(gid).gr_name
    return _Identity(user, group, user, uid, gid, False)


def _find_binary(name: str, near: str | None = None) -> str | None:
    """Find a Dovecot binary on PATH, next to ``near``, or in the usual sbin dirs."""
    found = shutil.which(name)
    if found:
        return found
    dirs = ([str(Path(near).parent)] if near else []) + list(_BINARY_DIRS)
    for directory in dirs:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _conf_path(path: Path) -> str:
    """Quote a filesystem path for a Dovecot setting that expands %variables."""
    text = str(path)
    if re.search(r"[\s\"'\\]", text):
        raise DevServerError(
            f"{text!r}: Dovecot settings cannot hold paths with whitespace, quotes or "
            "backslashes; use another base directory"
        )
    return text.replace("%", "%%")


def _live_group_members(pgid: int, *, zombies: bool = False) -> list[int]:
    """PIDs of processes in process group ``pgid`` (without zombies by default).

    Zombies are excluded by default: a child whose parent died is re-parented
    to PID 1, which in containers may reap late, and a zombie holds no port,
    socket or file.  ``zombies=True`` counts them, to see whether the master
    has reaped its children yet.
    """
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: fall back to "does the group exist"
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        except PermissionError:
            pass
        return [pgid]
    members: list[int] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ..."; comm may contain spaces and ")".
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and (zombies or fields[0] not in "ZX"):
            members.append(int(entry.name))
    return members


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _read_greeting(port: int, timeout: float) -> bytes:
    """Read the first line the IMAP listener sends, or raise OSError/timeout.

    A misconfigured instance can accept the TCP connection and never speak,
    so accepting a connection alone does not prove readiness.
    """
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
        data = b""
        while b"\n" not in data and len(data) < 8192:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        if data.startswith(b"* OK"):
            with contextlib.suppress(OSError):
                sock.sendall(b"r LOGOUT\r\n")
        return data


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
        self._namespace_prefix = namespace_prefix
        self._separator = separator
        self._owns_base = base_dir is None
        self._base = Path(
            tempfile.mkdtemp(prefix="intake-dovecot-") if base_dir is None else base_dir
        ).absolute()
        self._base.mkdir(parents=True, exist_ok=True)
        self._startup_timeout = startup_timeout
        self._client_timeout = client_timeout
        self._auth_penalty = auth_penalty
        self._port: int | None = None
        self._capability_line: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None
        self._external_run_dir: Path | None = None
        self._run_dir = self._base / "run"
        self.passwd_path.touch(exist_ok=True)

    # -- paths and addresses ----------------------------------------------

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

    # -- users ---------------------------------------------------------------

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

    # -- lifecycle -------------------------------------------------------------

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
        ``_terminate`` for the shutdown sequence (~0.1 s instead of Dovecot's
        own ~1.1 s, and without leaving IMAP sessions running).  Dovecot's
        processes share their own process group, so any straggler is found
        and killed even if the master is already gone.
        """
        proc, self._proc = self._proc, None
        try:
            if proc is not None:
                try:
                    self._terminate(proc, timeout)
                finally:
                    self._reap_group(proc.pid)
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

    # -- IMAP and LMTP helpers -----------------------------------------------

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

    # -- internals -------------------------------------------------------------

    def _start(self) -> None:
        binary = _find_binary("dovecot")
        if binary is None:
            raise DevServerError(f"dovecot is not installed: {INSTALL_HINT}")
        ident = _identity()
        self._prepare_dirs(ident)
        attempts = 3 if self._port is None else 1
        for attempt in range(attempts):
            port = self._port if self._port is not None else free_port()
            self._write_config(port, ident)
            if self._without and self._capability_line is None:
                self._capability_line = self._restricted_capabilities(binary, ident, port)
                self._write_config(port, ident)
            log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            self._launch(binary)
            try:
                self._wait_until_ready(port)
            except DevServerError:
                conflict = _BIND_CONFLICT in self._log_since(log_offset)
                self.stop()
                if conflict and attempt + 1 < attempts:
                    self._prepare_run_dir()
                    continue  # another process took the free port; pick a new one
                raise
            self._port = port
            return

    def _prepare_dirs(self, ident: _Identity) -> None:
        """Create the directory tree with permissions Dovecot's users can use.

        As root, Dovecot's auth process runs as ``dovecot`` and must read the
        passwd-file, and mail is written as ``dovecot``: the base directory
        must be searchable by that user (pytest's 0700 tmp dirs are not).
        """
        self._base.chmod(0o755)
        if ident.as_root:
            self._check_searchable(ident)
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

    def _check_searchable(self, ident: _Identity) -> None:
        for directory in (self._base, *self._base.parents):
            st = directory.stat()
            if st.st_uid == ident.mail_uid:
                ok = bool(st.st_mode & 0o100)
            elif st.st_gid == ident.mail_gid:
                ok = bool(st.st_mode & 0o010)
            else:
                ok = bool(st.st_mode & 0o001)
            if not ok:
                raise DevServerError(
                    f"{directory} (mode {oct(st.st_mode & 0o777)}) is not searchable by the "
                    f"{ident.internal_user!r} user Dovecot runs as; use a base directory "
                    "whose parents are world-searchable (the default temp dir is), or "
                    "chmod 755 them"
                )

    def _write_config(self, port: int, ident: _Identity) -> None:
        base = _conf_path(self._base)
        run = _conf_path(self._run_dir)
        capability = f"imap_capability = {self._capability_line}\n" if self._capability_line else ""
        # Without the penalty: no anvil-auth-penalty listener (the auth process
        # then skips penalties) and no 2 s delay before "authentication failed".
        penalty = (
            ""
            if self._auth_penalty
            else "  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n"
        )
        failure_delay = "" if self._auth_penalty else "auth_failure_delay = 0\n"
        namespace = ""
        if self._namespace_prefix or self._separator is not None:
            separator = f"  separator = {self._separator}\n" if self._separator else ""
            namespace = (
                "namespace inbox {\n  inbox = yes\n"
                f"{separator}  prefix = {self._namespace_prefix}\n}}\n"
            )
        text = f"""# Generated by pipeline.devservers.dovecot.ThrowawayDovecot; rewritten on start.
instance_name = intake-dovecot-{port}
base_dir = {run}
state_dir = {base}/state
log_path = {base}/dovecot.log
info_log_path = {base}/dovecot.log
protocols = imap lmtp
listen = {LOOPBACK}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
{failure_delay}mail_location = maildir:~/Maildir
default_internal_user = {ident.internal_user}
default_internal_group = {ident.internal_group}
default_login_user = {ident.login_user}
first_valid_uid = {ident.mail_uid}
last_valid_uid = {ident.mail_uid}
first_valid_gid = {ident.mail_gid}
last_valid_gid = {ident.mail_gid}
{capability}
{namespace}passdb {{
  driver = passwd-file
  args = scheme=PLAIN {base}/passwd
}}
userdb {{
  driver = static
  args = uid={ident.mail_uid} gid={ident.mail_gid} home={base}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {LOOPBACK}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
{penalty}}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
}}
service auth-worker {{
  user = $default_internal_user
}}
"""
        self.config_path.write_text(text)

    def _restricted_capabilities(self, binary: str, ident: _Identity, port: int) -> str:
        """Dovecot's post-login capability list minus ``capabilities_without``.

        ``imap_capability`` can only *replace* the list, and the default list
        depends on the Dovecot version and config, so it is read from the
        installed Dovecot (a pre-authenticated ``imap`` process via
        ``doveadm exec``), filtered, and then checked again with the new
        setting because Dovecot appends some capabilities on its own.
        """
        default = self._probe_capabilities(binary, ident)
        kept = [c for c in default if c.upper() not in self._without]
        line = " ".join(kept)
        self._capability_line = line
        try:
            self._write_config(port, ident)
            final = self._probe_capabilities(binary, ident)
        finally:
            self._capability_line = None
        still = sorted({c.upper() for c in final} & set(self._without))
        if still:
            raise DevServerError(
                f"Dovecot still advertises {still} after setting imap_capability; "
                "it adds these on its own and they cannot be removed this way"
            )
        return line

    def _probe_capabilities(self, binary: str, ident: _Identity) -> list[str]:
        """Run Dovecot's ``imap`` binary pre-authenticated and read CAPABILITY.

        The binary is started directly from ``libexec_dir`` with our config:
        ``doveadm exec imap`` looks equivalent but (in 2.3.19) ignores the
        ``imap_capability`` of the ``-c`` config, which would make the check
        after filtering meaningless.
        """
        imap = self._imap_binary(binary)
        home = self._run_dir / "capability-probe"
        home.mkdir(mode=0o700, exist_ok=True)
        if ident.as_root:
            os.chown(home, ident.mail_uid, ident.mail_gid)
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "USER": "capability-probe",
            "HOME": str(home),
        }
        command = [
            imap, "-c", str(self.config_path),
            "-o", f"mail_uid={ident.mail_uid}", "-o", f"mail_gid={ident.mail_gid}",
        ]  # fmt: skip
        try:
            result = subprocess.run(  # noqa: S603 - fixed argv, no shell
                command,
                input=b"p1 CAPABILITY\r\np2 LOGOUT\r\n",
                capture_output=True,
                env=env,
                timeout=self._startup_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise DevServerError(f"capability probe timed out: {command}") from exc
        finally:
            shutil.rmtree(home, ignore_errors=True)
        match = _CAPABILITY_LINE.search(result.stdout)
        if match is None:
            raise DevServerError(
                f"could not read Dovecot's capabilities (exit {result.returncode}): "
                f"{result.stdout!r} {result.stderr!r}"
            )
        return match.group(1).decode("ascii").split()

    def _imap_binary(self, binary: str) -> str:
        """Path of Dovecot's ``imap`` executable (``libexec_dir`` from doveconf)."""
        doveconf = _find_binary("doveconf", near=binary)
        if doveconf is None:
            raise DevServerError(f"doveconf is not installed: {INSTALL_HINT}")
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [doveconf, "-c", str(self.config_path), "-h", "libexec_dir"],
            capture_output=True,
            text=True,
            timeout=self._startup_timeout,
            check=False,
        )
        imap = Path(result.stdout.strip() or "/usr/lib/dovecot") / "imap"
        if result.returncode != 0 or not os.access(imap, os.X_OK):
            raise DevServerError(
                f"cannot find Dovecot's imap binary ({imap}): {result.stderr.strip()}"
            )
        return str(imap)

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

    def _wait_until_ready(self, port: int) -> None:
        proc = self._proc
        assert proc is not None
        deadline = time.monotonic() + self._startup_timeout
        last = "no connection attempted"
        while True:
            status = proc.poll()
            if status is not None:
                raise DevServerError(
                    f"dovecot exited with status {status} during startup\n{self.log_tail()}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DevServerError(
                    f"dovecot did not greet on {LOOPBACK}:{port} within "
                    f"{self._startup_timeout:g}s (last: {last})\n{self.log_tail()}"
                )
            try:
                greeting = _read_greeting(port, timeout=min(1.0, max(remaining, 0.05)))
            except OSError as exc:
                last = repr(exc)
            else:
                if greeting.startswith(b"* OK") and self.lmtp_socket_path.exists():
                    return
                last = f"greeting {greeting[:200]!r}"
            time.sleep(0.05)

    def _log_since(self, offset: int) -> str:
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(offset)
                return fh.read().decode(errors="replace")
        except OSError:
            return ""

    def _terminate(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        """Shut the master down quickly without racing its service respawning.

        1. SIGTERM the master only and wait until it logs that it is shutting
           down (from then on it no longer respawns services that die).
        2. SIGTERM its children: on its own the master only sends SIGQUIT to
           processes serving clients, which keeps existing IMAP sessions alive
           after "stop" - wrong for an outage test.
        3. Once the master has reaped its children (so none is left as a
           zombie for PID 1; at most 0.25 s), SIGKILL it: it would only sleep
           a fixed second for its log process before exiting.
        """
        if proc.poll() is None:
            log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            started = time.monotonic()
            children_signalled = False
            orphans_since: float | None = None
            while proc.poll() is None and time.monotonic() - started < timeout:
                now = time.monotonic()
                members = [p for p in _live_group_members(proc.pid, zombies=True) if p != proc.pid]
                alive = [p for p in _live_group_members(proc.pid) if p != proc.pid]
                if not children_signalled:
                    if _SHUTDOWN_LOGGED in self._log_since(log_offset) or (
                        now - started > _SHUTDOWN_LOG_WAIT
                    ):
                        for pid in alive:
                            with contextlib.suppress(ProcessLookupError, PermissionError):
                                os.kill(pid, signal.SIGTERM)
                        children_signalled = True
                elif not alive:
                    # Give the master one round of its 100 ms reaping loop so
                    # no zombie is left to PID 1, but not its final 1 s sleep.
                    orphans_since = now if orphans_since is None else orphans_since
                    if not members or now - orphans_since > 0.25:
                        with contextlib.suppress(ProcessLookupError):
                            proc.kill()
                        break
                time.sleep(0.01)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait(5)

    @staticmethod
    def _reap_group(pgid: int) -> None:
        """Make sure no process of Dovecot's process group survives."""
        for signum, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
            if not _live_group_members(pgid):
                return
            _signal_group(pgid, signum)
            deadline = time.monotonic() + grace
            while _live_group_members(pgid) and time.monotonic() < deadline:
                time.sleep(0.01)
        left = _live_group_members(pgid)
        if left:
            raise DevServerError(f"dovecot processes {left} survived SIGKILL")

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<ThrowawayDovecot {state} {LOOPBACK}:{self._port} base={self._base}>"
