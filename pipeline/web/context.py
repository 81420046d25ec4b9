"""What every request shares: configuration, database, file store, reply templates.

The database work is synchronous (SQLAlchemy), so handlers run it in Starlette's thread
pool (`read`) and keep the event loop free for other requests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from pipeline.replies.templates import ReplyTexts
from pipeline.settings.models import Settings
from pipeline.storage.blobs import BlobStore
from pipeline.storage.prepare import prepare
from pipeline.web.passwords import PasswordChecks

T = TypeVar("T")


@dataclass
class WebContext:
    """The application's state: configuration, database, file store, reply templates.

    The database is prepared (tables created, configuration loaded) on the first request
    that needs it rather than at start-up, so that the dashboard starts, and `/healthz`
    can say what is wrong, while the database is down.
    """

    settings: Settings
    engine: Engine
    blobs: BlobStore
    replies: ReplyTexts
    password_checks: PasswordChecks = field(default_factory=PasswordChecks)
    _prepared: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def ready(self) -> Engine:
        if not self._prepared:
            with self._lock:
                if not self._prepared:
                    prepare(self.settings, self.engine)
                    self._prepared = True
        return self.engine


def context_of(conn: HTTPConnection) -> WebContext:
    """The context of the application that `conn` came to."""
    ctx: WebContext = conn.app.state.intake
    return ctx


async def read(conn: HTTPConnection, work: Callable[[Session], T]) -> T:
    """Run `work` with a read session, in the thread pool."""
    ctx = context_of(conn)

    def run() -> T:
        with Session(ctx.ready()) as session:
            return work(session)

    return await run_in_threadpool(run)
