"""Dovecot's processes: finding its binaries, waiting for its greeting, stopping them all.

Dovecot's master runs in the foreground in a session of its own, so every process it
starts shares its process group; stopping the server means stopping that whole group,
quickly and without leaving IMAP sessions running or zombies behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.devservers.ports import LOOPBACK, DevServerError

# Where Debian and source builds put the binaries when /usr/sbin is not on
# PATH (it often is not for non-root users).
_BINARY_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin")

# The master logs this as soon as it handles SIGTERM, before it stops services.
_SHUTDOWN_LOGGED = "master: Warning: Killed with signal"
_SHUTDOWN_LOG_WAIT = 0.5


def find_binary(name: str, near: str | None = None) -> str | None:
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


def live_group_members(pgid: int, *, zombies: bool = False) -> list[int]:
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


def log_since(log_path: Path, offset: int) -> str:
    """What Dovecot logged after byte `offset` of its log ("" when unreadable)."""
    try:
        with log_path.open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode(errors="replace")
    except OSError:
        return ""


def log_size(log_path: Path) -> int:
    """The log's current size: an offset for `log_since`."""
    return log_path.stat().st_size if log_path.exists() else 0


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


def wait_until_ready(
    proc: subprocess.Popen[bytes],
    port: int,
    *,
    lmtp_socket: Path,
    timeout: float,
    log_tail: Callable[[], str],
) -> None:
    """Return once the IMAP listener greets and the LMTP socket exists.

    Raises DevServerError (with `log_tail()`) when the master exits first or nothing
    greets within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    last = "no connection attempted"
    while True:
        status = proc.poll()
        if status is not None:
            raise DevServerError(
                f"dovecot exited with status {status} during startup\n{log_tail()}"
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DevServerError(
                f"dovecot did not greet on {LOOPBACK}:{port} within "
                f"{timeout:g}s (last: {last})\n{log_tail()}"
            )
        try:
            greeting = _read_greeting(port, timeout=min(1.0, max(remaining, 0.05)))
        except OSError as exc:
            last = repr(exc)
        else:
            if greeting.startswith(b"* OK") and lmtp_socket.exists():
                return
            last = f"greeting {greeting[:200]!r}"
        time.sleep(0.05)


def terminate(proc: subprocess.Popen[bytes], log_path: Path, timeout: float) -> None:
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
        log_offset = log_size(log_path)
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        children_signalled = False
        orphans_since: float | None = None
        while proc.poll() is None and time.monotonic() - started < timeout:
            now = time.monotonic()
            members = [p for p in live_group_members(proc.pid, zombies=True) if p != proc.pid]
            alive = [p for p in live_group_members(proc.pid) if p != proc.pid]
            if not children_signalled:
                if _SHUTDOWN_LOGGED in log_since(log_path, log_offset) or (
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


def reap_group(pgid: int) -> None:
    """Make sure no process of Dovecot's process group survives."""
    for signum, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
        if not live_group_members(pgid):
            return
        _signal_group(pgid, signum)
        deadline = time.monotonic() + grace
        while live_group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.01)
    left = live_group_members(pgid)
    if left:
        raise DevServerError(f"dovecot processes {left} survived SIGKILL")
