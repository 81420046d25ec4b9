"""Fault injection: kill (or freeze) this process at a named point, for the crash tests.

Why: the promise "a message is never dropped, never filed twice, never answered twice,
whatever crashes where" can only be shown by crashing at each place in turn, in the real
`intake` command, and checking what the next run makes of it
(`tests/test_crash_matrix.py`). Production code calls `checkpoint(name)` at each point;
**production never sets `INTAKE_FAULT`**, and without it a checkpoint is a comparison
with None and nothing else.

`INTAKE_FAULT` (read once per process, on first use) names one fault:

    POINT               SIGKILL at the first time POINT is reached
    POINT:N             SIGKILL at the N-th time (counted in this process)
    POINT@MESSAGE-ID    SIGKILL every time POINT is reached for that message: a "poison"
                        message that kills every worker that touches it
    stop:POINT...       SIGSTOP instead of SIGKILL: the process freezes there, the test
                        does something (restarts a server, cuts the database) and sends
                        SIGCONT

SIGKILL cannot be caught: no `finally`, no `atexit`, no rollback in Python runs, exactly
like the OOM killer or a power cut as far as the process is concerned.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from enum import StrEnum

ENVIRONMENT_VARIABLE = "INTAKE_FAULT"

POINTS: tuple[str, ...] = (
    "after_fetch",  # the message is fetched, nothing else done
    "after_parse",  # parsed, not yet checked
    "in_transaction",  # everything written, inside the transaction, before the commit
    "after_commit",  # committed, not yet moved out of the inbox
    "after_move",  # moved to its Intake folder, replies not yet sent
    "in_smtp",  # MAIL FROM and RCPT TO accepted, DATA not sent
    "after_250",  # the SMTP server accepted the reply, the outbox row not yet marked sent
)


class FaultAction(StrEnum):
    KILL = "kill"
    STOP = "stop"


class FaultSpecError(ValueError):
    """INTAKE_FAULT does not name a known point in a known form."""


@dataclass(frozen=True)
class Fault:
    point: str
    occurrence: int | None = None  # the N-th time; None with a message_id
    message_id: str | None = None
    action: FaultAction = FaultAction.KILL


def parse_fault(text: str) -> Fault:
    """`after_commit:3`, `after_parse@<id@example.org>`, `stop:after_commit:10`."""
    spec = text.strip()
    action = FaultAction.KILL
    for candidate in FaultAction:
        prefix = f"{candidate.value}:"
        if spec.startswith(prefix):
            action, spec = candidate, spec[len(prefix) :]
            break
    occurrence: int | None = 1
    message_id: str | None = None
    point = spec
    if "@" in spec:
        point, message_id = spec.split("@", 1)
        occurrence = None
        if not message_id:
            raise FaultSpecError(f"{ENVIRONMENT_VARIABLE}={text!r}: no Message-ID after '@'")
    elif ":" in spec:
        point, count = spec.split(":", 1)
        if not count.isdigit() or int(count) < 1:
            raise FaultSpecError(f"{ENVIRONMENT_VARIABLE}={text!r}: {count!r} is not a count")
        occurrence = int(count)
    if point not in POINTS:
        raise FaultSpecError(
            f"{ENVIRONMENT_VARIABLE}={text!r}: unknown point {point!r} (known: {', '.join(POINTS)})"
        )
    return Fault(point=point, occurrence=occurrence, message_id=message_id, action=action)


class _State:
    """What this process read from the environment, and how often each point was reached."""

    def __init__(self) -> None:
        self.loaded = False
        self.fault: Fault | None = None
        self.reached = 0


_state = _State()


def plan() -> Fault | None:
    """The fault this process carries, read from the environment the first time.

    Raises FaultSpecError for a malformed value: a typo must fail the test that set it,
    not silently inject nothing.
    """
    if not _state.loaded:
        value = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
        _state.fault = parse_fault(value) if value else None
        _state.loaded = True
    return _state.fault


def armed(point: str) -> bool:
    """Whether this process will stop at `point`: lets a caller install a hook only then."""
    fault = plan()
    return fault is not None and fault.point == point


def reset() -> None:
    """Forget what was read and counted (for tests that change the variable in-process)."""
    _state.loaded = False
    _state.fault = None
    _state.reached = 0


def checkpoint(name: str, *, message_id: str | None = None) -> None:
    """A named point in the life of a message; does nothing unless INTAKE_FAULT names it.

    `message_id` is the Message-ID of the mail being handled, where it is known (from
    `after_parse` on; the original's for the SMTP points), for the `POINT@MESSAGE-ID` form.
    """
    fault = _state.fault if _state.loaded else plan()
    if fault is None or fault.point != name:
        return
    if fault.message_id is not None:
        if message_id != fault.message_id:
            return
    else:
        _state.reached += 1
        if _state.reached != fault.occurrence:
            return
    _trigger(fault, message_id)


def _trigger(fault: Fault, message_id: str | None) -> None:
    what = f" for {message_id}" if message_id else ""
    signum = signal.SIGKILL if fault.action is FaultAction.KILL else signal.SIGSTOP
    # os.write: unbuffered, so the line is out before the signal lands.
    os.write(
        2,
        f"intake: fault injected: {signal.Signals(signum).name} at {fault.point}{what}\n".encode(),
    )
    os.kill(os.getpid(), signum)
