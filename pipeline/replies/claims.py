"""Who holds a claim on a reply, and whether that claimant is still alive.

A worker claims a reply before sending it, so that two workers never send the same one.
A worker that dies holding claims (SIGKILL, the OOM killer, a power cut) leaves them in
`sending`. Waiting `worker.stale_claim` before taking them over delays those replies
by minutes; taking them over sooner risks sending a reply that a slow but living worker
is sending. So each claim carries a token that another process can test for life:

- **PostgreSQL**: the claim is tied to a database session the claimant opens for one
  pass of the outbox and closes after it (`pg:<backend pid>:<backend start>`). The
  server ends that session when the process dies, so `pg_stat_activity` tells, from any
  host, whether the claimant lives.
- **Otherwise** (SQLite: one machine): the host, the kernel's boot id, the PID and the
  process's start time, read from `/proc`, and a nonce for the pass
  (`local:<host>:<boot id>:<pid>:<start>:<nonce>`): a PID reused by another process after
  a restart or a reboot does not pass for the dead claimant.

A pass that ended without finishing its claims (an error in the middle) is dead too: its
session is closed (PostgreSQL), and its process knows which of its passes are running
(`_ACTIVE`), so the next pass takes those claims over.

`release_dead_claims` gives the claims of a dead claimant back at once. A claim whose
claimant cannot be judged (another host's local token, a claim made before tokens
existed) is given back after `worker.stale_claim`, as before. A claim of a living
claimant is never taken.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.storage.models import AuditEvent, AuditKind, Reply, ReplyStatus, utcnow

log = logging.getLogger(__name__)

_PROC = Path("/proc")

# The tokens of this process's passes that are running now (the dashboard may run
# several at once, in threads): a token of this process not in here is a finished pass.
_ACTIVE: set[str] = set()
_ACTIVE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Claimant:
    """The process claiming replies in one pass of the outbox."""

    token: str
    label: str  # `host:pid`, for people (the audit log, `claimed_by`)


def worker_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@cache
def _boot_id() -> str | None:
    try:
        return (_PROC / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat),
    or None when there is no such process."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or parentheses.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def _process_token(pid: int) -> str | None:
    """`<host>:<boot id>:<pid>:<start>` for a process of this machine, or None where
    /proc cannot tell (not Linux)."""
    boot, start = _boot_id(), _start_time(pid)
    if boot is None or start is None:
        return None
    return f"{socket.gethostname()}:{boot}:{pid}:{start}"


@contextmanager
def _registered(token: str) -> Iterator[str]:
    with _ACTIVE_LOCK:
        _ACTIVE.add(token)
    try:
        yield token
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(token)


@contextmanager
def claimant(engine: Engine) -> Iterator[Claimant]:
    """The claimant of one outbox pass. On PostgreSQL it holds a database session of its
    own until the pass ends, then closes it: the claims live exactly as long as that
    session (and no longer than the pass)."""
    label = worker_label()
    if engine.dialect.name != "postgresql":
        process = _process_token(os.getpid())
        nonce = secrets.token_hex(6)
        token = f"local:{process}:{nonce}" if process else f"host:{label}:{nonce}"
        with _registered(token):
            yield Claimant(token, label)
        return
    connection = engine.connect()
    try:
        row = connection.execute(
            sa.text(
                "SELECT pid, (extract(epoch FROM backend_start) * 1000000)::bigint "
                "FROM pg_stat_activity WHERE pid = pg_backend_pid()"
            )
        ).one()
        connection.commit()  # idle, not idle in a transaction, while the pass runs
        with _registered(f"pg:{row[0]}:{row[1]}") as token:
            yield Claimant(token, label)
    finally:
        connection.invalidate()  # the session ends with the pass, never back to the pool
        connection.close()


def alive(token: str, connection: Connection) -> bool | None:
    """Whether the claimant of `token` still lives; None when it cannot be told here."""
    with _ACTIVE_LOCK:
        if token in _ACTIVE:
            return True
    kind, _, rest = token.partition(":")
    if kind == "pg":
        if connection.dialect.name != "postgresql":
            return None
        pid, _, started = rest.partition(":")
        if not pid.isdigit() or not started.lstrip("-").isdigit():
            return None
        found = connection.execute(
            sa.text(
                "SELECT (extract(epoch FROM backend_start) * 1000000)::bigint "
                "FROM pg_stat_activity WHERE pid = :pid"
            ),
            {"pid": int(pid)},
        ).first()
        if found is None:
            return False
        if found[0] is None:  # another role's session, hidden from us: cannot tell
            return None
        return int(found[0]) == int(started)
    if kind == "local":
        host, boot, pid, start, _nonce = [*rest.rsplit(":", 4), "", "", "", "", ""][:5]
        if host != socket.gethostname() or _boot_id() is None:
            return None
        if boot != _boot_id():
            return False  # the machine restarted since: every process of then is gone
        if not pid.isdigit():
            return None
        if int(pid) == os.getpid():
            return False  # one of this process's passes, and not a running one
        return _start_time(int(pid)) == start
    return None


def release_dead_claims(
    engine: Engine, me: Claimant, *, now: datetime, stale_before: datetime
) -> int:
    """Give back, due at once, the claims whose claimant is dead, and those whose
    claimant cannot be judged once they are older than `stale_before`. Returns how many
    replies were given back; each gets a `claim_released` audit event."""
    replies = Reply.__table__  # type: ignore[attr-defined]
    events = AuditEvent.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        held = connection.execute(
            sa.select(
                replies.c.id,
                replies.c.claim_token,
                replies.c.claimed_at,
                replies.c.claimed_by,
                replies.c.submission_id,
                replies.c.message_record_id,
            ).where(replies.c.status == ReplyStatus.SENDING)
        ).all()
        verdicts: dict[str | None, bool | None] = {}
        released = 0
        for reply_id, token, claimed_at, claimed_by, submission_id, record_id in held:
            if token == me.token:
                continue
            if token not in verdicts:
                verdicts[token] = alive(token, connection) if token else None
            verdict = verdicts[token]
            if verdict is True:
                continue
            if verdict is None and (claimed_at is None or claimed_at >= stale_before):
                continue
            taken = connection.execute(
                sa.update(replies)
                .where(replies.c.id == reply_id)
                .where(replies.c.status == ReplyStatus.SENDING)
                .where(
                    replies.c.claim_token.is_(None)
                    if token is None
                    else replies.c.claim_token == token
                )
                .values(
                    status=ReplyStatus.PENDING,
                    claimed_at=None,
                    claimed_by=None,
                    claim_token=None,
                    next_attempt_at=now,
                )
            )
            if not taken.rowcount:
                continue
            released += 1
            connection.execute(
                sa.insert(events).values(
                    at=utcnow(),
                    actor="intake",
                    kind=AuditKind.CLAIM_RELEASED,
                    submission_id=submission_id,
                    message_record_id=record_id,
                    detail={
                        "reply_id": reply_id,
                        "claimed_by": claimed_by,
                        "why": "claimant_dead" if verdict is False else "stale_claim",
                        "worker": me.label,
                    },
                )
            )
    if released:
        log.info("took over %s reply claim(s) of dead or stale workers", released)
    return released
