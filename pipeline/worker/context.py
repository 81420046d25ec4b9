"""What every message of a run shares (`RunContext`, built once per run), and what filing
one message gives back to the run (`Filed`, with the folder the mail moves to)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session

from pipeline.checks.base import Check
from pipeline.checks.registry import checks_for
from pipeline.replies.templates import ReplyTexts
from pipeline.settings.models import Settings
from pipeline.storage import attempts
from pipeline.storage import models as m
from pipeline.storage.blobs import BlobStore
from pipeline.storage.directory import Directory

MEGABYTE = 1024 * 1024


@dataclass(frozen=True)
class RunContext:
    """What every message of a run shares; built once per run."""

    engine: Engine
    settings: Settings
    directory: Directory
    templates: ReplyTexts
    checks: Sequence[Check]
    blobs: BlobStore
    mailbox: str
    uidvalidity: int

    @property
    def own_addresses(self) -> frozenset[str]:
        return frozenset({self.settings.smtp.sender, self.settings.mailbox.username.lower()})

    @property
    def reply_domain(self) -> str:
        return self.settings.smtp.sender.rsplit("@", 1)[1]

    def key(self, uid: int) -> attempts.MessageKey:
        return attempts.MessageKey(self.mailbox, self.uidvalidity, uid)


def build_context(
    settings: Settings,
    engine: Engine,
    templates: ReplyTexts,
    *,
    mailbox: str,
    uidvalidity: int,
    directory: Directory | None = None,
) -> RunContext:
    """What every message of a run shares, read once: missions, meetings, templates.

    `mailbox` and `uidvalidity` name the mailbox the messages were fetched from; a
    caller that has read the `directory` already passes it in.
    """
    if directory is None:
        with Session(engine) as session:
            directory = Directory.load(session)
    return RunContext(
        engine=engine,
        settings=settings,
        directory=directory,
        templates=templates,
        checks=checks_for(settings.checks, settings),
        blobs=BlobStore(settings.storage_path),
        mailbox=mailbox,
        uidvalidity=uidvalidity,
    )


@dataclass(frozen=True)
class Filed:
    """A message filed: its ledger entry, the outcome and where its mail goes."""

    record_id: int
    outcome: m.MessageOutcome
    target_folder: str
    reference: str | None = None
    message_id: str | None = None


def folder_for(settings: Settings, outcome: m.MessageOutcome) -> str:
    folders = settings.mailbox.folders
    return {
        m.MessageOutcome.ACCEPTED: folders.accepted,
        m.MessageOutcome.REJECTED: folders.rejected,
        m.MessageOutcome.HELD: folders.held,
        m.MessageOutcome.IGNORED: folders.ignored,
    }[outcome]
