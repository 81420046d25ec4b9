"""Desk users' passwords: what one may be, its argon2 hash, and checking it.

Checking costs the same for an unknown name (against a dummy hash), so the time taken
does not tell whether a name exists. At most `PASSWORD_CHECK_SLOTS` verifications run at
once in a process (`PasswordChecks`): the others wait in the event loop, not in the
thread pool, so signed-in users' pages are still served.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 10
# argon2 verifications at once in one dashboard process: each takes a core and 64 MiB.
PASSWORD_CHECK_SLOTS = 2

_hasher = PasswordHasher()
T = TypeVar("T")


def validate_password(password: str) -> None:
    """Refuse passwords a desk account must not have, with a sentence saying why."""
    if not password:
        raise ValueError("the password is empty")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(
            f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters "
            f"(it has {len(password)})"
        )


def hash_password(password: str) -> str:
    """An argon2id hash for the configuration file or the DeskUser table."""
    hashed: str = _hasher.hash(password)
    return hashed


def _verify(password_hash: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash, password))
    except VerifyMismatchError:
        return False
    except (InvalidHashError, VerificationError):
        log.error("a desk user's password hash is not a valid argon2 hash; use intake users hash")
        return False


@functools.cache
def _dummy() -> str:
    """Made once, on first use: hashing is deliberately slow."""
    return hash_password(secrets.token_urlsafe(16))


def check_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches `password_hash` (the user's, None for an unknown name).

    An unknown name still costs one argon2 verification (against a dummy hash), so the
    time taken does not tell whether the name exists.
    """
    if password_hash is None:
        _verify(_dummy(), password)
        return False
    return _verify(password_hash, password)


class PasswordChecks:
    """At most `slots` password verifications at once in this process.

    argon2 is slow and hungry on purpose (a core and 64 MiB for a third of a second): 40
    guesses at once took every thread of the pool and every core, and the desk's pages
    waited 16 times longer. Here a guess waits for a slot in the event loop (an asyncio
    semaphore, made in the loop on first use), holding no thread; the verification then
    runs in the thread pool.

    The counters are changed in the event loop's thread only: `running` and `waiting`
    now, `peak` (the most ever running at once) and `checks` (verifications done).
    """

    def __init__(self, slots: int = PASSWORD_CHECK_SLOTS) -> None:
        self.slots = slots
        self.running = 0
        self.waiting = 0
        self.peak = 0
        self.checks = 0
        self._semaphore: asyncio.Semaphore | None = None

    async def run(self, work: Callable[[], T]) -> T:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.slots)
        self.waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            # A cancelled request still waits for its thread (anyio does not abandon
            # it): the slot is freed when the hashing really ends.
            return await run_in_threadpool(work)
        finally:
            self.running -= 1
            self.checks += 1
            self._semaphore.release()
